package state

import (
	"slices"
	"sort"
	"time"
)

// Copies rebuilt elsewhere. A volume copy whose box has been down for the setting
// blockstore.rebuild_after is given up: the leader names another live box of the
// volume's zone in its place (RebuildVolumeCopy), whose agent makes an empty copy. The
// new copy is Stale (it lacks everything), so a primary verifies and copies it whole
// while the volume stays in use; the lost box, should it return, drops the copy it no
// longer holds for the volume. A detached volume has no primary to do that, so the
// command names one for it, a box holding a copy in sync, under a new epoch: it opens the
// volume for the resync alone and lets go (Primary back to "") once no copy is stale. An
// attach in the meantime takes the volume over at a newer epoch, as always, and its
// primary finishes the resync.

// SettingRebuildAfter is how long a box must have been down before the volume copies it
// holds are rebuilt on other boxes (a Go duration; default 10m, "off" never). It is far
// longer than a reboot: a returning copy resyncs only what it missed, a rebuilt one is
// copied whole.
const SettingRebuildAfter = "blockstore.rebuild_after"

// DefaultRebuildAfter is SettingRebuildAfter's default.
const DefaultRebuildAfter = 10 * time.Minute

// CmdRebuildVolumeCopy is RebuildVolumeCopy's command type.
const CmdRebuildVolumeCopy CommandType = 72

// RebuildAfter is the setting's value: ok false means copies are never rebuilt.
func (s *Store) RebuildAfter() (d time.Duration, ok bool) {
	set, err := s.Setting(SettingRebuildAfter)
	if err != nil || set.Value == "" {
		return DefaultRebuildAfter, true
	}
	if set.Value == "off" {
		return 0, false
	}
	d, err = time.ParseDuration(set.Value)
	if err != nil || d < 0 {
		return DefaultRebuildAfter, true
	}
	return d, true
}

// RebuildVolumeCopy replaces the copy of volume ID on box From, which the leader has
// seen down for SettingRebuildAfter, with a new copy on another box: a live box
// (LiveNodes) of the volume's zone holding no copy of it, with room, the emptiest first.
// It answers the new box. It is a no-op when From holds no copy any more (a stale
// retry), and refused when From serves the attachment (instance recovery moves that
// first) or no box can take the copy.
type RebuildVolumeCopy struct {
	ID        string
	From      string
	LiveNodes []string
	Now       time.Time
}

func (*RebuildVolumeCopy) CommandType() CommandType { return CmdRebuildVolumeCopy }

func init() {
	registerCommand("RebuildVolumeCopy", applyRebuildVolumeCopy)
}

func applyRebuildVolumeCopy(tx *Txn, c *RebuildVolumeCopy) (any, error) {
	obj, err := tx.First(tableVolumes, "id", c.ID)
	if err != nil {
		return nil, err
	}
	if obj == nil {
		return nil, Errorf(CodeNotFound, "The volume '%s' does not exist.", c.ID)
	}
	v := *obj.(*Volume)
	if !slices.Contains(v.Replicas, c.From) {
		return "", nil
	}
	switch {
	case v.State != VolumeAvailable && v.State != VolumeInUse:
		return nil, Errorf(CodeIncorrectState, "volume %s is %s", v.ID, v.State)
	case slices.Contains(c.LiveNodes, c.From):
		return nil, Errorf(CodeIncorrectState, "box %s is up: its copy of %s resyncs, it is not rebuilt", c.From, v.ID)
	case v.Attachment != nil && v.Primary == c.From:
		return nil, Errorf(CodeIncorrectState, "box %s serves %s's attachment: the instance is recovered first", c.From, v.ID)
	}
	to, err := rebuildTarget(tx, &v, c.LiveNodes)
	if err != nil {
		return nil, err
	}
	v.Replicas, v.Ready, v.Stale = slices.Clone(v.Replicas), slices.Clone(v.Ready), slices.Clone(v.Stale)
	v.Replicas[slices.Index(v.Replicas, c.From)] = to
	v.Ready = slices.DeleteFunc(v.Ready, func(n string) bool { return n == c.From })
	v.Stale = slices.DeleteFunc(v.Stale, func(n string) bool { return n == c.From })
	v.Stale = append(v.Stale, to)
	slices.Sort(v.Stale)
	if v.Attachment == nil {
		// No primary: one box holding a copy in sync opens the volume to resync it.
		owner := ""
		for _, n := range v.Ready {
			if !slices.Contains(v.Stale, n) && slices.Contains(c.LiveNodes, n) {
				owner = n
				break
			}
		}
		if owner == "" {
			return nil, Errorf(CodeInsufficientCapacity, "no live box holds a copy of %s in sync to rebuild it from", v.ID)
		}
		v.Primary, v.Epoch = owner, v.Epoch+1
	}
	return to, tx.putVolume(&v)
}

// rebuildTarget picks the box for a new copy of v: a live box of its zone without a copy,
// with room, the emptiest first.
func rebuildTarget(tx *Txn, v *Volume, live []string) (string, error) {
	boxes, err := list[Box](tx.Txn, tableBoxes)
	if err != nil {
		return "", err
	}
	vols, err := list[Volume](tx.Txn, tableVolumes)
	if err != nil {
		return "", err
	}
	used := map[string]int{}
	for _, o := range vols {
		for _, n := range o.Replicas {
			used[n] += o.SizeGiB
		}
	}
	best, bestFree := "", 0
	sort.Slice(boxes, func(i, j int) bool { return boxes[i].Node < boxes[j].Node })
	for _, b := range boxes {
		if b.Zone != v.Zone || !slices.Contains(live, b.Node) || slices.Contains(v.Replicas, b.Node) {
			continue
		}
		if free := b.DiskGiB - used[b.Node]; free >= v.SizeGiB && (best == "" || free > bestFree) {
			best, bestFree = b.Node, free
		}
	}
	if best == "" {
		return "", Errorf(CodeInsufficientCapacity, "no live box of %s without a copy of %s has room for it", v.Zone, v.ID)
	}
	return best, nil
}

// releaseResyncOwner lets a detached volume's resync owner go once no copy is stale.
func releaseResyncOwner(v *Volume) {
	if v.Attachment == nil && v.Primary != "" && len(v.Stale) == 0 {
		v.Primary = ""
	}
}
