package iampolicy

import (
	"strings"
)

// The two policy language versions. Only 2012-10-17 has policy variables; in a 2008-10-17
// document (or one without a Version, which means 2008-10-17) "${aws:username}" is text.
const (
	Version2012 = "2012-10-17"
	Version2008 = "2008-10-17"
)

// Kind is where a policy document is attached, which decides what it must and must not
// contain.
type Kind uint8

const (
	// IdentityPolicy is attached to a user, group or role, or given as a permissions
	// boundary or session policy. It names no Principal: it applies to whoever holds it.
	IdentityPolicy Kind = iota
	// ResourcePolicy is attached to a resource (an S3 bucket policy, say) and names the
	// principals each statement applies to.
	ResourcePolicy
	// TrustPolicy is a role's AssumeRolePolicyDocument: a resource policy on the role that
	// names who may assume it, and has no Resource element.
	TrustPolicy
)

func (k Kind) String() string {
	switch k {
	case IdentityPolicy:
		return "identity-based policy"
	case ResourcePolicy:
		return "resource-based policy"
	case TrustPolicy:
		return "trust policy"
	}
	return "unknown policy kind"
}

// iam reports whether IAM itself stores policies of this kind, which makes IAM's stricter
// Sid rules apply; services storing resource policies (S3, KMS) accept any Sid.
func (k Kind) iam() bool { return k != ResourcePolicy }

// Effect is a statement's Effect.
type Effect uint8

const (
	Allow Effect = iota + 1
	Deny
)

func (e Effect) String() string {
	switch e {
	case Allow:
		return "Allow"
	case Deny:
		return "Deny"
	}
	return "Unknown"
}

// Policy is a parsed, validated policy document. It is immutable once parsed.
type Policy struct {
	// Name is the caller's label for the policy (its ARN, or "user/alice/inline-name"),
	// used only when reporting a Decision. Parse leaves it empty; set it before sharing
	// the Policy between goroutines.
	Name string
	Kind Kind
	// Version is the document's Version, or "" when it has none.
	Version string
	ID      string
	// Text is the document exactly as given. IAM hands documents back as they were
	// written, so Banyan keeps the text rather than re-serializing.
	Text       string
	Statements []*Statement
}

// Statement is one compiled statement of a Policy.
type Statement struct {
	Index  int // position in the document's Statement list, from 0
	Sid    string
	Effect Effect

	principals   *principalSet // nil in identity policies
	notPrincipal bool
	actions      []pattern
	notAction    bool
	resources    []pattern
	notResource  bool
	hasResource  bool // trust policies have none, and match every resource
	conditions   []condition
}

// UsesKeyPrefix reports whether a condition of the policy tests a key that begins with
// prefix (case-insensitive, as condition keys are): for keys costly to compute, which a
// caller supplies only to policies that ask for them.
func (p *Policy) UsesKeyPrefix(prefix string) bool {
	if p == nil {
		return false
	}
	for _, st := range p.Statements {
		for _, c := range st.conditions {
			if len(c.key) >= len(prefix) && strings.EqualFold(c.key[:len(prefix)], prefix) {
				return true
			}
		}
	}
	return false
}

// MustParse is Parse for documents written into the program, such as built-in managed
// policies; it panics on an invalid document.
func MustParse(text string, kind Kind) *Policy {
	p, err := Parse(text, kind)
	if err != nil {
		panic("iampolicy: " + err.Error())
	}
	return p
}

// Parse validates a policy document of the given kind as IAM does and compiles it for
// evaluation. Every error is a copy of MalformedPolicyDocument (an *awserr.Error) carrying
// IAM's message for the first problem IAM would report.
//
// The checks run in the order IAM's appear to (all syntax first, then the version, the
// "legacy" checks, Sids, missing elements, resources, actions), so that a document with
// several problems gets the message IAM would give.
func Parse(text string, kind Kind) (*Policy, error) {
	root, err := parseJSON(text)
	if err != nil || root.kind != jsonObject {
		return nil, malformed(msgSyntax)
	}
	p := &Policy{Kind: kind, Text: text}
	var stmtNode *jsonNode
	for _, m := range root.members {
		switch m.key {
		case "Version":
			if m.val.kind != jsonString || m.val.str != Version2012 && m.val.str != Version2008 {
				return nil, malformed(msgSyntax)
			}
			p.Version = m.val.str
		case "Id":
			if m.val.kind != jsonString {
				return nil, malformed(msgSyntax)
			}
			p.ID = m.val.str
		case "Statement":
			stmtNode = m.val
		default:
			return nil, malformed(msgSyntax)
		}
	}
	var nodes []*jsonNode
	switch {
	case stmtNode == nil:
		return nil, malformed(msgSyntax)
	case stmtNode.kind == jsonObject:
		nodes = []*jsonNode{stmtNode}
	case stmtNode.kind == jsonArray && len(stmtNode.elems) > 0:
		nodes = stmtNode.elems
	default:
		return nil, malformed(msgSyntax)
	}

	raws := make([]rawStatement, len(nodes))
	for i, n := range nodes {
		if !raws[i].decode(n) {
			return nil, malformed(msgSyntax)
		}
	}
	vars := p.Version == Version2012
	if err := validate(raws, kind, p.Version, vars); err != nil {
		return nil, err
	}
	p.Statements = make([]*Statement, len(raws))
	for i := range raws {
		st, err := raws[i].compile(i, vars)
		if err != nil {
			return nil, err
		}
		p.Statements[i] = st
	}
	return p, nil
}

// rawStatement is a statement that passed the syntax checks, before compilation.
type rawStatement struct {
	sid                         string
	hasSid                      bool
	effect                      string
	principal, notPrincipal     *jsonNode
	action, notAction           []string
	hasAction, hasNotAction     bool
	resource, notResource       []string
	hasResource, hasNotResource bool
	condition                   *jsonNode
}

// decode reads a statement and reports whether it is free of what IAM calls syntax
// errors: unknown or repeated elements, values of the wrong JSON type, an unknown Effect,
// an element given together with its Not form, and malformed Condition blocks.
func (r *rawStatement) decode(n *jsonNode) bool {
	if n.kind != jsonObject {
		return false
	}
	hasEffect := false
	for _, m := range n.members {
		v, ok := m.val, true
		switch m.key {
		case "Sid":
			r.sid, r.hasSid, ok = v.str, true, v.kind == jsonString
		case "Effect":
			r.effect, hasEffect, ok = v.str, true, v.kind == jsonString
		case "Principal":
			r.principal, ok = v, principalShape(v)
		case "NotPrincipal":
			r.notPrincipal, ok = v, principalShape(v)
		case "Action":
			r.action, ok = stringList(v)
			r.hasAction = true
		case "NotAction":
			r.notAction, ok = stringList(v)
			r.hasNotAction = true
		case "Resource":
			r.resource, ok = stringList(v)
			r.hasResource = true
		case "NotResource":
			r.notResource, ok = stringList(v)
			r.hasNotResource = true
		case "Condition":
			r.condition, ok = v, conditionShape(v)
		default:
			ok = false
		}
		if !ok {
			return false
		}
	}
	// A wrongly cased Effect ("allow") gets past this check and fails the legacy one, as
	// it does in IAM.
	return hasEffect &&
		(strings.EqualFold(r.effect, "Allow") || strings.EqualFold(r.effect, "Deny")) &&
		!(r.hasAction && r.hasNotAction) &&
		!(r.hasResource && r.hasNotResource) &&
		!(r.principal != nil && r.notPrincipal != nil)
}

// stringList reads an element that is a string or an array of strings.
func stringList(n *jsonNode) ([]string, bool) {
	switch n.kind {
	case jsonString:
		return []string{n.str}, true
	case jsonArray:
		out := make([]string, len(n.elems))
		for i, e := range n.elems {
			if e.kind != jsonString {
				return nil, false
			}
			out[i] = e.str
		}
		return out, true
	}
	return nil, false
}

// principalShape: "*", or an object of known principal kinds whose values are non-empty
// strings or arrays of strings.
func principalShape(n *jsonNode) bool {
	if n.kind == jsonString {
		return n.str == "*"
	}
	if n.kind != jsonObject || len(n.members) == 0 {
		return false
	}
	for _, m := range n.members {
		switch m.key {
		case "AWS", "Service", "Federated", "CanonicalUser":
		default:
			return false
		}
		if l, ok := stringList(m.val); !ok || len(l) == 0 {
			return false
		}
	}
	return true
}

// conditionShape: an object of operator blocks, each an object of keys whose values are
// scalars or arrays of scalars. IAM ignores an unknown operator whose block is empty.
func conditionShape(n *jsonNode) bool {
	if n.kind != jsonObject {
		return false
	}
	for _, op := range n.members {
		if op.val.kind != jsonObject {
			return false
		}
		if _, _, _, known := parseOperator(op.key); !known && len(op.val.members) > 0 {
			return false
		}
		for _, k := range op.val.members {
			if _, ok := conditionValues(k.val); !ok {
				return false
			}
		}
	}
	return true
}

// conditionValues reads a condition key's values: a string, number or boolean, or an array
// of them, each taken as its text.
func conditionValues(n *jsonNode) ([]string, bool) {
	if n.scalar() {
		return []string{n.str}, true
	}
	if n.kind != jsonArray {
		return nil, false
	}
	out := make([]string, len(n.elems))
	for i, e := range n.elems {
		if !e.scalar() {
			return nil, false
		}
		out[i] = e.str
	}
	return out, true
}
