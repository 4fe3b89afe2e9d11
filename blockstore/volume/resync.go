package volume

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/banyancloud/banyan/blockstore/replica"
)

const (
	// copyBatch is how many extents Resync copies under one lock hold.
	copyBatch = 8
	// verifyBatch is how many extents Resync compares under one lock hold.
	verifyBatch = 64
)

// ResyncStats says what a Resync did.
type ResyncStats struct {
	// Verified counts dirty extents found identical by their sums.
	Verified int64
	// Copied counts extents copied.
	Copied int64
}

// Resync brings the copy on box name back in sync while writes continue:
// see the package doc. It returns at once for a copy in sync, fails if
// another Resync of it is running, and on failure leaves the copy out with
// whatever is still dirty (call it again later).
func (v *Volume) Resync(ctx context.Context, name string) (ResyncStats, error) {
	var st ResyncStats
	if err := v.usable(); err != nil {
		return st, err
	}
	v.mu.Lock()
	m := v.member(name)
	switch {
	case m == nil:
		v.mu.Unlock()
		return st, fmt.Errorf("%w: %s has no copy on %q", ErrInvalidConfig, v.cfg.ID, name)
	case m.state == InSync:
		v.mu.Unlock()
		return st, nil
	case m.resyncing:
		v.mu.Unlock()
		return st, fmt.Errorf("a resync of copy %s of %s is already running", name, v.cfg.ID)
	}
	m.resyncing = true
	v.mu.Unlock()
	defer func() {
		v.mu.Lock()
		m.resyncing = false
		if m.state == CatchingUp {
			m.state = Out
		}
		v.mu.Unlock()
	}()
	v.log.Info("volume copy resync starting", "replica", name, "dirty_extents", m.dirtyLen(v))
	if err := v.prepare(ctx, m); err != nil {
		return st, err
	}
	v.mu.Lock()
	if m.state == Out {
		m.state = CatchingUp
	}
	v.mu.Unlock()
	if err := v.verify(ctx, m, &st); err != nil {
		return st, err
	}
	if err := v.copyDirty(ctx, m, &st); err != nil {
		return st, err
	}
	if err := v.rejoin(ctx, m); err != nil {
		return st, err
	}
	v.log.Info("volume copy back in sync", "replica", name, "verified", st.Verified, "copied", st.Copied)
	if v.cfg.Report != nil {
		if err := v.cfg.Report(ctx, name, true); err != nil {
			return st, fmt.Errorf("reporting copy %s of %s in sync: %w", name, v.cfg.ID, err)
		}
	}
	return st, nil
}

func (m *member) dirtyLen(v *Volume) int64 {
	v.mu.Lock()
	defer v.mu.Unlock()
	return m.dirty.Len()
}

// call runs fn on one copy under CallTimeout, fencing on a stale epoch.
func (v *Volume) call(ctx context.Context, m *member, fn func(ctx context.Context, h replica.Holder) error) error {
	err := v.each(ctx, []*member{m}, func(ctx context.Context, _ int, h replica.Holder) error { return fn(ctx, h) })[0]
	if ferr := v.fenceIfStale(err); ferr != nil {
		return ferr
	}
	if err != nil {
		return fmt.Errorf("copy %s of %s: %w", m.Name, v.cfg.ID, err)
	}
	return nil
}

// prepare makes the copy exist at the volume's size and claims it.
func (v *Volume) prepare(ctx context.Context, m *member) error {
	var info replica.Info
	err := v.call(ctx, m, func(ctx context.Context, h replica.Holder) error {
		var err error
		info, err = h.Info(ctx, v.cfg.ID)
		return err
	})
	if errors.Is(err, replica.ErrNotFound) {
		// A new or wiped copy: everything is to copy.
		v.mu.Lock()
		m.dirty.Add(replica.Run{First: 0, Count: replica.Extents(v.Size())})
		v.mu.Unlock()
		if err := v.call(ctx, m, func(ctx context.Context, h replica.Holder) error {
			return h.Create(ctx, v.cfg.ID, v.Size())
		}); err != nil && !errors.Is(err, replica.ErrExists) {
			return err
		}
		info.Size = v.Size()
	} else if err != nil {
		return err
	}
	if info.Epoch > v.cfg.Epoch {
		return v.fenceIfStale(fmt.Errorf("%w: copy %s has seen epoch %d", replica.ErrStaleEpoch, m.Name, info.Epoch))
	}
	if info.Size < v.Size() {
		if err := v.call(ctx, m, func(ctx context.Context, h replica.Holder) error {
			return h.Grow(ctx, v.cfg.ID, v.cfg.Epoch, v.Size())
		}); err != nil {
			return err
		}
	}
	return v.call(ctx, m, func(ctx context.Context, h replica.Holder) error {
		return h.Flush(ctx, v.cfg.ID, v.cfg.Epoch)
	})
}

// batch returns up to n of m's dirty extents, or an error if m is no
// longer catching up (a write to it failed).
func (v *Volume) batch(m *member, n int, from int64) ([]int64, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if m.state != CatchingUp {
		return nil, fmt.Errorf("%w: copy %s of %s failed a write while catching up", ErrNoReplica, m.Name, v.cfg.ID)
	}
	var out []int64
	for _, r := range m.dirty.Runs() {
		for e := max(r.First, from); e < r.First+r.Count && len(out) < n; e++ {
			out = append(out, e)
		}
		if len(out) == n {
			break
		}
	}
	return out, nil
}

// lockExtents takes the unit locks of whole extents.
func (v *Volume) lockExtents(es []int64) func() {
	spans := make([]span, len(es))
	for i, e := range es {
		spans[i] = span{e * replica.ExtentSize, replica.ExtentSize}
	}
	return v.units.lock(spans...)
}

// source is a copy in sync to read from, the local one first.
func (v *Volume) source() (*member, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, m := range v.withState(InSync) {
		if v.cfg.Live == nil || v.cfg.Live(m.Name) {
			return m, nil
		}
	}
	return nil, fmt.Errorf("%w: %s has no copy in sync to resync from", ErrNoReplica, v.cfg.ID)
}

// verify drops from m's dirty set the extents whose sums match a copy in
// sync, comparing under the extents' locks so no write slips between.
func (v *Volume) verify(ctx context.Context, m *member, st *ResyncStats) error {
	for from := int64(0); ; {
		if err := ctx.Err(); err != nil {
			return err
		}
		es, err := v.batch(m, verifyBatch, from)
		if err != nil || len(es) == 0 {
			return err
		}
		from = es[len(es)-1] + 1
		src, err := v.source()
		if err != nil {
			return err
		}
		same, err := v.verifyBatch(ctx, src, m, es)
		if err != nil {
			return err
		}
		st.Verified += int64(len(same))
	}
}

func (v *Volume) verifyBatch(ctx context.Context, src, m *member, es []int64) ([]int64, error) {
	unlock := v.lockExtents(es)
	defer unlock()
	var same replica.ExtentSet
	for _, r := range runsOf(es) {
		var a, b []replica.Sum
		if err := v.call(ctx, src, func(ctx context.Context, h replica.Holder) error {
			var err error
			a, err = h.ExtentSums(ctx, v.cfg.ID, r.First, r.Count)
			return err
		}); err != nil {
			return nil, err
		}
		if err := v.call(ctx, m, func(ctx context.Context, h replica.Holder) error {
			var err error
			b, err = h.ExtentSums(ctx, v.cfg.ID, r.First, r.Count)
			return err
		}); err != nil {
			return nil, err
		}
		for i := range min(len(a), len(b)) {
			if a[i] == b[i] {
				same.Add(replica.Run{First: r.First + int64(i), Count: 1})
			}
		}
	}
	if same.Len() == 0 {
		return nil, nil
	}
	return same.Members(), v.clean(ctx, m, same.Runs())
}

// copyDirty copies m's dirty extents from a copy in sync, a batch at a time
// under the batch's locks, until none is left.
func (v *Volume) copyDirty(ctx context.Context, m *member, st *ResyncStats) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		es, err := v.batch(m, copyBatch, 0)
		if err != nil || len(es) == 0 {
			return err
		}
		src, err := v.source()
		if err != nil {
			return err
		}
		if err := v.copyBatch(ctx, src, m, es); err != nil {
			return err
		}
		st.Copied += int64(len(es))
	}
}

func (v *Volume) copyBatch(ctx context.Context, src, m *member, es []int64) error {
	unlock := v.lockExtents(es)
	defer unlock()
	for _, e := range es {
		var data []byte
		if err := v.call(ctx, src, func(ctx context.Context, h replica.Holder) error {
			var err error
			data, err = h.ReadExtent(ctx, v.cfg.ID, e)
			return err
		}); err != nil {
			return err
		}
		if err := v.call(ctx, m, func(ctx context.Context, h replica.Holder) error {
			return h.WriteExtent(ctx, v.cfg.ID, v.cfg.Epoch, e, data)
		}); err != nil {
			return err
		}
	}
	if err := v.call(ctx, m, func(ctx context.Context, h replica.Holder) error {
		return h.Flush(ctx, v.cfg.ID, v.cfg.Epoch)
	}); err != nil {
		return err
	}
	return v.clean(ctx, m, runsOf(es))
}

// clean removes runs from m's dirty set, on the copies in sync and then in
// memory. A copy that fails to record it keeps a superset, which only costs
// a later resync extra work.
func (v *Volume) clean(ctx context.Context, m *member, runs []replica.Run) error {
	v.markMu.Lock()
	defer v.markMu.Unlock()
	v.mu.Lock()
	if m.state != CatchingUp {
		v.mu.Unlock()
		return fmt.Errorf("%w: copy %s of %s failed a write while catching up", ErrNoReplica, m.Name, v.cfg.ID)
	}
	holders := v.withState(InSync)
	v.mu.Unlock()
	errs := v.each(ctx, holders, func(ctx context.Context, _ int, h replica.Holder) error {
		return h.ClearDirty(ctx, v.cfg.ID, v.cfg.Epoch, m.Name, runs)
	})
	if err := v.fenceIfStale(errs...); err != nil {
		return err
	}
	for i, err := range errs {
		if err != nil {
			v.log.Warn("volume copy failed to clear a dirty set", "replica", holders[i].Name, "lagging", m.Name, "err", err)
		}
	}
	v.mu.Lock()
	for _, r := range runs {
		m.dirty.Remove(r)
	}
	v.mu.Unlock()
	return nil
}

// rejoin makes m in sync: its metadata gets the dirty sets of the other
// copies (so it can tell a later primary what they lack), then its state
// changes, all under markMu so no dirty set changes in between.
func (v *Volume) rejoin(ctx context.Context, m *member) error {
	v.markMu.Lock()
	defer v.markMu.Unlock()
	v.mu.Lock()
	if m.state != CatchingUp || m.dirty.Len() > 0 {
		v.mu.Unlock()
		return fmt.Errorf("%w: copy %s of %s fell behind again while catching up", ErrNoReplica, m.Name, v.cfg.ID)
	}
	sets := map[string][]replica.Run{}
	for _, o := range v.members {
		if o != m {
			sets[o.Name] = o.dirty.Runs()
		}
	}
	size := v.Size()
	v.mu.Unlock()
	all := []replica.Run{{First: 0, Count: replica.Extents(size)}}
	for peer, runs := range sets {
		if err := v.call(ctx, m, func(ctx context.Context, h replica.Holder) error {
			if err := h.ClearDirty(ctx, v.cfg.ID, v.cfg.Epoch, peer, all); err != nil {
				return err
			}
			if len(runs) == 0 {
				return nil
			}
			return h.MarkDirty(ctx, v.cfg.ID, v.cfg.Epoch, peer, runs)
		}); err != nil {
			return err
		}
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if m.state != CatchingUp || m.dirty.Len() > 0 {
		return fmt.Errorf("%w: copy %s of %s fell behind again while catching up", ErrNoReplica, m.Name, v.cfg.ID)
	}
	m.state = InSync
	return nil
}

// runsOf groups ascending extents into runs.
func runsOf(es []int64) []replica.Run {
	var runs []replica.Run
	for _, e := range slices.Compact(slices.Sorted(slices.Values(es))) {
		if k := len(runs) - 1; k >= 0 && runs[k].First+runs[k].Count == e {
			runs[k].Count++
		} else {
			runs = append(runs, replica.Run{First: e, Count: 1})
		}
	}
	return runs
}
