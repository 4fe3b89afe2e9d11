package node

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/banyancloud/banyan/cluster/state"
	"github.com/banyancloud/banyan/node/hypervisor"
)

// Boot from volume. RunInstances of an EBS-backed image makes the instance's volumes in
// its apply, attached with this box as their primary (cluster/state/blockdevices.go).
// The instance controller serves them over NBD itself and defines the domain with the
// root volume as its first disk (vda, what SeaBIOS boots) and the others after it, so
// the guest boots from the volume; the volume controller then finds them plugged in and
// keeps serving them, as for any attached volume. Nothing of the root disk is on this
// box: a volume made from a snapshot fills lazily from the object store as the guest
// reads it.

// errVolumeNotReady: a volume's copies are not all made yet; the launch waits.
var errVolumeNotReady = errors.New("volume not ready")

// isRootDevice reports whether an EBS device name names the root device (vda).
func isRootDevice(device string) bool {
	switch strings.TrimPrefix(device, "/dev/") {
	case "sda", "sda1", "xvda", "vda":
		return true
	}
	return false
}

// attachedDisks serves every volume attached to the instance that this box is the
// primary of (opening it here at its epoch, if not yet) and returns them as NBD disks:
// the root device's apart. An EBS-backed instance without its root volume cannot start.
func (c *instanceController) attachedDisks(ctx context.Context, in *state.Instance) (boot *hypervisor.NBDDisk, disks []hypervisor.NBDDisk, err error) {
	typ, rootName := in.RootDevice()
	ebs := typ == state.RootDeviceEBS
	vols, err := c.node.State().InstanceVolumes(in.Account, in.ID)
	if err != nil {
		return nil, nil, err
	}
	me := c.node.Name()
	for _, v := range vols {
		a := v.Attachment
		if v.Primary != me || a.State == state.AttachmentDetaching {
			continue
		}
		if c.volumes == nil {
			return nil, nil, fmt.Errorf("%w: volume %s is attached but this box serves no EBS volumes", errLaunchFailed, v.ID)
		}
		if len(v.Replicas) == 0 || len(v.Ready) < len(v.Replicas) {
			return nil, nil, fmt.Errorf("%w: %s has %d of %d copies made", errVolumeNotReady, v.ID, len(v.Ready), len(v.Replicas))
		}
		socket, export, err := c.volumes.Export(ctx, v)
		if err != nil {
			return nil, nil, fmt.Errorf("serving volume %s: %w", v.ID, err)
		}
		d := hypervisor.NBDDisk{Socket: socket, Export: export, Serial: strings.ReplaceAll(v.ID, "-", "")}
		if ebs && a.Device == rootName {
			d.Target = "vda"
			boot = &d
			continue
		}
		if d.Target, err = deviceTarget(a.Device); err != nil || d.Target == "vda" {
			c.log.Warn("an attached volume has no disk name the guest can see; left out", "volume", v.ID, "device", a.Device)
			continue
		}
		disks = append(disks, d)
	}
	if ebs && boot == nil {
		return nil, nil, fmt.Errorf("the root volume (%s) of %s is not attached to it on this box", rootName, in.ID)
	}
	return boot, disks, nil
}

// prepareEBS describes the domain of an EBS-backed instance: no root disk file, the
// root volume over NBD.
func (c *instanceController) prepareEBS(ctx context.Context, in *state.Instance) (hypervisor.DomainSpec, error) {
	boot, disks, err := c.attachedDisks(ctx, in)
	if err != nil {
		return hypervisor.DomainSpec{}, err
	}
	dir := filepath.Join(c.dir, in.ID)
	if err := mkdirSearchable(dir); err != nil {
		return hypervisor.DomainSpec{}, err
	}
	spec := hypervisor.DomainSpec{
		Name: in.ID, VCPUs: in.VCPUs, MemoryMiB: in.MemoryMiB, BootDisk: boot, Disks: disks,
		ConsoleLog: filepath.Join(dir, "console.log"),
		Metadata:   map[string]string{"instance-id": in.ID, "account": in.Account, "image-id": in.ImageID, "root-device-type": state.RootDeviceEBS},
	}
	if c.bridge != "" && in.MAC != "" {
		spec.NICs = []hypervisor.NIC{{Bridge: c.bridge, MAC: in.MAC, Device: instanceTap(in.ID)}}
	}
	return spec, nil
}

// reportAttached reports the volumes the domain started with as attached (the volume
// controller would too, on its next pass).
func (c *instanceController) reportAttached(ctx context.Context, in *state.Instance) {
	vols, err := c.node.State().InstanceVolumes(in.Account, in.ID)
	if err != nil {
		return
	}
	for _, v := range vols {
		if v.Primary != c.node.Name() || v.Attachment.State != state.AttachmentAttaching {
			continue
		}
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		_, err := c.node.Apply(rctx, &state.ReportVolume{ID: v.ID, Node: v.Primary, Epoch: v.Epoch, Event: state.VolumeEventAttached}, nil)
		cancel()
		if err != nil {
			c.log.Warn("cannot report a volume attached yet", "volume", v.ID, "instance", in.ID, "err", err)
		}
	}
}
