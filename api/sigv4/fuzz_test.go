package sigv4

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/banyancloud/banyan/api/awserr"
)

// FuzzParseAuthorization feeds arbitrary Authorization headers to the parser and to
// ParseScope: neither may panic, an accepted header must be well formed and survive a
// round trip, and ParseScope must agree with it about the scope.
func FuzzParseAuthorization(f *testing.F) {
	for _, s := range []string{
		"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
		"AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
		"AWS4-HMAC-SHA256 Signature=x, SignedHeaders=Host, Credential=a/b/c/d/e",
		"AWS4-HMAC-SHA256 Credential=a/b/c/d/e/f, SignedHeaders=host, Signature=x",
		"AWS4-HMAC-SHA256 Credential=a/b/c/d/e, Credential=a/b/c/d/e, SignedHeaders=host, Signature=x",
		"AWS4-HMAC-SHA256 XCredential=x/y/z/w/v, Credential=a/b/c/d/e, SignedHeaders=host;;x, Signature=x",
		"AWS4-HMAC-SHA256 Credential",
		"AWS4-HMAC-SHA256",
		"AWS AKIDEXAMPLE:frJIUN8DYpKDtOLCwo//yllqDzg=",
		"AWS4-ECDSA-P256-SHA256 Credential=a/b/s3/aws4_request, SignedHeaders=host, Signature=x",
		"Bearer token",
		"",
		" \t,,=",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		in, err := parseAuthorization(h)
		r := &http.Request{Header: http.Header{"Authorization": {h}}, URL: &url.URL{}}
		service, region, ok := ParseScope(r)
		if err != nil {
			var m *malformedAuth
			var u *unsupportedAuth
			if !errors.As(err, &m) && !errors.As(err, &u) {
				t.Fatalf("error of type %T: %v", err, err)
			}
			return
		}
		if !in.scopeOK || in.scope.accessKeyID == "" || in.scope.terminal == "" || len(in.signedHeaders) == 0 {
			t.Fatalf("accepted %q as %+v", h, in)
		}
		for _, n := range in.signedHeaders {
			if n == "" || n != strings.ToLower(n) {
				t.Fatalf("signed header %q", n)
			}
		}
		if !ok || service != in.scope.service || region != in.scope.region {
			t.Fatalf("ParseScope(%q) = %q %q %v; parser says %+v", h, service, region, ok, in.scope)
		}
		again := algorithmHMAC + " Credential=" + in.scope.accessKeyID + "/" + in.scope.String() +
			", SignedHeaders=" + in.signedRaw + ", Signature=" + in.signature
		in2, err := parseAuthorization(again)
		if err != nil || in2.scope != in.scope || in2.signedRaw != in.signedRaw || in2.signature != in.signature ||
			!slices.Equal(in2.signedHeaders, in.signedHeaders) {
			t.Fatalf("round trip of %q: %q gives %+v, %v", h, again, in2, err)
		}
	})
}

// FuzzChunkedReader decodes arbitrary bytes as an aws-chunked body in each mode. It must
// end (EOF or an AWS error) without panicking, never yield more bytes than it was given, and
// honour the decoded length whenever it reports success.
func FuzzChunkedReader(f *testing.F) {
	data := []byte("hello, chunked world")
	seed := strings.Repeat("ab", 32)
	for _, c := range []chunked{
		{data: data, chunkSize: 7, signed: true},
		{data: data, chunkSize: 5, signed: true, trailers: [][2]string{crc32Trailer(data)}, signedTrailer: true},
		{data: data, chunkSize: 8, trailers: [][2]string{crc32Trailer(data)}},
		{data: nil, chunkSize: 8},
	} {
		b := c.encode(seed)
		flags := uint8(0)
		if c.signed {
			flags |= 1
		}
		if len(c.trailers) > 0 {
			flags |= 2
		}
		if c.signedTrailer {
			flags |= 4
		}
		f.Add(b, flags, int64(len(c.data)))
		f.Add(b[:len(b)/2], flags, int64(len(c.data)))
	}
	f.Add([]byte("5\r\nhello\r\n0\r\n\r\n"), uint8(0), int64(-1))
	f.Add([]byte("ffffffffffffffff\r\n"), uint8(0), int64(-1))
	f.Add([]byte("1;chunk-signature=zz\r\na\r\n0\r\n\r\n"), uint8(1), int64(1))
	f.Add([]byte("0\r\nx-amz-checksum-crc32:AAAAAA==\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n"), uint8(2), int64(0))

	key := signingKeyFor(signT.Format("20060102"))
	scope := credentialScope{testKeyID, signT.Format("20060102"), "us-east-1", "s3", scopeTerminal}
	f.Fuzz(func(t *testing.T, body []byte, flags uint8, decoded int64) {
		if decoded < -1 {
			decoded = -1
		}
		var signer *chunkSigner
		if flags&1 != 0 {
			signer = newChunkSigner(key, signT.Format(iso8601), scope, seed)
		}
		var declared []string
		if flags&2 != 0 {
			declared = []string{"x-amz-checksum-crc32"}
		}
		cb := newChunkedBody(io.NopCloser(bytes.NewReader(body)), decoded, declared, signer, flags&4 != 0 && signer != nil)
		got, err := io.ReadAll(cb)
		if len(got) > len(body) {
			t.Fatalf("decoded %d bytes from %d", len(got), len(body))
		}
		if err != nil {
			var e *awserr.Error
			if !errors.As(err, &e) {
				t.Fatalf("error of type %T: %v", err, err)
			}
			return
		}
		if decoded >= 0 && int64(len(got)) != decoded {
			t.Fatalf("success with %d bytes, decoded length %d", len(got), decoded)
		}
		if len(declared) > 0 && cb.Trailer().Get(declared[0]) == "" {
			t.Fatalf("success without the declared trailer")
		}
	})
}
