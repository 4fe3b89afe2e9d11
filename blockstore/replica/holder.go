package replica

import (
	"context"
	"fmt"
)

// ExtentSize is the unit of resync and verification: dirty maps and
// ExtentSums count in extents of this many bytes (the last extent of a
// volume may be shorter).
const ExtentSize = 4 << 20

// MaxIO bounds the bytes one Write or Read carries; longer I/O is split by
// the caller. (Zero carries none and may span the whole volume.)
const MaxIO = 32 << 20

// MaxSize bounds a volume's size (64 TiB, EBS's largest).
const MaxSize = 64 << 40

// MaxSums bounds the extents one ExtentSums call hashes (256 GiB of volume).
const MaxSums = 1 << 16

// Holder is a box holding copies of volumes, as the primary sees it: the
// local Store, or a Remote reaching another box's Store. Every method names
// the volume; mutating ones carry the caller's epoch and fail with
// ErrStaleEpoch once a newer one has been seen (see the package doc).
type Holder interface {
	// Create makes an empty (all-zero) copy of size bytes; ErrExists if
	// there is one already, whatever its size.
	Create(ctx context.Context, id string, size int64) error
	// Delete removes the copy; ErrNotFound if there is none.
	Delete(ctx context.Context, id string) error
	// Info describes the copy.
	Info(ctx context.Context, id string) (Info, error)
	// List describes every copy held.
	List(ctx context.Context) ([]Info, error)

	// Write stores p at off; with fua it is durable before Write returns.
	Write(ctx context.Context, id string, epoch uint64, off int64, p []byte, fua bool) error
	// Zero makes [off, off+length) read as zeros (punching a hole where the
	// filesystem can); with fua it is durable before Zero returns.
	Zero(ctx context.Context, id string, epoch uint64, off, length int64, fua bool) error
	// Read fills p from off; p must lie inside the volume.
	Read(ctx context.Context, id string, off int64, p []byte) error
	// Flush makes every write that returned so far durable. It also records
	// epoch, which is how a new primary claims a copy before writing.
	Flush(ctx context.Context, id string, epoch uint64) error
	// Grow enlarges the copy to newSize bytes (the new part reads as
	// zeros); a smaller size is ErrInvalidArgument, the same size a no-op.
	Grow(ctx context.Context, id string, epoch uint64, newSize int64) error

	// ExtentSums hashes count extents from first (clamped to the volume).
	ExtentSums(ctx context.Context, id string, first, count int64) ([]Sum, error)
	// ReadExtent returns extent n whole (ExtentSize bytes, less for the last).
	ReadExtent(ctx context.Context, id string, n int64) ([]byte, error)
	// WriteExtent replaces extent n whole; data must be its exact length.
	// Not durable until Flush.
	WriteExtent(ctx context.Context, id string, epoch uint64, n int64, data []byte) error

	// MarkDirty durably adds extents to the set this copy holds newer than
	// peer does.
	MarkDirty(ctx context.Context, id string, epoch uint64, peer string, extents []Run) error
	// ClearDirty durably removes extents from peer's set.
	ClearDirty(ctx context.Context, id string, epoch uint64, peer string, extents []Run) error
	// Dirty returns every peer's set (peers with an empty set are left out).
	Dirty(ctx context.Context, id string) (map[string][]Run, error)
}

// Info describes one copy.
type Info struct {
	ID         string `cbor:"1,keyasint"`
	Size       int64  `cbor:"2,keyasint"`
	Epoch      uint64 `cbor:"3,keyasint"`
	ExtentSize int64  `cbor:"4,keyasint"`
}

// Extents is the number of extents of the copy.
func (i Info) Extents() int64 { return Extents(i.Size) }

// Extents is the number of extents of a volume of size bytes.
func Extents(size int64) int64 { return (size + ExtentSize - 1) / ExtentSize }

// ExtentLen is the length of extent n of a volume of size bytes (ExtentSize
// but for the last).
func ExtentLen(size, n int64) int64 { return min(ExtentSize, size-n*ExtentSize) }

// Sum is the HighwayHash-128 of one extent's bytes.
type Sum [16]byte

// Run is Count consecutive extents from First.
type Run struct {
	First int64 `cbor:"1,keyasint"`
	Count int64 `cbor:"2,keyasint"`
}

// ValidID reports whether id can name a volume: 1 to 128 bytes of
// [A-Za-z0-9_-] (EBS's "vol-0123abcd" and anything safe as a file name).
func ValidID(id string) error {
	if len(id) == 0 || len(id) > 128 {
		return fmt.Errorf("%w: volume ID must be 1 to 128 bytes, got %d", ErrInvalidArgument, len(id))
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return fmt.Errorf("%w: volume ID %q may hold only letters, digits, '-' and '_'", ErrInvalidArgument, id)
		}
	}
	return nil
}

// validPeer checks a peer (box) name used as a dirty-map key.
func validPeer(peer string) error {
	if len(peer) == 0 || len(peer) > 255 {
		return fmt.Errorf("%w: peer name must be 1 to 255 bytes", ErrInvalidArgument)
	}
	return nil
}

// checkRange validates [off, off+n) against a volume of size bytes.
func checkRange(size, off, n int64) error {
	if off < 0 || n < 0 || off > size || n > size-off {
		return fmt.Errorf("%w: [%d, +%d) outside a volume of %d bytes", ErrOutOfRange, off, n, size)
	}
	return nil
}

// AllSums is ExtentSums of every extent of the copy, asked MaxSums at a time.
func AllSums(ctx context.Context, h Holder, id string) ([]Sum, error) {
	info, err := h.Info(ctx, id)
	if err != nil {
		return nil, err
	}
	var out []Sum
	for first := int64(0); first < info.Extents(); first += MaxSums {
		s, err := h.ExtentSums(ctx, id, first, MaxSums)
		if err != nil {
			return nil, err
		}
		out = append(out, s...)
	}
	return out, nil
}
