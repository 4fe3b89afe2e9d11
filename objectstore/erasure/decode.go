package erasure

import (
	"context"
	"fmt"
	"io"

	"github.com/klauspost/reedsolomon"
)

// ShardReader reads one shard file. The framing makes the offset of every
// block computable, so random access is all Decode, Heal and VerifyShard
// need. A nil ShardReader (a nil interface, not a typed nil pointer) is a
// missing shard.
type ShardReader = io.ReaderAt

// Result is what Decode and Heal learnt about the shards while reading.
type Result struct {
	// Written is the object bytes written to dst by Decode, or the bytes
	// written to each healed shard file by Heal.
	Written int64
	// BadShards lists, ascending, the shards that were read and failed: an
	// I/O error, a truncated file or a bitrot hash mismatch. The caller
	// should queue them for healing. Shards passed as nil are not listed
	// (the caller knows), and shards that were not needed were not read, so
	// a clean Result does not prove the unread shards are healthy.
	BadShards []int
	// ShardErrs is indexed by shard and holds a *ShardError for each of
	// BadShards, nil elsewhere.
	ShardErrs []error
}

// Decode writes bytes [offset, offset+length) of an object of objectSize
// bytes to dst, reading its shard files from src (len(src) ==
// scheme.Total()). It reads only the blocks covering the range and, in each
// block, only the data shards covering it when they are healthy, so a
// healthy read does no Reed-Solomon math and a small range reads little.
// Every frame read is verified against its hash; a shard that fails to read
// or verify is dropped for the rest of the call and the block is rebuilt
// from other shards (unread data shards first, then parity). The reads of
// one block go to all chosen shards in parallel, and the next block is read
// while the previous one is written to dst.
//
// When fewer than scheme.Data shards are usable for a block, Decode stops
// with a *QuorumError. The Result is filled in on error too: Written bytes
// already reached dst, and BadShards still need healing.
func Decode(ctx context.Context, dst io.Writer, src []ShardReader, scheme Scheme, objectSize, offset, length int64) (Result, error) {
	if err := scheme.Validate(); err != nil {
		return Result{}, err
	}
	total := scheme.Total()
	switch {
	case len(src) != total:
		return Result{}, fmt.Errorf("%w: %d shard readers for scheme %v, need %d", ErrInvalidArgument, len(src), scheme, total)
	case objectSize < 0 || offset < 0 || length < 0 || offset > objectSize || length > objectSize-offset:
		return Result{}, fmt.Errorf("%w: range [%d, +%d) outside an object of %d bytes", ErrInvalidArgument, offset, length, objectSize)
	}
	r, err := newShardReaders(scheme, src, nil)
	if err != nil {
		return Result{}, err
	}
	defer r.close()
	if r.usable() < scheme.Data {
		return r.result(0), r.quorumError()
	}
	if length == 0 {
		return r.result(0), nil
	}

	key := stripeKey{frames: total, frameSize: scheme.FrameSize(), total: total}
	sts := stripes(key)
	defer putStripes(sts)

	end := offset + length
	next, last := offset/scheme.BlockSize, (end-1)/scheme.BlockSize
	need := make([]bool, scheme.Data) // data shards the current block's range touches
	fill := func(st *stripe) (bool, error) {
		if next > last {
			return false, nil
		}
		sp := scheme.span(objectSize, next)
		next++
		st.lo = max(offset, sp.objectOff) - sp.objectOff
		st.hi = min(end, sp.objectOff+sp.n) - sp.objectOff
		sl := int64(sp.shardLen)
		clear(need)
		for i := st.lo / sl; i <= (st.hi-1)/sl; i++ {
			need[i] = true
		}
		if err := r.gather(st, sp, need); err != nil {
			return false, err
		}
		return true, r.rebuildData(st, need)
	}

	var written int64
	drain := func(st *stripe) error {
		sl := int64(st.span.shardLen)
		for i := st.lo / sl; i <= (st.hi-1)/sl; i++ {
			part := st.views[i][max(st.lo-i*sl, 0):min(st.hi-i*sl, sl)]
			n, err := dst.Write(part)
			written += int64(n)
			if err == nil && n != len(part) {
				err = io.ErrShortWrite
			}
			if err != nil {
				return fmt.Errorf("erasure: writing decoded object: %w", err)
			}
		}
		return nil
	}
	err = pump(ctx, sts, fill, drain)
	return r.result(written), err
}

// shardReaders reads and verifies frames from the shard files in parallel
// and remembers which shards have failed, so each bad shard costs one
// failed read per call rather than one per block.
type shardReaders struct {
	scheme Scheme
	rs     reedsolomon.Encoder // nil when no RS math is ever needed
	src    []ShardReader
	bad    []bool  // never read: nil, excluded by the caller, or failed
	errs   []error // *ShardError for shards that failed while reading
	hash   []*hasher
	crew   *crew
	st     *stripe // block being read; set before crew.run
	rerr   []error // this block's read results
	idx    []int
	req    []bool // reedsolomon "required" scratch
}

// newShardReaders prepares reads from src; shards with exclude[i] set are
// never read (Heal excludes the shards it is rewriting).
func newShardReaders(s Scheme, src []ShardReader, exclude []bool) (*shardReaders, error) {
	total := s.Total()
	r := &shardReaders{
		scheme: s,
		src:    src,
		bad:    make([]bool, total),
		errs:   make([]error, total),
		hash:   make([]*hasher, total),
		rerr:   make([]error, total),
		idx:    make([]int, 0, total),
		req:    make([]bool, total),
	}
	if s.Data > 1 && s.Parity > 0 {
		var err error
		if r.rs, err = codec(s.Data, s.Parity); err != nil {
			return nil, err
		}
	}
	for i := range total {
		if src[i] == nil || (exclude != nil && exclude[i]) {
			r.bad[i] = true
			continue
		}
		r.hash[i] = newHasher()
	}
	r.crew = newCrew(total, r.readShard)
	return r, nil
}

func (r *shardReaders) readShard(i int) {
	sp := r.st.span
	f := r.st.frames[i][:HashSize+sp.shardLen]
	err := readFrame(r.src[i], f, sp.frameOff)
	if err == nil && !r.hash[i].check(f, sp.index) {
		err = ErrBitrot
	}
	r.rerr[i] = err
}

func (r *shardReaders) usable() int {
	n := 0
	for _, b := range r.bad {
		if !b {
			n++
		}
	}
	return n
}

// read reads and verifies block st.span from the shards in idx.
func (r *shardReaders) read(st *stripe, idx []int) {
	r.st = st
	for _, i := range idx {
		st.tried[i] = true
	}
	r.crew.run(idx)
	for _, i := range idx {
		if err := r.rerr[i]; err != nil {
			r.bad[i] = true
			r.errs[i] = &ShardError{Shard: i, Block: st.span.index, Err: err}
			continue
		}
		st.good[i] = true
	}
}

// gather reads block sp into st until it has what the caller needs: when
// need (indexed by data shard) is given and those shards are healthy, just
// them; otherwise any scheme.Data verified shards, data shards first
// because they make reconstruction cheaper.
func (r *shardReaders) gather(st *stripe, sp blockSpan, need []bool) error {
	st.span = sp
	clear(st.good)
	clear(st.tried)
	if need != nil {
		r.idx = r.idx[:0]
		healthy := true
		for i, n := range need {
			if n {
				healthy = healthy && !r.bad[i]
				r.idx = append(r.idx, i)
			}
		}
		if healthy {
			r.read(st, r.idx)
			if r.countGood(st) == len(r.idx) {
				return nil
			}
		}
	}
	for {
		have := r.countGood(st)
		if have >= r.scheme.Data {
			return nil
		}
		r.idx = r.idx[:0]
		for i := 0; i < len(r.bad) && have+len(r.idx) < r.scheme.Data; i++ {
			if !r.bad[i] && !st.tried[i] {
				r.idx = append(r.idx, i)
			}
		}
		if have+len(r.idx) < r.scheme.Data {
			return r.quorumError()
		}
		r.read(st, r.idx)
	}
}

func (r *shardReaders) countGood(st *stripe) int {
	n := 0
	for _, g := range st.good {
		if g {
			n++
		}
	}
	return n
}

// rebuildData points st.views at the needed data shards of the gathered
// block, reconstructing those that were not read.
func (r *shardReaders) rebuildData(st *stripe, need []bool) error {
	sl := st.span.shardLen
	if r.scheme.Data == 1 {
		st.views[0] = st.frames[r.firstGood(st)][HashSize : HashSize+sl]
		return nil
	}
	missing := false
	clear(r.req)
	req := r.req[:r.scheme.Data]
	for i, n := range need {
		req[i] = n && !st.good[i]
		missing = missing || req[i]
		st.views[i] = st.frames[i][HashSize : HashSize+sl]
	}
	if !missing {
		return nil
	}
	return r.reconstruct(st, req)
}

// reconstruct rebuilds the shards marked in req (indexed by shard; length
// Data or Total as reedsolomon.ReconstructSome wants) into their own frames.
func (r *shardReaders) reconstruct(st *stripe, req []bool) error {
	sl := st.span.shardLen
	for i := range st.shards {
		f := st.frames[i]
		if st.good[i] {
			st.shards[i] = f[HashSize : HashSize+sl]
		} else {
			// Empty with capacity: reedsolomon rebuilds into our frame
			// instead of allocating.
			st.shards[i] = f[HashSize : HashSize : HashSize+sl]
		}
	}
	if err := r.rs.ReconstructSome(st.shards, req); err != nil {
		return fmt.Errorf("erasure: reconstructing block %d: %w", st.span.index, err)
	}
	return nil
}

func (r *shardReaders) firstGood(st *stripe) int {
	for i, g := range st.good {
		if g {
			return i
		}
	}
	panic("erasure: gather returned without a verified shard")
}

func (r *shardReaders) quorumError() error {
	errs := make([]error, len(r.bad))
	for i := range errs {
		switch {
		case r.errs[i] != nil:
			errs[i] = r.errs[i]
		case r.src[i] == nil:
			errs[i] = &ShardError{Shard: i, Block: -1, Err: ErrShardOffline}
		}
	}
	return &QuorumError{Op: "read", Need: r.scheme.Data, Have: r.usable(), Errs: errs}
}

func (r *shardReaders) result(written int64) Result {
	res := Result{Written: written}
	for i, err := range r.errs {
		if err != nil {
			res.BadShards = append(res.BadShards, i)
		}
	}
	if res.BadShards != nil {
		res.ShardErrs = append([]error(nil), r.errs...)
	}
	return res
}

func (r *shardReaders) close() { r.crew.stop() }
