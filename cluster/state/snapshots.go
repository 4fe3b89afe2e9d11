package state

import (
	"maps"
	"slices"
	"sort"
	"time"

	"github.com/hashicorp/go-memdb"
)

// Snapshot is one EBS snapshot's record. Its blocks never go through Raft: they are
// objects in the object store's snapshot bucket, listed by a manifest object (Manifest)
// that the box taking the snapshot writes last. Node is the box working on it now: the
// one taking it (the volume's primary, or a replica box when the volume is detached), or
// the one deleting its objects. Attempt grows whenever the work is handed to another box
// (an attach moves a snapshot of a detached volume to the new primary); reports of an
// older attempt are ignored, so a box that was cut off cannot complete it.
type Snapshot struct {
	ID            string
	Account       string
	VolumeID      string
	VolumeSizeGiB int
	Description   string
	StartTime     time.Time
	Tags          map[string]string

	// State is EC2's snapshot state (pending, completed, error) or, internally, deleting:
	// a deleting snapshot is no longer shown; its record goes once its objects are gone.
	State        string
	StateMessage string
	Progress     int // percent
	Node         string
	Attempt      uint64
	// Parent is the snapshot whose extents this one may share: the volume's previous
	// completed snapshot (incremental; for a volume made from a snapshot with none of
	// its own yet, that snapshot), or the source of a copy.
	Parent string
	// CopyOf is set for CopySnapshot: the manifest is the source's, re-recorded.
	CopyOf   string
	Manifest string // object key of the manifest, once completed
	// What the snapshot took: the volume's extents, how many it uploaded, how many it
	// shares with Parent, how many are all zeros (not stored), and bytes uploaded.
	Extents     int64
	Uploaded    int64
	Reused      int64
	Zero        int64
	StoredBytes int64
	// CreateVolumePermissions are the accounts besides the owner that may create
	// volumes from it; "all" makes it public.
	CreateVolumePermissions []string

	CreateIndex uint64
	ModifyIndex uint64
}

// Snapshot states.
const (
	SnapshotPending   = "pending"
	SnapshotCompleted = "completed"
	SnapshotError     = "error"
	SnapshotDeleting  = "deleting"
)

const tableSnapshots = "snapshots"

// CreateSnapshot records a pending snapshot of an account's volume (or, with CopyOf, a
// copy of a completed snapshot the account may use) and picks the box that takes it:
// the volume's primary when attached, else the first live box holding a ready copy.
type CreateSnapshot struct {
	Snapshot  Snapshot
	LiveNodes []string
}

func (*CreateSnapshot) CommandType() CommandType { return CmdCreateSnapshot }

// ReportSnapshot is the working box's report: progress, completion (with the manifest
// and counters), failure, or (Gone) that a deleting snapshot's objects are gone.
type ReportSnapshot struct {
	ID          string
	Node        string
	Attempt     uint64
	Progress    int
	State       string // "" keeps the state
	Message     string
	Manifest    string
	Extents     int64
	Uploaded    int64
	Reused      int64
	Zero        int64
	StoredBytes int64
	Gone        bool
}

func (*ReportSnapshot) CommandType() CommandType { return CmdReportSnapshot }

// DeleteSnapshot starts deleting an account's snapshot: a live box (the one working on
// it if live) deletes the objects no other snapshot shares, then reports it gone.
type DeleteSnapshot struct {
	Account   string
	ID        string
	LiveNodes []string
}

func (*DeleteSnapshot) CommandType() CommandType { return CmdDeleteSnapshot }

// SetSnapshotAttribute changes who may create volumes from a snapshot (Add and Remove
// account IDs or "all"; Reset clears them) and, when set, its description.
type SetSnapshotAttribute struct {
	Account string
	ID      string
	Add     []string
	Remove  []string
	Reset   bool
}

func (*SetSnapshotAttribute) CommandType() CommandType { return CmdSetSnapshotAttribute }

// ReportVolumeFilled says a volume created from a snapshot holds every extent of it
// now (its primary's background fill finished), so the snapshot's objects are no longer
// needed by it.
type ReportVolumeFilled struct {
	VolumeID string
	Node     string
	Epoch    uint64
}

func (*ReportVolumeFilled) CommandType() CommandType { return CmdReportVolumeFilled }

func init() {
	registerTable(&memdb.TableSchema{
		Name: tableSnapshots,
		Indexes: map[string]*memdb.IndexSchema{
			"id":      {Name: "id", Unique: true, Indexer: &memdb.StringFieldIndex{Field: "ID"}},
			"account": {Name: "account", Indexer: &memdb.StringFieldIndex{Field: "Account"}},
		},
	}, func() any { return new(Snapshot) })
	registerCommand("CreateSnapshot", applyCreateSnapshot)
	registerCommand("ReportSnapshot", applyReportSnapshot)
	registerCommand("DeleteSnapshot", applyDeleteSnapshot)
	registerCommand("SetSnapshotAttribute", applySetSnapshotAttribute)
	registerCommand("ReportVolumeFilled", applyReportVolumeFilled)
}

func copySnapshot(s *Snapshot) *Snapshot {
	c := *s
	c.Tags = maps.Clone(s.Tags)
	c.CreateVolumePermissions = slices.Clone(s.CreateVolumePermissions)
	return &c
}

func (tx *Txn) putSnapshot(s *Snapshot) error {
	s.ModifyIndex = tx.Index
	return tx.Insert(tableSnapshots, s)
}

// MayCreateVolume reports whether account may create volumes from (or copy) s.
func (s *Snapshot) MayCreateVolume(account string) bool {
	return s.Account == account || slices.Contains(s.CreateVolumePermissions, account) || slices.Contains(s.CreateVolumePermissions, "all")
}

func applyCreateSnapshot(tx *Txn, c *CreateSnapshot) (any, error) {
	s := c.Snapshot
	if s.ID == "" || s.Account == "" {
		return nil, Errorf(CodeInvalid, "a snapshot needs an ID and an account")
	}
	if old, err := tx.First(tableSnapshots, "id", s.ID); err != nil {
		return nil, err
	} else if old != nil {
		return nil, Errorf(CodeAlreadyExists, "snapshot %s exists", s.ID)
	}
	s.State, s.Progress, s.Attempt, s.Manifest = SnapshotPending, 0, 1, ""
	s.Uploaded, s.Reused, s.Zero, s.StoredBytes = 0, 0, 0, 0
	s.CreateVolumePermissions = nil
	if s.CopyOf != "" {
		obj, err := tx.First(tableSnapshots, "id", s.CopyOf)
		if err != nil {
			return nil, err
		}
		if obj == nil || obj.(*Snapshot).State == SnapshotDeleting || !obj.(*Snapshot).MayCreateVolume(s.Account) {
			return nil, Errorf(CodeNotFound, "The snapshot '%s' does not exist.", s.CopyOf)
		}
		src := obj.(*Snapshot)
		if src.State != SnapshotCompleted {
			return nil, Errorf(CodeIncorrectState, "Snapshot '%s' is not 'completed'; it is %s.", src.ID, src.State)
		}
		s.VolumeID, s.VolumeSizeGiB, s.Parent, s.Extents = src.VolumeID, src.VolumeSizeGiB, src.ID, src.Extents
		s.Node = firstLiveBox(tx, c.LiveNodes, src.Node)
		if s.Node == "" {
			return nil, Errorf(CodeInsufficientCapacity, "No box is up to copy snapshot %s.", src.ID)
		}
	} else {
		v, err := ownVolume(tx, s.Account, s.VolumeID)
		if err != nil {
			return nil, err
		}
		if v.State != VolumeAvailable && v.State != VolumeInUse {
			return nil, Errorf(CodeIncorrectState, "The volume '%s' is '%s'; a snapshot needs it available or in-use.", v.ID, v.State)
		}
		s.VolumeSizeGiB = v.SizeGiB
		s.Node = snapshotTaker(v, c.LiveNodes)
		if s.Node == "" {
			return nil, Errorf(CodeIncorrectState, "No box holding a copy of volume '%s' is up.", v.ID)
		}
		// The parent: the volume's latest completed snapshot.
		snaps, err := listBy[Snapshot](tx.Txn, tableSnapshots, "account", s.Account)
		if err != nil {
			return nil, err
		}
		var best *Snapshot
		for _, o := range snaps {
			if o.VolumeID == v.ID && o.CopyOf == "" && o.State == SnapshotCompleted && (best == nil || o.CreateIndex > best.CreateIndex) {
				best = o
			}
		}
		if best != nil {
			s.Parent = best.ID
		} else if v.SnapshotID != "" {
			// As EBS does: the first snapshot of a volume made from a snapshot is
			// incremental to that snapshot.
			if src, err := tx.First(tableSnapshots, "id", v.SnapshotID); err == nil && src != nil && src.(*Snapshot).State == SnapshotCompleted {
				s.Parent = v.SnapshotID
			}
		}
	}
	s.CreateIndex = tx.Index
	return s.Node, tx.putSnapshot(&s)
}

// snapshotTaker is the box that takes a snapshot of v: its primary, else the first live
// box with a ready copy.
func snapshotTaker(v *Volume, live []string) string {
	if v.Primary != "" && v.Attachment != nil && v.Attachment.State != AttachmentDetaching {
		return v.Primary
	}
	for _, n := range v.Ready {
		if slices.Contains(live, n) {
			return n
		}
	}
	return ""
}

// firstLiveBox picks a live box that reports to the compute agent (it runs the snapshot
// agent), preferring prefer.
func firstLiveBox(tx *Txn, live []string, prefer string) string {
	boxes, err := list[Box](tx.Txn, tableBoxes)
	if err != nil {
		return ""
	}
	var names []string
	for _, b := range boxes {
		if slices.Contains(live, b.Node) {
			names = append(names, b.Node)
		}
	}
	if slices.Contains(names, prefer) {
		return prefer
	}
	sort.Strings(names)
	if len(names) == 0 {
		return ""
	}
	return names[0]
}

// handOverSnapshots moves the pending snapshots of a volume to its new primary, as a
// new attempt: from now on only the primary sees every write, so only it can freeze a
// consistent view (it does so before the guest can write). Called by AttachVolume.
func handOverSnapshots(tx *Txn, v *Volume) error {
	snaps, err := listBy[Snapshot](tx.Txn, tableSnapshots, "account", v.Account)
	if err != nil {
		return err
	}
	for _, o := range snaps {
		if o.VolumeID != v.ID || o.CopyOf != "" || o.State != SnapshotPending {
			continue
		}
		s := copySnapshot(o)
		s.Node, s.Attempt, s.Progress = v.Primary, s.Attempt+1, 0
		if err := tx.putSnapshot(s); err != nil {
			return err
		}
	}
	return nil
}

func applyReportSnapshot(tx *Txn, c *ReportSnapshot) (any, error) {
	obj, err := tx.First(tableSnapshots, "id", c.ID)
	if err != nil || obj == nil {
		return nil, err
	}
	s := copySnapshot(obj.(*Snapshot))
	if c.Node != s.Node || c.Attempt != s.Attempt {
		return nil, nil
	}
	if c.Gone {
		if s.State != SnapshotDeleting {
			return nil, Errorf(CodeInvalid, "snapshot %s is not being deleted", s.ID)
		}
		return nil, tx.Delete(tableSnapshots, obj)
	}
	if s.State != SnapshotPending {
		return nil, nil
	}
	s.Progress = min(max(c.Progress, s.Progress), 100)
	switch c.State {
	case "":
	case SnapshotCompleted:
		if c.Manifest == "" {
			return nil, Errorf(CodeInvalid, "a completed snapshot needs its manifest")
		}
		s.State, s.Progress, s.Manifest = SnapshotCompleted, 100, c.Manifest
		s.Extents, s.Uploaded, s.Reused, s.Zero, s.StoredBytes = c.Extents, c.Uploaded, c.Reused, c.Zero, c.StoredBytes
	case SnapshotError:
		s.State, s.StateMessage = SnapshotError, c.Message
	default:
		return nil, Errorf(CodeInvalid, "unknown snapshot state %q", c.State)
	}
	if err := tx.putSnapshot(s); err != nil {
		return nil, err
	}
	return nil, settleImages(tx, s)
}

func ownSnapshot(tx *Txn, account, id string) (*Snapshot, error) {
	obj, err := tx.First(tableSnapshots, "id", id)
	if err != nil {
		return nil, err
	}
	if obj == nil || obj.(*Snapshot).Account != account || obj.(*Snapshot).State == SnapshotDeleting {
		return nil, Errorf(CodeNotFound, "The snapshot '%s' does not exist.", id)
	}
	return copySnapshot(obj.(*Snapshot)), nil
}

func applyDeleteSnapshot(tx *Txn, c *DeleteSnapshot) (any, error) {
	s, err := ownSnapshot(tx, c.Account, c.ID)
	if err != nil {
		return nil, err
	}
	if err := snapshotInUse(tx, s.ID); err != nil {
		return nil, err
	}
	node := firstLiveBox(tx, c.LiveNodes, s.Node)
	if node == "" {
		return nil, Errorf(CodeInsufficientCapacity, "No box is up to delete snapshot %s.", s.ID)
	}
	s.State, s.Node, s.Attempt = SnapshotDeleting, node, s.Attempt+1
	return nil, tx.putSnapshot(s)
}

func applySetSnapshotAttribute(tx *Txn, c *SetSnapshotAttribute) (any, error) {
	s, err := ownSnapshot(tx, c.Account, c.ID)
	if err != nil {
		return nil, err
	}
	if c.Reset {
		s.CreateVolumePermissions = nil
	}
	for _, a := range c.Add {
		if !slices.Contains(s.CreateVolumePermissions, a) {
			s.CreateVolumePermissions = append(s.CreateVolumePermissions, a)
		}
	}
	s.CreateVolumePermissions = slices.DeleteFunc(s.CreateVolumePermissions, func(a string) bool { return slices.Contains(c.Remove, a) })
	sort.Strings(s.CreateVolumePermissions)
	return nil, tx.putSnapshot(s)
}

// checkVolumeSource checks, in CreateVolume, that the account may create the volume from
// its snapshot, that the snapshot is complete and that the volume is large enough.
func checkVolumeSource(tx *Txn, v *Volume) error {
	obj, err := tx.First(tableSnapshots, "id", v.SnapshotID)
	if err != nil {
		return err
	}
	if obj == nil || obj.(*Snapshot).State == SnapshotDeleting || !obj.(*Snapshot).MayCreateVolume(v.Account) {
		return Errorf(CodeNotFound, "The snapshot '%s' does not exist.", v.SnapshotID)
	}
	s := obj.(*Snapshot)
	switch {
	case s.State != SnapshotCompleted:
		return Errorf(CodeIncorrectState, "Snapshot '%s' is not 'completed'; it is %s.", s.ID, s.State)
	case v.SizeGiB < s.VolumeSizeGiB:
		return Errorf(CodeInvalid, "Volume of %dGiB is smaller than snapshot '%s', expect size >= %dGiB", v.SizeGiB, s.ID, s.VolumeSizeGiB)
	}
	return nil
}

func applyReportVolumeFilled(tx *Txn, c *ReportVolumeFilled) (any, error) {
	obj, err := tx.First(tableVolumes, "id", c.VolumeID)
	if err != nil || obj == nil {
		return nil, err
	}
	v := *obj.(*Volume)
	if v.Filled || v.Primary != c.Node || v.Epoch != c.Epoch {
		return nil, nil
	}
	v.Filled = true
	return nil, tx.putVolume(&v)
}

// SnapshotNeeded reports whether the objects of snapshot id must stay: a pending
// snapshot shares its extents, or a volume created from it has not got all of them yet.
func (s *Store) SnapshotNeeded(id string) (bool, string, error) {
	tx := s.ReadTxn()
	snaps, err := list[Snapshot](tx, tableSnapshots)
	if err != nil {
		return false, "", err
	}
	for _, o := range snaps {
		if o.Parent == id && o.State == SnapshotPending {
			return true, "snapshot " + o.ID + " is being taken from it", nil
		}
	}
	vols, err := list[Volume](tx, tableVolumes)
	if err != nil {
		return false, "", err
	}
	for _, v := range vols {
		if v.SnapshotID == id && !v.Filled && v.State != VolumeDeleting {
			return true, "volume " + v.ID + " still reads from it", nil
		}
	}
	return false, "", nil
}

// Snapshot returns one snapshot (deleting ones included), or an error matching
// ErrNotFound.
func (s *Store) Snapshot(id string) (*Snapshot, error) {
	obj, err := s.ReadTxn().First(tableSnapshots, "id", id)
	if err != nil {
		return nil, err
	}
	if obj == nil {
		return nil, Errorf(CodeNotFound, "The snapshot '%s' does not exist.", id)
	}
	return obj.(*Snapshot), nil
}

// Snapshots lists every snapshot (deleting ones included), and a channel closed when the
// table next changes.
func (s *Store) Snapshots() ([]*Snapshot, <-chan struct{}, error) {
	it, err := s.ReadTxn().Get(tableSnapshots, "id")
	if err != nil {
		return nil, nil, err
	}
	var out []*Snapshot
	for obj := it.Next(); obj != nil; obj = it.Next() {
		out = append(out, obj.(*Snapshot))
	}
	return out, it.WatchCh(), nil
}
