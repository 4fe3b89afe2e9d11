package sigv4

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"hash"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/banyancloud/banyan/api/awserr"
)

// PayloadMode is how the request body is protected, from the x-amz-content-sha256 value it
// was signed with. The verifier enforces every mode; callers use it for policy (a bucket
// may refuse unsigned payloads) and to know whether trailers will follow the body.
type PayloadMode uint8

const (
	// PayloadUnsigned: UNSIGNED-PAYLOAD, presigned S3 URLs, and anonymous requests. The body
	// is not covered by the signature.
	PayloadUnsigned PayloadMode = iota
	// PayloadSigned: the body's SHA-256 is signed. Non-S3 bodies are checked during Verify;
	// S3 bodies are checked as they are read, and a mismatch is an error from Read at EOF.
	PayloadSigned
	// PayloadStreamingSigned: STREAMING-AWS4-HMAC-SHA256-PAYLOAD, aws-chunked with every
	// chunk signed in a chain from the request's signature.
	PayloadStreamingSigned
	// PayloadStreamingSignedTrailer: STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER, signed
	// chunks followed by signed trailing headers.
	PayloadStreamingSignedTrailer
	// PayloadStreamingUnsignedTrailer: STREAMING-UNSIGNED-PAYLOAD-TRAILER, aws-chunked
	// without chunk signatures, integrity from a trailing checksum.
	PayloadStreamingUnsignedTrailer
)

const (
	unsignedPayload          = "UNSIGNED-PAYLOAD"
	streamingSigned          = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
	streamingSignedTrailer   = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
	streamingUnsignedTrailer = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
	emptySHA256              = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
)

// String returns the x-amz-content-sha256 value for the mode (or "SHA-256" for PayloadSigned).
func (m PayloadMode) String() string {
	switch m {
	case PayloadSigned:
		return "SHA-256"
	case PayloadStreamingSigned:
		return streamingSigned
	case PayloadStreamingSignedTrailer:
		return streamingSignedTrailer
	case PayloadStreamingUnsignedTrailer:
		return streamingUnsignedTrailer
	}
	return unsignedPayload
}

// Streaming reports whether the body is aws-chunked.
func (m PayloadMode) Streaming() bool { return m >= PayloadStreamingSigned }

// parseContentSHA256 classifies an x-amz-content-sha256 value. ECDSA (SigV4A) streaming
// values are refused with the rest: they cannot go with an HMAC signature.
func parseContentSHA256(v string) (PayloadMode, [sha256.Size]byte, bool) {
	var sum [sha256.Size]byte
	switch v {
	case unsignedPayload:
		return PayloadUnsigned, sum, true
	case streamingSigned:
		return PayloadStreamingSigned, sum, true
	case streamingSignedTrailer:
		return PayloadStreamingSignedTrailer, sum, true
	case streamingUnsignedTrailer:
		return PayloadStreamingUnsignedTrailer, sum, true
	}
	if len(v) != 2*sha256.Size {
		return 0, sum, false
	}
	if _, err := hex.Decode(sum[:], []byte(v)); err != nil {
		return 0, sum, false
	}
	return PayloadSigned, sum, true
}

var invalidContentSHA256 = InvalidArgument.WithMessage("x-amz-content-sha256 must be UNSIGNED-PAYLOAD, " +
	"STREAMING-UNSIGNED-PAYLOAD-TRAILER, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, " +
	"STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER or a valid sha256 value.")

// truncated maps the ways a body can end early to IncompleteBody. Go's server reports a
// body shorter than its Content-Length (or a broken chunked encoding) as ErrUnexpectedEOF.
func truncated(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return IncompleteBody
	}
	return err
}

// sha256Body checks an S3 body against its signed x-amz-content-sha256 as it is read, so
// objects of any size stream through without being buffered. The bytes reach the caller
// before the check, which is why the mismatch is an error at EOF the caller must not ignore.
type sha256Body struct {
	body io.ReadCloser
	h    hash.Hash
	want [sha256.Size]byte
	err  error
}

func newSHA256Body(body io.ReadCloser, want [sha256.Size]byte) *sha256Body {
	return &sha256Body{body: body, h: sha256.New(), want: want}
}

func (b *sha256Body) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	n, err := b.body.Read(p)
	b.h.Write(p[:n])
	switch {
	case err == io.EOF:
		var got [sha256.Size]byte
		if b.h.Sum(got[:0]); got != b.want {
			err = XAmzContentSHA256Mismatch
		}
	case err != nil:
		err = truncated(err)
	}
	b.err = err
	return n, err
}

func (b *sha256Body) Close() error { return b.body.Close() }

// readBody reads a whole non-S3 body, which is needed before verification because its hash
// is part of the canonical request. The bound keeps a client from making the server hold an
// arbitrarily large body before it is even authenticated.
func readBody(r *http.Request, max int64) ([]byte, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	if r.ContentLength > max {
		return nil, tooLarge(max)
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, max+1))
	if err != nil {
		return nil, truncated(err)
	}
	if int64(len(b)) > max {
		return nil, tooLarge(max)
	}
	r.Body = io.NopCloser(bytes.NewReader(b))
	return b, nil
}

func tooLarge(max int64) error {
	return awserr.RequestEntityTooLarge.WithMessage("The request body is larger than the %d bytes this service accepts.", max)
}

// payloadHash returns the payload line of the canonical request. S3 takes it from
// x-amz-content-sha256 and checks the body later, as it streams; every other service
// signs the body's hash, so the body is read (bounded) and hashed here.
func (v *Verifier) payloadHash(r *http.Request, in *authInput, d Dialect) (string, PayloadMode, [sha256.Size]byte, error) {
	var sum [sha256.Size]byte
	if d != DialectS3 {
		max := v.MaxBody
		if max <= 0 {
			max = defaultMaxBody
		}
		body, err := readBody(r, max)
		if err != nil {
			return "", 0, sum, err
		}
		sum = sha256.Sum256(body)
		return hex.EncodeToString(sum[:]), PayloadSigned, sum, nil
	}
	cs := in.contentSHA
	switch {
	case !in.presigned:
		cs = r.Header.Get("X-Amz-Content-Sha256")
		if cs == "" {
			return "", 0, sum, InvalidRequest.WithMessage("Missing required header for this request: x-amz-content-sha256")
		}
	case cs == "":
		cs = unsignedPayload // what a presigned URL signs: the body is unknown when signing
	}
	mode, sum, ok := parseContentSHA256(cs)
	if !ok {
		return "", 0, sum, invalidContentSHA256
	}
	return cs, mode, sum, nil
}

// installBody replaces an S3 request's body with one that enforces its payload mode.
func installBody(r *http.Request, res *Result, in *authInput, key []byte, amzDate string, sum [sha256.Size]byte) error {
	switch res.Payload {
	case PayloadUnsigned:
		return nil
	case PayloadSigned:
		if r.ContentLength == 0 || r.Body == nil || r.Body == http.NoBody {
			if hex.EncodeToString(sum[:]) != emptySHA256 {
				return XAmzContentSHA256Mismatch
			}
			return nil
		}
		r.Body = newSHA256Body(r.Body, sum)
		return nil
	}

	v := r.Header.Get("X-Amz-Decoded-Content-Length")
	if v == "" {
		// S3 needs an object's size up front; botocore omits the header only for bodies of
		// unknown length, which S3 refuses the same way.
		return MissingContentLength.WithMessage("You must provide the X-Amz-Decoded-Content-Length HTTP header with an aws-chunked body.")
	}
	decoded, err := strconv.ParseInt(v, 10, 64)
	if err != nil || decoded < 0 {
		return InvalidArgument.WithMessage("X-Amz-Decoded-Content-Length must be a non-negative integer, not %q.", v)
	}
	var declared []string
	if res.Payload != PayloadStreamingSigned {
		for _, v := range r.Header.Values("X-Amz-Trailer") {
			for _, name := range strings.Split(v, ",") {
				if name = strings.ToLower(strings.TrimSpace(name)); name != "" && !slices.Contains(declared, name) {
					declared = append(declared, name)
				}
			}
		}
		if len(declared) > maxTrailerLines {
			return InvalidRequest.WithMessage("X-Amz-Trailer declares too many trailers.")
		}
	}
	var signer *chunkSigner
	if res.Payload != PayloadStreamingUnsignedTrailer {
		signer = newChunkSigner(key, amzDate, in.scope, in.signature)
	}
	body := r.Body
	if body == nil {
		body = http.NoBody
	}
	cb := newChunkedBody(body, decoded, declared, signer, res.Payload == PayloadStreamingSignedTrailer)
	r.Body = cb
	r.ContentLength = decoded
	if r.Header.Get("Content-Length") != "" {
		r.Header.Set("Content-Length", strconv.FormatInt(decoded, 10))
	}
	stripAWSChunked(r.Header)
	res.trailer = cb.Trailer
	return nil
}

// stripAWSChunked removes the aws-chunked coding, now undone, from Content-Encoding so the
// object is stored with only the encodings the client meant (botocore sends "gzip,aws-chunked").
func stripAWSChunked(h http.Header) {
	vals := h.Values("Content-Encoding")
	if len(vals) == 0 {
		return
	}
	var keep []string
	for _, v := range vals {
		for _, e := range strings.Split(v, ",") {
			if e = strings.TrimSpace(e); e != "" && !strings.EqualFold(e, "aws-chunked") {
				keep = append(keep, e)
			}
		}
	}
	if len(keep) == 0 {
		h.Del("Content-Encoding")
		return
	}
	h.Set("Content-Encoding", strings.Join(keep, ","))
}
