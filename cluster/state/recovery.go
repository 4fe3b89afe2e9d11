package state

import (
	"fmt"
	"slices"
	"time"
)

// Instances that outlive their box. When the cluster declares a box dead, the leader
// moves each EBS-backed instance placed on it to another box of its zone
// (RecoverInstance): same instance ID, private address, MAC and volumes. Every volume
// attached to it gets the new box as its primary under a new epoch, so the copies refuse
// the old box's writes from the moment the new primary has claimed them, even if the old
// VM still runs; the old box's agent removes that VM when it sees the instance placed
// elsewhere. Nothing of an instance-store instance survives its box, so those stay.
//
// The primary of a volume reports every copy that goes out of sync, and every one that
// comes back, through Raft (ReportVolumeCopy) before it acknowledges the write that put
// it out, so the record always names the copies that may lack acknowledged writes
// (Volume.Stale), and a primary cut off from the majority cannot acknowledge a write that
// only its own copy holds.

// SettingRecoveryAfter is how long a box must have been down before its instances are
// recovered on other boxes (a Go duration; default 30s, "off" never). It is longer than
// gossip's verdict (a few seconds) so that a box that restarts or whose cable is plugged
// back at once keeps its instances.
const SettingRecoveryAfter = "compute.recovery_after"

// DefaultRecoveryAfter is SettingRecoveryAfter's default.
const DefaultRecoveryAfter = 30 * time.Second

// RecoveryAfter is the setting's value: ok false means recovery is off.
func (s *Store) RecoveryAfter() (d time.Duration, ok bool) {
	set, err := s.Setting(SettingRecoveryAfter)
	if err != nil {
		return DefaultRecoveryAfter, true
	}
	return parseRecoveryAfter(set.Value)
}

func parseRecoveryAfter(v string) (time.Duration, bool) {
	if v == "off" {
		return 0, false
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return DefaultRecoveryAfter, true
	}
	return d, true
}

// InstanceRecovery is the last time an instance was moved off a failed box.
type InstanceRecovery struct {
	From, To string
	At       time.Time
}

// RecoverInstance moves an EBS-backed instance off the box From, which the leader has
// seen down for the recovery delay. It changes nothing when the instance is no longer on
// From (moved already, or the box came back and the command is a stale retry).
// LiveNodes is the leader's view of the boxes that are up; the new box is one of them,
// in the instance's zone, with room.
type RecoverInstance struct {
	ID        string
	From      string
	LiveNodes []string
	Now       time.Time
}

func (*RecoverInstance) CommandType() CommandType { return CmdRecoverInstance }

// ReportVolumeCopy is a primary's report that one copy of its volume went out of sync
// (InSync false: it lacks writes from now on) or is back in sync. It is refused unless
// Node is the volume's primary at Epoch, so a primary that was replaced can report
// nothing, and so acknowledge nothing that needs a report.
type ReportVolumeCopy struct {
	ID     string
	Node   string
	Epoch  uint64
	Copy   string
	InSync bool
}

func (*ReportVolumeCopy) CommandType() CommandType { return CmdReportVolumeCopy }

// Commands of this file.
const (
	CmdRecoverInstance  CommandType = 70
	CmdReportVolumeCopy CommandType = 71
)

// CodeStaleEpoch: the reporting box is not (or no longer) the volume's primary at the
// epoch it named.
const CodeStaleEpoch Code = "StaleEpoch"

func init() {
	registerCommand("RecoverInstance", applyRecoverInstance)
	registerCommand("ReportVolumeCopy", applyReportVolumeCopy)
}

func applyRecoverInstance(tx *Txn, c *RecoverInstance) (any, error) {
	obj, err := tx.First(tableInstances, "id", c.ID)
	if err != nil {
		return nil, err
	}
	if obj == nil {
		return nil, Errorf(CodeNotFound, "The instance ID '%s' does not exist", c.ID)
	}
	in := *obj.(*Instance)
	if in.Node != c.From {
		return nil, nil
	}
	if typ, _ := in.RootDevice(); typ != RootDeviceEBS {
		return nil, Errorf(CodeIncorrectState, "instance %s keeps its root disk on box %s (instance-store): it cannot be recovered elsewhere", in.ID, c.From)
	}
	switch in.State {
	case InstanceTerminated, InstanceShuttingDown:
		return nil, Errorf(CodeIncorrectState, "instance %s is %s", in.ID, in.State)
	}
	live := slices.DeleteFunc(slices.Clone(c.LiveNodes), func(n string) bool { return n == c.From })
	if len(live) == 0 {
		return nil, Errorf(CodeInsufficientCapacity, "no live box to recover instance %s on", in.ID)
	}
	sched, err := newScheduler(tx, live)
	if err != nil {
		return nil, err
	}
	box, err := sched.place(&in)
	if err != nil {
		return nil, err
	}
	vols, err := instanceVolumes(tx, in.Account, in.ID)
	if err != nil {
		return nil, err
	}
	for _, old := range vols {
		if old.Attachment.State == AttachmentDetaching {
			continue // the old box cannot unplug it; the detach completes below
		}
		v := *old
		v.Replicas, v.Ready, v.Stale = slices.Clone(v.Replicas), slices.Clone(v.Ready), slices.Clone(v.Stale)
		a := *v.Attachment
		v.Attachment = &a
		v.Primary, v.Epoch = box.Node, v.Epoch+1
		v.Attachment.State = AttachmentAttaching
		// The old box's copy may take writes of the old primary still running there (its
		// own copy is the one the new epoch cannot reach): it is verified whole when it
		// returns.
		if slices.Contains(v.Replicas, c.From) && !slices.Contains(v.Stale, c.From) {
			v.Stale = append(v.Stale, c.From)
		}
		if err := handOverSnapshots(tx, &v); err != nil {
			return nil, err
		}
		if err := tx.putVolume(&v); err != nil {
			return nil, err
		}
	}
	// A volume being detached from the instance on the dead box is detached now: no box
	// holds it plugged in any more.
	for _, old := range vols {
		if old.Attachment.State != AttachmentDetaching {
			continue
		}
		v := *old
		v.Attachment, v.Primary, v.State = nil, "", VolumeAvailable
		if err := tx.putVolume(&v); err != nil {
			return nil, err
		}
	}
	in.Node = box.Node
	in.Generation++
	switch in.Desired {
	case InstanceRunning:
		in.State, in.StateChange = InstancePending, c.Now
	case InstanceStopped:
		if in.State != InstanceStopped {
			in.State, in.StateChange = InstanceStopped, c.Now // the dead box stopped it for good
		}
	}
	in.StateReason = ""
	in.TransitionReason = fmt.Sprintf("Instance recovered on box %s: box %s stopped answering (%s)", box.Node, c.From, c.Now.UTC().Format("2006-01-02 15:04:05 MST"))
	in.Recovery = &InstanceRecovery{From: c.From, To: box.Node, At: c.Now}
	in.ModifyIndex = tx.Index
	return nil, tx.Insert(tableInstances, &in)
}

func applyReportVolumeCopy(tx *Txn, c *ReportVolumeCopy) (any, error) {
	obj, err := tx.First(tableVolumes, "id", c.ID)
	if err != nil {
		return nil, err
	}
	if obj == nil {
		return nil, Errorf(CodeNotFound, "The volume '%s' does not exist.", c.ID)
	}
	v := *obj.(*Volume)
	if v.Primary != c.Node || v.Epoch != c.Epoch {
		return nil, Errorf(CodeStaleEpoch, "box %s at epoch %d is not the primary of %s (%s at epoch %d)", c.Node, c.Epoch, v.ID, v.Primary, v.Epoch)
	}
	if !slices.Contains(v.Replicas, c.Copy) {
		if !c.InSync {
			// A copy the volume no longer has (rebuilt elsewhere, rebuild.go) lacking
			// writes is nothing to record: its writes are acknowledged without it.
			return nil, nil
		}
		return nil, Errorf(CodeInvalid, "box %s holds no copy of %s", c.Copy, v.ID)
	}
	if slices.Contains(v.Stale, c.Copy) != c.InSync {
		return nil, nil // already recorded
	}
	v.Stale = slices.Clone(v.Stale)
	if c.InSync {
		v.Stale = slices.DeleteFunc(v.Stale, func(n string) bool { return n == c.Copy })
	} else {
		v.Stale = append(v.Stale, c.Copy)
		slices.Sort(v.Stale)
	}
	releaseResyncOwner(&v) // rebuild.go
	return nil, tx.putVolume(&v)
}
