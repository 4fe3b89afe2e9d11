package s3

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdks3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

func TestAnonymousAndPolicies(t *testing.T) {
	e := newEnv(t)
	c := e.rootClient()
	mustBucket(t, c, "pub")
	put(t, c, "pub", "doc.txt", "public words")
	put(t, c, "pub", "secret/x", "hidden")

	resp, body := e.raw("GET", "/pub/doc.txt", nil, nil)
	if resp.StatusCode != 403 || errorCode(body) != "AccessDenied" {
		t.Fatalf("anonymous GET before policy: %d %s", resp.StatusCode, body)
	}
	_, err := c.GetBucketPolicy(ctx, &sdks3.GetBucketPolicyInput{Bucket: aws.String("pub")})
	wantCode(t, err, "NoSuchBucketPolicy", 404)
	_, err = c.PutBucketPolicy(ctx, &sdks3.PutBucketPolicyInput{Bucket: aws.String("pub"), Policy: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::pub/*"}]}`)})
	wantCode(t, err, "MalformedPolicy", 400) // a resource policy needs a Principal
	_, err = c.PutBucketPolicy(ctx, &sdks3.PutBucketPolicyInput{Bucket: aws.String("pub"), Policy: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::other/*"}]}`)})
	wantCode(t, err, "MalformedPolicy", 400)
	_, err = c.PutBucketPolicy(ctx, &sdks3.PutBucketPolicyInput{Bucket: aws.String("pub"), Policy: aws.String(`not json`)})
	wantCode(t, err, "MalformedPolicy", 400)

	policy := `{"Version":"2012-10-17","Statement":[
	 {"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::pub/*"},
	 {"Effect":"Deny","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::pub/secret/*"}]}`
	if _, err := c.PutBucketPolicy(ctx, &sdks3.PutBucketPolicyInput{Bucket: aws.String("pub"), Policy: aws.String(policy)}); err != nil {
		t.Fatal(err)
	}
	gp, err := c.GetBucketPolicy(ctx, &sdks3.GetBucketPolicyInput{Bucket: aws.String("pub")})
	if err != nil || *gp.Policy != policy {
		t.Fatalf("GetBucketPolicy: %v %v", err, gp)
	}
	resp, body = e.raw("GET", "/pub/doc.txt", nil, nil)
	if resp.StatusCode != 200 || string(body) != "public words" {
		t.Fatalf("anonymous GET with policy: %d %s", resp.StatusCode, body)
	}
	resp, body = e.raw("GET", "/pub/secret/x", nil, nil)
	if resp.StatusCode != 403 {
		t.Fatalf("explicit deny: %d %s", resp.StatusCode, body)
	}
	resp, _ = e.raw("GET", "/pub/doc.txt?response-content-type=x/y", nil, nil)
	if resp.StatusCode != 400 {
		t.Fatalf("anonymous response override: %d", resp.StatusCode)
	}
	resp, body = e.raw("GET", "/pub", nil, nil)
	if resp.StatusCode != 403 {
		t.Fatalf("anonymous list without permission: %d %s", resp.StatusCode, body)
	}
	resp, _ = e.raw("PUT", "/pub/new", []byte("x"), nil)
	if resp.StatusCode != 403 {
		t.Fatalf("anonymous PUT: %d", resp.StatusCode)
	}
	// Virtual-host addressing reaches the same object.
	resp, body = e.raw("GET", "/doc.txt", nil, map[string]string{"Host": "pub.s3.test"})
	if resp.StatusCode != 200 || string(body) != "public words" {
		t.Fatalf("virtual host GET: %d %s", resp.StatusCode, body)
	}
	if _, err := c.DeleteBucketPolicy(ctx, &sdks3.DeleteBucketPolicyInput{Bucket: aws.String("pub")}); err != nil {
		t.Fatal(err)
	}
	resp, _ = e.raw("GET", "/pub/doc.txt", nil, nil)
	if resp.StatusCode != 403 {
		t.Fatalf("anonymous GET after policy deletion: %d", resp.StatusCode)
	}

	// Canned ACLs: a public-read bucket lists, a public-read object reads.
	if _, err := c.PutBucketAcl(ctx, &sdks3.PutBucketAclInput{Bucket: aws.String("pub"), ACL: types.BucketCannedACLPublicRead}); err != nil {
		t.Fatal(err)
	}
	resp, body = e.raw("GET", "/pub?list-type=2", nil, nil)
	if resp.StatusCode != 200 || !bytes.Contains(body, []byte("<Key>doc.txt</Key>")) {
		t.Fatalf("anonymous list of a public-read bucket: %d %s", resp.StatusCode, body)
	}
	acl, err := c.GetBucketAcl(ctx, &sdks3.GetBucketAclInput{Bucket: aws.String("pub")})
	if err != nil || len(acl.Grants) != 2 {
		t.Fatalf("GetBucketAcl: %v %+v", err, acl)
	}
	if _, err := c.PutObject(ctx, &sdks3.PutObjectInput{Bucket: aws.String("pub"), Key: aws.String("open"), Body: strings.NewReader("o"), ACL: types.ObjectCannedACLPublicRead}); err != nil {
		t.Fatal(err)
	}
	resp, body = e.raw("GET", "/pub/open", nil, nil)
	if resp.StatusCode != 200 || string(body) != "o" {
		t.Fatalf("anonymous GET of a public-read object: %d %s", resp.StatusCode, body)
	}
	oacl, err := c.GetObjectAcl(ctx, &sdks3.GetObjectAclInput{Bucket: aws.String("pub"), Key: aws.String("open")})
	if err != nil || len(oacl.Grants) != 2 {
		t.Fatalf("GetObjectAcl: %v %+v", err, oacl)
	}
	resp, _ = e.raw("GET", "/pub/doc.txt", nil, nil)
	if resp.StatusCode != 403 {
		t.Fatalf("private object in a public-read bucket: %d", resp.StatusCode)
	}
	// PutObjectAcl changes the ACL of the object in place, both ways; a grant list may
	// not name another owner (grants_test.go has the rest).
	if _, err := c.PutObjectAcl(ctx, &sdks3.PutObjectAclInput{Bucket: aws.String("pub"), Key: aws.String("doc.txt"), ACL: types.ObjectCannedACLPublicRead}); err != nil {
		t.Fatal(err)
	}
	resp, body = e.raw("GET", "/pub/doc.txt", nil, nil)
	if resp.StatusCode != 200 || string(body) != "public words" {
		t.Fatalf("anonymous GET after PutObjectAcl public-read: %d %s", resp.StatusCode, body)
	}
	if _, err := c.PutObjectAcl(ctx, &sdks3.PutObjectAclInput{Bucket: aws.String("pub"), Key: aws.String("doc.txt"), ACL: types.ObjectCannedACLPrivate}); err != nil {
		t.Fatal(err)
	}
	if resp, _ = e.raw("GET", "/pub/doc.txt", nil, nil); resp.StatusCode != 403 {
		t.Fatalf("anonymous GET after PutObjectAcl private: %d", resp.StatusCode)
	}
	_, err = c.PutObjectAcl(ctx, &sdks3.PutObjectAclInput{Bucket: aws.String("pub"), Key: aws.String("doc.txt"),
		AccessControlPolicy: &types.AccessControlPolicy{Owner: &types.Owner{ID: aws.String("x")}}})
	if err == nil || !strings.Contains(err.Error(), "AccessDenied") {
		t.Fatalf("PutObjectAcl with a grant list naming another owner: %v", err)
	}
	if _, err := c.PutObjectAcl(ctx, &sdks3.PutObjectAclInput{Bucket: aws.String("pub"), Key: aws.String("missing"), ACL: types.ObjectCannedACLPublicRead}); err == nil || !strings.Contains(err.Error(), "NoSuchKey") {
		t.Fatalf("PutObjectAcl on a missing key: %v", err)
	}
	// Anonymous callers may not list buckets or create them.
	resp, _ = e.raw("GET", "/", nil, nil)
	if resp.StatusCode != 403 {
		t.Fatalf("anonymous ListBuckets: %d", resp.StatusCode)
	}
	resp, _ = e.raw("PUT", "/anonbucket", nil, nil)
	if resp.StatusCode != 403 {
		t.Fatalf("anonymous CreateBucket: %d", resp.StatusCode)
	}
}

func TestUsersAndCrossAccount(t *testing.T) {
	e := newEnv(t)
	c := e.rootClient()
	mustBucket(t, c, "team")
	put(t, c, "team", "a", "a")
	id, secret := e.newUser("nobody", "")
	nobody := e.client(id, secret)
	_, err := nobody.GetObject(ctx, &sdks3.GetObjectInput{Bucket: aws.String("team"), Key: aws.String("a")})
	wantCode(t, err, "AccessDenied", 403)
	_, err = nobody.ListObjectsV2(ctx, &sdks3.ListObjectsV2Input{Bucket: aws.String("team")})
	wantCode(t, err, "AccessDenied", 403)
	_, err = nobody.PutObject(ctx, &sdks3.PutObjectInput{Bucket: aws.String("team"), Key: aws.String("b"), Body: strings.NewReader("b")})
	wantCode(t, err, "AccessDenied", 403)

	id, secret = e.newUser("reader", `{"Version":"2012-10-17","Statement":[
	 {"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::team/*"},
	 {"Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:s3:::team","Condition":{"StringEquals":{"s3:prefix":"a"}}}]}`)
	reader := e.client(id, secret)
	if _, body := get(t, reader, &sdks3.GetObjectInput{Bucket: aws.String("team"), Key: aws.String("a")}); body != "a" {
		t.Fatal(body)
	}
	if _, err := reader.ListObjectsV2(ctx, &sdks3.ListObjectsV2Input{Bucket: aws.String("team"), Prefix: aws.String("a")}); err != nil {
		t.Fatalf("list with the allowed prefix: %v", err)
	}
	_, err = reader.ListObjectsV2(ctx, &sdks3.ListObjectsV2Input{Bucket: aws.String("team")})
	wantCode(t, err, "AccessDenied", 403)
	_, err = reader.DeleteObject(ctx, &sdks3.DeleteObjectInput{Bucket: aws.String("team"), Key: aws.String("a")})
	wantCode(t, err, "AccessDenied", 403)

	// Another account's root: denied until the bucket policy names its account.
	tenant, err := iamTenant(e, "tenant")
	if err != nil {
		t.Fatal(err)
	}
	_, err = tenant.GetObject(ctx, &sdks3.GetObjectInput{Bucket: aws.String("team"), Key: aws.String("a")})
	wantCode(t, err, "AccessDenied", 403)
	list, _ := tenant.ListBuckets(ctx, &sdks3.ListBucketsInput{})
	if len(list.Buckets) != 0 {
		t.Fatalf("tenant sees %d buckets", len(list.Buckets))
	}
	tenantAccount := e.accountOf(t, "tenant")
	if _, err := c.PutBucketPolicy(ctx, &sdks3.PutBucketPolicyInput{Bucket: aws.String("team"), Policy: aws.String(`{"Version":"2012-10-17","Statement":[
	 {"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + tenantAccount + `:root"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::team/*"}]}`)}); err != nil {
		t.Fatal(err)
	}
	if _, body := get(t, tenant, &sdks3.GetObjectInput{Bucket: aws.String("team"), Key: aws.String("a")}); body != "a" {
		t.Fatal(body)
	}
	_, err = tenant.PutObject(ctx, &sdks3.PutObjectInput{Bucket: aws.String("team"), Key: aws.String("b"), Body: strings.NewReader("b")})
	wantCode(t, err, "AccessDenied", 403)
	// A caller allowed to read but not to list learns nothing from a missing key.
	_, err = tenant.GetObject(ctx, &sdks3.GetObjectInput{Bucket: aws.String("team"), Key: aws.String("missing")})
	wantCode(t, err, "AccessDenied", 403)
	_, err = c.GetObject(ctx, &sdks3.GetObjectInput{Bucket: aws.String("team"), Key: aws.String("a"), ExpectedBucketOwner: aws.String(tenantAccount)})
	wantCode(t, err, "AccessDenied", 403)
}

func TestPresigned(t *testing.T) {
	e := newEnv(t)
	c := e.rootClient()
	mustBucket(t, c, "pre")
	ps := sdks3.NewPresignClient(c)
	up, err := ps.PresignPutObject(ctx, &sdks3.PutObjectInput{Bucket: aws.String("pre"), Key: aws.String("up")}, sdks3.WithPresignExpires(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("PUT", up.URL, strings.NewReader("via presigned PUT"))
	for k, v := range up.SignedHeader {
		if k != "Host" {
			req.Header[k] = v
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("presigned PUT: %d %s", resp.StatusCode, body)
	}
	dn, err := ps.PresignGetObject(ctx, &sdks3.GetObjectInput{Bucket: aws.String("pre"), Key: aws.String("up")}, sdks3.WithPresignExpires(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	resp, err = http.Get(dn.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "via presigned PUT" {
		t.Fatalf("presigned GET: %d %s", resp.StatusCode, body)
	}
	resp, _ = http.Get(dn.URL + "x")
	if resp.StatusCode != 403 {
		t.Fatalf("tampered presigned GET: %d", resp.StatusCode)
	}
}

func TestCannedACLs(t *testing.T) {
	e := newEnv(t)
	c := e.rootClient()
	if _, err := c.CreateBucket(ctx, &sdks3.CreateBucketInput{Bucket: aws.String("drop"), ACL: types.BucketCannedACLPublicReadWrite}); err != nil {
		t.Fatal(err)
	}
	resp, body := e.raw("PUT", "/drop/anon", []byte("from anyone"), nil)
	if resp.StatusCode != 200 {
		t.Fatalf("anonymous PUT into public-read-write: %d %s", resp.StatusCode, body)
	}
	if _, err := c.CreateBucket(ctx, &sdks3.CreateBucketInput{Bucket: aws.String("members"), ACL: types.BucketCannedACLAuthenticatedRead}); err != nil {
		t.Fatal(err)
	}
	resp, _ = e.raw("GET", "/members", nil, nil)
	if resp.StatusCode != 403 {
		t.Fatalf("anonymous list of authenticated-read: %d", resp.StatusCode)
	}
	other, err := iamTenant(e, "other")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.ListObjectsV2(ctx, &sdks3.ListObjectsV2Input{Bucket: aws.String("members")}); err != nil {
		t.Fatalf("authenticated list of authenticated-read: %v", err)
	}
	_, err = c.PutBucketAcl(ctx, &sdks3.PutBucketAclInput{Bucket: aws.String("members"), ACL: "everyone"})
	wantCode(t, err, "InvalidArgument", 400)
}

// TestPolicyConditionKeysOfTheRequest: a bucket policy that denies uploads without
// SSE-S3 (s3:x-amz-server-side-encryption) refuses a plain PUT and admits an encrypted
// one; one that lets anonymous readers in only from a referring site (aws:Referer) admits
// them with the header and refuses them without.
func TestPolicyConditionKeysOfTheRequest(t *testing.T) {
	e, _ := sseEnv(t, false)
	c := e.rootClient()
	mustBucket(t, c, "cond")
	put(t, c, "cond", "page.html", "hello")
	policy := `{"Version":"2012-10-17","Statement":[
	 {"Effect":"Deny","Principal":"*","Action":"s3:PutObject","Resource":"arn:aws:s3:::cond/*",
	  "Condition":{"StringNotEquals":{"s3:x-amz-server-side-encryption":"AES256"}}},
	 {"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::cond/*",
	  "Condition":{"StringLike":{"aws:Referer":"https://www.example.com/*"}}}]}`
	if _, err := c.PutBucketPolicy(ctx, &sdks3.PutBucketPolicyInput{Bucket: aws.String("cond"), Policy: aws.String(policy)}); err != nil {
		t.Fatal(err)
	}
	_, err := c.PutObject(ctx, &sdks3.PutObjectInput{Bucket: aws.String("cond"), Key: aws.String("plain"), Body: strings.NewReader("x")})
	wantCode(t, err, "AccessDenied", 403)
	if _, err := c.PutObject(ctx, &sdks3.PutObjectInput{Bucket: aws.String("cond"), Key: aws.String("sealed"), Body: strings.NewReader("x"),
		ServerSideEncryption: types.ServerSideEncryptionAes256}); err != nil {
		t.Fatalf("PUT with SSE-S3 under a policy requiring it: %v", err)
	}
	resp, body := e.raw("GET", "/cond/page.html", nil, nil)
	if resp.StatusCode != 403 {
		t.Fatalf("anonymous GET without a Referer: %d %s", resp.StatusCode, body)
	}
	resp, body = e.raw("GET", "/cond/page.html", nil, map[string]string{"Referer": "https://www.example.com/index.html"})
	if resp.StatusCode != 200 || string(body) != "hello" {
		t.Fatalf("anonymous GET with the Referer: %d %s", resp.StatusCode, body)
	}
	// s3:ExistingObjectTag: a deny on the object's own tags, and an allow of tagged ones.
	policy = `{"Version":"2012-10-17","Statement":[
	 {"Effect":"Deny","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::cond/*",
	  "Condition":{"StringEquals":{"s3:ExistingObjectTag/classification":"secret"}}},
	 {"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::cond/*",
	  "Condition":{"StringEquals":{"s3:ExistingObjectTag/public":"yes"}}}]}`
	if _, err := c.PutBucketPolicy(ctx, &sdks3.PutBucketPolicyInput{Bucket: aws.String("cond"), Policy: aws.String(policy)}); err != nil {
		t.Fatal(err)
	}
	for key, tagging := range map[string]string{"open": "public=yes", "closed": "classification=secret", "untagged": ""} {
		in := &sdks3.PutObjectInput{Bucket: aws.String("cond"), Key: aws.String(key), Body: strings.NewReader(key)}
		if tagging != "" {
			in.Tagging = aws.String(tagging)
		}
		if _, err := c.PutObject(ctx, in); err != nil {
			t.Fatal(err)
		}
	}
	for key, want := range map[string]int{"open": 200, "closed": 403, "untagged": 403} {
		if resp, body := e.raw("GET", "/cond/"+key, nil, nil); resp.StatusCode != want {
			t.Fatalf("anonymous GET of %s: %d, want %d: %s", key, resp.StatusCode, want, body)
		}
	}
	_, err = c.GetObject(ctx, &sdks3.GetObjectInput{Bucket: aws.String("cond"), Key: aws.String("closed")})
	wantCode(t, err, "AccessDenied", 403) // the bucket policy's deny binds the owner too
	if _, err := c.GetObject(ctx, &sdks3.GetObjectInput{Bucket: aws.String("cond"), Key: aws.String("untagged")}); err != nil {
		t.Fatalf("the owner's GET of an untagged object: %v", err)
	}
	// s3:RequestObjectTag, s3:x-amz-copy-source and s3:VersionId.
	policy = `{"Version":"2012-10-17","Statement":[
	 {"Effect":"Deny","Principal":"*","Action":"s3:PutObject","Resource":"arn:aws:s3:::cond/tagged/*",
	  "Condition":{"StringNotEquals":{"s3:RequestObjectTag/team":"blue"}}},
	 {"Effect":"Deny","Principal":"*","Action":"s3:PutObject","Resource":"arn:aws:s3:::cond/copies/*",
	  "Condition":{"StringNotLike":{"s3:x-amz-copy-source":"cond/open*"}}},
	 {"Effect":"Deny","Principal":"*","Action":"s3:GetObjectVersion","Resource":"arn:aws:s3:::cond/*",
	  "Condition":{"StringEquals":{"s3:VersionId":"denied-version"}}}]}`
	if _, err := c.PutBucketPolicy(ctx, &sdks3.PutBucketPolicyInput{Bucket: aws.String("cond"), Policy: aws.String(policy)}); err != nil {
		t.Fatal(err)
	}
	_, err = c.PutObject(ctx, &sdks3.PutObjectInput{Bucket: aws.String("cond"), Key: aws.String("tagged/a"), Body: strings.NewReader("a"), Tagging: aws.String("team=red")})
	wantCode(t, err, "AccessDenied", 403)
	if _, err := c.PutObject(ctx, &sdks3.PutObjectInput{Bucket: aws.String("cond"), Key: aws.String("tagged/a"), Body: strings.NewReader("a"), Tagging: aws.String("team=blue")}); err != nil {
		t.Fatalf("PUT with the tag the policy asks for: %v", err)
	}
	_, err = c.CopyObject(ctx, &sdks3.CopyObjectInput{Bucket: aws.String("cond"), Key: aws.String("copies/x"), CopySource: aws.String("cond/closed")})
	wantCode(t, err, "AccessDenied", 403)
	if _, err := c.CopyObject(ctx, &sdks3.CopyObjectInput{Bucket: aws.String("cond"), Key: aws.String("copies/y"), CopySource: aws.String("cond/open")}); err != nil {
		t.Fatalf("a copy from the allowed source: %v", err)
	}
	_, err = c.GetObject(ctx, &sdks3.GetObjectInput{Bucket: aws.String("cond"), Key: aws.String("open"), VersionId: aws.String("denied-version")})
	wantCode(t, err, "AccessDenied", 403)
}
