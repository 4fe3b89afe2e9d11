package placement

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/minio/highwayhash"
)

// Topology is a Map prepared for placement: disks validated, grouped by box,
// their ID hashes computed. Build one per map version with New and share it;
// it is immutable and safe for concurrent use.
type Topology struct {
	version uint64
	disks   []disk // every disk of the map, sorted by ID
	byID    map[string]int32
	write   view // Online and Offline disks: where new shards go
	lookup  view // plus Draining: where existing shards may still be
}

// disk is a Disk with what placement needs precomputed.
type disk struct {
	Disk
	hash   uint64
	weight uint64 // Weight, with 0 counted as 1
}

// view is the subset of disks one ordering ranks.
type view struct {
	disks  []int32 // indices into Topology.disks
	boxes  []box   // boxes with at least one disk in the view, sorted by node
	equal  bool    // all weights equal: compare draws directly
	rounds []int   // rounds[n]: shards the fullest box gets in a set of n; n <= len(disks)
	sig    [highwayhash.Size]byte
}

type box struct {
	node  string
	disks []int32
}

// New validates m and prepares it for placement. It fails with
// ErrInvalidMap when a disk has no ID or node, an ID repeats, a state is
// unknown or a weight is negative.
func New(m Map) (*Topology, error) {
	t := &Topology{
		version: m.Version,
		disks:   make([]disk, len(m.Disks)),
		byID:    make(map[string]int32, len(m.Disks)),
	}
	for i, d := range m.Disks {
		switch {
		case d.ID == "":
			return nil, fmt.Errorf("%w: disk %d has no ID", ErrInvalidMap, i)
		case d.Node == "":
			return nil, fmt.Errorf("%w: disk %q has no node", ErrInvalidMap, d.ID)
		case d.State > Removed:
			return nil, fmt.Errorf("%w: disk %q has unknown state %v", ErrInvalidMap, d.ID, d.State)
		case d.Weight < 0:
			return nil, fmt.Errorf("%w: disk %q has negative weight %d", ErrInvalidMap, d.ID, d.Weight)
		}
		w := uint64(d.Weight)
		if w == 0 {
			w = 1
		}
		t.disks[i] = disk{Disk: d, hash: diskHash(d.ID), weight: w}
	}
	// Sorting by ID makes everything below independent of the order the
	// cluster state happens to list disks in.
	slices.SortFunc(t.disks, func(a, b disk) int { return cmp.Compare(a.ID, b.ID) })
	for i, d := range t.disks {
		if i > 0 && t.disks[i-1].ID == d.ID {
			return nil, fmt.Errorf("%w: disk ID %q appears twice", ErrInvalidMap, d.ID)
		}
		t.byID[d.ID] = int32(i)
	}
	t.write = t.newView(DiskState.takesWrites)
	t.lookup = t.newView(DiskState.mayHoldShards)
	return t, nil
}

func (t *Topology) newView(in func(DiskState) bool) view {
	var v view
	byNode := map[string]int{}
	for i, d := range t.disks {
		if !in(d.State) {
			continue
		}
		v.disks = append(v.disks, int32(i))
		b, ok := byNode[d.Node]
		if !ok {
			b = len(v.boxes)
			byNode[d.Node] = b
			v.boxes = append(v.boxes, box{node: d.Node})
		}
		v.boxes[b].disks = append(v.boxes[b].disks, int32(i))
	}
	slices.SortFunc(v.boxes, func(a, b box) int { return cmp.Compare(a.node, b.node) })

	v.equal = true
	for _, i := range v.disks {
		if t.disks[i].weight != t.disks[v.disks[0]].weight {
			v.equal = false
		}
	}

	// A set of n shards takes disks round by round, one per box per round
	// (see order.go), so the fullest box gets the smallest r with
	// sum(min(disks on box, r)) >= n.
	v.rounds = make([]int, len(v.disks)+1)
	n, r := 0, 0
	for n < len(v.disks) {
		r++
		for _, b := range v.boxes {
			if len(b.disks) >= r {
				n++
				v.rounds[n] = r
			}
		}
	}

	// sig identifies what the ordering depends on, so two maps that differ
	// only in Online/Offline (or in Version) are known to place identically
	// without placing anything.
	var buf []byte
	for _, i := range v.disks {
		d := &t.disks[i]
		buf = binary.AppendUvarint(buf, uint64(len(d.ID)))
		buf = append(buf, d.ID...)
		buf = binary.AppendUvarint(buf, uint64(len(d.Node)))
		buf = append(buf, d.Node...)
		buf = binary.AppendUvarint(buf, d.weight)
	}
	v.sig = highwayhash.Sum(buf, diskKey[:])
	return v
}

// Version is the map version t was built from.
func (t *Topology) Version() uint64 { return t.version }

// Boxes is the number of boxes with at least one disk that takes new shards.
func (t *Topology) Boxes() int { return len(t.write.boxes) }

// Disks is the number of disks that take new shards (Online and Offline).
func (t *Topology) Disks() int { return len(t.write.disks) }

// Disk returns the map's record of a disk; a disk the map does not list is
// reported as Removed.
func (t *Topology) Disk(id string) Disk {
	if i, ok := t.byID[id]; ok {
		return t.disks[i].Disk
	}
	return Disk{ID: id, State: Removed}
}
