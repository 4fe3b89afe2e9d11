package state

import (
	"slices"
	"sort"
	"time"

	"github.com/hashicorp/go-memdb"
)

// Volume is one EBS volume: what its owner asked for, which boxes hold its replicas, and
// which box serves it to an instance. The volume's blocks never go through Raft; its
// replica set and its epoch do. Epoch grows whenever the box allowed to write changes
// (an attach, a take-over): replicas refuse writes of an older epoch, so a primary that
// was cut off can never write again after another took over.
type Volume struct {
	ID         string
	Account    string
	Zone       string
	SizeGiB    int
	VolumeType string
	Iops       int
	Throughput int
	SnapshotID string
	// Filled: a volume made from SnapshotID holds every extent of it now.
	Filled     bool
	CreateTime time.Time
	Tags       map[string]string

	// State is EC2's volume state: creating, available, in-use, deleting, deleted, error.
	State       string
	StateReason string
	// Replicas are the boxes holding a copy; Ready those that reported theirs made.
	Replicas []string
	Ready    []string
	Epoch    uint64
	// Stale are copies that may lack acknowledged writes: the primary reported them out
	// (ReportVolumeCopy) and has not reported them back in sync, or a recovery left
	// them behind on a failed box (recovery.go). A primary verifies them whole.
	Stale []string
	// Primary is the box serving the attachment (the instance's box), "" when detached.
	Primary    string
	Attachment *VolumeAttachment

	CreateIndex uint64
	ModifyIndex uint64

	// Attributes (volumemods.go): AutoEnableIO is the volume's autoEnableIO attribute
	// (DescribeVolumeAttribute/ModifyVolumeAttribute).
	AutoEnableIO bool
}

// VolumeAttachment is a volume's attachment to an instance.
type VolumeAttachment struct {
	InstanceID          string
	Device              string // as the owner named it, /dev/sdf
	State               string // attaching | attached | detaching
	AttachTime          time.Time
	DeleteOnTermination bool
	Force               bool
}

// EBS volume and attachment states.
const (
	VolumeCreating  = "creating"
	VolumeAvailable = "available"
	VolumeInUse     = "in-use"
	VolumeDeleting  = "deleting"
	VolumeError     = "error"

	AttachmentAttaching = "attaching"
	AttachmentAttached  = "attached"
	AttachmentDetaching = "detaching"
)

const tableVolumes = "volumes"

// Volume error codes.
const (
	// CodeIncorrectInstanceState: the instance's state does not allow the volume action.
	CodeIncorrectInstanceState Code = "IncorrectInstanceState"
	// CodeInUse: an attachment point (device name) is taken.
	CodeInUse Code = "InUse"
)

// CreateVolume records a new volume and places its replicas: Replicas distinct live
// boxes of the volume's zone, the emptiest first (by space left after the volumes they
// already hold), fewer when the zone has fewer boxes but never none.
type CreateVolume struct {
	Volume    Volume
	Replicas  int
	LiveNodes []string
}

func (*CreateVolume) CommandType() CommandType { return CmdCreateVolume }

// DeleteVolume starts deleting an available volume of the account: its replica boxes
// drop their copies and report, and the record goes with the last.
type DeleteVolume struct {
	Account string
	ID      string
}

func (*DeleteVolume) CommandType() CommandType { return CmdDeleteVolume }

// AttachVolume attaches an available volume to an instance of the same account and zone
// under a device name the instance does not use yet. The instance's box becomes the
// volume's primary with a new epoch.
type AttachVolume struct {
	Account    string
	VolumeID   string
	InstanceID string
	Device     string
	Now        time.Time
}

func (*AttachVolume) CommandType() CommandType { return CmdAttachVolume }

// DetachVolume asks the primary to unplug a volume (from one instance when InstanceID is
// set).
type DetachVolume struct {
	Account    string
	VolumeID   string
	InstanceID string
	Force      bool
}

func (*DetachVolume) CommandType() CommandType { return CmdDetachVolume }

// ReportVolume is a box's report about a volume: a replica box that made its copy
// (Ready) or dropped it (Gone), or the primary that plugged the volume in (Attached) or
// unplugged it (Detached). A primary's report of another epoch is ignored.
type ReportVolume struct {
	ID     string
	Node   string
	Epoch  uint64
	Event  string
	Reason string
}

func (*ReportVolume) CommandType() CommandType { return CmdReportVolume }

// ReportVolume events.
const (
	VolumeEventReady    = "ready"
	VolumeEventGone     = "gone"
	VolumeEventFailed   = "failed"
	VolumeEventAttached = "attached"
	VolumeEventDetached = "detached"
)

func init() {
	registerTable(&memdb.TableSchema{
		Name: tableVolumes,
		Indexes: map[string]*memdb.IndexSchema{
			"id":      {Name: "id", Unique: true, Indexer: &memdb.StringFieldIndex{Field: "ID"}},
			"account": {Name: "account", Indexer: &memdb.StringFieldIndex{Field: "Account"}},
		},
	}, func() any { return new(Volume) })
	registerCommand("CreateVolume", applyCreateVolume)
	registerCommand("DeleteVolume", applyDeleteVolume)
	registerCommand("AttachVolume", applyAttachVolume)
	registerCommand("DetachVolume", applyDetachVolume)
	registerCommand("ReportVolume", applyReportVolume)
}

func applyCreateVolume(tx *Txn, c *CreateVolume) (any, error) {
	v := c.Volume
	if v.ID == "" || v.Account == "" || v.Zone == "" || v.SizeGiB <= 0 {
		return nil, Errorf(CodeInvalid, "a volume needs an ID, an account, a zone and a size")
	}
	if old, err := tx.First(tableVolumes, "id", v.ID); err != nil {
		return nil, err
	} else if old != nil {
		return nil, Errorf(CodeAlreadyExists, "volume %s exists", v.ID)
	}
	if v.SnapshotID != "" {
		if err := checkVolumeSource(tx, &v); err != nil {
			return nil, err
		}
	}
	boxes, err := list[Box](tx.Txn, tableBoxes)
	if err != nil {
		return nil, err
	}
	vols, err := list[Volume](tx.Txn, tableVolumes)
	if err != nil {
		return nil, err
	}
	used := map[string]int{}
	for _, o := range vols {
		for _, n := range o.Replicas {
			used[n] += o.SizeGiB
		}
	}
	type cand struct {
		node string
		free int
	}
	var cands []cand
	for _, b := range boxes {
		if b.Zone != v.Zone || !slices.Contains(c.LiveNodes, b.Node) {
			continue
		}
		if free := b.DiskGiB - used[b.Node]; free >= v.SizeGiB {
			cands = append(cands, cand{b.Node, free})
		}
	}
	sort.SliceStable(cands, func(i, j int) bool {
		if cands[i].free != cands[j].free {
			return cands[i].free > cands[j].free
		}
		return cands[i].node < cands[j].node
	})
	if len(cands) == 0 {
		return nil, Errorf(CodeInsufficientCapacity, "There is not enough free space in %s for a volume of %d GiB.", v.Zone, v.SizeGiB)
	}
	n := max(c.Replicas, 1)
	v.Replicas = nil
	for _, cd := range cands[:min(n, len(cands))] {
		v.Replicas = append(v.Replicas, cd.node)
	}
	v.Ready, v.Primary, v.Attachment = nil, "", nil
	v.State, v.Epoch = VolumeCreating, 1
	v.CreateIndex, v.ModifyIndex = tx.Index, tx.Index
	return v.Replicas, tx.Insert(tableVolumes, &v)
}

// ownVolume finds an account's volume for a change, as a copy.
func ownVolume(tx *Txn, account, id string) (*Volume, error) {
	obj, err := tx.First(tableVolumes, "id", id)
	if err != nil {
		return nil, err
	}
	if obj == nil || obj.(*Volume).Account != account {
		return nil, Errorf(CodeNotFound, "The volume '%s' does not exist.", id)
	}
	v := *obj.(*Volume)
	v.Replicas, v.Ready, v.Stale = slices.Clone(v.Replicas), slices.Clone(v.Ready), slices.Clone(v.Stale)
	if v.Attachment != nil {
		a := *v.Attachment
		v.Attachment = &a
	}
	return &v, nil
}

func (tx *Txn) putVolume(v *Volume) error {
	v.ModifyIndex = tx.Index
	return tx.Insert(tableVolumes, v)
}

func applyDeleteVolume(tx *Txn, c *DeleteVolume) (any, error) {
	v, err := ownVolume(tx, c.Account, c.ID)
	if err != nil {
		return nil, err
	}
	switch v.State {
	case VolumeDeleting:
		return nil, nil
	case VolumeAvailable, VolumeCreating, VolumeError:
	default:
		return nil, Errorf(CodeIncorrectState, "Volume %s is currently attached to %s", v.ID, attachedTo(v))
	}
	if v.Attachment != nil {
		return nil, Errorf(CodeIncorrectState, "Volume %s is currently attached to %s", v.ID, attachedTo(v))
	}
	v.State = VolumeDeleting
	if len(v.Ready) == 0 && len(v.Replicas) == 0 {
		return nil, tx.Delete(tableVolumes, v)
	}
	return nil, tx.putVolume(v)
}

func attachedTo(v *Volume) string {
	if v.Attachment == nil {
		return "nothing"
	}
	return v.Attachment.InstanceID
}

func applyAttachVolume(tx *Txn, c *AttachVolume) (any, error) {
	v, err := ownVolume(tx, c.Account, c.VolumeID)
	if err != nil {
		return nil, err
	}
	obj, err := tx.First(tableInstances, "id", c.InstanceID)
	if err != nil {
		return nil, err
	}
	if obj == nil || obj.(*Instance).Account != c.Account {
		return nil, Errorf(CodeNotFound, "The instance ID '%s' does not exist", c.InstanceID)
	}
	in := obj.(*Instance)
	switch {
	case v.State != VolumeAvailable || v.Attachment != nil:
		return nil, Errorf(CodeIncorrectState, "vol %s is not 'available' (it is %s).", v.ID, v.State)
	case in.State != InstanceRunning && in.State != InstanceStopped:
		return nil, Errorf(CodeIncorrectInstanceState, "Instance '%s' is not 'running' or 'stopped'.", in.ID)
	case in.Zone != v.Zone:
		return nil, Errorf(CodeInvalid, "The volume '%s' is not in the same availability zone as instance '%s'", v.ID, in.ID)
	}
	vols, err := listBy[Volume](tx.Txn, tableVolumes, "account", c.Account)
	if err != nil {
		return nil, err
	}
	for _, o := range vols {
		if o.Attachment != nil && o.Attachment.InstanceID == in.ID && o.Attachment.Device == c.Device {
			return nil, Errorf(CodeInUse, "Attachment point %s is already in use", c.Device)
		}
	}
	v.Attachment = &VolumeAttachment{InstanceID: in.ID, Device: c.Device, State: AttachmentAttaching, AttachTime: c.Now}
	v.State, v.Primary, v.Epoch = VolumeInUse, in.Node, v.Epoch+1
	if err := handOverSnapshots(tx, v); err != nil {
		return nil, err
	}
	return nil, tx.putVolume(v)
}

func applyDetachVolume(tx *Txn, c *DetachVolume) (any, error) {
	v, err := ownVolume(tx, c.Account, c.VolumeID)
	if err != nil {
		return nil, err
	}
	if v.Attachment == nil || c.InstanceID != "" && v.Attachment.InstanceID != c.InstanceID {
		return nil, Errorf(CodeIncorrectState, "Volume '%s' is in the 'available' state.", v.ID)
	}
	if err := checkRootDetach(tx, v); err != nil { // blockdevices.go
		return nil, err
	}
	v.Attachment.State = AttachmentDetaching
	v.Attachment.Force = v.Attachment.Force || c.Force
	return nil, tx.putVolume(v)
}

func applyReportVolume(tx *Txn, c *ReportVolume) (any, error) {
	obj, err := tx.First(tableVolumes, "id", c.ID)
	if err != nil || obj == nil {
		return nil, err
	}
	v := *obj.(*Volume)
	v.Replicas, v.Ready, v.Stale = slices.Clone(v.Replicas), slices.Clone(v.Ready), slices.Clone(v.Stale)
	if v.Attachment != nil {
		a := *v.Attachment
		v.Attachment = &a
	}
	switch c.Event {
	case VolumeEventReady:
		if !slices.Contains(v.Replicas, c.Node) || slices.Contains(v.Ready, c.Node) || v.State == VolumeDeleting {
			return nil, nil
		}
		v.Ready = append(v.Ready, c.Node)
		if v.State == VolumeCreating && len(v.Ready) == len(v.Replicas) {
			v.State = VolumeAvailable
		}
	case VolumeEventFailed:
		if v.State == VolumeCreating {
			v.State, v.StateReason = VolumeError, c.Reason
		}
	case VolumeEventGone:
		v.Ready = slices.DeleteFunc(v.Ready, func(n string) bool { return n == c.Node })
		if v.State == VolumeDeleting {
			v.Replicas = slices.DeleteFunc(v.Replicas, func(n string) bool { return n == c.Node })
			if len(v.Replicas) == 0 {
				return nil, tx.Delete(tableVolumes, obj)
			}
		}
	case VolumeEventAttached, VolumeEventDetached:
		if v.Attachment == nil || c.Node != v.Primary || c.Epoch != v.Epoch {
			return nil, nil
		}
		if c.Event == VolumeEventAttached {
			if v.Attachment.State != AttachmentAttaching {
				return nil, nil
			}
			v.Attachment.State = AttachmentAttached
		} else {
			v.Attachment, v.Primary, v.State = nil, "", VolumeAvailable
		}
	default:
		return nil, Errorf(CodeInvalid, "unknown volume event %q", c.Event)
	}
	return nil, tx.putVolume(&v)
}

// releaseVolumes detaches the volumes of an instance that terminated, as EC2 does: they
// become available (their primary stops serving them once it sees), and those marked
// DeleteOnTermination start deleting.
func releaseVolumes(tx *Txn, instanceID string) error {
	vols, err := list[Volume](tx.Txn, tableVolumes)
	if err != nil {
		return err
	}
	for _, o := range vols {
		if o.Attachment == nil || o.Attachment.InstanceID != instanceID {
			continue
		}
		v := *o
		v.Replicas, v.Ready = slices.Clone(o.Replicas), slices.Clone(o.Ready)
		deleteToo := o.Attachment.DeleteOnTermination
		v.Attachment, v.Primary, v.State = nil, "", VolumeAvailable
		if deleteToo {
			v.State = VolumeDeleting
		}
		if err := tx.putVolume(&v); err != nil {
			return err
		}
	}
	return nil
}

// Volume returns one volume, or an error matching ErrNotFound.
func (s *Store) Volume(id string) (*Volume, error) {
	obj, err := s.ReadTxn().First(tableVolumes, "id", id)
	if err != nil {
		return nil, err
	}
	if obj == nil {
		return nil, Errorf(CodeNotFound, "The volume '%s' does not exist.", id)
	}
	return obj.(*Volume), nil
}

// Volumes lists an account's volumes ("" for every account's), and a channel closed
// when the table next changes.
func (s *Store) Volumes(account string) ([]*Volume, <-chan struct{}, error) {
	tx := s.ReadTxn()
	var it memdb.ResultIterator
	var err error
	if account == "" {
		it, err = tx.Get(tableVolumes, "id")
	} else {
		it, err = tx.Get(tableVolumes, "account", account)
	}
	if err != nil {
		return nil, nil, err
	}
	var out []*Volume
	for obj := it.Next(); obj != nil; obj = it.Next() {
		out = append(out, obj.(*Volume))
	}
	return out, it.WatchCh(), nil
}
