package node

import (
	"context"
	"log/slog"
	"slices"
	"time"

	"github.com/banyancloud/banyan/cluster"
	"github.com/banyancloud/banyan/cluster/state"
)

// RecoverInstances runs on the leader: an EBS-backed instance whose box has been down
// for the setting compute.recovery_after (default 30 s) is restarted on another box of
// its zone with the same instance ID, private address and volumes
// (state.RecoverInstance, which also moves the volumes' primaries to the new box under a
// new epoch). The clock of a box starts when this leader first sees it down, so a new
// leader waits the whole delay again rather than act on a verdict it did not make.
func RecoverInstances(ctx context.Context, n *cluster.Node, log *slog.Logger) {
	r := &recoverer{node: n, log: log.With("sub", "recovery"), downSince: map[string]time.Time{}, lastErr: map[string]time.Time{}}
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		r.pass(ctx, time.Now())
	}
}

// liveness is what the recoverer needs of the cluster beyond the write path.
type liveness interface {
	clusterView
	MemberAlive(name string) bool
}

type recoverer struct {
	node      liveness
	log       *slog.Logger
	downSince map[string]time.Time
	lastErr   map[string]time.Time // instance → when a failed recovery was last logged
}

func (r *recoverer) pass(ctx context.Context, now time.Time) {
	after, on := r.node.State().RecoveryAfter()
	boxes, err := r.node.State().Boxes()
	if err != nil {
		return
	}
	rebuildAfter, rebuildOn := r.node.State().RebuildAfter()
	var live, due, lost []string
	for _, b := range boxes {
		if b.Node == r.node.Name() || r.node.MemberAlive(b.Node) {
			live = append(live, b.Node)
			delete(r.downSince, b.Node)
			continue
		}
		since, seen := r.downSince[b.Node]
		if !seen {
			r.downSince[b.Node] = now
			continue
		}
		if on && now.Sub(since) >= after {
			due = append(due, b.Node)
		}
		if rebuildOn && now.Sub(since) >= rebuildAfter {
			lost = append(lost, b.Node)
		}
	}
	defer r.rebuild(ctx, now, lost, live)
	defer r.takeOverSnapshots(ctx, now, due, live)
	for _, box := range due {
		ins, _, err := r.node.State().InstancesOn(box)
		if err != nil {
			continue
		}
		for _, in := range ins {
			if !recoverable(in) {
				continue
			}
			cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			_, err := r.node.Apply(cctx, &state.RecoverInstance{ID: in.ID, From: box, LiveNodes: live, Now: now.UTC()}, nil)
			cancel()
			if err != nil {
				if now.Sub(r.lastErr[in.ID]) >= time.Minute {
					r.lastErr[in.ID] = now
					r.log.Warn("cannot recover an instance of a failed box yet", "instance", in.ID, "box", box, "down_for", now.Sub(r.downSince[box]).Round(time.Second), "err", err)
				}
				continue
			}
			delete(r.lastErr, in.ID)
			if moved, err := r.node.State().Instance(in.ID); err == nil && moved.Node != box {
				r.log.Info("instance recovered on another box", "instance", in.ID, "failed_box", box, "box", moved.Node,
					"down_for", now.Sub(r.downSince[box]).Round(time.Millisecond))
			}
		}
	}
}

// takeOverSnapshots hands the snapshots (pending, copies, deletions) that a box down for
// compute.recovery_after was working on to live boxes (state.TakeOverSnapshot); it runs
// after the instance recoveries, which hand over their volumes' snapshots themselves.
func (r *recoverer) takeOverSnapshots(ctx context.Context, now time.Time, due, live []string) {
	if len(due) == 0 {
		return
	}
	snaps, _, err := r.node.State().Snapshots()
	if err != nil {
		return
	}
	for _, s := range snaps {
		if !slices.Contains(due, s.Node) || (s.State != state.SnapshotPending && s.State != state.SnapshotDeleting) {
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		var to string
		_, err := r.node.Apply(cctx, &state.TakeOverSnapshot{ID: s.ID, From: s.Node, LiveNodes: live}, &to)
		cancel()
		key := s.ID + "/" + s.Node
		if err != nil {
			if now.Sub(r.lastErr[key]) >= time.Minute {
				r.lastErr[key] = now
				r.log.Warn("cannot hand a snapshot of a failed box to another yet", "snapshot", s.ID, "box", s.Node, "err", err)
			}
			continue
		}
		delete(r.lastErr, key)
		if to != "" {
			r.log.Info("snapshot of a failed box handed to another", "snapshot", s.ID, "failed_box", s.Node, "box", to, "state", s.State)
		}
	}
}

// rebuild gives up the volume copies of the boxes down for blockstore.rebuild_after: each
// is made again on another live box of its zone (state.RebuildVolumeCopy) and copied whole
// by the volume's primary (or, for a detached volume, by the resync owner the command
// names). A copy whose box serves its attachment waits for the instance's recovery.
func (r *recoverer) rebuild(ctx context.Context, now time.Time, lost, live []string) {
	if len(lost) == 0 {
		return
	}
	vols, _, err := r.node.State().Volumes("")
	if err != nil {
		return
	}
	for _, v := range vols {
		if v.State != state.VolumeAvailable && v.State != state.VolumeInUse {
			continue
		}
		for _, box := range lost {
			if !slices.Contains(v.Replicas, box) || (v.Attachment != nil && v.Primary == box) {
				continue
			}
			cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			var to string
			_, err := r.node.Apply(cctx, &state.RebuildVolumeCopy{ID: v.ID, From: box, LiveNodes: live, Now: now.UTC()}, &to)
			cancel()
			key := v.ID + "/" + box
			if err != nil {
				if now.Sub(r.lastErr[key]) >= time.Minute {
					r.lastErr[key] = now
					r.log.Warn("cannot rebuild a volume copy of a lost box yet", "volume", v.ID, "box", box, "down_for", now.Sub(r.downSince[box]).Round(time.Second), "err", err)
				}
				continue
			}
			delete(r.lastErr, key)
			r.log.Info("volume copy of a lost box rebuilt on another box", "volume", v.ID, "lost_box", box, "box", to,
				"down_for", now.Sub(r.downSince[box]).Round(time.Second))
		}
	}
}

// recoverable: an EBS-backed instance that is meant to exist. Nothing of an
// instance-store instance outlives its box.
func recoverable(in *state.Instance) bool {
	if typ, _ := in.RootDevice(); typ != state.RootDeviceEBS {
		return false
	}
	switch in.State {
	case state.InstanceTerminated, state.InstanceShuttingDown:
		return false
	}
	return in.Desired != state.InstanceTerminated
}
