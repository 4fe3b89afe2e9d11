package s3

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdks3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

func TestBucketLifecycle(t *testing.T) {
	e := newEnv(t)
	c := e.rootClient()
	if _, err := c.CreateBucket(ctx, &sdks3.CreateBucketInput{Bucket: aws.String("photos")}); err != nil {
		t.Fatal(err)
	}
	_, err := c.CreateBucket(ctx, &sdks3.CreateBucketInput{Bucket: aws.String("photos")})
	wantCode(t, err, "BucketAlreadyOwnedByYou", 409)

	other, err := iamTenant(e, "tenant")
	if err != nil {
		t.Fatal(err)
	}
	_, err = other.CreateBucket(ctx, &sdks3.CreateBucketInput{Bucket: aws.String("photos")})
	wantCode(t, err, "BucketAlreadyExists", 409)

	for _, bad := range []string{"ab", strings.Repeat("a", 64), "Upper", "192.168.1.1", "xn--abc", "a..b", "-ab", "ab-", "a_b"} {
		_, err := c.CreateBucket(ctx, &sdks3.CreateBucketInput{Bucket: aws.String(bad)})
		if c, s := apiCode(err); c != "InvalidBucketName" || s != 400 {
			t.Errorf("%q: got %q %d (%v)", bad, c, s, err)
		}
	}
	_, err = c.CreateBucket(ctx, &sdks3.CreateBucketInput{Bucket: aws.String("elsewhere"),
		CreateBucketConfiguration: &types.CreateBucketConfiguration{LocationConstraint: "eu-west-1"}})
	wantCode(t, err, "InvalidLocationConstraint", 400)
	// A client configured for another region creates its buckets here all the same.
	west := sdks3.New(sdks3.Options{Region: "us-west-2", BaseEndpoint: c.Options().BaseEndpoint, UsePathStyle: true, Credentials: c.Options().Credentials})
	if _, err := west.CreateBucket(ctx, &sdks3.CreateBucketInput{Bucket: aws.String("west"),
		CreateBucketConfiguration: &types.CreateBucketConfiguration{LocationConstraint: "us-west-2"}}); err != nil {
		t.Fatalf("CreateBucket signed for us-west-2 with its constraint: %v", err)
	}
	if _, err := west.HeadBucket(ctx, &sdks3.HeadBucketInput{Bucket: aws.String("west")}); err != nil {
		t.Fatalf("HeadBucket signed for us-west-2: %v", err)
	}
	if _, err := c.DeleteBucket(ctx, &sdks3.DeleteBucketInput{Bucket: aws.String("west")}); err != nil {
		t.Fatal(err)
	}

	list, err := c.ListBuckets(ctx, &sdks3.ListBucketsInput{})
	if err != nil || len(list.Buckets) != 1 || *list.Buckets[0].Name != "photos" {
		t.Fatalf("ListBuckets: %v %+v", err, list)
	}
	mustBucket(t, c, "photos2")
	mustBucket(t, c, "photos3")
	var names []string
	for p := sdks3.NewListBucketsPaginator(c, &sdks3.ListBucketsInput{MaxBuckets: aws.Int32(2)}); p.HasMorePages(); {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range page.Buckets {
			names = append(names, *b.Name)
		}
	}
	if strings.Join(names, ",") != "photos,photos2,photos3" {
		t.Fatalf("paged ListBuckets: %v", names)
	}
	for _, b := range []string{"photos2", "photos3"} {
		if _, err := c.DeleteBucket(ctx, &sdks3.DeleteBucketInput{Bucket: aws.String(b)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.HeadBucket(ctx, &sdks3.HeadBucketInput{Bucket: aws.String("photos")}); err != nil {
		t.Fatal(err)
	}
	_, err = c.HeadBucket(ctx, &sdks3.HeadBucketInput{Bucket: aws.String("nothere")})
	if _, s := apiCode(err); s != 404 {
		t.Fatalf("HeadBucket missing: %v", err)
	}
	loc, err := c.GetBucketLocation(ctx, &sdks3.GetBucketLocationInput{Bucket: aws.String("photos")})
	if err != nil || loc.LocationConstraint != "" {
		t.Fatalf("GetBucketLocation: %v %+v", err, loc)
	}

	if _, err := c.PutObject(ctx, &sdks3.PutObjectInput{Bucket: aws.String("photos"), Key: aws.String("a"), Body: strings.NewReader("x")}); err != nil {
		t.Fatal(err)
	}
	_, err = c.DeleteBucket(ctx, &sdks3.DeleteBucketInput{Bucket: aws.String("photos")})
	wantCode(t, err, "BucketNotEmpty", 409)
	if _, err := c.DeleteObject(ctx, &sdks3.DeleteObjectInput{Bucket: aws.String("photos"), Key: aws.String("a")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeleteBucket(ctx, &sdks3.DeleteBucketInput{Bucket: aws.String("photos")}); err != nil {
		t.Fatal(err)
	}
	_, err = c.DeleteBucket(ctx, &sdks3.DeleteBucketInput{Bucket: aws.String("photos")})
	wantCode(t, err, "NoSuchBucket", 404)
	_, err = c.ListObjectsV2(ctx, &sdks3.ListObjectsV2Input{Bucket: aws.String("photos")})
	wantCode(t, err, "NoSuchBucket", 404)
}
