package s3

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"time"

	"errors"
	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"io"
	"strings"
	"testing"

	"github.com/banyancloud/banyan/api/awserr"
	"github.com/banyancloud/banyan/cluster/state"
	"github.com/banyancloud/banyan/objectstore"
)

// Every lower-layer error has its S3 name; anything unknown is an InternalError.
func TestErrorTable(t *testing.T) {
	for _, m := range errorTable {
		got := toS3Error(errors.Join(errors.New("context"), m.err))
		if got != m.s3 {
			t.Errorf("%v -> %s, want %s", m.err, got.Code, m.s3.Code)
		}
	}
	if toS3Error(state.Errorf(state.CodeNotFound, "bucket x does not exist")) != errNoSuchBucket {
		t.Error("state NotFound is not NoSuchBucket")
	}
	if toS3Error(errors.New("disk on fire")) != awserr.InternalError {
		t.Error("unknown error not hidden")
	}
	if toS3Error(objectstore.ErrSlowDown).HTTPStatus != 503 {
		t.Error("SlowDown is not 503")
	}
}

func TestRawErrors(t *testing.T) {
	e := newEnv(t)
	mustBucket(t, e.rootClient(), "raw")
	cases := []struct {
		name, method, path string
		body               io.Reader
		length             int64
		hdr                map[string]string
		status             int
		code               string
	}{
		{"missing length", "PUT", "/raw/k", io.NopCloser(strings.NewReader("abc")), -1, nil, 411, "MissingContentLength"},
		{"bad checksum header", "PUT", "/raw/k", strings.NewReader("abc"), 3, map[string]string{"x-amz-checksum-crc32": "zz"}, 400, "InvalidRequest"},
		{"checksum mismatch", "PUT", "/raw/k", strings.NewReader("abc"), 3, map[string]string{"x-amz-checksum-crc32": "AAAAAA=="}, 400, "BadDigest"},
		{"bad canned acl", "PUT", "/raw/k", strings.NewReader("abc"), 3, map[string]string{"x-amz-acl": "everyone"}, 400, "InvalidArgument"},
		{"method not allowed", "POST", "/raw/k", strings.NewReader(""), 0, nil, 405, "MethodNotAllowed"},
		{"not implemented", "GET", "/raw?website", nil, 0, nil, 501, "NotImplemented"},
		{"malformed versioning", "PUT", "/raw?versioning", strings.NewReader("<VersioningConfiguration><Status>On</Status>"), 44, nil, 400, "MalformedXML"},
		{"bad part number", "PUT", "/raw/k?partNumber=0&uploadId=x", strings.NewReader(""), 0, nil, 400, "InvalidArgument"},
		{"no such upload", "PUT", "/raw/k?partNumber=1&uploadId=x", strings.NewReader(""), 0, nil, 404, "NoSuchUpload"},
		{"delete objects without md5", "POST", "/raw?delete", strings.NewReader("<Delete><Object><Key>a</Key></Object></Delete>"), 46, nil, 400, "InvalidRequest"},
		{"encoding type", "GET", "/raw?encoding-type=zip", nil, 0, nil, 400, "InvalidArgument"},
		{"version on a missing version", "GET", "/raw/k?versionId=abc", nil, 0, nil, 404, "NoSuchVersion"},
		{"bad storage class", "PUT", "/raw/k", strings.NewReader("abc"), 3, map[string]string{"x-amz-storage-class": "FLOPPY"}, 400, "InvalidStorageClass"},
		{"metadata too large", "PUT", "/raw/k", strings.NewReader("abc"), 3, map[string]string{"x-amz-meta-big": strings.Repeat("m", 2100)}, 400, "MetadataTooLarge"},
		{"delete objects bad md5", "POST", "/raw?delete", strings.NewReader("<Delete><Object><Key>a</Key></Object></Delete>"), 46, map[string]string{"Content-MD5": "1B2M2Y8AsgTpgAmY7PhCfg=="}, 400, "BadDigest"},
		{"delete objects malformed", "POST", "/raw?delete", strings.NewReader("<Delete><Object>"), 16, map[string]string{"Content-MD5": "2/tgmBdmQLO+511KLYgSag=="}, 400, "MalformedXML"},
		{"get key too long", "GET", "/raw/" + strings.Repeat("k", 1025), nil, 0, nil, 400, "KeyTooLongError"},
		{"copy source malformed", "PUT", "/raw/k", strings.NewReader(""), 0, map[string]string{"x-amz-copy-source": "nokey"}, 400, "InvalidArgument"},
		{"copy source missing bucket", "PUT", "/raw/k", strings.NewReader(""), 0, map[string]string{"x-amz-copy-source": "nobucket/k"}, 404, "NoSuchBucket"},
		{"policy on missing bucket", "GET", "/nobucket?policy", nil, 0, nil, 404, "NoSuchBucket"},
		{"bad max-keys", "GET", "/raw?max-keys=lots", nil, 0, nil, 400, "InvalidArgument"},
		{"unknown checksum algorithm", "PUT", "/raw/k", strings.NewReader("abc"), 3, map[string]string{"x-amz-sdk-checksum-algorithm": "MD4"}, 400, "InvalidRequest"},
		{"part number and range", "GET", "/raw/k?partNumber=1", nil, 0, map[string]string{"Range": "bytes=0-1"}, 400, "InvalidRequest"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := e.signed(tc.method, tc.path, tc.body, tc.length, tc.hdr)
			if resp.StatusCode != tc.status || errorCode(body) != tc.code {
				t.Fatalf("got %d %s\n%s", resp.StatusCode, errorCode(body), body)
			}
			if resp.Header.Get("x-amz-request-id") == "" {
				t.Error("no request ID")
			}
		})
	}
}

// A declared length over 5 GiB is refused before any of the body is read; the request
// is written by hand since an HTTP client will not announce bytes it does not send.
func TestEntityTooLarge(t *testing.T) {
	e := newEnv(t)
	mustBucket(t, e.rootClient(), "big")
	req, _ := http.NewRequest("PUT", e.url+"/big/k", nil)
	req.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
	creds := aws.Credentials{AccessKeyID: e.root.AccessKeyID, SecretAccessKey: e.root.SecretAccessKey}
	if err := v4.NewSigner().SignHTTP(ctx, creds, req, "UNSIGNED-PAYLOAD", "s3", "us-east-1", time.Now()); err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", strings.TrimPrefix(e.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var b strings.Builder
	fmt.Fprintf(&b, "PUT /big/k HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n", req.Host, int64(5<<30+1))
	for k, vs := range req.Header {
		fmt.Fprintf(&b, "%s: %s\r\n", k, vs[0])
	}
	b.WriteString("\r\n")
	if _, err := conn.Write([]byte(b.String())); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != 400 || errorCode(body) != "EntityTooLarge" {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
}

// faultyObjects wraps the double and fails every write with err, as an object store
// that lost its quorum or is overloaded would.
type faultyObjects struct {
	objectstore.ObjectLayer
	err error
}

func (f *faultyObjects) PutObject(context.Context, string, string, io.Reader, objectstore.PutOptions) (objectstore.ObjectInfo, error) {
	return objectstore.ObjectInfo{}, f.err
}

func TestStoreFailures(t *testing.T) {
	e := newEnv(t)
	mustBucket(t, e.rootClient(), "flt")
	for _, tc := range []struct {
		err    error
		status int
		code   string
	}{
		{objectstore.ErrSlowDown, 503, "SlowDown"},
		{objectstore.ErrWriteQuorum, 503, "SlowDown"},
		{errors.New("disk on fire"), 500, "InternalError"},
	} {
		e.front.objects = &faultyObjects{ObjectLayer: e.objects, err: tc.err}
		resp, body := e.signed("PUT", "/flt/k", strings.NewReader("x"), 1, nil)
		if resp.StatusCode != tc.status || errorCode(body) != tc.code {
			t.Errorf("%v: %d %s", tc.err, resp.StatusCode, body)
		}
	}
	e.front.objects = e.objects
	resp, body := e.signed("HEAD", "/flt/missing", nil, 0, nil)
	if resp.StatusCode != 404 || len(body) != 0 {
		t.Errorf("HEAD of a missing key: %d %q", resp.StatusCode, body)
	}
}
