package restxml_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	sdks3 "github.com/aws/aws-sdk-go-v2/service/s3"
	sdks3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/banyancloud/banyan/api/awserr"
	"github.com/banyancloud/banyan/api/protocol/internal/testsvc/s3"
	"github.com/banyancloud/banyan/api/protocol/restxml"
)

func ptr[T any](v T) *T { return &v }

var modified = time.Date(2024, 2, 3, 4, 5, 6, 0, time.UTC)

// fakeS3 routes just enough of S3 by hand to exercise the helpers the way the S3 front
// end will use them.
type fakeS3 struct {
	tagging *s3.PutBucketTaggingRequest
	deleted *s3.DeleteObjectsRequest
	get     *s3.GetObjectRequest
}

func (f *fakeS3) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id := restxml.NewRequestID()
	w.Header().Set("x-amz-request-id", id)
	fail := func(err error) { restxml.WriteError(w, r, awserr.As(err), r.URL.Path, id, "host-id") }
	bucket, key, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	labels := map[string]string{"Bucket": bucket, "Key": key}
	q := r.URL.Query()
	switch {
	case key == "missing":
		fail(awserr.New("NoSuchKey", http.StatusNotFound, "The specified key does not exist."))
	case r.Method == http.MethodPut && q.Has("tagging"):
		in := &s3.PutBucketTaggingRequest{}
		if err := restxml.BindRequest(r, labels, in); err != nil {
			fail(err)
			return
		}
		if err := restxml.ReadXML(r, 0, in); err != nil {
			fail(err)
			return
		}
		f.tagging = in
		w.WriteHeader(http.StatusNoContent)
	case r.Method == http.MethodGet && q.Has("tagging"):
		restxml.WriteOutput(w, r, "Tagging", &s3.GetBucketTaggingOutput{TagSet: f.tagging.Tagging.TagSet})
	case r.Method == http.MethodGet && q.Has("acl"):
		restxml.WriteOutput(w, r, "AccessControlPolicy", &s3.GetBucketAclOutput{
			Owner: &s3.Owner{ID: ptr("owner-id")},
			Grants: []s3.Grant{{
				Grantee:    &s3.Grantee{Type: "CanonicalUser", ID: ptr("owner-id"), DisplayName: ptr("me")},
				Permission: ptr("FULL_CONTROL"),
			}},
		})
	case r.Method == http.MethodPost && q.Has("delete"):
		in := &s3.DeleteObjectsRequest{}
		if err := restxml.ReadXML(r, 0, in); err != nil {
			fail(err)
			return
		}
		f.deleted = in
		out := &s3.DeleteObjectsOutput{}
		for _, o := range in.Delete.Objects {
			out.Deleted = append(out.Deleted, s3.DeletedObject{Key: ptr(o.Key)})
		}
		restxml.WriteOutput(w, r, "DeleteResult", out)
	case r.Method == http.MethodGet && q.Get("list-type") == "2":
		restxml.WriteOutput(w, r, "ListBucketResult", &s3.ListObjectsV2Output{
			Name: ptr(bucket), Prefix: ptr(q.Get("prefix")), KeyCount: ptr(int32(2)), MaxKeys: ptr(int32(1000)), IsTruncated: ptr(false),
			Contents: []s3.Object{
				{Key: ptr("a.txt"), Size: ptr(int64(3)), ETag: ptr(`"abc"`), LastModified: &modified, StorageClass: ptr("STANDARD")},
				{Key: ptr("b & c.txt"), Size: ptr(int64(0)), LastModified: &modified},
			},
			CommonPrefixes: []s3.CommonPrefix{{Prefix: ptr("dir/")}},
		})
	case r.Method == http.MethodGet || r.Method == http.MethodHead:
		in := &s3.GetObjectRequest{}
		if err := restxml.BindRequest(r, labels, in); err != nil {
			fail(err)
			return
		}
		f.get = in
		body := []byte("hello")
		restxml.WriteOutput(w, r, "", &s3.GetObjectOutput{
			Body: body, ContentLength: ptr(int64(len(body))), ETag: ptr(`"5d41"`), LastModified: &modified,
			ContentType: ptr("text/plain"), Metadata: map[string]string{"color": "blue"},
		})
	default:
		fail(awserr.New("NotImplemented", http.StatusNotImplemented, "not in the test"))
	}
}

func s3Client(t *testing.T) (*sdks3.Client, *fakeS3) {
	f := &fakeS3{}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return sdks3.NewFromConfig(aws.Config{
		Region:           "us-east-1",
		Credentials:      credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", ""),
		BaseEndpoint:     aws.String(srv.URL),
		RetryMaxAttempts: 1,
	}, func(o *sdks3.Options) { o.UsePathStyle = true }), f
}

func TestSDKS3(t *testing.T) {
	client, f := s3Client(t)
	ctx := context.Background()

	list, err := client.ListObjectsV2(ctx, &sdks3.ListObjectsV2Input{Bucket: aws.String("bkt"), Prefix: aws.String("p")})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Contents) != 2 || aws.ToString(list.Contents[1].Key) != "b & c.txt" || aws.ToInt64(list.Contents[0].Size) != 3 ||
		!aws.ToTime(list.Contents[0].LastModified).Equal(modified) || len(list.CommonPrefixes) != 1 || aws.ToString(list.Name) != "bkt" {
		t.Errorf("ListObjectsV2 parsed %+v", list)
	}

	_, err = client.PutBucketTagging(ctx, &sdks3.PutBucketTaggingInput{Bucket: aws.String("bkt"), Tagging: &sdks3types.Tagging{
		TagSet: []sdks3types.Tag{{Key: aws.String("k1"), Value: aws.String("v1")}, {Key: aws.String("k2"), Value: aws.String("")}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if in := f.tagging; in.Bucket != "bkt" || len(in.Tagging.TagSet) != 2 || in.Tagging.TagSet[1].Key != "k2" {
		t.Errorf("PutBucketTagging decoded %+v", in.Tagging)
	}
	tags, err := client.GetBucketTagging(ctx, &sdks3.GetBucketTaggingInput{Bucket: aws.String("bkt")})
	if err != nil || len(tags.TagSet) != 2 || aws.ToString(tags.TagSet[0].Value) != "v1" {
		t.Errorf("GetBucketTagging %v %+v", err, tags)
	}

	acl, err := client.GetBucketAcl(ctx, &sdks3.GetBucketAclInput{Bucket: aws.String("bkt")})
	if err != nil || len(acl.Grants) != 1 || acl.Grants[0].Grantee.Type != sdks3types.TypeCanonicalUser || aws.ToString(acl.Grants[0].Grantee.DisplayName) != "me" {
		t.Errorf("GetBucketAcl %v %+v", err, acl)
	}

	del, err := client.DeleteObjects(ctx, &sdks3.DeleteObjectsInput{Bucket: aws.String("bkt"), Delete: &sdks3types.Delete{
		Objects: []sdks3types.ObjectIdentifier{{Key: aws.String("a.txt")}, {Key: aws.String("b & c.txt")}}, Quiet: aws.Bool(false),
	}})
	if err != nil || len(del.Deleted) != 2 || aws.ToString(del.Deleted[1].Key) != "b & c.txt" {
		t.Errorf("DeleteObjects %v %+v", err, del)
	}
	if d := f.deleted.Delete; len(d.Objects) != 2 || d.Objects[1].Key != "b & c.txt" || d.Quiet == nil || *d.Quiet {
		t.Errorf("DeleteObjects decoded %+v", d)
	}

	obj, err := client.GetObject(ctx, &sdks3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String("dir/a.txt"), Range: aws.String("bytes=0-4"),
		IfModifiedSince: aws.Time(modified.Add(-time.Hour))})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(obj.Body)
	if string(body) != "hello" || aws.ToString(obj.ETag) != `"5d41"` || !aws.ToTime(obj.LastModified).Equal(modified) ||
		obj.Metadata["color"] != "blue" || aws.ToString(obj.ContentType) != "text/plain" {
		t.Errorf("GetObject parsed %q %+v", body, obj)
	}
	if g := f.get; g.Key != "dir/a.txt" || aws.ToString(g.Range) != "bytes=0-4" || !g.IfModifiedSince.Equal(modified.Add(-time.Hour)) {
		t.Errorf("GetObject bound %+v", g)
	}

	_, err = client.HeadObject(ctx, &sdks3.HeadObjectInput{Bucket: aws.String("bkt"), Key: aws.String("missing")})
	var nf *sdks3types.NotFound
	if !errors.As(err, &nf) {
		t.Errorf("HeadObject of a missing key: %T %v", err, err)
	}
	_, err = client.GetObject(ctx, &sdks3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String("missing")})
	var nsk *sdks3types.NoSuchKey
	var ae smithy.APIError
	if !errors.As(err, &nsk) || !errors.As(err, &ae) || ae.ErrorMessage() != "The specified key does not exist." {
		t.Errorf("GetObject of a missing key: %T %v", err, err)
	}
}

func TestUnmarshalErrors(t *testing.T) {
	for body, code := range map[string]string{
		``:                                   "MalformedXML",
		`<Tagging><TagSet><Tag><Key>k</Key>`: "MalformedXML",
		`<Delete><Object><Key>k</Key></Object><Quiet>maybe</Quiet></Delete>`: "InvalidArgument",
	} {
		err := restxml.Unmarshal([]byte(body), &s3.DeleteObjectsRequest{})
		var ae *awserr.Error
		if !errors.As(err, &ae) || ae.Code != code {
			t.Errorf("%q: %v, want %s", body, err, code)
		}
	}
	r := httptest.NewRequest(http.MethodPut, "/b?tagging", strings.NewReader("<Tagging>"+strings.Repeat(" ", 100)+"</Tagging>"))
	if err := restxml.ReadXML(r, 50, &s3.PutBucketTaggingRequest{}); !errors.Is(err, restxml.MaxMessageLengthExceeded) {
		t.Errorf("oversized body: %v", err)
	}
}

func TestErrorDocument(t *testing.T) {
	w := httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodGet, "/b/k", nil)
	restxml.WriteError(w, r, awserr.New("NoSuchBucket", 404, "The specified bucket does not exist"), "/b", "REQ", "HOST")
	want := `<?xml version="1.0" encoding="UTF-8"?>` + "\n" + `<Error><Code>NoSuchBucket</Code><Message>The specified bucket does not exist</Message>` +
		`<Resource>/b</Resource><RequestId>REQ</RequestId><HostId>HOST</HostId></Error>`
	if w.Code != 404 || w.Body.String() != want || w.Header().Get("x-amz-request-id") != "REQ" {
		t.Errorf("%d\n got %s\nwant %s", w.Code, w.Body, want)
	}
	w = httptest.NewRecorder()
	restxml.WriteError(w, httptest.NewRequest(http.MethodHead, "/b/k", nil), awserr.AccessDenied, "/b/k", "REQ", "HOST")
	if w.Code != 403 || w.Body.Len() != 0 {
		t.Errorf("HEAD error %d %q", w.Code, w.Body)
	}
	if id := restxml.NewRequestID(); len(id) != 16 || strings.ToUpper(id) != id {
		t.Errorf("request ID %q", id)
	}
}

func FuzzXMLDecode(f *testing.F) {
	for _, s := range []string{
		`<Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Object><Key>a</Key><VersionId>1</VersionId></Object><Quiet>true</Quiet></Delete>`,
		`<Delete><Object><Key>a</Key><LastModifiedTime>Fri, 01 Mar 2024 12:30:45 GMT</LastModifiedTime><Size>3</Size></Object></Delete>`,
		`<Delete><Object><Key><![CDATA[x<y]]></Key></Object><Object/></Delete>`,
		`<a><b><c><d></d></c></b></a>`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		in := &s3.DeleteObjectsRequest{}
		if err := restxml.Unmarshal(body, in); err != nil {
			var ae *awserr.Error
			if !errors.As(err, &ae) || ae.HTTPStatus != http.StatusBadRequest {
				t.Fatalf("Unmarshal error %T %v is not a 400 AWS error", err, err)
			}
			return
		}
		restxml.Marshal("Delete", in.Delete)
	})
}
