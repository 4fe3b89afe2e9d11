package placement

import "fmt"

// DiskState is what the cluster state records about a disk's membership.
// Only Removed and Draining change where new shards go; Online and Offline
// place identically, so a disk that blips does not move any object.
type DiskState uint8

const (
	// Online: the disk is up and takes new shards.
	Online DiskState = iota
	// Offline: the disk is down, perhaps only for a reboot. It stays in every
	// erasure set it belongs to; its shards are missing until it returns or
	// is replaced, and writes simply land one shard short on it.
	Offline
	// Draining: the operator is taking the disk out. It takes no new shards
	// and the healer moves its shards to the disks placement now picks, but
	// it is still searched for existing objects (see Topology.Candidates).
	Draining
	// Removed: the disk is gone for good. Placement ignores it; its shards are
	// rebuilt elsewhere from the rest of each object's set.
	Removed
)

var diskStateNames = [...]string{Online: "online", Offline: "offline", Draining: "draining", Removed: "removed"}

func (s DiskState) String() string {
	if int(s) < len(diskStateNames) {
		return diskStateNames[s]
	}
	return fmt.Sprintf("DiskState(%d)", uint8(s))
}

// Disk is one disk of the disk map as the cluster state records it.
type Disk struct {
	// ID names the disk for its whole life; it must not change when the box
	// is renamed or the disk moves to another slot. Placement hashes it, so
	// it decides where objects go.
	ID string
	// Node is the name of the box the disk is in: the failure domain.
	Node  string
	State DiskState
	// Weight is the disk's relative share of new shards, normally its
	// capacity in bytes. Zero counts as 1: set it on every disk or on none.
	Weight int64
}

// Map is the disk map: every disk of the cluster with its box and state.
// Version changes whenever membership or a state changes; objects record the
// disks they were written to, so an old Version is needed only to find an
// object's metadata (see Topology.Candidates).
type Map struct {
	Version uint64
	Disks   []Disk
}

// takesWrites reports whether a disk in this state takes new shards.
func (s DiskState) takesWrites() bool { return s == Online || s == Offline }

// mayHoldShards reports whether a disk in this state can still hold shards
// worth looking for.
func (s DiskState) mayHoldShards() bool { return s != Removed }
