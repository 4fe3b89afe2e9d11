package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/banyancloud/banyan/cluster/state"
	"github.com/banyancloud/banyan/node/hypervisor"
)

// VolumeData is this box's part of the EBS data plane (blockstore): the copies of
// volumes it holds as a replica, and the volumes it serves as a primary over NBD.
type VolumeData interface {
	// EnsureReplica makes this box's copy of a volume (idempotent).
	EnsureReplica(id string, sizeBytes int64) error
	// DropReplica deletes this box's copy (idempotent).
	DropReplica(id string) error
	// HasReplica reports whether this box holds a copy.
	HasReplica(id string) bool
	// Replicas lists the volumes this box holds copies of.
	Replicas() ([]string, error)
	// Export serves the volume from this box as its primary at epoch, writing to every
	// replica, and returns the NBD unix socket and export name qemu connects to. Calling
	// it again with the same epoch is a no-op; with a newer one it takes over.
	Export(ctx context.Context, v *state.Volume) (socket, export string, err error)
	// Unexport stops serving the volume (flushing it first).
	Unexport(id string) error
	// Exports lists the volumes this box serves.
	Exports() []string
}

// DiskHypervisor is what the volume controller needs of the hypervisor driver.
type DiskHypervisor interface {
	AttachDisk(domain string, d hypervisor.NBDDisk) error
	DetachDisk(domain, target string) error
	Disks(domain string) (map[string]string, error)
}

// volumeController converges this box's volumes: as a replica box it makes or drops its
// copy; as the primary of an attachment it exports the volume and plugs it into the
// instance's domain, and unplugs it on detach. It reports each step through Raft.
type volumeController struct {
	node clusterView
	data VolumeData
	hv   DiskHypervisor
	log  *slog.Logger
}

func (c *volumeController) Name() string { return "volumes" }

func (c *volumeController) Keys(ctx context.Context) ([]string, <-chan struct{}, error) {
	vols, changed, err := c.node.State().Volumes("")
	if err != nil {
		return nil, nil, err
	}
	me := c.node.Name()
	var keys []string
	for _, v := range vols {
		if v.Primary == me || slices.Contains(v.Replicas, me) {
			keys = append(keys, v.ID)
		}
	}
	// What this box holds or serves, which the state may no longer want here.
	held, err := c.data.Replicas()
	if err != nil {
		return nil, nil, err
	}
	keys = append(keys, held...)
	keys = append(keys, c.data.Exports()...)
	slices.Sort(keys)
	return slices.Compact(keys), changed, nil
}

// deviceTarget is the guest's virtio name for an EBS device name: /dev/sdf and
// /dev/xvdf are vdf.
func deviceTarget(device string) (string, error) {
	if isRootDevice(device) {
		return "vda", nil // a boot volume (bootvolumes.go)
	}
	name := strings.TrimPrefix(device, "/dev/")
	for _, p := range []string{"xvd", "sd", "vd"} {
		if rest, ok := strings.CutPrefix(name, p); ok && len(rest) == 1 && rest[0] >= 'b' && rest[0] <= 'z' {
			return "vd" + rest, nil
		}
	}
	return "", fmt.Errorf("device %q has no virtio name", device)
}

func (c *volumeController) Reconcile(ctx context.Context, id string) error {
	me := c.node.Name()
	v, err := c.node.State().Volume(id)
	if errors.Is(err, state.ErrNotFound) {
		// Gone from the state: nothing of it stays here.
		if slices.Contains(c.data.Exports(), id) {
			if err := c.data.Unexport(id); err != nil {
				return err
			}
		}
		if c.data.HasReplica(id) {
			return c.data.DropReplica(id)
		}
		return nil
	}
	if err != nil {
		return err
	}
	// Primary role first: an export must be unplugged before its replica can go.
	if err := c.reconcilePrimary(ctx, v); err != nil {
		return err
	}
	if err := c.reconcileResize(ctx, v); err != nil { // volumeresize.go
		return err
	}
	isReplica := slices.Contains(v.Replicas, me)
	switch {
	case isReplica && v.State == state.VolumeDeleting:
		if err := c.data.DropReplica(id); err != nil {
			return err
		}
		return c.report(ctx, v, state.VolumeEventGone, "")
	case isReplica:
		if err := c.data.EnsureReplica(id, int64(v.SizeGiB)<<30); err != nil {
			if !slices.Contains(v.Ready, me) && v.State == state.VolumeCreating {
				c.report(ctx, v, state.VolumeEventFailed, "Server.InternalError: "+err.Error())
			}
			return err
		}
		if !slices.Contains(v.Ready, me) {
			if err := c.markUnfilled(v); err != nil {
				return err
			}
			return c.report(ctx, v, state.VolumeEventReady, "")
		}
	case c.data.HasReplica(id):
		// A copy the volume no longer places here (moved to another box).
		return c.data.DropReplica(id)
	}
	return nil
}

func (c *volumeController) reconcilePrimary(ctx context.Context, v *state.Volume) error {
	me := c.node.Name()
	exported := slices.Contains(c.data.Exports(), v.ID)
	a := v.Attachment
	if v.Primary == me && a == nil && v.State == state.VolumeAvailable && len(v.Stale) > 0 {
		// The resync owner of a detached volume with a copy rebuilt elsewhere
		// (state/rebuild.go): it serves no one, it only opens the volume so that the
		// resync loop copies the new copy whole; the state lets it go when none is stale.
		if len(v.Ready) < len(v.Replicas) {
			return nil // the new copy is not made yet
		}
		_, _, err := c.data.Export(ctx, v)
		return err
	}
	if v.Primary != me || a == nil {
		if exported {
			return c.data.Unexport(v.ID)
		}
		return nil
	}
	if c.hv == nil {
		return fmt.Errorf("volume %s is attached to %s on this box, which runs no hypervisor", v.ID, a.InstanceID)
	}
	// The export is named by the volume ID.
	target, err := deviceTarget(a.Device)
	if err != nil {
		return err
	}
	disks, domErr := c.hv.Disks(a.InstanceID)
	if domErr != nil && !errors.Is(domErr, hypervisor.ErrDomainNotFound) {
		return domErr
	}
	if a.State == state.AttachmentDetaching {
		if _, plugged := disks[v.ID]; plugged {
			if err := c.hv.DetachDisk(a.InstanceID, disks[v.ID]); err != nil && !errors.Is(err, hypervisor.ErrDomainNotFound) {
				return err
			}
			if disks, err := c.hv.Disks(a.InstanceID); err == nil {
				if _, still := disks[v.ID]; still {
					return fmt.Errorf("the guest of %s has not let go of %s yet", a.InstanceID, v.ID)
				}
			}
		}
		if exported {
			if err := c.data.Unexport(v.ID); err != nil {
				return err
			}
		}
		return c.report(ctx, v, state.VolumeEventDetached, "")
	}
	if len(v.Ready) < len(v.Replicas) {
		// A launch volume (bootvolumes.go) is attached from the start: it is served only
		// once every copy is made (and marked unfilled), never over copies still missing.
		return nil
	}
	socket, export, err := c.data.Export(ctx, v)
	if err != nil {
		return err
	}
	if domErr != nil {
		return fmt.Errorf("instance %s has no domain on this box yet", a.InstanceID)
	}
	if _, plugged := disks[export]; !plugged {
		d := hypervisor.NBDDisk{Socket: socket, Export: export, Target: target, Serial: strings.ReplaceAll(v.ID, "-", "")}
		if err := c.hv.AttachDisk(a.InstanceID, d); err != nil {
			return fmt.Errorf("plugging %s into %s: %w", v.ID, a.InstanceID, err)
		}
		c.log.Info("volume plugged in", "volume", v.ID, "instance", a.InstanceID, "target", target, "epoch", v.Epoch)
	}
	if a.State == state.AttachmentAttaching {
		return c.report(ctx, v, state.VolumeEventAttached, "")
	}
	return nil
}

func (c *volumeController) report(ctx context.Context, v *state.Volume, event, reason string) error {
	_, err := c.node.Apply(ctx, &state.ReportVolume{ID: v.ID, Node: c.node.Name(), Epoch: v.Epoch, Event: event, Reason: reason}, nil)
	return err
}
