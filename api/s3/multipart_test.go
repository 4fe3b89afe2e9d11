package s3

import (
	"bytes"
	"crypto/md5"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdks3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

func TestMultipart(t *testing.T) {
	e := newEnv(t)
	c := e.rootClient()
	mustBucket(t, c, "mpu")
	create, err := c.CreateMultipartUpload(ctx, &sdks3.CreateMultipartUploadInput{Bucket: aws.String("mpu"), Key: aws.String("big"),
		ContentType: aws.String("application/x-big"), Metadata: map[string]string{"m": "1"}})
	if err != nil {
		t.Fatal(err)
	}
	id := create.UploadId
	part1 := bytes.Repeat([]byte("a"), 5<<20)
	part2 := []byte("tail")
	var parts []types.CompletedPart
	var md5s []byte
	for i, data := range [][]byte{part1, part2} {
		out, err := c.UploadPart(ctx, &sdks3.UploadPartInput{Bucket: aws.String("mpu"), Key: aws.String("big"), UploadId: id,
			PartNumber: aws.Int32(int32(i + 1)), Body: bytes.NewReader(data)})
		if err != nil {
			t.Fatal(err)
		}
		sum := md5.Sum(data)
		md5s = append(md5s, sum[:]...)
		parts = append(parts, types.CompletedPart{PartNumber: aws.Int32(int32(i + 1)), ETag: out.ETag})
	}
	lp, err := c.ListParts(ctx, &sdks3.ListPartsInput{Bucket: aws.String("mpu"), Key: aws.String("big"), UploadId: id})
	if err != nil || len(lp.Parts) != 2 || *lp.Parts[0].Size != 5<<20 {
		t.Fatalf("ListParts: %v %+v", err, lp)
	}
	lu, err := c.ListMultipartUploads(ctx, &sdks3.ListMultipartUploadsInput{Bucket: aws.String("mpu")})
	if err != nil || len(lu.Uploads) != 1 || *lu.Uploads[0].UploadId != *id {
		t.Fatalf("ListMultipartUploads: %v %+v", err, lu)
	}

	// Errors of CompleteMultipartUpload, as S3 names them.
	_, err = c.CompleteMultipartUpload(ctx, &sdks3.CompleteMultipartUploadInput{Bucket: aws.String("mpu"), Key: aws.String("big"), UploadId: id,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{parts[1], parts[0]}}})
	wantCode(t, err, "InvalidPartOrder", 400)
	_, err = c.CompleteMultipartUpload(ctx, &sdks3.CompleteMultipartUploadInput{Bucket: aws.String("mpu"), Key: aws.String("big"), UploadId: id,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{{PartNumber: aws.Int32(1), ETag: aws.String(`"00"`)}}}})
	wantCode(t, err, "InvalidPart", 400)
	_, err = c.CompleteMultipartUpload(ctx, &sdks3.CompleteMultipartUploadInput{Bucket: aws.String("mpu"), Key: aws.String("big"), UploadId: aws.String("nope"),
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}})
	wantCode(t, err, "NoSuchUpload", 404)
	_, err = c.CompleteMultipartUpload(ctx, &sdks3.CompleteMultipartUploadInput{Bucket: aws.String("mpu"), Key: aws.String("big"), UploadId: id,
		MultipartUpload: &types.CompletedMultipartUpload{}})
	wantCode(t, err, "MalformedXML", 400)

	done, err := c.CompleteMultipartUpload(ctx, &sdks3.CompleteMultipartUploadInput{Bucket: aws.String("mpu"), Key: aws.String("big"), UploadId: id,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}})
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf(`"%x-2"`, md5.Sum(md5s)); *done.ETag != want {
		t.Fatalf("ETag %s, want %s", *done.ETag, want)
	}
	g, body := get(t, c, &sdks3.GetObjectInput{Bucket: aws.String("mpu"), Key: aws.String("big")})
	if len(body) != len(part1)+len(part2) || *g.ContentType != "application/x-big" || g.Metadata["m"] != "1" {
		t.Fatalf("completed object: %d bytes %+v", len(body), g)
	}
	g, body = get(t, c, &sdks3.GetObjectInput{Bucket: aws.String("mpu"), Key: aws.String("big"), PartNumber: aws.Int32(2)})
	if body != "tail" || aws.ToInt32(g.PartsCount) != 2 {
		t.Fatalf("part 2: %q %+v", body, g)
	}

	// Small parts other than the last are refused.
	small, _ := c.CreateMultipartUpload(ctx, &sdks3.CreateMultipartUploadInput{Bucket: aws.String("mpu"), Key: aws.String("small")})
	var sp []types.CompletedPart
	for i := 1; i <= 2; i++ {
		out, err := c.UploadPart(ctx, &sdks3.UploadPartInput{Bucket: aws.String("mpu"), Key: aws.String("small"), UploadId: small.UploadId,
			PartNumber: aws.Int32(int32(i)), Body: strings.NewReader("x")})
		if err != nil {
			t.Fatal(err)
		}
		sp = append(sp, types.CompletedPart{PartNumber: aws.Int32(int32(i)), ETag: out.ETag})
	}
	_, err = c.CompleteMultipartUpload(ctx, &sdks3.CompleteMultipartUploadInput{Bucket: aws.String("mpu"), Key: aws.String("small"), UploadId: small.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: sp}})
	wantCode(t, err, "EntityTooSmall", 400)

	// UploadPartCopy with a range, from the completed object.
	cp, err := c.UploadPartCopy(ctx, &sdks3.UploadPartCopyInput{Bucket: aws.String("mpu"), Key: aws.String("small"), UploadId: small.UploadId,
		PartNumber: aws.Int32(3), CopySource: aws.String("mpu/big"), CopySourceRange: aws.String(fmt.Sprintf("bytes=%d-%d", 5<<20, 5<<20+3))})
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf(`"%x"`, md5.Sum([]byte("tail"))); *cp.CopyPartResult.ETag != want {
		t.Fatalf("part copy ETag %s", *cp.CopyPartResult.ETag)
	}
	if _, err := c.AbortMultipartUpload(ctx, &sdks3.AbortMultipartUploadInput{Bucket: aws.String("mpu"), Key: aws.String("small"), UploadId: small.UploadId}); err != nil {
		t.Fatal(err)
	}
	_, err = c.AbortMultipartUpload(ctx, &sdks3.AbortMultipartUploadInput{Bucket: aws.String("mpu"), Key: aws.String("small"), UploadId: small.UploadId})
	wantCode(t, err, "NoSuchUpload", 404)
	_ = io.Discard
}
