package iampolicy

import (
	"net/netip"
	"testing"
	"time"
)

const (
	acctA = "111111111111"
	acctB = "222222222222"
)

var (
	alice = Principal{Type: PrincipalUser, Account: acctA, ARN: "arn:aws:iam::" + acctA + ":user/alice",
		UserID: "AIDAALICE", Username: "alice"}
	bob = Principal{Type: PrincipalUser, Account: acctA, ARN: "arn:aws:iam::" + acctA + ":user/bob",
		UserID: "AIDABOB", Username: "bob"}
	carol = Principal{Type: PrincipalUser, Account: acctB, ARN: "arn:aws:iam::" + acctB + ":user/carol",
		UserID: "AIDACAROL", Username: "carol"}
	rootA     = Principal{Type: PrincipalRoot, Account: acctA, ARN: "arn:aws:iam::" + acctA + ":root"}
	rootB     = Principal{Type: PrincipalRoot, Account: acctB, ARN: "arn:aws:iam::" + acctB + ":root"}
	anonymous = Principal{Type: PrincipalAnonymous}
	deploy    = Principal{Type: PrincipalAssumedRole, Account: acctA,
		ARN:     "arn:aws:sts::" + acctA + ":assumed-role/deploy/ci-42",
		RoleARN: "arn:aws:iam::" + acctA + ":role/build/deploy",
		UserID:  "AROADEPLOY:ci-42"}
	ec2Service = Principal{Type: PrincipalService, Service: "ec2.amazonaws.com"}
)

var testTime = time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC)

func mustParse(t testing.TB, kind Kind, doc string) *Policy {
	t.Helper()
	p, err := Parse(doc, kind)
	if err != nil {
		t.Fatalf("Parse(%s): %v", doc, err)
	}
	return p
}

func identity(t testing.TB, doc string) *Policy { t.Helper(); return mustParse(t, IdentityPolicy, doc) }
func resource(t testing.TB, doc string) *Policy { t.Helper(); return mustParse(t, ResourcePolicy, doc) }
func trust(t testing.TB, doc string) *Policy    { t.Helper(); return mustParse(t, TrustPolicy, doc) }

// request builds a request with the global keys set as the front door would set them.
func request(p Principal, action, res string) *Request {
	r := &Request{Principal: p, Action: action, Resource: res}
	r.SetGlobalKeys(testTime, netip.MustParseAddr("192.0.2.10"), true)
	return r
}

func policies(ps ...*Policy) []*Policy { return ps }
