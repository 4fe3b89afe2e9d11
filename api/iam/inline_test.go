package iam

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdkiam "github.com/aws/aws-sdk-go-v2/service/iam"
)

func TestInlinePolicies(t *testing.T) {
	e := newEnv(t)
	root, _ := e.account("tenant-a")
	must(t, call(root.CreateUser(ctx, &sdkiam.CreateUserInput{UserName: aws.String("alice")})))
	must(t, call(root.CreateGroup(ctx, &sdkiam.CreateGroupInput{GroupName: aws.String("devs")})))
	must(t, call(root.CreateRole(ctx, &sdkiam.CreateRoleInput{RoleName: aws.String("web"), AssumeRolePolicyDocument: aws.String(trustEC2)})))
	doc := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:Get*","iam:List*"],"Resource":"*","Condition":{"StringEquals":{"aws:username":"a b+c"}}}]}`

	// Users.
	must(t, call(root.PutUserPolicy(ctx, &sdkiam.PutUserPolicyInput{UserName: aws.String("alice"), PolicyName: aws.String("read"), PolicyDocument: aws.String(doc)})))
	must(t, call(root.PutUserPolicy(ctx, &sdkiam.PutUserPolicyInput{UserName: aws.String("alice"), PolicyName: aws.String("all"), PolicyDocument: aws.String(allowIAM)})))
	got := must(t, call(root.GetUserPolicy(ctx, &sdkiam.GetUserPolicyInput{UserName: aws.String("ALICE"), PolicyName: aws.String("read")})))
	if *got.UserName != "alice" || *got.PolicyName != "read" {
		t.Fatalf("get %+v", got)
	}
	// URL-encoded as AWS does: spaces as %20, so a '+' survives an unquote.
	if strings.ContainsAny(*got.PolicyDocument, " {\"+") {
		t.Fatalf("document not encoded: %s", *got.PolicyDocument)
	}
	if dec, err := url.PathUnescape(*got.PolicyDocument); err != nil || dec != doc {
		t.Fatalf("document %q", dec)
	}
	names := must(t, call(root.ListUserPolicies(ctx, &sdkiam.ListUserPoliciesInput{UserName: aws.String("alice")}))).PolicyNames
	if strings.Join(names, ",") != "all,read" {
		t.Fatalf("names %v", names)
	}
	page := must(t, call(root.ListUserPolicies(ctx, &sdkiam.ListUserPoliciesInput{UserName: aws.String("alice"), MaxItems: aws.Int32(1)})))
	if len(page.PolicyNames) != 1 || !page.IsTruncated {
		t.Fatalf("page %+v", page)
	}
	msg := fail(t, call(root.DeleteUser(ctx, &sdkiam.DeleteUserInput{UserName: aws.String("alice")})), "DeleteConflict", http.StatusConflict)
	if msg.Message != "Cannot delete entity, must delete policies first." {
		t.Errorf("message %q", msg.Message)
	}
	msg = fail(t, call(root.GetUserPolicy(ctx, &sdkiam.GetUserPolicyInput{UserName: aws.String("alice"), PolicyName: aws.String("nope")})), "NoSuchEntity", http.StatusNotFound)
	if msg.Message != "The user policy with name nope cannot be found." {
		t.Errorf("message %q", msg.Message)
	}
	fail(t, call(root.PutUserPolicy(ctx, &sdkiam.PutUserPolicyInput{UserName: aws.String("alice"), PolicyName: aws.String("bad"), PolicyDocument: aws.String(`{"Statement":[]}`)})), "MalformedPolicyDocument", http.StatusBadRequest)
	fail(t, call(root.PutUserPolicy(ctx, &sdkiam.PutUserPolicyInput{UserName: aws.String("ghost"), PolicyName: aws.String("p"), PolicyDocument: aws.String(allowIAM)})), "NoSuchEntity", http.StatusNotFound)
	// The total size of a user's inline policies is limited (2048 characters).
	big := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:GetUser","Resource":"arn:aws:iam::*:user/` + strings.Repeat("x", 1900) + `"}]}`
	msg = fail(t, call(root.PutUserPolicy(ctx, &sdkiam.PutUserPolicyInput{UserName: aws.String("alice"), PolicyName: aws.String("big"), PolicyDocument: aws.String(big)})), "LimitExceeded", http.StatusConflict)
	if msg.Message != "Maximum policy size of 2048 bytes exceeded for user alice" {
		t.Errorf("message %q", msg.Message)
	}
	// ...but a role's may be larger.
	must(t, call(root.PutRolePolicy(ctx, &sdkiam.PutRolePolicyInput{RoleName: aws.String("web"), PolicyName: aws.String("big"), PolicyDocument: aws.String(big)})))
	for _, n := range []string{"read", "all"} {
		must(t, call(root.DeleteUserPolicy(ctx, &sdkiam.DeleteUserPolicyInput{UserName: aws.String("alice"), PolicyName: aws.String(n)})))
	}
	fail(t, call(root.DeleteUserPolicy(ctx, &sdkiam.DeleteUserPolicyInput{UserName: aws.String("alice"), PolicyName: aws.String("all")})), "NoSuchEntity", http.StatusNotFound)
	if names := must(t, call(root.ListUserPolicies(ctx, &sdkiam.ListUserPoliciesInput{UserName: aws.String("alice")}))).PolicyNames; len(names) != 0 {
		t.Fatalf("left %v", names)
	}

	// Groups and roles.
	must(t, call(root.PutGroupPolicy(ctx, &sdkiam.PutGroupPolicyInput{GroupName: aws.String("devs"), PolicyName: aws.String("read"), PolicyDocument: aws.String(doc)})))
	if g := must(t, call(root.GetGroupPolicy(ctx, &sdkiam.GetGroupPolicyInput{GroupName: aws.String("devs"), PolicyName: aws.String("read")}))); *g.GroupName != "devs" {
		t.Fatalf("group policy %+v", g)
	}
	if names := must(t, call(root.ListGroupPolicies(ctx, &sdkiam.ListGroupPoliciesInput{GroupName: aws.String("devs")}))).PolicyNames; len(names) != 1 {
		t.Fatalf("group policies %v", names)
	}
	msg = fail(t, call(root.GetRolePolicy(ctx, &sdkiam.GetRolePolicyInput{RoleName: aws.String("web"), PolicyName: aws.String("read")})), "NoSuchEntity", http.StatusNotFound)
	if msg.Message != "The role policy with name read cannot be found." {
		t.Errorf("message %q", msg.Message)
	}
	if r := must(t, call(root.GetRolePolicy(ctx, &sdkiam.GetRolePolicyInput{RoleName: aws.String("web"), PolicyName: aws.String("big")}))); *r.RoleName != "web" {
		t.Fatalf("role policy %+v", r)
	}
	if names := must(t, call(root.ListRolePolicies(ctx, &sdkiam.ListRolePoliciesInput{RoleName: aws.String("web")}))).PolicyNames; len(names) != 1 {
		t.Fatalf("role policies %v", names)
	}
	must(t, call(root.DeleteGroupPolicy(ctx, &sdkiam.DeleteGroupPolicyInput{GroupName: aws.String("devs"), PolicyName: aws.String("read")})))
	must(t, call(root.DeleteRolePolicy(ctx, &sdkiam.DeleteRolePolicyInput{RoleName: aws.String("web"), PolicyName: aws.String("big")})))
}
