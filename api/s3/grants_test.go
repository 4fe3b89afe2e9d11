package s3

import (
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdks3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

const allUsersURI = "http://acs.amazonaws.com/groups/global/AllUsers"

func hasGrant(grants []types.Grant, typ types.Type, who string, perm types.Permission) bool {
	for _, g := range grants {
		if g.Grantee == nil || g.Grantee.Type != typ || g.Permission != perm {
			continue
		}
		if aws.ToString(g.Grantee.URI) == who || aws.ToString(g.Grantee.ID) == who {
			return true
		}
	}
	return false
}

func TestBucketGrants(t *testing.T) {
	e := newEnv(t)
	c := e.rootClient()
	mustBucket(t, c, "granted")
	put(t, c, "granted", "k", "v")
	if resp, _ := e.raw(http.MethodGet, "/granted", nil, nil); resp.StatusCode != 403 {
		t.Fatalf("anonymous list of a private bucket: %d", resp.StatusCode)
	}
	if _, err := c.PutBucketAcl(ctx, &sdks3.PutBucketAclInput{Bucket: aws.String("granted"),
		GrantRead: aws.String(`uri="` + allUsersURI + `"`), GrantFullControl: aws.String(`id="` + e.root.AccountID + `"`)}); err != nil {
		t.Fatal(err)
	}
	if resp, body := e.raw(http.MethodGet, "/granted", nil, nil); resp.StatusCode != 200 || !strings.Contains(string(body), "<Key>k</Key>") {
		t.Fatalf("anonymous list with READ to AllUsers: %d %s", resp.StatusCode, body)
	}
	// READ on a bucket lists it; it does not read its objects, nor its ACL.
	if resp, _ := e.raw(http.MethodGet, "/granted/k", nil, nil); resp.StatusCode != 403 {
		t.Fatalf("anonymous GET of an object in a listable bucket: %d", resp.StatusCode)
	}
	if resp, _ := e.raw(http.MethodGet, "/granted?acl", nil, nil); resp.StatusCode != 403 {
		t.Fatalf("anonymous GetBucketAcl: %d", resp.StatusCode)
	}
	acl, err := c.GetBucketAcl(ctx, &sdks3.GetBucketAclInput{Bucket: aws.String("granted")})
	if err != nil {
		t.Fatal(err)
	}
	if len(acl.Grants) != 2 || !hasGrant(acl.Grants, types.TypeGroup, allUsersURI, types.PermissionRead) ||
		!hasGrant(acl.Grants, types.TypeCanonicalUser, e.root.AccountID, types.PermissionFullControl) || aws.ToString(acl.Owner.ID) != e.root.AccountID {
		t.Fatalf("GetBucketAcl: %+v", acl.Grants)
	}
	// Grants given at creation.
	if _, err := c.CreateBucket(ctx, &sdks3.CreateBucketInput{Bucket: aws.String("born-public"), GrantRead: aws.String(`uri="` + allUsersURI + `"`)}); err != nil {
		t.Fatal(err)
	}
	if resp, body := e.raw(http.MethodGet, "/born-public", nil, nil); resp.StatusCode != 200 {
		t.Fatalf("anonymous list of a bucket created with READ to AllUsers: %d %s", resp.StatusCode, body)
	}
	// Revoked by a canned ACL.
	if _, err := c.PutBucketAcl(ctx, &sdks3.PutBucketAclInput{Bucket: aws.String("granted"), ACL: types.BucketCannedACLPrivate}); err != nil {
		t.Fatal(err)
	}
	if resp, _ := e.raw(http.MethodGet, "/granted", nil, nil); resp.StatusCode != 403 {
		t.Fatalf("anonymous list after revoking: %d", resp.StatusCode)
	}

	// WRITE to another account, by an AccessControlPolicy body: it may write objects.
	tenant, err := iamTenant(e, "writer")
	if err != nil {
		t.Fatal(err)
	}
	tenantID := e.accountOf(t, "writer")
	_, err = tenant.PutObject(ctx, &sdks3.PutObjectInput{Bucket: aws.String("granted"), Key: aws.String("w"), Body: strings.NewReader("w")})
	wantCode(t, err, "AccessDenied", 403)
	if _, err := c.PutBucketAcl(ctx, &sdks3.PutBucketAclInput{Bucket: aws.String("granted"), AccessControlPolicy: &types.AccessControlPolicy{
		Owner: &types.Owner{ID: aws.String(e.root.AccountID)},
		Grants: []types.Grant{
			{Grantee: &types.Grantee{Type: types.TypeCanonicalUser, ID: aws.String(e.root.AccountID)}, Permission: types.PermissionFullControl},
			{Grantee: &types.Grantee{Type: types.TypeCanonicalUser, ID: aws.String(tenantID)}, Permission: types.PermissionWrite},
		}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := tenant.PutObject(ctx, &sdks3.PutObjectInput{Bucket: aws.String("granted"), Key: aws.String("w"), Body: strings.NewReader("w")}); err != nil {
		t.Fatalf("PutObject with WRITE granted to the account: %v", err)
	}
	_, err = tenant.ListObjectsV2(ctx, &sdks3.ListObjectsV2Input{Bucket: aws.String("granted")})
	wantCode(t, err, "AccessDenied", 403)
	// Anyone else still may not.
	other, err := iamTenant(e, "other")
	if err != nil {
		t.Fatal(err)
	}
	_, err = other.PutObject(ctx, &sdks3.PutObjectInput{Bucket: aws.String("granted"), Key: aws.String("o"), Body: strings.NewReader("o")})
	wantCode(t, err, "AccessDenied", 403)
	// A bucket policy's explicit deny still wins over a grant.
	if _, err := c.PutBucketPolicy(ctx, &sdks3.PutBucketPolicyInput{Bucket: aws.String("granted"), Policy: aws.String(`{"Version":"2012-10-17","Statement":[
	 {"Effect":"Deny","Principal":{"AWS":"` + tenantID + `"},"Action":"s3:PutObject","Resource":"arn:aws:s3:::granted/*"}]}`)}); err != nil {
		t.Fatal(err)
	}
	_, err = tenant.PutObject(ctx, &sdks3.PutObjectInput{Bucket: aws.String("granted"), Key: aws.String("w"), Body: strings.NewReader("w")})
	wantCode(t, err, "AccessDenied", 403)
}

func TestObjectGrants(t *testing.T) {
	e := newEnv(t)
	c := e.rootClient()
	mustBucket(t, c, "objs")
	put(t, c, "objs", "a", "aaa")
	if resp, _ := e.raw(http.MethodGet, "/objs/a", nil, nil); resp.StatusCode != 403 {
		t.Fatalf("anonymous GET of a private object: %d", resp.StatusCode)
	}
	if _, err := c.PutObjectAcl(ctx, &sdks3.PutObjectAclInput{Bucket: aws.String("objs"), Key: aws.String("a"), AccessControlPolicy: &types.AccessControlPolicy{
		Owner: &types.Owner{ID: aws.String(e.root.AccountID)},
		Grants: []types.Grant{
			{Grantee: &types.Grantee{Type: types.TypeCanonicalUser, ID: aws.String(e.root.AccountID)}, Permission: types.PermissionFullControl},
			{Grantee: &types.Grantee{Type: types.TypeGroup, URI: aws.String(allUsersURI)}, Permission: types.PermissionRead},
		}}}); err != nil {
		t.Fatal(err)
	}
	if resp, body := e.raw(http.MethodGet, "/objs/a", nil, nil); resp.StatusCode != 200 || string(body) != "aaa" {
		t.Fatalf("anonymous GET with READ to AllUsers: %d %s", resp.StatusCode, body)
	}
	acl, err := c.GetObjectAcl(ctx, &sdks3.GetObjectAclInput{Bucket: aws.String("objs"), Key: aws.String("a")})
	if err != nil || !hasGrant(acl.Grants, types.TypeGroup, allUsersURI, types.PermissionRead) || len(acl.Grants) != 2 {
		t.Fatalf("GetObjectAcl: %+v %v", acl, err)
	}
	// Revoked: only the owner's grant left.
	if _, err := c.PutObjectAcl(ctx, &sdks3.PutObjectAclInput{Bucket: aws.String("objs"), Key: aws.String("a"),
		GrantFullControl: aws.String(`id="` + e.root.AccountID + `"`)}); err != nil {
		t.Fatal(err)
	}
	if resp, _ := e.raw(http.MethodGet, "/objs/a", nil, nil); resp.StatusCode != 403 {
		t.Fatalf("anonymous GET after revoking: %d", resp.StatusCode)
	}

	// Grants at upload time, to another account by canonical ID, with READ_ACP.
	tenant, err := iamTenant(e, "reader")
	if err != nil {
		t.Fatal(err)
	}
	tid := e.accountOf(t, "reader")
	if _, err := c.PutObject(ctx, &sdks3.PutObjectInput{Bucket: aws.String("objs"), Key: aws.String("shared"), Body: strings.NewReader("s"),
		GrantRead: aws.String(`id="` + tid + `"`), GrantReadACP: aws.String(`id="` + tid + `"`)}); err != nil {
		t.Fatal(err)
	}
	if _, body := get(t, tenant, &sdks3.GetObjectInput{Bucket: aws.String("objs"), Key: aws.String("shared")}); body != "s" {
		t.Fatal(body)
	}
	if _, err := tenant.GetObjectAcl(ctx, &sdks3.GetObjectAclInput{Bucket: aws.String("objs"), Key: aws.String("shared")}); err != nil {
		t.Fatalf("GetObjectAcl with READ_ACP: %v", err)
	}
	_, err = tenant.PutObjectAcl(ctx, &sdks3.PutObjectAclInput{Bucket: aws.String("objs"), Key: aws.String("shared"), ACL: types.ObjectCannedACLPublicRead})
	wantCode(t, err, "AccessDenied", 403)
	_, err = tenant.GetObject(ctx, &sdks3.GetObjectInput{Bucket: aws.String("objs"), Key: aws.String("a")})
	wantCode(t, err, "AccessDenied", 403)
	if resp, _ := e.raw(http.MethodGet, "/objs/shared", nil, nil); resp.StatusCode != 403 {
		t.Fatalf("anonymous GET of an object granted to one account: %d", resp.StatusCode)
	}
}

func TestGrantErrors(t *testing.T) {
	e := newEnv(t)
	c := e.rootClient()
	mustBucket(t, c, "errs")
	_, err := c.PutBucketAcl(ctx, &sdks3.PutBucketAclInput{Bucket: aws.String("errs"), GrantRead: aws.String(`emailAddress="a@example.com"`)})
	wantCode(t, err, "UnresolvableGrantByEmailAddress", 400)
	_, err = c.PutBucketAcl(ctx, &sdks3.PutBucketAclInput{Bucket: aws.String("errs"), GrantRead: aws.String(`id="999999999999"`)})
	wantCode(t, err, "InvalidArgument", 400)
	_, err = c.PutBucketAcl(ctx, &sdks3.PutBucketAclInput{Bucket: aws.String("errs"), GrantRead: aws.String(`uri="http://example.com/group"`)})
	wantCode(t, err, "InvalidArgument", 400)
	_, err = c.PutBucketAcl(ctx, &sdks3.PutBucketAclInput{Bucket: aws.String("errs"), ACL: types.BucketCannedACLPublicRead,
		GrantRead: aws.String(`uri="` + allUsersURI + `"`)})
	wantCode(t, err, "InvalidRequest", 400)
	_, err = c.PutBucketAcl(ctx, &sdks3.PutBucketAclInput{Bucket: aws.String("errs"), AccessControlPolicy: &types.AccessControlPolicy{
		Owner:  &types.Owner{ID: aws.String(e.root.AccountID)},
		Grants: []types.Grant{{Grantee: &types.Grantee{Type: types.TypeAmazonCustomerByEmail, EmailAddress: aws.String("a@example.com")}, Permission: types.PermissionRead}}}})
	wantCode(t, err, "UnresolvableGrantByEmailAddress", 400)
	_, err = c.PutBucketAcl(ctx, &sdks3.PutBucketAclInput{Bucket: aws.String("errs"), AccessControlPolicy: &types.AccessControlPolicy{
		Owner:  &types.Owner{ID: aws.String(e.root.AccountID)},
		Grants: []types.Grant{{Grantee: &types.Grantee{Type: types.TypeGroup, URI: aws.String(allUsersURI)}, Permission: "READ_EVERYTHING"}}}})
	wantCode(t, err, "MalformedACLError", 400)
	resp, body := e.signed(http.MethodPut, "/errs?acl", strings.NewReader("<AccessControlPolicy><nope"), 26, nil)
	if resp.StatusCode != 400 || errorCode(body) != "MalformedACLError" {
		t.Fatalf("unreadable ACL: %d %s", resp.StatusCode, body)
	}
	// Nothing changed.
	acl, err := c.GetBucketAcl(ctx, &sdks3.GetBucketAclInput{Bucket: aws.String("errs")})
	if err != nil || len(acl.Grants) != 1 || !hasGrant(acl.Grants, types.TypeCanonicalUser, e.root.AccountID, types.PermissionFullControl) {
		t.Fatalf("ACL after refused changes: %+v %v", acl, err)
	}
}

func TestStoredGrants(t *testing.T) {
	gs := []aclGrant{{Type: "uri", Value: allUsersURI, Permission: "FULL_CONTROL"}, {Type: "id", Value: "111122223333", Permission: "READ"}}
	stored := encodeGrants(gs)
	back, ok := decodeGrants(stored)
	if !ok || len(back) != 2 || back[1] != gs[1] {
		t.Fatalf("%q -> %+v", stored, back)
	}
	if _, ok := decodeGrants("public-read"); ok {
		t.Fatal("a canned ACL decoded as grants")
	}
	// FULL_CONTROL on a bucket: list, write, read and write the ACL.
	st := grantStatements(gs[:1], "arn:aws:s3:::b", true)
	if len(st) != 4 {
		t.Fatalf("FULL_CONTROL statements: %v", st)
	}
	// On an object, WRITE means nothing.
	if st := grantStatements([]aclGrant{{Type: "uri", Value: allUsersURI, Permission: "WRITE"}}, "arn:aws:s3:::b/k", false); len(st) != 0 {
		t.Fatalf("object WRITE statements: %v", st)
	}
}
