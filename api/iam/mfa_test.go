package iam

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	sdkiam "github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/banyancloud/banyan/api/identity"
	"github.com/banyancloud/banyan/cluster/state"
)

// sessionClient seals s as STS does and returns an IAM client signed with it.
func (e *testEnv) sessionClient(s *identity.Session) *sdkiam.Client {
	e.t.Helper()
	s.AccessKeyID, s.Secret = "ASIA"+NewID("")[:16], NewSecretKey()
	s.Issued, s.Expires = time.Now(), time.Now().Add(time.Hour)
	token, err := (&identity.Directory{Store: e.cluster.State(), Sealer: e.sealer}).SealSession(s)
	if err != nil {
		e.t.Fatal(err)
	}
	return sdkiam.NewFromConfig(aws.Config{
		Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider(s.AccessKeyID, s.Secret, token),
		BaseEndpoint: aws.String(e.url), RetryMaxAttempts: 1,
	})
}

// GetSessionToken credentials without MFA may call no IAM action, as on AWS, whatever
// the user's policies allow; with the long-term key the same user may.
func TestGetSessionTokenWithoutMFACallsNoIAM(t *testing.T) {
	e := newEnv(t)
	root, acct := e.account("tenant-a")
	user := e.userClient(root, "alice")
	must(t, call(root.PutUserPolicy(ctx, &sdkiam.PutUserPolicyInput{UserName: aws.String("alice"), PolicyName: aws.String("iam"), PolicyDocument: aws.String(allowIAM)})))
	must(t, call(user.ListUsers(ctx, &sdkiam.ListUsersInput{})))

	for name, s := range map[string]*identity.Session{
		"user": {AccountID: acct.AccountID, UserName: "alice"},
		"root": {AccountID: acct.AccountID, IsRoot: true},
	} {
		c := e.sessionClient(s)
		msg := fail(t, call(c.ListUsers(ctx, &sdkiam.ListUsersInput{})), "AccessDenied", http.StatusForbidden)
		if !strings.Contains(msg.Message, "unless MFA") || !strings.Contains(msg.Message, "ListUsers") {
			t.Errorf("%s: message %q", name, msg.Message)
		}
		fail(t, call(c.CreateUser(ctx, &sdkiam.CreateUserInput{UserName: aws.String("by-" + name)})), "AccessDenied", http.StatusForbidden)
		fail(t, call(c.GetUser(ctx, &sdkiam.GetUserInput{})), "AccessDenied", http.StatusForbidden)
	}
	if _, err := e.cluster.State().IAMEntity(state.KindUser, acct.AccountID, "by-user"); err == nil {
		t.Fatal("a refused CreateUser made the user")
	}
	// A session that passed an MFA check (none can yet) is the user.
	mfa := e.sessionClient(&identity.Session{AccountID: acct.AccountID, UserName: "alice", MFA: true})
	must(t, call(mfa.ListUsers(ctx, &sdkiam.ListUsersInput{})))
}

// A principal ARN with no account is refused as AWS refuses it, in CreateRole and in
// UpdateAssumeRolePolicy alike.
func TestTrustPolicyPrincipalWithoutAccount(t *testing.T) {
	e := newEnv(t)
	root, acct := e.account("tenant-a")
	trust := func(principal string) *string {
		return aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"` + principal + `"},"Action":"sts:AssumeRole"}]}`)
	}
	for _, bad := range []string{"arn:aws:iam:::user/u1", "arn:aws:iam:::role/r", "arn:aws:sts:::assumed-role/r/s", "arn:aws:iam::12345:user/u1"} {
		msg := fail(t, call(root.CreateRole(ctx, &sdkiam.CreateRoleInput{RoleName: aws.String("r"), AssumeRolePolicyDocument: trust(bad)})), "MalformedPolicyDocument", http.StatusBadRequest)
		if !strings.Contains(msg.Message, "Invalid principal in policy") {
			t.Errorf("%s: message %q", bad, msg.Message)
		}
	}
	good := "arn:aws:iam::" + acct.AccountID + ":user/u1"
	must(t, call(root.CreateRole(ctx, &sdkiam.CreateRoleInput{RoleName: aws.String("r"), AssumeRolePolicyDocument: trust(good)})))
	fail(t, call(root.UpdateAssumeRolePolicy(ctx, &sdkiam.UpdateAssumeRolePolicyInput{RoleName: aws.String("r"), PolicyDocument: trust("arn:aws:iam:::user/u1")})), "MalformedPolicyDocument", http.StatusBadRequest)
	must(t, call(root.UpdateAssumeRolePolicy(ctx, &sdkiam.UpdateAssumeRolePolicyInput{RoleName: aws.String("r"), PolicyDocument: trust("arn:aws:iam::" + acct.AccountID + ":role/other")})))
}
