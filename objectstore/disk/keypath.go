package disk

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Object keys become directory paths as doc.go describes. The encoding is
// injective (decoding a path gives the key back) and never yields ".", "..",
// a name starting with "." or a name longer than 241 bytes.

const (
	maxKeyLen = 1024 // S3's limit on object key length
	// maxNameLen bounds object names. S3 keys stop at maxKeyLen (the front
	// end refuses longer ones); the rest is room for the object store's
	// records in its reserved volumes, whose names embed a whole key so
	// that a walk lists them in key order.
	maxNameLen = 2*maxKeyLen + 256
	// maxElem is the most encoded bytes one directory name carries; a
	// continuation adds the "+", still under NAME_MAX (255).
	maxElem = 240
	// emptyName is the empty component: no escape ever produces a lone %.
	emptyName = "%"
	// contPrefix starts a continuation of the parent's component. "+" is
	// always escaped inside components, so it cannot start one.
	contPrefix = '+'
	hexDigits  = "0123456789ABCDEF"
)

func validObject(key string) error {
	switch {
	case key == "":
		return fmt.Errorf("%w: empty object name", ErrInvalidArgument)
	case len(key) > maxNameLen:
		return fmt.Errorf("%w: object name of %d bytes, at most %d allowed", ErrInvalidArgument, len(key), maxNameLen)
	case !utf8.ValidString(key):
		return fmt.Errorf("%w: object name is not valid UTF-8", ErrInvalidArgument)
	}
	return nil
}

// keep reports whether byte c is stored raw. Bytes >= 0x80 are UTF-8 and
// stay raw so that keys in any script stay readable in ls.
func keep(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '_' || c == '.' || c == '~' || c >= 0x80
}

// escapedLen is how many bytes byte i of a chunk takes once escaped; a
// component's first chunk escapes a leading ".".
func escapedLen(c byte, i int, first bool) int {
	if !keep(c) || (first && i == 0 && c == '.') {
		return 3
	}
	return 1
}

func appendEscaped(b []byte, chunk string, first bool) []byte {
	for i := 0; i < len(chunk); i++ {
		c := chunk[i]
		if escapedLen(c, i, first) == 1 {
			b = append(b, c)
		} else {
			b = append(b, '%', hexDigits[c>>4], hexDigits[c&15])
		}
	}
	return b
}

// splitComponent cuts a key component into chunks whose escaped form fits
// one directory name, never inside a UTF-8 sequence. The empty component is
// one empty chunk.
func splitComponent(c string) []string {
	if c == "" {
		return []string{""}
	}
	var chunks []string
	for first := true; c != ""; first = false {
		n, w := 0, 0
		for n < len(c) {
			l := escapedLen(c[n], n, first)
			if w+l > maxElem {
				break
			}
			w += l
			n++
		}
		if n < len(c) {
			m := n
			for m > 0 && !utf8.RuneStart(c[m]) {
				m--
			}
			if m > 0 {
				n = m
			}
		}
		chunks = append(chunks, c[:n])
		c = c[n:]
	}
	return chunks
}

// keyPath is the node directory of key, relative to its bucket directory.
func keyPath(key string) string {
	b := make([]byte, 0, len(key)+len(key)/2+8)
	for i, comp := range strings.Split(key, "/") {
		if i > 0 {
			b = append(b, '/')
		}
		for j, chunk := range splitComponent(comp) {
			switch {
			case j > 0:
				b = append(b, '/', contPrefix)
				b = appendEscaped(b, chunk, false)
			case chunk == "":
				b = append(b, emptyName...)
			default:
				b = appendEscaped(b, chunk, true)
			}
		}
	}
	return string(b)
}

// decodeName reads a directory entry of a node: the key fragment it adds,
// and whether it starts a new component ("/" + frag) or continues the
// parent's (frag). ok is false for the node's own entries (.meta, .data-*)
// and for names this encoding never produces.
func decodeName(name string) (frag string, component, ok bool) {
	switch {
	case name == emptyName:
		return "", true, true
	case name == "" || name[0] == '.':
		return "", false, false
	case name[0] == contPrefix:
		frag, ok = unescape(name[1:], false)
		return frag, false, ok && frag != ""
	}
	frag, ok = unescape(name, true)
	return frag, true, ok
}

// unescape decodes an escaped chunk, accepting only the canonical form so
// that one key has exactly one path.
func unescape(s string, first bool) (string, bool) {
	if !strings.Contains(s, "%") {
		if s == "" || (first && s[0] == '.') {
			return "", false
		}
		for i := 0; i < len(s); i++ {
			if !keep(s[i]) {
				return "", false
			}
		}
		return s, true
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b = append(b, s[i])
			continue
		}
		if i+2 >= len(s) {
			return "", false
		}
		hi, lo := strings.IndexByte(hexDigits, s[i+1]), strings.IndexByte(hexDigits, s[i+2])
		if hi < 0 || lo < 0 {
			return "", false
		}
		b = append(b, byte(hi<<4|lo))
		i += 2
	}
	if string(appendEscaped(nil, string(b), first)) != s {
		return "", false
	}
	return string(b), true
}

// childKey is the key of the node reached from the node of parent through a
// directory entry: a component edge adds "/"+frag (just frag below the
// bucket root), a continuation edge adds frag.
func childKey(parent string, atRoot bool, frag string, component bool) string {
	if component && !atRoot {
		return parent + "/" + frag
	}
	return parent + frag
}
