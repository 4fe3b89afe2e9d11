package s3

import (
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdks3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/banyancloud/banyan/objectstore"
)

func TestTagging(t *testing.T) {
	e := newEnv(t)
	c := e.rootClient()
	mustBucket(t, c, "tags")
	_, err := c.GetBucketTagging(ctx, &sdks3.GetBucketTaggingInput{Bucket: aws.String("tags")})
	wantCode(t, err, "NoSuchTagSet", 404)
	if _, err := c.PutBucketTagging(ctx, &sdks3.PutBucketTaggingInput{Bucket: aws.String("tags"), Tagging: &types.Tagging{
		TagSet: []types.Tag{{Key: aws.String("team"), Value: aws.String("storage")}}}}); err != nil {
		t.Fatal(err)
	}
	bt, err := c.GetBucketTagging(ctx, &sdks3.GetBucketTaggingInput{Bucket: aws.String("tags")})
	if err != nil || len(bt.TagSet) != 1 || *bt.TagSet[0].Value != "storage" {
		t.Fatalf("GetBucketTagging: %v %+v", err, bt)
	}
	_, err = c.PutBucketTagging(ctx, &sdks3.PutBucketTaggingInput{Bucket: aws.String("tags"), Tagging: &types.Tagging{
		TagSet: []types.Tag{{Key: aws.String("a"), Value: aws.String("1")}, {Key: aws.String("a"), Value: aws.String("2")}}}})
	wantCode(t, err, "InvalidTag", 400)
	if _, err := c.DeleteBucketTagging(ctx, &sdks3.DeleteBucketTaggingInput{Bucket: aws.String("tags")}); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetBucketTagging(ctx, &sdks3.GetBucketTaggingInput{Bucket: aws.String("tags")})
	wantCode(t, err, "NoSuchTagSet", 404)

	put(t, c, "tags", "obj", "x")
	if _, err := c.PutObjectTagging(ctx, &sdks3.PutObjectTaggingInput{Bucket: aws.String("tags"), Key: aws.String("obj"), Tagging: &types.Tagging{
		TagSet: []types.Tag{{Key: aws.String("k"), Value: aws.String("v")}}}}); err != nil {
		t.Fatal(err)
	}
	ot, err := c.GetObjectTagging(ctx, &sdks3.GetObjectTaggingInput{Bucket: aws.String("tags"), Key: aws.String("obj")})
	if err != nil || len(ot.TagSet) != 1 || *ot.TagSet[0].Key != "k" {
		t.Fatalf("GetObjectTagging: %v %+v", err, ot)
	}
	var many []types.Tag
	for i := 0; i < 11; i++ {
		many = append(many, types.Tag{Key: aws.String(strings.Repeat("k", i+1)), Value: aws.String("v")})
	}
	_, err = c.PutObjectTagging(ctx, &sdks3.PutObjectTaggingInput{Bucket: aws.String("tags"), Key: aws.String("obj"), Tagging: &types.Tagging{TagSet: many}})
	wantCode(t, err, "InvalidTag", 400)
	if _, err := c.DeleteObjectTagging(ctx, &sdks3.DeleteObjectTaggingInput{Bucket: aws.String("tags"), Key: aws.String("obj")}); err != nil {
		t.Fatal(err)
	}
	ot, _ = c.GetObjectTagging(ctx, &sdks3.GetObjectTaggingInput{Bucket: aws.String("tags"), Key: aws.String("obj")})
	if len(ot.TagSet) != 0 {
		t.Fatalf("tags after delete: %+v", ot.TagSet)
	}
	_, err = c.GetObjectTagging(ctx, &sdks3.GetObjectTaggingInput{Bucket: aws.String("tags"), Key: aws.String("none")})
	wantCode(t, err, "NoSuchKey", 404)
}

func TestCORS(t *testing.T) {
	e := newEnv(t)
	c := e.rootClient()
	mustBucket(t, c, "web")
	put(t, c, "web", "page", "x")
	preflight := map[string]string{"Origin": "https://app.example.com", "Access-Control-Request-Method": "PUT", "Access-Control-Request-Headers": "content-type, x-amz-meta-a"}
	resp, body := e.raw("OPTIONS", "/web/page", nil, preflight)
	if resp.StatusCode != 403 || !strings.Contains(string(body), "CORS is not enabled for this bucket") {
		t.Fatalf("preflight without CORS: %d %s", resp.StatusCode, body)
	}
	_, err := c.GetBucketCors(ctx, &sdks3.GetBucketCorsInput{Bucket: aws.String("web")})
	wantCode(t, err, "NoSuchCORSConfiguration", 404)
	_, err = c.PutBucketCors(ctx, &sdks3.PutBucketCorsInput{Bucket: aws.String("web"), CORSConfiguration: &types.CORSConfiguration{CORSRules: []types.CORSRule{
		{AllowedMethods: []string{"PATCH"}, AllowedOrigins: []string{"*"}}}}})
	wantCode(t, err, "InvalidRequest", 400)
	if _, err := c.PutBucketCors(ctx, &sdks3.PutBucketCorsInput{Bucket: aws.String("web"), CORSConfiguration: &types.CORSConfiguration{CORSRules: []types.CORSRule{
		{AllowedMethods: []string{"GET", "PUT"}, AllowedOrigins: []string{"https://*.example.com"}, AllowedHeaders: []string{"content-type", "x-amz-meta-*"},
			ExposeHeaders: []string{"ETag"}, MaxAgeSeconds: aws.Int32(300)}}}}); err != nil {
		t.Fatal(err)
	}
	gc, err := c.GetBucketCors(ctx, &sdks3.GetBucketCorsInput{Bucket: aws.String("web")})
	if err != nil || len(gc.CORSRules) != 1 || len(gc.CORSRules[0].AllowedHeaders) != 2 {
		t.Fatalf("GetBucketCors: %v %+v", err, gc)
	}
	resp, body = e.raw("OPTIONS", "/web/page", nil, preflight)
	if resp.StatusCode != 200 || resp.Header.Get("Access-Control-Allow-Origin") != "https://app.example.com" ||
		resp.Header.Get("Access-Control-Max-Age") != "300" || !strings.Contains(resp.Header.Get("Access-Control-Allow-Methods"), "PUT") {
		t.Fatalf("preflight: %d %v %s", resp.StatusCode, resp.Header, body)
	}
	resp, _ = e.raw("OPTIONS", "/web/page", nil, map[string]string{"Origin": "https://evil.test", "Access-Control-Request-Method": "GET"})
	if resp.StatusCode != 403 {
		t.Fatalf("preflight from another origin: %d", resp.StatusCode)
	}
	resp, _ = e.raw("OPTIONS", "/web/page", nil, map[string]string{"Origin": "https://app.example.com", "Access-Control-Request-Method": "DELETE"})
	if resp.StatusCode != 403 {
		t.Fatalf("preflight for another method: %d", resp.StatusCode)
	}
	resp, _ = e.raw("OPTIONS", "/web/page", nil, nil)
	if resp.StatusCode != 400 {
		t.Fatalf("preflight without Origin: %d", resp.StatusCode)
	}
	// An actual request from an allowed origin carries the headers.
	r2, _ := e.signed("GET", "/web/page", nil, 0, map[string]string{"Origin": "https://app.example.com"})
	if r2.StatusCode != 200 || r2.Header.Get("Access-Control-Allow-Origin") != "https://app.example.com" || r2.Header.Get("Access-Control-Expose-Headers") != "ETag" {
		t.Fatalf("actual CORS request: %d %v", r2.StatusCode, r2.Header)
	}
	if _, err := c.DeleteBucketCors(ctx, &sdks3.DeleteBucketCorsInput{Bucket: aws.String("web")}); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetBucketCors(ctx, &sdks3.GetBucketCorsInput{Bucket: aws.String("web")})
	wantCode(t, err, "NoSuchCORSConfiguration", 404)
}

func TestLifecycle(t *testing.T) {
	e := newEnv(t)
	c := e.rootClient()
	mustBucket(t, c, "lcu")
	mustBucket(t, c, "lcv")
	_, err := c.GetBucketLifecycleConfiguration(ctx, &sdks3.GetBucketLifecycleConfigurationInput{Bucket: aws.String("lcu")})
	wantCode(t, err, "NoSuchLifecycleConfiguration", 404)
	_, err = c.PutBucketLifecycleConfiguration(ctx, &sdks3.PutBucketLifecycleConfigurationInput{Bucket: aws.String("lcu"),
		LifecycleConfiguration: &types.BucketLifecycleConfiguration{Rules: []types.LifecycleRule{{ID: aws.String("r"), Status: types.ExpirationStatusEnabled,
			Filter: &types.LifecycleRuleFilter{Prefix: aws.String("")}, Expiration: &types.LifecycleExpiration{Days: aws.Int32(0)}}}}})
	wantCode(t, err, "InvalidArgument", 400)
	_, err = c.PutBucketLifecycleConfiguration(ctx, &sdks3.PutBucketLifecycleConfigurationInput{Bucket: aws.String("lcu"),
		LifecycleConfiguration: &types.BucketLifecycleConfiguration{Rules: []types.LifecycleRule{{ID: aws.String("r"), Status: types.ExpirationStatusEnabled,
			Filter: &types.LifecycleRuleFilter{Prefix: aws.String("")}}}}})
	wantCode(t, err, "InvalidRequest", 400)

	rules := []types.LifecycleRule{
		{ID: aws.String("tmp"), Status: types.ExpirationStatusEnabled, Filter: &types.LifecycleRuleFilter{Prefix: aws.String("tmp/")},
			Expiration: &types.LifecycleExpiration{Days: aws.Int32(1)}},
		{ID: aws.String("old"), Status: types.ExpirationStatusEnabled, Filter: &types.LifecycleRuleFilter{Prefix: aws.String("")},
			NoncurrentVersionExpiration:    &types.NoncurrentVersionExpiration{NoncurrentDays: aws.Int32(1)},
			AbortIncompleteMultipartUpload: &types.AbortIncompleteMultipartUpload{DaysAfterInitiation: aws.Int32(2)}},
	}
	for _, b := range []string{"lcu", "lcv"} {
		if _, err := c.PutBucketLifecycleConfiguration(ctx, &sdks3.PutBucketLifecycleConfigurationInput{Bucket: aws.String(b),
			LifecycleConfiguration: &types.BucketLifecycleConfiguration{Rules: rules}}); err != nil {
			t.Fatal(err)
		}
	}
	gl, err := c.GetBucketLifecycleConfiguration(ctx, &sdks3.GetBucketLifecycleConfigurationInput{Bucket: aws.String("lcu")})
	if err != nil || len(gl.Rules) != 2 || *gl.Rules[0].Expiration.Days != 1 {
		t.Fatalf("GetBucketLifecycleConfiguration: %v %+v", err, gl)
	}
	if _, err := c.PutBucketVersioning(ctx, &sdks3.PutBucketVersioningInput{Bucket: aws.String("lcv"),
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}}); err != nil {
		t.Fatal(err)
	}
	for _, b := range []string{"lcu", "lcv"} {
		put(t, c, b, "tmp/a", "1")
		put(t, c, b, "keep", "1")
		put(t, c, b, "keep", "2")
		if _, err := c.CreateMultipartUpload(ctx, &sdks3.CreateMultipartUploadInput{Bucket: aws.String(b), Key: aws.String("mpu")}); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now()
	if err := e.front.RunLifecycle(ctx, now); err != nil {
		t.Fatal(err)
	}
	count := func(b string) (objects, versions, markers, uploads int) {
		l, _ := e.objects.ListObjects(ctx, b, objectstore.ListOptions{MaxKeys: 1000})
		v, _ := e.objects.ListObjectVersions(ctx, b, objectstore.ListVersionsOptions{MaxKeys: 1000})
		u, _ := e.objects.ListMultipartUploads(ctx, b, objectstore.ListUploadsOptions{MaxUploads: 1000})
		for _, x := range v.Versions {
			if x.DeleteMarker {
				markers++
			} else {
				versions++
			}
		}
		return len(l.Objects), versions, markers, len(u.Uploads)
	}
	if o, v, m, u := count("lcv"); o != 2 || v != 3 || m != 0 || u != 1 {
		t.Fatalf("nothing is due yet: %d objects %d versions %d markers %d uploads", o, v, m, u)
	}
	if err := e.front.RunLifecycle(ctx, now.Add(72*time.Hour)); err != nil {
		t.Fatal(err)
	}
	// Unversioned: tmp/a is gone. Versioned: tmp/a is hidden by a delete marker; the
	// versions made noncurrent (keep's first, and tmp/a's by that marker, whose time is
	// the double's real clock) are more than a day old by the rules' clock; the stale
	// upload is aborted.
	if o, _, _, u := count("lcu"); o != 1 || u != 0 {
		t.Fatalf("unversioned after expiry: %d objects %d uploads", o, u)
	}
	if o, v, m, u := count("lcv"); o != 1 || v != 1 || m != 1 || u != 0 {
		t.Fatalf("versioned after expiry: %d objects %d versions %d markers %d uploads", o, v, m, u)
	}
	// The marker stays: the rules do not ask for expired delete markers to go.
	if err := e.front.RunLifecycle(ctx, now.Add(10*24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if o, v, m, _ := count("lcv"); o != 1 || v != 1 || m != 1 {
		t.Fatalf("versioned later: %d objects %d versions %d markers", o, v, m)
	}
	if _, err := c.DeleteBucketLifecycle(ctx, &sdks3.DeleteBucketLifecycleInput{Bucket: aws.String("lcu")}); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetBucketLifecycleConfiguration(ctx, &sdks3.GetBucketLifecycleConfigurationInput{Bucket: aws.String("lcu")})
	wantCode(t, err, "NoSuchLifecycleConfiguration", 404)
}

// A delete marker left as a key's only version goes when ExpiredObjectDeleteMarker asks.
func TestLifecycleExpiredDeleteMarker(t *testing.T) {
	e := newEnv(t)
	c := e.rootClient()
	mustBucket(t, c, "edm")
	if _, err := c.PutBucketVersioning(ctx, &sdks3.PutBucketVersioningInput{Bucket: aws.String("edm"),
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}}); err != nil {
		t.Fatal(err)
	}
	p := put(t, c, "edm", "gone", "x")
	put(t, c, "edm", "stays", "x")
	if _, err := c.DeleteObject(ctx, &sdks3.DeleteObjectInput{Bucket: aws.String("edm"), Key: aws.String("gone")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeleteObject(ctx, &sdks3.DeleteObjectInput{Bucket: aws.String("edm"), Key: aws.String("gone"), VersionId: p.VersionId}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutBucketLifecycleConfiguration(ctx, &sdks3.PutBucketLifecycleConfigurationInput{Bucket: aws.String("edm"),
		LifecycleConfiguration: &types.BucketLifecycleConfiguration{Rules: []types.LifecycleRule{{ID: aws.String("m"), Status: types.ExpirationStatusEnabled,
			Filter: &types.LifecycleRuleFilter{Prefix: aws.String("")}, Expiration: &types.LifecycleExpiration{ExpiredObjectDeleteMarker: aws.Bool(true)}}}}}); err != nil {
		t.Fatal(err)
	}
	if err := e.front.RunLifecycle(ctx, time.Now()); err != nil {
		t.Fatal(err)
	}
	v, _ := e.objects.ListObjectVersions(ctx, "edm", objectstore.ListVersionsOptions{MaxKeys: 100})
	if len(v.Versions) != 1 || v.Versions[0].Key != "stays" {
		t.Fatalf("versions left: %+v", v.Versions)
	}
}
