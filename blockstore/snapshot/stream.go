package snapshot

import (
	"context"
	"fmt"
	"io"

	"github.com/banyancloud/banyan/blockstore/replica"
)

// StreamSource is a Source over a disk image read once, front to back (an S3 object, a
// converted image in scratch): a snapshot of size bytes whose first dataSize come from
// the stream and whose rest is zeros (a snapshot is whole GiB, an image need not be).
// Take reads every extent once and in order, so an image of any size goes through in
// the few extents Take's uploads hold at a time; the zeros are never stored.
type StreamSource struct {
	r              io.Reader
	dataSize, size int64
	next           int64 // the extent Take must ask for next
}

var zeroExtent [replica.ExtentSize]byte

// NewStreamSource returns the Source of an image of dataSize bytes read from r, as a
// snapshot of size bytes (at least dataSize).
func NewStreamSource(r io.Reader, dataSize, size int64) (*StreamSource, error) {
	if dataSize < 0 || size < dataSize || size > replica.MaxSize {
		return nil, fmt.Errorf("snapshot: a stream of %d bytes cannot make a snapshot of %d", dataSize, size)
	}
	return &StreamSource{r: r, dataSize: dataSize, size: size}, nil
}

// Size implements Source.
func (s *StreamSource) Size() int64 { return s.size }

// ReadExtent implements Source; extents must be read in order.
func (s *StreamSource) ReadExtent(ctx context.Context, n int64) ([]byte, error) {
	if n != s.next || n >= replica.Extents(s.size) {
		return nil, fmt.Errorf("snapshot: stream read of extent %d, next is %d of %d", n, s.next, replica.Extents(s.size))
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	off := n * replica.ExtentSize
	if off >= s.dataSize && replica.ExtentLen(s.size, n) == replica.ExtentSize {
		// Padding: Take only reads an extent it is given, so all of them can share one.
		s.next++
		return zeroExtent[:], nil
	}
	buf := make([]byte, replica.ExtentLen(s.size, n))
	if want := min(max(s.dataSize-off, 0), int64(len(buf))); want > 0 {
		if got, err := io.ReadFull(s.r, buf[:want]); err != nil {
			return nil, fmt.Errorf("the image ended after %d of its %d bytes: %w", off+int64(got), s.dataSize, err)
		}
	}
	s.next++
	return buf, nil
}
