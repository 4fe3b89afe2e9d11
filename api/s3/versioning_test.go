package s3

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdks3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

func TestVersioning(t *testing.T) {
	e := newEnv(t)
	c := e.rootClient()
	mustBucket(t, c, "ver")
	gv, err := c.GetBucketVersioning(ctx, &sdks3.GetBucketVersioningInput{Bucket: aws.String("ver")})
	if err != nil || gv.Status != "" {
		t.Fatalf("initial versioning: %v %+v", err, gv)
	}
	if p := put(t, c, "ver", "k", "unversioned"); p.VersionId != nil {
		t.Fatalf("version ID before versioning: %s", *p.VersionId)
	}
	if _, err := c.PutBucketVersioning(ctx, &sdks3.PutBucketVersioningInput{Bucket: aws.String("ver"),
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}}); err != nil {
		t.Fatal(err)
	}
	gv, _ = c.GetBucketVersioning(ctx, &sdks3.GetBucketVersioningInput{Bucket: aws.String("ver")})
	if gv.Status != types.BucketVersioningStatusEnabled {
		t.Fatalf("status %q", gv.Status)
	}
	v1 := put(t, c, "ver", "k", "one")
	v2 := put(t, c, "ver", "k", "two")
	if v1.VersionId == nil || v2.VersionId == nil || *v1.VersionId == *v2.VersionId {
		t.Fatalf("version IDs %v %v", v1.VersionId, v2.VersionId)
	}
	if _, body := get(t, c, &sdks3.GetObjectInput{Bucket: aws.String("ver"), Key: aws.String("k"), VersionId: v1.VersionId}); body != "one" {
		t.Fatalf("v1 body %q", body)
	}
	if _, body := get(t, c, &sdks3.GetObjectInput{Bucket: aws.String("ver"), Key: aws.String("k"), VersionId: aws.String("null")}); body != "unversioned" {
		t.Fatalf("null version body %q", body)
	}
	del, err := c.DeleteObject(ctx, &sdks3.DeleteObjectInput{Bucket: aws.String("ver"), Key: aws.String("k")})
	if err != nil || !aws.ToBool(del.DeleteMarker) || del.VersionId == nil {
		t.Fatalf("delete: %v %+v", err, del)
	}
	_, err = c.GetObject(ctx, &sdks3.GetObjectInput{Bucket: aws.String("ver"), Key: aws.String("k")})
	wantCode(t, err, "NoSuchKey", 404)
	resp, _ := e.signed("GET", "/ver/k", nil, 0, nil)
	if resp.Header.Get("x-amz-delete-marker") != "true" || resp.Header.Get("x-amz-version-id") != *del.VersionId {
		t.Fatalf("delete marker headers: %v", resp.Header)
	}
	_, err = c.GetObject(ctx, &sdks3.GetObjectInput{Bucket: aws.String("ver"), Key: aws.String("k"), VersionId: del.VersionId})
	wantCode(t, err, "MethodNotAllowed", 405)

	lv, err := c.ListObjectVersions(ctx, &sdks3.ListObjectVersionsInput{Bucket: aws.String("ver")})
	if err != nil || len(lv.Versions) != 3 || len(lv.DeleteMarkers) != 1 || !aws.ToBool(lv.DeleteMarkers[0].IsLatest) {
		t.Fatalf("ListObjectVersions: %v %+v", err, lv)
	}
	// Paging through versions one at a time visits all four.
	seen := 0
	in := &sdks3.ListObjectVersionsInput{Bucket: aws.String("ver"), MaxKeys: aws.Int32(1)}
	for i := 0; i < 10; i++ {
		page, err := c.ListObjectVersions(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		seen += len(page.Versions) + len(page.DeleteMarkers)
		if !aws.ToBool(page.IsTruncated) {
			break
		}
		in.KeyMarker, in.VersionIdMarker = page.NextKeyMarker, page.NextVersionIdMarker
	}
	if seen != 4 {
		t.Fatalf("paged %d versions", seen)
	}
	// Removing the delete marker brings the object back.
	if _, err := c.DeleteObject(ctx, &sdks3.DeleteObjectInput{Bucket: aws.String("ver"), Key: aws.String("k"), VersionId: del.VersionId}); err != nil {
		t.Fatal(err)
	}
	if _, body := get(t, c, &sdks3.GetObjectInput{Bucket: aws.String("ver"), Key: aws.String("k")}); body != "two" {
		t.Fatalf("after marker removal %q", body)
	}
	_, err = c.GetObject(ctx, &sdks3.GetObjectInput{Bucket: aws.String("ver"), Key: aws.String("k"), VersionId: aws.String("nope")})
	wantCode(t, err, "NoSuchVersion", 404)
	// Suspended: writes replace the null version.
	if _, err := c.PutBucketVersioning(ctx, &sdks3.PutBucketVersioningInput{Bucket: aws.String("ver"),
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusSuspended}}); err != nil {
		t.Fatal(err)
	}
	if p := put(t, c, "ver", "k", "suspended"); aws.ToString(p.VersionId) != "null" {
		t.Fatalf("suspended version ID %v", p.VersionId)
	}
	lv, _ = c.ListObjectVersions(ctx, &sdks3.ListObjectVersionsInput{Bucket: aws.String("ver")})
	if len(lv.Versions) != 3 {
		t.Fatalf("suspended versions: %+v", lv.Versions)
	}
	_, err = c.DeleteBucket(ctx, &sdks3.DeleteBucketInput{Bucket: aws.String("ver")})
	wantCode(t, err, "BucketNotEmpty", 409)
}
