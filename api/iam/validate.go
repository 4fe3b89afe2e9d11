package iam

import (
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"
)

// The input constraints of the IAM model (botocore's service-2.json) that the codec
// does not check: lengths, patterns, ranges and enums. The codec only knows types and
// required members; these are checked by each handler, in member order, and reported as
// IAM does: one ValidationError listing every violation.

// textRule is a string shape's constraints. pattern is the model's text, which AWS
// quotes in its messages; re is the same pattern for Go, anchored (AWS matches whole
// values).
type textRule struct {
	min, max  int
	pattern   string
	re        *regexp.Regexp
	sensitive bool // the value is not echoed (passwords)
}

func rule(min, max int, pattern, goPattern string) textRule {
	r := textRule{min: min, max: max, pattern: pattern}
	if goPattern != "" {
		r.re = regexp.MustCompile(`^(?:` + goPattern + `)$`)
	}
	return r
}

const namePattern = `[\w+=,.@-]+`

var (
	userNameRule         = rule(1, 64, namePattern, namePattern)
	existingUserNameRule = rule(1, 128, namePattern, namePattern)
	groupNameRule        = rule(1, 128, namePattern, namePattern)
	roleNameRule         = rule(1, 64, namePattern, namePattern)
	policyNameRule       = rule(1, 128, namePattern, namePattern)
	profileNameRule      = rule(1, 128, namePattern, namePattern)
	pathRule             = rule(1, 512, `(\u002F)|(\u002F[\u0021-\u007E]+\u002F)`, `(/)|(/[\x{21}-\x{7E}]+/)`)
	pathPrefixRule       = rule(1, 512, `\u002F[\u0021-\u007F]*`, `/[\x{21}-\x{7F}]*`)
	policyPathRule       = rule(1, 512, `((/[A-Za-z0-9\.,\+@=_-]+)*)/`, `((/[A-Za-z0-9\.,\+@=_-]+)*)/`)
	markerRule           = rule(1, 320, `[\u0020-\u00FF]+`, `[\x{20}-\x{FF}]+`)
	policyDocumentRule   = rule(1, 131072, `[\u0009\u000A\u000D\u0020-\u00FF]+`, `[\x{09}\x{0A}\x{0D}\x{20}-\x{FF}]+`)
	roleDescriptionRule  = rule(0, 1000, `[\u0009\u000A\u000D\u0020-\u007E\u00A1-\u00FF]*`, `[\x{09}\x{0A}\x{0D}\x{20}-\x{7E}\x{A1}-\x{FF}]*`)
	policyDescRule       = rule(0, 1000, "", "")
	arnRule              = rule(20, 2048, "", "")
	accessKeyIDRule      = rule(16, 128, `[\w]+`, `[\w]+`)
	versionIDRule        = rule(0, 0, `v[1-9][0-9]*(\.[A-Za-z0-9-]*)?`, `v[1-9][0-9]*(\.[A-Za-z0-9-]*)?`)
	passwordRule         = textRule{min: 1, max: 128, pattern: `[\u0009\u000A\u000D\u0020-\u00FF]+`,
		re: regexp.MustCompile(`^[\x{09}\x{0A}\x{0D}\x{20}-\x{FF}]+$`), sensitive: true}
	tagKeyRule   = rule(1, 128, `[\p{L}\p{Z}\p{N}_.:/=+\-@]+`, `[\p{L}\p{Z}\p{N}_.:/=+\-@]+`)
	tagValueRule = rule(0, 256, `[\p{L}\p{Z}\p{N}_.:/=+\-@]*`, `[\p{L}\p{Z}\p{N}_.:/=+\-@]*`)
)

// check collects violations; err reports them in AWS's words.
type check struct{ problems []string }

func (v *check) add(value, member, constraint string, quoted bool) {
	if quoted {
		v.problems = append(v.problems, fmt.Sprintf("Value '%s' at '%s' failed to satisfy constraint: %s", value, member, constraint))
	} else {
		v.problems = append(v.problems, fmt.Sprintf("Value at '%s' failed to satisfy constraint: %s", member, constraint))
	}
}

// text checks a present string member.
func (v *check) text(member, value string, r textRule) {
	n := utf8.RuneCountInString(value)
	if n < r.min {
		v.add(value, member, fmt.Sprintf("Member must have length greater than or equal to %d", r.min), !r.sensitive)
	}
	if r.max > 0 && n > r.max {
		v.add(value, member, fmt.Sprintf("Member must have length less than or equal to %d", r.max), !r.sensitive)
	}
	if r.re != nil && n >= r.min && !r.re.MatchString(value) {
		v.add(value, member, "Member must satisfy regular expression pattern: "+r.pattern, !r.sensitive)
	}
}

// opt checks an optional string member if present.
func (v *check) opt(member string, value *string, r textRule) {
	if value != nil {
		v.text(member, *value, r)
	}
}

// rng checks an optional integer member.
func (v *check) rng(member string, value *int32, min, max int32) {
	if value == nil {
		return
	}
	if *value < min {
		v.add(fmt.Sprint(*value), member, fmt.Sprintf("Member must have value greater than or equal to %d", min), true)
	}
	if *value > max {
		v.add(fmt.Sprint(*value), member, fmt.Sprintf("Member must have value less than or equal to %d", max), true)
	}
}

// enum checks an optional member against its allowed values.
func (v *check) enum(member string, value *string, allowed ...string) {
	if value == nil {
		return
	}
	for _, a := range allowed {
		if *value == a {
			return
		}
	}
	v.add(*value, member, "Member must satisfy enum value set: ["+strings.Join(allowed, ", ")+"]", true)
}

// paging checks the Marker and MaxItems members every List action has.
func (v *check) paging(marker *string, maxItems *int32) {
	v.opt("marker", marker, markerRule)
	v.rng("maxItems", maxItems, 1, 1000)
}

// tags checks a tag list member: at most 50 tags, each key and value per the model.
func (v *check) tags(member string, tags []Tag) {
	if len(tags) > maxTags {
		v.add(fmt.Sprintf("%d tags", len(tags)), member, fmt.Sprintf("Member must have length less than or equal to %d", maxTags), false)
	}
	for i, t := range tags {
		v.text(fmt.Sprintf("%s.%d.member.key", member, i+1), t.Key, tagKeyRule)
		v.text(fmt.Sprintf("%s.%d.member.value", member, i+1), t.Value, tagValueRule)
	}
}

// tagKeys checks a list of tag keys.
func (v *check) tagKeys(member string, keys []string) {
	if len(keys) > maxTags {
		v.add("", member, fmt.Sprintf("Member must have length less than or equal to %d", maxTags), false)
	}
	for i, k := range keys {
		v.text(fmt.Sprintf("%s.%d.member", member, i+1), k, tagKeyRule)
	}
}

func (v *check) err() error {
	switch len(v.problems) {
	case 0:
		return nil
	case 1:
		return errValidation("1 validation error detected: %s", v.problems[0])
	}
	return errValidation("%d validation errors detected: %s", len(v.problems), strings.Join(v.problems, "; "))
}
