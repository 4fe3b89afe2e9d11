package iampolicy

import (
	"encoding/base64"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// opcode is a condition operator with its negation, set qualifier and IfExists suffix
// stripped: StringNotLike is opStringLike negated, ArnEquals and ArnLike are one operator
// (AWS documents them as identical).
type opcode uint8

const (
	opStringEquals opcode = iota
	opStringEqualsIgnoreCase
	opStringLike
	opNumericEquals
	opNumericLessThan
	opNumericLessThanEquals
	opNumericGreaterThan
	opNumericGreaterThanEquals
	opDateEquals
	opDateLessThan
	opDateLessThanEquals
	opDateGreaterThan
	opDateGreaterThanEquals
	opBool
	opBinaryEquals
	opIPAddress
	opArnLike
	opNull
)

type operator struct {
	op      opcode
	negated bool
}

var operators = map[string]operator{
	"StringEquals":              {opStringEquals, false},
	"StringNotEquals":           {opStringEquals, true},
	"StringEqualsIgnoreCase":    {opStringEqualsIgnoreCase, false},
	"StringNotEqualsIgnoreCase": {opStringEqualsIgnoreCase, true},
	"StringLike":                {opStringLike, false},
	"StringNotLike":             {opStringLike, true},
	"NumericEquals":             {opNumericEquals, false},
	"NumericNotEquals":          {opNumericEquals, true},
	"NumericLessThan":           {opNumericLessThan, false},
	"NumericLessThanEquals":     {opNumericLessThanEquals, false},
	"NumericGreaterThan":        {opNumericGreaterThan, false},
	"NumericGreaterThanEquals":  {opNumericGreaterThanEquals, false},
	"DateEquals":                {opDateEquals, false},
	"DateNotEquals":             {opDateEquals, true},
	"DateLessThan":              {opDateLessThan, false},
	"DateLessThanEquals":        {opDateLessThanEquals, false},
	"DateGreaterThan":           {opDateGreaterThan, false},
	"DateGreaterThanEquals":     {opDateGreaterThanEquals, false},
	"Bool":                      {opBool, false},
	"BinaryEquals":              {opBinaryEquals, false},
	"IpAddress":                 {opIPAddress, false},
	"NotIpAddress":              {opIPAddress, true},
	"ArnEquals":                 {opArnLike, false},
	"ArnLike":                   {opArnLike, false},
	"ArnNotEquals":              {opArnLike, true},
	"ArnNotLike":                {opArnLike, true},
	"Null":                      {opNull, false},
}

// setQualifier is the ForAnyValue: / ForAllValues: prefix, for keys with many values.
type setQualifier uint8

const (
	setNone setQualifier = iota
	setAnyValue
	setAllValues
)

// parseOperator splits a condition block name such as "ForAllValues:StringLikeIfExists".
func parseOperator(name string) (o operator, set setQualifier, ifExists, ok bool) {
	switch {
	case strings.HasPrefix(name, "ForAnyValue:"):
		set, name = setAnyValue, name[len("ForAnyValue:"):]
	case strings.HasPrefix(name, "ForAllValues:"):
		set, name = setAllValues, name[len("ForAllValues:"):]
	}
	if base, found := strings.CutSuffix(name, "IfExists"); found {
		ifExists, name = true, base
	}
	o, ok = operators[name]
	return o, set, ifExists, ok
}

// condition is one key under one operator. Statement conditions are ANDed; its values are
// ORed.
type condition struct {
	operator
	set      setQualifier
	ifExists bool
	key      string
	values   []condValue
}

// condValue is one policy value, parsed once for its operator unless it holds variables.
type condValue struct {
	text   string   // the value with ${*}-style literals applied
	tmpl   template // non-nil when the value holds variables
	pat    pattern  // StringLike, ArnLike
	num    float64
	time   time.Time
	prefix netip.Prefix
	ok     bool // the parsed form is valid; an unparsable value matches nothing
}

func compileCondition(o operator, set setQualifier, ifExists bool, key string, vals []string, vars bool) condition {
	c := condition{operator: o, set: set, ifExists: ifExists, key: key}
	c.values = make([]condValue, len(vals))
	for i, v := range vals {
		c.values[i] = compileValue(o.op, parseTemplate(v, vars))
	}
	return c
}

func compileValue(op opcode, t template) condValue {
	switch op {
	case opStringLike:
		return condValue{pat: compilePattern(t, modeString)}
	case opArnLike:
		return condValue{pat: compilePattern(t, modeARN)}
	}
	if t.hasVars() {
		return condValue{tmpl: t}
	}
	return parseValue(op, t.text())
}

// parseValue parses a policy value for its operator.
func parseValue(op opcode, s string) condValue {
	v := condValue{text: s, ok: true}
	switch op {
	case opNumericEquals, opNumericLessThan, opNumericLessThanEquals, opNumericGreaterThan, opNumericGreaterThanEquals:
		v.num, v.ok = parseNumber(s)
	case opDateEquals, opDateLessThan, opDateLessThanEquals, opDateGreaterThan, opDateGreaterThanEquals:
		v.time, v.ok = parseDate(s)
	case opIPAddress:
		v.prefix, v.ok = parsePrefix(s)
	case opBinaryEquals:
		// The policy holds base64; requests carry the raw bytes.
		b, err := base64.StdEncoding.DecodeString(s)
		v.text, v.ok = string(b), err == nil
	}
	return v
}

// eval reports whether the condition holds for req. The rules for missing keys and for
// negated operators are AWS's: a missing key fails a positive operator and satisfies a
// negated one; ...IfExists is satisfied by a missing key; ForAllValues is satisfied by a
// missing or empty key and ForAnyValue is not. A negated operator with a set qualifier
// negates each value's test ("ForAllValues:StringNotLike": no value is like any pattern),
// without one it negates the whole test.
func (c *condition) eval(req *Request) bool {
	vals := req.Values(c.key)
	if c.op == opNull {
		return c.evalNull(len(vals) > 0, req)
	}
	if len(vals) == 0 {
		switch {
		case c.ifExists:
			return true
		case c.set == setAnyValue:
			return false
		case c.set == setAllValues:
			return true
		}
		return c.negated
	}
	anyMatch, anyMiss := false, false
	for _, rv := range vals {
		m, resolved := c.matchAny(rv, req)
		if !resolved {
			return false
		}
		if m {
			anyMatch = true
		} else {
			anyMiss = true
		}
	}
	switch c.set {
	case setAllValues:
		if c.negated {
			return !anyMatch
		}
		return !anyMiss
	case setAnyValue:
		if c.negated {
			return anyMiss
		}
		return anyMatch
	}
	return anyMatch != c.negated
}

// evalNull: "true" asks for the key to be absent, "false" for it to be present.
func (c *condition) evalNull(present bool, req *Request) bool {
	for i := range c.values {
		s, ok := c.values[i].resolveText(req)
		if !ok {
			continue
		}
		if strings.EqualFold(s, "true") && !present || strings.EqualFold(s, "false") && present {
			return true
		}
	}
	return false
}

// matchAny reports whether the request value rv matches any of the policy's values.
// resolved is false when every policy value holds a variable the request cannot supply:
// such a condition cannot be evaluated and does not match, whichever its operator.
func (c *condition) matchAny(rv string, req *Request) (matched, resolved bool) {
	for i := range c.values {
		m, ok := c.values[i].match(c.op, rv, req)
		if !ok {
			continue
		}
		resolved = true
		if m {
			return true, true
		}
	}
	return false, resolved
}

func (v *condValue) resolveText(req *Request) (string, bool) {
	if v.tmpl == nil {
		return v.text, true
	}
	b, ok := v.tmpl.appendText(nil, req)
	return string(b), ok
}

// match applies the positive form of op to one request value and one policy value.
func (v *condValue) match(op opcode, rv string, req *Request) (matched, resolved bool) {
	switch op {
	case opStringLike, opArnLike:
		return v.pat.match(rv, req)
	}
	pv := v
	if v.tmpl != nil {
		s, ok := v.resolveText(req)
		if !ok {
			return false, false
		}
		parsed := parseValue(op, s)
		pv = &parsed
	}
	if !pv.ok {
		return false, true
	}
	switch op {
	case opStringEquals, opBinaryEquals:
		return rv == pv.text, true
	case opStringEqualsIgnoreCase, opBool:
		return strings.EqualFold(rv, pv.text), true
	case opNumericEquals, opNumericLessThan, opNumericLessThanEquals, opNumericGreaterThan, opNumericGreaterThanEquals:
		n, ok := parseNumber(rv)
		return ok && compareNumbers(op, n, pv.num), true
	case opDateEquals, opDateLessThan, opDateLessThanEquals, opDateGreaterThan, opDateGreaterThanEquals:
		t, ok := parseDate(rv)
		return ok && compareDates(op, t, pv.time), true
	case opIPAddress:
		a, err := netip.ParseAddr(rv)
		return err == nil && pv.prefix.Contains(a.Unmap()), true
	}
	return false, true
}

func compareNumbers(op opcode, req, pol float64) bool {
	switch op {
	case opNumericEquals:
		return req == pol
	case opNumericLessThan:
		return req < pol
	case opNumericLessThanEquals:
		return req <= pol
	case opNumericGreaterThan:
		return req > pol
	}
	return req >= pol
}

func compareDates(op opcode, req, pol time.Time) bool {
	switch op {
	case opDateEquals:
		return req.Equal(pol)
	case opDateLessThan:
		return req.Before(pol)
	case opDateLessThanEquals:
		return !req.After(pol)
	case opDateGreaterThan:
		return req.After(pol)
	}
	return !req.Before(pol)
}

func parseNumber(s string) (float64, bool) {
	n, err := strconv.ParseFloat(s, 64)
	return n, err == nil
}

// dateLayouts are the ISO 8601 forms AWS accepts, most common first. Go's parser also
// accepts fractional seconds after any seconds field.
var dateLayouts = []string{
	"2006-01-02T15:04:05Z07:00",
	"2006-01-02T15:04:05Z0700",
	"2006-01-02T15:04:05",
	"2006-01-02T15:04Z07:00",
	"2006-01-02T15:04",
	"2006-01-02",
	"20060102T150405Z07:00",
	"20060102T150405",
	"20060102",
	"2006-01",
}

// parseDate reads an ISO 8601 date or time, or seconds since the epoch. Like AWS, a value
// of bare digits is epoch seconds (so "2020" is 2020 seconds past 1970, not a year); times
// without a zone are UTC.
func parseDate(s string) (time.Time, bool) {
	if s == "" {
		return time.Time{}, false
	}
	if digits(s) {
		sec, err := strconv.ParseInt(s, 10, 64)
		return time.Unix(sec, 0).UTC(), err == nil
	}
	if i := strings.IndexByte(s, '.'); i > 0 && digits(s[:i]) && digits(s[i+1:]) {
		f, err := strconv.ParseFloat(s, 64)
		sec := int64(f)
		return time.Unix(sec, int64((f-float64(sec))*1e9)).UTC(), err == nil
	}
	if strings.ContainsAny(s, "tz") { // AWS reads the designators without regard to case
		s = strings.ToUpper(s)
	}
	for _, layout := range dateLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

func digits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// parsePrefix reads a CIDR block, or a bare address as a block of one.
func parsePrefix(s string) (netip.Prefix, bool) {
	if p, err := netip.ParsePrefix(s); err == nil {
		if p.Addr().Is4In6() {
			return netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96).Masked(), p.Bits() >= 96
		}
		return p.Masked(), true
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, false
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), true
}
