package volume

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/banyancloud/banyan/blockstore/replica"
)

// markLagging puts the lag members (those that failed the write) out with
// runs added to their dirty sets, adds runs to the dirty sets of the skipped
// members (out when the write started: one that a Resync has since put
// catching up stays so, its copy loop picks the runs up; one already back in
// sync goes out again, as it lacks the write) (and, for a member going out now, every extent written since the
// last Flush), records the additions durably on the holders (the members
// that applied the write and are still in sync), and reports the members
// that went out. Holders that fail to record are put out in turn. It fails,
// and the write must not be acknowledged, if some addition could not be
// recorded on any holder or Report refused.
func (v *Volume) markLagging(ctx context.Context, lag, skipped []*member, runs []replica.Run, holders []*member) error {
	v.markMu.Lock()
	defer v.markMu.Unlock()
	for len(lag)+len(skipped) > 0 {
		type change struct {
			m       *member
			added   []replica.Run
			wentOut bool
		}
		var changes []change
		v.mu.Lock()
		unflushed := v.unflushed.Runs()
		for _, m := range append(slices.Clip(lag), skipped...) {
			if m.removed {
				continue // no longer a copy of the volume (SetReplicas)
			}
			c := change{m: m}
			if slices.Contains(lag, m) || m.state == InSync {
				c.wentOut = m.state != Out
				m.state = Out
			}
			add := runs
			if c.wentOut {
				add = append(slices.Clone(runs), unflushed...)
			}
			var set replica.ExtentSet
			for _, r := range add {
				for e := r.First; e < r.First+r.Count; e++ {
					if !m.dirty.Has(e) {
						set.Add(replica.Run{First: e, Count: 1})
					}
				}
			}
			c.added = set.Runs()
			for _, r := range c.added {
				m.dirty.Add(r)
			}
			changes = append(changes, c)
		}
		holders = slices.DeleteFunc(slices.Clone(holders), func(h *member) bool { return h.state != InSync })
		v.mu.Unlock()

		var failed []*member
		for _, c := range changes {
			if c.wentOut {
				v.log.Warn("volume copy is out: it will lack what is written until it is resynced", "replica", c.m.Name)
			}
			if len(c.added) == 0 {
				continue
			}
			errs := []error{fmt.Errorf("%w: no copy in sync left to record it", ErrNoReplica)}
			if len(holders) > 0 {
				errs = v.each(ctx, holders, func(ctx context.Context, _ int, h replica.Holder) error {
					return h.MarkDirty(ctx, v.cfg.ID, v.cfg.Epoch, c.m.Name, c.added)
				})
			}
			if err := v.fenceIfStale(errs...); err != nil {
				v.unmark(c.m, c.added)
				return err
			}
			if !slices.Contains(errs, nil) {
				// Recorded nowhere: forget it, so the next write to these
				// extents records it again before it is acknowledged.
				v.unmark(c.m, c.added)
				return fmt.Errorf("%w: recording what copy %s of %s missed: %w", ErrNoReplica, c.m.Name, v.cfg.ID, errors.Join(errs...))
			}
			for i, err := range errs {
				if err != nil && !slices.Contains(failed, holders[i]) {
					v.log.Warn("volume copy failed to record a dirty set", "replica", holders[i].Name, "lagging", c.m.Name, "err", err)
					failed = append(failed, holders[i])
				}
			}
		}
		if v.cfg.Report != nil {
			for _, c := range changes {
				if c.wentOut {
					c.m.reported = false
				}
				if !c.m.reported && c.m.stateIs(v, Out) {
					// Until the report is accepted no write that skipped the copy
					// is acknowledged: the first one's refusal is not forgotten.
					if err := v.cfg.Report(ctx, c.m.Name, false); err != nil {
						return fmt.Errorf("reporting copy %s of %s out: %w", c.m.Name, v.cfg.ID, err)
					}
					c.m.reported = true
				}
			}
		}
		lag, skipped = failed, nil
	}
	return nil
}

// stateIs reports whether m is in state st now.
func (m *member) stateIs(v *Volume, st State) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	return m.state == st
}

// unmark removes extents just added to m's dirty set whose recording failed.
func (v *Volume) unmark(m *member, runs []replica.Run) {
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, r := range runs {
		m.dirty.Remove(r)
	}
}
