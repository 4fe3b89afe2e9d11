package iampolicy

import (
	"errors"
	"testing"

	"github.com/banyancloud/banyan/api/awserr"
)

// FuzzParse checks that no document makes Parse (or evaluating what it accepts) panic,
// and that every rejection is a MalformedPolicyDocument. Plain `go test` runs the seeds;
// `go test -fuzz FuzzParse ./api/iampolicy/` explores.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		``, `{}`, `[]`, `null`, `{"Version":"2012-10-17"}`,
		stmt(`{"Effect":"Allow","Action":"s3:*","Resource":"*"}`),
		stmt(`[{"Sid":"A","Effect":"Deny","NotAction":["iam:*"],"NotResource":"arn:aws:s3:::b/${aws:username}/*"}]`),
		stmt(`{"Effect":"Allow","Principal":{"AWS":["111111111111","arn:aws:iam::222222222222:role/r"],"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}`),
		stmt(`{"Effect":"Deny","NotPrincipal":{"AWS":"*"},"Action":"s3:*","Resource":"arn:aws:s3:::b*"}`),
		stmt(`{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"ForAllValues:StringLikeIfExists":{"aws:TagKeys":["a*","${*}"]},"IpAddress":{"aws:SourceIp":["10.0.0.0/8","::1"]},"DateLessThan":{"aws:CurrentTime":1717243200},"Bool":{"aws:SecureTransport":true},"Null":{"x:y":"true"},"BinaryEquals":{"x:b":"AA=="}}}`),
		stmt(`{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::${aws:username, 'x'}/${s3:prefix","Condition":{"ArnLike":{"aws:SourceArn":"arn:aws:sns:*:${aws:PrincipalAccount}:*"},"NumericLessThan":{"s3:max-keys":"${x:n}"}}}`),
		`{"Version":"2008-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}}`,
		`{"Version":"2012-10-17","Statement":{"Effect":"allow","Action":"s3:Get:Object","Resource":"arn:aws:s3::b"}}`,
		`{"a":{"a":{"a":{"a":{"a":[[[[[[1,2,{"x":null}]]]]]]}}}}}`,
	} {
		f.Add(seed)
	}
	reqs := []*Request{
		request(alice, "s3:GetObject", "arn:aws:s3:::b/alice/x"),
		request(deploy, "sts:AssumeRole", "arn:aws:iam::111111111111:role/r"),
		request(anonymous, "s3:ListBucket", "arn:aws:s3:::b"),
		request(ec2Service, "sts:AssumeRole", "*"),
	}
	f.Fuzz(func(t *testing.T, doc string) {
		for _, kind := range []Kind{IdentityPolicy, ResourcePolicy, TrustPolicy} {
			p, err := Parse(doc, kind)
			if err != nil {
				var ae *awserr.Error
				if p != nil || !errors.As(err, &ae) || !errors.Is(err, MalformedPolicyDocument) || ae.Message == "" {
					t.Fatalf("Parse(%q, %v) = %v, %v", doc, kind, p, err)
				}
				continue
			}
			if p.Text != doc || len(p.Statements) == 0 {
				t.Fatalf("accepted %q badly: %+v", doc, p)
			}
			for _, r := range reqs {
				var d Decision
				switch kind {
				case IdentityPolicy:
					d = Evaluate(r, policies(p), nil, policies(p))
				default:
					d = Evaluate(r, nil, p)
				}
				_ = d.String()
			}
		}
	})
}
