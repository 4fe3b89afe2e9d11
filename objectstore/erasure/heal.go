package erasure

import (
	"context"
	"fmt"
	"io"
)

// Heal rebuilds whole shard files. dst[i] non-nil marks shard i for
// rebuilding: it receives the complete shard file (hashes included), exactly
// as Encode would have written it. Shard i is then never read from src,
// even if src[i] is non-nil, since it is presumed missing, corrupt or being
// overwritten. Every other non-nil src is a candidate source; Heal reads any
// scheme.Data healthy ones per block, verifies them, and reconstructs the
// targets, one block at a time (memory stays at two stripes whatever the
// object size).
//
// Sources that turn out bad are reported in Result.BadShards (heal them
// too). A target writer that fails is dropped; Heal carries on for the
// others and then returns a *QuorumError (Op "heal") naming the failed
// targets. Too few healthy sources is a *QuorumError with Op "read".
// Result.Written is the length written to each surviving target.
func Heal(ctx context.Context, src []ShardReader, dst []io.Writer, scheme Scheme, objectSize int64) (Result, error) {
	if err := scheme.Validate(); err != nil {
		return Result{}, err
	}
	total := scheme.Total()
	switch {
	case len(src) != total || len(dst) != total:
		return Result{}, fmt.Errorf("%w: %d readers and %d writers for scheme %v, need %d of each", ErrInvalidArgument, len(src), len(dst), scheme, total)
	case objectSize < 0:
		return Result{}, fmt.Errorf("%w: object size %d", ErrInvalidArgument, objectSize)
	}
	target := make([]bool, total)
	targets := 0
	for i, d := range dst {
		if d != nil {
			target[i] = true
			targets++
		}
	}
	if targets == 0 {
		return Result{}, nil
	}
	r, err := newShardReaders(scheme, src, target)
	if err != nil {
		return Result{}, err
	}
	defer r.close()
	if r.usable() < scheme.Data {
		return r.result(0), r.quorumError()
	}
	w := newShardWriters(dst)
	defer w.close()

	key := stripeKey{frames: total, frameSize: scheme.FrameSize(), total: total}
	sts := stripes(key)
	defer putStripes(sts)

	var next int64
	blocks := scheme.Blocks(objectSize)
	fill := func(st *stripe) (bool, error) {
		if next >= blocks {
			return false, nil
		}
		sp := scheme.span(objectSize, next)
		next++
		if err := r.gather(st, sp, nil); err != nil {
			return false, err
		}
		flen := HashSize + sp.shardLen
		if scheme.Data == 1 {
			// Every shard of a mirror is the same frame, hash included.
			g := r.firstGood(st)
			for i := range total {
				st.out[i], st.seal[i] = nil, false
				if target[i] {
					st.out[i] = st.frames[g][:flen]
				}
			}
			return true, nil
		}
		// Every target is rebuilt, even one whose writer has failed:
		// which writers are alive is the drain side's state.
		if err := r.reconstruct(st, target); err != nil {
			return false, err
		}
		for i := range total {
			st.out[i], st.seal[i] = nil, false
			if target[i] {
				st.out[i], st.seal[i] = st.frames[i][:flen], true
			}
		}
		return true, nil
	}

	var written int64
	drain := func(st *stripe) error {
		w.write(st)
		if w.alive == 0 {
			return w.quorumError("heal", targets)
		}
		written += int64(HashSize + st.span.shardLen)
		return nil
	}
	err = pump(ctx, sts, fill, drain)
	res := r.result(written)
	if err == nil && w.alive < targets {
		err = w.quorumError("heal", targets)
	}
	if qe, ok := err.(*QuorumError); ok && qe.Op == "heal" {
		// Only the targets' fates belong in a heal quorum error; the
		// healthy shards were never meant to be written.
		for i := range qe.Errs {
			if !target[i] {
				qe.Errs[i] = nil
			}
		}
	}
	return res, err
}
