package placement

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/banyancloud/banyan/objectstore/erasure"
)

// randomMap makes a map of boxes boxes with up to maxDisks disks each. The
// variant adds uneven disk counts (1), weights (2) and every state (3).
func randomMap(rng *rand.Rand, boxes, maxDisks, variant int) Map {
	var m Map
	for b := range boxes {
		n := maxDisks
		if variant >= 1 {
			n = 1 + rng.IntN(maxDisks)
		}
		for d := range n {
			disk := Disk{ID: diskID(b, d), Node: boxName(b)}
			if variant >= 2 && rng.IntN(2) == 0 {
				disk.Weight = 1 + rng.Int64N(4<<40)
			}
			if variant >= 3 {
				switch rng.IntN(10) {
				case 0:
					disk.State = Offline
				case 1:
					disk.State = Draining
				case 2:
					disk.State = Removed
				}
			}
			m.Disks = append(m.Disks, disk)
		}
	}
	rng.Shuffle(len(m.Disks), func(i, j int) { m.Disks[i], m.Disks[j] = m.Disks[j], m.Disks[i] })
	return m
}

// Over many maps and every scheme up to 12 shards: a scheme CheckScheme
// accepts is placed on distinct writable disks with the promised per-box
// counts, so that losing Tolerance.LostBoxes boxes loses nothing and one
// more box can; a scheme it refuses is refused by Place with the same error.
func TestPerBoxRuleOverRandomMaps(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var schemes []erasure.Scheme
	for k := 1; k <= 8; k++ {
		for m := 0; m <= 4 && k+m <= 12; m++ {
			schemes = append(schemes, scheme(k, m))
		}
	}
	objects := 12
	if testing.Short() {
		objects = 3
	}
	fits := 0
	for boxes := 1; boxes <= 12; boxes++ {
		for maxDisks := 1; maxDisks <= 4; maxDisks++ {
			for variant := range 4 {
				m := randomMap(rng, boxes, maxDisks, variant)
				topo := mustNew(t, m)
				name := fmt.Sprintf("%d boxes, %d disks max, variant %d", boxes, maxDisks, variant)
				if topo.Disks() > 0 {
					s, tol, err := topo.ChooseScheme()
					if err != nil {
						t.Fatalf("%s: ChooseScheme: %v", name, err)
					}
					if topo.Boxes() > 1 && tol.LostBoxes < 1 || tol.LostDisks < 1 && topo.Disks() > 1 {
						t.Errorf("%s: default %v survives only %+v", name, s, tol)
					}
				}
				for _, s := range schemes {
					tol, err := topo.CheckScheme(s)
					if err != nil {
						if !errors.Is(err, ErrDoesNotFit) && !errors.Is(err, ErrNoDisks) {
							t.Fatalf("%s, %v: %v", name, s, err)
						}
						if _, perr := topo.Place(s, "b", "o"); perr == nil || perr.Error() != err.Error() {
							t.Fatalf("%s, %v: Place says %v, CheckScheme %v", name, s, perr, err)
						}
						continue
					}
					fits++
					for i := range objects {
						set := mustPlace(t, topo, s, "bucket", objectName(i))
						checkSet(t, topo, s, tol, set)
						checkTolerance(t, topo, s, tol, set)
					}
				}
			}
		}
	}
	t.Logf("%d (map, scheme) pairs fit and were checked", fits)
}

// checkTolerance checks Tolerance against one set by brute force over its
// per-box counts: the worst LostBoxes boxes hold at most m shards, the worst
// LostBoxes+1 more; likewise DownBoxes against the write quorum.
func checkTolerance(t testing.TB, topo *Topology, s erasure.Scheme, tol Tolerance, set []Disk) {
	t.Helper()
	var counts []int
	for _, c := range perBox(set) {
		counts = append(counts, c)
	}
	for range topo.Boxes() - len(counts) {
		counts = append(counts, 0)
	}
	slices.Sort(counts)
	slices.Reverse(counts)
	worst := func(boxes int) int {
		sum := 0
		for _, c := range counts[:min(boxes, len(counts))] {
			sum += c
		}
		return sum
	}
	if counts[0] != tol.PerBox {
		t.Fatalf("%v: fullest box has %d shards, Tolerance.PerBox %d", s, counts[0], tol.PerBox)
	}
	if topo.Boxes() == 1 {
		if tol.LostBoxes != 0 || tol.DownBoxes != 0 {
			t.Fatalf("%v on one box: %+v", s, tol)
		}
		return
	}
	if worst(tol.LostBoxes) > s.Parity || worst(tol.LostBoxes+1) <= s.Parity {
		t.Fatalf("%v: counts %v, LostBoxes %d", s, counts, tol.LostBoxes)
	}
	if s.Total()-worst(tol.DownBoxes) < s.WriteQuorum() || s.Total()-worst(tol.DownBoxes+1) >= s.WriteQuorum() {
		t.Fatalf("%v: counts %v, DownBoxes %d", s, counts, tol.DownBoxes)
	}
	if tol.LostDisks != s.Parity || tol.DownDisks != s.Total()-s.WriteQuorum() {
		t.Fatalf("%v: %+v", s, tol)
	}
}

// The set is even across boxes: no box has two more shards than another
// box that still had a disk to spare.
func TestDealIsEven(t *testing.T) {
	topo := mustNew(t, boxesMap(1, 2, 3, 4, 4, 5))
	for i := range 2000 {
		set := mustPlace(t, topo, scheme(9, 6), "b", objectName(i))
		c := perBox(set)
		for _, a := range topo.write.boxes {
			for _, b := range topo.write.boxes {
				if c[a.node] > c[b.node]+1 && c[b.node] < len(b.disks) {
					t.Fatalf("%s has %d shards, %s only %d of its %d disks", a.node, c[a.node], b.node, c[b.node], len(b.disks))
				}
			}
		}
	}
}
