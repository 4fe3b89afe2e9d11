package s3

import (
	"crypto/md5"
	"encoding/base64"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdks3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

func mustBucket(t *testing.T, c *sdks3.Client, name string) {
	t.Helper()
	if _, err := c.CreateBucket(ctx, &sdks3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		t.Fatal(err)
	}
}

func put(t *testing.T, c *sdks3.Client, bucket, key, body string) *sdks3.PutObjectOutput {
	t.Helper()
	out, err := c.PutObject(ctx, &sdks3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: strings.NewReader(body)})
	if err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
	return out
}

func get(t *testing.T, c *sdks3.Client, in *sdks3.GetObjectInput) (*sdks3.GetObjectOutput, string) {
	t.Helper()
	out, err := c.GetObject(ctx, in)
	if err != nil {
		t.Fatalf("get %s: %v", *in.Key, err)
	}
	b, err := io.ReadAll(out.Body)
	out.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	return out, string(b)
}

func TestPutGetHead(t *testing.T) {
	e := newEnv(t)
	c := e.rootClient()
	mustBucket(t, c, "bk1")
	body := "hello, banyan"
	sum := md5.Sum([]byte(body))
	p, err := c.PutObject(ctx, &sdks3.PutObjectInput{Bucket: aws.String("bk1"), Key: aws.String("dir/hello.txt"),
		Body: strings.NewReader(body), ContentType: aws.String("text/plain"), Metadata: map[string]string{"Colour": "green"},
		CacheControl: aws.String("max-age=60"), ContentMD5: aws.String(base64.StdEncoding.EncodeToString(sum[:])),
		Tagging: aws.String("a=1&b=2")})
	if err != nil {
		t.Fatal(err)
	}
	if *p.ETag != fmt.Sprintf(`"%x"`, sum) {
		t.Fatalf("ETag %s", *p.ETag)
	}
	g, got := get(t, c, &sdks3.GetObjectInput{Bucket: aws.String("bk1"), Key: aws.String("dir/hello.txt")})
	if got != body || *g.ContentType != "text/plain" || g.Metadata["colour"] != "green" || *g.CacheControl != "max-age=60" ||
		*g.ContentLength != int64(len(body)) || *g.ETag != *p.ETag || aws.ToInt32(g.TagCount) != 2 {
		t.Fatalf("GetObject: %q %+v", got, g)
	}
	h, err := c.HeadObject(ctx, &sdks3.HeadObjectInput{Bucket: aws.String("bk1"), Key: aws.String("dir/hello.txt")})
	if err != nil || *h.ContentLength != int64(len(body)) || *h.ETag != *p.ETag || h.LastModified == nil {
		t.Fatalf("HeadObject: %v %+v", err, h)
	}

	t.Run("ranges", func(t *testing.T) {
		for _, tc := range []struct{ rng, want, cr string }{
			{"bytes=0-4", "hello", "bytes 0-4/13"},
			{"bytes=7-", "banyan", "bytes 7-12/13"},
			{"bytes=-6", "banyan", "bytes 7-12/13"},
			{"bytes=7-100", "banyan", "bytes 7-12/13"},
		} {
			g, got := get(t, c, &sdks3.GetObjectInput{Bucket: aws.String("bk1"), Key: aws.String("dir/hello.txt"), Range: aws.String(tc.rng)})
			if got != tc.want || aws.ToString(g.ContentRange) != tc.cr {
				t.Errorf("%s: %q %q", tc.rng, got, aws.ToString(g.ContentRange))
			}
		}
		_, err := c.GetObject(ctx, &sdks3.GetObjectInput{Bucket: aws.String("bk1"), Key: aws.String("dir/hello.txt"), Range: aws.String("bytes=100-")})
		wantCode(t, err, "InvalidRange", 416)
	})

	t.Run("conditionals", func(t *testing.T) {
		past, future := h.LastModified.Add(-time.Hour), h.LastModified.Add(time.Hour)
		cases := []struct {
			name string
			in   sdks3.GetObjectInput
			code string
			st   int
		}{
			{"if-match ok", sdks3.GetObjectInput{IfMatch: p.ETag}, "", 200},
			{"if-match fails", sdks3.GetObjectInput{IfMatch: aws.String(`"nope"`)}, "PreconditionFailed", 412},
			{"if-none-match hit", sdks3.GetObjectInput{IfNoneMatch: p.ETag}, "NotModified", 304},
			{"if-modified-since future", sdks3.GetObjectInput{IfModifiedSince: &future}, "NotModified", 304},
			{"if-modified-since past", sdks3.GetObjectInput{IfModifiedSince: &past}, "", 200},
			{"if-unmodified-since past", sdks3.GetObjectInput{IfUnmodifiedSince: &past}, "PreconditionFailed", 412},
			{"if-match beats unmodified-since", sdks3.GetObjectInput{IfMatch: p.ETag, IfUnmodifiedSince: &past}, "", 200},
			{"if-none-match miss beats modified-since", sdks3.GetObjectInput{IfNoneMatch: aws.String(`"x"`), IfModifiedSince: &future}, "", 200},
		}
		for _, tc := range cases {
			in := tc.in
			in.Bucket, in.Key = aws.String("bk1"), aws.String("dir/hello.txt")
			out, err := c.GetObject(ctx, &in)
			if err == nil {
				out.Body.Close()
			}
			code, st := apiCode(err)
			if tc.st == 304 {
				code = map[bool]string{true: "NotModified"}[st == 304]
			}
			if code != tc.code || st != tc.st {
				t.Errorf("%s: got %q %d (%v)", tc.name, code, st, err)
			}
		}
	})

	t.Run("response overrides", func(t *testing.T) {
		g, _ := get(t, c, &sdks3.GetObjectInput{Bucket: aws.String("bk1"), Key: aws.String("dir/hello.txt"),
			ResponseContentType: aws.String("application/x-test"), ResponseContentDisposition: aws.String("attachment")})
		if *g.ContentType != "application/x-test" || *g.ContentDisposition != "attachment" {
			t.Fatalf("%+v", g)
		}
	})

	t.Run("errors", func(t *testing.T) {
		_, err := c.GetObject(ctx, &sdks3.GetObjectInput{Bucket: aws.String("bk1"), Key: aws.String("missing")})
		wantCode(t, err, "NoSuchKey", 404)
		_, err = c.HeadObject(ctx, &sdks3.HeadObjectInput{Bucket: aws.String("bk1"), Key: aws.String("missing")})
		if _, st := apiCode(err); st != 404 {
			t.Fatalf("HeadObject missing: %v", err)
		}
		_, err = c.GetObject(ctx, &sdks3.GetObjectInput{Bucket: aws.String("nobucket"), Key: aws.String("k")})
		wantCode(t, err, "NoSuchBucket", 404)
		_, err = c.PutObject(ctx, &sdks3.PutObjectInput{Bucket: aws.String("bk1"), Key: aws.String(strings.Repeat("k", 1025)), Body: strings.NewReader("x")})
		wantCode(t, err, "KeyTooLongError", 400)
		wrong := md5.Sum([]byte("other"))
		_, err = c.PutObject(ctx, &sdks3.PutObjectInput{Bucket: aws.String("bk1"), Key: aws.String("k"), Body: strings.NewReader("x"),
			ContentMD5: aws.String(base64.StdEncoding.EncodeToString(wrong[:]))})
		wantCode(t, err, "BadDigest", 400)
		_, err = c.PutObject(ctx, &sdks3.PutObjectInput{Bucket: aws.String("bk1"), Key: aws.String("k"), Body: strings.NewReader("x"),
			ContentMD5: aws.String("not-md5")})
		wantCode(t, err, "InvalidDigest", 400)
		_, err = c.PutObject(ctx, &sdks3.PutObjectInput{Bucket: aws.String("bk1"), Key: aws.String("dir/hello.txt"), Body: strings.NewReader("x"),
			IfNoneMatch: aws.String("*")})
		wantCode(t, err, "PreconditionFailed", 412)
		_, err = c.PutObject(ctx, &sdks3.PutObjectInput{Bucket: aws.String("bk1"), Key: aws.String("dir/hello.txt"), Body: strings.NewReader("x"),
			IfMatch: aws.String(`"0123"`)})
		wantCode(t, err, "PreconditionFailed", 412)
		if _, err := c.GetObject(ctx, &sdks3.GetObjectInput{Bucket: aws.String("bk1"), Key: aws.String("k")}); err == nil {
			t.Fatal("a PUT with a bad digest left an object")
		}
	})

}

func TestListObjects(t *testing.T) {
	e := newEnv(t)
	c := e.rootClient()
	mustBucket(t, c, "lst")
	keys := []string{"a.txt", "b/1", "b/2", "b/c/3", "c d", "e+f", "z"}
	for _, k := range keys {
		put(t, c, "lst", k, k)
	}
	out, err := c.ListObjectsV2(ctx, &sdks3.ListObjectsV2Input{Bucket: aws.String("lst"), Delimiter: aws.String("/")})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, o := range out.Contents {
		names = append(names, *o.Key)
	}
	if strings.Join(names, ",") != "a.txt,c d,e+f,z" || len(out.CommonPrefixes) != 1 || *out.CommonPrefixes[0].Prefix != "b/" || aws.ToInt32(out.KeyCount) != 5 {
		t.Fatalf("delimited listing: %v %+v", names, out.CommonPrefixes)
	}
	out, err = c.ListObjectsV2(ctx, &sdks3.ListObjectsV2Input{Bucket: aws.String("lst"), Prefix: aws.String("b/"), Delimiter: aws.String("/")})
	if err != nil || len(out.Contents) != 2 || len(out.CommonPrefixes) != 1 || *out.CommonPrefixes[0].Prefix != "b/c/" {
		t.Fatalf("prefix listing: %v %+v", err, out)
	}
	// Paging through everything two at a time with the paginator.
	var all []string
	p := sdks3.NewListObjectsV2Paginator(c, &sdks3.ListObjectsV2Input{Bucket: aws.String("lst"), MaxKeys: aws.Int32(2)})
	pages := 0
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, o := range page.Contents {
			all = append(all, *o.Key)
		}
	}
	if strings.Join(all, ",") != strings.Join(keys, ",") || pages != 4 {
		t.Fatalf("paged: %v in %d pages", all, pages)
	}
	// V1 with marker.
	v1, err := c.ListObjects(ctx, &sdks3.ListObjectsInput{Bucket: aws.String("lst"), Marker: aws.String("b/2"), MaxKeys: aws.Int32(2)})
	if err != nil || len(v1.Contents) != 2 || *v1.Contents[0].Key != "b/c/3" || !aws.ToBool(v1.IsTruncated) {
		t.Fatalf("v1: %v %+v", err, v1)
	}
	// start-after and fetch-owner.
	out, err = c.ListObjectsV2(ctx, &sdks3.ListObjectsV2Input{Bucket: aws.String("lst"), StartAfter: aws.String("c d"), FetchOwner: aws.Bool(true)})
	if err != nil || len(out.Contents) != 2 || out.Contents[0].Owner == nil {
		t.Fatalf("start-after: %v %+v", err, out)
	}
	// encoding-type=url: keys come back URL-encoded (aws-sdk-go-v2 leaves them so).
	out, err = c.ListObjectsV2(ctx, &sdks3.ListObjectsV2Input{Bucket: aws.String("lst"), EncodingType: types.EncodingTypeUrl, Prefix: aws.String("c")})
	if err != nil || len(out.Contents) != 1 || *out.Contents[0].Key != "c%20d" {
		t.Fatalf("encoding-type: %v %+v", err, out)
	}
	// ... but '/' stays as it is, in keys, prefixes and the delimiter.
	out, err = c.ListObjectsV2(ctx, &sdks3.ListObjectsV2Input{Bucket: aws.String("lst"), EncodingType: types.EncodingTypeUrl, Delimiter: aws.String("/"), Prefix: aws.String("b/")})
	if err != nil || len(out.CommonPrefixes) == 0 || *out.CommonPrefixes[0].Prefix != "b/c/" || aws.ToString(out.Delimiter) != "/" || aws.ToString(out.Prefix) != "b/" {
		t.Fatalf("encoding-type with '/': %v %+v", err, out)
	}
	resp, body := e.raw("GET", "/lst?list-type=2&continuation-token=%25%25", nil, nil)
	if resp.StatusCode != 403 {
		// anonymous: AccessDenied comes first
		t.Fatalf("anonymous list: %d %s", resp.StatusCode, body)
	}
	_, err = c.ListObjectsV2(ctx, &sdks3.ListObjectsV2Input{Bucket: aws.String("lst"), ContinuationToken: aws.String("!!")})
	wantCode(t, err, "InvalidArgument", 400)
	_, err = c.ListObjectsV2(ctx, &sdks3.ListObjectsV2Input{Bucket: aws.String("lst"), MaxKeys: aws.Int32(-1)})
	wantCode(t, err, "InvalidArgument", 400)
}

func TestCopyObject(t *testing.T) {
	e := newEnv(t)
	c := e.rootClient()
	mustBucket(t, c, "src")
	mustBucket(t, c, "dst")
	_, err := c.PutObject(ctx, &sdks3.PutObjectInput{Bucket: aws.String("src"), Key: aws.String("a b"), Body: strings.NewReader("copy me"),
		ContentType: aws.String("text/x"), Metadata: map[string]string{"k": "v"}})
	if err != nil {
		t.Fatal(err)
	}
	cp, err := c.CopyObject(ctx, &sdks3.CopyObjectInput{Bucket: aws.String("dst"), Key: aws.String("copy"), CopySource: aws.String("src/a%20b")})
	if err != nil {
		t.Fatal(err)
	}
	g, body := get(t, c, &sdks3.GetObjectInput{Bucket: aws.String("dst"), Key: aws.String("copy")})
	if body != "copy me" || *g.ContentType != "text/x" || g.Metadata["k"] != "v" || *g.ETag != *cp.CopyObjectResult.ETag {
		t.Fatalf("copy: %q %+v", body, g)
	}
	_, err = c.CopyObject(ctx, &sdks3.CopyObjectInput{Bucket: aws.String("dst"), Key: aws.String("copy2"), CopySource: aws.String("src/a%20b"),
		MetadataDirective: types.MetadataDirectiveReplace, Metadata: map[string]string{"new": "1"}, ContentType: aws.String("text/y")})
	if err != nil {
		t.Fatal(err)
	}
	g, _ = get(t, c, &sdks3.GetObjectInput{Bucket: aws.String("dst"), Key: aws.String("copy2")})
	if g.Metadata["k"] != "" || g.Metadata["new"] != "1" || *g.ContentType != "text/y" {
		t.Fatalf("REPLACE: %+v", g)
	}
	_, err = c.CopyObject(ctx, &sdks3.CopyObjectInput{Bucket: aws.String("src"), Key: aws.String("a b"), CopySource: aws.String("src/a%20b")})
	wantCode(t, err, "InvalidRequest", 400)
	_, err = c.CopyObject(ctx, &sdks3.CopyObjectInput{Bucket: aws.String("dst"), Key: aws.String("c3"), CopySource: aws.String("src/a%20b"), CopySourceIfMatch: aws.String(`"zz"`)})
	wantCode(t, err, "PreconditionFailed", 412)
	_, err = c.CopyObject(ctx, &sdks3.CopyObjectInput{Bucket: aws.String("dst"), Key: aws.String("c3"), CopySource: aws.String("src/missing")})
	wantCode(t, err, "NoSuchKey", 404)
	if _, err := c.CopyObject(ctx, &sdks3.CopyObjectInput{Bucket: aws.String("src"), Key: aws.String("a b"), CopySource: aws.String("src/a%20b"),
		MetadataDirective: types.MetadataDirectiveReplace}); err != nil {
		t.Fatalf("copy onto itself with REPLACE: %v", err)
	}
}

func TestDeleteObjects(t *testing.T) {
	e := newEnv(t)
	c := e.rootClient()
	mustBucket(t, c, "del")
	for _, k := range []string{"1", "2", "3"} {
		put(t, c, "del", k, k)
	}
	out, err := c.DeleteObjects(ctx, &sdks3.DeleteObjectsInput{Bucket: aws.String("del"), Delete: &types.Delete{
		Objects: []types.ObjectIdentifier{{Key: aws.String("1")}, {Key: aws.String("2")}, {Key: aws.String("nothere")}}}})
	if err != nil || len(out.Deleted) != 3 || len(out.Errors) != 0 {
		t.Fatalf("DeleteObjects: %v %+v", err, out)
	}
	out, err = c.DeleteObjects(ctx, &sdks3.DeleteObjectsInput{Bucket: aws.String("del"), Delete: &types.Delete{Quiet: aws.Bool(true),
		Objects: []types.ObjectIdentifier{{Key: aws.String("3")}}}})
	if err != nil || len(out.Deleted) != 0 {
		t.Fatalf("quiet: %v %+v", err, out)
	}
	l, _ := c.ListObjectsV2(ctx, &sdks3.ListObjectsV2Input{Bucket: aws.String("del")})
	if len(l.Contents) != 0 {
		t.Fatalf("left: %+v", l.Contents)
	}
	var objs []types.ObjectIdentifier
	for i := 0; i < 1001; i++ {
		objs = append(objs, types.ObjectIdentifier{Key: aws.String(fmt.Sprint(i))})
	}
	_, err = c.DeleteObjects(ctx, &sdks3.DeleteObjectsInput{Bucket: aws.String("del"), Delete: &types.Delete{Objects: objs}})
	wantCode(t, err, "MalformedXML", 400)
}
