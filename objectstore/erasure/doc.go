// Package erasure owns the byte layout of an S3 object on its erasure set:
// Reed-Solomon striping of the object into Data+Parity shards, the per-block
// bitrot hashes framed into every shard file, and the streaming algorithms
// that write (Encode), read (Decode), rebuild (Heal) and scrub (VerifyShard)
// those shard files. It does not know about disks, placement, metadata or
// quorum of metadata: callers hand it one io.Writer or io.ReaderAt per disk
// and a Scheme, and it reports which disks failed.
//
// # Blocks and shards
//
// An object of size N is cut into blocks of Scheme.BlockSize bytes; all blocks
// are full except the last one, which holds the remaining 1..BlockSize bytes
// (an empty object has no blocks). A block of n bytes is cut into Data data
// shards of s = ceil(n/Data) bytes each: data shard i holds block bytes
// [i*s, (i+1)*s), zero-padded past the end of the block. Parity shard j is
// computed from the data shards with github.com/klauspost/reedsolomon using
// its default (Vandermonde-derived, systematic) matrix. That matrix is part of
// the on-disk format: never switch to the Cauchy, PAR1, fast-one-parity or
// Leopard variants for existing data. With Data == 1 every parity shard equals
// the data shard (the matrix degenerates to copies), so 1+m is plain mirroring
// and this package writes the same frame to every disk without RS math.
//
// # Shard file format
//
// Shard file i (one per disk, i in [0, Data+Parity)) is the concatenation of one
// frame per block, in block order, with no header or trailer:
//
//	frame(b) = hash(b) || shard(b)
//	hash(b)  = HighwayHash-256(bitrotKey, uint64le(b) || shard(b))   // 32 bytes
//	shard(b) = shard i of block b, s(b) bytes
//
// Every frame but the last has s = ShardBlockSize() = ceil(BlockSize/Data)
// bytes of shard data, so frame b starts at b*(HashSize+ShardBlockSize()) and
// any block can be read and verified with one ReadAt. The block number is
// hashed in so a frame returned from the wrong offset (a misdirected read or
// write, a stale block) fails verification instead of returning wrong bytes.
// The shard index is deliberately not hashed: it would make mirror frames
// differ and the caller's metadata already records which disk holds which
// shard. Scheme.ShardFileSize gives the exact file length, which VerifyShard
// checks before hashing.
package erasure
