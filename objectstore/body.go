package objectstore

import (
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
)

// The body of a PUT is read once and feeds two consumers: the digester
// (MD5 for the ETag, the flexible checksum) and the erasure encoder. They
// run in separate goroutines so that MD5, which is single-threaded and
// about as slow as Reed-Solomon on this hardware, overlaps encoding
// instead of adding to it. Chunks are shared, not copied, and only a few
// are in flight, so memory does not grow with the body.

const bodyChunk = 1 << 20

var bodyChunks = sync.Pool{New: func() any { b := make([]byte, bodyChunk); return &b }}

type chunk struct {
	buf  *[]byte
	n    int
	refs atomic.Int32
}

func (c *chunk) bytes() []byte { return (*c.buf)[:c.n] }

func (c *chunk) release() {
	if c.refs.Add(-1) == 0 {
		bodyChunks.Put(c.buf)
	}
}

// splitBody reads exactly size bytes (size < 0: until EOF) from r and
// hands them to sink in its own goroutine and to the returned reader.
// A body that ends early makes the reader fail with ErrIncompleteBody.
// Close must be called; it waits for sink to have seen everything read.
type splitBody struct {
	enc    chan *chunk
	hash   chan *chunk
	stop   chan struct{}
	once   sync.Once
	hashed chan struct{}
	fed    chan struct{}
	err    error // set before enc is closed
	cur    *chunk
	off    int
	total  int64
}

func newSplitBody(r io.Reader, size int64, sink io.Writer) *splitBody {
	b := &splitBody{
		enc:    make(chan *chunk, 2),
		hash:   make(chan *chunk, 4),
		stop:   make(chan struct{}),
		hashed: make(chan struct{}),
		fed:    make(chan struct{}),
	}
	go func() {
		defer close(b.hashed)
		for c := range b.hash {
			sink.Write(c.bytes())
			c.release()
		}
	}()
	go b.feed(r, size)
	return b
}

func (b *splitBody) feed(r io.Reader, size int64) {
	defer close(b.fed)
	defer close(b.enc)
	defer close(b.hash)
	left := size
	for {
		want := int64(bodyChunk)
		if left >= 0 && left < want {
			want = left
		}
		if want == 0 {
			return
		}
		c := &chunk{buf: bodyChunks.Get().(*[]byte)}
		n, err := io.ReadFull(r, (*c.buf)[:want])
		if n > 0 {
			c.n = n
			c.refs.Store(2)
			b.total += int64(n)
			if left >= 0 {
				left -= int64(n)
			}
			select {
			case b.hash <- c:
			case <-b.stop:
				c.refs.Store(1)
				c.release()
				return
			}
			select {
			case b.enc <- c:
			case <-b.stop:
				c.release()
				return
			}
		} else {
			bodyChunks.Put(c.buf)
		}
		switch {
		case err == nil:
		case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
			if left > 0 {
				b.err = fmt.Errorf("%w: %d of %d bytes", ErrIncompleteBody, size-left, size)
			}
			return
		default:
			b.err = fmt.Errorf("objectstore: reading the body: %w", err)
			return
		}
	}
}

// Read implements io.Reader for the encoder.
func (b *splitBody) Read(p []byte) (int, error) {
	for b.cur == nil || b.off == b.cur.n {
		if b.cur != nil {
			b.cur.release()
			b.cur = nil
		}
		c, ok := <-b.enc
		if !ok {
			if b.err != nil {
				return 0, b.err
			}
			return 0, io.EOF
		}
		b.cur, b.off = c, 0
	}
	n := copy(p, b.cur.bytes()[b.off:])
	b.off += n
	return n, nil
}

// Close stops reading the body and waits until the sink has consumed
// everything that was read. The digests are then final.
func (b *splitBody) Close() error {
	b.once.Do(func() { close(b.stop) })
	for c := range b.enc {
		c.release()
	}
	if b.cur != nil {
		b.cur.release()
		b.cur = nil
	}
	<-b.fed
	<-b.hashed
	return b.err
}
