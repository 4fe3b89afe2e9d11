package volume

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/banyancloud/banyan/blockstore/replica"
)

// State is where a copy stands (see the package doc).
type State int

// The states of a copy.
const (
	InSync State = iota
	CatchingUp
	Out
)

// String is the state as logs and status show it.
func (s State) String() string {
	switch s {
	case InSync:
		return "in-sync"
	case CatchingUp:
		return "catching-up"
	case Out:
		return "out"
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// ReplicaStatus is one copy as the primary sees it.
type ReplicaStatus struct {
	Name  string
	Local bool
	State State
	// DirtyExtents counts the extents the copy lacks.
	DirtyExtents int64
	// Resyncing: a Resync of it is running.
	Resyncing bool
}

// Volume is the primary's view of one replicated volume; it implements the
// NBD server's Backend. All methods are safe for concurrent use.
type Volume struct {
	cfg  Config
	log  *slog.Logger
	size atomic.Int64

	units unitLocks
	// markMu serializes the changes of dirty sets together with their
	// recording on the copies, so the copies see them in memory's order.
	markMu  sync.Mutex
	flushMu sync.Mutex // one Flush at a time

	mu        sync.Mutex // guards the members' state and dirty sets, unflushed
	members   []*member
	unflushed replica.ExtentSet // extents written without FUA since the last Flush
	views     []*View           // frozen views being read (freeze.go)
	unfilled  replica.ExtentSet // extents still to be filled from Config.Fill (fill.go)
	fillMu    sync.Mutex        // one fill at a time

	fenced atomic.Bool
	closed atomic.Bool
}

type member struct {
	Replica
	state     State
	dirty     replica.ExtentSet
	resyncing bool
	// reported: Config.Report accepted that this copy is out (guarded by markMu). A
	// copy out and not reported makes every write report it again before it is
	// acknowledged.
	reported bool
	// removed: SetReplicas took the copy out of the volume (guarded by mu); a write
	// that was in flight then records and reports nothing for it.
	removed bool
}

// Open takes over the volume as its primary at cfg.Epoch: it asks every
// copy for its metadata, learns from them which copies lag (and by which
// extents), claims every copy in sync under the epoch, and records the
// dirty sets on them. It fails with ErrFenced if a copy has seen a newer
// epoch and with ErrNoReplica if no copy is in sync.
func Open(ctx context.Context, cfg Config) (*Volume, error) {
	if err := replica.ValidID(cfg.ID); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	if len(cfg.Replicas) == 0 {
		return nil, fmt.Errorf("%w: volume %s has no replicas", ErrInvalidConfig, cfg.ID)
	}
	if cfg.Size < 0 || cfg.Size > replica.MaxSize {
		return nil, fmt.Errorf("%w: size %d", ErrInvalidConfig, cfg.Size)
	}
	if cfg.CallTimeout <= 0 {
		cfg.CallTimeout = 10 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	v := &Volume{cfg: cfg, log: cfg.Logger.With("volume", cfg.ID, "epoch", cfg.Epoch)}
	seen := map[string]bool{}
	for _, r := range cfg.Replicas {
		if r.Name == "" || r.Holder == nil || seen[r.Name] {
			return nil, fmt.Errorf("%w: replica %q is unnamed, repeated or has no holder", ErrInvalidConfig, r.Name)
		}
		seen[r.Name] = true
		v.members = append(v.members, &member{Replica: r})
	}

	// What every copy says of itself and of the others.
	infos := make([]replica.Info, len(v.members))
	dirties := make([]map[string][]replica.Run, len(v.members))
	errs := v.each(ctx, v.members, func(ctx context.Context, i int, h replica.Holder) error {
		var err error
		if infos[i], err = h.Info(ctx, cfg.ID); err != nil {
			return err
		}
		dirties[i], err = h.Dirty(ctx, cfg.ID)
		return err
	})
	size := cfg.Size
	for i, err := range errs {
		if err == nil && infos[i].Epoch > cfg.Epoch {
			return nil, fmt.Errorf("%w: copy on %s has seen epoch %d, ours is %d", ErrFenced, v.members[i].Name, infos[i].Epoch, cfg.Epoch)
		}
		if err == nil && cfg.Size == 0 {
			size = max(size, infos[i].Size)
		}
	}
	if size == 0 {
		return nil, fmt.Errorf("%w: no copy of %s answered and Config.Size is 0: %w", ErrNoReplica, cfg.ID, errors.Join(errs...))
	}
	v.size.Store(size)
	all := replica.Run{First: 0, Count: replica.Extents(size)}
	v.loadUnfilled(dirties, errs, all.Count)
	for i, m := range v.members {
		switch {
		case errs[i] != nil:
			v.log.Warn("volume copy did not answer at takeover; it is out and will be verified whole", "replica", m.Name, "err", errs[i])
			m.state = Out
			m.dirty.Add(all)
		case infos[i].Size < size:
			m.state = Out
			if n := replica.Extents(infos[i].Size); n > 0 && n <= all.Count {
				m.dirty.Add(replica.Run{First: n - 1, Count: all.Count - n + 1})
			}
		}
	}
	for i := range v.members {
		for peer, runs := range dirties[i] {
			if p := v.member(peer); p != nil {
				for _, r := range runs {
					if r.First+r.Count <= all.Count {
						p.dirty.Add(r)
					}
				}
				p.state = Out
			}
		}
	}
	for _, name := range cfg.Stale {
		if m := v.member(name); m != nil {
			m.state = Out
			if m.dirty.Len() == 0 {
				m.dirty.Add(all)
			}
		}
	}
	for _, m := range v.members {
		if m.dirty.Len() > 0 {
			m.state = Out
		}
	}

	// Claim the copies in sync: from now on the old primary cannot write
	// to them.
	inSync := v.withState(InSync)
	errs = v.each(ctx, inSync, func(ctx context.Context, _ int, h replica.Holder) error {
		return h.Flush(ctx, cfg.ID, cfg.Epoch)
	})
	if err := v.fenceIfStale(errs...); err != nil {
		return nil, err
	}
	for i, err := range errs {
		if err != nil {
			v.log.Warn("volume copy failed its claim; it is out and will be verified whole", "replica", inSync[i].Name, "err", err)
			inSync[i].state = Out
			inSync[i].dirty.Add(all)
		}
	}
	if len(v.withState(InSync)) == 0 {
		return nil, fmt.Errorf("%w: volume %s has no copy in sync among %d", ErrNoReplica, cfg.ID, len(v.members))
	}
	// Record every dirty set on every copy in sync, and report the copies out.
	for _, m := range v.members {
		if m.state != Out {
			continue
		}
		if err := v.record(ctx, m, m.dirty.Runs(), v.withState(InSync)); err != nil {
			return nil, err
		}
		if cfg.Report != nil {
			if err := cfg.Report(ctx, m.Name, false); err != nil {
				return nil, fmt.Errorf("reporting copy %s of %s out: %w", m.Name, cfg.ID, err)
			}
			m.reported = true
		}
	}
	v.log.Info("volume opened as primary", "size", size, "replicas", len(v.members), "in_sync", len(v.withState(InSync)))
	return v, nil
}

// record durably adds runs to m's dirty set on every holder (at Open,
// before the volume is shared; any failure fails Open).
func (v *Volume) record(ctx context.Context, m *member, runs []replica.Run, holders []*member) error {
	if len(runs) == 0 {
		return nil
	}
	errs := v.each(ctx, holders, func(ctx context.Context, _ int, h replica.Holder) error {
		return h.MarkDirty(ctx, v.cfg.ID, v.cfg.Epoch, m.Name, runs)
	})
	if err := v.fenceIfStale(errs...); err != nil {
		return err
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("recording what copy %s of %s lacks: %w", m.Name, v.cfg.ID, err)
	}
	return nil
}

func (v *Volume) member(name string) *member {
	for _, m := range v.members {
		if m.Name == name {
			return m
		}
	}
	return nil
}

// withState lists the members in one of the states, the local copy first.
func (v *Volume) withState(states ...State) []*member {
	var out []*member
	for _, m := range v.members {
		if slices.Contains(states, m.state) {
			if m.Local {
				out = append([]*member{m}, out...)
			} else {
				out = append(out, m)
			}
		}
	}
	return out
}

// each calls fn on every member's holder in parallel, each call bounded by
// CallTimeout and detached from ctx's cancellation (a call, once started,
// ends the same way whatever the caller does). A member whose box Live
// says is down gets errDown without a call.
func (v *Volume) each(ctx context.Context, ms []*member, fn func(ctx context.Context, i int, h replica.Holder) error) []error {
	errs := make([]error, len(ms))
	base := context.WithoutCancel(ctx)
	call := func(i int) {
		if v.cfg.Live != nil && !v.cfg.Live(ms[i].Name) {
			errs[i] = fmt.Errorf("%w: %s", errDown, ms[i].Name)
			return
		}
		cctx, cancel := context.WithTimeout(base, v.cfg.CallTimeout)
		defer cancel()
		errs[i] = fn(cctx, i, ms[i].Holder)
	}
	var wg sync.WaitGroup
	for i := 1; i < len(ms); i++ {
		wg.Go(func() { call(i) })
	}
	if len(ms) > 0 {
		call(0)
	}
	wg.Wait()
	return errs
}

// fenceIfStale fences the volume if any error says a newer epoch exists.
func (v *Volume) fenceIfStale(errs ...error) error {
	for _, err := range errs {
		if errors.Is(err, replica.ErrStaleEpoch) {
			if !v.fenced.Swap(true) {
				v.log.Error("volume fenced: a newer primary has taken over; no more writes from here", "err", err)
			}
			return fmt.Errorf("%w: %w", ErrFenced, err)
		}
	}
	return nil
}

func (v *Volume) usable() error {
	switch {
	case v.fenced.Load():
		return ErrFenced
	case v.closed.Load():
		return ErrClosed
	}
	return nil
}

// Fenced reports whether a newer primary has taken over.
func (v *Volume) Fenced() bool { return v.fenced.Load() }

// ID is the volume's ID.
func (v *Volume) ID() string { return v.cfg.ID }

// Epoch is the epoch this primary writes under.
func (v *Volume) Epoch() uint64 { return v.cfg.Epoch }

// Size implements Backend: the volume's size in bytes.
func (v *Volume) Size() int64 { return v.size.Load() }

// Status describes every copy, in Config order.
func (v *Volume) Status() []ReplicaStatus {
	v.mu.Lock()
	defer v.mu.Unlock()
	out := make([]ReplicaStatus, len(v.members))
	for i, m := range v.members {
		out[i] = ReplicaStatus{Name: m.Name, Local: m.Local, State: m.state, DirtyExtents: m.dirty.Len(), Resyncing: m.resyncing}
	}
	return out
}

// Close flushes the volume (unless it is fenced) and refuses every later
// call with ErrClosed. The copies stay; closing twice is a no-op.
func (v *Volume) Close(ctx context.Context) error {
	if v.fenced.Load() || v.closed.Load() {
		v.closed.Store(true)
		return nil
	}
	err := v.Flush(ctx)
	v.closed.Store(true)
	return err
}
