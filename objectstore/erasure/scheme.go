package erasure

import "fmt"

// MaxShards is the largest Data+Parity a Scheme may use. klauspost/reedsolomon
// switches to the Leopard GF(2^16) code above 256 shards, which has a
// different on-disk encoding and needs 64-byte aligned shards, so we stay in
// GF(2^8).
const MaxShards = 256

// DefaultBlockSize is the object bytes per stripe when a caller has no reason
// to pick another: large enough that per-block hashing, syscalls and
// goroutine hand-offs are noise, small enough that a range read of a few KiB
// does not read megabytes.
const DefaultBlockSize = 1 << 20

// maxBlockSize keeps one block's buffers (and int arithmetic on them) sane.
const maxBlockSize = 1 << 30

// Scheme is the erasure layout of one object. It must be stored with the
// object's metadata: every read of the shard files needs the same Scheme that
// wrote them.
type Scheme struct {
	Data      int   // data shards per block, k
	Parity    int   // parity shards per block, m; 0 is plain striping
	BlockSize int64 // object bytes per block (stripe)
}

// Validate reports whether s describes a layout this package can write.
func (s Scheme) Validate() error {
	switch {
	case s.Data < 1:
		return fmt.Errorf("%w: Data is %d, need at least 1", ErrInvalidScheme, s.Data)
	case s.Parity < 0:
		return fmt.Errorf("%w: Parity is %d, need at least 0", ErrInvalidScheme, s.Parity)
	case s.Data+s.Parity > MaxShards:
		return fmt.Errorf("%w: Data+Parity is %d, at most %d shards are supported", ErrInvalidScheme, s.Data+s.Parity, MaxShards)
	case s.BlockSize < 1 || s.BlockSize > maxBlockSize:
		return fmt.Errorf("%w: BlockSize is %d, need 1..%d", ErrInvalidScheme, s.BlockSize, maxBlockSize)
	}
	return nil
}

// Total is the number of shards (and disks) per object, Data+Parity.
func (s Scheme) Total() int { return s.Data + s.Parity }

// ShardBlockSize is the shard bytes each disk stores per full block,
// ceil(BlockSize/Data), excluding the hash.
func (s Scheme) ShardBlockSize() int64 { return ceilDiv(s.BlockSize, int64(s.Data)) }

// FrameSize is the on-disk length of one full block's frame in a shard file.
func (s Scheme) FrameSize() int64 { return HashSize + s.ShardBlockSize() }

// Blocks is the number of blocks (frames per shard file) of an object.
func (s Scheme) Blocks(objectSize int64) int64 { return ceilDiv(objectSize, s.BlockSize) }

// ShardSize is the shard data each disk stores for an object, excluding the
// hashes.
func (s Scheme) ShardSize(objectSize int64) int64 {
	if objectSize <= 0 {
		return 0
	}
	full := objectSize / s.BlockSize
	last := objectSize % s.BlockSize
	return full*s.ShardBlockSize() + ceilDiv(last, int64(s.Data))
}

// ShardFileSize is the exact length of each shard file of an object,
// ShardSize plus one HashSize per block.
func (s Scheme) ShardFileSize(objectSize int64) int64 {
	return s.ShardSize(objectSize) + s.Blocks(objectSize)*HashSize
}

// WriteQuorum is the number of shard writes that must succeed for a write to
// count: Data, raised to a strict majority of the shards when Parity >= Data.
//
// Data alone is enough to read the object back, but the caller writes the
// object's metadata with the same quorum and later trusts whatever version a
// quorum of disks agrees on. Two write quorums must therefore intersect, or
// two concurrent writers (or a write racing a partition) could each "succeed"
// on disjoint halves of the set and leave two committed versions. Quorums of
// Data intersect exactly when Data > Parity; MinIO, which never allows
// Parity > Data, adds one when Data == Parity. Banyan also allows Parity >
// Data (1+2 mirroring), so the general rule is max(Data, Total/2+1), which
// gives MinIO's answer whenever MinIO has one.
func (s Scheme) WriteQuorum() int { return max(s.Data, s.Total()/2+1) }

// ReadQuorum is the number of healthy shards a read needs: any Data of them.
func (s Scheme) ReadQuorum() int { return s.Data }

// String renders s as "k+m/blocksize", the form used in logs and errors.
func (s Scheme) String() string { return fmt.Sprintf("%d+%d/%d", s.Data, s.Parity, s.BlockSize) }

// blockSpan is where block b of an object lies: its object bytes n, its shard
// bytes per disk s and the offset of its frame in every shard file.
type blockSpan struct {
	index     int64
	n         int64 // object bytes in this block
	shardLen  int   // s: shard bytes per disk in this block
	frameOff  int64 // offset of the frame in each shard file
	objectOff int64 // offset of the block's first byte in the object
}

// span locates block b of an object of objectSize bytes.
func (s Scheme) span(objectSize, b int64) blockSpan {
	return s.blockOf(b, min(s.BlockSize, objectSize-b*s.BlockSize))
}

// blockOf locates block b holding n object bytes; Encode uses it because it
// learns the object size only at the end of the stream.
func (s Scheme) blockOf(b, n int64) blockSpan {
	return blockSpan{
		index:     b,
		n:         n,
		shardLen:  int(ceilDiv(n, int64(s.Data))),
		frameOff:  b * s.FrameSize(),
		objectOff: b * s.BlockSize,
	}
}

func ceilDiv(a, b int64) int64 {
	if a <= 0 {
		return 0
	}
	return (a + b - 1) / b
}
