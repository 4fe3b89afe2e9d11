package volume

import (
	"context"
	"fmt"

	"github.com/banyancloud/banyan/blockstore/replica"
)

// FillSource is the snapshot a volume was created from: the extents the volume has
// not got yet are read from it on first access (and by FillNext in the background).
type FillSource interface {
	// ReadExtent returns extent n of the snapshot; nil when it is all zeros.
	ReadExtent(ctx context.Context, n int64) ([]byte, error)
}

// FillPeer is the pseudo-peer under which the copies record, in their dirty maps, the
// extents still to be filled from the snapshot. MarkUnfilled sets it when a copy is
// made; a fill clears it. At Open an extent is unfilled only if every copy that
// answers says so: a copy that cleared it had the fill written first.
const FillPeer = "~snapshot"

// MarkUnfilled records, on a fresh copy made for a volume created from a snapshot,
// that its first extents extents must come from the snapshot. Call it before the copy
// is used; calling it again before then is harmless.
func MarkUnfilled(ctx context.Context, h replica.Holder, id string, extents int64) error {
	info, err := h.Info(ctx, id)
	if err != nil {
		return err
	}
	n := min(extents, info.Extents())
	if n <= 0 {
		return nil
	}
	return h.MarkDirty(ctx, id, info.Epoch, FillPeer, []replica.Run{{First: 0, Count: n}})
}

// Unfilled counts the extents not yet filled from the snapshot.
func (v *Volume) Unfilled() int64 {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.unfilled.Len()
}

// FillNext fills the first extent not filled yet; false when none is left.
func (v *Volume) FillNext(ctx context.Context) (bool, error) {
	v.mu.Lock()
	runs := v.unfilled.Runs()
	v.mu.Unlock()
	if len(runs) == 0 {
		return false, nil
	}
	return true, v.fillExtent(ctx, runs[0].First)
}

// ensureFilled fills the extents of [off, off+n) that still wait for the snapshot.
func (v *Volume) ensureFilled(ctx context.Context, off, n int64) error {
	if v.cfg.Fill == nil || n <= 0 {
		return nil
	}
	for e := off / replica.ExtentSize; e <= (off+n-1)/replica.ExtentSize; e++ {
		v.mu.Lock()
		pending := v.unfilled.Has(e)
		v.mu.Unlock()
		if pending {
			if err := v.fillExtent(ctx, e); err != nil {
				return err
			}
		}
	}
	return nil
}

// fillExtent writes extent e from the snapshot to every copy and records it filled.
func (v *Volume) fillExtent(ctx context.Context, e int64) error {
	v.fillMu.Lock()
	defer v.fillMu.Unlock()
	v.mu.Lock()
	pending := v.unfilled.Has(e)
	v.mu.Unlock()
	if !pending {
		return nil
	}
	data, err := v.cfg.Fill.ReadExtent(ctx, e)
	if err != nil {
		return fmt.Errorf("volume: filling extent %d of %s from its snapshot: %w", e, v.cfg.ID, err)
	}
	off := e * replica.ExtentSize
	if len(data) > 0 {
		if int64(len(data)) > replica.ExtentLen(v.Size(), e) {
			return fmt.Errorf("volume: extent %d of the snapshot of %s is longer than the volume's", e, v.cfg.ID)
		}
		// What the extent reads as does not change: no frozen view needs saving.
		if err := v.mutateOpt(ctx, off, int64(len(data)), true, false, func(ctx context.Context, h replica.Holder) error {
			return h.Write(ctx, v.cfg.ID, v.cfg.Epoch, off, data, true)
		}); err != nil {
			return err
		}
	}
	run := []replica.Run{{First: e, Count: 1}}
	v.mu.Lock()
	targets := v.withState(InSync, CatchingUp)
	v.mu.Unlock()
	errs := v.each(ctx, targets, func(ctx context.Context, _ int, h replica.Holder) error {
		return h.ClearDirty(ctx, v.cfg.ID, v.cfg.Epoch, FillPeer, run)
	})
	if err := v.fenceIfStale(errs...); err != nil {
		return err
	}
	v.mu.Lock()
	v.unfilled.Remove(run[0])
	v.mu.Unlock()
	return nil
}

// loadUnfilled sets the unfilled extents at Open: those every answering copy records.
func (v *Volume) loadUnfilled(dirties []map[string][]replica.Run, errs []error, limit int64) {
	if v.cfg.Fill == nil {
		return
	}
	var sets []*replica.ExtentSet
	for i, d := range dirties {
		if errs[i] != nil {
			continue
		}
		s, err := replica.SetOf(d[FillPeer], limit)
		if err != nil {
			s = &replica.ExtentSet{}
		}
		sets = append(sets, s)
	}
	if len(sets) == 0 {
		return
	}
	for _, e := range sets[0].Members() {
		in := true
		for _, s := range sets[1:] {
			in = in && s.Has(e)
		}
		if in {
			v.unfilled.Add(replica.Run{First: e, Count: 1})
		}
	}
}
