package iampolicy

import (
	"reflect"
	"testing"
)

func TestParseTemplate(t *testing.T) {
	text := func(s string) part { return part{kind: partText, text: s} }
	lit := func(s string) part { return part{kind: partLiteral, text: s} }
	v := func(k string) part { return part{kind: partVar, text: k} }
	vd := func(k, d string) part { return part{kind: partVar, text: k, def: d, hasDef: true} }
	tests := []struct {
		in   string
		vars bool
		want template
	}{
		{"plain", true, template{text("plain")}},
		{"a/${aws:username}/b", false, template{text("a/${aws:username}/b")}},
		{"a/${aws:username}/*", true, template{text("a/"), v("aws:username"), text("/*")}},
		{"${aws:username}", true, template{v("aws:username")}},
		{"${ aws:username }", true, template{v("aws:username")}},
		{"${aws:PrincipalTag/team}${s3:prefix}", true, template{v("aws:PrincipalTag/team"), v("s3:prefix")}},
		{"${*}${?}${$}", true, template{lit("*"), lit("?"), lit("$")}},
		{"x${aws:username, 'nobody'}y", true, template{text("x"), vd("aws:username", "nobody"), text("y")}},
		{"${aws:username,'a b}c'}", true, template{vd("aws:username", "a b}c")}},
		{"${aws:username, ''}", true, template{vd("aws:username", "")}},
		// Malformed variables stay text.
		{"${aws:username", true, template{text("${aws:username")}},
		{"${}", true, template{text("${}")}},
		{"${a b}", true, template{text("${a b}")}},
		{"${aws:username, nobody}", true, template{text("${aws:username, nobody}")}},
		{"${aws:username, 'x' y}", true, template{text("${aws:username, 'x' y}")}},
		{"$${aws:userid}", true, template{text("$"), v("aws:userid")}},
		{"${${aws:userid}", true, template{text("${"), v("aws:userid")}},
	}
	for _, tt := range tests {
		if got := parseTemplate(tt.in, tt.vars); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("parseTemplate(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
}

// TestVariablesInResources checks substitution end to end, through Evaluate.
func TestVariablesInResources(t *testing.T) {
	tests := []struct {
		name     string
		resource string
		who      Principal
		ctx      map[string][]string
		target   string
		want     bool
	}{
		{"own user", "arn:aws:iam::*:user/${aws:username}", alice, nil, alice.ARN, true},
		{"someone else", "arn:aws:iam::*:user/${aws:username}", alice, nil, bob.ARN, false},
		{"key names are case-insensitive", "arn:aws:iam::*:user/${AWS:UserName}", alice, nil, alice.ARN, true},
		{"no username for a role session", "arn:aws:s3:::home/${aws:username}/*", deploy, nil, "arn:aws:s3:::home//x", false},
		{"default when missing", "arn:aws:s3:::home/${aws:username, 'shared'}/*", deploy, nil, "arn:aws:s3:::home/shared/x", true},
		{"default unused when present", "arn:aws:s3:::home/${aws:username, 'shared'}/*", alice, nil, "arn:aws:s3:::home/shared/x", false},
		{"account variable", "arn:aws:s3:::b-${aws:PrincipalAccount}/*", alice, nil, "arn:aws:s3:::b-" + acctA + "/k", true},
		{"userid with a colon stays in its field", "arn:aws:s3:::b/${aws:userid}/*", deploy, nil, "arn:aws:s3:::b/AROADEPLOY:ci-42/k", true},
		{"substituted * is literal", "arn:aws:s3:::b/${s3:prefix}", alice, map[string][]string{"s3:prefix": {"*"}}, "arn:aws:s3:::b/secret", false},
		{"substituted * matches itself", "arn:aws:s3:::b/${s3:prefix}", alice, map[string][]string{"s3:prefix": {"*"}}, "arn:aws:s3:::b/*", true},
		{"multi-valued keys do not substitute", "arn:aws:s3:::b/${aws:TagKeys}", alice, map[string][]string{"aws:TagKeys": {"a", "b"}}, "arn:aws:s3:::b/a", false},
		{"${*} is a literal star", "arn:aws:s3:::b/${*}", alice, nil, "arn:aws:s3:::b/x", false},
		{"${*} matches a star", "arn:aws:s3:::b/${*}", alice, nil, "arn:aws:s3:::b/*", true},
		{"${?} and ${$}", "arn:aws:s3:::b/${?}${$}", alice, nil, "arn:aws:s3:::b/?$", true},
		{"unresolved entry does not spoil the others", "arn:aws:s3:::b/${aws:username}", deploy, nil, "arn:aws:s3:::public/x", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := identity(t, stmt(`{"Effect":"Allow","Action":"*","Resource":["`+tt.resource+`","arn:aws:s3:::public/*"]}`))
			req := request(tt.who, "iam:CreateAccessKey", tt.target)
			for k, v := range tt.ctx {
				req.Context[k] = v
			}
			if got := Evaluate(req, policies(p), nil).Allowed(); got != tt.want {
				t.Errorf("allowed = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestVariablesAreTextIn2008(t *testing.T) {
	p := resource(t, `{"Version":"2008-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/${aws:username}/*"}}`)
	for target, want := range map[string]bool{
		"arn:aws:s3:::b/alice/k":           false,
		"arn:aws:s3:::b/${aws:username}/k": true,
	} {
		if got := Evaluate(request(alice, "s3:GetObject", target), nil, p).Allowed(); got != want {
			t.Errorf("%s: allowed = %v, want %v", target, got, want)
		}
	}
}

// An unresolvable NotResource entry makes the statement not apply at all: it cannot tell
// whether the resource is one it leaves out.
func TestUnresolvedNotResource(t *testing.T) {
	p := identity(t, stmt(`[{"Effect":"Allow","Action":"s3:*","Resource":"*"},
		{"Effect":"Deny","Action":"s3:*","NotResource":"arn:aws:s3:::home/${aws:username}/*"}]`))
	if d := Evaluate(request(alice, "s3:GetObject", "arn:aws:s3:::home/bob/k"), policies(p), nil); d.Outcome != ExplicitDeny {
		t.Errorf("alice outside her home: %v", d)
	}
	if d := Evaluate(request(alice, "s3:GetObject", "arn:aws:s3:::home/alice/k"), policies(p), nil); !d.Allowed() {
		t.Errorf("alice in her home: %v", d)
	}
	if d := Evaluate(request(deploy, "s3:GetObject", "arn:aws:s3:::home/bob/k"), policies(p), nil); !d.Allowed() {
		t.Errorf("role session without a username: %v", d)
	}
}
