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

func TestManagedPolicyLifecycle(t *testing.T) {
	e := newEnv(t)
	root, acct := e.account("tenant-a")
	p := must(t, call(root.CreatePolicy(ctx, &sdkiam.CreatePolicyInput{
		PolicyName: aws.String("readers"), Path: aws.String("/team/"), PolicyDocument: aws.String(allowIAM), Description: aws.String("read"),
	}))).Policy
	arn := "arn:aws:iam::" + acct.AccountID + ":policy/team/readers"
	if *p.Arn != arn || (*p.PolicyId)[:4] != "ANPA" || *p.DefaultVersionId != "v1" || *p.AttachmentCount != 0 || !p.IsAttachable {
		t.Fatalf("policy %+v", p)
	}
	fail(t, call(root.CreatePolicy(ctx, &sdkiam.CreatePolicyInput{PolicyName: aws.String("READERS"), PolicyDocument: aws.String(allowIAM)})), "EntityAlreadyExists", http.StatusConflict)
	fail(t, call(root.CreatePolicy(ctx, &sdkiam.CreatePolicyInput{PolicyName: aws.String("bad"), PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:*"}]}`)})), "MalformedPolicyDocument", http.StatusBadRequest)
	fail(t, call(root.CreatePolicy(ctx, &sdkiam.CreatePolicyInput{PolicyName: aws.String("bad"), PolicyDocument: aws.String(trustEC2)})), "MalformedPolicyDocument", http.StatusBadRequest)
	big := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:GetUser","Resource":"arn:aws:iam::*:user/` + strings.Repeat("x", maxPolicySize) + `"}]}`
	fail(t, call(root.CreatePolicy(ctx, &sdkiam.CreatePolicyInput{PolicyName: aws.String("big"), PolicyDocument: aws.String(big)})), "LimitExceeded", http.StatusConflict)

	got := must(t, call(root.GetPolicy(ctx, &sdkiam.GetPolicyInput{PolicyArn: aws.String(arn)}))).Policy
	if *got.Description != "read" {
		t.Fatalf("get %+v", got)
	}
	msg := fail(t, call(root.GetPolicy(ctx, &sdkiam.GetPolicyInput{PolicyArn: aws.String("arn:aws:iam::" + acct.AccountID + ":policy/nope")})), "NoSuchEntity", http.StatusNotFound)
	if !strings.HasSuffix(msg.Message, ":policy/nope was not found.") {
		t.Errorf("message %q", msg.Message)
	}
	fail(t, call(root.GetPolicy(ctx, &sdkiam.GetPolicyInput{PolicyArn: aws.String("not-an-arn-but-long-enough")})), "InvalidInput", http.StatusBadRequest)

	// Versions: up to five, one default, the default cannot be deleted.
	v1doc := must(t, call(root.GetPolicyVersion(ctx, &sdkiam.GetPolicyVersionInput{PolicyArn: aws.String(arn), VersionId: aws.String("v1")}))).PolicyVersion
	if doc, _ := url.QueryUnescape(*v1doc.Document); doc != allowIAM || !v1doc.IsDefaultVersion {
		t.Fatalf("v1 %+v", v1doc)
	}
	for i := 2; i <= 5; i++ {
		v := must(t, call(root.CreatePolicyVersion(ctx, &sdkiam.CreatePolicyVersionInput{PolicyArn: aws.String(arn), PolicyDocument: aws.String(allowAll), SetAsDefault: i == 3}))).PolicyVersion
		if *v.VersionId != "v"+string(rune('0'+i)) || v.IsDefaultVersion != (i == 3) {
			t.Fatalf("version %d: %+v", i, v)
		}
	}
	msg = fail(t, call(root.CreatePolicyVersion(ctx, &sdkiam.CreatePolicyVersionInput{PolicyArn: aws.String(arn), PolicyDocument: aws.String(allowAll)})), "LimitExceeded", http.StatusConflict)
	if !strings.HasPrefix(msg.Message, "A managed policy can have up to 5 versions.") {
		t.Errorf("message %q", msg.Message)
	}
	fail(t, call(root.CreatePolicyVersion(ctx, &sdkiam.CreatePolicyVersionInput{PolicyArn: aws.String(arn), PolicyDocument: aws.String("{}")})), "MalformedPolicyDocument", http.StatusBadRequest)
	vs := must(t, call(root.ListPolicyVersions(ctx, &sdkiam.ListPolicyVersionsInput{PolicyArn: aws.String(arn)}))).Versions
	if len(vs) != 5 || *vs[0].VersionId != "v5" || *vs[4].VersionId != "v1" || !vs[2].IsDefaultVersion || vs[0].Document != nil {
		t.Fatalf("versions %+v", vs)
	}
	if p := must(t, call(root.GetPolicy(ctx, &sdkiam.GetPolicyInput{PolicyArn: aws.String(arn)}))).Policy; *p.DefaultVersionId != "v3" {
		t.Fatalf("default %s", *p.DefaultVersionId)
	}
	msg = fail(t, call(root.DeletePolicyVersion(ctx, &sdkiam.DeletePolicyVersionInput{PolicyArn: aws.String(arn), VersionId: aws.String("v3")})), "DeleteConflict", http.StatusConflict)
	if msg.Message != "Cannot delete the default version of a policy." {
		t.Errorf("message %q", msg.Message)
	}
	fail(t, call(root.SetDefaultPolicyVersion(ctx, &sdkiam.SetDefaultPolicyVersionInput{PolicyArn: aws.String(arn), VersionId: aws.String("v9")})), "NoSuchEntity", http.StatusNotFound)
	fail(t, call(root.GetPolicyVersion(ctx, &sdkiam.GetPolicyVersionInput{PolicyArn: aws.String(arn), VersionId: aws.String("x1")})), "ValidationError", http.StatusBadRequest)
	must(t, call(root.SetDefaultPolicyVersion(ctx, &sdkiam.SetDefaultPolicyVersionInput{PolicyArn: aws.String(arn), VersionId: aws.String("v1")})))
	must(t, call(root.DeletePolicyVersion(ctx, &sdkiam.DeletePolicyVersionInput{PolicyArn: aws.String(arn), VersionId: aws.String("v4")})))
	fail(t, call(root.DeletePolicyVersion(ctx, &sdkiam.DeletePolicyVersionInput{PolicyArn: aws.String(arn), VersionId: aws.String("v4")})), "NoSuchEntity", http.StatusNotFound)
	// Version numbers are never reused.
	if v := must(t, call(root.CreatePolicyVersion(ctx, &sdkiam.CreatePolicyVersionInput{PolicyArn: aws.String(arn), PolicyDocument: aws.String(allowAll)}))).PolicyVersion; *v.VersionId != "v6" {
		t.Fatalf("new version %s", *v.VersionId)
	}
	msg = fail(t, call(root.DeletePolicy(ctx, &sdkiam.DeletePolicyInput{PolicyArn: aws.String(arn)})), "DeleteConflict", http.StatusConflict)
	if !strings.HasPrefix(msg.Message, "This policy has more than one version.") {
		t.Errorf("message %q", msg.Message)
	}

	// Attachments are counted on the policy and block its deletion.
	must(t, call(root.CreateUser(ctx, &sdkiam.CreateUserInput{UserName: aws.String("alice")})))
	must(t, call(root.CreateGroup(ctx, &sdkiam.CreateGroupInput{GroupName: aws.String("devs")})))
	must(t, call(root.CreateRole(ctx, &sdkiam.CreateRoleInput{RoleName: aws.String("web"), AssumeRolePolicyDocument: aws.String(trustEC2)})))
	must(t, call(root.AttachUserPolicy(ctx, &sdkiam.AttachUserPolicyInput{UserName: aws.String("alice"), PolicyArn: aws.String(arn)})))
	must(t, call(root.AttachUserPolicy(ctx, &sdkiam.AttachUserPolicyInput{UserName: aws.String("alice"), PolicyArn: aws.String(arn)}))) // idempotent
	must(t, call(root.AttachGroupPolicy(ctx, &sdkiam.AttachGroupPolicyInput{GroupName: aws.String("devs"), PolicyArn: aws.String(arn)})))
	must(t, call(root.AttachRolePolicy(ctx, &sdkiam.AttachRolePolicyInput{RoleName: aws.String("web"), PolicyArn: aws.String(arn)})))
	if p := must(t, call(root.GetPolicy(ctx, &sdkiam.GetPolicyInput{PolicyArn: aws.String(arn)}))).Policy; *p.AttachmentCount != 3 {
		t.Fatalf("attachment count %d", *p.AttachmentCount)
	}
	ents := must(t, call(root.ListEntitiesForPolicy(ctx, &sdkiam.ListEntitiesForPolicyInput{PolicyArn: aws.String(arn)})))
	if len(ents.PolicyUsers) != 1 || len(ents.PolicyGroups) != 1 || len(ents.PolicyRoles) != 1 || *ents.PolicyUsers[0].UserName != "alice" {
		t.Fatalf("entities %+v", ents)
	}
	ents = must(t, call(root.ListEntitiesForPolicy(ctx, &sdkiam.ListEntitiesForPolicyInput{PolicyArn: aws.String(arn), EntityFilter: types.EntityTypeRole})))
	if len(ents.PolicyUsers)+len(ents.PolicyGroups) != 0 || len(ents.PolicyRoles) != 1 {
		t.Fatalf("role entities %+v", ents)
	}
	page := must(t, call(root.ListEntitiesForPolicy(ctx, &sdkiam.ListEntitiesForPolicyInput{PolicyArn: aws.String(arn), MaxItems: aws.Int32(2)})))
	if len(page.PolicyGroups)+len(page.PolicyRoles) != 2 || !page.IsTruncated {
		t.Fatalf("entities page %+v", page)
	}
	page = must(t, call(root.ListEntitiesForPolicy(ctx, &sdkiam.ListEntitiesForPolicyInput{PolicyArn: aws.String(arn), Marker: page.Marker})))
	if len(page.PolicyUsers) != 1 || page.IsTruncated {
		t.Fatalf("entities page 2 %+v", page)
	}
	msg = fail(t, call(root.DeletePolicy(ctx, &sdkiam.DeletePolicyInput{PolicyArn: aws.String(arn)})), "DeleteConflict", http.StatusConflict)
	if msg.Message != "Cannot delete a policy attached to entities." {
		t.Errorf("message %q", msg.Message)
	}
	ap := must(t, call(root.ListAttachedUserPolicies(ctx, &sdkiam.ListAttachedUserPoliciesInput{UserName: aws.String("alice")}))).AttachedPolicies
	if len(ap) != 1 || *ap[0].PolicyName != "readers" {
		t.Fatalf("attached %+v", ap)
	}
	if ap := must(t, call(root.ListAttachedUserPolicies(ctx, &sdkiam.ListAttachedUserPoliciesInput{UserName: aws.String("alice"), PathPrefix: aws.String("/other/")}))).AttachedPolicies; len(ap) != 0 {
		t.Fatalf("attached under /other/ %+v", ap)
	}

	// Unknown policies and unattached detaches are NoSuchEntity.
	msg = fail(t, call(root.AttachUserPolicy(ctx, &sdkiam.AttachUserPolicyInput{UserName: aws.String("alice"), PolicyArn: aws.String("arn:aws:iam::" + acct.AccountID + ":policy/ghost")})), "NoSuchEntity", http.StatusNotFound)
	if !strings.HasSuffix(msg.Message, "does not exist or is not attachable.") {
		t.Errorf("message %q", msg.Message)
	}
	fail(t, call(root.AttachUserPolicy(ctx, &sdkiam.AttachUserPolicyInput{UserName: aws.String("alice"), PolicyArn: aws.String("arn:aws:iam::aws:policy/AdministratorAccess")})), "NoSuchEntity", http.StatusNotFound)
	fail(t, call(root.AttachUserPolicy(ctx, &sdkiam.AttachUserPolicyInput{UserName: aws.String("ghost"), PolicyArn: aws.String(arn)})), "NoSuchEntity", http.StatusNotFound)
	other := e.policy(root, "other", allowIAM)
	fail(t, call(root.DetachUserPolicy(ctx, &sdkiam.DetachUserPolicyInput{UserName: aws.String("alice"), PolicyArn: other})), "NoSuchEntity", http.StatusNotFound)

	// Listing: Local/All show the account's policies, AWS none; OnlyAttached filters.
	if ps := must(t, call(root.ListPolicies(ctx, &sdkiam.ListPoliciesInput{}))).Policies; len(ps) != 2 {
		t.Fatalf("policies %+v", ps)
	}
	if ps := must(t, call(root.ListPolicies(ctx, &sdkiam.ListPoliciesInput{Scope: types.PolicyScopeTypeAws}))).Policies; len(ps) != 0 {
		t.Fatalf("AWS policies %+v", ps)
	}
	if ps := must(t, call(root.ListPolicies(ctx, &sdkiam.ListPoliciesInput{Scope: types.PolicyScopeTypeLocal, OnlyAttached: true}))).Policies; len(ps) != 1 || *ps[0].PolicyName != "readers" {
		t.Fatalf("attached policies %+v", ps)
	}
	if ps := must(t, call(root.ListPolicies(ctx, &sdkiam.ListPoliciesInput{PathPrefix: aws.String("/team/")}))).Policies; len(ps) != 1 {
		t.Fatalf("policies under /team/ %+v", ps)
	}

	must(t, call(root.DetachUserPolicy(ctx, &sdkiam.DetachUserPolicyInput{UserName: aws.String("alice"), PolicyArn: aws.String(arn)})))
	must(t, call(root.DetachGroupPolicy(ctx, &sdkiam.DetachGroupPolicyInput{GroupName: aws.String("devs"), PolicyArn: aws.String(arn)})))
	must(t, call(root.DetachRolePolicy(ctx, &sdkiam.DetachRolePolicyInput{RoleName: aws.String("web"), PolicyArn: aws.String(arn)})))
	if p := must(t, call(root.GetPolicy(ctx, &sdkiam.GetPolicyInput{PolicyArn: aws.String(arn)}))).Policy; *p.AttachmentCount != 0 {
		t.Fatalf("attachment count after detach %d", *p.AttachmentCount)
	}
	for _, v := range []string{"v2", "v3", "v5", "v6"} {
		must(t, call(root.DeletePolicyVersion(ctx, &sdkiam.DeletePolicyVersionInput{PolicyArn: aws.String(arn), VersionId: aws.String(v)})))
	}
	must(t, call(root.DeletePolicy(ctx, &sdkiam.DeletePolicyInput{PolicyArn: aws.String(arn)})))
	fail(t, call(root.GetPolicy(ctx, &sdkiam.GetPolicyInput{PolicyArn: aws.String(arn)})), "NoSuchEntity", http.StatusNotFound)
}

func TestAttachedPolicyQuota(t *testing.T) {
	e := newEnv(t)
	root, _ := e.account("tenant-a")
	must(t, call(root.CreateUser(ctx, &sdkiam.CreateUserInput{UserName: aws.String("alice")})))
	for i := range maxAttached + 1 {
		arn := e.policy(root, "p"+string(rune('a'+i)), allowIAM)
		r := call(root.AttachUserPolicy(ctx, &sdkiam.AttachUserPolicyInput{UserName: aws.String("alice"), PolicyArn: arn}))
		if i < maxAttached {
			must(t, r)
		} else if msg := fail(t, r, "LimitExceeded", http.StatusConflict); msg.Message != "Cannot exceed quota for PoliciesPerUser: 10" {
			t.Errorf("message %q", msg.Message)
		}
	}
}

func TestPermissionsBoundary(t *testing.T) {
	e := newEnv(t)
	root, acct := e.account("tenant-a")
	arn := e.policy(root, "boundary", allowIAM)
	fail(t, call(root.CreateUser(ctx, &sdkiam.CreateUserInput{UserName: aws.String("x"), PermissionsBoundary: aws.String("arn:aws:iam::" + acct.AccountID + ":policy/ghost")})), "NoSuchEntity", http.StatusNotFound)
	u := must(t, call(root.CreateUser(ctx, &sdkiam.CreateUserInput{UserName: aws.String("alice"), PermissionsBoundary: arn}))).User
	if u.PermissionsBoundary == nil || *u.PermissionsBoundary.PermissionsBoundaryArn != *arn {
		t.Fatalf("boundary %+v", u.PermissionsBoundary)
	}
	p := must(t, call(root.GetPolicy(ctx, &sdkiam.GetPolicyInput{PolicyArn: arn}))).Policy
	if *p.PermissionsBoundaryUsageCount != 1 || *p.AttachmentCount != 0 {
		t.Fatalf("usage %+v", p)
	}
	fail(t, call(root.DeletePolicy(ctx, &sdkiam.DeletePolicyInput{PolicyArn: arn})), "DeleteConflict", http.StatusConflict)
	ents := must(t, call(root.ListEntitiesForPolicy(ctx, &sdkiam.ListEntitiesForPolicyInput{PolicyArn: arn, PolicyUsageFilter: types.PolicyUsageTypePermissionsBoundary})))
	if len(ents.PolicyUsers) != 1 {
		t.Fatalf("boundary users %+v", ents)
	}
	must(t, call(root.DeleteUser(ctx, &sdkiam.DeleteUserInput{UserName: aws.String("alice")})))
	must(t, call(root.DeletePolicy(ctx, &sdkiam.DeletePolicyInput{PolicyArn: arn})))
}
