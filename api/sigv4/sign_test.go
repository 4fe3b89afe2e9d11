package sigv4

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// signT is the signing time of the hand-made requests; verifiers run one minute later.
var signT = time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)

const (
	tempKeyID = "ASIABANYANTEMP000001"
	tempToken = "FwoGZXIvYXdzEXAMPLEtoken//+=="
	oldKeyID  = "ASIABANYANEXPIRED001"
)

func negVerifier() *Verifier {
	return &Verifier{
		Credentials: staticStore{
			testKeyID: {AccessKeyID: testKeyID, SecretAccessKey: testSecret},
			tempKeyID: {AccessKeyID: tempKeyID, SecretAccessKey: testSecret, SessionToken: tempToken, Expires: signT.Add(time.Hour)},
			oldKeyID:  {AccessKeyID: oldKeyID, SecretAccessKey: testSecret, SessionToken: tempToken, Expires: signT.Add(30 * time.Second)},
		},
		Now: fixedClock(signT.Add(time.Minute)),
	}
}

// req is a request under construction: signed by the SDK's signer, then optionally spoiled,
// then serialized and parsed back so the verifier sees exactly what Go's server would.
type req struct {
	method, url, service, body string
	header                     http.Header
	creds                      aws.Credentials
	payload                    string // S3 x-amz-content-sha256; default sha256(body)
	presign                    bool
	at                         time.Time
}

func newReq(method, url, service, body string) *req {
	return &req{method: method, url: url, service: service, body: body, header: http.Header{},
		creds: aws.Credentials{AccessKeyID: testKeyID, SecretAccessKey: testSecret}, at: signT}
}

// client returns the signed client-side request.
func (r *req) client(t testing.TB) *http.Request {
	t.Helper()
	hr, err := http.NewRequest(r.method, r.url, strings.NewReader(r.body))
	if err != nil {
		t.Fatal(err)
	}
	if r.body == "" {
		hr.Body, hr.ContentLength = http.NoBody, 0
	}
	for k, v := range r.header {
		hr.Header[k] = v
	}
	payload := r.payload
	if payload == "" {
		payload = sha256Hex([]byte(r.body))
	}
	opts := func(o *v4.SignerOptions) { o.DisableURIPathEscaping = r.service == "s3" }
	if r.service == "s3" && !r.presign {
		hr.Header.Set("X-Amz-Content-Sha256", payload)
	}
	if r.presign {
		if r.service == "s3" && r.payload == "" {
			payload = unsignedPayload
		}
		u, h, err := v4.NewSigner().PresignHTTP(context.Background(), r.creds, hr, payload, r.service, "us-east-1", r.at, opts)
		if err != nil {
			t.Fatal(err)
		}
		pr, _ := http.NewRequest(r.method, u, strings.NewReader(r.body))
		if r.body == "" {
			pr.Body, pr.ContentLength = http.NoBody, 0
		}
		for k, v := range h {
			if k != "Host" {
				pr.Header[k] = v
			}
		}
		return pr
	}
	if err := v4.NewSigner().SignHTTP(context.Background(), r.creds, hr, payload, r.service, "us-east-1", r.at, opts); err != nil {
		t.Fatal(err)
	}
	return hr
}

// server turns a client request into the request a handler receives.
func server(t testing.TB, cr *http.Request) *http.Request {
	t.Helper()
	var buf bytes.Buffer
	if err := cr.Write(&buf); err != nil {
		t.Fatal(err)
	}
	sr, err := http.ReadRequest(bufio.NewReader(&buf))
	if err != nil {
		t.Fatal(err)
	}
	return sr
}

func (r *req) server(t testing.TB) *http.Request { return server(t, r.client(t)) }

func signingKeyFor(date string) []byte {
	k := deriveSigningKey(testSecret, date, "us-east-1", "s3")
	return k[:]
}

// chunkSig is an independent rendering of the chunk signature of the S3 streaming spec.
func chunkSig(key []byte, amzDate, scope, prev string, data []byte) string {
	sts := "AWS4-HMAC-SHA256-PAYLOAD\n" + amzDate + "\n" + scope + "\n" + prev + "\n" + emptySHA256 + "\n" + sha256Hex(data)
	m := hmac.New(sha256.New, key)
	m.Write([]byte(sts))
	return hex.EncodeToString(m.Sum(nil))
}

func trailerSig(key []byte, amzDate, scope, prev string, canonical string) string {
	sts := "AWS4-HMAC-SHA256-TRAILER\n" + amzDate + "\n" + scope + "\n" + prev + "\n" + sha256Hex([]byte(canonical))
	m := hmac.New(sha256.New, key)
	m.Write([]byte(sts))
	return hex.EncodeToString(m.Sum(nil))
}

// chunked is an aws-chunked body to build, signed or not, with optional trailers.
type chunked struct {
	data          []byte
	chunkSize     int
	signed        bool
	trailers      [][2]string
	signedTrailer bool
}

func (c chunked) mode() string {
	switch {
	case c.signed && c.signedTrailer:
		return streamingSignedTrailer
	case c.signed:
		return streamingSigned
	}
	return streamingUnsignedTrailer
}

// encode renders the body, chaining chunk signatures from seed.
func (c chunked) encode(seed string) []byte {
	key := signingKeyFor(signT.Format("20060102"))
	amzDate := signT.Format(iso8601)
	scope := signT.Format("20060102") + "/us-east-1/s3/aws4_request"
	var b bytes.Buffer
	prev := seed
	emit := func(p []byte) {
		fmt.Fprintf(&b, "%x", len(p))
		if c.signed {
			prev = chunkSig(key, amzDate, scope, prev, p)
			fmt.Fprintf(&b, ";chunk-signature=%s", prev)
		}
		b.WriteString("\r\n")
		b.Write(p)
		if len(p) > 0 {
			b.WriteString("\r\n")
		}
	}
	for rest := c.data; len(rest) > 0; {
		n := min(c.chunkSize, len(rest))
		emit(rest[:n])
		rest = rest[n:]
	}
	emit(nil)
	var canonical string
	for _, tr := range c.trailers {
		fmt.Fprintf(&b, "%s:%s\r\n", tr[0], tr[1])
		canonical += tr[0] + ":" + tr[1] + "\n"
	}
	if c.signedTrailer {
		fmt.Fprintf(&b, "x-amz-trailer-signature:%s\r\n", trailerSig(key, amzDate, scope, prev, canonical))
	}
	b.WriteString("\r\n")
	return b.Bytes()
}

// chunkedReq builds a signed S3 PUT carrying c; spoil, if set, edits the encoded body.
func chunkedReq(t testing.TB, c chunked, spoil func([]byte) []byte) *http.Request {
	t.Helper()
	r := newReq("PUT", "http://s3.example/bkt/key", "s3", "")
	r.payload = c.mode()
	r.header.Set("Content-Encoding", "aws-chunked")
	r.header.Set("X-Amz-Decoded-Content-Length", fmt.Sprint(len(c.data)))
	if len(c.trailers) > 0 {
		names := make([]string, len(c.trailers))
		for i, tr := range c.trailers {
			names[i] = tr[0]
		}
		r.header.Set("X-Amz-Trailer", strings.Join(names, ","))
	}
	cr := r.client(t)
	auth := cr.Header.Get("Authorization")
	seed := auth[strings.LastIndex(auth, "Signature=")+len("Signature="):]
	body := c.encode(seed)
	if spoil != nil {
		body = spoil(body)
	}
	cr.Body, cr.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
	return server(t, cr)
}
