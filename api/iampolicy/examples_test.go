package iampolicy

import (
	"fmt"
	"net/netip"
	"testing"
	"time"
)

// The policies below follow examples in AWS's IAM and S3 documentation, so that Banyan
// decides them as AWS documents it decides them.

// "Allows IAM users to manage their own access keys": the resource is the caller's own
// user, named through ${aws:username}.
func TestExampleManageOwnAccessKeys(t *testing.T) {
	p := identity(t, `{
	  "Version": "2012-10-17",
	  "Statement": [{
	    "Sid": "ManageOwnAccessKeys",
	    "Effect": "Allow",
	    "Action": ["iam:CreateAccessKey", "iam:DeleteAccessKey", "iam:GetAccessKeyLastUsed",
	               "iam:ListAccessKeys", "iam:UpdateAccessKey"],
	    "Resource": "arn:aws:iam::*:user/${aws:username}"
	  }]
	}`)
	tests := []struct {
		who    Principal
		action string
		target string
		want   bool
	}{
		{alice, "iam:CreateAccessKey", alice.ARN, true},
		{alice, "iam:ListAccessKeys", alice.ARN, true},
		{alice, "iam:CreateAccessKey", bob.ARN, false},
		{alice, "iam:CreateUser", alice.ARN, false},
		{bob, "iam:DeleteAccessKey", bob.ARN, true},
		// A role session has no aws:username: the variable cannot resolve, nothing matches.
		{deploy, "iam:CreateAccessKey", "arn:aws:iam::" + acctA + ":user/", false},
	}
	for _, tt := range tests {
		if got := Evaluate(request(tt.who, tt.action, tt.target), policies(p), nil).Allowed(); got != tt.want {
			t.Errorf("%s %s on %s: allowed = %v, want %v", tt.who.Username, tt.action, tt.target, got, tt.want)
		}
	}
}

// The S3 bucket policy that denies every request from outside the company's address
// ranges, IPv4 and IPv6, with an exception inside one range.
func TestExampleBucketPolicyBySourceIP(t *testing.T) {
	bucketPolicy := resource(t, `{
	  "Version": "2012-10-17",
	  "Id": "S3PolicyId1",
	  "Statement": [{
	    "Sid": "IPAllow",
	    "Effect": "Deny",
	    "Principal": "*",
	    "Action": "s3:*",
	    "Resource": ["arn:aws:s3:::amzn-s3-demo-bucket", "arn:aws:s3:::amzn-s3-demo-bucket/*"],
	    "Condition": {
	      "NotIpAddress": {"aws:SourceIp": ["192.0.2.0/24", "2001:DB8:1234:5678::/64"]}
	    }
	  }, {
	    "Sid": "DenyOneHost",
	    "Effect": "Deny",
	    "Principal": "*",
	    "Action": "s3:*",
	    "Resource": "arn:aws:s3:::amzn-s3-demo-bucket/*",
	    "Condition": {"IpAddress": {"aws:SourceIp": "192.0.2.188/32"}}
	  }]
	}`)
	userPolicy := identity(t, stmt(`{"Effect":"Allow","Action":"s3:*","Resource":"*"}`))
	tests := []struct {
		from string
		want Outcome
		sid  string
	}{
		{"192.0.2.10", Allowed, ""},
		{"2001:db8:1234:5678::99", Allowed, ""},
		{"198.51.100.7", ExplicitDeny, "IPAllow"},
		{"2001:db8:1234:9999::1", ExplicitDeny, "IPAllow"},
		{"192.0.2.188", ExplicitDeny, "DenyOneHost"},
	}
	for _, tt := range tests {
		req := &Request{Principal: alice, Action: "s3:GetObject", Resource: "arn:aws:s3:::amzn-s3-demo-bucket/report.csv"}
		req.SetGlobalKeys(testTime, netip.MustParseAddr(tt.from), true)
		d := Evaluate(req, policies(userPolicy), bucketPolicy)
		if d.Outcome != tt.want || tt.sid != "" && d.Statement.Sid != tt.sid {
			t.Errorf("from %s: %v, want %v by %q", tt.from, d, tt.want, tt.sid)
		}
	}
}

// "Deny requests that don't use HTTPS": Bool on aws:SecureTransport.
func TestExampleDenyInsecureTransport(t *testing.T) {
	bucketPolicy := resource(t, `{
	  "Version": "2012-10-17",
	  "Statement": [{
	    "Sid": "AllowSSLRequestsOnly",
	    "Action": "s3:*",
	    "Effect": "Deny",
	    "Resource": ["arn:aws:s3:::amzn-s3-demo-bucket", "arn:aws:s3:::amzn-s3-demo-bucket/*"],
	    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
	    "Principal": "*"
	  }, {
	    "Sid": "PublicRead",
	    "Effect": "Allow",
	    "Principal": "*",
	    "Action": "s3:GetObject",
	    "Resource": "arn:aws:s3:::amzn-s3-demo-bucket/*"
	  }]
	}`)
	for _, tls := range []bool{true, false} {
		for _, who := range []Principal{anonymous, alice} {
			req := &Request{Principal: who, Action: "s3:GetObject", Resource: "arn:aws:s3:::amzn-s3-demo-bucket/index.html"}
			req.SetGlobalKeys(testTime, netip.MustParseAddr("203.0.113.9"), tls)
			d := Evaluate(req, nil, bucketPolicy)
			want := Allowed
			if !tls {
				want = ExplicitDeny
			}
			if d.Outcome != want {
				t.Errorf("%v over TLS=%v: %v, want %v", who.Type, tls, d, want)
			}
		}
	}
}

// "Allows access to a home folder in S3": ListBucket limited by s3:prefix and object
// actions limited to the user's own prefix.
func TestExampleHomeFolder(t *testing.T) {
	p := identity(t, `{
	  "Version": "2012-10-17",
	  "Statement": [{
	    "Sid": "AllowListingOfUserFolder",
	    "Action": ["s3:ListBucket"],
	    "Effect": "Allow",
	    "Resource": ["arn:aws:s3:::amzn-s3-demo-bucket"],
	    "Condition": {"StringLike": {"s3:prefix": ["", "home/", "home/${aws:username}/*"]}}
	  }, {
	    "Sid": "AllowAllS3ActionsInUserFolder",
	    "Effect": "Allow",
	    "Action": ["s3:*"],
	    "Resource": ["arn:aws:s3:::amzn-s3-demo-bucket/home/${aws:username}/*"]
	  }]
	}`)
	list := func(who Principal, prefix string) bool {
		req := request(who, "s3:ListBucket", "arn:aws:s3:::amzn-s3-demo-bucket")
		req.Context["s3:prefix"] = []string{prefix}
		return Evaluate(req, policies(p), nil).Allowed()
	}
	get := func(who Principal, key string) bool {
		return Evaluate(request(who, "s3:GetObject", "arn:aws:s3:::amzn-s3-demo-bucket/"+key), policies(p), nil).Allowed()
	}
	switch {
	case !list(alice, ""), !list(alice, "home/"), !list(alice, "home/alice/photos/"):
		t.Error("alice cannot list her way to her folder")
	case list(alice, "home/bob/"), list(alice, "etc/"):
		t.Error("alice can list outside her folder")
	case !get(alice, "home/alice/notes.txt"), get(alice, "home/bob/notes.txt"), get(alice, "home/alice"):
		t.Error("object access is not limited to alice's folder")
	}
}

// "Deny all but a few actions unless signed in with MFA": BoolIfExists makes requests
// with long-term keys, which carry no aws:MultiFactorAuthPresent, count as without MFA.
func TestExampleRequireMFA(t *testing.T) {
	p := identity(t, `{
	  "Version": "2012-10-17",
	  "Statement": [{
	    "Sid": "AllowAll",
	    "Effect": "Allow",
	    "Action": "*",
	    "Resource": "*"
	  }, {
	    "Sid": "DenyAllExceptListedIfNoMFA",
	    "Effect": "Deny",
	    "NotAction": ["iam:CreateVirtualMFADevice", "iam:EnableMFADevice", "iam:GetUser",
	                  "iam:ListMFADevices", "iam:ListVirtualMFADevices", "iam:ResyncMFADevice",
	                  "sts:GetSessionToken"],
	    "Resource": "*",
	    "Condition": {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}}
	  }]
	}`)
	tests := []struct {
		action string
		mfa    []string
		want   Outcome
	}{
		{"ec2:RunInstances", nil, ExplicitDeny},
		{"ec2:RunInstances", []string{"false"}, ExplicitDeny},
		{"ec2:RunInstances", []string{"true"}, Allowed},
		{"iam:EnableMFADevice", nil, Allowed},
		{"sts:GetSessionToken", nil, Allowed},
	}
	for _, tt := range tests {
		req := request(alice, tt.action, "*")
		if tt.mfa != nil {
			req.Context["aws:MultiFactorAuthPresent"] = tt.mfa
		}
		if d := Evaluate(req, policies(p), nil); d.Outcome != tt.want {
			t.Errorf("%s with MFA %v: %v, want %v", tt.action, tt.mfa, d, tt.want)
		}
	}
}

// "Allows access within specific dates": DateGreaterThan and DateLessThan on
// aws:CurrentTime.
func TestExampleDateRange(t *testing.T) {
	p := identity(t, `{
	  "Version": "2012-10-17",
	  "Statement": [{
	    "Effect": "Allow",
	    "Action": "ec2:*",
	    "Resource": "*",
	    "Condition": {
	      "DateGreaterThan": {"aws:CurrentTime": "2024-04-01T00:00:00Z"},
	      "DateLessThan": {"aws:CurrentTime": "2024-06-30T23:59:59Z"}
	    }
	  }]
	}`)
	for when, want := range map[string]bool{
		"2024-03-31T23:59:59Z": false,
		"2024-06-01T12:00:00Z": true,
		"2024-07-01T00:00:00Z": false,
	} {
		req := &Request{Principal: alice, Action: "ec2:DescribeInstances", Resource: "*",
			Context: map[string][]string{"aws:CurrentTime": {when}}}
		if got := Evaluate(req, policies(p), nil).Allowed(); got != want {
			t.Errorf("at %s: allowed = %v, want %v", when, got, want)
		}
	}
}

// "Allows creating resources only with given tag keys": ForAllValues on aws:TagKeys, with
// a ForAnyValue deny guarding a reserved key.
func TestExampleTagKeys(t *testing.T) {
	p := identity(t, `{
	  "Version": "2012-10-17",
	  "Statement": [{
	    "Effect": "Allow",
	    "Action": "ec2:CreateTags",
	    "Resource": "*",
	    "Condition": {"ForAllValues:StringEquals": {"aws:TagKeys": ["environment", "cost-center"]}}
	  }, {
	    "Effect": "Deny",
	    "Action": "ec2:CreateTags",
	    "Resource": "*",
	    "Condition": {"ForAnyValue:StringLike": {"aws:TagKeys": "aws:*"}}
	  }]
	}`)
	tests := []struct {
		keys []string
		want Outcome
	}{
		{[]string{"environment"}, Allowed},
		{[]string{"environment", "cost-center"}, Allowed},
		{[]string{"environment", "owner"}, ImplicitDeny},
		{[]string{"environment", "aws:reserved"}, ExplicitDeny},
	}
	for _, tt := range tests {
		req := request(alice, "ec2:CreateTags", "arn:aws:ec2:us-east-1:"+acctA+":instance/i-1")
		req.Context["aws:TagKeys"] = tt.keys
		if d := Evaluate(req, policies(p), nil); d.Outcome != tt.want {
			t.Errorf("tags %v: %v, want %v", tt.keys, d, tt.want)
		}
	}
}

// "Cross-account access to a bucket": the bucket owner grants to another account, whose
// administrator delegates to one of its users.
func TestExampleCrossAccountBucket(t *testing.T) {
	bucketPolicy := resource(t, `{
	  "Version": "2012-10-17",
	  "Statement": [{
	    "Sid": "Example permissions",
	    "Effect": "Allow",
	    "Principal": {"AWS": "arn:aws:iam::`+acctB+`:root"},
	    "Action": ["s3:GetLifecycleConfiguration", "s3:ListBucket"],
	    "Resource": ["arn:aws:s3:::amzn-s3-demo-bucket"]
	  }]
	}`)
	delegation := identity(t, `{
	  "Version": "2012-10-17",
	  "Statement": [{
	    "Sid": "Example",
	    "Effect": "Allow",
	    "Action": ["s3:ListBucket"],
	    "Resource": ["arn:aws:s3:::amzn-s3-demo-bucket"]
	  }]
	}`)
	ask := func(who Principal, action string, ids ...*Policy) bool {
		req := request(who, action, "arn:aws:s3:::amzn-s3-demo-bucket")
		req.ResourceAccount = acctA
		return Evaluate(req, ids, bucketPolicy).Allowed()
	}
	switch {
	case !ask(carol, "s3:ListBucket", delegation):
		t.Error("the delegated user cannot list")
	case ask(carol, "s3:GetLifecycleConfiguration", delegation):
		t.Error("the user got what the account granted but its administrator did not delegate")
	case ask(carol, "s3:ListBucket"):
		t.Error("the user lists without delegation")
	case !ask(rootB, "s3:GetLifecycleConfiguration"):
		t.Error("the granted account's root user cannot use the grant")
	}
}

func ExampleEvaluate() {
	userPolicy := MustParse(`{
	  "Version": "2012-10-17",
	  "Statement": {"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::photos/${aws:username}/*"}
	}`, IdentityPolicy)
	bucketPolicy := MustParse(`{
	  "Version": "2012-10-17",
	  "Statement": {"Sid": "TLSOnly", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
	                "Resource": "arn:aws:s3:::photos/*", "Condition": {"Bool": {"aws:SecureTransport": "false"}}}
	}`, ResourcePolicy)

	req := &Request{
		Principal: Principal{Type: PrincipalUser, Account: "111111111111", Username: "alice",
			ARN: "arn:aws:iam::111111111111:user/alice", UserID: "AIDAEXAMPLE"},
		Action:   "s3:GetObject",
		Resource: "arn:aws:s3:::photos/alice/cat.jpg",
	}
	req.SetGlobalKeys(time.Now(), netip.MustParseAddr("192.0.2.1"), true)
	fmt.Println(Evaluate(req, []*Policy{userPolicy}, bucketPolicy))

	req.SetGlobalKeys(time.Now(), netip.MustParseAddr("192.0.2.1"), false)
	fmt.Println(Evaluate(req, []*Policy{userPolicy}, bucketPolicy))
	// Output:
	// allow by statement 0 of an unnamed identity-based policy: an identity-based policy allows the request
	// explicit deny by statement 0 (Sid "TLSOnly") of an unnamed resource-based policy: an applicable statement denies the request
}
