package iampolicy

import (
	"strings"
	"unicode/utf8"
)

// Patterns are compiled into an internal wildcard syntax: * matches any run of characters,
// ? exactly one character, and a backslash makes the next byte literal. Policy text has no
// escape character of its own, so compiling escapes its backslashes, and text that must
// never act as a wildcard (${*}, substituted variable values) is escaped whole.

// matchMode says how a pattern compares to a value.
type matchMode uint8

const (
	// modeAction compares without regard to case (IAM action names are case-insensitive);
	// wildcards span any characters.
	modeAction matchMode = iota
	// modeString compares case-sensitively; wildcards span any characters (StringLike).
	modeString
	// modeARN compares case-sensitively, one ARN field at a time, so a wildcard in the
	// region never eats into the account; the last field (the resource) may itself hold
	// colons. A pattern with fewer than six fields has its missing fields read as "*".
	modeARN
)

type patternKind uint8

const (
	patAny      patternKind = iota // "*": matches everything
	patExact                       // no wildcards: lit is the whole value
	patPrefix                      // one trailing "*": lit is the prefix
	patGlob                        // anything else: glob is the internal pattern
	patTemplate                    // holds policy variables: compiled per request
)

// pattern is a compiled Action, Resource or condition value. The fast kinds cover almost
// every real policy ("*", "s3:GetObject", "s3:Get*", "arn:aws:s3:::bucket/*").
type pattern struct {
	mode matchMode
	kind patternKind
	lit  string   // patExact, patPrefix
	glob string   // patGlob
	tmpl template // patTemplate
}

func compilePattern(t template, mode matchMode) pattern {
	if t.hasVars() {
		return pattern{mode: mode, kind: patTemplate, tmpl: t.withGlob()}
	}
	g, _ := t.appendGlob(nil, nil) // no variables, so no request is needed
	glob := string(g)
	if glob == "*" {
		return pattern{mode: mode, kind: patAny}
	}
	wild, trailingStar := wildcards(t)
	lit := t.text()
	switch {
	case wild == 0 && (mode != modeARN || strings.Count(lit, ":") >= 5):
		return pattern{mode: mode, kind: patExact, lit: lit}
	case wild == 1 && trailingStar && (mode != modeARN || strings.Count(lit, ":") >= 5):
		return pattern{mode: mode, kind: patPrefix, lit: lit[:len(lit)-1]}
	}
	return pattern{mode: mode, kind: patGlob, glob: glob}
}

// wildcards counts the wildcards in the template's policy text and reports whether the
// template ends in a wildcard "*".
func wildcards(t template) (n int, trailingStar bool) {
	for i, p := range t {
		if p.kind != partText {
			continue
		}
		n += strings.Count(p.text, "*") + strings.Count(p.text, "?")
		if i == len(t)-1 && strings.HasSuffix(p.text, "*") {
			trailingStar = true
		}
	}
	return n, trailingStar
}

// match reports whether s matches the pattern. resolved is false when the pattern holds a
// policy variable the request cannot supply; the pattern then matches nothing.
func (p *pattern) match(s string, req *Request) (matched, resolved bool) {
	switch p.kind {
	case patAny:
		return true, true
	case patExact:
		if p.mode == modeAction {
			return strings.EqualFold(s, p.lit), true
		}
		return s == p.lit, true
	case patPrefix:
		if p.mode == modeAction {
			return len(s) >= len(p.lit) && strings.EqualFold(s[:len(p.lit)], p.lit), true
		}
		return strings.HasPrefix(s, p.lit), true
	case patGlob:
		return matchAs(p.glob, s, p.mode), true
	}
	// Substituted patterns are built on the stack; 256 bytes covers any sane ARN.
	var buf [256]byte
	b, ok := p.tmpl.appendGlob(buf[:0], req)
	if !ok {
		return false, false
	}
	return matchAs(b, s, p.mode), true
}

func matchAs[P ~string | ~[]byte](p P, s string, mode matchMode) bool {
	switch mode {
	case modeAction:
		return glob(p, s, true)
	case modeString:
		return glob(p, s, false)
	}
	return arnGlob(p, s)
}

// glob matches s against an internal pattern. It backtracks only to the most recent *,
// which is enough for patterns whose only operators are * and ?, and keeps the worst case
// at len(p)*len(s) instead of exponential. ? consumes one UTF-8 character, as AWS's does.
func glob[P ~string | ~[]byte](p P, s string, fold bool) bool {
	px, sx := 0, 0
	starPx, starSx := -1, 0
	for px < len(p) || sx < len(s) {
		if px < len(p) {
			switch c := p[px]; c {
			case '*':
				starPx, starSx = px, sx
				px++
				continue
			case '?':
				if sx < len(s) {
					_, n := utf8.DecodeRuneInString(s[sx:])
					px++
					sx += n
					continue
				}
			case '\\':
				if px+1 < len(p) && sx < len(s) && sameByte(p[px+1], s[sx], fold) {
					px += 2
					sx++
					continue
				}
			default:
				if sx < len(s) && sameByte(c, s[sx], fold) {
					px++
					sx++
					continue
				}
			}
		}
		if starPx >= 0 && starSx < len(s) {
			_, n := utf8.DecodeRuneInString(s[starSx:])
			starSx += n
			px, sx = starPx+1, starSx
			continue
		}
		return false
	}
	return true
}

func sameByte(a, b byte, fold bool) bool {
	if a == b {
		return true
	}
	if !fold {
		return false
	}
	if 'A' <= a && a <= 'Z' {
		a += 'a' - 'A'
	}
	if 'A' <= b && b <= 'Z' {
		b += 'a' - 'A'
	}
	return a == b
}

// arnGlob matches an ARN one colon-separated field at a time (see modeARN).
func arnGlob[P ~string | ~[]byte](p P, s string) bool {
	for field := 0; field < 5; field++ {
		se := strings.IndexByte(s, ':')
		pe := indexSeparator(p)
		if pe < 0 {
			if se < 0 {
				se = len(s)
			}
			return glob(p, s[:se], false)
		}
		if se < 0 {
			return false // the value has fewer fields than the pattern: not the ARN it names
		}
		if !glob(p[:pe], s[:se], false) {
			return false
		}
		p, s = p[pe+1:], s[se+1:]
	}
	return glob(p, s, false)
}

// indexSeparator returns the index of the first unescaped colon in an internal pattern.
func indexSeparator[P ~string | ~[]byte](p P) int {
	for i := 0; i < len(p); i++ {
		switch p[i] {
		case '\\':
			i++
		case ':':
			return i
		}
	}
	return -1
}

// appendLiteral appends s escaped so that it matches only itself, and (the colon) never
// splits an ARN field.
func appendLiteral(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '*', '?', '\\', ':':
			dst = append(dst, '\\', c)
		default:
			dst = append(dst, c)
		}
	}
	return dst
}
