package iam

import (
	"net/http"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdkiam "github.com/aws/aws-sdk-go-v2/service/iam"
)

func TestGroupLifecycle(t *testing.T) {
	e := newEnv(t)
	root, acct := e.account("tenant-a")
	g := must(t, call(root.CreateGroup(ctx, &sdkiam.CreateGroupInput{GroupName: aws.String("admins"), Path: aws.String("/ops/")}))).Group
	if *g.Arn != "arn:aws:iam::"+acct.AccountID+":group/ops/admins" || len(*g.GroupId) != 20 || (*g.GroupId)[:4] != "AGPA" {
		t.Fatalf("group %+v", g)
	}
	fail(t, call(root.CreateGroup(ctx, &sdkiam.CreateGroupInput{GroupName: aws.String("Admins")})), "EntityAlreadyExists", http.StatusConflict)
	must(t, call(root.CreateGroup(ctx, &sdkiam.CreateGroupInput{GroupName: aws.String("devs")})))

	// Membership grants the group's policies.
	alice := e.userClient(root, "alice")
	fail(t, call(alice.ListUsers(ctx, &sdkiam.ListUsersInput{})), "AccessDenied", http.StatusForbidden)
	must(t, call(root.AddUserToGroup(ctx, &sdkiam.AddUserToGroupInput{GroupName: aws.String("admins"), UserName: aws.String("alice")})))
	must(t, call(root.AddUserToGroup(ctx, &sdkiam.AddUserToGroupInput{GroupName: aws.String("admins"), UserName: aws.String("alice")}))) // again: no error
	must(t, call(root.PutGroupPolicy(ctx, &sdkiam.PutGroupPolicyInput{GroupName: aws.String("admins"), PolicyName: aws.String("all"), PolicyDocument: aws.String(allowIAM)})))
	must(t, call(alice.ListUsers(ctx, &sdkiam.ListUsersInput{})))

	fail(t, call(root.AddUserToGroup(ctx, &sdkiam.AddUserToGroupInput{GroupName: aws.String("nope"), UserName: aws.String("alice")})), "NoSuchEntity", http.StatusNotFound)
	fail(t, call(root.AddUserToGroup(ctx, &sdkiam.AddUserToGroupInput{GroupName: aws.String("admins"), UserName: aws.String("nobody")})), "NoSuchEntity", http.StatusNotFound)

	got := must(t, call(root.GetGroup(ctx, &sdkiam.GetGroupInput{GroupName: aws.String("ADMINS")})))
	if *got.Group.GroupName != "admins" || len(got.Users) != 1 || *got.Users[0].UserName != "alice" {
		t.Fatalf("get group %+v %+v", got.Group, got.Users)
	}
	forUser := must(t, call(root.ListGroupsForUser(ctx, &sdkiam.ListGroupsForUserInput{UserName: aws.String("alice")}))).Groups
	if len(forUser) != 1 || *forUser[0].GroupName != "admins" {
		t.Fatalf("groups for user %+v", forUser)
	}
	if gs := must(t, call(root.ListGroups(ctx, &sdkiam.ListGroupsInput{}))).Groups; len(gs) != 2 {
		t.Fatalf("groups %+v", gs)
	}
	if gs := must(t, call(root.ListGroups(ctx, &sdkiam.ListGroupsInput{PathPrefix: aws.String("/ops/")}))).Groups; len(gs) != 1 {
		t.Fatalf("groups under /ops/ %+v", gs)
	}

	msg := fail(t, call(root.DeleteGroup(ctx, &sdkiam.DeleteGroupInput{GroupName: aws.String("admins")})), "DeleteConflict", http.StatusConflict)
	if msg.Message != "Cannot delete entity, must remove users from group first." {
		t.Errorf("message %q", msg.Message)
	}
	fail(t, call(root.DeleteUser(ctx, &sdkiam.DeleteUserInput{UserName: aws.String("alice")})), "DeleteConflict", http.StatusConflict)

	// A rename follows into the members' lists, and the permissions with it.
	must(t, call(root.UpdateGroup(ctx, &sdkiam.UpdateGroupInput{GroupName: aws.String("admins"), NewGroupName: aws.String("operators")})))
	forUser = must(t, call(root.ListGroupsForUser(ctx, &sdkiam.ListGroupsForUserInput{UserName: aws.String("alice")}))).Groups
	if len(forUser) != 1 || *forUser[0].GroupName != "operators" || *forUser[0].Arn != "arn:aws:iam::"+acct.AccountID+":group/ops/operators" {
		t.Fatalf("after rename %+v", forUser)
	}
	must(t, call(alice.ListUsers(ctx, &sdkiam.ListUsersInput{})))
	fail(t, call(root.UpdateGroup(ctx, &sdkiam.UpdateGroupInput{GroupName: aws.String("operators"), NewGroupName: aws.String("DEVS")})), "EntityAlreadyExists", http.StatusConflict)

	must(t, call(root.RemoveUserFromGroup(ctx, &sdkiam.RemoveUserFromGroupInput{GroupName: aws.String("operators"), UserName: aws.String("alice")})))
	fail(t, call(root.RemoveUserFromGroup(ctx, &sdkiam.RemoveUserFromGroupInput{GroupName: aws.String("operators"), UserName: aws.String("alice")})), "NoSuchEntity", http.StatusNotFound)
	fail(t, call(alice.ListUsers(ctx, &sdkiam.ListUsersInput{})), "AccessDenied", http.StatusForbidden)

	msg = fail(t, call(root.DeleteGroup(ctx, &sdkiam.DeleteGroupInput{GroupName: aws.String("operators")})), "DeleteConflict", http.StatusConflict)
	if msg.Message != "Cannot delete entity, must delete policies first." {
		t.Errorf("message %q", msg.Message)
	}
	must(t, call(root.DeleteGroupPolicy(ctx, &sdkiam.DeleteGroupPolicyInput{GroupName: aws.String("operators"), PolicyName: aws.String("all")})))
	arn := e.policy(root, "p", allowIAM)
	must(t, call(root.AttachGroupPolicy(ctx, &sdkiam.AttachGroupPolicyInput{GroupName: aws.String("operators"), PolicyArn: arn})))
	msg = fail(t, call(root.DeleteGroup(ctx, &sdkiam.DeleteGroupInput{GroupName: aws.String("operators")})), "DeleteConflict", http.StatusConflict)
	if msg.Message != "Cannot delete entity, must detach all policies first." {
		t.Errorf("message %q", msg.Message)
	}
	if ap := must(t, call(root.ListAttachedGroupPolicies(ctx, &sdkiam.ListAttachedGroupPoliciesInput{GroupName: aws.String("operators")}))).AttachedPolicies; len(ap) != 1 || *ap[0].PolicyArn != *arn {
		t.Fatalf("attached %+v", ap)
	}
	must(t, call(root.DetachGroupPolicy(ctx, &sdkiam.DetachGroupPolicyInput{GroupName: aws.String("operators"), PolicyArn: arn})))
	must(t, call(root.DeleteGroup(ctx, &sdkiam.DeleteGroupInput{GroupName: aws.String("operators")})))
	fail(t, call(root.GetGroup(ctx, &sdkiam.GetGroupInput{GroupName: aws.String("operators")})), "NoSuchEntity", http.StatusNotFound)
}

func TestGroupsPerUserQuota(t *testing.T) {
	e := newEnv(t)
	root, _ := e.account("tenant-a")
	must(t, call(root.CreateUser(ctx, &sdkiam.CreateUserInput{UserName: aws.String("alice")})))
	for i := range maxGroupsPerUser + 1 {
		name := aws.String("g" + string(rune('a'+i)))
		must(t, call(root.CreateGroup(ctx, &sdkiam.CreateGroupInput{GroupName: name})))
		r := call(root.AddUserToGroup(ctx, &sdkiam.AddUserToGroupInput{GroupName: name, UserName: aws.String("alice")}))
		if i < maxGroupsPerUser {
			must(t, r)
		} else {
			fail(t, r, "LimitExceeded", http.StatusConflict)
		}
	}
}
