package sigv4

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/textproto"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

const upperhex = "0123456789ABCDEF"

// uriEncode appends s percent-encoded as SigV4 requires: everything but the RFC 3986
// unreserved characters (and '/' when keepSlash) as %XX with upper-case hex, so a space is
// %20, never '+'.
func uriEncode(dst []byte, s string, keepSlash bool) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
			c == '-' || c == '_' || c == '.' || c == '~' || c == '/' && keepSlash {
			dst = append(dst, c)
			continue
		}
		dst = append(dst, '%', upperhex[c>>4], upperhex[c&15])
	}
	return dst
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// queryUnescape decodes a query component the way form decoding does ('+' is a space). A
// broken %-escape is kept literally rather than failing the request: the client signed
// something for it, and re-encoding the literal text is the only reading both sides share.
func queryUnescape(s string) string {
	if strings.IndexByte(s, '%') < 0 && strings.IndexByte(s, '+') < 0 {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '+':
			b = append(b, ' ')
		case '%':
			if i+2 < len(s) {
				hi, ok1 := unhex(s[i+1])
				lo, ok2 := unhex(s[i+2])
				if ok1 && ok2 {
					b = append(b, hi<<4|lo)
					i += 2
					continue
				}
			}
			b = append(b, c)
		default:
			b = append(b, c)
		}
	}
	return string(b)
}

// queryParam is one decoded name=value pair of the query string, in wire order.
type queryParam struct{ key, value string }

func parseQuery(raw string) []queryParam {
	if raw == "" {
		return nil
	}
	q := make([]queryParam, 0, strings.Count(raw, "&")+1)
	for raw != "" {
		var kv string
		kv, raw, _ = strings.Cut(raw, "&")
		if kv == "" {
			continue
		}
		k, v, _ := strings.Cut(kv, "=")
		q = append(q, queryParam{queryUnescape(k), queryUnescape(v)})
	}
	return q
}

// canonicalQuery appends the canonical query string: every parameter (but X-Amz-Signature
// of a presigned URL) re-encoded strictly, then sorted by encoded name and value. Decoding
// and re-encoding, rather than using the wire text, is what makes "a b", "a%20b" and "a+b"
// sign alike, as every SDK assumes.
func canonicalQuery(dst []byte, q []queryParam, presigned bool) []byte {
	type pair struct{ k, v string }
	pairs := make([]pair, 0, len(q))
	var scratch []byte
	for _, p := range q {
		if presigned && p.key == "X-Amz-Signature" {
			continue
		}
		scratch = uriEncode(scratch[:0], p.key, false)
		k := string(scratch)
		scratch = uriEncode(scratch[:0], p.value, false)
		pairs = append(pairs, pair{k, string(scratch)})
	}
	slices.SortFunc(pairs, func(a, b pair) int {
		if c := strings.Compare(a.k, b.k); c != 0 {
			return c
		}
		return strings.Compare(a.v, b.v)
	})
	for i, p := range pairs {
		if i > 0 {
			dst = append(dst, '&')
		}
		dst = append(dst, p.k...)
		dst = append(dst, '=')
		dst = append(dst, p.v...)
	}
	return dst
}

// wirePath is the request path exactly as the client sent it, still percent-encoded: what
// the client's signer saw.
func wirePath(r *http.Request) string {
	p := r.RequestURI
	if strings.HasPrefix(p, "/") {
		p, _, _ = strings.Cut(p, "?")
	} else {
		p = r.URL.EscapedPath()
	}
	if p == "" {
		return "/"
	}
	return p
}

// normalizedPath appends the canonical URI of every service but S3: dot segments removed,
// repeated slashes collapsed, a trailing slash kept, and the already-encoded wire path
// encoded once more. The double encoding is not a mistake; it is what AWS and every SDK do.
func normalizedPath(dst []byte, p string) []byte {
	start := len(dst)
	dst = append(dst, '/')
	var segs []string
	for rest := p; rest != ""; {
		var seg string
		seg, rest, _ = strings.Cut(rest, "/")
		switch seg {
		case "", ".":
		case "..":
			if len(segs) > 0 {
				segs = segs[:len(segs)-1]
			}
		default:
			segs = append(segs, seg)
		}
	}
	for i, s := range segs {
		if i > 0 {
			dst = append(dst, '/')
		}
		dst = uriEncode(dst, s, false)
	}
	if len(segs) > 0 && strings.HasSuffix(p, "/") {
		dst = append(dst, '/')
	}
	if len(dst) == start {
		dst = append(dst, '/')
	}
	return dst
}

// s3PathVariant returns S3's other reading of a path: decoded and re-encoded strictly. S3
// signs the path as sent (no normalization, no second encoding); this reading covers a
// client or proxy whose wire encoding differs from what it signed, e.g. "~" sent as %7E.
func s3PathVariant(p string) (string, bool) {
	d, err := url.PathUnescape(p)
	if err != nil {
		return "", false
	}
	alt := string(uriEncode(nil, d, true))
	return alt, alt != p
}

// headerValues returns the values of a signed header as the client sent them. Go's server
// moves Host, Content-Length (when chunked) and Transfer-Encoding out of r.Header.
func headerValues(r *http.Request, name string) []string {
	switch name {
	case "host":
		if r.Host != "" {
			return []string{r.Host}
		}
		return []string{r.URL.Host}
	case "content-length":
		if v, ok := r.Header["Content-Length"]; ok {
			return v
		}
		if r.ContentLength >= 0 {
			return []string{strconv.FormatInt(r.ContentLength, 10)}
		}
		return nil
	case "transfer-encoding":
		if len(r.TransferEncoding) > 0 {
			return []string{strings.Join(r.TransferEncoding, ",")}
		}
	}
	if v, ok := r.Header[textproto.CanonicalMIMEHeaderKey(name)]; ok {
		return v
	}
	for k, v := range r.Header {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return nil
}

// appendTrimmed appends v with leading and trailing spaces removed and runs of spaces
// collapsed to one, SigV4's "Trimall".
func appendTrimmed(dst []byte, v string) []byte {
	v = strings.Trim(v, " \t")
	space := false
	for i := 0; i < len(v); i++ {
		if v[i] == ' ' {
			space = true
			continue
		}
		if space {
			dst = append(dst, ' ')
			space = false
		}
		dst = append(dst, v[i])
	}
	return dst
}

// canonicalRequest appends the SigV4 canonical request for r: method, canonical URI,
// canonical query, one "name:values" line per signed header, the signed header list and the
// payload hash.
func canonicalRequest(dst []byte, r *http.Request, path []byte, q []queryParam, in *authInput, payload string) []byte {
	dst = append(dst, r.Method...)
	dst = append(dst, '\n')
	dst = append(dst, path...)
	dst = append(dst, '\n')
	dst = canonicalQuery(dst, q, in.presigned)
	dst = append(dst, '\n')
	for _, name := range in.signedHeaders {
		dst = append(dst, name...)
		dst = append(dst, ':')
		for i, v := range headerValues(r, name) {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendTrimmed(dst, v)
		}
		dst = append(dst, '\n')
	}
	dst = append(dst, '\n')
	dst = append(dst, in.signedRaw...)
	dst = append(dst, '\n')
	dst = append(dst, payload...)
	return dst
}

// stringToSign returns the string SigV4 signs for a canonical request.
func stringToSign(amzDate string, scope credentialScope, canonical []byte) string {
	sum := sha256.Sum256(canonical)
	var b strings.Builder
	b.Grow(len(algorithmHMAC) + len(amzDate) + 64 + 64)
	b.WriteString(algorithmHMAC)
	b.WriteByte('\n')
	b.WriteString(amzDate)
	b.WriteByte('\n')
	b.WriteString(scope.String())
	b.WriteByte('\n')
	b.WriteString(hex.EncodeToString(sum[:]))
	return b.String()
}
