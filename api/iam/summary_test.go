package iam

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdkiam "github.com/aws/aws-sdk-go-v2/service/iam"
)

func TestAccountSummary(t *testing.T) {
	e := newEnv(t)
	root, _ := e.account("tenant-a")
	e.account("tenant-b") // counts are per account
	for _, n := range []string{"a", "b", "c"} {
		must(t, call(root.CreateUser(ctx, &sdkiam.CreateUserInput{UserName: aws.String(n)})))
	}
	must(t, call(root.CreateGroup(ctx, &sdkiam.CreateGroupInput{GroupName: aws.String("g")})))
	must(t, call(root.CreateRole(ctx, &sdkiam.CreateRoleInput{RoleName: aws.String("r"), AssumeRolePolicyDocument: aws.String(trustEC2)})))
	arn := e.policy(root, "p", allowIAM)
	must(t, call(root.AttachUserPolicy(ctx, &sdkiam.AttachUserPolicyInput{UserName: aws.String("a"), PolicyArn: arn})))
	must(t, call(root.CreateInstanceProfile(ctx, &sdkiam.CreateInstanceProfileInput{InstanceProfileName: aws.String("ip")})))
	m := must(t, call(root.GetAccountSummary(ctx, &sdkiam.GetAccountSummaryInput{}))).SummaryMap
	want := map[string]int32{
		"Users": 3, "Groups": 1, "Roles": 1, "Policies": 1, "InstanceProfiles": 1, "PolicyVersionsInUse": 1,
		"AccountAccessKeysPresent": 1, "AccessKeysPerUserQuota": 2, "UsersQuota": 5000, "VersionsPerPolicyQuota": 5,
	}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("%s = %d, want %d", k, m[k], v)
		}
	}
}
