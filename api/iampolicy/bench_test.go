package iampolicy

import (
	"net/netip"
	"testing"
)

// A user with the policies a real account gives one: a group policy for their own S3
// home, a read-only EC2 policy, and an MFA guard; a bucket policy that pins the source
// network and demands TLS.
const (
	benchHome = `{"Version":"2012-10-17","Statement":[
	  {"Sid":"List","Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:s3:::corp-data",
	   "Condition":{"StringLike":{"s3:prefix":["","home/","home/${aws:username}/*"]}}},
	  {"Sid":"Home","Effect":"Allow","Action":["s3:GetObject","s3:PutObject","s3:DeleteObject"],
	   "Resource":"arn:aws:s3:::corp-data/home/${aws:username}/*"}]}`
	benchEC2 = `{"Version":"2012-10-17","Statement":[
	  {"Effect":"Allow","Action":["ec2:Describe*","elasticloadbalancing:Describe*","cloudwatch:GetMetricStatistics"],"Resource":"*"}]}`
	benchMFA = `{"Version":"2012-10-17","Statement":[
	  {"Sid":"NoMFA","Effect":"Deny","NotAction":["iam:*","sts:GetSessionToken"],"Resource":"*",
	   "Condition":{"BoolIfExists":{"aws:MultiFactorAuthPresent":"false"}}}]}`
	benchBucket = `{"Version":"2012-10-17","Statement":[
	  {"Sid":"Network","Effect":"Deny","Principal":"*","Action":"s3:*",
	   "Resource":["arn:aws:s3:::corp-data","arn:aws:s3:::corp-data/*"],
	   "Condition":{"NotIpAddress":{"aws:SourceIp":["192.0.2.0/24","2001:db8::/32"]}}},
	  {"Sid":"TLS","Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::corp-data/*",
	   "Condition":{"Bool":{"aws:SecureTransport":"false"}}},
	  {"Sid":"Auditors","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::222222222222:root"},
	   "Action":["s3:GetObject","s3:ListBucket"],"Resource":["arn:aws:s3:::corp-data","arn:aws:s3:::corp-data/*"]}]}`
)

func benchPolicies(b *testing.B) ([]*Policy, *Policy) {
	return policies(identity(b, benchHome), identity(b, benchEC2), identity(b, benchMFA)), resource(b, benchBucket)
}

func benchRequest(p Principal, action, res string) *Request {
	r := &Request{Principal: p, Action: action, Resource: res}
	r.SetGlobalKeys(testTime, netip.MustParseAddr("192.0.2.10"), true)
	r.Context["aws:MultiFactorAuthPresent"] = []string{"true"}
	return r
}

func benchEvaluate(b *testing.B, req *Request, want Outcome, limits ...[]*Policy) {
	ids, bucket := benchPolicies(b)
	if d := Evaluate(req, ids, bucket, limits...); d.Outcome != want {
		b.Fatalf("decision %v, want %v", d, want)
	}
	b.ReportAllocs()
	for b.Loop() {
		Evaluate(req, ids, bucket, limits...)
	}
}

// An object in the user's home: every policy is scanned, variables are substituted, and
// the IP and TLS conditions are evaluated.
func BenchmarkEvaluateAllowHome(b *testing.B) {
	benchEvaluate(b, benchRequest(alice, "s3:PutObject", "arn:aws:s3:::corp-data/home/alice/2024/report.pdf"), Allowed)
}

func BenchmarkEvaluateListWithPrefix(b *testing.B) {
	r := benchRequest(alice, "s3:ListBucket", "arn:aws:s3:::corp-data")
	r.Context["s3:prefix"] = []string{"home/alice/2024/"}
	benchEvaluate(b, r, Allowed)
}

func BenchmarkEvaluateImplicitDeny(b *testing.B) {
	benchEvaluate(b, benchRequest(alice, "s3:GetObject", "arn:aws:s3:::corp-data/home/bob/secret.txt"), ImplicitDeny)
}

func BenchmarkEvaluateExplicitDenyNetwork(b *testing.B) {
	r := benchRequest(alice, "s3:GetObject", "arn:aws:s3:::corp-data/home/alice/x")
	r.Context[KeySourceIP] = []string{"198.51.100.1"}
	benchEvaluate(b, r, ExplicitDeny)
}

func BenchmarkEvaluateNonS3(b *testing.B) {
	benchEvaluate(b, benchRequest(alice, "ec2:DescribeInstances", "*"), Allowed)
}

func BenchmarkEvaluateCrossAccount(b *testing.B) {
	r := benchRequest(carol, "s3:GetObject", "arn:aws:s3:::corp-data/shared/x")
	r.ResourceAccount = acctA
	_, bucket := benchPolicies(b)
	auditor := policies(identity(b, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:Get*","Resource":"*"}}`))
	if d := Evaluate(r, auditor, bucket); !d.Allowed() {
		b.Fatal(d)
	}
	b.ReportAllocs()
	for b.Loop() {
		Evaluate(r, auditor, bucket)
	}
}

func BenchmarkEvaluateWithSessionPolicy(b *testing.B) {
	session := policies(identity(b, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::corp-data/*"}}`))
	benchEvaluate(b, benchRequest(alice, "s3:GetObject", "arn:aws:s3:::corp-data/home/alice/x"), Allowed, session)
}

func BenchmarkSetGlobalKeys(b *testing.B) {
	addr := netip.MustParseAddr("192.0.2.10")
	b.ReportAllocs()
	for b.Loop() {
		r := &Request{Principal: alice, Action: "s3:GetObject", Resource: "arn:aws:s3:::b/k"}
		r.SetGlobalKeys(testTime, addr, true)
	}
}

func BenchmarkParse(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(benchBucket, ResourcePolicy); err != nil {
			b.Fatal(err)
		}
	}
}
