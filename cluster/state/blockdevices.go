package state

import (
	"fmt"
	"slices"
	"sort"
	"time"
)

// Boot from volume: an EBS-backed image lists block device mappings whose root names a
// snapshot; RunInstances of it makes a volume per mapping in the same apply, on the
// instance's zone, attached to the instance with its box as the primary, so the box's
// agent boots the guest from the root volume over NBD (node/bootvolumes.go).

// BlockDevice is one EBS block device mapping of an image or of a launch: a device name
// and the volume it gets (empty, or made from SnapshotID).
type BlockDevice struct {
	DeviceName          string
	SnapshotID          string
	VolumeSizeGiB       int
	VolumeType          string
	Iops                int
	Throughput          int
	DeleteOnTermination bool
	// VolumeID is set on a launch's mappings: the ID of the volume RunInstances makes for
	// it, picked by the front end so that every replica of the log agrees; Tags are the
	// launch's volume tags (TagSpecifications of ResourceType volume).
	VolumeID string
	Tags     map[string]string
}

// Root device types, as EC2 names them.
const (
	RootDeviceEBS           = "ebs"
	RootDeviceInstanceStore = "instance-store"
	// DefaultRootDeviceName is the root device of an instance-store image or instance.
	DefaultRootDeviceName = "/dev/sda1"
)

// Error codes of block device mappings; they are EC2's own.
const (
	CodeInvalidBlockDeviceMapping Code = "InvalidBlockDeviceMapping"
	CodeSnapshotInUse             Code = "InvalidSnapshot.InUse"
)

// RootDeviceType is ebs when the image's root device mapping names a snapshot.
func (im *Image) RootDeviceType() string {
	if im.RootDevice() != nil {
		return RootDeviceEBS
	}
	return RootDeviceInstanceStore
}

// RootDevice is the mapping of an EBS-backed image's root device, or nil.
func (im *Image) RootDevice() *BlockDevice {
	for i := range im.BlockDevices {
		if bd := &im.BlockDevices[i]; bd.DeviceName == im.RootDeviceName && bd.SnapshotID != "" {
			return bd
		}
	}
	return nil
}

// RootDevice is what DescribeInstances shows as the instance's root device type and name.
func (in *Instance) RootDevice() (typ, name string) {
	typ, name = in.RootDeviceType, in.RootDeviceName
	if typ == "" {
		typ = RootDeviceInstanceStore
	}
	if name == "" {
		name = DefaultRootDeviceName
	}
	return typ, name
}

// launchVolumes makes the volumes of an instance's launch mappings, in the apply that
// places it: each is created as CreateVolume would (replicas in the instance's zone),
// then attached to the instance (in-use, attaching) with its box as the primary.
func launchVolumes(tx *Txn, in *Instance, c *RunInstances) error {
	if len(in.BlockDevices) == 0 {
		return nil
	}
	live := c.LiveNodes
	if live == nil {
		boxes, err := list[Box](tx.Txn, tableBoxes)
		if err != nil {
			return err
		}
		for _, b := range boxes {
			live = append(live, b.Node)
		}
	}
	for _, bd := range in.BlockDevices {
		if bd.VolumeID == "" || bd.DeviceName == "" {
			return Errorf(CodeInvalidBlockDeviceMapping, "a launch mapping needs a device name and a volume ID")
		}
		v := Volume{ID: bd.VolumeID, Account: in.Account, Zone: in.Zone, SizeGiB: bd.VolumeSizeGiB, VolumeType: bd.VolumeType,
			Iops: bd.Iops, Throughput: bd.Throughput, SnapshotID: bd.SnapshotID, CreateTime: c.Now, Tags: bd.Tags}
		if _, err := applyCreateVolume(tx, &CreateVolume{Volume: v, Replicas: c.VolumeReplicas, LiveNodes: live}); err != nil {
			return err
		}
		nv, err := ownVolume(tx, in.Account, v.ID)
		if err != nil {
			return err
		}
		nv.State, nv.Primary, nv.Epoch = VolumeInUse, in.Node, nv.Epoch+1
		nv.Attachment = &VolumeAttachment{InstanceID: in.ID, Device: bd.DeviceName, State: AttachmentAttaching,
			AttachTime: c.Now, DeleteOnTermination: bd.DeleteOnTermination}
		if err := tx.putVolume(nv); err != nil {
			return err
		}
	}
	return nil
}

// CreateImage makes an EBS-backed image of an instance: a snapshot of every volume
// attached to it (SnapshotIDs, picked by the front end, one per volume in device order),
// and the image, pending until every snapshot completes (settleImages).
type CreateImage struct {
	Image       Image
	InstanceID  string
	SnapshotIDs []string
	LiveNodes   []string
	Now         time.Time
}

func (*CreateImage) CommandType() CommandType { return CmdCreateImage }

// SetDeleteOnTermination changes the DeleteOnTermination flag of the volumes attached
// to an instance at the given device names (ModifyInstanceAttribute blockDeviceMapping).
type SetDeleteOnTermination struct {
	Account    string
	InstanceID string
	Devices    map[string]bool
}

func (*SetDeleteOnTermination) CommandType() CommandType { return CmdSetDeleteOnTermination }

func init() {
	registerCommand("CreateImage", applyCreateImage)
	registerCommand("SetDeleteOnTermination", applySetDeleteOnTermination)
}

// instanceVolumes lists the volumes attached to an instance, by device name.
func instanceVolumes(tx *Txn, account, instanceID string) ([]*Volume, error) {
	vols, err := listBy[Volume](tx.Txn, tableVolumes, "account", account)
	if err != nil {
		return nil, err
	}
	var out []*Volume
	for _, v := range vols {
		if v.Attachment != nil && v.Attachment.InstanceID == instanceID && v.State != VolumeDeleting {
			out = append(out, v)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Attachment.Device < out[j].Attachment.Device })
	return out, nil
}

func ownInstance(tx *Txn, account, id string) (*Instance, error) {
	obj, err := tx.First(tableInstances, "id", id)
	if err != nil {
		return nil, err
	}
	if obj == nil || obj.(*Instance).Account != account {
		return nil, Errorf(CodeNotFound, "The instance ID '%s' does not exist", id)
	}
	return obj.(*Instance), nil
}

func applyCreateImage(tx *Txn, c *CreateImage) (any, error) {
	in, err := ownInstance(tx, c.Image.Account, c.InstanceID)
	if err != nil {
		return nil, err
	}
	if in.State == InstanceTerminated || in.State == InstanceShuttingDown {
		return nil, Errorf(CodeIncorrectInstanceState, "Instance '%s' is not in a state from which an image can be created.", in.ID)
	}
	typ, root := in.RootDevice()
	if typ != RootDeviceEBS {
		return nil, Errorf(CodeInvalid, "The instance '%s' is backed by instance store; CreateImage needs an EBS-backed instance.", in.ID)
	}
	vols, err := instanceVolumes(tx, in.Account, in.ID)
	if err != nil {
		return nil, err
	}
	if len(c.SnapshotIDs) < len(vols) {
		return nil, Errorf(CodeInvalid, "CreateImage of %s needs %d snapshot IDs, got %d", in.ID, len(vols), len(c.SnapshotIDs))
	}
	im := c.Image
	im.State, im.RootDeviceName, im.SourceInstance, im.BlockDevices = ImagePending, root, in.ID, nil
	hasRoot := false
	for i, v := range vols {
		snap := Snapshot{ID: c.SnapshotIDs[i], Account: in.Account, VolumeID: v.ID, StartTime: c.Now,
			Description: fmt.Sprintf("Created by CreateImage(%s) for %s", in.ID, im.ID)}
		if _, err := applyCreateSnapshot(tx, &CreateSnapshot{Snapshot: snap, LiveNodes: c.LiveNodes}); err != nil {
			return nil, err
		}
		a := v.Attachment
		hasRoot = hasRoot || a.Device == root
		im.BlockDevices = append(im.BlockDevices, BlockDevice{DeviceName: a.Device, SnapshotID: snap.ID, VolumeSizeGiB: v.SizeGiB,
			VolumeType: v.VolumeType, Iops: v.Iops, Throughput: v.Throughput, DeleteOnTermination: a.DeleteOnTermination})
	}
	if !hasRoot {
		return nil, Errorf(CodeIncorrectInstanceState, "The root volume of instance '%s' is not attached.", in.ID)
	}
	sort.SliceStable(im.BlockDevices, func(i, j int) bool {
		return im.BlockDevices[i].DeviceName == root && im.BlockDevices[j].DeviceName != root
	})
	if err := checkPut(tx, tableImages, im.ID, 0, true, func(o any) uint64 { return o.(*Image).ModifyIndex }); err != nil {
		return nil, err
	}
	im.ModifyIndex = tx.Index
	return nil, tx.Insert(tableImages, &im)
}

// settleImages makes the pending images whose snapshots are all completed available,
// and fails those with a snapshot that failed. Called when a snapshot's state changes.
func settleImages(tx *Txn, s *Snapshot) error {
	if s.State == SnapshotPending {
		return nil
	}
	ims, err := listBy[Image](tx.Txn, tableImages, "account", s.Account)
	if err != nil {
		return err
	}
	for _, o := range ims {
		if o.State != ImagePending || !slices.ContainsFunc(o.BlockDevices, func(bd BlockDevice) bool { return bd.SnapshotID == s.ID }) {
			continue
		}
		next := *o
		next.BlockDevices = slices.Clone(o.BlockDevices)
		done := true
		for _, bd := range o.BlockDevices {
			if bd.SnapshotID == "" {
				continue
			}
			obj, err := tx.First(tableSnapshots, "id", bd.SnapshotID)
			if err != nil {
				return err
			}
			switch {
			case obj == nil || obj.(*Snapshot).State == SnapshotError || obj.(*Snapshot).State == SnapshotDeleting:
				next.State, next.StateReason = ImageFailed, "Client.SnapshotError: snapshot "+bd.SnapshotID+" of "+bd.DeviceName+" failed"
			case obj.(*Snapshot).State != SnapshotCompleted:
				done = false
			}
		}
		if next.State == ImagePending && done {
			next.State = ImageAvailable
		}
		if next.State == ImagePending {
			continue
		}
		next.ModifyIndex = tx.Index
		if err := tx.Insert(tableImages, &next); err != nil {
			return err
		}
	}
	return nil
}

// snapshotInUse refuses to delete a snapshot that a registered image maps.
func snapshotInUse(tx *Txn, id string) error {
	ims, err := list[Image](tx.Txn, tableImages)
	if err != nil {
		return err
	}
	for _, im := range ims {
		if im.State == ImageDeregistered {
			continue
		}
		for _, bd := range im.BlockDevices {
			if bd.SnapshotID == id {
				return Errorf(CodeSnapshotInUse, "The snapshot %s is currently in use by %s", id, im.ID)
			}
		}
	}
	return nil
}

func applySetDeleteOnTermination(tx *Txn, c *SetDeleteOnTermination) (any, error) {
	in, err := ownInstance(tx, c.Account, c.InstanceID)
	if err != nil {
		return nil, err
	}
	vols, err := instanceVolumes(tx, in.Account, in.ID)
	if err != nil {
		return nil, err
	}
	devices := make([]string, 0, len(c.Devices))
	for d := range c.Devices {
		devices = append(devices, d)
	}
	sort.Strings(devices)
	var changed []*Volume
	for _, d := range devices {
		i := slices.IndexFunc(vols, func(v *Volume) bool { return v.Attachment.Device == d })
		if i < 0 {
			return nil, Errorf(CodeInvalidBlockDeviceMapping, "No device is currently mapped at %s", d)
		}
		v, err := ownVolume(tx, in.Account, vols[i].ID)
		if err != nil {
			return nil, err
		}
		v.Attachment.DeleteOnTermination = c.Devices[d]
		changed = append(changed, v)
	}
	for _, v := range changed {
		if err := tx.putVolume(v); err != nil {
			return nil, err
		}
	}
	return nil, nil
}

// InstanceVolumes lists the volumes attached to an instance (DescribeInstances'
// BlockDeviceMappings), by device name.
func (s *Store) InstanceVolumes(account, instanceID string) ([]*Volume, error) {
	return instanceVolumes(&Txn{Txn: s.ReadTxn()}, account, instanceID)
}

// checkRootDetach refuses to detach the root volume of an EBS-backed instance that is
// not stopped, as EC2 does.
func checkRootDetach(tx *Txn, v *Volume) error {
	obj, err := tx.First(tableInstances, "id", v.Attachment.InstanceID)
	if err != nil || obj == nil {
		return err
	}
	in := obj.(*Instance)
	typ, root := in.RootDevice()
	if typ == RootDeviceEBS && v.Attachment.Device == root && in.State != InstanceStopped && in.State != InstanceTerminated {
		return Errorf(CodeIncorrectState, "Unable to detach root volume '%s' from instance '%s'", v.ID, in.ID)
	}
	return nil
}
