package placement

import "github.com/banyancloud/banyan/objectstore/erasure"

// Place returns the erasure set for a new object: s.Total() disks of m in
// shard order (shard i goes to the i-th disk). It builds a Topology on every
// call; callers placing many objects should keep one from New.
func Place(m Map, s erasure.Scheme, bucket, object string) ([]Disk, error) {
	t, err := New(m)
	if err != nil {
		return nil, err
	}
	return t.Place(s, bucket, object)
}

// Place returns the erasure set for a new object written with s, in shard
// order. Offline disks stay in sets (the write lands a shard short on them
// and the healer fills it in later); Draining and Removed disks are never
// chosen. It fails with a *FitError when s does not fit t.
func (t *Topology) Place(s erasure.Scheme, bucket, object string) ([]Disk, error) {
	if _, err := t.write.checkFast(s); err != nil {
		return nil, err
	}
	n := s.Total()
	return t.prefix(&t.write, objectHash(bucket, object), n, make([]Disk, 0, n)), nil
}

// checkFast is check without the Tolerance, for the placement path.
func (v *view) checkFast(s erasure.Scheme) (int, error) {
	n, disks := s.Total(), len(v.disks)
	if s.Validate() != nil || n > disks || len(v.boxes) > 1 && v.rounds[n] > s.Parity ||
		len(v.boxes) == 1 && s.Parity == 0 && disks > 1 || disks == 0 {
		_, err := v.check(s) // the slow path says why
		return 0, err
	}
	return n, nil
}

// Candidates returns, most likely first and without repeats, the disks that
// may hold the metadata of an object whose erasure set has n shards, on m
// or on any older map still being rebalanced away from. See
// Topology.Candidates.
func Candidates(m Map, n int, bucket, object string, older ...Map) ([]Disk, error) {
	t, err := New(m)
	if err != nil {
		return nil, err
	}
	ts := make([]*Topology, len(older))
	for i, o := range older {
		if ts[i], err = New(o); err != nil {
			return nil, err
		}
	}
	return t.Candidates(n, bucket, object, ts...), nil
}

// Candidates returns the disks to ask for an object's metadata, most likely
// first and without repeats: the object's n-shard set for new writes on t,
// then the n first disks of its ordering with Draining disks still counted
// (where it was before a drain began), then the same for each older
// topology, newest first. Disks are reported with their state on t when t
// lists them. Reads then use the disk IDs the metadata records.
//
// n is the set size the bucket's scheme gives (SchemeFor keeps it the same
// for every storage class); sets of other sizes share their first disks,
// because every set is a prefix of one ordering. older must hold every map
// version whose rebalance has not finished: an object written under a map
// that is neither t nor in older may not be found.
func (t *Topology) Candidates(n int, bucket, object string, older ...*Topology) []Disk {
	h := objectHash(bucket, object)
	var out []Disk
	add := func(ds []Disk) {
		for _, d := range ds {
			if containsID(out, d.ID) {
				continue
			}
			if i, ok := t.byID[d.ID]; ok {
				d = t.disks[i].Disk // the current state
			}
			out = append(out, d)
		}
	}
	var buf []Disk
	for _, u := range append([]*Topology{t}, older...) {
		buf = u.prefix(&u.write, h, min(n, len(u.write.disks)), buf[:0])
		add(buf)
		buf = u.prefix(&u.lookup, h, min(n, len(u.lookup.disks)), buf[:0])
		add(buf)
	}
	return out
}

func containsID(ds []Disk, id string) bool {
	for _, d := range ds {
		if d.ID == id {
			return true
		}
	}
	return false
}
