package state

import (
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/hashicorp/go-memdb"
)

// VolumeModification is the latest ModifyVolume of one volume, as EC2's
// DescribeVolumesModifications shows it, and what the boxes still have to do for it.
// A volume has at most one record (keyed by the volume's ID): a new modification
// replaces a completed one. Its state goes modifying (the copies are being grown) →
// optimizing (the volume has its new size and type; nothing is left to move here, so
// the first box to see it completes it) → completed.
type VolumeModification struct {
	VolumeID string
	Account  string
	// State is EC2's ModificationState: modifying, optimizing, completed (failed is
	// never recorded: a box that cannot grow its copy retries, the state says modifying).
	State         string
	StatusMessage string
	Progress      int // percent

	OriginalSizeGiB, TargetSizeGiB       int
	OriginalType, TargetType             string
	OriginalIops, TargetIops             int
	OriginalThroughput, TargetThroughput int

	StartTime time.Time
	EndTime   time.Time // zero until completed

	// Grown are the replica boxes that reported their copy at TargetSizeGiB.
	Grown []string
	// PrimaryEpoch is the epoch at which the volume's primary reported the volume it
	// serves grown (0: not yet). Only a report of the volume's current epoch counts.
	PrimaryEpoch uint64

	CreateIndex uint64
	ModifyIndex uint64
}

// EC2's modification states.
const (
	ModificationModifying  = "modifying"
	ModificationOptimizing = "optimizing"
	ModificationCompleted  = "completed"
)

const tableVolumeMods = "volume_modifications"

// Error codes of volume modifications; they are EC2's own.
const (
	// CodeIncorrectModificationState: a modification of the volume is in progress.
	CodeIncorrectModificationState Code = "IncorrectModificationState"
	// CodeVolumeModificationRateExceeded: the volume was modified less than the
	// minimum interval ago.
	CodeVolumeModificationRateExceeded Code = "VolumeModificationRateExceeded"
)

// ModifyVolume starts a modification of an account's volume to the target values, all
// of them given (the front end derives the unchanged ones and checks them against the
// type's limits). A size smaller than the volume's is refused, as is a modification while one
// is in progress or less than MinInterval after the previous one started. The volume's
// record keeps its values until every box has grown its part (see VolumeModification).
type ModifyVolume struct {
	Account          string
	VolumeID         string
	TargetSizeGiB    int
	TargetType       string
	TargetIops       int
	TargetThroughput int
	Now              time.Time
	MinInterval      time.Duration
}

func (*ModifyVolume) CommandType() CommandType { return CmdModifyVolume }

// ReportVolumeModification is a box's report on a volume's modification: a replica box
// grew its copy (Grown), the primary grew the volume it serves at Epoch (Primary), or a
// box saw it optimizing (Optimized). Reports of a box that has no part in it are ignored.
type ReportVolumeModification struct {
	VolumeID string
	Node     string
	Epoch    uint64
	Event    string
	Now      time.Time
	// Message, with Primary: the new size reaches the guest only at its next start.
	Message string
}

func (*ReportVolumeModification) CommandType() CommandType { return CmdReportVolumeModification }

// ReportVolumeModification events.
const (
	ModEventGrown     = "grown"
	ModEventPrimary   = "primary"
	ModEventOptimized = "optimized"
)

// SetVolumeAttribute changes an account's volume's autoEnableIO attribute.
type SetVolumeAttribute struct {
	Account      string
	VolumeID     string
	AutoEnableIO bool
}

func (*SetVolumeAttribute) CommandType() CommandType { return CmdSetVolumeAttribute }

func init() {
	registerTable(&memdb.TableSchema{
		Name: tableVolumeMods,
		Indexes: map[string]*memdb.IndexSchema{
			"id":      {Name: "id", Unique: true, Indexer: &memdb.StringFieldIndex{Field: "VolumeID"}},
			"account": {Name: "account", Indexer: &memdb.StringFieldIndex{Field: "Account"}},
		},
	}, func() any { return new(VolumeModification) })
	registerCommand("ModifyVolume", applyModifyVolume)
	registerCommand("ReportVolumeModification", applyReportVolumeModification)
	registerCommand("SetVolumeAttribute", applySetVolumeAttribute)
}

func getVolumeMod(tx *Txn, id string) (*VolumeModification, error) {
	obj, err := tx.First(tableVolumeMods, "id", id)
	if err != nil || obj == nil {
		return nil, err
	}
	m := *obj.(*VolumeModification)
	m.Grown = slices.Clone(m.Grown)
	return &m, nil
}

func (tx *Txn) putVolumeMod(m *VolumeModification) error {
	m.ModifyIndex = tx.Index
	return tx.Insert(tableVolumeMods, m)
}

func applyModifyVolume(tx *Txn, c *ModifyVolume) (any, error) {
	v, err := ownVolume(tx, c.Account, c.VolumeID)
	if err != nil {
		return nil, err
	}
	if v.State != VolumeAvailable && v.State != VolumeInUse {
		return nil, Errorf(CodeIncorrectState, "The volume '%s' is '%s'; only an available or in-use volume can be modified.", v.ID, v.State)
	}
	prev, err := getVolumeMod(tx, v.ID)
	if err != nil {
		return nil, err
	}
	if prev != nil && prev.State != ModificationCompleted {
		return nil, Errorf(CodeIncorrectModificationState, "Volume '%s' cannot be modified in modification state '%s'.", v.ID, prev.State)
	}
	if prev != nil && c.MinInterval > 0 && c.Now.Before(prev.StartTime.Add(c.MinInterval)) {
		return nil, Errorf(CodeVolumeModificationRateExceeded,
			"You've reached the maximum modification rate per volume limit. Wait at least %s between modifications per EBS volume.", humanInterval(c.MinInterval))
	}
	m := &VolumeModification{VolumeID: v.ID, Account: v.Account, State: ModificationModifying, StartTime: c.Now,
		OriginalSizeGiB: v.SizeGiB, OriginalType: v.VolumeType, OriginalIops: v.Iops, OriginalThroughput: v.Throughput,
		TargetSizeGiB: v.SizeGiB, TargetType: v.VolumeType, TargetIops: v.Iops, TargetThroughput: v.Throughput,
		CreateIndex: tx.Index}
	if c.TargetSizeGiB < v.SizeGiB {
		return nil, Errorf(CodeInvalid, "New size cannot be smaller than existing size (%d GiB).", v.SizeGiB)
	}
	if c.TargetType == "" {
		return nil, Errorf(CodeInvalid, "a volume modification needs its target type")
	}
	m.TargetSizeGiB, m.TargetType, m.TargetIops, m.TargetThroughput = c.TargetSizeGiB, c.TargetType, c.TargetIops, c.TargetThroughput
	if m.TargetSizeGiB == m.OriginalSizeGiB && m.TargetType == m.OriginalType && m.TargetIops == m.OriginalIops && m.TargetThroughput == m.OriginalThroughput {
		return nil, Errorf(CodeInvalid, "The modification you requested does not change volume '%s': it is already %d GiB %s.", v.ID, v.SizeGiB, v.VolumeType)
	}
	if grow := m.TargetSizeGiB - m.OriginalSizeGiB; grow > 0 {
		if err := checkGrowRoom(tx, v, grow); err != nil {
			return nil, err
		}
	}
	settleVolumeMod(m, v)
	if err := tx.putVolumeMod(m); err != nil {
		return nil, err
	}
	// The volume is stored too: it has its targets if nothing was to grow, and its
	// controllers, watching the volumes table, wake up either way.
	return m, tx.putVolume(v)
}

// humanInterval writes an interval as EC2's message does ("6 hours").
func humanInterval(d time.Duration) string {
	switch {
	case d == time.Hour:
		return "1 hour"
	case d%time.Hour == 0:
		return fmt.Sprintf("%d hours", d/time.Hour)
	}
	return d.String()
}

// checkGrowRoom refuses a growth that a replica box has no room for (by the sizes of
// the volumes it holds, as CreateVolume places them).
func checkGrowRoom(tx *Txn, v *Volume, grow int) error {
	boxes, err := list[Box](tx.Txn, tableBoxes)
	if err != nil {
		return err
	}
	vols, err := list[Volume](tx.Txn, tableVolumes)
	if err != nil {
		return err
	}
	used := map[string]int{}
	for _, o := range vols {
		for _, n := range o.Replicas {
			used[n] += o.SizeGiB
		}
	}
	for _, b := range boxes {
		if slices.Contains(v.Replicas, b.Node) && b.DiskGiB-used[b.Node] < grow {
			return Errorf(CodeInsufficientCapacity, "There is not enough free space on the boxes holding %s to grow it by %d GiB.", v.ID, grow)
		}
	}
	return nil
}

// settleVolumeMod moves a modifying record on as far as the boxes' reports allow: to
// optimizing (applying the targets to the volume, v) once every part is grown. It
// changes m and v; the caller stores them.
func settleVolumeMod(m *VolumeModification, v *Volume) {
	if m.State != ModificationModifying {
		return
	}
	attached := v.Attachment != nil && v.Primary != ""
	done, parts := 0, 0
	if m.TargetSizeGiB > m.OriginalSizeGiB {
		for _, n := range v.Replicas {
			parts++
			if slices.Contains(m.Grown, n) {
				done++
			}
		}
		if attached {
			parts++
			if m.PrimaryEpoch == v.Epoch {
				done++
			}
		}
	}
	// Attached: the primary grows every copy in sync (and resyncs the others at the
	// new size), so its report is enough. Detached: every copy must be grown.
	finished := parts == 0 || (attached && m.PrimaryEpoch == v.Epoch) || (!attached && done == parts)
	if !finished {
		m.Progress = 90 * done / parts
		return
	}
	m.State, m.Progress = ModificationOptimizing, 90
	v.SizeGiB, v.VolumeType, v.Iops, v.Throughput = m.TargetSizeGiB, m.TargetType, m.TargetIops, m.TargetThroughput
}

func applyReportVolumeModification(tx *Txn, c *ReportVolumeModification) (any, error) {
	m, err := getVolumeMod(tx, c.VolumeID)
	if err != nil || m == nil {
		return nil, err
	}
	obj, err := tx.First(tableVolumes, "id", c.VolumeID)
	if err != nil || obj == nil {
		return nil, err
	}
	v, err := ownVolume(tx, obj.(*Volume).Account, c.VolumeID)
	if err != nil {
		return nil, err
	}
	before := v.SizeGiB
	switch c.Event {
	case ModEventGrown:
		if m.State != ModificationModifying || !slices.Contains(v.Replicas, c.Node) {
			return nil, nil
		}
		if !slices.Contains(m.Grown, c.Node) {
			m.Grown = append(m.Grown, c.Node)
			sort.Strings(m.Grown)
		}
	case ModEventPrimary:
		if m.State != ModificationModifying || c.Node != v.Primary || c.Epoch != v.Epoch {
			return nil, nil
		}
		m.PrimaryEpoch, m.StatusMessage = c.Epoch, c.Message
	case ModEventOptimized:
		if m.State != ModificationOptimizing || (c.Node != v.Primary && !slices.Contains(v.Replicas, c.Node)) {
			return nil, nil
		}
		m.State, m.Progress, m.EndTime = ModificationCompleted, 100, c.Now
		return nil, tx.putVolumeMod(m)
	default:
		return nil, Errorf(CodeInvalid, "unknown volume modification event %q", c.Event)
	}
	settleVolumeMod(m, v)
	if err := tx.putVolumeMod(m); err != nil {
		return nil, err
	}
	if m.State == ModificationOptimizing || v.SizeGiB != before {
		return nil, tx.putVolume(v)
	}
	return nil, nil
}

func applySetVolumeAttribute(tx *Txn, c *SetVolumeAttribute) (any, error) {
	v, err := ownVolume(tx, c.Account, c.VolumeID)
	if err != nil {
		return nil, err
	}
	if v.AutoEnableIO == c.AutoEnableIO {
		return nil, nil
	}
	v.AutoEnableIO = c.AutoEnableIO
	return nil, tx.putVolume(v)
}

// VolumeModification returns the latest modification of a volume, or an error matching
// ErrNotFound if it was never modified.
func (s *Store) VolumeModification(volumeID string) (*VolumeModification, error) {
	obj, err := s.ReadTxn().First(tableVolumeMods, "id", volumeID)
	if err != nil {
		return nil, err
	}
	if obj == nil {
		return nil, Errorf(CodeNotFound, "Modification for volume '%s' does not exist.", volumeID)
	}
	return obj.(*VolumeModification), nil
}

// VolumeModifications lists the latest modification of each of an account's volumes
// ("" for every account's).
func (s *Store) VolumeModifications(account string) ([]*VolumeModification, error) {
	tx := s.ReadTxn()
	if account == "" {
		return list[VolumeModification](tx, tableVolumeMods)
	}
	return listBy[VolumeModification](tx, tableVolumeMods, "account", account)
}
