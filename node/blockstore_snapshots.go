package node

import (
	"context"
	"fmt"
	"time"

	"github.com/banyancloud/banyan/blockstore/snapshot"
	"github.com/banyancloud/banyan/blockstore/volume"
	"github.com/banyancloud/banyan/cluster/state"
)

// frozenView is a snapshot's point-in-time view of a volume this box holds.
type frozenView struct {
	attempt uint64
	view    *volume.View
	vol     *volume.Volume
	// closeVol: the volume was opened for the snapshot alone (detached), or unexported
	// while the snapshot read it; close it with the view.
	closeVol bool
}

// UseSnapshotStore gives the block storage the object store's snapshot data and starts
// filling the volumes it serves that were created from snapshots.
func (b *BlockStorage) UseSnapshotStore(ctx context.Context, st snapshot.Store) {
	b.mu.Lock()
	b.snaps = st
	b.mu.Unlock()
	go b.fillLoop(ctx)
}

// MarkUnfilled records on this box's fresh copy of a volume created from a snapshot
// that its first extents extents are still to come from the snapshot.
func (b *BlockStorage) MarkUnfilled(id string, extents int64) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return volume.MarkUnfilled(ctx, b.store, id, extents)
}

// fillSource sets cfg.Fill for a volume created from a snapshot that is not filled yet.
func (b *BlockStorage) fillSource(ctx context.Context, rec *state.Volume, cfg *volume.Config) error {
	if rec.SnapshotID == "" || rec.Filled {
		return nil
	}
	b.mu.Lock()
	st := b.snaps
	b.mu.Unlock()
	if st == nil {
		return fmt.Errorf("volume %s is created from snapshot %s, and this box has no object store to read it from", rec.ID, rec.SnapshotID)
	}
	m, err := snapshot.LoadManifest(ctx, st, rec.SnapshotID)
	if err != nil {
		return fmt.Errorf("the snapshot %s of volume %s: %w", rec.SnapshotID, rec.ID, err)
	}
	cfg.Fill = snapshot.NewReader(st, m)
	return nil
}

// freezePending freezes v for the pending snapshots of its volume this box must take
// (handed over by an attach), before the volume is served.
func (b *BlockStorage) freezePending(rec *state.Volume, v *volume.Volume) {
	snaps, _, err := b.node.State().Snapshots()
	if err != nil {
		return
	}
	for _, s := range snaps {
		if s.VolumeID != rec.ID || s.CopyOf != "" || s.State != state.SnapshotPending || s.Node != b.node.Name() {
			continue
		}
		b.mu.Lock()
		fv := b.frozen[s.ID]
		b.mu.Unlock()
		if fv != nil && fv.attempt == s.Attempt {
			continue
		}
		view, err := v.Freeze(b.store.Dir())
		if err != nil {
			b.log.Warn("cannot freeze a volume for its snapshot", "volume", rec.ID, "snapshot", s.ID, "err", err)
			continue
		}
		b.setFrozen(s.ID, &frozenView{attempt: s.Attempt, view: view, vol: v})
	}
}

func (b *BlockStorage) setFrozen(id string, fv *frozenView) {
	b.mu.Lock()
	old := b.frozen[id]
	b.frozen[id] = fv
	b.mu.Unlock()
	if old != nil {
		b.releaseFrozen(id, old)
	}
}

func (b *BlockStorage) releaseFrozen(id string, fv *frozenView) {
	b.mu.Lock()
	if b.frozen[id] == fv {
		delete(b.frozen, id)
	}
	b.mu.Unlock()
	fv.view.Release()
	if fv.closeVol {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := fv.vol.Close(ctx); err != nil {
			b.log.Warn("closing a volume after its snapshot", "volume", fv.vol.ID(), "err", err)
		}
	}
}

// keepForSnapshot says whether an unexported volume must stay open because a snapshot
// still reads its frozen view; the view's release closes it then.
func (b *BlockStorage) keepForSnapshot(v *volume.Volume) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	kept := false
	for _, fv := range b.frozen {
		if fv.vol == v {
			fv.closeVol, kept = true, true
		}
	}
	return kept
}

// SnapshotView implements SnapshotData. The primary freezes the volume it serves; for a
// detached volume a box holding a copy opens it for the snapshot alone, at the volume's
// epoch (no one else writes it: an attach hands the snapshot over to the new primary).
func (b *BlockStorage) SnapshotView(ctx context.Context, s *state.Snapshot, rec *state.Volume) (snapshot.Source, func(), error) {
	b.mu.Lock()
	fv := b.frozen[s.ID]
	v := b.vols[rec.ID]
	b.mu.Unlock()
	if fv != nil && fv.attempt != s.Attempt {
		b.releaseFrozen(s.ID, fv)
		fv = nil
	}
	if fv == nil {
		attached := rec.Attachment != nil && rec.Primary == b.node.Name()
		switch {
		case attached && (v == nil || v.Epoch() != rec.Epoch):
			return nil, nil, fmt.Errorf("volume %s is not served from this box yet", rec.ID)
		case attached:
			view, err := v.Freeze(b.store.Dir())
			if err != nil {
				return nil, nil, err
			}
			fv = &frozenView{attempt: s.Attempt, view: view, vol: v}
		default:
			cfg, err := b.volumeConfig(ctx, rec)
			if err != nil {
				return nil, nil, err
			}
			pv, err := volume.Open(ctx, cfg)
			if err != nil {
				return nil, nil, fmt.Errorf("opening detached volume %s for snapshot %s: %w", rec.ID, s.ID, err)
			}
			view, err := pv.Freeze(b.store.Dir())
			if err != nil {
				pv.Close(ctx)
				return nil, nil, err
			}
			fv = &frozenView{attempt: s.Attempt, view: view, vol: pv, closeVol: true}
		}
		b.setFrozen(s.ID, fv)
	}
	return fv.view, func() { b.releaseFrozen(s.ID, fv) }, nil
}

// fillInterval is how often the primary looks for volumes still filling from their
// snapshot.
const fillInterval = time.Second

// fillLoop fills, in the background, the volumes this box serves that were created
// from snapshots, and reports each once it holds every extent (the snapshot's objects
// are then no longer needed by it).
func (b *BlockStorage) fillLoop(ctx context.Context) {
	t := time.NewTicker(fillInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		b.mu.Lock()
		vols := make([]*volume.Volume, 0, len(b.vols))
		for _, v := range b.vols {
			vols = append(vols, v)
		}
		b.mu.Unlock()
		for _, v := range vols {
			for i := 0; i < 64 && v.Unfilled() > 0 && ctx.Err() == nil; i++ {
				if _, err := v.FillNext(ctx); err != nil {
					b.log.Warn("filling a volume from its snapshot failed; will retry", "volume", v.ID(), "err", err)
					break
				}
			}
			if v.Unfilled() > 0 {
				continue
			}
			rec, err := b.node.State().Volume(v.ID())
			if err != nil || rec.SnapshotID == "" || rec.Filled || rec.Primary != b.node.Name() || rec.Epoch != v.Epoch() {
				continue
			}
			rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			if _, err := b.node.Apply(rctx, &state.ReportVolumeFilled{VolumeID: rec.ID, Node: rec.Primary, Epoch: rec.Epoch}, nil); err == nil {
				b.log.Info("volume filled from its snapshot", "volume", rec.ID, "snapshot", rec.SnapshotID)
			}
			cancel()
		}
	}
}
