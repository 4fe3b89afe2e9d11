package s3

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// postPolicy is the policy document of a browser-based upload: when the form stops
// being valid and what its fields may hold. It is what the signature covers, so a form
// that meets it is a form the key's owner agreed to.
type postPolicy struct {
	expiration time.Time
	conditions []postCondition
	// minSize and maxSize bound the file (content-length-range); maxSize < 0: no bound.
	minSize, maxSize int64
}

// postCondition is one "eq" or "starts-with" condition on a form field (name lower case,
// without its "$"; "bucket" is the bucket the form is POSTed to).
type postCondition struct {
	op    string // "eq" or "starts-with"
	field string
	value string
	text  string // as AWS quotes it in "Policy Condition failed: ..."
}

// postFieldsExempt are the fields a policy need not mention (AWS: the signature, the
// file, the policy itself and x-ignore-* fields).
func postFieldExempt(name string) bool {
	switch name {
	case "policy", "x-amz-signature", "file":
		return true
	}
	return strings.HasPrefix(name, "x-ignore-")
}

func invalidPolicy(format string, args ...any) error {
	return errInvalidPolicyDocument.WithMessage("Invalid Policy: "+format, args...)
}

// parsePostPolicy decodes the base64 policy field.
func parsePostPolicy(b64 string) (*postPolicy, error) {
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(b64))
	if err != nil {
		return nil, invalidPolicy("Invalid Base64 encoding of the policy.")
	}
	var doc struct {
		Expiration *string           `json:"expiration"`
		Conditions []json.RawMessage `json:"conditions"`
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		return nil, invalidPolicy("Invalid JSON.")
	}
	if doc.Expiration == nil {
		return nil, invalidPolicy("Policy missing expiration.")
	}
	exp, err := time.Parse(time.RFC3339Nano, *doc.Expiration)
	if err != nil {
		return nil, invalidPolicy("Invalid 'expiration' value: '%s'", *doc.Expiration)
	}
	if doc.Conditions == nil {
		return nil, invalidPolicy("Policy missing conditions.")
	}
	p := &postPolicy{expiration: exp, maxSize: -1}
	for _, c := range doc.Conditions {
		if err := p.addCondition(c); err != nil {
			return nil, err
		}
	}
	return p, nil
}

func (p *postPolicy) addCondition(raw json.RawMessage) error {
	var obj map[string]any
	if json.Unmarshal(raw, &obj) == nil {
		if len(obj) != 1 {
			return invalidPolicy("Invalid Simple-Condition: Simple-Conditions must have exactly one property specified.")
		}
		for k, v := range obj {
			s, ok := v.(string)
			if !ok {
				return invalidPolicy("Invalid Simple-Condition: value of %s must be a string.", k)
			}
			p.conditions = append(p.conditions, postCondition{op: "eq", field: strings.ToLower(k), value: s,
				text: fmt.Sprintf(`["eq", "$%s", "%s"]`, k, s)})
		}
		return nil
	}
	var list []any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&list); err != nil || len(list) == 0 {
		return invalidPolicy("Invalid Condition: conditions must be objects or arrays.")
	}
	op, _ := list[0].(string)
	switch strings.ToLower(op) {
	case "content-length-range":
		if len(list) != 3 {
			return invalidPolicy("Invalid content-length-range Condition: it needs a minimum and a maximum.")
		}
		lo, ok1 := policyInt(list[1])
		hi, ok2 := policyInt(list[2])
		if !ok1 || !ok2 || lo < 0 || hi < lo {
			return invalidPolicy("Invalid content-length-range Condition: %s", strings.TrimSpace(string(raw)))
		}
		// Several ranges all hold: the file must fit their intersection.
		p.minSize = max(p.minSize, lo)
		if p.maxSize < 0 || hi < p.maxSize {
			p.maxSize = hi
		}
		return nil
	case "eq", "starts-with":
		if len(list) != 3 {
			return invalidPolicy("Invalid Condition: %s needs a field and a value.", op)
		}
		field, ok1 := list[1].(string)
		value, ok2 := list[2].(string)
		if !ok1 || !ok2 || !strings.HasPrefix(field, "$") || len(field) < 2 {
			return invalidPolicy("Invalid Condition: %s", strings.TrimSpace(string(raw)))
		}
		p.conditions = append(p.conditions, postCondition{op: strings.ToLower(op), field: strings.ToLower(field[1:]),
			value: value, text: fmt.Sprintf(`["%s", "%s", "%s"]`, op, field, value)})
		return nil
	}
	return invalidPolicy("Invalid Condition: unknown operator %q.", op)
}

// policyInt reads a content-length-range bound, a JSON number or a string of digits
// (AWS accepts both).
func policyInt(v any) (int64, bool) {
	switch n := v.(type) {
	case json.Number:
		i, err := n.Int64()
		if err != nil {
			f, ferr := n.Float64()
			if ferr != nil || f != math.Trunc(f) {
				return 0, false
			}
			return int64(f), true
		}
		return i, true
	case string:
		var i int64
		_, err := fmt.Sscan(n, &i)
		return i, err == nil
	}
	return 0, false
}

// check holds the form's fields (lower-case names, the bucket as "bucket") to the policy:
// not expired, every condition met, and no field the policy does not name.
func (p *postPolicy) check(fields map[string]string, now time.Time) error {
	if !now.Before(p.expiration) {
		return errAccessDenied.WithMessage("Invalid according to Policy: Policy expired.")
	}
	named := map[string]bool{"bucket": true}
	for _, c := range p.conditions {
		named[c.field] = true
		v := fields[c.field]
		ok := false
		switch c.op {
		case "eq":
			ok = v == c.value
		case "starts-with":
			ok = strings.HasPrefix(v, c.value)
			if c.field == "content-type" && ok && strings.Contains(v, ",") {
				// A field of several types (Content-Type "image/png, image/jpeg"): each
				// must start with the prefix.
				for t := range strings.SplitSeq(v, ",") {
					ok = ok && strings.HasPrefix(strings.TrimSpace(t), c.value)
				}
			}
		}
		if !ok {
			return errAccessDenied.WithMessage("Invalid according to Policy: Policy Condition failed: %s", c.text)
		}
	}
	var extra []string
	for name := range fields {
		if !named[name] && !postFieldExempt(name) {
			extra = append(extra, name)
		}
	}
	if len(extra) > 0 {
		slices.Sort(extra)
		return errAccessDenied.WithMessage("Invalid according to Policy: Extra input fields: %s", strings.Join(extra, ", "))
	}
	return nil
}
