package placement

import (
	"fmt"
	"slices"

	"github.com/banyancloud/banyan/objectstore/erasure"
)

// Tolerance is what one object's erasure set survives on a map, for a scheme
// that fits it. Every set of the scheme on the map survives at least this
// much; the counts do not depend on the object.
type Tolerance struct {
	Shards    int // k+m: disks per object, the erasure set size
	PerBox    int // most shards of one object on one box
	LostDisks int // disks of the set that may fail at once without losing the object: the parity count
	LostBoxes int // whole boxes that may fail at once without losing any object; 0 on a single box
	DownDisks int // disks of the set that may be down while a write still reaches its quorum
	DownBoxes int // whole boxes that may be down while every write still reaches its quorum
}

// maxAutoShards caps the widest set ChooseScheme picks: wider stripes cost
// more files and IOPS per small object and more disks read per rebuild.
const maxAutoShards = 12

// ChooseScheme picks the default scheme for new objects on m, per the table
// in the package doc, and says what it survives.
func ChooseScheme(m Map) (erasure.Scheme, Tolerance, error) {
	t, err := New(m)
	if err != nil {
		return erasure.Scheme{}, Tolerance{}, err
	}
	return t.ChooseScheme()
}

// CheckScheme reports whether s may be used on m (for example as a bucket's
// override) and what it survives there. The error is a *FitError saying why
// not and what would fit.
func CheckScheme(m Map, s erasure.Scheme) (Tolerance, error) {
	t, err := New(m)
	if err != nil {
		return Tolerance{}, err
	}
	return t.CheckScheme(s)
}

// ChooseScheme picks the default scheme for new objects on t.
func (t *Topology) ChooseScheme() (erasure.Scheme, Tolerance, error) {
	v := &t.write
	if len(v.disks) == 0 {
		return erasure.Scheme{}, Tolerance{}, ErrNoDisks
	}
	domains := len(v.boxes)
	if domains == 1 {
		domains = len(v.disks) // on one box a disk is the failure domain
	}
	k, m := baseScheme(domains)
	// Same overhead and box tolerance, twice the disk tolerance: when every
	// box can take two shards, deal two rounds (see the package doc).
	if w := 2 * (k + m); len(v.boxes) >= 2 && w <= maxAutoShards && w <= len(v.disks) && v.rounds[w] <= 2 {
		k, m = 2*k, 2*m
	}
	s := erasure.Scheme{Data: k, Parity: m, BlockSize: erasure.DefaultBlockSize}
	tol, err := t.CheckScheme(s)
	if err != nil {
		panic(fmt.Sprintf("placement: chose %v which does not fit: %v", s, err))
	}
	return s, tol, nil
}

// baseScheme is the table of the package doc, by failure domains.
func baseScheme(domains int) (k, m int) {
	switch {
	case domains <= 1:
		return 1, 0
	case domains == 2:
		return 1, 1
	case domains == 3:
		return 2, 1
	case domains == 4:
		return 2, 2
	case domains == 5:
		return 3, 2
	case domains < 12:
		return 4, 2
	default:
		return 8, 4
	}
}

// CheckScheme reports whether s may be used for new objects on t and what
// it survives there.
func (t *Topology) CheckScheme(s erasure.Scheme) (Tolerance, error) {
	return t.write.check(s)
}

func (v *view) check(s erasure.Scheme) (Tolerance, error) {
	if err := s.Validate(); err != nil {
		return Tolerance{}, err
	}
	n, m := s.Total(), s.Parity
	disks, boxes := len(v.disks), len(v.boxes)
	fit := func(perBox int, format string, args ...any) error {
		return &FitError{Scheme: s, Boxes: boxes, Disks: disks, PerBox: perBox, Reason: fmt.Sprintf(format, args...)}
	}
	if disks == 0 {
		return Tolerance{}, ErrNoDisks
	}
	// most is the widest set this parity allows on the map, for the hints.
	most := disks
	if boxes > 1 {
		most = v.capacity(m)
	}
	hint := func(more string) string {
		if most > m && most < n {
			return fmt.Sprintf("with %d parity at most %d shards fit (%d+%d), or %s", m, most, most-m, m, more)
		}
		return more
	}
	if n > disks {
		return Tolerance{}, fit(0, "it needs %d disks, one per shard; %s", n, hint("add disks"))
	}
	r := v.rounds[n]
	switch {
	case boxes == 1 && m == 0 && disks > 1:
		return Tolerance{}, fit(r, "without parity one failed disk loses objects; use at least 1 parity shard")
	case boxes > 1 && m == 0:
		return Tolerance{}, fit(r, "without parity losing any box loses objects; use at least 1 parity shard")
	case boxes > 1 && r > m:
		return Tolerance{}, fit(r, "it puts %d shards of an object on one box but has only %s, so losing that box would lose objects; %s", r, plural(m, "parity shard"), hint("add boxes"))
	}

	tol := Tolerance{Shards: n, PerBox: r, LostDisks: m, DownDisks: n - s.WriteQuorum()}
	if boxes > 1 {
		// The deal gives every box min(its disks, r-1) shards and one more
		// to the first boxes, in the object's box order, that have r disks.
		// The multiset of per-box counts is the same for every object.
		counts := make([]int, 0, boxes)
		for _, b := range v.boxes {
			counts = append(counts, min(len(b.disks), r-1))
		}
		extra := n - v.capacity(r-1)
		slices.Sort(counts)
		slices.Reverse(counts) // boxes with >= r disks have r-1 and come first
		for i := range extra {
			counts[i]++
		}
		lost := 0
		for _, c := range counts {
			lost += c
			if lost <= m {
				tol.LostBoxes++
			}
			if n-lost >= s.WriteQuorum() {
				tol.DownBoxes++
			}
		}
	}
	return tol, nil
}

// capacity is the most shards a set can take with at most r per box.
func (v *view) capacity(r int) int {
	c := 0
	for _, b := range v.boxes {
		c += min(len(b.disks), r)
	}
	return c
}
