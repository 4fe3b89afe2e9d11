package erasure

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"

	"github.com/minio/highwayhash"
)

// HashSize is the length of the bitrot hash in front of every shard block.
const HashSize = highwayhash.Size

// bitrotKey keys HighwayHash for every shard block ever written; it is part
// of the on-disk format. It guards against accidental corruption, not an
// attacker with write access to the disks, so a fixed public key is fine.
var bitrotKey = [HashSize]byte{
	0xd0, 0xda, 0x1e, 0x51, 0x00, 0x4e, 0x89, 0x23, 0xf8, 0x93, 0x20, 0x30, 0x01, 0x5b, 0xe8, 0xb8,
	0xd7, 0x15, 0x34, 0x4a, 0x75, 0xda, 0x6b, 0x32, 0xe0, 0x31, 0xfb, 0x55, 0x85, 0x43, 0xed, 0x32,
}

// hasher computes and checks frame hashes. It keeps its digest so hashing a
// block allocates nothing; one per goroutine.
type hasher struct {
	d   *highwayhash.Digest
	sum [HashSize]byte
}

func newHasher() *hasher {
	d, err := highwayhash.NewDigest(bitrotKey[:])
	if err != nil {
		panic(err) // the key is a constant of the right size
	}
	return &hasher{d: d}
}

func (h *hasher) compute(block int64, shard []byte) []byte {
	var idx [8]byte
	binary.LittleEndian.PutUint64(idx[:], uint64(block))
	h.d.Reset()
	h.d.Write(idx[:])
	h.d.Write(shard)
	return h.d.Sum(h.sum[:0])
}

// seal writes the hash of frame's shard bytes into its first HashSize bytes.
func (h *hasher) seal(frame []byte, block int64) {
	copy(frame[:HashSize], h.compute(block, frame[HashSize:]))
}

// check reports whether frame's stored hash matches its shard bytes.
func (h *hasher) check(frame []byte, block int64) bool {
	return bytes.Equal(frame[:HashSize], h.compute(block, frame[HashSize:]))
}

// VerifyShard checks one shard file of an object end to end: its length must
// be scheme.ShardFileSize(objectSize) and every frame's hash must match. It is
// meant for the background scanner; size is the file's length as the disk
// reports it. It reads one frame at a time, so memory stays at one frame
// whatever the object size.
func VerifyShard(r io.ReaderAt, size int64, scheme Scheme, objectSize int64) error {
	return VerifyShardContext(context.Background(), r, size, scheme, objectSize)
}

// VerifyShardContext is VerifyShard that stops early when ctx is done, so a
// scanner can be interrupted between frames.
func VerifyShardContext(ctx context.Context, r io.ReaderAt, size int64, scheme Scheme, objectSize int64) error {
	if err := scheme.Validate(); err != nil {
		return err
	}
	if objectSize < 0 {
		return fmt.Errorf("%w: object size %d", ErrInvalidArgument, objectSize)
	}
	if r == nil {
		return ErrShardOffline
	}
	if want := scheme.ShardFileSize(objectSize); size != want {
		return fmt.Errorf("%w: %d bytes, object of %d bytes with scheme %v needs %d", ErrShardSize, size, objectSize, scheme, want)
	}
	buf := getFrame(scheme)
	defer putFrame(buf)
	h := newHasher()
	for b := range scheme.Blocks(objectSize) {
		if err := ctx.Err(); err != nil {
			return err
		}
		sp := scheme.span(objectSize, b)
		frame := buf.frames[0][:HashSize+sp.shardLen]
		if err := readFrame(r, frame, sp.frameOff); err != nil {
			return fmt.Errorf("erasure: block %d at offset %d: %w", b, sp.frameOff, err)
		}
		if !h.check(frame, b) {
			return fmt.Errorf("erasure: block %d at offset %d: %w", b, sp.frameOff, ErrBitrot)
		}
	}
	return nil
}

// readFrame fills frame from r at off. io.ReaderAt may report io.EOF along
// with a full read at the end of the file; only a short read is an error.
func readFrame(r io.ReaderAt, frame []byte, off int64) error {
	n, err := r.ReadAt(frame, off)
	if n == len(frame) {
		return nil
	}
	if err == nil || err == io.EOF {
		err = fmt.Errorf("%w: frame truncated after %d of %d bytes", io.ErrUnexpectedEOF, n, len(frame))
	}
	return err
}
