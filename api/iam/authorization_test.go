package iam

import (
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdkiam "github.com/aws/aws-sdk-go-v2/service/iam"
)

func TestAuthorization(t *testing.T) {
	e := newEnv(t)
	root, acct := e.account("tenant-a")
	alice := e.userClient(root, "alice")

	// No policy: denied, and AWS's message names who, what and where.
	msg := fail(t, call(alice.ListUsers(ctx, &sdkiam.ListUsersInput{})), "AccessDenied", http.StatusForbidden)
	want := "User: arn:aws:iam::" + acct.AccountID + ":user/alice is not authorized to perform: iam:ListUsers on resource: * because no identity-based policy allows the iam:ListUsers action"
	if msg.Message != want {
		t.Errorf("message\n got %s\nwant %s", msg.Message, want)
	}
	// Unauthorized callers learn nothing about existence: denied before NoSuchEntity.
	fail(t, call(alice.GetUser(ctx, &sdkiam.GetUserInput{UserName: aws.String("ghost")})), "AccessDenied", http.StatusForbidden)
	fail(t, call(alice.CreateUser(ctx, &sdkiam.CreateUserInput{UserName: aws.String("bob")})), "AccessDenied", http.StatusForbidden)

	// An attached Allow lets her in.
	arn := e.policy(root, "iam-all", allowIAM)
	must(t, call(root.AttachUserPolicy(ctx, &sdkiam.AttachUserPolicyInput{UserName: aws.String("alice"), PolicyArn: arn})))
	must(t, call(alice.ListUsers(ctx, &sdkiam.ListUsersInput{})))
	must(t, call(alice.CreateUser(ctx, &sdkiam.CreateUserInput{UserName: aws.String("bob")})))
	fail(t, call(alice.GetUser(ctx, &sdkiam.GetUserInput{UserName: aws.String("ghost")})), "NoSuchEntity", http.StatusNotFound)

	// An explicit Deny beats it, scoped by resource.
	deny := `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"iam:DeleteUser","Resource":"arn:aws:iam::*:user/bob"}]}`
	must(t, call(root.PutUserPolicy(ctx, &sdkiam.PutUserPolicyInput{UserName: aws.String("alice"), PolicyName: aws.String("protect-bob"), PolicyDocument: aws.String(deny)})))
	msg = fail(t, call(alice.DeleteUser(ctx, &sdkiam.DeleteUserInput{UserName: aws.String("bob")})), "AccessDenied", http.StatusForbidden)
	if !strings.HasSuffix(msg.Message, "with an explicit deny") || !strings.Contains(msg.Message, ":user/bob") {
		t.Errorf("message %q", msg.Message)
	}
	must(t, call(alice.CreateUser(ctx, &sdkiam.CreateUserInput{UserName: aws.String("carol")})))
	must(t, call(alice.DeleteUser(ctx, &sdkiam.DeleteUserInput{UserName: aws.String("carol")})))

	// Resource-scoped Allow: a policy on a path lets a user manage only that path.
	dave := e.userClient(root, "dave")
	scoped := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:*User","Resource":"arn:aws:iam::*:user/contractors/*"}]}`
	must(t, call(root.PutUserPolicy(ctx, &sdkiam.PutUserPolicyInput{UserName: aws.String("dave"), PolicyName: aws.String("contractors"), PolicyDocument: aws.String(scoped)})))
	must(t, call(dave.CreateUser(ctx, &sdkiam.CreateUserInput{UserName: aws.String("eve"), Path: aws.String("/contractors/")})))
	fail(t, call(dave.CreateUser(ctx, &sdkiam.CreateUserInput{UserName: aws.String("frank")})), "AccessDenied", http.StatusForbidden)
	must(t, call(dave.GetUser(ctx, &sdkiam.GetUserInput{UserName: aws.String("eve")})))
	fail(t, call(dave.GetUser(ctx, &sdkiam.GetUserInput{UserName: aws.String("bob")})), "AccessDenied", http.StatusForbidden)
}

func TestAccountIsolation(t *testing.T) {
	e := newEnv(t)
	a, acctA := e.account("tenant-a")
	b, acctB := e.account("tenant-b")
	must(t, call(a.CreateUser(ctx, &sdkiam.CreateUserInput{UserName: aws.String("alice")})))
	arnA := e.policy(a, "a-policy", allowIAM)

	if us := must(t, call(b.ListUsers(ctx, &sdkiam.ListUsersInput{}))).Users; len(us) != 0 {
		t.Fatalf("B sees %+v", us)
	}
	fail(t, call(b.GetUser(ctx, &sdkiam.GetUserInput{UserName: aws.String("alice")})), "NoSuchEntity", http.StatusNotFound)
	fail(t, call(b.DeleteUser(ctx, &sdkiam.DeleteUserInput{UserName: aws.String("alice")})), "NoSuchEntity", http.StatusNotFound)
	fail(t, call(b.CreateAccessKey(ctx, &sdkiam.CreateAccessKeyInput{UserName: aws.String("alice")})), "NoSuchEntity", http.StatusNotFound)
	// Names are per account.
	must(t, call(b.CreateUser(ctx, &sdkiam.CreateUserInput{UserName: aws.String("alice")})))
	// A's policy is not B's to read or attach; B's root is not A's root.
	fail(t, call(b.GetPolicy(ctx, &sdkiam.GetPolicyInput{PolicyArn: arnA})), "AccessDenied", http.StatusForbidden)
	fail(t, call(b.AttachUserPolicy(ctx, &sdkiam.AttachUserPolicyInput{UserName: aws.String("alice"), PolicyArn: arnA})), "NoSuchEntity", http.StatusNotFound)
	fail(t, call(b.DeletePolicy(ctx, &sdkiam.DeletePolicyInput{PolicyArn: arnA})), "AccessDenied", http.StatusForbidden)
	// A's key IDs cannot be probed from B.
	fail(t, call(b.GetAccessKeyLastUsed(ctx, &sdkiam.GetAccessKeyLastUsedInput{AccessKeyId: aws.String(acctA.AccessKeyID)})), "AccessDenied", http.StatusForbidden)
	fail(t, call(b.DeleteAccessKey(ctx, &sdkiam.DeleteAccessKeyInput{AccessKeyId: aws.String(acctA.AccessKeyID)})), "NoSuchEntity", http.StatusNotFound)

	ua := must(t, call(a.GetUser(ctx, &sdkiam.GetUserInput{UserName: aws.String("alice")}))).User
	ub := must(t, call(b.GetUser(ctx, &sdkiam.GetUserInput{UserName: aws.String("alice")}))).User
	if *ua.UserId == *ub.UserId || !strings.Contains(*ub.Arn, acctB.AccountID) {
		t.Fatalf("A %+v B %+v", ua, ub)
	}
	if us := must(t, call(a.ListUsers(ctx, &sdkiam.ListUsersInput{}))).Users; len(us) != 1 {
		t.Fatalf("A sees %+v", us)
	}
}

// TestDeleteRacesAnAddition: a DeleteGroup that read the group with no members must not
// win against an AddUserToGroup that commits in between (membership is stored on the
// user; the addition touches the group so the delete's compare-and-set fails).
func TestDeleteRacesAnAddition(t *testing.T) {
	e := newEnv(t)
	root, _ := e.account("tenant-a")
	must(t, call(root.CreateGroup(ctx, &sdkiam.CreateGroupInput{GroupName: aws.String("devs")})))
	must(t, call(root.CreateUser(ctx, &sdkiam.CreateUserInput{UserName: aws.String("alice")})))
	// The hook runs once, for the delete's write; the addition it makes applies itself
	// through the same cluster, so the flag is set before it starts.
	var fired atomic.Bool
	hook := func() {
		if fired.CompareAndSwap(false, true) {
			must(t, call(root.AddUserToGroup(ctx, &sdkiam.AddUserToGroupInput{GroupName: aws.String("devs"), UserName: aws.String("alice")})))
		}
	}
	e.cluster.beforeApply.Store(&hook)
	fail(t, call(root.DeleteGroup(ctx, &sdkiam.DeleteGroupInput{GroupName: aws.String("devs")})), "DeleteConflict", http.StatusConflict)
	e.cluster.beforeApply.Store(nil)
	if g := must(t, call(root.GetGroup(ctx, &sdkiam.GetGroupInput{GroupName: aws.String("devs")}))); len(g.Users) != 1 {
		t.Fatalf("members %+v", g.Users)
	}

	// The same for a user and a key created while it is being deleted.
	fired.Store(false)
	hook = func() {
		if fired.CompareAndSwap(false, true) {
			must(t, call(root.CreateAccessKey(ctx, &sdkiam.CreateAccessKeyInput{UserName: aws.String("bob")})))
		}
	}
	must(t, call(root.CreateUser(ctx, &sdkiam.CreateUserInput{UserName: aws.String("bob")})))
	e.cluster.beforeApply.Store(&hook)
	fail(t, call(root.DeleteUser(ctx, &sdkiam.DeleteUserInput{UserName: aws.String("bob")})), "DeleteConflict", http.StatusConflict)
	e.cluster.beforeApply.Store(nil)
}
