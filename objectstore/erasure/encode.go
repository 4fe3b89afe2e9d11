package erasure

import (
	"context"
	"fmt"
	"io"

	"github.com/klauspost/reedsolomon"
)

// Encode erasure-codes the object read from src onto dst, one shard file per
// writer in the format described in the package doc, and returns the number
// of object bytes consumed. len(dst) must be scheme.Total(); a nil writer is
// an offline disk.
//
// Shard-blocks are written to all disks in parallel, one Write call per
// frame. A writer that returns an error (or writes short) is dropped for the
// rest of the stream and its shard file must be treated as absent. Encode
// succeeds as long as at least writeQuorum writers took every block; on
// return, successful or not, dst[i] is set to nil for every writer that
// failed, so the caller knows which disks hold the object and which need
// healing. Otherwise it returns a *QuorumError whose Errs say why each
// shard was lost.
//
// Memory is at most two stripes of scheme.Total() frames whatever the object
// size. With overlap, src is read up to one block ahead of what has been
// written, so on error src may have been consumed past the returned count.
// An empty src writes nothing: all shard files of an empty object are empty.
//
// ctx is checked between blocks; a Write or Read already under way is not
// interrupted, so writers to remote disks must carry their own deadlines or
// one hung disk stalls the whole stream.
func Encode(ctx context.Context, src io.Reader, dst []io.Writer, scheme Scheme, writeQuorum int) (int64, error) {
	if err := scheme.Validate(); err != nil {
		return 0, err
	}
	total := scheme.Total()
	if len(dst) != total {
		return 0, fmt.Errorf("%w: %d writers for scheme %v, need %d", ErrInvalidArgument, len(dst), scheme, total)
	}
	if writeQuorum < 1 || writeQuorum > total {
		return 0, fmt.Errorf("%w: write quorum %d outside 1..%d", ErrInvalidArgument, writeQuorum, total)
	}
	var rs reedsolomon.Encoder
	if scheme.Data > 1 && scheme.Parity > 0 {
		var err error
		if rs, err = codec(scheme.Data, scheme.Parity); err != nil {
			return 0, err
		}
	}

	w := newShardWriters(dst)
	defer w.close()
	defer w.report(dst)
	if w.alive < writeQuorum {
		return 0, w.quorumError("write", writeQuorum)
	}

	// A mirror writes the same frame everywhere, so it needs one frame.
	mirror := scheme.Data == 1
	frames := total
	if mirror {
		frames = 1
	}
	key := stripeKey{frames: frames, frameSize: scheme.FrameSize(), total: total}
	sts := stripes(key)
	defer putStripes(sts)

	h := newHasher()
	var next int64
	eof := false
	fill := func(st *stripe) (bool, error) {
		if eof {
			return false, nil
		}
		n, err := loadBlock(src, st, scheme)
		if err != nil {
			return false, fmt.Errorf("erasure: reading object block %d: %w", next, err)
		}
		if n < scheme.BlockSize {
			eof = true
		}
		if n == 0 {
			return false, nil
		}
		st.span = scheme.blockOf(next, n)
		next++
		flen := HashSize + st.span.shardLen
		if mirror {
			h.seal(st.frames[0][:flen], st.span.index)
			for i := range total {
				st.out[i], st.seal[i] = st.frames[0][:flen], false
			}
			return true, nil
		}
		for i := range total {
			st.out[i], st.seal[i] = st.frames[i][:flen], true
			st.shards[i] = st.frames[i][HashSize:flen]
		}
		if rs != nil {
			if err := rs.Encode(st.shards); err != nil {
				return false, fmt.Errorf("erasure: encoding block %d: %w", st.span.index, err)
			}
		}
		return true, nil
	}

	var written int64
	drain := func(st *stripe) error {
		w.write(st)
		if w.alive < writeQuorum {
			return w.quorumError("write", writeQuorum)
		}
		written += st.span.n
		return nil
	}
	err := pump(ctx, sts, fill, drain)
	return written, err
}

// loadBlock reads the next block of src (up to BlockSize bytes) into the
// data frames of st and returns its length. Data goes straight into the
// frames, with no staging copy: full blocks are read in their final layout,
// and a short last block, whose shard length is only known once the stream
// ends, is moved into place afterwards. Padding is zeroed because stripes
// are recycled.
func loadBlock(src io.Reader, st *stripe, s Scheme) (int64, error) {
	k, full, bs := s.Data, int(s.ShardBlockSize()), int(s.BlockSize)
	n := 0
	for i := 0; i < k && n < bs; i++ {
		r, err := io.ReadFull(src, st.frames[i][HashSize:HashSize+min(full, bs-n)])
		n += r
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			return 0, err
		}
	}
	if n == 0 {
		return 0, nil
	}
	sl := int(ceilDiv(int64(n), int64(k)))
	if sl < full {
		relayout(st.frames[:k], n, full, sl)
	}
	for i := range k {
		valid := min(max(n-i*sl, 0), sl)
		clear(st.frames[i][HashSize+valid : HashSize+sl])
	}
	return int64(n), nil
}

// relayout moves n block bytes from the full-block layout (byte x in frame
// x/full at x%full) to the layout of a block of shard length sl < full (byte
// x in frame x/sl at x%sl). The frames are consecutive in one buffer and a
// byte's new address is never below its old one, so walking from the last
// byte down never overwrites a byte that has yet to move.
func relayout(frames [][]byte, n, full, sl int) {
	for i := len(frames) - 1; i >= 0; i-- {
		start, end := i*sl, min((i+1)*sl, n)
		for x := end; x > start; {
			j := (x - 1) / full     // frame now holding byte x-1
			p := max(start, j*full) // first byte of the piece in frame j
			copy(frames[i][HashSize+p-start:], frames[j][HashSize+p-j*full:HashSize+x-j*full])
			x = p
		}
	}
}

// shardWriters writes one frame per shard per block, in parallel, and drops
// a shard for the rest of the stream at its first error.
type shardWriters struct {
	dst   []io.Writer // our copy; nil once offline or failed
	errs  []error     // why a shard is not being written
	hash  []*hasher
	crew  *crew
	st    *stripe // block being written; set before crew.run
	idx   []int
	alive int
}

func newShardWriters(dst []io.Writer) *shardWriters {
	w := &shardWriters{
		dst:  append([]io.Writer(nil), dst...),
		errs: make([]error, len(dst)),
		hash: make([]*hasher, len(dst)),
		idx:  make([]int, 0, len(dst)),
	}
	for i, d := range w.dst {
		if d == nil {
			w.errs[i] = &ShardError{Shard: i, Block: -1, Err: ErrShardOffline}
			continue
		}
		w.hash[i] = newHasher()
		w.alive++
	}
	w.crew = newCrew(len(dst), w.writeShard)
	return w
}

func (w *shardWriters) writeShard(i int) {
	f := w.st.out[i]
	if w.st.seal[i] {
		w.hash[i].seal(f, w.st.span.index)
	}
	n, err := w.dst[i].Write(f)
	if err == nil && n != len(f) {
		err = io.ErrShortWrite
	}
	if err != nil {
		w.errs[i] = &ShardError{Shard: i, Block: w.st.span.index, Err: err}
	}
}

// write sends st.out[i] to every shard still alive.
func (w *shardWriters) write(st *stripe) {
	w.st = st
	w.idx = w.idx[:0]
	for i, d := range w.dst {
		if d != nil && st.out[i] != nil {
			w.idx = append(w.idx, i)
		}
	}
	w.crew.run(w.idx)
	for _, i := range w.idx {
		if w.errs[i] != nil {
			w.dst[i] = nil
			w.alive--
		}
	}
}

// report nils the caller's writers that failed during the stream.
func (w *shardWriters) report(dst []io.Writer) {
	for i := range dst {
		if w.dst[i] == nil {
			dst[i] = nil
		}
	}
}

func (w *shardWriters) quorumError(op string, need int) error {
	return &QuorumError{Op: op, Need: need, Have: w.alive, Errs: append([]error(nil), w.errs...)}
}

func (w *shardWriters) close() { w.crew.stop() }
