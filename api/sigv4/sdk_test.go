package sigv4

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

var testCreds = aws.Credentials{AccessKeyID: testKeyID, SecretAccessKey: testSecret}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// TestSDKSigner signs requests with aws-sdk-go-v2's own SigV4 signer, header and presigned,
// for S3 and for services that normalize paths, and sends them over a real connection.
func TestSDKSigner(t *testing.T) {
	ts, rec := newRecorder(t, false)
	signer := v4.NewSigner()
	s3Opts := func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true }
	noOpts := func(*v4.SignerOptions) {}
	cases := []struct {
		name, method, path, service string
		body                        string
		header                      map[string]string
		presign                     bool
		payload                     string // default: sha256 of the body
		opts                        func(*v4.SignerOptions)
	}{
		{name: "iam form", method: "POST", path: "/", service: "iam", body: "Action=ListUsers&Version=2010-05-08",
			header: map[string]string{"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}, opts: noOpts},
		{name: "sts presigned", method: "GET", path: "/?Action=GetCallerIdentity&Version=2011-06-15&X-Amz-Expires=60", service: "sts", presign: true, opts: noOpts},
		{name: "rest-json odd path", method: "POST", service: "lambda",
			path: "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A1%3Afunction%3Af/invocations?Qualifier=a%20b&x=%2B%E2%82%AC",
			body: `{"k":"v"}`, header: map[string]string{"X-Amz-Target": "x", "Content-Type": "application/json"}, opts: noOpts},
		{name: "s3 put odd key", method: "PUT", path: "/bkt/dir/a%20b%2Bc%C3%A9~%21%28%29.txt?x-id=PutObject", service: "s3", body: "hello, object",
			header: map[string]string{"X-Amz-Meta-Colour": "  blue   and  green ", "Content-Type": "text/plain"}, opts: s3Opts},
		{name: "s3 unsigned payload", method: "PUT", path: "/bkt/k", service: "s3", body: "not signed", payload: unsignedPayload, opts: s3Opts},
		{name: "s3 list repeated params", method: "GET", path: "/bkt?list-type=2&prefix=a%2Bb%20c%2F&delimiter=%2F&encoding-type=url", service: "s3", opts: s3Opts},
		{name: "s3 presigned get", method: "GET", service: "s3", presign: true, payload: unsignedPayload, opts: s3Opts,
			path: "/bkt/a%20b.txt?X-Amz-Expires=300&response-content-disposition=attachment%3B%20filename%3D%22a%20b.txt%22&versionId=3%2FL4kqtJlcpXroDTDmJ%2Brmsmd"},
		{name: "s3 presigned put with meta", method: "PUT", path: "/bkt/up.bin?X-Amz-Expires=300", service: "s3", presign: true, payload: unsignedPayload,
			body: "uploaded via presigned url", header: map[string]string{"X-Amz-Meta-Owner": "me"}, opts: s3Opts},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rec.reset()
			var body io.Reader
			if c.body != "" {
				body = strings.NewReader(c.body)
			}
			req, err := http.NewRequest(c.method, ts.URL+c.path, body)
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range c.header {
				req.Header.Set(k, v)
			}
			payload := c.payload
			if payload == "" {
				payload = sha256Hex([]byte(c.body))
			}
			if c.service == "s3" && !c.presign {
				req.Header.Set("X-Amz-Content-Sha256", payload)
			}
			now := time.Now()
			if c.presign {
				u, h, err := signer.PresignHTTP(context.Background(), testCreds, req, payload, c.service, "us-east-1", now, c.opts)
				if err != nil {
					t.Fatal(err)
				}
				req2, _ := http.NewRequest(c.method, u, body)
				if c.body != "" {
					req2.Body = io.NopCloser(strings.NewReader(c.body))
					req2.ContentLength = int64(len(c.body))
				}
				for k, v := range h {
					if k != "Host" {
						req2.Header[k] = v
					}
				}
				req = req2
			} else if err := signer.SignHTTP(context.Background(), testCreds, req, payload, c.service, "us-east-1", now, c.opts); err != nil {
				t.Fatal(err)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			s := rec.only(t)
			if string(s.body) != c.body || s.res.Service != c.service || s.res.Presigned != c.presign {
				t.Fatalf("%v: body %q", s, s.body)
			}
			if s.res.Credential.Principal != "tester" {
				t.Fatalf("principal %v", s.res.Credential.Principal)
			}
		})
	}
}

func s3Client(ts interface{ Client() *http.Client }, url string) *s3.Client {
	return s3.New(s3.Options{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider(testKeyID, testSecret, ""),
		BaseEndpoint: aws.String(url),
		UsePathStyle: true,
		HTTPClient:   ts.Client(),
		// What config.LoadDefaultConfig gives an application (s3.New alone leaves it unset).
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenSupported,
	})
}

// onlyReader hides Seek so the SDK has to stream a body of unknown hash.
type onlyReader struct{ io.Reader }

// TestSDKS3Client points the real S3 client at the verifier, over plain HTTP (where the SDK
// signs the payload's SHA-256 and sends its CRC32 as a header) and over TLS (where it sends
// STREAMING-UNSIGNED-PAYLOAD-TRAILER with the CRC32 as a trailer).
func TestSDKS3Client(t *testing.T) {
	object := bytes.Repeat([]byte("0123456789abcdef"), 80<<10) // 1.25 MiB: several chunks
	for _, tls := range []bool{false, true} {
		t.Run("tls="+strconv.FormatBool(tls), func(t *testing.T) {
			ts, rec := newRecorder(t, tls)
			client := s3Client(ts, ts.URL)
			ctx := context.Background()

			put := func(name string, in *s3.PutObjectInput, wantHTTP, wantTLS PayloadMode) {
				t.Helper()
				want := wantHTTP
				if tls {
					want = wantTLS
				}
				rec.reset()
				if _, err := client.PutObject(ctx, in); err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				s := rec.only(t)
				t.Logf("%s sends: %v decoded-length=%q trailer=%v", name, s, s.header.Get("X-Amz-Decoded-Content-Length"), s.trailer)
				if !bytes.Equal(s.body, object) {
					t.Fatalf("%s: server decoded %d bytes, want %d", name, len(s.body), len(object))
				}
				if s.res.Payload != want {
					t.Fatalf("%s: payload mode %v, want %v", name, s.res.Payload, want)
				}
				if want == PayloadStreamingUnsignedTrailer && len(s.trailer) == 0 {
					t.Fatalf("%s: no checksum trailer", name)
				}
			}
			// Measured: over HTTP the SDK signs the body's SHA-256 and sends its checksum
			// (CRC32 by default) as a header; over TLS it sends the body aws-chunked,
			// STREAMING-UNSIGNED-PAYLOAD-TRAILER, with the checksum as a trailer.
			put("PutObject", &s3.PutObjectInput{Bucket: aws.String("bkt"), Key: aws.String("dir/a b+c~é.bin"), Body: bytes.NewReader(object)},
				PayloadSigned, PayloadStreamingUnsignedTrailer)
			put("PutObject sha256 checksum", &s3.PutObjectInput{Bucket: aws.String("bkt"), Key: aws.String("k2"), Body: bytes.NewReader(object),
				ChecksumAlgorithm: s3types.ChecksumAlgorithmSha256}, PayloadSigned, PayloadStreamingUnsignedTrailer)
			put("PutObject crc32c checksum", &s3.PutObjectInput{Bucket: aws.String("bkt"), Key: aws.String("k3"), Body: bytes.NewReader(object),
				ChecksumAlgorithm: s3types.ChecksumAlgorithmCrc32c}, PayloadSigned, PayloadStreamingUnsignedTrailer)
			if tls {
				put("PutObject unseekable", &s3.PutObjectInput{Bucket: aws.String("bkt"), Key: aws.String("k4"),
					Body: onlyReader{bytes.NewReader(object)}, ContentLength: aws.Int64(int64(len(object)))}, 0, PayloadStreamingUnsignedTrailer)
				put("PutObject unseekable crc64nvme", &s3.PutObjectInput{Bucket: aws.String("bkt"), Key: aws.String("k5"),
					Body: onlyReader{bytes.NewReader(object)}, ContentLength: aws.Int64(int64(len(object))),
					ChecksumAlgorithm: s3types.ChecksumAlgorithmCrc64nvme}, 0, PayloadStreamingUnsignedTrailer)
				put("PutObject unseekable sha1", &s3.PutObjectInput{Bucket: aws.String("bkt"), Key: aws.String("k6"),
					Body: onlyReader{bytes.NewReader(object)}, ContentLength: aws.Int64(int64(len(object))),
					ChecksumAlgorithm: s3types.ChecksumAlgorithmSha1}, 0, PayloadStreamingUnsignedTrailer)
			}

			rec.reset()
			if _, err := client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("bkt"), Prefix: aws.String("a b/c+d~é=&?"), Delimiter: aws.String("/")}); err != nil {
				t.Fatal(err)
			}
			t.Logf("ListObjectsV2 sends: %v", rec.only(t))

			rec.reset()
			out, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String("dir/a b+c~é.bin"), Range: aws.String("bytes=0-9")})
			if err != nil {
				t.Fatal(err)
			}
			out.Body.Close()
			t.Logf("GetObject sends: %v", rec.only(t))

			rec.reset()
			if _, err := client.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String("bkt"),
				Delete: &s3types.Delete{Objects: []s3types.ObjectIdentifier{{Key: aws.String("a")}, {Key: aws.String("b c")}}}}); err != nil {
				t.Fatal(err)
			}
			s := rec.only(t)
			t.Logf("DeleteObjects sends: %v", s)
			if !bytes.Contains(s.body, []byte("<Key>b c</Key>")) {
				t.Fatalf("DeleteObjects body %q", s.body)
			}

			rec.reset()
			pc := s3.NewPresignClient(client)
			pg, err := pc.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String("a b.txt")})
			if err != nil {
				t.Fatal(err)
			}
			resp, err := ts.Client().Get(pg.URL)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if s := rec.only(t); !s.res.Presigned {
				t.Fatalf("presigned GET not seen as presigned: %v", s)
			}

			rec.reset()
			pp, err := pc.PresignPutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bkt"), Key: aws.String("up load"), Metadata: map[string]string{"owner": "me"}})
			if err != nil {
				t.Fatal(err)
			}
			req, _ := http.NewRequest(pp.Method, pp.URL, bytes.NewReader(object))
			for k, v := range pp.SignedHeader {
				if k != "Host" {
					req.Header[k] = v
				}
			}
			resp, err = ts.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if s := rec.only(t); !bytes.Equal(s.body, object) || !s.res.Presigned {
				t.Fatalf("presigned PUT: %v", s)
			}
		})
	}
}

// TestSDKQueryServices calls STS and IAM through the SDK: form bodies, signed body hash.
func TestSDKQueryServices(t *testing.T) {
	ts, rec := newRecorder(t, false)
	cfg := aws.Config{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider(testKeyID, testSecret, ""),
		BaseEndpoint: aws.String(ts.URL),
		HTTPClient:   ts.Client(),
	}
	out, err := sts.NewFromConfig(cfg).GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(out.Account) != "123456789012" {
		t.Fatalf("account %v", aws.ToString(out.Account))
	}
	s := rec.only(t)
	t.Logf("STS GetCallerIdentity sends: %v body=%q", s, s.body)
	if s.res.Service != "sts" || !strings.Contains(string(s.body), "Action=GetCallerIdentity") {
		t.Fatalf("%v", s)
	}
	rec.reset()
	if _, err := iam.NewFromConfig(cfg).ListUsers(context.Background(), &iam.ListUsersInput{PathPrefix: aws.String("/a b+/")}); err != nil {
		t.Fatal(err)
	}
	if s := rec.only(t); s.res.Service != "iam" {
		t.Fatalf("%v", s)
	}
}
