package iam

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdkiam "github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
)

func TestUserLifecycle(t *testing.T) {
	e := newEnv(t)
	root, acct := e.account("tenant-a")

	out := must(t, call(root.CreateUser(ctx, &sdkiam.CreateUserInput{
		UserName: aws.String("alice"), Path: aws.String("/eng/"),
		Tags: []types.Tag{{Key: aws.String("team"), Value: aws.String("storage")}},
	})))
	u := out.User
	if *u.Arn != "arn:aws:iam::"+acct.AccountID+":user/eng/alice" || *u.Path != "/eng/" || !strings.HasPrefix(*u.UserId, "AIDA") || len(*u.UserId) != 20 {
		t.Fatalf("created %+v", u)
	}
	if len(u.Tags) != 1 || *u.Tags[0].Key != "team" {
		t.Fatalf("tags %+v", u.Tags)
	}
	if u.CreateDate == nil || u.CreateDate.IsZero() {
		t.Fatal("no CreateDate")
	}

	// Names are unique regardless of case, and found by any spelling.
	err := fail(t, call(root.CreateUser(ctx, &sdkiam.CreateUserInput{UserName: aws.String("ALICE")})), "EntityAlreadyExists", http.StatusConflict)
	if err.Message != "User with name ALICE already exists." {
		t.Errorf("message %q", err.Message)
	}
	got := must(t, call(root.GetUser(ctx, &sdkiam.GetUserInput{UserName: aws.String("Alice")})))
	if *got.User.UserName != "alice" || *got.User.UserId != *u.UserId || len(got.User.Tags) != 1 {
		t.Fatalf("get %+v", got.User)
	}
	must(t, call(root.CreateUser(ctx, &sdkiam.CreateUserInput{UserName: aws.String("bob")})))

	list := must(t, call(root.ListUsers(ctx, &sdkiam.ListUsersInput{})))
	if len(list.Users) != 2 || list.IsTruncated {
		t.Fatalf("list %+v", list.Users)
	}
	list = must(t, call(root.ListUsers(ctx, &sdkiam.ListUsersInput{PathPrefix: aws.String("/eng")})))
	if len(list.Users) != 1 || *list.Users[0].UserName != "alice" {
		t.Fatalf("prefix list %+v", list.Users)
	}

	// Rename and move.
	must(t, call(root.UpdateUser(ctx, &sdkiam.UpdateUserInput{UserName: aws.String("alice"), NewUserName: aws.String("carol"), NewPath: aws.String("/ops/")})))
	fail(t, call(root.GetUser(ctx, &sdkiam.GetUserInput{UserName: aws.String("alice")})), "NoSuchEntity", http.StatusNotFound)
	got = must(t, call(root.GetUser(ctx, &sdkiam.GetUserInput{UserName: aws.String("carol")})))
	if *got.User.Arn != "arn:aws:iam::"+acct.AccountID+":user/ops/carol" || *got.User.UserId != *u.UserId {
		t.Fatalf("renamed %+v", got.User)
	}
	fail(t, call(root.UpdateUser(ctx, &sdkiam.UpdateUserInput{UserName: aws.String("carol"), NewUserName: aws.String("BOB")})), "EntityAlreadyExists", http.StatusConflict)
	// A change of case only is a rename too.
	must(t, call(root.UpdateUser(ctx, &sdkiam.UpdateUserInput{UserName: aws.String("carol"), NewUserName: aws.String("Carol")})))
	if got := must(t, call(root.GetUser(ctx, &sdkiam.GetUserInput{UserName: aws.String("carol")}))); *got.User.UserName != "Carol" {
		t.Fatalf("case rename: %+v", got.User)
	}

	must(t, call(root.DeleteUser(ctx, &sdkiam.DeleteUserInput{UserName: aws.String("Carol")})))
	must(t, call(root.DeleteUser(ctx, &sdkiam.DeleteUserInput{UserName: aws.String("bob")})))
	msg := fail(t, call(root.DeleteUser(ctx, &sdkiam.DeleteUserInput{UserName: aws.String("bob")})), "NoSuchEntity", http.StatusNotFound)
	if msg.Message != "The user with name bob cannot be found." {
		t.Errorf("message %q", msg.Message)
	}
	if list := must(t, call(root.ListUsers(ctx, &sdkiam.ListUsersInput{}))); len(list.Users) != 0 {
		t.Fatalf("left %+v", list.Users)
	}
}

func TestUserValidation(t *testing.T) {
	e := newEnv(t)
	root, _ := e.account("tenant-a")
	msg := fail(t, call(root.CreateUser(ctx, &sdkiam.CreateUserInput{UserName: aws.String("bad name!")})), "ValidationError", http.StatusBadRequest)
	want := `1 validation error detected: Value 'bad name!' at 'userName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\w+=,.@-]+`
	if msg.Message != want {
		t.Errorf("message\n got %s\nwant %s", msg.Message, want)
	}
	msg = fail(t, call(root.CreateUser(ctx, &sdkiam.CreateUserInput{UserName: aws.String(strings.Repeat("a", 65)), Path: aws.String("nopath")})), "ValidationError", http.StatusBadRequest)
	if !strings.HasPrefix(msg.Message, "2 validation errors detected: ") || !strings.Contains(msg.Message, "Member must have length less than or equal to 64") || !strings.Contains(msg.Message, "at 'path'") {
		t.Errorf("message %s", msg.Message)
	}
	fail(t, call(root.ListUsers(ctx, &sdkiam.ListUsersInput{MaxItems: aws.Int32(0)})), "ValidationError", http.StatusBadRequest)
	fail(t, call(root.ListUsers(ctx, &sdkiam.ListUsersInput{Marker: aws.String("!!not-a-marker!!")})), "InvalidInput", http.StatusBadRequest)
}

func TestGetUserOfCaller(t *testing.T) {
	e := newEnv(t)
	root, acct := e.account("tenant-a")
	me := must(t, call(root.GetUser(ctx, &sdkiam.GetUserInput{})))
	if *me.User.Arn != "arn:aws:iam::"+acct.AccountID+":root" || *me.User.UserId != acct.AccountID {
		t.Fatalf("root: %+v", me.User)
	}
	alice := e.userClient(root, "alice")
	must(t, call(root.PutUserPolicy(ctx, &sdkiam.PutUserPolicyInput{UserName: aws.String("alice"), PolicyName: aws.String("self"),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:GetUser","Resource":"arn:aws:iam::*:user/${aws:username}"}]}`)})))
	me = must(t, call(alice.GetUser(ctx, &sdkiam.GetUserInput{})))
	if *me.User.UserName != "alice" {
		t.Fatalf("self: %+v", me.User)
	}
	// The policy variable limits alice to herself.
	fail(t, call(alice.GetUser(ctx, &sdkiam.GetUserInput{UserName: aws.String("bob")})), "AccessDenied", http.StatusForbidden)
}

func TestPagination(t *testing.T) {
	e := newEnv(t)
	root, _ := e.account("tenant-a")
	for i := range 7 {
		must(t, call(root.CreateUser(ctx, &sdkiam.CreateUserInput{UserName: aws.String(fmt.Sprintf("user%d", i))})))
	}
	var names []string
	var marker *string
	pages := 0
	for {
		out := must(t, call(root.ListUsers(ctx, &sdkiam.ListUsersInput{MaxItems: aws.Int32(3), Marker: marker})))
		pages++
		for _, u := range out.Users {
			names = append(names, *u.UserName)
		}
		if !out.IsTruncated {
			if out.Marker != nil {
				t.Fatal("marker on the last page")
			}
			break
		}
		if len(out.Users) != 3 || out.Marker == nil {
			t.Fatalf("truncated page %+v", out)
		}
		marker = out.Marker
	}
	if pages != 3 || strings.Join(names, ",") != "user0,user1,user2,user3,user4,user5,user6" {
		t.Fatalf("%d pages: %v", pages, names)
	}
	// The SDK's paginator agrees.
	p := sdkiam.NewListUsersPaginator(root, &sdkiam.ListUsersInput{MaxItems: aws.Int32(2)})
	n := 0
	for p.HasMorePages() {
		out := must(t, call(p.NextPage(ctx)))
		n += len(out.Users)
	}
	if n != 7 {
		t.Fatalf("paginator saw %d users", n)
	}
}
