package sigv4

import (
	"bytes"
	"encoding/base64"
	"hash/crc32"
	"hash/crc64"
	"io"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"
)

func crc32Trailer(data []byte) [2]string {
	sum := crc32.ChecksumIEEE(data)
	return [2]string{"x-amz-checksum-crc32", base64.StdEncoding.EncodeToString([]byte{byte(sum >> 24), byte(sum >> 16), byte(sum >> 8), byte(sum)})}
}

func testData(n int) []byte {
	b := make([]byte, n)
	rng := rand.New(rand.NewPCG(1, uint64(n)))
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

// TestChunkedRoundTrip decodes bodies of every payload mode and awkward sizes, read
// through iotest readers that return one byte or odd amounts at a time.
func TestChunkedRoundTrip(t *testing.T) {
	for _, size := range []int{0, 1, 8191, 8192, 65536 + 17, 300_000} {
		data := testData(size)
		for _, c := range []chunked{
			{data: data, chunkSize: 8192, signed: true},
			{data: data, chunkSize: 65536, signed: true, trailers: [][2]string{crc32Trailer(data)}, signedTrailer: true},
			{data: data, chunkSize: 10_000, trailers: [][2]string{crc32Trailer(data)}},
			{data: data, chunkSize: 7},
		} {
			r := chunkedReq(t, c, nil)
			res, err := negVerifier().Verify(r)
			if err != nil {
				t.Fatalf("%d bytes, %s: %v", size, c.mode(), err)
			}
			if res.Payload.String() != c.mode() || !res.Payload.Streaming() || r.ContentLength != int64(size) {
				t.Fatalf("%d bytes, %s: result %+v, length %d", size, c.mode(), res, r.ContentLength)
			}
			if res.Trailer() != nil {
				t.Fatal("trailer before EOF")
			}
			var body io.Reader = r.Body
			if size%2 == 1 {
				body = iotest.OneByteReader(body)
			} else {
				body = iotest.HalfReader(body)
			}
			got, err := io.ReadAll(body)
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("%d bytes, %s: decoded %d bytes: %v", size, c.mode(), len(got), err)
			}
			if len(c.trailers) > 0 && res.Trailer().Get("x-amz-checksum-crc32") != c.trailers[0][1] {
				t.Fatalf("trailer %v", res.Trailer())
			}
		}
	}
}

// TestChunkedRejections spoils valid bodies and checks each spoiling is caught when read.
func TestChunkedRejections(t *testing.T) {
	data := testData(20_000)
	signed := chunked{data: data, chunkSize: 8192, signed: true}
	trailer := chunked{data: data, chunkSize: 8192, trailers: [][2]string{crc32Trailer(data)}}
	signedTrailer := chunked{data: data, chunkSize: 8192, signed: true, trailers: [][2]string{crc32Trailer(data)}, signedTrailer: true}
	replace := func(old, new string) func([]byte) []byte {
		return func(b []byte) []byte { return bytes.Replace(b, []byte(old), []byte(new), 1) }
	}
	flipByte := func(at int) func([]byte) []byte {
		return func(b []byte) []byte { b[at] ^= 1; return b }
	}
	cases := []struct {
		name   string
		c      chunked
		spoil  func([]byte) []byte
		code   string
		status int
	}{
		{"bad chunk signature", signed, func(b []byte) []byte {
			i := bytes.Index(b, []byte("chunk-signature=")) + len("chunk-signature=")
			b[i] ^= 1
			return b
		}, "SignatureDoesNotMatch", 403},
		{"tampered chunk data", signed, flipByte(200), "SignatureDoesNotMatch", 403},
		{"chunks reordered", signed, func(b []byte) []byte {
			// The first two chunks are the same size: swap them whole.
			n := bytes.Index(b, []byte("\r\n2000;")) + 2
			out := append([]byte{}, b[n:2*n]...)
			out = append(out, b[:n]...)
			return append(out, b[2*n:]...)
		}, "SignatureDoesNotMatch", 403},
		{"bad final chunk signature", signed, func(b []byte) []byte {
			i := bytes.LastIndex(b, []byte("chunk-signature=")) + len("chunk-signature=")
			b[i+5] ^= 1
			return b
		}, "SignatureDoesNotMatch", 403},
		{"chunk without signature", signed, replace("2000;chunk-signature=", "2000;x="), "SignatureDoesNotMatch", 403},
		{"truncated in data", signed, func(b []byte) []byte { return b[:9000] }, "IncompleteBody", 400},
		{"truncated in header", signed, func(b []byte) []byte { return b[:8192+100+10] }, "IncompleteBody", 400},
		{"no final chunk", trailer, func(b []byte) []byte { return b[:bytes.LastIndex(b, []byte("0\r\n"))] }, "IncompleteBody", 400},
		{"chunk longer than declared", trailer, replace("2000\r\n", "1fff\r\n"), "IncompleteBody", 400},
		{"bad chunk size", trailer, replace("2000\r\n", "2z00\r\n"), "IncompleteBody", 400},
		{"huge chunk size", trailer, replace("2000\r\n", "7fffffffffffffff\r\n"), "IncompleteBody", 400},
		{"more than decoded length", trailer, replace("2000\r\n", "4000\r\n"), "IncompleteBody", 400},
		{"less than decoded length", trailer, func(b []byte) []byte {
			i := bytes.Index(b, []byte("\r\n2000\r\n")) + 2 // drop the second chunk
			j := i + len("2000\r\n") + 8192 + 2
			return append(b[:i:i], b[j:]...)
		}, "IncompleteBody", 400},
		{"bad trailer checksum", trailer, flipByte(300), "BadDigest", 400},
		{"trailer not base64", trailer, func(b []byte) []byte {
			i := bytes.Index(b, []byte("x-amz-checksum-crc32:")) + len("x-amz-checksum-crc32:")
			b[i] = '*'
			return b
		}, "InvalidRequest", 400},
		{"undeclared trailer", trailer, replace("x-amz-checksum-crc32:", "x-amz-checksum-sha1:"), "MalformedTrailerError", 400},
		{"declared trailer missing", trailer, func(b []byte) []byte {
			i := bytes.LastIndex(b, []byte("0\r\n"))
			return append(b[:i:i], "0\r\n\r\n"...)
		}, "MalformedTrailerError", 400},
		{"trailer without colon", trailer, replace("x-amz-checksum-crc32:", "x-amz-checksum-crc32="), "MalformedTrailerError", 400},
		{"bad trailer signature", signedTrailer, func(b []byte) []byte {
			i := bytes.Index(b, []byte("x-amz-trailer-signature:")) + len("x-amz-trailer-signature:")
			b[i] ^= 1
			return b
		}, "SignatureDoesNotMatch", 403},
		{"unsigned trailer in signed mode", signedTrailer, func(b []byte) []byte {
			i := bytes.Index(b, []byte("x-amz-trailer-signature:"))
			return append(b[:i:i], "\r\n"...)
		}, "SignatureDoesNotMatch", 403},
		{"data after the body", trailer, func(b []byte) []byte { return append(b, "junk"...) }, "IncompleteBody", 400},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := chunkedReq(t, c.c, c.spoil)
			if _, err := negVerifier().Verify(r); err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(r.Body)
			wantCode(t, err, c.code, c.status)
			if len(got) > len(data) {
				t.Fatalf("decoded %d bytes of a %d byte object", len(got), len(data))
			}
			// The error sticks.
			if _, err2 := r.Body.Read(make([]byte, 10)); err2 != err {
				t.Fatalf("second read: %v, first: %v", err2, err)
			}
		})
	}
}

// TestChunkedEndsWithoutFinalCRLF accepts a body that stops right after "0\r\n": there is
// nothing left to check, and some encoders stop there.
func TestChunkedEndsWithoutFinalCRLF(t *testing.T) {
	c := chunked{data: []byte("hello"), chunkSize: 5}
	r := chunkedReq(t, c, func(b []byte) []byte { return bytes.TrimSuffix(b, []byte("\r\n")) })
	if _, err := negVerifier().Verify(r); err != nil {
		t.Fatal(err)
	}
	if b, err := io.ReadAll(r.Body); err != nil || string(b) != "hello" {
		t.Fatalf("%q %v", b, err)
	}
}

func TestContentEncodingKeepsOtherCodings(t *testing.T) {
	c := chunked{data: []byte("hello"), chunkSize: 5}
	r := chunkedReq(t, c, nil)
	r.Header.Set("Content-Encoding", "gzip,aws-chunked")
	stripAWSChunked(r.Header)
	if got := r.Header.Get("Content-Encoding"); got != "gzip" {
		t.Fatalf("Content-Encoding %q", got)
	}
}

func TestCRC64NVME(t *testing.T) {
	// The CRC-64/NVME check value from the CRC catalogue.
	if got := crc64.Checksum([]byte("123456789"), nvme); got != 0xae8b14860a799888 {
		t.Fatalf("crc64nvme(123456789) = %#x", got)
	}
	c := checksumAlgorithms["x-amz-checksum-crc64nvme"]
	h := c.new()
	h.Write([]byte("123456789"))
	if got := base64.StdEncoding.EncodeToString(h.Sum(nil)); got != "rosUhgp5mIg=" {
		t.Fatalf("trailer form %s", got)
	}
}

// TestChunkedMemoryIsBounded reads a 64 MiB aws-chunked body made of 8 MiB chunks and checks
// the decoder allocates only its fixed buffers, never a chunk.
func TestChunkedMemoryIsBounded(t *testing.T) {
	const chunk, n = 8 << 20, 8
	var parts []io.Reader
	for range n {
		parts = append(parts, strings.NewReader("800000\r\n"), &zeros{chunk}, strings.NewReader("\r\n"))
	}
	parts = append(parts, strings.NewReader("0\r\n\r\n"))
	cb := newChunkedBody(io.NopCloser(io.MultiReader(parts...)), chunk*n, nil, nil, false)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	got, err := io.CopyBuffer(io.Discard, struct{ io.Reader }{cb}, make([]byte, 32<<10))
	runtime.ReadMemStats(&after)
	if err != nil || got != chunk*n {
		t.Fatalf("decoded %d: %v", got, err)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 1<<20 {
		t.Fatalf("decoding 64 MiB allocated %d bytes", grew)
	}
}

// zeros is n zero bytes, produced without holding them.
type zeros struct{ n int }

func (z *zeros) Read(p []byte) (int, error) {
	if z.n == 0 {
		return 0, io.EOF
	}
	k := min(len(p), z.n)
	clear(p[:k])
	z.n -= k
	return k, nil
}
