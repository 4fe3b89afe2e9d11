package sigv4

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"io"
	"net/http"
	"slices"
	"strings"
)

// The aws-chunked body (S3's sigv4-streaming) is
//
//	hex-size[;chunk-signature=sig]\r\n data \r\n ... 0[;chunk-signature=sig]\r\n
//	[trailer-name:value\r\n ... [x-amz-trailer-signature:sig\r\n]] \r\n
//
// The decoder streams: it holds one bufio buffer and a few hash states, whatever the chunk
// size, and never allocates per chunk. A chunk's bytes reach the caller before the chunk's
// signature (which covers the whole chunk) can be checked; a bad signature is an error from
// Read at the end of that chunk, and the caller must not commit a body whose read failed,
// the same rule as for a truncated body.
const (
	chunkBufferSize = 16 << 10 // also the longest chunk header or trailer line accepted
	maxTrailerLines = 16
	trailerSigName  = "x-amz-trailer-signature"
	chunkSigPrefix  = "chunk-signature="
	sigHexLen       = 2 * sha256.Size
)

// chunkSigner checks the chain of chunk signatures: each signs its chunk's hash together
// with the previous signature, the first one chaining from the request's own (the seed).
type chunkSigner struct {
	mac      hash.Hash // HMAC-SHA256 under the request's signing key, reset per chunk
	chunkSTS string    // "AWS4-HMAC-SHA256-PAYLOAD\n<date>\n<scope>\n"
	trailSTS string    // "AWS4-HMAC-SHA256-TRAILER\n<date>\n<scope>\n"
	prev     [sigHexLen]byte
	want     [sigHexLen]byte
	data     hash.Hash // SHA-256 of the current chunk
}

func newChunkSigner(key []byte, amzDate string, scope credentialScope, seed string) *chunkSigner {
	s := &chunkSigner{
		mac:      hmac.New(sha256.New, key),
		chunkSTS: "AWS4-HMAC-SHA256-PAYLOAD\n" + amzDate + "\n" + scope.String() + "\n",
		trailSTS: "AWS4-HMAC-SHA256-TRAILER\n" + amzDate + "\n" + scope.String() + "\n",
		data:     sha256.New(),
	}
	copy(s.prev[:], seed)
	return s
}

// verify computes HMAC(prefix + prev + "\n" + middle + hex(sum)) and checks it against
// s.want, advancing the chain.
func (s *chunkSigner) verify(prefix, middle string, sum []byte) bool {
	var hexSum [sigHexLen]byte
	hex.Encode(hexSum[:], sum)
	s.mac.Reset()
	io.WriteString(s.mac, prefix)
	s.mac.Write(s.prev[:])
	io.WriteString(s.mac, "\n")
	io.WriteString(s.mac, middle)
	s.mac.Write(hexSum[:])
	var mac [sha256.Size]byte
	hex.Encode(s.prev[:], s.mac.Sum(mac[:0]))
	return hmac.Equal(s.prev[:], s.want[:])
}

func (s *chunkSigner) verifyChunk() bool {
	var sum [sha256.Size]byte
	ok := s.verify(s.chunkSTS, emptySHA256+"\n", s.data.Sum(sum[:0]))
	s.data.Reset()
	return ok
}

func (s *chunkSigner) verifyTrailer(canonical []byte) bool {
	sum := sha256.Sum256(canonical)
	return s.verify(s.trailSTS, "", sum[:])
}

// chunkedBody decodes an aws-chunked body and enforces its signatures, its declared decoded
// length and its trailing checksums.
type chunkedBody struct {
	body     io.ReadCloser
	src      *bufio.Reader
	sig      *chunkSigner // nil when chunks are not signed
	sigTrail bool         // the trailer section carries x-amz-trailer-signature
	declared []string     // X-Amz-Trailer names, lower case
	sums     []trailerChecksum
	want     int64 // X-Amz-Decoded-Content-Length, or -1 if not given
	got      int64
	left     int64 // bytes of the current chunk still to read
	inChunk  bool
	trailer  http.Header
	err      error
}

func newChunkedBody(body io.ReadCloser, decodedLength int64, declared []string, sig *chunkSigner, signedTrailer bool) *chunkedBody {
	c := &chunkedBody{
		body:     body,
		src:      bufio.NewReaderSize(body, chunkBufferSize),
		sig:      sig,
		sigTrail: signedTrailer,
		declared: declared,
		want:     decodedLength,
	}
	for _, name := range declared {
		if alg, ok := checksumAlgorithms[name]; ok {
			c.sums = append(c.sums, trailerChecksum{name: name, alg: alg, h: alg.new()})
		}
	}
	return c
}

func malformedChunk(what string) error {
	return IncompleteBody.WithMessage("The aws-chunked request body is malformed: %s.", what)
}

func badChunkSignature(what string) error {
	return S3SignatureDoesNotMatch.WithMessage("The request signature we calculated does not match the signature you provided (%s). Check your key and signing method.", what)
}

func (c *chunkedBody) Read(p []byte) (int, error) {
	for c.left == 0 {
		if c.err != nil {
			return 0, c.err
		}
		c.err = c.next()
	}
	if len(p) == 0 {
		return 0, nil
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.src.Read(p)
	if n > 0 {
		if c.sig != nil {
			c.sig.data.Write(p[:n])
		}
		for i := range c.sums {
			c.sums[i].h.Write(p[:n])
		}
		c.left -= int64(n)
		c.got += int64(n)
	}
	if err != nil {
		c.err, c.left = truncated(err), 0
		if n == 0 {
			return 0, c.err
		}
	}
	return n, nil
}

func (c *chunkedBody) Close() error { return c.body.Close() }

// Trailer returns the trailing headers once the body has been read to EOF, nil before.
func (c *chunkedBody) Trailer() http.Header {
	if c.err != io.EOF {
		return nil
	}
	return c.trailer
}

// readLine returns the next CRLF-terminated line without its terminator. The slice is only
// valid until the next read.
func (c *chunkedBody) readLine() ([]byte, error) {
	line, err := c.src.ReadSlice('\n')
	switch err {
	case nil:
	case bufio.ErrBufferFull:
		return nil, malformedChunk("a chunk header or trailer line is too long")
	default:
		return line, truncated(err)
	}
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, nil
}

// next finishes the current chunk and starts the next, or reads the end of the body.
func (c *chunkedBody) next() error {
	if c.inChunk {
		c.inChunk = false
		if b0, err := c.src.ReadByte(); err != nil {
			return truncated(err)
		} else if b0 == '\n' {
			// Tolerate a bare LF as line ends are tolerated elsewhere.
		} else if b1, err := c.src.ReadByte(); err != nil {
			return truncated(err)
		} else if b0 != '\r' || b1 != '\n' {
			return malformedChunk("chunk data is longer than its declared size")
		}
		if c.sig != nil && !c.sig.verifyChunk() {
			return badChunkSignature("chunk signature")
		}
	}
	line, err := c.readLine()
	if err != nil {
		return err
	}
	size, err := c.parseChunkHeader(line)
	if err != nil {
		return err
	}
	if c.want >= 0 && size > c.want-c.got {
		return malformedChunk("the chunks are longer than X-Amz-Decoded-Content-Length")
	}
	if size == 0 {
		if c.sig != nil && !c.sig.verifyChunk() {
			return badChunkSignature("final chunk signature")
		}
		return c.finish()
	}
	c.left, c.inChunk = size, true
	return nil
}

// parseChunkHeader reads "hex-size[;chunk-signature=sig]" and readies the signature check.
func (c *chunkedBody) parseChunkHeader(line []byte) (int64, error) {
	sizeText, ext, _ := bytes.Cut(line, []byte{';'})
	if len(sizeText) == 0 || len(sizeText) > 15 {
		return 0, malformedChunk("bad chunk size")
	}
	var size int64
	for _, ch := range sizeText {
		d, ok := unhex(ch)
		if !ok {
			return 0, malformedChunk("bad chunk size")
		}
		size = size<<4 | int64(d)
	}
	if c.sig == nil {
		return size, nil // unsigned chunks may carry extensions we have no use for
	}
	sig, ok := bytes.CutPrefix(ext, []byte(chunkSigPrefix))
	if !ok || len(sig) != sigHexLen {
		return 0, badChunkSignature("a chunk has no valid chunk-signature")
	}
	copy(c.sig.want[:], sig)
	return size, nil
}

// finish reads the trailer section after the final chunk and runs the end-of-body checks:
// trailer signature, declared trailers present, decoded length, checksums, nothing after.
func (c *chunkedBody) finish() error {
	var trailerSig []byte
	var canonical []byte // "name:value\n" per trailer, for the trailer signature
	type kv struct{ k, v string }
	var got []kv
	for n := 0; ; n++ {
		line, err := c.readLine()
		if err != nil {
			// Some clients end the body right after the last chunk header; with nothing
			// left to say, the missing empty line changes nothing.
			if err == IncompleteBody && len(line) == 0 && n == 0 && len(c.declared) == 0 && !c.sigTrail {
				break
			}
			return err
		}
		if len(line) == 0 {
			break
		}
		if n >= maxTrailerLines {
			return MalformedTrailerError
		}
		name, value, ok := strings.Cut(string(line), ":")
		if !ok {
			return MalformedTrailerError
		}
		name, value = strings.ToLower(strings.TrimSpace(name)), strings.TrimSpace(value)
		if name == trailerSigName && c.sigTrail {
			if trailerSig != nil || len(value) != sigHexLen {
				return MalformedTrailerError
			}
			trailerSig = []byte(value)
			continue
		}
		if trailerSig != nil || !slices.Contains(c.declared, name) ||
			slices.ContainsFunc(got, func(e kv) bool { return e.k == name }) {
			return MalformedTrailerError.WithMessage("The request contained trailing data that was not well-formed or did not conform to our published schema: unexpected trailer %q.", name)
		}
		got = append(got, kv{name, value})
	}
	if c.sigTrail {
		if trailerSig == nil {
			return badChunkSignature("the trailer is not signed")
		}
		slices.SortFunc(got, func(a, b kv) int { return strings.Compare(a.k, b.k) })
		for _, t := range got {
			canonical = append(canonical, t.k...)
			canonical = append(canonical, ':')
			canonical = append(canonical, t.v...)
			canonical = append(canonical, '\n')
		}
		copy(c.sig.want[:], trailerSig)
		if !c.sig.verifyTrailer(canonical) {
			return badChunkSignature("trailer signature")
		}
	}
	if len(got) != len(c.declared) {
		return MalformedTrailerError.WithMessage("The request contained trailing data that was not well-formed or did not conform to our published schema: X-Amz-Trailer declared %s.", strings.Join(c.declared, ","))
	}
	if c.want >= 0 && c.got != c.want {
		return IncompleteBody.WithMessage("The aws-chunked body decoded to %d bytes, but X-Amz-Decoded-Content-Length is %d.", c.got, c.want)
	}
	c.trailer = make(http.Header, len(got))
	for _, t := range got {
		c.trailer.Set(t.k, t.v)
	}
	for i := range c.sums {
		if err := c.sums[i].check(c.trailer.Get(c.sums[i].name)); err != nil {
			return err
		}
	}
	if _, err := c.src.ReadByte(); err != io.EOF {
		if err != nil {
			return truncated(err)
		}
		return malformedChunk("data follows the final chunk")
	}
	return io.EOF
}
