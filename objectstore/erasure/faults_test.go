package erasure

import (
	"bytes"
	"errors"
	"io"
	"sync"
	"sync/atomic"
)

// Test doubles for disks. They stand in for local files and remote disks,
// which this package only sees as io.Writer and io.ReaderAt.

// memShard is an in-memory shard file: Encode and Heal append to it, Decode
// reads it back at offsets.
type memShard struct{ bytes.Buffer }

func (m *memShard) ReadAt(p []byte, off int64) (int, error) {
	return bytes.NewReader(m.Bytes()).ReadAt(p, off)
}

// failingWriter accepts `after` bytes, then fails every write with err,
// like a disk that fills up or a remote box that goes away mid-stream.
type failingWriter struct {
	w       io.Writer
	after   int64
	err     error
	written int64
}

var errInjectedWrite = errors.New("injected write failure")

func (f *failingWriter) Write(p []byte) (int, error) {
	if f.written+int64(len(p)) <= f.after {
		n, err := f.w.Write(p)
		f.written += int64(n)
		return n, err
	}
	ok := max(f.after-f.written, 0)
	n, _ := f.w.Write(p[:ok])
	f.written += int64(n)
	return n, f.err
}

// errReaderAt fails every read, like a dead disk that is still listed.
type errReaderAt struct{ err error }

var errInjectedRead = errors.New("injected read failure")

func (e errReaderAt) ReadAt([]byte, int64) (int, error) { return 0, e.err }

// bitFlipReaderAt returns the bytes of r with one bit flipped at each of
// the given file offsets, like silent media corruption; the stored bytes
// stay intact so the same shard can be read cleanly elsewhere.
type bitFlipReaderAt struct {
	r   io.ReaderAt
	at  []int64
	bit byte
}

func (f bitFlipReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := f.r.ReadAt(p, off)
	for _, a := range f.at {
		if a >= off && a < off+int64(n) {
			p[a-off] ^= 1 << (f.bit % 8)
		}
	}
	return n, err
}

// countingReaderAt counts reads and bytes, to check that Decode reads only
// what a range needs.
type countingReaderAt struct {
	r     io.ReaderAt
	reads atomic.Int64
	bytes atomic.Int64
}

func (c *countingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	c.reads.Add(1)
	n, err := c.r.ReadAt(p, off)
	c.bytes.Add(int64(n))
	return n, err
}

// discardWriter counts what it is given and keeps nothing: a disk with
// infinite bandwidth, so benchmarks measure only this package.
type discardWriter struct{ n int64 }

func (d *discardWriter) Write(p []byte) (int, error) { d.n += int64(len(p)); return len(p), nil }

// patternReader yields size bytes cycled from pattern with no per-byte Go
// loop, so a 256 MiB stream costs the test little but memmove.
type patternReader struct {
	pattern []byte
	size    int64
	off     int64
}

func (p *patternReader) Read(b []byte) (int, error) {
	if p.off >= p.size {
		return 0, io.EOF
	}
	b = b[:min(int64(len(b)), p.size-p.off)]
	n := 0
	for n < len(b) {
		n += copy(b[n:], p.pattern[(p.off+int64(n))%int64(len(p.pattern)):])
	}
	p.off += int64(n)
	return n, nil
}

// syntheticShard is a valid shard file of an object whose every block is
// the same, generated on demand: it lets Decode read a 256 MiB object
// without the test holding 256 MiB. Only the hash depends on the block.
type syntheticShard struct {
	scheme     Scheme
	objectSize int64
	full, last []byte // shard bytes of a full block and of the last block
	mu         sync.Mutex
	h          *hasher
}

func (s *syntheticShard) ReadAt(p []byte, off int64) (int, error) {
	f := s.scheme.FrameSize()
	b := off / f
	if off%f != 0 || b >= s.scheme.Blocks(s.objectSize) {
		return 0, io.EOF
	}
	data := s.full
	if b == s.scheme.Blocks(s.objectSize)-1 {
		data = s.last
	}
	if len(p) != HashSize+len(data) {
		return 0, errors.New("syntheticShard: read is not one frame")
	}
	s.mu.Lock()
	copy(p, s.h.compute(b, data))
	s.mu.Unlock()
	copy(p[HashSize:], data)
	return len(p), nil
}
