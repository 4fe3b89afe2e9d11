package placement

import "sync"

// The ordering of an object's disks (one view, one object):
//
//  1. every disk draws mix(objectHash, diskHash), scored by weighted
//     rendezvous hashing (weight.go); ties, which need colliding ID hashes,
//     go to the smaller ID;
//  2. each box's disks are ranked by score, and the boxes by their best
//     disk's score (so a box wins in proportion to its total weight);
//  3. the disks are dealt round-robin: round 1 takes each box's best disk in
//     box order, round 2 each box's second best, and so on, skipping boxes
//     that have run out.
//
// An erasure set of n shards is the first n disks of that ordering, and its
// order is the shard order. Because the ordering does not depend on n, sets
// of every size are prefixes of one list (metadata of an object written
// with any n is on the first disks), and the deal makes the per-box count as
// even as the boxes' disk counts allow: the fullest box gets view.rounds[n].
//
// Adding or removing one disk changes at most one disk of any object's set:
// the disk either enters its box's share (pushing that box's last disk out)
// or pulls its box up the box order, which in a partial last round moves
// one shard from the box that loses its slot. Whole boxes appearing move
// one shard per object while every box gets at most one, and more only when
// the set must grow or shrink its rounds.

// ranker holds one object's draws over one view. Pooled, since a placement
// on a large map needs a few small slices.
type ranker struct {
	t     *Topology
	v     *view
	draw  []uint64 // per disk index: mix(objectHash, diskHash)
	nlog  []uint64 // per disk index: negLog2(draw); only when !v.equal
	tops  []int32  // per box: its best disks, best first, r slots each
	ntop  []int32  // per box: how many of its r slots are filled
	order []int32  // boxes, best first
}

var rankers = sync.Pool{New: func() any { return new(ranker) }}

func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// better reports whether disk a outranks disk b for this object.
func (k *ranker) better(a, b int32) bool {
	if !k.v.equal {
		if aw, ok := heavier(k.t.disks[a].weight, k.nlog[a], k.t.disks[b].weight, k.nlog[b]); ok {
			return aw
		}
	}
	if k.draw[a] != k.draw[b] {
		return k.draw[a] > k.draw[b]
	}
	return k.t.disks[a].ID < k.t.disks[b].ID
}

// prefix appends the first n disks of the object's ordering over v to dst.
// n must be at most len(v.disks).
func (t *Topology) prefix(v *view, h uint64, n int, dst []Disk) []Disk {
	if n <= 0 {
		return dst
	}
	k := rankers.Get().(*ranker)
	defer func() { k.t, k.v = nil, nil; rankers.Put(k) }()
	k.t, k.v = t, v
	k.draw = grow(k.draw, len(t.disks))
	if !v.equal {
		k.nlog = grow(k.nlog, len(t.disks))
	}
	for _, i := range v.disks {
		k.draw[i] = mix(h, t.disks[i].hash)
		if !v.equal {
			k.nlog[i] = negLog2(k.draw[i])
		}
	}

	// Each box's best r disks, by insertion: r is small.
	r := v.rounds[n]
	k.tops = grow(k.tops, len(v.boxes)*r)
	k.ntop = grow(k.ntop, len(v.boxes))
	for b := range v.boxes {
		top := k.tops[b*r : b*r+r]
		filled := 0
		for _, d := range v.boxes[b].disks {
			if filled == r && !k.better(d, top[r-1]) {
				continue
			}
			j := min(filled, r-1)
			for j > 0 && k.better(d, top[j-1]) {
				top[j] = top[j-1]
				j--
			}
			top[j] = d
			filled = min(filled+1, r)
		}
		k.ntop[b] = int32(filled)
	}

	// Boxes by their best disk. With one round only the best n boxes
	// matter; otherwise every box deals in round 1 and all need ranking.
	want := len(v.boxes)
	if r == 1 {
		want = n
	}
	k.order = k.order[:0]
	for b := range v.boxes {
		d := k.tops[b*r]
		if len(k.order) == want && !k.better(d, k.tops[int(k.order[want-1])*r]) {
			continue
		}
		if len(k.order) < want {
			k.order = append(k.order, 0)
		}
		j := len(k.order) - 1
		for j > 0 && k.better(d, k.tops[int(k.order[j-1])*r]) {
			k.order[j] = k.order[j-1]
			j--
		}
		k.order[j] = int32(b)
	}

	// Deal.
	for round := range r {
		for _, b := range k.order {
			if int32(round) < k.ntop[b] {
				dst = append(dst, t.disks[k.tops[int(b)*r+round]].Disk)
				if n--; n == 0 {
					return dst
				}
			}
		}
	}
	panic("placement: rounds table disagrees with the deal")
}
