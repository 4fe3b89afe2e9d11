package s3

import (
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdks3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

func putOwnership(c *sdks3.Client, bucket string, o types.ObjectOwnership) error {
	_, err := c.PutBucketOwnershipControls(ctx, &sdks3.PutBucketOwnershipControlsInput{Bucket: aws.String(bucket),
		OwnershipControls: &types.OwnershipControls{Rules: []types.OwnershipControlsRule{{ObjectOwnership: o}}}})
	return err
}

func TestOwnershipControls(t *testing.T) {
	e := newEnv(t)
	c := e.rootClient()
	mustBucket(t, c, "own")
	if _, err := c.PutObject(ctx, &sdks3.PutObjectInput{Bucket: aws.String("own"), Key: aws.String("old"), Body: strings.NewReader("v"), ACL: types.ObjectCannedACLPublicRead}); err != nil {
		t.Fatal(err)
	}
	_, err := c.GetBucketOwnershipControls(ctx, &sdks3.GetBucketOwnershipControlsInput{Bucket: aws.String("own")})
	wantCode(t, err, "OwnershipControlsNotFoundError", 404)
	if err := putOwnership(c, "own", types.ObjectOwnershipBucketOwnerEnforced); err != nil {
		t.Fatal(err)
	}
	out, err := c.GetBucketOwnershipControls(ctx, &sdks3.GetBucketOwnershipControlsInput{Bucket: aws.String("own")})
	if err != nil {
		t.Fatal(err)
	}
	if r := out.OwnershipControls.Rules; len(r) != 1 || r[0].ObjectOwnership != types.ObjectOwnershipBucketOwnerEnforced {
		t.Fatalf("GetBucketOwnershipControls: %+v", r)
	}

	// ACLs are disabled: setting one fails, unless it is the owner's full control ...
	_, err = c.PutBucketAcl(ctx, &sdks3.PutBucketAclInput{Bucket: aws.String("own"), ACL: types.BucketCannedACLPublicRead})
	wantCode(t, err, "AccessControlListNotSupported", 400)
	_, err = c.PutObjectAcl(ctx, &sdks3.PutObjectAclInput{Bucket: aws.String("own"), Key: aws.String("old"), ACL: types.ObjectCannedACLPrivate})
	wantCode(t, err, "AccessControlListNotSupported", 400)
	_, err = c.PutObject(ctx, &sdks3.PutObjectInput{Bucket: aws.String("own"), Key: aws.String("new"), Body: strings.NewReader("v"), ACL: types.ObjectCannedACLPublicRead})
	wantCode(t, err, "AccessControlListNotSupported", 400)
	_, err = c.CreateMultipartUpload(ctx, &sdks3.CreateMultipartUploadInput{Bucket: aws.String("own"), Key: aws.String("mp"), GrantRead: aws.String(`uri="` + allUsersURI + `"`)})
	wantCode(t, err, "AccessControlListNotSupported", 400)
	if _, err := c.PutObject(ctx, &sdks3.PutObjectInput{Bucket: aws.String("own"), Key: aws.String("new"), Body: strings.NewReader("v"), ACL: types.ObjectCannedACLBucketOwnerFullControl}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutBucketAcl(ctx, &sdks3.PutBucketAclInput{Bucket: aws.String("own"), GrantFullControl: aws.String(`id="` + e.root.AccountID + `"`)}); err != nil {
		t.Fatalf("owner-only grants on a bucket with ACLs disabled: %v", err)
	}
	put(t, c, "own", "plain", "v") // ... or no ACL at all
	// ... and what was granted before grants nothing; reading ACLs still works.
	if resp, _ := e.raw(http.MethodGet, "/own/old", nil, nil); resp.StatusCode != 403 {
		t.Fatalf("public-read object with ACLs disabled: %d", resp.StatusCode)
	}
	if _, err := c.GetObjectAcl(ctx, &sdks3.GetObjectAclInput{Bucket: aws.String("own"), Key: aws.String("old")}); err != nil {
		t.Fatal(err)
	}

	if _, err := c.DeleteBucketOwnershipControls(ctx, &sdks3.DeleteBucketOwnershipControlsInput{Bucket: aws.String("own")}); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetBucketOwnershipControls(ctx, &sdks3.GetBucketOwnershipControlsInput{Bucket: aws.String("own")})
	wantCode(t, err, "OwnershipControlsNotFoundError", 404)
	if resp, _ := e.raw(http.MethodGet, "/own/old", nil, nil); resp.StatusCode != 200 {
		t.Fatalf("public-read object after ACLs are enabled again: %d", resp.StatusCode)
	}

	// ObjectWriter and BucketOwnerPreferred leave ACLs working.
	if err := putOwnership(c, "own", types.ObjectOwnershipBucketOwnerPreferred); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutObjectAcl(ctx, &sdks3.PutObjectAclInput{Bucket: aws.String("own"), Key: aws.String("new"), ACL: types.ObjectCannedACLPublicRead}); err != nil {
		t.Fatal(err)
	}
	wantCode(t, putOwnership(c, "own", "Nobody"), "MalformedXML", 400)
	// A bucket whose own ACL grants to others cannot have ACLs disabled.
	if _, err := c.PutBucketAcl(ctx, &sdks3.PutBucketAclInput{Bucket: aws.String("own"), ACL: types.BucketCannedACLPublicRead}); err != nil {
		t.Fatal(err)
	}
	wantCode(t, putOwnership(c, "own", types.ObjectOwnershipBucketOwnerEnforced), "InvalidBucketAclWithObjectOwnership", 400)

	other, err := iamTenant(e, "other")
	if err != nil {
		t.Fatal(err)
	}
	wantCode(t, putOwnership(other, "own", types.ObjectOwnershipObjectWriter), "AccessDenied", 403)
}

func TestCreateBucketObjectOwnership(t *testing.T) {
	e := newEnv(t)
	c := e.rootClient()
	if _, err := c.CreateBucket(ctx, &sdks3.CreateBucketInput{Bucket: aws.String("enforced"), ObjectOwnership: types.ObjectOwnershipBucketOwnerEnforced}); err != nil {
		t.Fatal(err)
	}
	out, err := c.GetBucketOwnershipControls(ctx, &sdks3.GetBucketOwnershipControlsInput{Bucket: aws.String("enforced")})
	if err != nil {
		t.Fatal(err)
	}
	if r := out.OwnershipControls.Rules; len(r) != 1 || r[0].ObjectOwnership != types.ObjectOwnershipBucketOwnerEnforced {
		t.Fatalf("rules: %+v", r)
	}
	_, err = c.PutObject(ctx, &sdks3.PutObjectInput{Bucket: aws.String("enforced"), Key: aws.String("k"), Body: strings.NewReader("v"), ACL: types.ObjectCannedACLAuthenticatedRead})
	wantCode(t, err, "AccessControlListNotSupported", 400)

	_, err = c.CreateBucket(ctx, &sdks3.CreateBucketInput{Bucket: aws.String("public-enforced"), ObjectOwnership: types.ObjectOwnershipBucketOwnerEnforced, ACL: types.BucketCannedACLPublicRead})
	wantCode(t, err, "InvalidBucketAclWithObjectOwnership", 400)
	if resp, body := e.signed(http.MethodPut, "/bad-ownership", nil, 0, map[string]string{"x-amz-object-ownership": "Everyone"}); resp.StatusCode != 400 || errorCode(body) != "InvalidArgument" {
		t.Fatalf("unknown x-amz-object-ownership: %d %s", resp.StatusCode, body)
	}
	for _, name := range []string{"public-enforced", "bad-ownership"} {
		if _, err := e.cluster.st.Bucket(name); err == nil {
			t.Fatalf("refused CreateBucket made %s", name)
		}
	}

	// Setting it at creation needs s3:PutBucketOwnershipControls as well.
	id, secret := e.newUser("creator", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:CreateBucket","Resource":"*"}]}`)
	u := e.client(id, secret)
	_, err = u.CreateBucket(ctx, &sdks3.CreateBucketInput{Bucket: aws.String("by-user"), ObjectOwnership: types.ObjectOwnershipObjectWriter})
	wantCode(t, err, "AccessDenied", 403)
	if _, err := u.CreateBucket(ctx, &sdks3.CreateBucketInput{Bucket: aws.String("by-user")}); err != nil {
		t.Fatal(err)
	}
}

// A name another account owns is BucketAlreadyExists, whoever of that other account
// asks and whatever the request carries; only the owner's account hears
// BucketAlreadyOwnedByYou. The owner's record is left as it was.
func TestCreateBucketOwnedByAnotherAccount(t *testing.T) {
	e := newEnv(t)
	c := e.rootClient()
	mustBucket(t, c, "taken")
	other, err := iamTenant(e, "rival")
	if err != nil {
		t.Fatal(err)
	}
	for name, in := range map[string]*sdks3.CreateBucketInput{
		"plain":     {Bucket: aws.String("taken")},
		"acl":       {Bucket: aws.String("taken"), ACL: types.BucketCannedACLPublicReadWrite},
		"ownership": {Bucket: aws.String("taken"), ObjectOwnership: types.ObjectOwnershipBucketOwnerEnforced},
		"lock":      {Bucket: aws.String("taken"), ObjectLockEnabledForBucket: aws.Bool(true)},
	} {
		_, err := other.CreateBucket(ctx, in)
		if code, status := apiCode(err); code != "BucketAlreadyExists" || status != 409 {
			t.Errorf("%s: got %q %d (%v), want BucketAlreadyExists 409", name, code, status, err)
		}
	}
	// An IAM user of the other account, too.
	creds := e.tenants[0]
	rivalUser := &testEnv{t: t, cluster: e.cluster, iam: e.iam, root: creds}
	id, secret := rivalUser.newUser("builder", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}`)
	_, err = e.client(id, secret).CreateBucket(ctx, &sdks3.CreateBucketInput{Bucket: aws.String("taken")})
	wantCode(t, err, "BucketAlreadyExists", 409)
	// An IAM user of the owner's account hears that its account owns it.
	id, secret = e.newUser("colleague", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}`)
	_, err = e.client(id, secret).CreateBucket(ctx, &sdks3.CreateBucketInput{Bucket: aws.String("taken")})
	wantCode(t, err, "BucketAlreadyOwnedByYou", 409)

	b, err := e.cluster.st.Bucket("taken")
	if err != nil {
		t.Fatal(err)
	}
	if b.Owner != e.root.AccountID || b.ACL != "" || b.Ownership != "" || b.ObjectLock != nil || b.ModifyIndex != b.CreateIndex {
		t.Fatalf("the owner's record changed: %+v", b)
	}
}
