package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/banyancloud/banyan/blockstore/replica"
	"github.com/banyancloud/banyan/blockstore/snapshot"
	"github.com/banyancloud/banyan/cluster/state"
	"github.com/banyancloud/banyan/objectstore"
)

// SnapshotData is what the snapshot controller needs of this box's block storage: a
// frozen, point-in-time view of a volume to read a snapshot from.
type SnapshotData interface {
	// SnapshotView returns the frozen view snapshot s (of volume v) reads, making it
	// now if this box did not freeze it earlier (at the export of an attached volume),
	// and the function that releases it.
	SnapshotView(ctx context.Context, s *state.Snapshot, v *state.Volume) (snapshot.Source, func(), error)
}

// snapshotController converges the snapshots this box works on (state.Snapshot.Node):
// it takes pending ones (uploading the extents that changed since the parent), copies
// CopySnapshot ones, and deletes the objects of deleting ones that no other snapshot
// shares. It reports each through Raft (ReportSnapshot).
type snapshotController struct {
	node  clusterView
	data  SnapshotData
	store snapshot.Store
	// init makes the snapshot bucket; until it succeeds nothing else is tried.
	init   func(ctx context.Context) error
	inited atomic.Bool
	log    *slog.Logger
	// progressEvery is how often a running snapshot reports its progress.
	progressEvery time.Duration
}

// snapshotStorage is block storage that takes snapshots and fills volumes from them
// (BlockStorage).
type snapshotStorage interface {
	SnapshotData
	UseSnapshotStore(ctx context.Context, st snapshot.Store)
	MarkUnfilled(id string, extents int64) error
}

// startSnapshots runs this box's snapshot controller over the object store's snapshot
// bucket, and lets its block storage fill volumes from snapshots.
func startSnapshots(ctx context.Context, n clusterView, sd snapshotStorage, objects objectstore.ObjectLayer, log *slog.Logger) {
	st := snapshot.ObjectStore{Objects: objects}
	sd.UseSnapshotStore(ctx, st)
	sc := &snapshotController{node: n, data: sd, store: st, init: st.Init, log: log.With("sub", "snapshots"), progressEvery: time.Second}
	go Converge(ctx, sc, ConvergeOptions{Logger: log, Resync: 10 * time.Second})
}

// markUnfilled records, before a copy of a volume created from a snapshot is reported
// ready, which of its extents are still to come from the snapshot.
func (c *volumeController) markUnfilled(v *state.Volume) error {
	if v.SnapshotID == "" {
		return nil
	}
	m, ok := c.data.(interface {
		MarkUnfilled(id string, extents int64) error
	})
	if !ok {
		return fmt.Errorf("volume %s is created from snapshot %s, and this box cannot fill volumes from snapshots", v.ID, v.SnapshotID)
	}
	s, err := c.node.State().Snapshot(v.SnapshotID)
	if err != nil {
		return err
	}
	return m.MarkUnfilled(v.ID, replica.Extents(int64(s.VolumeSizeGiB)<<30))
}

func (c *snapshotController) Name() string { return "snapshots" }

func (c *snapshotController) Keys(ctx context.Context) ([]string, <-chan struct{}, error) {
	snaps, changed, err := c.node.State().Snapshots()
	if err != nil {
		return nil, nil, err
	}
	var keys []string
	for _, s := range snaps {
		if s.Node == c.node.Name() && (s.State == state.SnapshotPending || s.State == state.SnapshotDeleting) {
			keys = append(keys, s.ID)
		}
	}
	return keys, changed, nil
}

func (c *snapshotController) Reconcile(ctx context.Context, id string) error {
	s, err := c.node.State().Snapshot(id)
	if errors.Is(err, state.ErrNotFound) {
		return nil
	}
	if err != nil || s.Node != c.node.Name() {
		return err
	}
	if c.init != nil && !c.inited.Load() {
		if err := c.init(ctx); err != nil {
			return fmt.Errorf("the snapshot bucket: %w", err)
		}
		c.inited.Store(true)
	}
	switch {
	case s.State == state.SnapshotDeleting:
		return c.delete(ctx, s)
	case s.State == state.SnapshotPending && s.CopyOf != "":
		return c.copy(ctx, s)
	case s.State == state.SnapshotPending:
		return c.take(ctx, s)
	}
	return nil
}

func (c *snapshotController) report(ctx context.Context, r state.ReportSnapshot) error {
	r.Node = c.node.Name()
	_, err := c.node.Apply(ctx, &r, nil)
	return err
}

func (c *snapshotController) fail(ctx context.Context, s *state.Snapshot, err error) error {
	c.log.Warn("snapshot failed", "snapshot", s.ID, "volume", s.VolumeID, "err", err)
	return c.report(ctx, state.ReportSnapshot{ID: s.ID, Attempt: s.Attempt, State: state.SnapshotError, Message: err.Error()})
}

func (c *snapshotController) take(ctx context.Context, s *state.Snapshot) error {
	v, err := c.node.State().Volume(s.VolumeID)
	if errors.Is(err, state.ErrNotFound) {
		return c.fail(ctx, s, fmt.Errorf("the volume %s was deleted", s.VolumeID))
	}
	if err != nil {
		return err
	}
	var parent *snapshot.Manifest
	if s.Parent != "" {
		if parent, err = snapshot.LoadManifest(ctx, c.store, s.Parent); err != nil {
			c.log.Warn("the parent snapshot's manifest is unreadable; taking a full snapshot", "snapshot", s.ID, "parent", s.Parent, "err", err)
			parent = nil
		}
	}
	src, release, err := c.data.SnapshotView(ctx, s, v)
	if err != nil {
		return err // not exported yet, copies unreachable: retried
	}
	defer release()
	start := time.Now()
	var pct atomic.Int64
	stop := make(chan struct{})
	reported := make(chan struct{})
	go func() {
		defer close(reported)
		last := int64(0)
		t := time.NewTicker(c.progressEvery)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
			}
			if p := pct.Load(); p > last && p < 100 {
				if c.report(ctx, state.ReportSnapshot{ID: s.ID, Attempt: s.Attempt, Progress: int(p)}) == nil {
					last = p
				}
			}
		}
	}()
	m, stats, err := snapshot.Take(ctx, src, c.store, snapshot.TakeOptions{SnapshotID: s.ID, VolumeID: s.VolumeID, Attempt: s.Attempt,
		Parent: parent, Progress: func(done, total int64) { pct.Store(done * 100 / max(total, 1)) }})
	close(stop)
	<-reported
	if err != nil {
		if ctx.Err() != nil {
			return err
		}
		return c.fail(ctx, s, err)
	}
	c.log.Info("snapshot taken", "snapshot", s.ID, "volume", s.VolumeID, "parent", s.Parent, "extents", stats.Extents,
		"uploaded", stats.Uploaded, "reused", stats.Reused, "zero", stats.Zero, "bytes", stats.StoredBytes, "seconds", time.Since(start).Seconds())
	return c.report(ctx, state.ReportSnapshot{ID: s.ID, Attempt: s.Attempt, State: state.SnapshotCompleted, Progress: 100,
		Manifest: snapshot.ManifestKey(m.SnapshotID), Extents: stats.Extents, Uploaded: stats.Uploaded, Reused: stats.Reused,
		Zero: stats.Zero, StoredBytes: stats.StoredBytes})
}

func (c *snapshotController) copy(ctx context.Context, s *state.Snapshot) error {
	src, err := c.node.State().Snapshot(s.CopyOf)
	if err != nil {
		return c.fail(ctx, s, fmt.Errorf("the source snapshot %s is gone", s.CopyOf))
	}
	sm, err := snapshot.LoadManifest(ctx, c.store, s.CopyOf)
	if err != nil {
		return err
	}
	if _, err := snapshot.Copy(ctx, c.store, sm, s.ID); err != nil {
		return err
	}
	return c.report(ctx, state.ReportSnapshot{ID: s.ID, Attempt: s.Attempt, State: state.SnapshotCompleted, Progress: 100,
		Manifest: snapshot.ManifestKey(s.ID), Extents: src.Extents, Reused: src.Extents - src.Zero, Zero: src.Zero})
}

// delete removes the objects only this snapshot names, once nothing may need them.
func (c *snapshotController) delete(ctx context.Context, s *state.Snapshot) error {
	needed, why, err := c.node.State().SnapshotNeeded(s.ID)
	if err != nil {
		return err
	}
	if needed {
		return fmt.Errorf("the objects of deleted snapshot %s wait: %s", s.ID, why)
	}
	m, err := snapshot.LoadManifest(ctx, c.store, s.ID)
	if errors.Is(err, snapshot.ErrNotFound) {
		m = nil
	} else if err != nil {
		return err
	}
	all, _, err := c.node.State().Snapshots()
	if err != nil {
		return err
	}
	var others []*snapshot.Manifest
	for _, o := range all {
		if o.ID == s.ID || o.Manifest == "" {
			continue
		}
		if o.State == state.SnapshotDeleting {
			// Another snapshot being deleted keeps its objects only while something
			// still needs them; otherwise two deletes running at once on two boxes
			// would each keep what they share for the other.
			if needed, _, err := c.node.State().SnapshotNeeded(o.ID); err != nil {
				return err
			} else if !needed {
				continue
			}
		}
		om, err := snapshot.LoadManifest(ctx, c.store, o.ID)
		if errors.Is(err, snapshot.ErrNotFound) {
			continue
		}
		if err != nil {
			return fmt.Errorf("cannot tell which objects snapshot %s shares: %w", o.ID, err)
		}
		others = append(others, om)
	}
	n, err := snapshot.Delete(ctx, c.store, s.ID, m, others)
	if err != nil {
		return err
	}
	c.log.Info("snapshot deleted", "snapshot", s.ID, "objects_deleted", n)
	return c.report(ctx, state.ReportSnapshot{ID: s.ID, Attempt: s.Attempt, Gone: true})
}
