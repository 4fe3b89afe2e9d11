package iam

import (
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdkiam "github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/smithy-go"

	"github.com/banyancloud/banyan/api/identity"
	"github.com/banyancloud/banyan/cluster/state"
)

func TestAccessKeyLifecycle(t *testing.T) {
	e := newEnv(t)
	root, acct := e.account("tenant-a")
	must(t, call(root.CreateUser(ctx, &sdkiam.CreateUserInput{UserName: aws.String("alice")})))
	must(t, call(root.AttachUserPolicy(ctx, &sdkiam.AttachUserPolicyInput{UserName: aws.String("alice"), PolicyArn: e.policy(root, "iam-all", allowIAM)})))

	k1 := must(t, call(root.CreateAccessKey(ctx, &sdkiam.CreateAccessKeyInput{UserName: aws.String("ALICE")}))).AccessKey
	if !strings.HasPrefix(*k1.AccessKeyId, "AKIA") || len(*k1.SecretAccessKey) != 40 || k1.Status != "Active" || *k1.UserName != "alice" {
		t.Fatalf("key %+v", k1)
	}
	// The secret is sealed at rest.
	stored, err := e.cluster.State().IAMEntityByAlt("accesskey/" + *k1.AccessKeyId)
	if err != nil || strings.Contains(string(stored.AccessKey.SecretSealed), *k1.SecretAccessKey) {
		t.Fatalf("stored key: %v", err)
	}
	if secret, err := e.sealer.Open(identity.PurposeSecretKey, stored.AccessKey.SecretSealed); err != nil || string(secret) != *k1.SecretAccessKey {
		t.Fatal("sealed secret does not open to the one returned")
	}

	// The user signs with the key and, with no UserName, works on its own keys.
	alice := e.client(*k1.AccessKeyId, *k1.SecretAccessKey)
	k2 := must(t, call(alice.CreateAccessKey(ctx, &sdkiam.CreateAccessKeyInput{}))).AccessKey
	if *k2.UserName != "alice" {
		t.Fatalf("own key %+v", k2)
	}
	msg := fail(t, call(alice.CreateAccessKey(ctx, &sdkiam.CreateAccessKeyInput{})), "LimitExceeded", http.StatusConflict)
	if msg.Message != "Cannot exceed quota for AccessKeysPerUser: 2" {
		t.Errorf("message %q", msg.Message)
	}
	keys := must(t, call(alice.ListAccessKeys(ctx, &sdkiam.ListAccessKeysInput{}))).AccessKeyMetadata
	if len(keys) != 2 {
		t.Fatalf("keys %+v", keys)
	}
	for _, k := range keys {
		if *k.UserName != "alice" || k.Status != "Active" || k.CreateDate == nil {
			t.Fatalf("metadata %+v", k)
		}
	}

	// An inactive key no longer authenticates.
	must(t, call(root.UpdateAccessKey(ctx, &sdkiam.UpdateAccessKeyInput{UserName: aws.String("alice"), AccessKeyId: k2.AccessKeyId, Status: types.StatusTypeInactive})))
	fail(t, call(e.client(*k2.AccessKeyId, *k2.SecretAccessKey).ListUsers(ctx, &sdkiam.ListUsersInput{})), "InvalidClientTokenId", http.StatusForbidden)
	keys = must(t, call(root.ListAccessKeys(ctx, &sdkiam.ListAccessKeysInput{UserName: aws.String("alice")}))).AccessKeyMetadata
	if n := len(keys); n != 2 || keys[0].Status == keys[1].Status {
		t.Fatalf("after deactivation %+v", keys)
	}

	last := must(t, call(alice.GetAccessKeyLastUsed(ctx, &sdkiam.GetAccessKeyLastUsedInput{AccessKeyId: k2.AccessKeyId})))
	if *last.UserName != "alice" || *last.AccessKeyLastUsed.ServiceName != "N/A" || *last.AccessKeyLastUsed.Region != "N/A" {
		t.Fatalf("last used %+v %+v", last, last.AccessKeyLastUsed)
	}

	// A user with keys cannot be deleted.
	msg = fail(t, call(root.DeleteUser(ctx, &sdkiam.DeleteUserInput{UserName: aws.String("alice")})), "DeleteConflict", http.StatusConflict)
	if msg.Message != "Cannot delete entity, must delete access keys first." {
		t.Errorf("message %q", msg.Message)
	}
	// Renaming the user keeps its keys working, now as the new name.
	must(t, call(root.UpdateUser(ctx, &sdkiam.UpdateUserInput{UserName: aws.String("alice"), NewUserName: aws.String("alicia")})))
	me := must(t, call(alice.GetUser(ctx, &sdkiam.GetUserInput{})))
	if *me.User.UserName != "alicia" {
		t.Fatalf("after rename: %+v", me.User)
	}

	fail(t, call(root.DeleteAccessKey(ctx, &sdkiam.DeleteAccessKeyInput{UserName: aws.String("alicia"), AccessKeyId: aws.String("AKIAAAAAAAAAAAAAAAAA")})), "NoSuchEntity", http.StatusNotFound)
	// A key is only found under its own user.
	must(t, call(root.CreateUser(ctx, &sdkiam.CreateUserInput{UserName: aws.String("bob")})))
	fail(t, call(root.DeleteAccessKey(ctx, &sdkiam.DeleteAccessKeyInput{UserName: aws.String("bob"), AccessKeyId: k2.AccessKeyId})), "NoSuchEntity", http.StatusNotFound)
	for _, k := range []*types.AccessKey{k1, k2} {
		must(t, call(root.DeleteAccessKey(ctx, &sdkiam.DeleteAccessKeyInput{UserName: aws.String("alicia"), AccessKeyId: k.AccessKeyId})))
	}
	fail(t, call(alice.ListUsers(ctx, &sdkiam.ListUsersInput{})), "InvalidClientTokenId", http.StatusForbidden)
	must(t, call(root.DetachUserPolicy(ctx, &sdkiam.DetachUserPolicyInput{UserName: aws.String("alicia"), PolicyArn: aws.String("arn:aws:iam::" + acct.AccountID + ":policy/iam-all")})))
	must(t, call(root.DeleteUser(ctx, &sdkiam.DeleteUserInput{UserName: aws.String("alicia")})))
}

func TestRootAccessKeys(t *testing.T) {
	e := newEnv(t)
	root, acct := e.account("tenant-a")
	k := must(t, call(root.CreateAccessKey(ctx, &sdkiam.CreateAccessKeyInput{}))).AccessKey
	fail(t, call(root.CreateAccessKey(ctx, &sdkiam.CreateAccessKeyInput{})), "LimitExceeded", http.StatusConflict)
	keys := must(t, call(root.ListAccessKeys(ctx, &sdkiam.ListAccessKeysInput{}))).AccessKeyMetadata
	if len(keys) != 2 {
		t.Fatalf("root keys %+v", keys)
	}
	second := e.client(*k.AccessKeyId, *k.SecretAccessKey)
	must(t, call(second.DeleteAccessKey(ctx, &sdkiam.DeleteAccessKeyInput{AccessKeyId: aws.String(acct.AccessKeyID)})))
	fail(t, call(root.ListUsers(ctx, &sdkiam.ListUsersInput{})), "InvalidClientTokenId", http.StatusForbidden)
	must(t, call(second.ListUsers(ctx, &sdkiam.ListUsersInput{})))
}

// TestAccessKeyQuotaUnderConcurrency: creates racing on one user's quota are decided by
// the compare-and-set on the user, so exactly two win.
func TestAccessKeyQuotaUnderConcurrency(t *testing.T) {
	e := newEnv(t)
	root, _ := e.account("tenant-a")
	must(t, call(root.CreateUser(ctx, &sdkiam.CreateUserInput{UserName: aws.String("alice")})))
	var wg sync.WaitGroup
	errs := make([]error, 6)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = root.CreateAccessKey(ctx, &sdkiam.CreateAccessKeyInput{UserName: aws.String("alice")})
		}()
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		var ae smithy.APIError
		switch {
		case err == nil:
			ok++
		case !errorsAs(err, &ae) || ae.ErrorCode() != "LimitExceeded" && ae.ErrorCode() != "ConcurrentModification":
			t.Fatalf("unexpected %v", err)
		}
	}
	keys, _ := e.cluster.State().IAMEntities(state.KindAccessKey, mustAccount(t, e, root))
	n := 0
	for _, k := range keys {
		if k.AccessKey.UserName == "alice" {
			n++
		}
	}
	if ok != 2 || n != 2 {
		t.Fatalf("%d creates succeeded, %d keys stored", ok, n)
	}
}
