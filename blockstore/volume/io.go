package volume

import (
	"context"
	"errors"
	"fmt"

	"github.com/banyancloud/banyan/blockstore/replica"
)

func (v *Volume) checkRange(off, n int64) error {
	if size := v.Size(); off < 0 || n < 0 || off > size || n > size-off {
		return fmt.Errorf("%w: [%d, +%d) outside a volume of %d bytes", ErrOutOfRange, off, n, size)
	}
	return nil
}

// extentRuns is the run of extents [off, off+n) touches.
func extentRuns(off, n int64) []replica.Run {
	if n <= 0 {
		return nil
	}
	first, last := off/replica.ExtentSize, (off+n-1)/replica.ExtentSize
	return []replica.Run{{First: first, Count: last - first + 1}}
}

// WriteAt implements Backend: p at off on every copy; with fua durable
// before it returns. See the package doc for when it is acknowledged.
func (v *Volume) WriteAt(ctx context.Context, p []byte, off int64, fua bool) error {
	if err := v.checkRange(off, int64(len(p))); err != nil {
		return err
	}
	if err := v.ensureFilled(ctx, off, int64(len(p))); err != nil {
		return err
	}
	for len(p) > 0 {
		n := min(len(p), replica.MaxIO)
		chunk := p[:n]
		err := v.mutate(ctx, off, int64(n), fua, func(ctx context.Context, h replica.Holder) error {
			return h.Write(ctx, v.cfg.ID, v.cfg.Epoch, off, chunk, fua)
		})
		if err != nil {
			return err
		}
		p, off = p[n:], off+int64(n)
	}
	return v.usable()
}

// Trim implements Backend: the range reads as zeros afterwards (holes are
// punched on every copy, so copies stay identical).
func (v *Volume) Trim(ctx context.Context, off, length int64) error {
	return v.WriteZeroes(ctx, off, length, false)
}

// WriteZeroes implements Backend.
func (v *Volume) WriteZeroes(ctx context.Context, off, length int64, fua bool) error {
	if err := v.checkRange(off, length); err != nil {
		return err
	}
	if length == 0 {
		return v.usable()
	}
	if err := v.ensureFilled(ctx, off, length); err != nil {
		return err
	}
	return v.mutate(ctx, off, length, fua, func(ctx context.Context, h replica.Holder) error {
		return h.Zero(ctx, v.cfg.ID, v.cfg.Epoch, off, length, fua)
	})
}

// mutate runs one write-like call on the copies under the units' locks and
// decides its acknowledgment (package doc).
func (v *Volume) mutate(ctx context.Context, off, n int64, fua bool, send func(ctx context.Context, h replica.Holder) error) error {
	return v.mutateOpt(ctx, off, n, fua, true, send)
}

// mutateOpt is mutate; with preserve, frozen views save what the write changes first.
func (v *Volume) mutateOpt(ctx context.Context, off, n int64, fua, preserve bool, send func(ctx context.Context, h replica.Holder) error) error {
	if err := v.usable(); err != nil {
		return err
	}
	unlock := v.units.lock(span{off, n})
	defer unlock()
	if err := v.usable(); err != nil {
		return err
	}
	if preserve {
		v.preserve(ctx, off, n)
	}
	v.mu.Lock()
	targets := v.withState(InSync, CatchingUp)
	wasInSync := make([]bool, len(targets))
	for i, m := range targets {
		wasInSync[i] = m.state == InSync
	}
	out := v.withState(Out)
	v.mu.Unlock()

	errs := v.each(ctx, targets, func(ctx context.Context, _ int, h replica.Holder) error { return send(ctx, h) })
	if err := v.fenceIfStale(errs...); err != nil {
		return err
	}
	var holders, lag []*member
	for i, m := range targets {
		switch {
		case errs[i] == nil && wasInSync[i]:
			holders = append(holders, m)
		case errs[i] != nil:
			v.log.Warn("volume copy failed a write", "replica", m.Name, "off", off, "len", n, "err", errs[i])
			lag = append(lag, m)
		}
	}
	if len(holders) == 0 {
		return fmt.Errorf("%w: write of [%d, +%d) to %s: %w", ErrNoReplica, off, n, v.cfg.ID, errors.Join(errs...))
	}
	runs := extentRuns(off, n)
	if len(lag)+len(out) > 0 {
		if err := v.markLagging(ctx, lag, out, runs, holders); err != nil {
			return err
		}
	}
	if !fua {
		v.mu.Lock()
		for _, r := range runs {
			v.unflushed.Add(r)
		}
		v.mu.Unlock()
	}
	return nil
}

// ReadAt implements Backend: from the local copy if it is in sync, else
// from another copy in sync; a copy that fails is skipped for this read.
func (v *Volume) ReadAt(ctx context.Context, p []byte, off int64) error {
	if err := v.usable(); err != nil {
		return err
	}
	if err := v.checkRange(off, int64(len(p))); err != nil {
		return err
	}
	if err := v.ensureFilled(ctx, off, int64(len(p))); err != nil {
		return err
	}
	v.mu.Lock()
	cands := v.withState(InSync)
	v.mu.Unlock()
	var errs []error
	for _, m := range cands {
		if v.cfg.Live != nil && !v.cfg.Live(m.Name) {
			continue
		}
		err := m.Holder.Read(ctx, v.cfg.ID, off, p)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		v.log.Warn("volume copy failed a read; trying another", "replica", m.Name, "off", off, "len", len(p), "err", err)
		errs = append(errs, fmt.Errorf("%s: %w", m.Name, err))
	}
	return fmt.Errorf("%w: read of [%d, +%d) from %s: %w", ErrNoReplica, off, len(p), v.cfg.ID, errors.Join(errs...))
}

// Flush implements Backend: every write acknowledged before it is durable
// on at least one copy in sync, and every other copy flushed it or is out
// with those extents marked dirty.
func (v *Volume) Flush(ctx context.Context) error {
	if err := v.usable(); err != nil {
		return err
	}
	v.flushMu.Lock()
	defer v.flushMu.Unlock()
	v.mu.Lock()
	pending := v.unflushed.Runs()
	v.unflushed = replica.ExtentSet{}
	targets := v.withState(InSync, CatchingUp)
	wasInSync := make([]bool, len(targets))
	for i, m := range targets {
		wasInSync[i] = m.state == InSync
	}
	v.mu.Unlock()
	restore := func() {
		v.mu.Lock()
		for _, r := range pending {
			v.unflushed.Add(r)
		}
		v.mu.Unlock()
	}
	errs := v.each(ctx, targets, func(ctx context.Context, _ int, h replica.Holder) error {
		return h.Flush(ctx, v.cfg.ID, v.cfg.Epoch)
	})
	if err := v.fenceIfStale(errs...); err != nil {
		return err
	}
	var holders, lag []*member
	for i, m := range targets {
		switch {
		case errs[i] == nil && wasInSync[i]:
			holders = append(holders, m)
		case errs[i] != nil:
			v.log.Warn("volume copy failed a flush", "replica", m.Name, "err", errs[i])
			lag = append(lag, m)
		}
	}
	if len(holders) == 0 {
		restore()
		return fmt.Errorf("%w: flush of %s: %w", ErrNoReplica, v.cfg.ID, errors.Join(errs...))
	}
	if len(lag) > 0 {
		if err := v.markLagging(ctx, lag, nil, pending, holders); err != nil {
			restore()
			return err
		}
	}
	return v.usable()
}

// Grow enlarges the volume to newSize bytes on every copy in sync or
// catching up (a copy that fails is put out; Resync grows it). Writes wait
// while it runs.
func (v *Volume) Grow(ctx context.Context, newSize int64) error {
	if err := v.usable(); err != nil {
		return err
	}
	if newSize < v.Size() || newSize > replica.MaxSize {
		return fmt.Errorf("%w: cannot resize %s from %d to %d bytes", ErrOutOfRange, v.cfg.ID, v.Size(), newSize)
	}
	unlock := v.units.lock(span{0, stripes * lockUnit})
	defer unlock()
	v.mu.Lock()
	targets := v.withState(InSync, CatchingUp)
	wasInSync := make([]bool, len(targets))
	for i, m := range targets {
		wasInSync[i] = m.state == InSync
	}
	v.mu.Unlock()
	errs := v.each(ctx, targets, func(ctx context.Context, _ int, h replica.Holder) error {
		return h.Grow(ctx, v.cfg.ID, v.cfg.Epoch, newSize)
	})
	if err := v.fenceIfStale(errs...); err != nil {
		return err
	}
	var holders, lag []*member
	for i, m := range targets {
		if errs[i] == nil && wasInSync[i] {
			holders = append(holders, m)
		} else if errs[i] != nil {
			lag = append(lag, m)
		}
	}
	if len(holders) == 0 {
		return fmt.Errorf("%w: growing %s: %w", ErrNoReplica, v.cfg.ID, errors.Join(errs...))
	}
	old := v.Size()
	v.size.Store(newSize)
	if len(lag) > 0 {
		// A copy that did not grow lacks the new extents (and the last old
		// one, which may have grown too).
		first := max(replica.Extents(old)-1, 0)
		runs := []replica.Run{{First: first, Count: replica.Extents(newSize) - first}}
		if err := v.markLagging(ctx, lag, nil, runs, holders); err != nil {
			return err
		}
	}
	return nil
}
