package iampolicy

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/banyancloud/banyan/api/awserr"
)

// stmt wraps one statement in a 2012-10-17 document.
func stmt(s string) string { return `{"Version":"2012-10-17","Statement":` + s + `}` }

func TestParseMalformed(t *testing.T) {
	const (
		ok       = `"Effect":"Allow","Action":"s3:GetObject","Resource":"*"`
		okRes    = `"Effect":"Allow","Principal":"*","Action":"s3:GetObject"`
		okTrust  = `"Effect":"Allow","Action":"sts:AssumeRole"`
		nested64 = `[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]`
	)
	tests := []struct {
		name string
		kind Kind
		doc  string
		want string
	}{
		{"not JSON", IdentityPolicy, `{"Version":`, msgSyntax},
		{"empty", IdentityPolicy, ``, msgSyntax},
		{"top level array", IdentityPolicy, `[]`, msgSyntax},
		{"trailing data", IdentityPolicy, stmt(`{`+ok+`}`) + `{}`, msgSyntax},
		{"unknown top-level key", IdentityPolicy, `{"Version":"2012-10-17","Statement":{` + ok + `},"Condition":{}}`, msgSyntax},
		{"top-level key in wrong case", IdentityPolicy, `{"version":"2012-10-17","Statement":{` + ok + `}}`, msgSyntax},
		{"unknown Version", IdentityPolicy, `{"Version":"2012-10-18","Statement":{` + ok + `}}`, msgSyntax},
		{"Version not a string", IdentityPolicy, `{"Version":2012,"Statement":{` + ok + `}}`, msgSyntax},
		{"Id not a string", IdentityPolicy, `{"Version":"2012-10-17","Id":1,"Statement":{` + ok + `}}`, msgSyntax},
		{"no Statement", IdentityPolicy, `{"Version":"2012-10-17"}`, msgSyntax},
		{"empty Statement list", IdentityPolicy, stmt(`[]`), msgSyntax},
		{"Statement a string", IdentityPolicy, stmt(`"Allow"`), msgSyntax},
		{"statement not an object", IdentityPolicy, stmt(`[1]`), msgSyntax},
		{"duplicate key", IdentityPolicy, stmt(`{` + ok + `,"Effect":"Deny"}`), msgSyntax},
		{"unknown statement element", IdentityPolicy, stmt(`{` + ok + `,"Actions":"s3:*"}`), msgSyntax},
		{"missing Effect", IdentityPolicy, stmt(`{"Action":"s3:*","Resource":"*"}`), msgSyntax},
		{"unknown Effect", IdentityPolicy, stmt(`{"Effect":"Permit","Action":"s3:*","Resource":"*"}`), msgSyntax},
		{"Effect not a string", IdentityPolicy, stmt(`{"Effect":true,"Action":"s3:*","Resource":"*"}`), msgSyntax},
		{"Action and NotAction", IdentityPolicy, stmt(`{` + ok + `,"NotAction":"s3:PutObject"}`), msgSyntax},
		{"Resource and NotResource", IdentityPolicy, stmt(`{` + ok + `,"NotResource":"*"}`), msgSyntax},
		{"Action a number", IdentityPolicy, stmt(`{"Effect":"Allow","Action":5,"Resource":"*"}`), msgSyntax},
		{"Action list with a number", IdentityPolicy, stmt(`{"Effect":"Allow","Action":["s3:*",5],"Resource":"*"}`), msgSyntax},
		{"Resource an object", IdentityPolicy, stmt(`{"Effect":"Allow","Action":"s3:*","Resource":{}}`), msgSyntax},
		{"Sid not a string", IdentityPolicy, stmt(`{"Sid":1,` + ok + `}`), msgSyntax},
		{"Condition a list", IdentityPolicy, stmt(`{` + ok + `,"Condition":[]}`), msgSyntax},
		{"Condition operator not an object", IdentityPolicy, stmt(`{` + ok + `,"Condition":{"StringEquals":"x"}}`), msgSyntax},
		{"unknown condition operator", IdentityPolicy, stmt(`{` + ok + `,"Condition":{"StringEqualz":{"aws:username":"a"}}}`), msgSyntax},
		{"operator in wrong case", IdentityPolicy, stmt(`{` + ok + `,"Condition":{"stringequals":{"aws:username":"a"}}}`), msgSyntax},
		{"unknown set qualifier", IdentityPolicy, stmt(`{` + ok + `,"Condition":{"ForSomeValues:StringEquals":{"aws:username":"a"}}}`), msgSyntax},
		{"condition value null", IdentityPolicy, stmt(`{` + ok + `,"Condition":{"StringEquals":{"aws:username":null}}}`), msgSyntax},
		{"condition value object", IdentityPolicy, stmt(`{` + ok + `,"Condition":{"StringEquals":{"aws:username":{}}}}`), msgSyntax},
		{"condition value nested list", IdentityPolicy, stmt(`{` + ok + `,"Condition":{"StringEquals":{"aws:username":[["a"]]}}}`), msgSyntax},
		{"Principal and NotPrincipal", ResourcePolicy, stmt(`{` + okRes + `,"Resource":"*","NotPrincipal":{"AWS":"*"}}`), msgSyntax},
		{"Principal a non-* string", ResourcePolicy, stmt(`{"Effect":"Allow","Principal":"` + acctA + `","Action":"s3:*","Resource":"*"}`), msgSyntax},
		{"Principal of unknown kind", ResourcePolicy, stmt(`{"Effect":"Allow","Principal":{"Users":"alice"},"Action":"s3:*","Resource":"*"}`), msgSyntax},
		{"Principal empty", ResourcePolicy, stmt(`{"Effect":"Allow","Principal":{},"Action":"s3:*","Resource":"*"}`), msgSyntax},
		{"Principal empty list", ResourcePolicy, stmt(`{"Effect":"Allow","Principal":{"AWS":[]},"Action":"s3:*","Resource":"*"}`), msgSyntax},
		{"too deeply nested", IdentityPolicy, stmt(`{` + ok + `,"Condition":{"StringEquals":{"a:b":` + nested64 + `}}}`), msgSyntax},

		{"identity without Version", IdentityPolicy, `{"Statement":{` + ok + `}}`, msgVersion},
		{"identity at 2008-10-17", IdentityPolicy, `{"Version":"2008-10-17","Statement":{` + ok + `}}`, msgVersion},
		{"identity with Principal", IdentityPolicy, stmt(`{` + ok + `,"Principal":"*"}`), msgNoPrincipal},
		{"identity with NotPrincipal", IdentityPolicy, stmt(`{` + ok + `,"NotPrincipal":{"AWS":"*"}}`), msgNoPrincipal},

		{"Effect in lower case", IdentityPolicy, stmt(`{"Effect":"allow","Action":"s3:*","Resource":"*"}`), msgLegacy},
		{"unreadable date", IdentityPolicy, stmt(`{` + ok + `,"Condition":{"DateGreaterThan":{"aws:CurrentTime":"yesterday"}}}`), msgLegacy},
		{"ARN with an empty field too short", IdentityPolicy, stmt(`{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3::bucket"}`), msgLegacy},
		{"ARN with an empty service", IdentityPolicy, stmt(`{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws::us-east-1:1:x"}`), msgLegacy},

		{"duplicate Sid", IdentityPolicy, stmt(`[{"Sid":"A",` + ok + `},{"Sid":"A",` + ok + `}]`), msgSidUnique},
		{"Sid with a hyphen", IdentityPolicy, stmt(`{"Sid":"allow-read",` + ok + `}`), msgSidAlphanumeric},
		{"trust Sid with a space", TrustPolicy, stmt(`{"Sid":"a b","Principal":"*",` + okTrust + `}`), msgSidAlphanumeric},

		{"no Action", IdentityPolicy, stmt(`{"Effect":"Allow","Resource":"*"}`), msgNoActions},
		{"empty Action list", IdentityPolicy, stmt(`{"Effect":"Allow","Action":[],"Resource":"*"}`), msgNoActions},
		{"empty NotAction list", IdentityPolicy, stmt(`{"Effect":"Allow","NotAction":[],"Resource":"*"}`), msgNoActions},
		{"no Resource", IdentityPolicy, stmt(`{"Effect":"Allow","Action":"s3:*"}`), msgNoResources},
		{"empty Resource list", IdentityPolicy, stmt(`{"Effect":"Allow","Action":"s3:*","Resource":[]}`), msgNoResources},
		{"bucket policy without Resource", ResourcePolicy, stmt(`{` + okRes + `}`), msgNoResources},

		{"resource not an ARN", IdentityPolicy, stmt(`{"Effect":"Allow","Action":"s3:*","Resource":"my-bucket"}`), `Resource my-bucket must be in ARN format or "*".`},
		{"resource with another scheme", IdentityPolicy, stmt(`{"Effect":"Allow","Action":"s3:*","Resource":"urn:aws:s3:::b"}`), `Resource urn:aws:s3:::b must be in ARN format or "*".`},
		{"unknown partition", IdentityPolicy, stmt(`{"Effect":"Allow","Action":"s3:*","Resource":"arn:azure:s3:::b"}`), `Partition "azure" is not valid for resource "arn:azure:s3:::b".`},
		{"resource without service", IdentityPolicy, stmt(`{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws"}`), msgResourceVendor},
		{"wildcard service", IdentityPolicy, stmt(`{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s*:::b"}`), msgResourceVendor},
		{"IAM resource with region", IdentityPolicy, stmt(`{"Effect":"Allow","Action":"iam:*","Resource":"arn:aws:iam:us-east-1:` + acctA + `:user/a"}`), "IAM resource arn:aws:iam:us-east-1:" + acctA + ":user/a cannot contain region information."},
		{"S3 resource with region", IdentityPolicy, stmt(`{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:us-east-1::b"}`), "Resource arn:aws:s3:us-east-1::b can not contain region information."},
		{"bad NotResource", IdentityPolicy, stmt(`{"Effect":"Allow","Action":"s3:*","NotResource":"b"}`), `Resource b must be in ARN format or "*".`},

		{"action without vendor", IdentityPolicy, stmt(`{"Effect":"Allow","Action":"GetObject","Resource":"*"}`), msgVendorPrefix},
		{"action with two colons", IdentityPolicy, stmt(`{"Effect":"Allow","Action":"s3:Get:Object","Resource":"*"}`), msgOneColon},
		{"action with bad vendor", IdentityPolicy, stmt(`{"Effect":"Allow","Action":"s_3:GetObject","Resource":"*"}`), "Vendor s_3 is not valid"},
		{"action with empty vendor", IdentityPolicy, stmt(`{"Effect":"Allow","Action":":GetObject","Resource":"*"}`), "Vendor  is not valid"},
		{"bad NotAction", IdentityPolicy, stmt(`{"Effect":"Allow","NotAction":"iam","Resource":"*"}`), msgVendorPrefix},
		{"condition key without vendor", IdentityPolicy, stmt(`{` + ok + `,"Condition":{"IpAddress":{"SourceIp":"10.0.0.0/8"}}}`), msgVendorPrefix},

		{"bucket policy without Principal", ResourcePolicy, stmt(`{"Effect":"Allow","Action":"s3:*","Resource":"*"}`), msgMissingPrincipal},
		{"trust policy without Principal", TrustPolicy, stmt(`{` + okTrust + `}`), msgMissingPrincipal},
		{"trust policy with Resource", TrustPolicy, stmt(`{"Principal":"*",` + okTrust + `,"Resource":"*"}`), "Has prohibited field Resource"},
		{"trust policy with NotResource", TrustPolicy, stmt(`{"Principal":"*",` + okTrust + `,"NotResource":"*"}`), "Has prohibited field NotResource"},
		{"trust policy with NotPrincipal", TrustPolicy, stmt(`{"NotPrincipal":{"AWS":"*"},` + okTrust + `}`), "Has prohibited field NotPrincipal"},
		{"trust policy with a non-STS action", TrustPolicy, stmt(`{"Effect":"Allow","Principal":"*","Action":"s3:GetObject"}`), msgTrustActions},

		{"principal neither account nor ARN", ResourcePolicy, stmt(`{"Effect":"Allow","Principal":{"AWS":"alice"},"Action":"s3:*","Resource":"*"}`), `Invalid principal in policy: "AWS":"alice"`},
		{"principal with a partial wildcard", TrustPolicy, stmt(`{"Principal":{"AWS":"arn:aws:iam::*:root"},` + okTrust + `}`), `Invalid principal in policy: "AWS":"arn:aws:iam::*:root"`},
		{"principal root of a non-account", TrustPolicy, stmt(`{"Principal":{"AWS":"arn:aws:iam::abc:root"},` + okTrust + `}`), `Invalid principal in policy: "AWS":"arn:aws:iam::abc:root"`},
		{"principal short ARN", TrustPolicy, stmt(`{"Principal":{"AWS":"arn:aws:iam::1"},` + okTrust + `}`), `Invalid principal in policy: "AWS":"arn:aws:iam::1"`},
		{"empty service principal", TrustPolicy, stmt(`{"Principal":{"Service":""},` + okTrust + `}`), `Invalid principal in policy: "Service":""`},
		{"wildcard service principal", TrustPolicy, stmt(`{"Principal":{"Service":"*.amazonaws.com"},` + okTrust + `}`), `Invalid principal in policy: "Service":"*.amazonaws.com"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Parse(tt.doc, tt.kind)
			if err == nil {
				t.Fatalf("Parse accepted %s", tt.doc)
			}
			if p != nil {
				t.Errorf("Parse returned a policy with its error")
			}
			var ae *awserr.Error
			if !errors.As(err, &ae) || !errors.Is(err, MalformedPolicyDocument) {
				t.Fatalf("error %v (%T) is not a MalformedPolicyDocument", err, err)
			}
			if ae.HTTPStatus != http.StatusBadRequest {
				t.Errorf("status %d, want 400", ae.HTTPStatus)
			}
			if ae.Message != tt.want {
				t.Errorf("message %q, want %q", ae.Message, tt.want)
			}
		})
	}
}

func TestParseAccepts(t *testing.T) {
	tests := []struct {
		name string
		kind Kind
		doc  string
	}{
		{"statement as an object", IdentityPolicy, stmt(`{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}`)},
		{"lists and Id", IdentityPolicy, `{"Version":"2012-10-17","Id":"x","Statement":[{"Sid":"A1","Effect":"Deny","NotAction":["iam:*","sts:*"],"NotResource":["arn:aws:s3:::b","arn:aws:s3:::b/*"]}]}`},
		{"action wildcards", IdentityPolicy, stmt(`{"Effect":"Allow","Action":["*","*:*","s3:*","s3:Get*Acl","ec2:Describe?pcs"],"Resource":"*"}`)},
		{"short ARN means the rest is *", IdentityPolicy, stmt(`{"Effect":"Allow","Action":"s3:*","Resource":["arn:aws:ec2:*","arn:aws-cn:ec2:*:*:instance/*"]}`)},
		{"variables anywhere in resources", IdentityPolicy, stmt(`{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::${aws:username}/${*}"}`)},
		{"condition values of every JSON scalar type", IdentityPolicy, stmt(`{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":true},"NumericLessThan":{"s3:max-keys":[10,"20"]},"DateGreaterThan":{"aws:CurrentTime":["2020-01-01T00:00:00Z",1577836800,"2020-01-01"]},"StringEquals":{"aws:RequestTag/aws:cloudformation:stack-name":"x"}}}`)},
		{"all qualifiers and suffixes", IdentityPolicy, stmt(`{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"ForAllValues:StringLikeIfExists":{"aws:TagKeys":"a*"},"ForAnyValue:StringEquals":{"aws:TagKeys":[]},"NullIfExists":{"aws:TokenIssueTime":"true"}}}`)},
		{"unknown operator with an empty block", IdentityPolicy, stmt(`{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"StringEqualz":{}}}`)},
		{"date with a variable is not checked", IdentityPolicy, stmt(`{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"DateLessThan":{"aws:CurrentTime":"${aws:TokenIssueTime}"}}}`)},
		{"bucket policy at 2008-10-17 with free-form Sids", ResourcePolicy, `{"Version":"2008-10-17","Statement":[{"Sid":"Public read - v1","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"},{"Sid":"Public read - v1","Effect":"Deny","NotPrincipal":{"AWS":["` + acctA + `","arn:aws:iam::` + acctA + `:user/alice"]},"Action":"s3:DeleteObject","Resource":"arn:aws:s3:::b/*"}]}`},
		{"bucket policy without Version", ResourcePolicy, `{"Statement":{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}}`},
		{"trust policy for a service", TrustPolicy, `{"Version":"2008-10-17","Statement":[{"Sid":"","Effect":"Allow","Principal":{"Service":["ec2.amazonaws.com","lambda.amazonaws.com"]},"Action":"sts:AssumeRole"}]}`},
		{"trust policy for accounts, roles and providers", TrustPolicy, stmt(`{"Effect":"Allow","Principal":{"AWS":["` + acctB + `","arn:aws:iam::` + acctB + `:root","arn:aws:iam::` + acctB + `:role/x/y"],"Federated":"accounts.google.com","CanonicalUser":"79a59df900b949e55d96a1e698fbaced"},"Action":["sts:AssumeRole","sts:TagSession","sts:AssumeRoleWithWebIdentity"]}`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Parse(tt.doc, tt.kind)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if p.Text != tt.doc || p.Kind != tt.kind {
				t.Errorf("Text/Kind not kept: %+v", p)
			}
			if len(p.Statements) == 0 {
				t.Errorf("no statements")
			}
			for i, s := range p.Statements {
				if s.Index != i {
					t.Errorf("statement %d has Index %d", i, s.Index)
				}
			}
		})
	}
}

func TestParseFields(t *testing.T) {
	p := identity(t, `{"Version":"2012-10-17","Id":"doc-1","Statement":[{"Sid":"A","Effect":"Allow","Action":"s3:*","Resource":"*"},{"Effect":"Deny","Action":"s3:*","Resource":"*"}]}`)
	if p.Version != Version2012 || p.ID != "doc-1" || len(p.Statements) != 2 {
		t.Fatalf("got %+v", p)
	}
	if s := p.Statements[0]; s.Sid != "A" || s.Effect != Allow {
		t.Errorf("statement 0: %+v", s)
	}
	if s := p.Statements[1]; s.Sid != "" || s.Effect != Deny || s.Index != 1 {
		t.Errorf("statement 1: %+v", s)
	}
}

func TestMustParsePanics(t *testing.T) {
	defer func() {
		if r := recover(); r == nil || !strings.Contains(r.(string), msgSyntax) {
			t.Errorf("recover() = %v", r)
		}
	}()
	MustParse("{", IdentityPolicy)
}
