package iam

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdkiam "github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
)

func TestRoleLifecycle(t *testing.T) {
	e := newEnv(t)
	root, acct := e.account("tenant-a")
	r := must(t, call(root.CreateRole(ctx, &sdkiam.CreateRoleInput{
		RoleName: aws.String("web"), AssumeRolePolicyDocument: aws.String(trustEC2), Description: aws.String("web servers"),
		Tags: []types.Tag{{Key: aws.String("tier"), Value: aws.String("front")}},
	}))).Role
	if *r.Arn != "arn:aws:iam::"+acct.AccountID+":role/web" || (*r.RoleId)[:4] != "AROA" || *r.MaxSessionDuration != 3600 || *r.Description != "web servers" {
		t.Fatalf("role %+v", r)
	}
	// Documents come back URL-encoded, as from AWS.
	if doc, err := url.QueryUnescape(*r.AssumeRolePolicyDocument); err != nil || doc != trustEC2 || *r.AssumeRolePolicyDocument == trustEC2 {
		t.Fatalf("trust policy %q", *r.AssumeRolePolicyDocument)
	}
	fail(t, call(root.CreateRole(ctx, &sdkiam.CreateRoleInput{RoleName: aws.String("WEB"), AssumeRolePolicyDocument: aws.String(trustEC2)})), "EntityAlreadyExists", http.StatusConflict)
	// A trust policy needs a Principal; an identity policy is not one.
	fail(t, call(root.CreateRole(ctx, &sdkiam.CreateRoleInput{RoleName: aws.String("bad"), AssumeRolePolicyDocument: aws.String(allowAll)})), "MalformedPolicyDocument", http.StatusBadRequest)
	fail(t, call(root.CreateRole(ctx, &sdkiam.CreateRoleInput{RoleName: aws.String("bad"), AssumeRolePolicyDocument: aws.String("{not json")})), "MalformedPolicyDocument", http.StatusBadRequest)
	msg := fail(t, call(root.CreateRole(ctx, &sdkiam.CreateRoleInput{RoleName: aws.String("bad"), AssumeRolePolicyDocument: aws.String(trustEC2), MaxSessionDuration: aws.Int32(60)})), "ValidationError", http.StatusBadRequest)
	if !strings.Contains(msg.Message, "at 'maxSessionDuration' failed to satisfy constraint: Member must have value greater than or equal to 3600") {
		t.Errorf("message %q", msg.Message)
	}

	got := must(t, call(root.GetRole(ctx, &sdkiam.GetRoleInput{RoleName: aws.String("Web")}))).Role
	if *got.RoleName != "web" || len(got.Tags) != 1 || got.RoleLastUsed == nil {
		t.Fatalf("get role %+v", got)
	}
	must(t, call(root.UpdateRole(ctx, &sdkiam.UpdateRoleInput{RoleName: aws.String("web"), MaxSessionDuration: aws.Int32(7200), Description: aws.String("new")})))
	newTrust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + acct.AccountID + `:root"},"Action":"sts:AssumeRole"}]}`
	must(t, call(root.UpdateAssumeRolePolicy(ctx, &sdkiam.UpdateAssumeRolePolicyInput{RoleName: aws.String("web"), PolicyDocument: aws.String(newTrust)})))
	fail(t, call(root.UpdateAssumeRolePolicy(ctx, &sdkiam.UpdateAssumeRolePolicyInput{RoleName: aws.String("web"), PolicyDocument: aws.String(allowAll)})), "MalformedPolicyDocument", http.StatusBadRequest)
	roles := must(t, call(root.ListRoles(ctx, &sdkiam.ListRolesInput{}))).Roles
	if len(roles) != 1 || *roles[0].MaxSessionDuration != 7200 || *roles[0].Description != "new" {
		t.Fatalf("list roles %+v", roles)
	}
	if doc, _ := url.QueryUnescape(*roles[0].AssumeRolePolicyDocument); doc != newTrust {
		t.Fatalf("trust after update %q", doc)
	}

	// Instance profiles hold one role; the role cannot go while in one.
	ip := must(t, call(root.CreateInstanceProfile(ctx, &sdkiam.CreateInstanceProfileInput{InstanceProfileName: aws.String("web-ip"), Path: aws.String("/app/")}))).InstanceProfile
	if *ip.Arn != "arn:aws:iam::"+acct.AccountID+":instance-profile/app/web-ip" || (*ip.InstanceProfileId)[:4] != "AIPA" || len(ip.Roles) != 0 {
		t.Fatalf("profile %+v", ip)
	}
	fail(t, call(root.CreateInstanceProfile(ctx, &sdkiam.CreateInstanceProfileInput{InstanceProfileName: aws.String("WEB-IP")})), "EntityAlreadyExists", http.StatusConflict)
	must(t, call(root.AddRoleToInstanceProfile(ctx, &sdkiam.AddRoleToInstanceProfileInput{InstanceProfileName: aws.String("web-ip"), RoleName: aws.String("web")})))
	must(t, call(root.CreateRole(ctx, &sdkiam.CreateRoleInput{RoleName: aws.String("other"), AssumeRolePolicyDocument: aws.String(trustEC2)})))
	msg = fail(t, call(root.AddRoleToInstanceProfile(ctx, &sdkiam.AddRoleToInstanceProfileInput{InstanceProfileName: aws.String("web-ip"), RoleName: aws.String("other")})), "LimitExceeded", http.StatusConflict)
	if msg.Message != "Cannot exceed quota for InstanceSessionsPerInstanceProfile: 1" {
		t.Errorf("message %q", msg.Message)
	}
	fail(t, call(root.AddRoleToInstanceProfile(ctx, &sdkiam.AddRoleToInstanceProfileInput{InstanceProfileName: aws.String("nope"), RoleName: aws.String("web")})), "NoSuchEntity", http.StatusNotFound)
	gotIP := must(t, call(root.GetInstanceProfile(ctx, &sdkiam.GetInstanceProfileInput{InstanceProfileName: aws.String("web-ip")}))).InstanceProfile
	if len(gotIP.Roles) != 1 || *gotIP.Roles[0].RoleName != "web" {
		t.Fatalf("profile roles %+v", gotIP.Roles)
	}
	forRole := must(t, call(root.ListInstanceProfilesForRole(ctx, &sdkiam.ListInstanceProfilesForRoleInput{RoleName: aws.String("web")}))).InstanceProfiles
	if len(forRole) != 1 || *forRole[0].InstanceProfileName != "web-ip" {
		t.Fatalf("profiles for role %+v", forRole)
	}
	if ips := must(t, call(root.ListInstanceProfiles(ctx, &sdkiam.ListInstanceProfilesInput{PathPrefix: aws.String("/app/")}))).InstanceProfiles; len(ips) != 1 {
		t.Fatalf("profiles %+v", ips)
	}
	msg = fail(t, call(root.DeleteRole(ctx, &sdkiam.DeleteRoleInput{RoleName: aws.String("web")})), "DeleteConflict", http.StatusConflict)
	if msg.Message != "Cannot delete entity, must remove roles from instance profile first." {
		t.Errorf("message %q", msg.Message)
	}
	fail(t, call(root.DeleteInstanceProfile(ctx, &sdkiam.DeleteInstanceProfileInput{InstanceProfileName: aws.String("web-ip")})), "DeleteConflict", http.StatusConflict)
	must(t, call(root.RemoveRoleFromInstanceProfile(ctx, &sdkiam.RemoveRoleFromInstanceProfileInput{InstanceProfileName: aws.String("web-ip"), RoleName: aws.String("web")})))
	fail(t, call(root.RemoveRoleFromInstanceProfile(ctx, &sdkiam.RemoveRoleFromInstanceProfileInput{InstanceProfileName: aws.String("web-ip"), RoleName: aws.String("web")})), "NoSuchEntity", http.StatusNotFound)
	must(t, call(root.DeleteInstanceProfile(ctx, &sdkiam.DeleteInstanceProfileInput{InstanceProfileName: aws.String("web-ip")})))
	fail(t, call(root.GetInstanceProfile(ctx, &sdkiam.GetInstanceProfileInput{InstanceProfileName: aws.String("web-ip")})), "NoSuchEntity", http.StatusNotFound)

	// Policies block deletion too.
	arn := e.policy(root, "p", allowIAM)
	must(t, call(root.AttachRolePolicy(ctx, &sdkiam.AttachRolePolicyInput{RoleName: aws.String("web"), PolicyArn: arn})))
	msg = fail(t, call(root.DeleteRole(ctx, &sdkiam.DeleteRoleInput{RoleName: aws.String("web")})), "DeleteConflict", http.StatusConflict)
	if msg.Message != "Cannot delete entity, must detach all policies first." {
		t.Errorf("message %q", msg.Message)
	}
	if ap := must(t, call(root.ListAttachedRolePolicies(ctx, &sdkiam.ListAttachedRolePoliciesInput{RoleName: aws.String("web")}))).AttachedPolicies; len(ap) != 1 || *ap[0].PolicyArn != *arn {
		t.Fatalf("attached %+v", ap)
	}
	must(t, call(root.DetachRolePolicy(ctx, &sdkiam.DetachRolePolicyInput{RoleName: aws.String("web"), PolicyArn: arn})))
	if d := must(t, call(root.UpdateRoleDescription(ctx, &sdkiam.UpdateRoleDescriptionInput{RoleName: aws.String("web"), Description: aws.String("described")}))).Role; *d.Description != "described" {
		t.Fatalf("description %+v", d)
	}
	must(t, call(root.PutRolePolicy(ctx, &sdkiam.PutRolePolicyInput{RoleName: aws.String("web"), PolicyName: aws.String("inline"), PolicyDocument: aws.String(allowIAM)})))
	fail(t, call(root.DeleteRole(ctx, &sdkiam.DeleteRoleInput{RoleName: aws.String("web")})), "DeleteConflict", http.StatusConflict)
	must(t, call(root.DeleteRolePolicy(ctx, &sdkiam.DeleteRolePolicyInput{RoleName: aws.String("web"), PolicyName: aws.String("inline")})))
	must(t, call(root.DeleteRole(ctx, &sdkiam.DeleteRoleInput{RoleName: aws.String("web")})))
	fail(t, call(root.GetRole(ctx, &sdkiam.GetRoleInput{RoleName: aws.String("web")})), "NoSuchEntity", http.StatusNotFound)
}

func TestTags(t *testing.T) {
	e := newEnv(t)
	root, _ := e.account("tenant-a")
	must(t, call(root.CreateUser(ctx, &sdkiam.CreateUserInput{UserName: aws.String("alice")})))
	must(t, call(root.CreateRole(ctx, &sdkiam.CreateRoleInput{RoleName: aws.String("web"), AssumeRolePolicyDocument: aws.String(trustEC2)})))
	tag := func(k, v string) types.Tag { return types.Tag{Key: aws.String(k), Value: aws.String(v)} }

	must(t, call(root.TagUser(ctx, &sdkiam.TagUserInput{UserName: aws.String("alice"), Tags: []types.Tag{tag("a", "1"), tag("b", "2")}})))
	must(t, call(root.TagUser(ctx, &sdkiam.TagUserInput{UserName: aws.String("alice"), Tags: []types.Tag{tag("A", "3")}}))) // same key, any case
	ts := must(t, call(root.ListUserTags(ctx, &sdkiam.ListUserTagsInput{UserName: aws.String("alice")}))).Tags
	if len(ts) != 2 || *ts[0].Key != "A" || *ts[0].Value != "3" {
		t.Fatalf("tags %+v", ts)
	}
	fail(t, call(root.TagUser(ctx, &sdkiam.TagUserInput{UserName: aws.String("alice"), Tags: []types.Tag{tag("x", "1"), tag("X", "2")}})), "InvalidInput", http.StatusBadRequest)
	fail(t, call(root.TagUser(ctx, &sdkiam.TagUserInput{UserName: aws.String("alice"), Tags: []types.Tag{tag("bad#key", "1")}})), "ValidationError", http.StatusBadRequest)
	fail(t, call(root.TagUser(ctx, &sdkiam.TagUserInput{UserName: aws.String("nobody"), Tags: []types.Tag{tag("x", "1")}})), "NoSuchEntity", http.StatusNotFound)
	must(t, call(root.UntagUser(ctx, &sdkiam.UntagUserInput{UserName: aws.String("alice"), TagKeys: []string{"a", "missing"}})))
	if ts := must(t, call(root.ListUserTags(ctx, &sdkiam.ListUserTagsInput{UserName: aws.String("alice")}))).Tags; len(ts) != 1 || *ts[0].Key != "b" {
		t.Fatalf("after untag %+v", ts)
	}

	// At most 50 tags per resource.
	var many []types.Tag
	for i := range 50 {
		many = append(many, tag("k"+strings.Repeat("x", i), "v"))
	}
	must(t, call(root.TagRole(ctx, &sdkiam.TagRoleInput{RoleName: aws.String("web"), Tags: many})))
	fail(t, call(root.TagRole(ctx, &sdkiam.TagRoleInput{RoleName: aws.String("web"), Tags: []types.Tag{tag("one-more", "v")}})), "LimitExceeded", http.StatusConflict)
	page := must(t, call(root.ListRoleTags(ctx, &sdkiam.ListRoleTagsInput{RoleName: aws.String("web"), MaxItems: aws.Int32(30)})))
	if len(page.Tags) != 30 || !page.IsTruncated {
		t.Fatalf("tag page %d %v", len(page.Tags), page.IsTruncated)
	}
	page = must(t, call(root.ListRoleTags(ctx, &sdkiam.ListRoleTagsInput{RoleName: aws.String("web"), Marker: page.Marker})))
	if len(page.Tags) != 20 || page.IsTruncated {
		t.Fatalf("second tag page %d %v", len(page.Tags), page.IsTruncated)
	}
	must(t, call(root.UntagRole(ctx, &sdkiam.UntagRoleInput{RoleName: aws.String("web"), TagKeys: []string{"k"}})))
	must(t, call(root.TagRole(ctx, &sdkiam.TagRoleInput{RoleName: aws.String("web"), Tags: []types.Tag{tag("one-more", "v")}})))
	fail(t, call(root.TagRole(ctx, &sdkiam.TagRoleInput{RoleName: aws.String("web"), Tags: append(many, tag("51st", "v"))})), "ValidationError", http.StatusBadRequest)
}
