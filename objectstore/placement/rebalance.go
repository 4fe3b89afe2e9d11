package placement

import (
	"fmt"

	"github.com/banyancloud/banyan/objectstore/erasure"
)

// Move is one shard the healer must put on another disk to bring an object
// onto its set under the current map.
type Move struct {
	Shard int  // shard index, unchanged by the move
	From  Disk // where the object's metadata says the shard is, with its current state
	To    Disk
}

// Copyable reports whether the shard can be copied from From; otherwise
// (From is Offline, Removed or unknown to the map) it must be rebuilt from
// the object's other shards.
func (mv Move) Copyable() bool { return mv.From.State == Online || mv.From.State == Draining }

// SamePlacement reports whether every object has the same erasure set for
// new writes under before and after, which is the case when the two maps
// differ only in version or in disks going Online/Offline. It costs nothing
// per object: a healer checks it once per map change before walking objects.
func SamePlacement(before, after *Topology) bool { return before.write.sig == after.write.sig }

// Changed reports whether the object's set for scheme s differs (as a set;
// shard order does not matter to a healer) between before and after. It is
// a filter for a healer walking objects that sit on their sets under
// before; Moves, from the recorded disk IDs, is the authority. It places the
// object at most twice and allocates nothing. It fails with a *FitError when
// s does not fit after: the object must then be rewritten with the scheme
// SchemeFor gives.
func Changed(before, after *Topology, s erasure.Scheme, bucket, object string) (bool, error) {
	if _, err := after.write.checkFast(s); err != nil {
		return true, err
	}
	if SamePlacement(before, after) {
		return false, nil
	}
	if _, err := before.write.checkFast(s); err != nil {
		return true, nil // not placed by before; let Moves compare with the record
	}
	n := s.Total()
	h := objectHash(bucket, object)
	var a, b [maxAutoShards]Disk
	was := before.prefix(&before.write, h, n, a[:0])
	now := after.prefix(&after.write, h, n, b[:0])
	for _, d := range now {
		if !containsID(was, d.ID) {
			return true, nil
		}
	}
	return false, nil
}

// Moves returns the shard moves that bring an object onto its set for new
// writes under t. recorded is the disk ID of each shard, in shard order, as
// the object's metadata records it. Shards already on a disk of the new set
// stay there, whatever their index, so a disk joining or leaving moves one
// shard per affected object rather than renumbering the rest. An empty
// result means the object is where placement wants it.
//
// Moves away from Online disks only even out the load after disks joined;
// moves away from Draining, Offline-for-good or Removed disks restore
// redundancy and come first. A *FitError means s no longer fits t: rewrite
// the object with the scheme SchemeFor gives instead.
func (t *Topology) Moves(s erasure.Scheme, bucket, object string, recorded []string) ([]Move, error) {
	if len(recorded) != s.Total() {
		return nil, fmt.Errorf("%w: %d disks recorded for a %d+%d object", erasure.ErrInvalidArgument, len(recorded), s.Data, s.Parity)
	}
	for i, id := range recorded {
		for _, prev := range recorded[:i] {
			if id == prev {
				return nil, fmt.Errorf("%w: disk %q recorded twice", erasure.ErrInvalidArgument, id)
			}
		}
	}
	want, err := t.Place(s, bucket, object)
	if err != nil {
		return nil, err
	}
	// Disks of the new set that hold nothing of this object yet, in set order.
	var free []Disk
	for _, d := range want {
		if !containsString(recorded, d.ID) {
			free = append(free, d)
		}
	}
	var moves []Move
	for shard, id := range recorded {
		if containsID(want, id) {
			continue
		}
		moves = append(moves, Move{Shard: shard, From: t.Disk(id), To: free[0]})
		free = free[1:]
	}
	return moves, nil
}

func containsString(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}
