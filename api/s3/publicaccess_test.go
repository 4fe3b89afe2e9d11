package s3

import (
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdks3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

func putPAB(t *testing.T, c *sdks3.Client, bucket string, cfg types.PublicAccessBlockConfiguration) {
	t.Helper()
	if _, err := c.PutPublicAccessBlock(ctx, &sdks3.PutPublicAccessBlockInput{Bucket: aws.String(bucket), PublicAccessBlockConfiguration: &cfg}); err != nil {
		t.Fatal(err)
	}
}

func TestPublicAccessBlockConfiguration(t *testing.T) {
	e := newEnv(t)
	c := e.rootClient()
	mustBucket(t, c, "pab")
	_, err := c.GetPublicAccessBlock(ctx, &sdks3.GetPublicAccessBlockInput{Bucket: aws.String("pab")})
	wantCode(t, err, "NoSuchPublicAccessBlockConfiguration", 404)
	putPAB(t, c, "pab", types.PublicAccessBlockConfiguration{BlockPublicAcls: aws.Bool(true), RestrictPublicBuckets: aws.Bool(true)})
	out, err := c.GetPublicAccessBlock(ctx, &sdks3.GetPublicAccessBlockInput{Bucket: aws.String("pab")})
	if err != nil {
		t.Fatal(err)
	}
	got := out.PublicAccessBlockConfiguration
	if !aws.ToBool(got.BlockPublicAcls) || aws.ToBool(got.IgnorePublicAcls) || aws.ToBool(got.BlockPublicPolicy) || !aws.ToBool(got.RestrictPublicBuckets) ||
		got.IgnorePublicAcls == nil || got.BlockPublicPolicy == nil {
		t.Fatalf("GetPublicAccessBlock: %+v", got)
	}
	if b, _ := e.cluster.st.Bucket("pab"); b.PublicAccessBlock == nil || !b.PublicAccessBlock.BlockPublicAcls {
		t.Fatalf("record: %+v", b.PublicAccessBlock)
	}
	// Another account may not read or change it.
	other, err := iamTenant(e, "other")
	if err != nil {
		t.Fatal(err)
	}
	_, err = other.DeletePublicAccessBlock(ctx, &sdks3.DeletePublicAccessBlockInput{Bucket: aws.String("pab")})
	wantCode(t, err, "AccessDenied", 403)
	_, err = other.GetPublicAccessBlock(ctx, &sdks3.GetPublicAccessBlockInput{Bucket: aws.String("pab")})
	wantCode(t, err, "AccessDenied", 403)

	if _, err := c.DeletePublicAccessBlock(ctx, &sdks3.DeletePublicAccessBlockInput{Bucket: aws.String("pab")}); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetPublicAccessBlock(ctx, &sdks3.GetPublicAccessBlockInput{Bucket: aws.String("pab")})
	wantCode(t, err, "NoSuchPublicAccessBlockConfiguration", 404)
	_, err = c.GetPublicAccessBlock(ctx, &sdks3.GetPublicAccessBlockInput{Bucket: aws.String("missing")})
	wantCode(t, err, "NoSuchBucket", 404)
	if resp, body := e.signed(http.MethodPut, "/pab?publicAccessBlock", strings.NewReader("<nope"), 5, nil); resp.StatusCode != 400 || errorCode(body) != "MalformedXML" {
		t.Fatalf("malformed configuration: %d %s", resp.StatusCode, body)
	}
}

func TestBlockPublicAcls(t *testing.T) {
	e := newEnv(t)
	c := e.rootClient()
	mustBucket(t, c, "bpa")
	put(t, c, "bpa", "k", "v")
	putPAB(t, c, "bpa", types.PublicAccessBlockConfiguration{BlockPublicAcls: aws.Bool(true)})
	allUsers := aws.String(`uri="` + allUsersURI + `"`)

	_, err := c.PutBucketAcl(ctx, &sdks3.PutBucketAclInput{Bucket: aws.String("bpa"), ACL: types.BucketCannedACLPublicRead})
	wantCode(t, err, "AccessDenied", 403)
	_, err = c.PutBucketAcl(ctx, &sdks3.PutBucketAclInput{Bucket: aws.String("bpa"), GrantRead: allUsers})
	wantCode(t, err, "AccessDenied", 403)
	_, err = c.PutBucketAcl(ctx, &sdks3.PutBucketAclInput{Bucket: aws.String("bpa"), AccessControlPolicy: &types.AccessControlPolicy{
		Owner: &types.Owner{ID: aws.String(e.root.AccountID)},
		Grants: []types.Grant{{Grantee: &types.Grantee{Type: types.TypeGroup, URI: aws.String("http://acs.amazonaws.com/groups/global/AuthenticatedUsers")},
			Permission: types.PermissionRead}}}})
	wantCode(t, err, "AccessDenied", 403)
	_, err = c.PutObjectAcl(ctx, &sdks3.PutObjectAclInput{Bucket: aws.String("bpa"), Key: aws.String("k"), ACL: types.ObjectCannedACLPublicRead})
	wantCode(t, err, "AccessDenied", 403)
	_, err = c.PutObject(ctx, &sdks3.PutObjectInput{Bucket: aws.String("bpa"), Key: aws.String("pub"), Body: strings.NewReader("x"), ACL: types.ObjectCannedACLPublicRead})
	wantCode(t, err, "AccessDenied", 403)
	_, err = c.PutObject(ctx, &sdks3.PutObjectInput{Bucket: aws.String("bpa"), Key: aws.String("pub"), Body: strings.NewReader("x"), GrantRead: allUsers})
	wantCode(t, err, "AccessDenied", 403)
	_, err = c.CreateMultipartUpload(ctx, &sdks3.CreateMultipartUploadInput{Bucket: aws.String("bpa"), Key: aws.String("mp"), ACL: types.ObjectCannedACLAuthenticatedRead})
	wantCode(t, err, "AccessDenied", 403)
	_, err = c.CopyObject(ctx, &sdks3.CopyObjectInput{Bucket: aws.String("bpa"), Key: aws.String("copy"), CopySource: aws.String("bpa/k"), ACL: types.ObjectCannedACLPublicReadWrite})
	wantCode(t, err, "AccessDenied", 403)
	if resp, _ := e.raw(http.MethodGet, "/bpa/pub", nil, nil); resp.StatusCode != 403 {
		t.Fatalf("a refused public write left a readable object: %d", resp.StatusCode)
	}

	// ACLs that are not public still go through.
	if _, err := c.PutBucketAcl(ctx, &sdks3.PutBucketAclInput{Bucket: aws.String("bpa"), ACL: types.BucketCannedACLPrivate}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutObject(ctx, &sdks3.PutObjectInput{Bucket: aws.String("bpa"), Key: aws.String("priv"), Body: strings.NewReader("x"), ACL: types.ObjectCannedACLBucketOwnerFullControl}); err != nil {
		t.Fatal(err)
	}
	put(t, c, "bpa", "plain", "x")

	// Without the block, the same ACL is accepted.
	if _, err := c.DeletePublicAccessBlock(ctx, &sdks3.DeletePublicAccessBlockInput{Bucket: aws.String("bpa")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutObjectAcl(ctx, &sdks3.PutObjectAclInput{Bucket: aws.String("bpa"), Key: aws.String("k"), ACL: types.ObjectCannedACLPublicRead}); err != nil {
		t.Fatal(err)
	}
}

func TestIgnorePublicAcls(t *testing.T) {
	e := newEnv(t)
	c := e.rootClient()
	tenant, err := iamTenant(e, "reader")
	if err != nil {
		t.Fatal(err)
	}
	tenantID := e.accountOf(t, "reader")
	mustBucket(t, c, "ign")
	if _, err := c.PutObject(ctx, &sdks3.PutObjectInput{Bucket: aws.String("ign"), Key: aws.String("k"), Body: strings.NewReader("v"), ACL: types.ObjectCannedACLPublicRead}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutBucketAcl(ctx, &sdks3.PutBucketAclInput{Bucket: aws.String("ign"),
		GrantRead: aws.String(`uri="` + allUsersURI + `", id="` + tenantID + `"`)}); err != nil {
		t.Fatal(err)
	}
	if resp, _ := e.raw(http.MethodGet, "/ign/k", nil, nil); resp.StatusCode != 200 {
		t.Fatalf("public-read object before: %d", resp.StatusCode)
	}
	if resp, _ := e.raw(http.MethodGet, "/ign", nil, nil); resp.StatusCode != 200 {
		t.Fatalf("AllUsers READ bucket before: %d", resp.StatusCode)
	}
	putPAB(t, c, "ign", types.PublicAccessBlockConfiguration{IgnorePublicAcls: aws.Bool(true)})
	if resp, _ := e.raw(http.MethodGet, "/ign/k", nil, nil); resp.StatusCode != 403 {
		t.Fatalf("public-read object with IgnorePublicAcls: %d", resp.StatusCode)
	}
	if resp, _ := e.raw(http.MethodGet, "/ign", nil, nil); resp.StatusCode != 403 {
		t.Fatalf("AllUsers READ bucket with IgnorePublicAcls: %d", resp.StatusCode)
	}
	// A grant to an account is not public: it still lists.
	if _, err := tenant.ListObjectsV2(ctx, &sdks3.ListObjectsV2Input{Bucket: aws.String("ign")}); err != nil {
		t.Fatalf("grant to an account under IgnorePublicAcls: %v", err)
	}
	// The ACLs are kept, only ignored: they work again once the setting is gone.
	if _, err := c.DeletePublicAccessBlock(ctx, &sdks3.DeletePublicAccessBlockInput{Bucket: aws.String("ign")}); err != nil {
		t.Fatal(err)
	}
	if resp, _ := e.raw(http.MethodGet, "/ign/k", nil, nil); resp.StatusCode != 200 {
		t.Fatalf("public-read object after removing the block: %d", resp.StatusCode)
	}
}

const publicGetPolicy = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::%s/*"}]}`

func TestBlockPublicPolicy(t *testing.T) {
	e := newEnv(t)
	c := e.rootClient()
	if _, err := iamTenant(e, "partner"); err != nil {
		t.Fatal(err)
	}
	partner := e.accountOf(t, "partner")
	mustBucket(t, c, "bpp")
	putPAB(t, c, "bpp", types.PublicAccessBlockConfiguration{BlockPublicPolicy: aws.Bool(true)})
	pol := func(doc string) error {
		_, err := c.PutBucketPolicy(ctx, &sdks3.PutBucketPolicyInput{Bucket: aws.String("bpp"), Policy: aws.String(doc)})
		return err
	}
	wantCode(t, pol(strings.ReplaceAll(publicGetPolicy, "%s", "bpp")), "AccessDenied", 403)
	wantCode(t, pol(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":["*"]},"Action":"s3:GetObject","Resource":"arn:aws:s3:::bpp/*",
		"Condition":{"StringNotEquals":{"aws:SourceAccount":"111122223333"}}}]}`), "AccessDenied", 403)
	if b, _ := e.cluster.st.Bucket("bpp"); b.Policy != "" {
		t.Fatalf("a refused policy was stored: %s", b.Policy)
	}
	for _, ok := range []string{
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"` + partner + `"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::bpp/*"}]}`,
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::bpp/*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}]}`,
		`{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"s3:DeleteObject","Resource":"arn:aws:s3:::bpp/*"}]}`,
	} {
		if err := pol(ok); err != nil {
			t.Fatalf("non-public policy refused: %v\n%s", err, ok)
		}
	}
}

func TestIsPublicPolicy(t *testing.T) {
	for _, tc := range []struct {
		doc    string
		public bool
	}{
		{`{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"*"}]}`, true},
		{`{"Statement":{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"s3:GetObject","Resource":"*"}}`, true},
		{`{"Statement":[{"Effect":"Allow","NotPrincipal":{"AWS":"111122223333"},"Action":"s3:GetObject","Resource":"*"}]}`, true},
		{`{"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"s3:*","Resource":"*"}]}`, false},
		{`{"Statement":[{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"*"}]}`, false},
		{`{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":["10.0.0.0/8","192.168.1.1/32"]}}}]}`, false},
		{`{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"0.0.0.0/0"}}}]}`, true},
		{`{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"*","Condition":{"StringEquals":{"aws:PrincipalOrgID":"o-abc"}}}]}`, false},
		{`{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"*","Condition":{"StringLike":{"aws:SourceArn":"arn:aws:sns:*"}}}]}`, true},
		{`{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"*","Condition":{"StringEqualsIfExists":{"aws:SourceAccount":"111122223333"}}}]}`, true},
		{`{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"*","Condition":{"StringEquals":{"s3:prefix":"home/"}}}]}`, true},
		{`not json`, true},
	} {
		if got := isPublicPolicy(tc.doc); got != tc.public {
			t.Errorf("isPublicPolicy = %v, want %v: %s", got, tc.public, tc.doc)
		}
	}
}

func TestRestrictPublicBuckets(t *testing.T) {
	e := newEnv(t)
	c := e.rootClient()
	tenant, err := iamTenant(e, "outsider")
	if err != nil {
		t.Fatal(err)
	}
	tenantID := e.accountOf(t, "outsider")
	mustBucket(t, c, "rpb")
	put(t, c, "rpb", "k", "v")
	if _, err := c.PutObject(ctx, &sdks3.PutObjectInput{Bucket: aws.String("rpb"), Key: aws.String("acl"), Body: strings.NewReader("v"), ACL: types.ObjectCannedACLPublicRead}); err != nil {
		t.Fatal(err)
	}
	// Public to everyone, and delegated by name to the tenant.
	doc := `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::rpb/*"},
		{"Effect":"Allow","Principal":{"AWS":"` + tenantID + `"},"Action":"s3:ListBucket","Resource":"arn:aws:s3:::rpb"},
		{"Effect":"Deny","Principal":"*","Action":"s3:PutObject","Resource":"arn:aws:s3:::rpb/denied"}]}`
	if _, err := c.PutBucketPolicy(ctx, &sdks3.PutBucketPolicyInput{Bucket: aws.String("rpb"), Policy: aws.String(doc)}); err != nil {
		t.Fatal(err)
	}
	if resp, _ := e.raw(http.MethodGet, "/rpb/k", nil, nil); resp.StatusCode != 200 {
		t.Fatalf("anonymous GET through a public policy: %d", resp.StatusCode)
	}
	if _, err := tenant.ListObjectsV2(ctx, &sdks3.ListObjectsV2Input{Bucket: aws.String("rpb")}); err != nil {
		t.Fatal(err)
	}
	putPAB(t, c, "rpb", types.PublicAccessBlockConfiguration{RestrictPublicBuckets: aws.Bool(true)})
	if resp, _ := e.raw(http.MethodGet, "/rpb/k", nil, nil); resp.StatusCode != 403 {
		t.Fatalf("anonymous GET with RestrictPublicBuckets: %d", resp.StatusCode)
	}
	_, err = tenant.GetObject(ctx, &sdks3.GetObjectInput{Bucket: aws.String("rpb"), Key: aws.String("k")})
	wantCode(t, err, "AccessDenied", 403)
	// Even the delegation by name goes while the policy is public, as on AWS.
	_, err = tenant.ListObjectsV2(ctx, &sdks3.ListObjectsV2Input{Bucket: aws.String("rpb")})
	wantCode(t, err, "AccessDenied", 403)
	// The owner's account is not restricted, and the policy's Deny still applies to it.
	get(t, c, &sdks3.GetObjectInput{Bucket: aws.String("rpb"), Key: aws.String("k")})
	_, err = c.PutObject(ctx, &sdks3.PutObjectInput{Bucket: aws.String("rpb"), Key: aws.String("denied"), Body: strings.NewReader("x")})
	wantCode(t, err, "AccessDenied", 403)
	// ACLs are IgnorePublicAcls' business, not this setting's.
	if resp, _ := e.raw(http.MethodGet, "/rpb/acl", nil, nil); resp.StatusCode != 200 {
		t.Fatalf("public-read object under RestrictPublicBuckets alone: %d", resp.StatusCode)
	}

	// A policy that is not public is not restricted: the delegation works again.
	if _, err := c.PutBucketPolicy(ctx, &sdks3.PutBucketPolicyInput{Bucket: aws.String("rpb"), Policy: aws.String(`{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Principal":{"AWS":"` + tenantID + `"},"Action":"s3:ListBucket","Resource":"arn:aws:s3:::rpb"}]}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := tenant.ListObjectsV2(ctx, &sdks3.ListObjectsV2Input{Bucket: aws.String("rpb")}); err != nil {
		t.Fatalf("non-public delegation under RestrictPublicBuckets: %v", err)
	}
}
