package iam

import (
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	sdkiam "github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/banyancloud/banyan/api/identity"
)

// TestRoleSessionCaller: a role session (as STS issues them) is authorized by the role's
// policies, and must name a user where a user's own credentials would default to itself.
func TestRoleSessionCaller(t *testing.T) {
	e := newEnv(t)
	root, acct := e.account("tenant-a")
	role := must(t, call(root.CreateRole(ctx, &sdkiam.CreateRoleInput{RoleName: aws.String("ops"), AssumeRolePolicyDocument: aws.String(trustEC2)}))).Role
	must(t, call(root.PutRolePolicy(ctx, &sdkiam.PutRolePolicyInput{RoleName: aws.String("ops"), PolicyName: aws.String("iam"), PolicyDocument: aws.String(allowIAM)})))
	dir := &identity.Directory{Store: e.cluster.State(), Sealer: e.sealer}
	s := &identity.Session{
		AccessKeyID: "ASIA" + NewID("")[:16], Secret: NewSecretKey(), AccountID: acct.AccountID,
		Issued: time.Now(), Expires: time.Now().Add(time.Hour),
		RoleARN: *role.Arn, RoleID: *role.RoleId, RoleName: "ops", SessionName: "s1",
	}
	token, err := dir.SealSession(s)
	if err != nil {
		t.Fatal(err)
	}
	session := sdkiam.NewFromConfig(aws.Config{
		Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider(s.AccessKeyID, s.Secret, token),
		BaseEndpoint: aws.String(e.url), RetryMaxAttempts: 1,
	})
	must(t, call(session.ListUsers(ctx, &sdkiam.ListUsersInput{})))
	msg := fail(t, call(session.GetUser(ctx, &sdkiam.GetUserInput{})), "ValidationError", http.StatusBadRequest)
	if msg.Message != "Must specify userName when calling with non-User credentials" {
		t.Errorf("message %q", msg.Message)
	}
	fail(t, call(session.CreateAccessKey(ctx, &sdkiam.CreateAccessKeyInput{})), "ValidationError", http.StatusBadRequest)
	must(t, call(session.CreateUser(ctx, &sdkiam.CreateUserInput{UserName: aws.String("made-by-role")})))
}
