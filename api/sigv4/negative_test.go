package sigv4

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/banyancloud/banyan/api/awserr"
)

const iamForm = "Action=ListUsers&Version=2010-05-08"

func iamReq() *req {
	r := newReq("POST", "http://iam.example/", "iam", iamForm)
	r.header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	return r
}

func s3Get() *req { return newReq("GET", "http://s3.example/bkt/some%20key", "s3", "") }

func s3Put(body string) *req { return newReq("PUT", "http://s3.example/bkt/key", "s3", body) }

// TestRejections checks that each way a request can be wrong gets the code AWS gives it, in
// the dialect of the service asked.
func TestRejections(t *testing.T) {
	wrongSecret := func(r *req) *req {
		r.creds.SecretAccessKey = "not-the-secret"
		return r
	}
	unknownKey := func(r *req) *req {
		r.creds.AccessKeyID = "AKIDNOSUCHKEY0000000"
		return r
	}
	withToken := func(id, tok string) func(r *req) *req {
		return func(r *req) *req {
			r.creds.AccessKeyID, r.creds.SessionToken = id, tok
			return r
		}
	}
	at := func(d time.Duration) func(r *req) *req {
		return func(r *req) *req {
			r.at = signT.Add(d)
			return r
		}
	}
	id := func(r *req) *req { return r }
	cases := []struct {
		name   string
		base   func() *req
		make   func(*req) *req
		spoil  func(*http.Request) // after signing, on the client-side request
		code   string
		status int
	}{
		// Query services (IAM).
		{"iam wrong secret", iamReq, wrongSecret, nil, "SignatureDoesNotMatch", 403},
		{"iam unknown key", iamReq, unknownKey, nil, "InvalidClientTokenId", 403},
		{"iam tampered body", iamReq, id, func(r *http.Request) {
			r.Body = io.NopCloser(strings.NewReader("Action=GetUser&Version=2010-05-08&&"))
		}, "SignatureDoesNotMatch", 403},
		{"iam tampered signed header", iamReq, id, func(r *http.Request) { r.Header.Set("Content-Type", "text/plain") }, "SignatureDoesNotMatch", 403},
		{"iam tampered query", func() *req {
			return newReq("GET", "http://iam.example/?Action=ListUsers&Version=2010-05-08", "iam", "")
		}, id,
			func(r *http.Request) { r.URL.RawQuery = "Action=DeleteUser&Version=2010-05-08" }, "SignatureDoesNotMatch", 403},
		{"iam signed header removed", iamReq, id, func(r *http.Request) { r.Header.Del("Content-Type") }, "SignatureDoesNotMatch", 403},
		{"iam signed 20 minutes ago", iamReq, at(-19 * time.Minute), nil, "SignatureDoesNotMatch", 403},
		{"iam signed 20 minutes ahead", iamReq, at(21 * time.Minute), nil, "SignatureDoesNotMatch", 403},
		{"iam temp key without token", iamReq, withToken(tempKeyID, ""), nil, "InvalidClientTokenId", 403},
		{"iam temp key wrong token", iamReq, withToken(tempKeyID, "forged"), nil, "InvalidClientTokenId", 403},
		{"iam long-term key with token", iamReq, withToken(testKeyID, tempToken), nil, "InvalidClientTokenId", 403},
		{"iam expired temp key", iamReq, withToken(oldKeyID, tempToken), nil, "ExpiredToken", 403},
		{"iam host not signed", iamReq, id, func(r *http.Request) {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "host;", "", 1))
		}, "IncompleteSignature", 400},
		{"iam malformed authorization", iamReq, id, func(r *http.Request) {
			a := r.Header.Get("Authorization")
			r.Header.Set("Authorization", a[:strings.Index(a, ", Signature=")])
		}, "IncompleteSignature", 400},
		{"iam bad credential", iamReq, id, func(r *http.Request) {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "/us-east-1/", "/", 1))
		}, "IncompleteSignature", 400},
		{"iam scope date is not the request date", iamReq, id, func(r *http.Request) { r.Header.Set("X-Amz-Date", "20260313T150926Z") }, "SignatureDoesNotMatch", 403},
		{"iam bad terminator", iamReq, id, func(r *http.Request) {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "aws4_request", "aws5_request", 1))
		}, "SignatureDoesNotMatch", 403},
		{"iam no date", iamReq, id, func(r *http.Request) { r.Header.Del("X-Amz-Date") }, "IncompleteSignature", 400},
		{"iam garbled date", iamReq, id, func(r *http.Request) { r.Header.Set("X-Amz-Date", "2026-03-14T15:09:26Z") }, "IncompleteSignature", 400},
		{"iam sigv2 header", iamReq, id, func(r *http.Request) { r.Header.Set("Authorization", "AWS "+testKeyID+":c2lnbmF0dXJl") }, "IncompleteSignature", 400},
		{"iam sigv4a", iamReq, id, func(r *http.Request) {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), algorithmHMAC, algorithmSigV4A, 1))
		}, "IncompleteSignature", 400},
		{"iam presign expired", func() *req {
			r := newReq("GET", "http://sts.example/?Action=GetCallerIdentity&Version=2011-06-15&X-Amz-Expires=30", "sts", "")
			r.presign = true
			return r
		}, id, nil, "SignatureDoesNotMatch", 403},

		// EC2 and the JSON services word the same failures their own way.
		{"ec2 unknown key", func() *req { return newReq("GET", "http://ec2.example/?Action=DescribeInstances", "ec2", "") }, unknownKey, nil, "AuthFailure", 401},
		{"ec2 wrong secret", func() *req { return newReq("GET", "http://ec2.example/?Action=DescribeInstances", "ec2", "") }, wrongSecret, nil, "SignatureDoesNotMatch", 403},
		{"ec2 skewed", func() *req { return newReq("GET", "http://ec2.example/?Action=DescribeInstances", "ec2", "") }, at(-time.Hour), nil, "RequestExpired", 400},
		{"ec2 expired token", func() *req { return newReq("GET", "http://ec2.example/?Action=DescribeInstances", "ec2", "") }, withToken(oldKeyID, tempToken), nil, "RequestExpired", 400},
		{"logs unknown key", func() *req { return newReq("POST", "http://logs.example/", "logs", "{}") }, unknownKey, nil, "UnrecognizedClientException", 400},
		{"logs wrong secret", func() *req { return newReq("POST", "http://logs.example/", "logs", "{}") }, wrongSecret, nil, "InvalidSignatureException", 400},
		{"logs skewed", func() *req { return newReq("POST", "http://logs.example/", "logs", "{}") }, at(time.Hour), nil, "InvalidSignatureException", 400},
		{"logs expired token", func() *req { return newReq("POST", "http://logs.example/", "logs", "{}") }, withToken(oldKeyID, tempToken), nil, "ExpiredTokenException", 400},

		// S3.
		{"s3 wrong secret", s3Get, wrongSecret, nil, "SignatureDoesNotMatch", 403},
		{"s3 unknown key", s3Get, unknownKey, nil, "InvalidAccessKeyId", 403},
		{"s3 tampered path", s3Get, id, func(r *http.Request) { r.URL.RawPath, r.URL.Path = "/bkt/other%20key", "/bkt/other key" }, "SignatureDoesNotMatch", 403},
		{"s3 skewed", s3Get, at(-16 * time.Minute), nil, "RequestTimeTooSkewed", 403},
		{"s3 malformed authorization", s3Get, id, func(r *http.Request) {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "SignedHeaders=", "Headers=", 1))
		}, "AuthorizationHeaderMalformed", 400},
		{"s3 bad credential", s3Get, id, func(r *http.Request) {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "/s3/", "/", 1))
		}, "AuthorizationHeaderMalformed", 400},
		{"s3 scope date mismatch", s3Get, id, func(r *http.Request) { r.Header.Set("X-Amz-Date", "20260315T000000Z") }, "AuthorizationHeaderMalformed", 400},
		{"s3 no date", s3Get, id, func(r *http.Request) { r.Header.Del("X-Amz-Date") }, "AccessDenied", 403},
		{"s3 sigv2 header", s3Get, id, func(r *http.Request) { r.Header.Set("Authorization", "AWS "+testKeyID+":c2lnbmF0dXJl") }, "InvalidRequest", 400},
		{"s3 unknown scheme", s3Get, id, func(r *http.Request) { r.Header.Set("Authorization", "Bearer abc") }, "InvalidRequest", 400},
		{"s3 no content sha256", s3Get, id, func(r *http.Request) { r.Header.Del("X-Amz-Content-Sha256") }, "InvalidRequest", 400},
		{"s3 bad content sha256", func() *req { r := s3Get(); r.payload = "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD"; return r }, id, nil, "InvalidArgument", 400},
		{"s3 empty body with wrong sha256", func() *req { r := s3Get(); r.payload = sha256Hex([]byte("x")); return r }, id, nil, "XAmzContentSHA256Mismatch", 400},
		{"s3 unsigned x-amz header", s3Get, id, func(r *http.Request) { r.Header.Set("X-Amz-Acl", "public-read") }, "AccessDenied", 403},
		{"s3 host not signed", s3Get, id, func(r *http.Request) {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "SignedHeaders=host;", "SignedHeaders=", 1))
		}, "AccessDenied", 403},
		{"s3 temp key wrong token", s3Get, withToken(tempKeyID, "forged"), nil, "InvalidToken", 400},
		{"s3 temp key without token", s3Get, withToken(tempKeyID, ""), nil, "InvalidAccessKeyId", 403},
		{"s3 expired temp key", s3Get, withToken(oldKeyID, tempToken), nil, "ExpiredToken", 400},
		{"s3 both mechanisms", func() *req { r := s3Get(); r.presign = true; return r }, id, func(r *http.Request) {
			r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+testKeyID+"/20260314/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=00")
		}, "InvalidArgument", 400},
		{"s3 multiple authorization headers", s3Get, id, func(r *http.Request) { r.Header.Add("Authorization", r.Header.Get("Authorization")) }, "AuthorizationHeaderMalformed", 400},
		{"s3 chunked without decoded length", func() *req {
			r := s3Put("5\r\nhello\r\n0\r\n\r\n")
			r.payload = streamingUnsignedTrailer
			return r
		}, id, nil, "MissingContentLength", 411},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cr := c.make(c.base()).client(t)
			if c.spoil != nil {
				c.spoil(cr)
			}
			res, err := negVerifier().Verify(server(t, cr))
			if err == nil {
				t.Fatalf("verified: %+v", res)
			}
			wantCode(t, err, c.code, c.status)
			t.Logf("%v", err)
		})
	}
}

// TestPresignRejections covers the presigned form's own failures, all S3.
func TestPresignRejections(t *testing.T) {
	presigned := func(rawURL string, at time.Time) *http.Request {
		r := newReq("GET", rawURL, "s3", "")
		r.presign, r.at = true, at
		return r.client(t)
	}
	cases := []struct {
		name         string
		url          string
		at           time.Time
		spoil        func(*http.Request)
		code         string
		status       int
		wantMsgMatch string
	}{
		{"expired", "http://s3.example/bkt/k?X-Amz-Expires=30", signT, nil, "AccessDenied", 403, "Request has expired"},
		{"not yet valid", "http://s3.example/bkt/k?X-Amz-Expires=3600", signT.Add(time.Hour), nil, "AccessDenied", 403, "not valid yet"},
		{"expires too long", "http://s3.example/bkt/k?X-Amz-Expires=604801", signT, nil, "AuthorizationQueryParametersError", 400, "604800"},
		{"expires negative", "http://s3.example/bkt/k?X-Amz-Expires=-1", signT, nil, "AuthorizationQueryParametersError", 400, "non-negative"},
		{"expires missing", "http://s3.example/bkt/k", signT, nil, "AuthorizationQueryParametersError", 400, "X-Amz-Expires"},
		{"tampered query", "http://s3.example/bkt/k?X-Amz-Expires=300&versionId=1", signT, func(r *http.Request) {
			r.URL.RawQuery = strings.Replace(r.URL.RawQuery, "versionId=1", "versionId=2", 1)
		}, "SignatureDoesNotMatch", 403, ""},
		{"signature missing", "http://s3.example/bkt/k?X-Amz-Expires=300", signT, func(r *http.Request) {
			q := r.URL.Query()
			q.Del("X-Amz-Signature")
			r.URL.RawQuery = q.Encode()
		}, "AuthorizationQueryParametersError", 400, ""},
		{"wrong algorithm", "http://s3.example/bkt/k?X-Amz-Expires=300", signT, func(r *http.Request) {
			r.URL.RawQuery = strings.Replace(r.URL.RawQuery, "X-Amz-Algorithm=AWS4-HMAC-SHA256", "X-Amz-Algorithm=AWS4-HMAC-SHA1", 1)
		}, "AuthorizationQueryParametersError", 400, "AWS4-HMAC-SHA256"},
		{"unsigned x-amz header", "http://s3.example/bkt/k?X-Amz-Expires=300", signT, func(r *http.Request) {
			r.Header.Set("X-Amz-Acl", "public-read-write")
		}, "AccessDenied", 403, "x-amz-acl"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cr := presigned(c.url, c.at)
			if c.spoil != nil {
				c.spoil(cr)
			}
			_, err := negVerifier().Verify(server(t, cr))
			wantCode(t, err, c.code, c.status)
			if !strings.Contains(err.Error(), c.wantMsgMatch) {
				t.Fatalf("message %q lacks %q", err, c.wantMsgMatch)
			}
		})
	}
	// A presigned URL works for as long as it says, from any client time.
	_, err := negVerifier().Verify(server(t, presigned("http://s3.example/bkt/k?X-Amz-Expires=604800", signT.Add(-6*24*time.Hour))))
	if err != nil {
		t.Fatalf("6-day-old week-long URL: %v", err)
	}
}

func TestSigV2Refused(t *testing.T) {
	// What aws-cli v1's "s3 presign" and boto3's generate_presigned_url produce by default.
	r := server(t, httptestRequest("GET", "http://s3.example/bkt/k?AWSAccessKeyId="+testKeyID+"&Signature=abc%3D&Expires=1795327403"))
	_, err := negVerifier().Verify(r)
	wantCode(t, err, "InvalidRequest", 400)
	// SigV2 of the query APIs.
	r = server(t, httptestRequest("GET", "http://ec2.example/?Action=DescribeInstances&AWSAccessKeyId="+testKeyID+"&SignatureVersion=2&SignatureMethod=HmacSHA256&Signature=abc"))
	_, err = negVerifier().Verify(r)
	wantCode(t, err, "IncompleteSignature", 400)
}

func httptestRequest(method, u string) *http.Request {
	r, err := http.NewRequest(method, u, nil)
	if err != nil {
		panic(err)
	}
	return r
}

func TestAnonymous(t *testing.T) {
	res, err := negVerifier().Verify(server(t, httptestRequest("GET", "http://s3.example/bkt/k?versionId=1")))
	if err != nil || !res.Anonymous {
		t.Fatalf("%+v, %v", res, err)
	}
}

func TestRegions(t *testing.T) {
	v := negVerifier()
	v.Regions = func(r string) bool { return r == "banyan-1" }
	_, err := v.Verify(iamReq().server(t))
	wantCode(t, err, "SignatureDoesNotMatch", 403)
	// S3 answers for any region a client signs with (aws --region us-west-2 s3 ...).
	if _, err = v.Verify(s3Get().server(t)); err != nil {
		t.Fatalf("S3 signed for another region: %v", err)
	}
	// Unless strict: then as AWS, naming the region to sign for.
	v.S3Region = func() (string, bool) { return "banyan-1", true }
	_, err = v.Verify(s3Get().server(t))
	wantCode(t, err, "AuthorizationHeaderMalformed", 400)
	var e *awserr.Error
	if !errors.As(err, &e) || e.Region != "banyan-1" || !strings.Contains(e.Message, "is wrong; expecting 'banyan-1'") {
		t.Fatalf("strict region: %+v", e)
	}
	pre := newReq("GET", "http://s3.example/bkt/k?X-Amz-Expires=300", "s3", "")
	pre.presign, pre.at = true, signT
	_, err = v.Verify(pre.client(t))
	wantCode(t, err, "AuthorizationQueryParametersError", 400)
	if !errors.As(err, &e) || e.Region != "banyan-1" {
		t.Fatalf("strict region, presigned: %+v", e)
	}
	v.S3Region = func() (string, bool) { return "banyan-1", false }
	if _, err = v.Verify(s3Get().server(t)); err != nil {
		t.Fatalf("S3, not strict: %v", err)
	}
}

// TestEmptyRegionScope: a scope with an empty region (botocore with region_name=”)
// has five elements; outside S3 it is a wrong region, not a malformed credential.
func TestEmptyRegionScope(t *testing.T) {
	if sc, ok := parseCredential("AKID/20260101//s3/aws4_request"); !ok || sc.region != "" || sc.service != "s3" {
		t.Fatalf("empty region scope: %+v %v", sc, ok)
	}
	for _, bad := range []string{"AKID/20260101/us-east-1/s3", "AKID//us-east-1/s3/aws4_request", "/20260101/r/s3/aws4_request", "AKID/20260101/r//aws4_request", "a/b/c/d/e/f"} {
		if _, ok := parseCredential(bad); ok {
			t.Errorf("%q parsed", bad)
		}
	}
}

func TestTemporaryCredentialAccepted(t *testing.T) {
	for _, r := range []*req{iamReq(), s3Get(), func() *req { r := s3Get(); r.presign = true; r.url += "?X-Amz-Expires=60"; return r }()} {
		r.creds = aws.Credentials{AccessKeyID: tempKeyID, SecretAccessKey: testSecret, SessionToken: tempToken}
		res, err := negVerifier().Verify(r.server(t))
		if err != nil || res.Credential.SessionToken != tempToken {
			t.Fatalf("%s %s: %+v, %v", r.service, r.url, res, err)
		}
	}
}

func TestNonS3BodyLimit(t *testing.T) {
	v := negVerifier()
	v.MaxBody = 16
	_, err := v.Verify(iamReq().server(t))
	wantCode(t, err, "RequestEntityTooLarge", 413)
	v.MaxBody = int64(len(iamForm))
	r := iamReq().server(t)
	if _, err := v.Verify(r); err != nil {
		t.Fatal(err)
	}
	if b, _ := io.ReadAll(r.Body); string(b) != iamForm {
		t.Fatalf("body put back as %q", b)
	}
}

// TestS3SignedBody checks x-amz-content-sha256 against the body as it streams.
func TestS3SignedBody(t *testing.T) {
	body := strings.Repeat("signed payload ", 10000)
	r := s3Put(body).server(t)
	if _, err := negVerifier().Verify(r); err != nil {
		t.Fatal(err)
	}
	if b, err := io.ReadAll(r.Body); err != nil || string(b) != body {
		t.Fatalf("read %d bytes: %v", len(b), err)
	}

	cr := s3Put(body).client(t)
	cr.Body = io.NopCloser(strings.NewReader(strings.ToUpper(body)))
	r = server(t, cr)
	if _, err := negVerifier().Verify(r); err != nil {
		t.Fatal(err) // the body isn't read during Verify
	}
	_, err := io.ReadAll(r.Body)
	wantCode(t, err, "XAmzContentSHA256Mismatch", 400)

	// A client that disconnects early: Content-Length promises more than arrives.
	var wire bytes.Buffer
	if err := s3Put(body).client(t).Write(&wire); err != nil {
		t.Fatal(err)
	}
	r, err = http.ReadRequest(bufio.NewReader(bytes.NewReader(wire.Bytes()[:wire.Len()-100])))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := negVerifier().Verify(r); err != nil {
		t.Fatal(err)
	}
	_, err = io.ReadAll(r.Body)
	wantCode(t, err, "IncompleteBody", 400)
}

func TestSignatureErrorCarriesCanonicalRequest(t *testing.T) {
	r := iamReq()
	r.creds.SecretAccessKey = "wrong"
	_, err := negVerifier().Verify(r.server(t))
	var se *SignatureError
	if !errors.As(err, &se) || !strings.HasPrefix(se.CanonicalRequest, "POST\n/\n\ncontent-length:") ||
		!strings.HasPrefix(se.StringToSign, "AWS4-HMAC-SHA256\n20260314T150926Z\n20260314/us-east-1/iam/aws4_request\n") {
		t.Fatalf("%#v", err)
	}
}

func TestParseScope(t *testing.T) {
	cases := []struct {
		auth, query     string
		service, region string
		ok              bool
	}{
		{"AWS4-HMAC-SHA256 Credential=AKID/20150830/eu-west-1/s3/aws4_request, SignedHeaders=host, Signature=x", "", "s3", "eu-west-1", true},
		{"AWS4-HMAC-SHA256 SignedHeaders=host,Credential=AKID/20150830/r/iam/aws4_request,Signature=x", "", "iam", "r", true},
		{"", "a=1&X-Amz-Credential=AKID%2F20150830%2Fus-east-1%2Fsts%2Faws4_request&b=2", "sts", "us-east-1", true},
		{"", "NotX-Amz-Credential=AKID%2F1%2F2%2F3%2F4&X-Amz-Credential=AKID%2F20150830%2Fr%2Fec2%2Faws4_request", "ec2", "r", true},
		{"AWS AKID:sig", "", "", "", false},
		{"", "versionId=1", "", "", false},
		{"AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/s3, Signature=x", "", "", "", false},
	}
	for _, c := range cases {
		r := &http.Request{Header: http.Header{}, URL: &url.URL{RawQuery: c.query}}
		if c.auth != "" {
			r.Header.Set("Authorization", c.auth)
		}
		s, reg, ok := ParseScope(r)
		if s != c.service || reg != c.region || ok != c.ok {
			t.Errorf("ParseScope(%q, %q) = %q, %q, %v", c.auth, c.query, s, reg, ok)
		}
	}
}
