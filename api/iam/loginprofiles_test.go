package iam

import (
	"net/http"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdkiam "github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/banyancloud/banyan/cluster/state"
)

func TestLoginProfileLifecycle(t *testing.T) {
	e := newEnv(t)
	root, acct := e.account("tenant-a")
	must(t, call(root.CreateUser(ctx, &sdkiam.CreateUserInput{UserName: aws.String("alice")})))
	lp := must(t, call(root.CreateLoginProfile(ctx, &sdkiam.CreateLoginProfileInput{UserName: aws.String("alice"), Password: aws.String("correct horse"), PasswordResetRequired: true}))).LoginProfile
	if *lp.UserName != "alice" || !lp.PasswordResetRequired || lp.CreateDate == nil {
		t.Fatalf("profile %+v", lp)
	}
	stored, err := e.cluster.State().IAMEntity(state.KindLoginProfile, acct.AccountID, "alice")
	if err != nil || !PasswordMatches(stored.LoginProfile.PasswordHash, "correct horse") || PasswordMatches(stored.LoginProfile.PasswordHash, "wrong horse") {
		t.Fatalf("stored hash does not verify: %v", err)
	}
	fail(t, call(root.CreateLoginProfile(ctx, &sdkiam.CreateLoginProfileInput{UserName: aws.String("alice"), Password: aws.String("another one")})), "EntityAlreadyExists", http.StatusConflict)
	fail(t, call(root.CreateLoginProfile(ctx, &sdkiam.CreateLoginProfileInput{UserName: aws.String("ghost"), Password: aws.String("another one")})), "NoSuchEntity", http.StatusNotFound)
	must(t, call(root.CreateUser(ctx, &sdkiam.CreateUserInput{UserName: aws.String("bob")})))
	fail(t, call(root.CreateLoginProfile(ctx, &sdkiam.CreateLoginProfileInput{UserName: aws.String("bob"), Password: aws.String("short")})), "PasswordPolicyViolation", http.StatusBadRequest)

	got := must(t, call(root.GetLoginProfile(ctx, &sdkiam.GetLoginProfileInput{UserName: aws.String("alice")}))).LoginProfile
	if !got.PasswordResetRequired {
		t.Fatalf("get %+v", got)
	}
	must(t, call(root.UpdateLoginProfile(ctx, &sdkiam.UpdateLoginProfileInput{UserName: aws.String("alice"), Password: aws.String("battery staple"), PasswordResetRequired: aws.Bool(false)})))
	stored, _ = e.cluster.State().IAMEntity(state.KindLoginProfile, acct.AccountID, "alice")
	if !PasswordMatches(stored.LoginProfile.PasswordHash, "battery staple") || stored.LoginProfile.ResetRequired {
		t.Fatal("update did not take")
	}
	msg := fail(t, call(root.DeleteUser(ctx, &sdkiam.DeleteUserInput{UserName: aws.String("alice")})), "DeleteConflict", http.StatusConflict)
	if msg.Message != "Cannot delete entity, must delete login profile first." {
		t.Errorf("message %q", msg.Message)
	}
	// A rename carries the profile along.
	must(t, call(root.UpdateUser(ctx, &sdkiam.UpdateUserInput{UserName: aws.String("alice"), NewUserName: aws.String("alicia")})))
	must(t, call(root.GetLoginProfile(ctx, &sdkiam.GetLoginProfileInput{UserName: aws.String("alicia")})))
	must(t, call(root.DeleteLoginProfile(ctx, &sdkiam.DeleteLoginProfileInput{UserName: aws.String("alicia")})))
	msg = fail(t, call(root.GetLoginProfile(ctx, &sdkiam.GetLoginProfileInput{UserName: aws.String("alicia")})), "NoSuchEntity", http.StatusNotFound)
	if msg.Message != "Login Profile for User alicia cannot be found." {
		t.Errorf("message %q", msg.Message)
	}
	must(t, call(root.DeleteUser(ctx, &sdkiam.DeleteUserInput{UserName: aws.String("alicia")})))
}
