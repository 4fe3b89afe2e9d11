package node

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/banyancloud/banyan/blockstore/replica"
	"github.com/banyancloud/banyan/cluster/state"
)

// Growing volumes (ModifyVolume, cluster/state/volumemods.go). While a volume's
// modification is modifying, every replica box grows its copy to the target size and
// reports it, and the primary of an attached volume grows the volume it serves (every
// copy in sync at its epoch; a copy that is out grows when it is resynced) and reports
// that. A grow that fails returns an error, so the volume controller retries it with
// backoff; the record stays modifying meanwhile, never completed over a copy that
// did not grow. Once it is optimizing, the first box to see it completes it.
//
// What the guest sees: new NBD connections learn the new size at their handshake, so a
// guest started (or a volume attached) after the grow sees it. A running guest does
// not: qemu learns an NBD export's size only when it connects, its block_resize
// (virDomainBlockResize) refuses to grow an NBD node ("Cannot grow NBD nodes"), and it
// reconnects without failing the guest's I/O only with the nbd driver's
// reconnect-delay, which libvirt 9.0 cannot set on an NBD disk. So a running instance
// sees the new size at its next stop and start (or detach and attach); the
// modification's status message says so.

// resizeTimeout bounds one grow of a copy or of a served volume.
const resizeTimeout = 2 * time.Minute

// VolumeResizer is what growing needs of the box's block storage, beyond VolumeData.
// BlockStorage implements it.
type VolumeResizer interface {
	// ReplicaSize is the size in bytes of this box's copy.
	ReplicaSize(id string) (int64, error)
	// GrowReplica grows this box's copy to size bytes (a no-op if it is that large).
	GrowReplica(id string, size int64) error
	// GrowExport grows the volume this box serves as its primary to size bytes, and
	// reports whether it serves it.
	GrowExport(ctx context.Context, id string, size int64) (bool, error)
}

// reconcileResize carries a volume's modification on as far as this box can.
func (c *volumeController) reconcileResize(ctx context.Context, v *state.Volume) error {
	m, err := c.node.State().VolumeModification(v.ID)
	if errors.Is(err, state.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	me := c.node.Name()
	isReplica := slices.Contains(v.Replicas, me)
	isPrimary := v.Primary == me && v.Attachment != nil && v.Attachment.State != state.AttachmentDetaching
	report := func(event, msg string) error {
		_, err := c.node.Apply(ctx, &state.ReportVolumeModification{VolumeID: v.ID, Node: me, Epoch: v.Epoch, Event: event,
			Now: time.Now().UTC(), Message: msg}, nil)
		return err
	}
	switch {
	case m.State == state.ModificationOptimizing && (isReplica || isPrimary):
		// Nothing to rebalance here: the volume is done once it has its size.
		return report(state.ModEventOptimized, m.StatusMessage)
	case m.State != state.ModificationModifying || m.TargetSizeGiB <= m.OriginalSizeGiB || v.State == state.VolumeDeleting:
		return nil
	}
	r, ok := c.data.(VolumeResizer)
	if !ok {
		return fmt.Errorf("volume %s is to grow but this box's block storage cannot grow volumes", v.ID)
	}
	target := int64(m.TargetSizeGiB) << 30
	if isReplica && c.data.HasReplica(v.ID) {
		size, err := r.ReplicaSize(v.ID)
		if err != nil {
			return err
		}
		if size < target {
			if err := r.GrowReplica(v.ID, target); err != nil {
				return fmt.Errorf("growing this box's copy of %s to %d GiB: %w", v.ID, m.TargetSizeGiB, err)
			}
			c.log.Info("volume copy grown", "volume", v.ID, "from_bytes", size, "to_gib", m.TargetSizeGiB)
		}
		// Report again when every copy is grown but the record waits: the volume was
		// detached since, and only the copies count now.
		if !slices.Contains(m.Grown, me) || (v.Attachment == nil && len(m.Grown) == len(v.Replicas)) {
			if err := report(state.ModEventGrown, ""); err != nil {
				return err
			}
		}
	}
	if isPrimary && m.PrimaryEpoch != v.Epoch {
		served, err := r.GrowExport(ctx, v.ID, target)
		if err != nil {
			return fmt.Errorf("growing %s, which this box serves, to %d GiB: %w", v.ID, m.TargetSizeGiB, err)
		}
		if !served {
			return nil // not exported yet: reconcilePrimary serves it first
		}
		c.log.Info("served volume grown", "volume", v.ID, "to_gib", m.TargetSizeGiB, "epoch", v.Epoch)
		return report(state.ModEventPrimary, c.guestResizeNote(v))
	}
	return nil
}

// guestResizeNote is the modification's status message for a volume attached to a
// running instance, whose guest sees the new size only at its next start.
func (c *volumeController) guestResizeNote(v *state.Volume) string {
	in, err := c.node.State().Instance(v.Attachment.InstanceID)
	if err != nil || in.State != state.InstanceRunning {
		return ""
	}
	return fmt.Sprintf("The volume has its new size; instance %s, running, sees it after its next stop and start (or a detach and attach): this cloud cannot grow a disk under a running guest.", in.ID)
}

// ReplicaSize implements VolumeResizer.
func (b *BlockStorage) ReplicaSize(id string) (int64, error) {
	info, err := b.store.Info(context.Background(), id)
	return info.Size, err
}

// GrowReplica implements VolumeResizer: the copy grows at the epoch it has recorded,
// which a newer primary's writes may overtake (the grow then fails stale and is retried).
func (b *BlockStorage) GrowReplica(id string, size int64) error {
	ctx, cancel := context.WithTimeout(context.Background(), resizeTimeout)
	defer cancel()
	info, err := b.store.Info(ctx, id)
	if err != nil {
		return err
	}
	if info.Size >= size {
		return nil
	}
	err = b.store.Grow(ctx, id, info.Epoch, size)
	if errors.Is(err, replica.ErrStaleEpoch) {
		return fmt.Errorf("a primary took the copy over while it grew; will retry: %w", err)
	}
	return err
}

// GrowExport implements VolumeResizer. The NBD server reads the size at each
// connection's handshake, so clients that connect from now on see it.
func (b *BlockStorage) GrowExport(ctx context.Context, id string, size int64) (bool, error) {
	b.mu.Lock()
	v := b.vols[id]
	b.mu.Unlock()
	if v == nil {
		return false, nil
	}
	if v.Size() >= size {
		return true, nil
	}
	gctx, cancel := context.WithTimeout(ctx, resizeTimeout)
	defer cancel()
	return true, v.Grow(gctx, size)
}
