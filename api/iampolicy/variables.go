package iampolicy

import "strings"

// A template is policy text split at its policy variables (${aws:username},
// ${s3:prefix, 'home'}, ${*}). Variables are only recognised in version 2012-10-17
// documents; in older ones "${...}" is plain text, as in AWS.
type template []part

type part struct {
	kind   partKind
	text   string // the text, or the variable's condition key
	glob   string // text and literals in the internal wildcard syntax, made once
	def    string // the default of ${key, 'default'}
	hasDef bool
}

type partKind uint8

const (
	// partText is text written in the policy; where the element allows wildcards its * and
	// ? are wildcards.
	partText partKind = iota
	// partLiteral is the character that ${*}, ${?} or ${$} stands for. It exists so that a
	// policy can name a literal * or ?, so it is never a wildcard.
	partLiteral
	// partVar is a condition key whose value comes from the request.
	partVar
)

// parseTemplate splits s at its variables. Malformed "${" sequences stay text: IAM accepts
// such documents, and text can only match what it says.
func parseTemplate(s string, vars bool) template {
	if !vars || !strings.Contains(s, "${") {
		return template{{kind: partText, text: s}}
	}
	var t template
	text := 0 // start of pending text
	for i := 0; i < len(s); {
		j := strings.Index(s[i:], "${")
		if j < 0 {
			break
		}
		start := i + j
		p, n, ok := parseVariable(s[start+2:])
		if !ok {
			i = start + 2
			continue
		}
		if start > text {
			t = append(t, part{kind: partText, text: s[text:start]})
		}
		t = append(t, p)
		i = start + 2 + n
		text = i
	}
	if text < len(s) || len(t) == 0 {
		t = append(t, part{kind: partText, text: s[text:]})
	}
	return t
}

// parseVariable reads what follows "${" up to and including the closing brace, and returns
// the part and the number of bytes it used.
func parseVariable(s string) (part, int, bool) {
	end := strings.IndexAny(s, ",}")
	if end < 0 {
		return part{}, 0, false
	}
	key := strings.TrimSpace(s[:end])
	if s[end] == '}' && (key == "*" || key == "?" || key == "$") {
		return part{kind: partLiteral, text: key}, end + 1, true
	}
	if key == "" || strings.ContainsAny(key, "${' ") {
		return part{}, 0, false
	}
	if s[end] == '}' {
		return part{kind: partVar, text: key}, end + 1, true
	}
	// ${key, 'default'}: spaces around the quoted default are ignored.
	rest := s[end+1:]
	trimmed := strings.TrimLeft(rest, " ")
	if !strings.HasPrefix(trimmed, "'") {
		return part{}, 0, false
	}
	q := strings.IndexByte(trimmed[1:], '\'')
	if q < 0 {
		return part{}, 0, false
	}
	def := trimmed[1 : 1+q]
	after := strings.TrimLeft(trimmed[2+q:], " ")
	if !strings.HasPrefix(after, "}") {
		return part{}, 0, false
	}
	used := end + 1 + (len(rest) - len(after)) + 1
	return part{kind: partVar, text: key, def: def, hasDef: true}, used, true
}

// hasVars reports whether the template needs a request to be turned into text.
func (t template) hasVars() bool {
	for _, p := range t {
		if p.kind == partVar {
			return true
		}
	}
	return false
}

// resolve returns the value a variable stands for in req. AWS substitutes only keys with
// exactly one value; any other key falls back to the default or leaves the variable
// unresolved, and an unresolved variable makes its element match nothing.
func (p *part) resolve(req *Request) (string, bool) {
	if vals := req.Values(p.text); len(vals) == 1 {
		return vals[0], true
	}
	return p.def, p.hasDef
}

// appendText appends the template's text with its variables substituted.
func (t template) appendText(dst []byte, req *Request) ([]byte, bool) {
	for i := range t {
		p := &t[i]
		if p.kind != partVar {
			dst = append(dst, p.text...)
			continue
		}
		v, ok := p.resolve(req)
		if !ok {
			return dst, false
		}
		dst = append(dst, v...)
	}
	return dst, true
}

// appendGlob appends the template as an internal wildcard pattern (see glob): the policy's
// own * and ? stay wildcards, and everything else, including substituted values, is
// matched literally, so a user name can never widen the pattern it is put into.
func (t template) appendGlob(dst []byte, req *Request) ([]byte, bool) {
	for i := range t {
		p := &t[i]
		if p.kind != partVar {
			dst = append(dst, p.globText()...)
			continue
		}
		v, ok := p.resolve(req)
		if !ok {
			return dst, false
		}
		dst = appendLiteral(dst, v)
	}
	return dst, true
}

// globText returns a text or literal part in the internal wildcard syntax.
func (p *part) globText() string {
	if p.glob != "" || p.text == "" {
		return p.glob
	}
	if p.kind == partLiteral {
		return string(appendLiteral(nil, p.text))
	}
	return strings.ReplaceAll(p.text, `\`, `\\`)
}

// withGlob fills in the parts' wildcard forms, so evaluation does not redo them.
func (t template) withGlob() template {
	for i := range t {
		if t[i].kind != partVar {
			t[i].glob = t[i].globText()
		}
	}
	return t
}

// text returns the template's text, valid only for templates without variables.
func (t template) text() string {
	if len(t) == 1 {
		return t[0].text
	}
	var b strings.Builder
	for _, p := range t {
		b.WriteString(p.text)
	}
	return b.String()
}
