package iampolicy

import (
	"strings"
	"testing"
)

const bucket = "arn:aws:s3:::photos"

func TestEvaluate(t *testing.T) {
	s3Read := identity(t, stmt(`{"Sid":"Read","Effect":"Allow","Action":["s3:GetObject","s3:ListBucket"],"Resource":["arn:aws:s3:::photos","arn:aws:s3:::photos/*"]}`))
	s3All := identity(t, stmt(`{"Sid":"All","Effect":"Allow","Action":"s3:*","Resource":"*"}`))
	denyDelete := identity(t, stmt(`{"Sid":"NoDelete","Effect":"Deny","Action":"s3:Delete*","Resource":"*"}`))
	allButIAM := identity(t, stmt(`{"Effect":"Allow","NotAction":["iam:*","organizations:*"],"Resource":"*"}`))
	denyOutsidePhotos := identity(t, stmt(`{"Sid":"OnlyPhotos","Effect":"Deny","Action":"s3:*","NotResource":["arn:aws:s3:::photos","arn:aws:s3:::photos/*"]}`))

	bucketForAlice := resource(t, stmt(`{"Sid":"Alice","Effect":"Allow","Principal":{"AWS":"`+alice.ARN+`"},"Action":"s3:*","Resource":"arn:aws:s3:::photos/*"}`))
	bucketForAccountA := resource(t, stmt(`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::`+acctA+`:root"},"Action":"s3:*","Resource":"arn:aws:s3:::photos/*"}`))
	bucketForAccountB := resource(t, stmt(`{"Sid":"B","Effect":"Allow","Principal":{"AWS":"`+acctB+`"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::photos/*"}`))
	bucketForCarol := resource(t, stmt(`{"Effect":"Allow","Principal":{"AWS":"`+carol.ARN+`"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::photos/*"}`))
	bucketPublic := resource(t, stmt(`{"Sid":"Public","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::photos/*"}`))
	bucketPublicAWS := resource(t, stmt(`{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::photos/*"}`))
	bucketDenyAll := resource(t, stmt(`{"Sid":"Lock","Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::photos/*"}`))
	bucketForRole := resource(t, stmt(`{"Effect":"Allow","Principal":{"AWS":"`+deploy.RoleARN+`"},"Action":"s3:PutObject","Resource":"arn:aws:s3:::photos/*"}`))
	bucketForSession := resource(t, stmt(`{"Effect":"Allow","Principal":{"AWS":"`+deploy.ARN+`"},"Action":"s3:PutObject","Resource":"arn:aws:s3:::photos/*"}`))

	onlyGet := identity(t, stmt(`{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}`))
	denyGet := identity(t, stmt(`{"Sid":"X","Effect":"Deny","Action":"s3:GetObject","Resource":"*"}`))

	obj := bucket + "/cat.jpg"
	other := "arn:aws:s3:::other/x"
	crossB := func(r *Request) *Request { r.ResourceAccount = acctA; return r }

	tests := []struct {
		name     string
		req      *Request
		identity []*Policy
		resource *Policy
		limits   [][]*Policy
		want     Outcome
		sid      string // Sid of the deciding statement, when one decides
		reason   string
	}{
		{"no policies", request(alice, "s3:GetObject", obj), nil, nil, nil, ImplicitDeny, "", reasonNoIdentityAllow},
		{"identity allows", request(alice, "s3:GetObject", obj), policies(s3Read), nil, nil, Allowed, "Read", reasonIdentityAllows},
		{"action not listed", request(alice, "s3:PutObject", obj), policies(s3Read), nil, nil, ImplicitDeny, "", reasonNoIdentityAllow},
		{"resource not listed", request(alice, "s3:GetObject", other), policies(s3Read), nil, nil, ImplicitDeny, "", ""},
		{"actions ignore case", request(alice, "S3:getobject", obj), policies(s3Read), nil, nil, Allowed, "Read", ""},
		{"resources do not", request(alice, "s3:GetObject", "arn:aws:s3:::Photos/cat.jpg"), policies(s3Read), nil, nil, ImplicitDeny, "", ""},
		{"deny beats allow in another policy", request(alice, "s3:DeleteObject", obj), policies(s3All, denyDelete), nil, nil, ExplicitDeny, "NoDelete", reasonDenied},
		{"deny beats allow, either order", request(alice, "s3:DeleteObject", obj), policies(denyDelete, s3All), nil, nil, ExplicitDeny, "NoDelete", ""},
		{"deny not matching leaves the allow", request(alice, "s3:PutObject", obj), policies(s3All, denyDelete), nil, nil, Allowed, "All", ""},
		{"NotAction allows the rest", request(alice, "ec2:RunInstances", "*"), policies(allButIAM), nil, nil, Allowed, "", ""},
		{"NotAction leaves out what it lists", request(alice, "iam:CreateUser", "*"), policies(allButIAM), nil, nil, ImplicitDeny, "", ""},
		{"NotResource denies elsewhere", request(alice, "s3:GetObject", other), policies(s3All, denyOutsidePhotos), nil, nil, ExplicitDeny, "OnlyPhotos", ""},
		{"NotResource spares what it lists", request(alice, "s3:GetObject", obj), policies(s3All, denyOutsidePhotos), nil, nil, Allowed, "All", ""},
		{"resource policy deny beats identity allow", request(alice, "s3:GetObject", obj), policies(s3All), bucketDenyAll, nil, ExplicitDeny, "Lock", ""},

		// Same account.
		{"resource policy naming the user suffices", request(alice, "s3:PutObject", obj), nil, bucketForAlice, nil, Allowed, "Alice", reasonResourceAllows},
		{"resource policy naming someone else", request(bob, "s3:PutObject", obj), nil, bucketForAlice, nil, ImplicitDeny, "", ""},
		{"resource policy naming the account delegates", request(bob, "s3:PutObject", obj), nil, bucketForAccountA, nil, ImplicitDeny, "", reasonNoIdentityAllow},
		{"delegation plus identity allow", request(bob, "s3:PutObject", obj), policies(s3All), bucketForAccountA, nil, Allowed, "All", ""},
		{"identity allow alone suffices", request(bob, "s3:PutObject", obj), policies(s3All), bucketForAlice, nil, Allowed, "All", ""},

		// Across accounts.
		{"cross-account: both allow", crossB(request(carol, "s3:GetObject", obj)), policies(onlyGet), bucketForAccountB, nil, Allowed, "B", reasonResourceAllows},
		{"cross-account: resource policy names the user", crossB(request(carol, "s3:GetObject", obj)), policies(onlyGet), bucketForCarol, nil, Allowed, "", ""},
		{"cross-account: no identity allow", crossB(request(carol, "s3:GetObject", obj)), nil, bucketForCarol, nil, ImplicitDeny, "", reasonCrossAccount},
		{"cross-account: no resource policy", crossB(request(carol, "s3:GetObject", obj)), policies(s3All), nil, nil, ImplicitDeny, "", reasonCrossAccount},
		{"cross-account: resource policy for another account", crossB(request(carol, "s3:GetObject", obj)), policies(s3All), bucketForAccountA, nil, ImplicitDeny, "", reasonCrossAccount},
		{"cross-account: action outside the grant", crossB(request(carol, "s3:PutObject", obj)), policies(s3All), bucketForAccountB, nil, ImplicitDeny, "", ""},

		// Root users.
		{"root needs no policy at home", request(rootA, "iam:DeleteUser", "arn:aws:iam::"+acctA+":user/bob"), nil, nil, nil, Allowed, "", reasonRoot},
		{"root still meets resource denies", request(rootA, "s3:GetObject", obj), nil, bucketDenyAll, nil, ExplicitDeny, "Lock", ""},
		{"root abroad needs a resource grant", crossB(request(rootB, "s3:GetObject", obj)), nil, nil, nil, ImplicitDeny, "", reasonCrossAccount},
		{"root abroad with a grant to its account", crossB(request(rootB, "s3:GetObject", obj)), nil, bucketForAccountB, nil, Allowed, "B", ""},

		// Callers without identity policies.
		{"anonymous and a public bucket", request(anonymous, "s3:GetObject", obj), nil, bucketPublic, nil, Allowed, "Public", ""},
		{"anonymous and AWS:*", request(anonymous, "s3:GetObject", obj), nil, bucketPublicAWS, nil, Allowed, "", ""},
		{"anonymous, no resource policy", request(anonymous, "s3:GetObject", obj), nil, nil, nil, ImplicitDeny, "", reasonNoResourceAllow},
		{"anonymous is no account's", request(anonymous, "s3:GetObject", obj), nil, bucketForAccountA, nil, ImplicitDeny, "", ""},
		{"anonymous write to a public-read bucket", request(anonymous, "s3:PutObject", obj), nil, bucketPublic, nil, ImplicitDeny, "", ""},

		// Permissions boundaries and session policies.
		{"limit narrows", request(deploy, "s3:PutObject", obj), policies(s3All), nil, [][]*Policy{{onlyGet}}, ImplicitDeny, "", reasonLimited},
		{"limit allows", request(deploy, "s3:GetObject", obj), policies(s3All), nil, [][]*Policy{{onlyGet}}, Allowed, "All", ""},
		{"limit never grants", request(deploy, "s3:GetObject", obj), nil, nil, [][]*Policy{{s3All}}, ImplicitDeny, "", reasonNoIdentityAllow},
		{"two limits intersect", request(deploy, "s3:GetObject", obj), policies(s3All), nil, [][]*Policy{{onlyGet}, {s3Read}}, Allowed, "", ""},
		{"two limits, one says no", request(deploy, "s3:GetObject", other), policies(s3All), nil, [][]*Policy{{onlyGet}, {s3Read}}, ImplicitDeny, "", reasonLimited},
		{"any policy in a limit set allows", request(deploy, "s3:DeleteObject", obj), policies(s3All), nil, [][]*Policy{{onlyGet, s3Read, allButIAM}}, Allowed, "", ""},
		{"a deny in a limit is explicit", request(deploy, "s3:GetObject", obj), policies(s3All), nil, [][]*Policy{{s3All, denyGet}}, ExplicitDeny, "X", ""},
		{"a deny after a failing limit is still reported", request(deploy, "s3:GetObject", obj), policies(s3All), nil, [][]*Policy{{denyDelete}, {denyGet}}, ExplicitDeny, "X", ""},
		{"an empty limit set is no limit", request(deploy, "s3:PutObject", obj), policies(s3All), nil, [][]*Policy{{}, nil}, Allowed, "", ""},
		{"resource grant to the role is limited", request(deploy, "s3:PutObject", obj), nil, bucketForRole, [][]*Policy{{onlyGet}}, ImplicitDeny, "", reasonLimited},
		{"resource grant to the role within limits", request(deploy, "s3:PutObject", obj), nil, bucketForRole, [][]*Policy{{s3All}}, Allowed, "", reasonResourceAllows},
		{"resource grant to the role, no limits", request(deploy, "s3:PutObject", obj), nil, bucketForRole, nil, Allowed, "", ""},
		{"resource grant to the session is not limited", request(deploy, "s3:PutObject", obj), nil, bucketForSession, [][]*Policy{{onlyGet}}, Allowed, "", ""},
		{"resource grant to the user is not limited", request(alice, "s3:PutObject", obj), nil, bucketForAlice, [][]*Policy{{onlyGet}}, Allowed, "Alice", ""},
		{"resource grant to the account is limited", request(bob, "s3:PutObject", obj), policies(s3All), bucketForAccountA, [][]*Policy{{onlyGet}}, ImplicitDeny, "", reasonLimited},
		{"limits apply across accounts", crossB(request(carol, "s3:GetObject", obj)), policies(s3All), bucketForAccountB, [][]*Policy{{s3Read}}, Allowed, "", ""},
		{"limits apply across accounts, narrowing", crossB(request(carol, "s3:GetObject", obj)), policies(s3All), bucketForAccountB, [][]*Policy{{denyDelete}}, ImplicitDeny, "", reasonCrossAccount},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Evaluate(tt.req, tt.identity, tt.resource, tt.limits...)
			if d.Outcome != tt.want {
				t.Fatalf("outcome %v, want %v (%v)", d.Outcome, tt.want, d)
			}
			if tt.sid != "" && (d.Statement == nil || d.Statement.Sid != tt.sid) {
				t.Errorf("decided by %v, want Sid %q", d, tt.sid)
			}
			if tt.reason != "" && d.Reason != tt.reason {
				t.Errorf("reason %q, want %q", d.Reason, tt.reason)
			}
			if (d.Outcome == ImplicitDeny) != (d.Statement == nil && d.Reason != reasonRoot) {
				t.Errorf("statement %v with outcome %v", d.Statement, d.Outcome)
			}
			if d.Allowed() != (tt.want == Allowed) {
				t.Errorf("Allowed() = %v", d.Allowed())
			}
		})
	}
}

// TestNotPrincipal follows AWS's advice that a NotPrincipal exception must name the
// caller's account as well as the caller: naming the user alone still denies the user.
func TestNotPrincipal(t *testing.T) {
	doc := func(names ...string) *Policy {
		return resource(t, stmt(`[{"Effect":"Allow","Principal":{"AWS":"`+acctA+`"},"Action":"s3:*","Resource":"*"},
			{"Sid":"OnlyThese","Effect":"Deny","NotPrincipal":{"AWS":["`+strings.Join(names, `","`)+`"]},"Action":"s3:*","Resource":"*"}]`))
	}
	all := identity(t, stmt(`{"Effect":"Allow","Action":"s3:*","Resource":"*"}`))
	acctRoot := "arn:aws:iam::" + acctA + ":root"
	tests := []struct {
		name   string
		listed []string
		who    Principal
		want   Outcome
	}{
		{"user and account listed", []string{alice.ARN, acctRoot}, alice, Allowed},
		{"account as an ID", []string{alice.ARN, acctA}, alice, Allowed},
		{"user alone listed", []string{alice.ARN}, alice, ExplicitDeny},
		{"another user", []string{alice.ARN, acctRoot}, bob, ExplicitDeny},
		{"account alone spares its root", []string{acctRoot}, rootA, Allowed},
		{"account alone does not spare its users", []string{acctRoot}, alice, ExplicitDeny},
		{"role and account spare its sessions", []string{deploy.RoleARN, acctRoot}, deploy, Allowed},
		{"session and account", []string{deploy.ARN, acctRoot}, deploy, Allowed},
		{"anonymous is denied", []string{alice.ARN, acctRoot}, anonymous, ExplicitDeny},
		{"everyone excepted", []string{"*"}, bob, Allowed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Evaluate(request(tt.who, "s3:GetObject", bucket+"/x"), policies(all), doc(tt.listed...))
			if d.Outcome != tt.want {
				t.Errorf("outcome %v, want %v", d, tt.want)
			}
		})
	}
}

func TestTrustPolicies(t *testing.T) {
	forEC2 := trust(t, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}}`)
	forAccountB := trust(t, stmt(`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::`+acctB+`:root"},"Action":"sts:AssumeRole","Condition":{"StringEquals":{"sts:ExternalId":"x-42"}}}`))
	forOwnAccount := trust(t, stmt(`{"Effect":"Allow","Principal":{"AWS":"`+acctA+`"},"Action":["sts:AssumeRole","sts:TagSession"]}`))
	forAlice := trust(t, stmt(`{"Effect":"Allow","Principal":{"AWS":"`+alice.ARN+`"},"Action":"sts:AssumeRole"}`))
	forGoogle := trust(t, stmt(`{"Effect":"Allow","Principal":{"Federated":"accounts.google.com"},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringEquals":{"accounts.google.com:aud":"app-1"}}}`))
	mayAssume := identity(t, stmt(`{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"arn:aws:iam::*:role/app"}`))

	role := "arn:aws:iam::" + acctA + ":role/app"
	assume := func(p Principal, ctx map[string][]string) *Request {
		r := request(p, "sts:AssumeRole", role)
		r.ResourceAccount = acctA
		for k, v := range ctx {
			r.Context[k] = v
		}
		return r
	}
	google := Principal{Type: PrincipalWebIdentity, Federated: "accounts.google.com"}
	webIdentity := func(aud string) *Request {
		r := assume(google, map[string][]string{"accounts.google.com:aud": {aud}})
		r.Action = "sts:AssumeRoleWithWebIdentity"
		return r
	}
	tests := []struct {
		name     string
		req      *Request
		identity []*Policy
		trust    *Policy
		want     bool
	}{
		{"service named", assume(ec2Service, nil), nil, forEC2, true},
		{"service names compare without case", assume(Principal{Type: PrincipalService, Service: "EC2.amazonaws.com"}, nil), nil, forEC2, true},
		{"other service", assume(Principal{Type: PrincipalService, Service: "lambda.amazonaws.com"}, nil), nil, forEC2, false},
		{"user not named", assume(alice, nil), policies(mayAssume), forEC2, false},
		{"other account with external ID and permission", assume(carol, map[string][]string{"sts:ExternalId": {"x-42"}}), policies(mayAssume), forAccountB, true},
		{"other account without permission", assume(carol, map[string][]string{"sts:ExternalId": {"x-42"}}), nil, forAccountB, false},
		{"other account, wrong external ID", assume(carol, map[string][]string{"sts:ExternalId": {"x-41"}}), policies(mayAssume), forAccountB, false},
		{"own account needs identity permission", assume(bob, nil), nil, forOwnAccount, false},
		{"own account with identity permission", assume(bob, nil), policies(mayAssume), forOwnAccount, true},
		{"named user needs nothing more", assume(alice, nil), nil, forAlice, true},
		{"role session of the account", assume(deploy, nil), policies(mayAssume), forOwnAccount, true},
		{"root of the account, not trusted", assume(rootA, nil), nil, forEC2, false},
		{"root of the account, account trusted", assume(rootA, nil), nil, forOwnAccount, true},
		{"web identity with the audience", webIdentity("app-1"), nil, forGoogle, true},
		{"web identity, other audience", webIdentity("app-2"), nil, forGoogle, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if d := Evaluate(tt.req, tt.identity, tt.trust); d.Allowed() != tt.want {
				t.Errorf("allowed = %v, want %v (%v)", d.Allowed(), tt.want, d)
			}
		})
	}
}

func TestDecisionString(t *testing.T) {
	p := identity(t, stmt(`[{"Effect":"Allow","Action":"s3:*","Resource":"*"},{"Sid":"NoDelete","Effect":"Deny","Action":"s3:Delete*","Resource":"*"}]`))
	p.Name = "arn:aws:iam::" + acctA + ":policy/s3"
	got := Evaluate(request(alice, "s3:DeleteObject", bucket), policies(p), nil).String()
	want := `explicit deny by statement 1 (Sid "NoDelete") of identity-based policy "arn:aws:iam::` + acctA + `:policy/s3": ` + reasonDenied
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	p.Name = ""
	if got := Evaluate(request(alice, "s3:GetObject", bucket), policies(p), nil).String(); got != "allow by statement 0 of an unnamed identity-based policy: "+reasonIdentityAllows {
		t.Errorf("got %s", got)
	}
	if got := (Decision{}).String(); got != "implicit deny" {
		t.Errorf("zero Decision: %s", got)
	}
}
