package sigv4

import (
	"bytes"
	"crypto/hmac"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// The worked examples of the S3 API reference ("Signature Calculations for the
// Authorization Header", "Query String Authentication", "Transferring Payload in Multiple
// Chunks"): key AKIAIOSFODNN7EXAMPLE, us-east-1, 20130524T000000Z.
const (
	s3ExampleKeyID  = "AKIAIOSFODNN7EXAMPLE"
	s3ExampleSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	s3ExampleDate   = "20130524T000000Z"
)

func s3ExampleVerifier(t testing.TB) *Verifier {
	return &Verifier{
		Credentials: staticStore{s3ExampleKeyID: {AccessKeyID: s3ExampleKeyID, SecretAccessKey: s3ExampleSecret}},
		Now:         fixedClock(mustTime(t, s3ExampleDate)),
	}
}

func s3ExampleAuth(signed, sig string) string {
	return "AWS4-HMAC-SHA256 Credential=" + s3ExampleKeyID + "/20130524/us-east-1/s3/aws4_request,SignedHeaders=" + signed + ",Signature=" + sig
}

func TestS3DocumentationExamples(t *testing.T) {
	cases := []struct {
		name, raw string
		body      string
	}{
		{"GetObject", "GET /test.txt HTTP/1.1\nHost:examplebucket.s3.amazonaws.com\nRange:bytes=0-9\n" +
			"x-amz-content-sha256:" + emptySHA256 + "\nx-amz-date:" + s3ExampleDate + "\nAuthorization:" +
			s3ExampleAuth("host;range;x-amz-content-sha256;x-amz-date", "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41") + "\n\n", ""},
		// The path is sent with a literal '$' but signed as %24: S3 canonicalizes the path.
		{"PutObject", "PUT /test$file.text HTTP/1.1\nHost:examplebucket.s3.amazonaws.com\nDate:Fri, 24 May 2013 00:00:00 GMT\n" +
			"x-amz-date:" + s3ExampleDate + "\nx-amz-storage-class:REDUCED_REDUNDANCY\n" +
			"x-amz-content-sha256:44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072\nAuthorization:" +
			s3ExampleAuth("date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class", "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd") +
			"\n\nWelcome to Amazon S3.", "Welcome to Amazon S3."},
		{"GetBucketLifecycle", "GET /?lifecycle HTTP/1.1\nHost:examplebucket.s3.amazonaws.com\n" +
			"x-amz-content-sha256:" + emptySHA256 + "\nx-amz-date:" + s3ExampleDate + "\nAuthorization:" +
			s3ExampleAuth("host;x-amz-content-sha256;x-amz-date", "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543") + "\n\n", ""},
		{"ListObjects", "GET /?max-keys=2&prefix=J HTTP/1.1\nHost:examplebucket.s3.amazonaws.com\n" +
			"x-amz-content-sha256:" + emptySHA256 + "\nx-amz-date:" + s3ExampleDate + "\nAuthorization:" +
			s3ExampleAuth("host;x-amz-content-sha256;x-amz-date", "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7") + "\n\n", ""},
		{"PresignedGetObject", "GET /test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request" +
			"&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host" +
			"&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404 HTTP/1.1\nHost:examplebucket.s3.amazonaws.com\n\n", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := rawRequest(t, c.raw)
			res, err := s3ExampleVerifier(t).Verify(r)
			if err != nil {
				t.Fatal(err)
			}
			if res.Service != "s3" || res.Credential.AccessKeyID != s3ExampleKeyID {
				t.Fatalf("result %+v", res)
			}
			body, err := readAll(t, r)
			if err != nil || string(body) != c.body {
				t.Fatalf("body %q, %v", body, err)
			}
		})
	}
}

// chunkExample builds the S3 documentation's chunked upload: 65 KiB of 'a' in a 64 KiB and
// a 1 KiB chunk, with the signatures the documentation prints.
func chunkExample(t testing.TB) *http.Request {
	var body bytes.Buffer
	chunk := func(n int, sig string) {
		fmt.Fprintf(&body, "%x;chunk-signature=%s\r\n", n, sig)
		body.Write(bytes.Repeat([]byte{'a'}, n))
		body.WriteString("\r\n")
	}
	chunk(65536, "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648")
	chunk(1024, "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497")
	body.WriteString("0;chunk-signature=b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9\r\n\r\n")
	if body.Len() != 66824 {
		t.Fatalf("encoded length %d, the documentation says 66824", body.Len())
	}
	r := &http.Request{
		Method: "PUT", RequestURI: "/examplebucket/chunkObject.txt", Host: "s3.amazonaws.com",
		URL: &url.URL{Path: "/examplebucket/chunkObject.txt"}, ContentLength: int64(body.Len()),
		Header: http.Header{
			"Content-Encoding":             {"aws-chunked"},
			"Content-Length":               {"66824"},
			"X-Amz-Content-Sha256":         {streamingSigned},
			"X-Amz-Date":                   {s3ExampleDate},
			"X-Amz-Decoded-Content-Length": {"66560"},
			"X-Amz-Storage-Class":          {"REDUCED_REDUNDANCY"},
			"Authorization": {s3ExampleAuth("content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class",
				"4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9")},
		},
		Body: io.NopCloser(&body),
	}
	return r
}

func TestS3ChunkedUploadExample(t *testing.T) {
	r := chunkExample(t)
	res, err := s3ExampleVerifier(t).Verify(r)
	if err != nil {
		t.Fatal(err)
	}
	if res.Payload != PayloadStreamingSigned || r.ContentLength != 66560 || r.Header.Get("Content-Encoding") != "" {
		t.Fatalf("payload %v, length %d, encoding %q", res.Payload, r.ContentLength, r.Header.Get("Content-Encoding"))
	}
	// Read in odd sizes so reads straddle chunk boundaries.
	var got bytes.Buffer
	buf := make([]byte, 1000)
	for {
		n, err := r.Body.Read(buf)
		got.Write(buf[:n])
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(got.Bytes(), bytes.Repeat([]byte{'a'}, 66560)) {
		t.Fatalf("decoded %d bytes", got.Len())
	}
}

// TestTrailerSignatureExample continues the documentation's chunk chain with the signed
// trailer vector AWS's C signer tests use: trailers first:1st, second:2nd, third:3rd.
func TestTrailerSignatureExample(t *testing.T) {
	key := deriveSigningKey(s3ExampleSecret, "20130524", "us-east-1", "s3")
	sc := credentialScope{s3ExampleKeyID, "20130524", "us-east-1", "s3", scopeTerminal}
	var body bytes.Buffer
	for _, c := range []struct {
		n   int
		sig string
	}{{65536, "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648"}, {1024, "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497"}} {
		fmt.Fprintf(&body, "%x;chunk-signature=%s\r\n%s\r\n", c.n, c.sig, strings.Repeat("a", c.n))
	}
	body.WriteString("0;chunk-signature=b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9\r\n" +
		"first:1st\r\nsecond:2nd\r\nthird:3rd\r\n" +
		"x-amz-trailer-signature:df5735bd9f3295cd9386572292562fefc93ba94e80a0a1ddcbd652c4e0a75e6c\r\n\r\n")
	signer := newChunkSigner(key[:], s3ExampleDate, sc, "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9")
	cb := newChunkedBody(io.NopCloser(&body), 66560, []string{"first", "second", "third"}, signer, true)
	n, err := io.Copy(io.Discard, cb)
	if err != nil || n != 66560 {
		t.Fatalf("decoded %d bytes: %v", n, err)
	}
	if tr := cb.Trailer(); tr.Get("second") != "2nd" || len(tr) != 3 {
		t.Fatalf("trailer %v", tr)
	}
}

func TestSigningKeyIsHMACChain(t *testing.T) {
	// The key derivation example of the IAM user guide.
	k := deriveSigningKey("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20120215", "us-east-1", "iam")
	want := "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d"
	if got := fmt.Sprintf("%x", k); got != want {
		t.Fatalf("signing key %s, want %s", got, want)
	}
	// Cached and derived keys agree.
	if c := signingKeys.get("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20120215", "us-east-1", "iam"); !hmac.Equal(c[:], k[:]) {
		t.Fatal("cache disagrees")
	}
}
