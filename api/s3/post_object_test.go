package s3

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdks3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/banyancloud/banyan/api/identity"
	"github.com/banyancloud/banyan/api/sigv4"
)

// postEnv is a test env whose front end verifies browser-upload signatures.
func postEnv(t *testing.T) *testEnv {
	e := newEnv(t)
	e.front.PostVerifier = &sigv4.Verifier{Credentials: &identity.Directory{Store: e.cluster.st, Sealer: e.sealer}}
	return e
}

func hmacSum(key []byte, s string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(s))
	return m.Sum(nil)
}

// signedPostFields does what boto3's generate_presigned_post does, written out here
// independently of api/sigv4: the policy (with the credential fields added to its
// conditions) in base64, and its signature under the SigV4 signing key.
func signedPostFields(akid, secret string, expires time.Time, conditions []any, fields map[string]string) map[string]string {
	now := time.Now().UTC()
	date := now.Format("20060102")
	cred := akid + "/" + date + "/us-east-1/s3/aws4_request"
	out := map[string]string{}
	for k, v := range fields {
		out[k] = v
	}
	out["x-amz-algorithm"] = "AWS4-HMAC-SHA256"
	out["x-amz-credential"] = cred
	out["x-amz-date"] = now.Format("20060102T150405Z")
	conditions = append(conditions, map[string]string{"x-amz-algorithm": "AWS4-HMAC-SHA256"},
		map[string]string{"x-amz-credential": cred}, map[string]string{"x-amz-date": out["x-amz-date"]})
	doc, _ := json.Marshal(map[string]any{"expiration": expires.UTC().Format("2006-01-02T15:04:05.000Z"), "conditions": conditions})
	policy := base64.StdEncoding.EncodeToString(doc)
	k := hmacSum([]byte("AWS4"+secret), date)
	k = hmacSum(k, "us-east-1")
	k = hmacSum(k, "s3")
	k = hmacSum(k, "aws4_request")
	out["policy"] = policy
	out["x-amz-signature"] = hex.EncodeToString(hmacSum(k, policy))
	return out
}

// postForm sends fields (in order: key first, as browsers keep the form's order) and
// then the file, unsigned at the HTTP level, as a browser does.
func (e *testEnv) postForm(bucket string, fields map[string]string, filename string, file []byte) (*http.Response, []byte) {
	e.t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	if v, ok := fields["key"]; ok {
		_ = mw.WriteField("key", v)
	}
	for k, v := range fields {
		if k != "key" {
			_ = mw.WriteField(k, v)
		}
	}
	if file != nil {
		fw, _ := mw.CreateFormFile("file", filename)
		_, _ = fw.Write(file)
	}
	_ = mw.Close()
	resp, body := e.raw(http.MethodPost, "/"+bucket, buf.Bytes(), map[string]string{"Content-Type": mw.FormDataContentType()})
	return resp, body
}

func errorMessage(body []byte) string {
	var doc struct {
		Message string `xml:"Message"`
	}
	_ = xml.Unmarshal(body, &doc)
	return doc.Message
}

func wantPostError(t *testing.T, resp *http.Response, body []byte, status int, code, message string) {
	t.Helper()
	if resp.StatusCode != status || errorCode(body) != code || !strings.Contains(errorMessage(body), message) {
		t.Fatalf("got %d %s, want %d %s with %q", resp.StatusCode, body, status, code, message)
	}
}

func TestPostObjectPolicy(t *testing.T) {
	e := postEnv(t)
	c := e.rootClient()
	mustBucket(t, c, "uploads")
	hour := time.Now().Add(time.Hour)
	conditions := []any{
		map[string]string{"bucket": "uploads"},
		[]any{"starts-with", "$key", "user/"},
		map[string]string{"acl": "public-read"},
		[]any{"content-length-range", 1, 100},
		map[string]string{"success_action_status": "201"},
		[]any{"starts-with", "$Content-Type", "image/"},
		map[string]string{"x-amz-meta-tag": "x"},
	}
	good := map[string]string{"key": "user/${filename}", "acl": "public-read", "success_action_status": "201",
		"Content-Type": "image/png", "x-amz-meta-tag": "x"}
	fields := signedPostFields(e.root.AccessKeyID, e.root.SecretAccessKey, hour, conditions, good)

	resp, body := e.postForm("uploads", fields, "cat.png", []byte("meow"))
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST: %d %s", resp.StatusCode, body)
	}
	var pr struct {
		Bucket, Key, ETag, Location string
	}
	if err := xml.Unmarshal(body, &pr); err != nil || pr.Bucket != "uploads" || pr.Key != "user/cat.png" || pr.ETag == "" || !strings.HasSuffix(pr.Location, "/uploads/user/cat.png") {
		t.Fatalf("PostResponse %s (%v)", body, err)
	}
	out, got := get(t, c, &sdks3.GetObjectInput{Bucket: aws.String("uploads"), Key: aws.String("user/cat.png")})
	if got != "meow" || aws.ToString(out.ContentType) != "image/png" || out.Metadata["tag"] != "x" || aws.ToString(out.ETag) != pr.ETag {
		t.Fatalf("stored %q %q %v %q", got, aws.ToString(out.ContentType), out.Metadata, aws.ToString(out.ETag))
	}
	// acl=public-read was applied: anonymous readers get it.
	if resp, b := e.raw(http.MethodGet, "/uploads/user/cat.png", nil, nil); resp.StatusCode != 200 || string(b) != "meow" {
		t.Fatalf("anonymous GET: %d %s", resp.StatusCode, b)
	}

	with := func(k, v string) map[string]string {
		m := map[string]string{}
		for a, b := range good {
			m[a] = b
		}
		if v == "" {
			delete(m, k)
		} else {
			m[k] = v
		}
		return m
	}
	// A condition broken: 403 with AWS's wording, nothing stored.
	resp, body = e.postForm("uploads", signedPostFields(e.root.AccessKeyID, e.root.SecretAccessKey, hour, conditions, with("key", "other/x")), "x", []byte("x"))
	wantPostError(t, resp, body, 403, "AccessDenied", `Invalid according to Policy: Policy Condition failed: ["starts-with", "$key", "user/"]`)
	resp, body = e.postForm("uploads", signedPostFields(e.root.AccessKeyID, e.root.SecretAccessKey, hour, conditions, with("acl", "private")), "x", []byte("x"))
	wantPostError(t, resp, body, 403, "AccessDenied", `Policy Condition failed: ["eq", "$acl", "public-read"]`)
	resp, body = e.postForm("uploads", signedPostFields(e.root.AccessKeyID, e.root.SecretAccessKey, hour, conditions, with("Content-Type", "text/plain")), "x", []byte("x"))
	wantPostError(t, resp, body, 403, "AccessDenied", `Policy Condition failed: ["starts-with", "$Content-Type", "image/"]`)
	resp, body = e.postForm("uploads", signedPostFields(e.root.AccessKeyID, e.root.SecretAccessKey, hour, conditions, with("x-amz-meta-other", "y")), "x", []byte("x"))
	wantPostError(t, resp, body, 403, "AccessDenied", "Invalid according to Policy: Extra input fields: x-amz-meta-other")
	// The bucket condition holds the URL's bucket.
	mustBucket(t, c, "other")
	resp, body = e.postForm("other", fields, "cat.png", []byte("meow"))
	wantPostError(t, resp, body, 403, "AccessDenied", `Policy Condition failed: ["eq", "$bucket", "uploads"]`)

	// content-length-range: one byte too many, or none at all.
	resp, body = e.postForm("uploads", fields, "big.png", bytes.Repeat([]byte("a"), 101))
	wantPostError(t, resp, body, 400, "EntityTooLarge", "exceeds the maximum allowed size")
	resp, body = e.postForm("uploads", fields, "empty.png", []byte{})
	wantPostError(t, resp, body, 400, "EntityTooSmall", "smaller than the minimum allowed size")
	for _, k := range []string{"user/big.png", "user/empty.png"} {
		if _, err := c.HeadObject(ctx, &sdks3.HeadObjectInput{Bucket: aws.String("uploads"), Key: aws.String(k)}); err == nil {
			t.Fatalf("%s was stored", k)
		}
	}

	// Expired, tampered, unsigned parts, malformed.
	resp, body = e.postForm("uploads", signedPostFields(e.root.AccessKeyID, e.root.SecretAccessKey, time.Now().Add(-time.Minute), conditions, good), "x", []byte("x"))
	wantPostError(t, resp, body, 403, "AccessDenied", "Invalid according to Policy: Policy expired.")
	bad := signedPostFields(e.root.AccessKeyID, "wrong-secret", hour, conditions, good)
	resp, body = e.postForm("uploads", bad, "x", []byte("x"))
	wantPostError(t, resp, body, 403, "SignatureDoesNotMatch", "")
	bad = signedPostFields("AKIANOSUCHKEY0000000", e.root.SecretAccessKey, hour, conditions, good)
	resp, body = e.postForm("uploads", bad, "x", []byte("x"))
	wantPostError(t, resp, body, 403, "InvalidAccessKeyId", "")
	bad = signedPostFields(e.root.AccessKeyID, e.root.SecretAccessKey, hour, conditions, good)
	delete(bad, "x-amz-signature")
	resp, body = e.postForm("uploads", bad, "x", []byte("x"))
	wantPostError(t, resp, body, 400, "InvalidArgument", "Bucket POST must contain a field named 'x-amz-signature'")
	bad = signedPostFields(e.root.AccessKeyID, e.root.SecretAccessKey, hour, conditions, good)
	delete(bad, "key")
	resp, body = e.postForm("uploads", bad, "x", []byte("x"))
	wantPostError(t, resp, body, 400, "InvalidArgument", "Bucket POST must contain a field named 'key'")
	resp, body = e.postForm("uploads", fields, "", nil)
	wantPostError(t, resp, body, 400, "InvalidArgument", "POST requires exactly one file upload per request.")
	bad = signedPostFields(e.root.AccessKeyID, e.root.SecretAccessKey, hour, conditions, good)
	bad["policy"] = base64.StdEncoding.EncodeToString([]byte("{not json"))
	resp, body = e.postForm("uploads", bad, "x", []byte("x"))
	wantPostError(t, resp, body, 403, "SignatureDoesNotMatch", "") // the signature covers the policy
}

func TestPostObjectStatusesAndStreaming(t *testing.T) {
	e := postEnv(t)
	c := e.rootClient()
	mustBucket(t, c, "status")
	hour := time.Now().Add(time.Hour)
	base := []any{map[string]string{"bucket": "status"}, []any{"starts-with", "$key", ""},
		[]any{"starts-with", "$success_action_redirect", ""}, []any{"starts-with", "$success_action_status", ""}}

	// Default: 204 with ETag and Location.
	resp, body := e.postForm("status", signedPostFields(e.root.AccessKeyID, e.root.SecretAccessKey, hour, base, map[string]string{"key": "a"}), "a", []byte("a"))
	if resp.StatusCode != 204 || resp.Header.Get("ETag") == "" || !strings.HasSuffix(resp.Header.Get("Location"), "/status/a") {
		t.Fatalf("default: %d %v %s", resp.StatusCode, resp.Header, body)
	}
	resp, body = e.postForm("status", signedPostFields(e.root.AccessKeyID, e.root.SecretAccessKey, hour, base, map[string]string{"key": "b", "success_action_status": "200"}), "b", []byte("b"))
	if resp.StatusCode != 200 || len(body) != 0 {
		t.Fatalf("200: %d %s", resp.StatusCode, body)
	}
	// A redirect: 303 to the URL with bucket, key and etag added.
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, v := range signedPostFields(e.root.AccessKeyID, e.root.SecretAccessKey, hour, base, map[string]string{"key": "c", "success_action_redirect": "https://example.com/done?x=1"}) {
		_ = mw.WriteField(k, v)
	}
	fw, _ := mw.CreateFormFile("file", "c")
	_, _ = fw.Write([]byte("c"))
	_ = mw.Close()
	r, err := noFollow.Post(e.url+"/status", mw.FormDataContentType(), &buf)
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	loc, _ := url.Parse(r.Header.Get("Location"))
	if r.StatusCode != http.StatusSeeOther || loc == nil || loc.Host != "example.com" || loc.Query().Get("bucket") != "status" ||
		loc.Query().Get("key") != "c" || loc.Query().Get("x") != "1" || !strings.HasPrefix(loc.Query().Get("etag"), `"`) {
		t.Fatalf("redirect: %d %q", r.StatusCode, r.Header.Get("Location"))
	}

	// A file longer than what is read ahead streams with its size unknown, and fields
	// after the file are ignored as S3 ignores them.
	big := bytes.Repeat([]byte("0123456789abcdef"), (postSniffBytes*3)/16+7)
	buf.Reset()
	mw = multipart.NewWriter(&buf)
	fields := signedPostFields(e.root.AccessKeyID, e.root.SecretAccessKey, hour, base, map[string]string{"key": "big"})
	for k, v := range fields {
		_ = mw.WriteField(k, v)
	}
	fw, _ = mw.CreateFormFile("file", "big")
	_, _ = fw.Write(big)
	_ = mw.WriteField("after", "ignored")
	_ = mw.Close()
	resp, body = e.raw(http.MethodPost, "/status", buf.Bytes(), map[string]string{"Content-Type": mw.FormDataContentType()})
	if resp.StatusCode != 204 {
		t.Fatalf("big: %d %s", resp.StatusCode, body)
	}
	if _, got := get(t, c, &sdks3.GetObjectInput{Bucket: aws.String("status"), Key: aws.String("big")}); got != string(big) {
		t.Fatalf("big object: %d bytes back, want %d", len(got), len(big))
	}

	// Fields before the file are bounded.
	huge := map[string]string{"key": "h", "x-ignore-pad": strings.Repeat("p", maxPostFieldBytes)}
	resp, body = e.postForm("status", huge, "h", []byte("h"))
	wantPostError(t, resp, body, 400, "MaxPostPreDataLengthExceededError", "")
}

func TestPostObjectAnonymous(t *testing.T) {
	e := postEnv(t)
	c := e.rootClient()
	mustBucket(t, c, "drop")
	// No policy, no signature: anonymous, refused by a private bucket.
	resp, body := e.postForm("drop", map[string]string{"key": "a"}, "a", []byte("a"))
	wantPostError(t, resp, body, 403, "AccessDenied", "")
	if _, err := c.PutBucketPolicy(ctx, &sdks3.PutBucketPolicyInput{Bucket: aws.String("drop"), Policy: aws.String(`{"Version":"2012-10-17","Statement":[
	 {"Effect":"Allow","Principal":"*","Action":"s3:PutObject","Resource":"arn:aws:s3:::drop/inbox/*"}]}`)}); err != nil {
		t.Fatal(err)
	}
	resp, body = e.postForm("drop", map[string]string{"key": "inbox/${filename}"}, "note.txt", []byte("hi"))
	if resp.StatusCode != 204 {
		t.Fatalf("anonymous POST into a public-write prefix: %d %s", resp.StatusCode, body)
	}
	if _, got := get(t, c, &sdks3.GetObjectInput{Bucket: aws.String("drop"), Key: aws.String("inbox/note.txt")}); got != "hi" {
		t.Fatal(got)
	}
	resp, body = e.postForm("drop", map[string]string{"key": "elsewhere"}, "a", []byte("a"))
	wantPostError(t, resp, body, 403, "AccessDenied", "")
	// SigV2 forms are refused, as in every region opened since 2014.
	resp, body = e.postForm("drop", map[string]string{"key": "inbox/v2", "AWSAccessKeyId": e.root.AccessKeyID, "policy": "e30=", "signature": "x"}, "a", []byte("a"))
	wantPostError(t, resp, body, 400, "InvalidRequest", "AWS4-HMAC-SHA256")
	// A form that breaks off inside the file stores nothing.
	resp, body = e.raw(http.MethodPost, "/drop", []byte("--b\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\ninbox/k\r\n--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"f\"\r\n\r\ntruncated"),
		map[string]string{"Content-Type": "multipart/form-data; boundary=b"})
	wantPostError(t, resp, body, 400, "MalformedPOSTRequest", "")
	if _, err := c.HeadObject(ctx, &sdks3.HeadObjectInput{Bucket: aws.String("drop"), Key: aws.String("inbox/k")}); err == nil {
		t.Fatal("a truncated form was stored")
	}
	// Not multipart at all, or without a boundary.
	resp, body = e.raw(http.MethodPost, "/drop", []byte("x"), map[string]string{"Content-Type": "multipart/form-data"})
	wantPostError(t, resp, body, 400, "MalformedPOSTRequest", "")
}

func TestPostPolicyParse(t *testing.T) {
	enc := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	for _, bad := range []string{"%%%", enc(`[]`), enc(`{"conditions":[]}`), enc(`{"expiration":"tomorrow","conditions":[]}`),
		enc(`{"expiration":"2030-01-01T00:00:00Z"}`), enc(`{"expiration":"2030-01-01T00:00:00Z","conditions":[["content-length-range",5,1]]}`),
		enc(`{"expiration":"2030-01-01T00:00:00Z","conditions":[["matches","$key","a"]]}`),
		enc(`{"expiration":"2030-01-01T00:00:00Z","conditions":[{"a":"b","c":"d"}]}`)} {
		if _, err := parsePostPolicy(bad); err == nil || toS3Error(err).Code != "InvalidPolicyDocument" {
			t.Errorf("%s: %v, want InvalidPolicyDocument", bad, err)
		}
	}
	p, err := parsePostPolicy(enc(`{"expiration":"2030-01-01T00:00:00.000Z","conditions":[["content-length-range","10",1000],["content-length-range",0,500],["eq","$Key","k"]]}`))
	if err != nil || p.minSize != 10 || p.maxSize != 500 {
		t.Fatalf("%+v %v", p, err)
	}
	now := time.Date(2029, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := p.check(map[string]string{"key": "k"}, now); err != nil {
		t.Fatal(err)
	}
	if err := p.check(map[string]string{"key": "k2"}, now); err == nil {
		t.Fatal("eq passed on another value")
	}
	if err := p.check(map[string]string{"key": "k"}, time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("at expiration: %v", err)
	}
}
