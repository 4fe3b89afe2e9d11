package state

import "slices"

// Snapshots whose box died. A pending snapshot, a copy or a deletion is worked on by one
// box (Snapshot.Node); when the leader has seen that box down for the setting
// compute.recovery_after, it hands the work to another live box as a new attempt
// (TakeOverSnapshot), so the lost box's reports, should it return, are ignored. A
// snapshot of a detached volume goes to a live box holding a ready copy, one of an attached
// volume waits for its primary (instance recovery hands it over with the volume), a copy
// or a deletion goes to any live box.

// CmdTakeOverSnapshot is TakeOverSnapshot's command type.
const CmdTakeOverSnapshot CommandType = 73

// TakeOverSnapshot gives the work on snapshot ID from box From (down) to a live box. It
// answers the new box; it is a no-op when From no longer works on it (a stale retry) or
// the snapshot is no longer pending or deleting.
type TakeOverSnapshot struct {
	ID        string
	From      string
	LiveNodes []string
}

func (*TakeOverSnapshot) CommandType() CommandType { return CmdTakeOverSnapshot }

func init() {
	registerCommand("TakeOverSnapshot", applyTakeOverSnapshot)
}

func applyTakeOverSnapshot(tx *Txn, c *TakeOverSnapshot) (any, error) {
	obj, err := tx.First(tableSnapshots, "id", c.ID)
	if err != nil {
		return nil, err
	}
	if obj == nil {
		return nil, Errorf(CodeNotFound, "The snapshot '%s' does not exist.", c.ID)
	}
	s := copySnapshot(obj.(*Snapshot))
	if s.Node != c.From || (s.State != SnapshotPending && s.State != SnapshotDeleting) {
		return "", nil
	}
	live := slices.DeleteFunc(slices.Clone(c.LiveNodes), func(n string) bool { return n == c.From })
	var to string
	switch {
	case s.State == SnapshotDeleting || s.CopyOf != "":
		to = firstLiveBox(tx, live, "")
	default:
		vobj, err := tx.First(tableVolumes, "id", s.VolumeID)
		if err != nil {
			return nil, err
		}
		if vobj == nil {
			return nil, Errorf(CodeIncorrectState, "the volume of snapshot %s is gone", s.ID)
		}
		v := vobj.(*Volume)
		if v.Attachment != nil && v.Primary == c.From {
			return nil, Errorf(CodeIncorrectState, "box %s serves volume %s: its instance is recovered first", c.From, v.ID)
		}
		to = snapshotTaker(v, live)
	}
	if to == "" {
		return nil, Errorf(CodeInsufficientCapacity, "no live box can take over snapshot %s from %s", s.ID, c.From)
	}
	s.Node, s.Attempt, s.Progress = to, s.Attempt+1, 0
	return to, tx.putSnapshot(s)
}
