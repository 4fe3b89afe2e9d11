package placement

import (
	"slices"
	"testing"

	"github.com/banyancloud/banyan/objectstore/erasure"
)

// movement places the same objects under two maps and returns the fraction
// of objects whose set changed, the fraction of all shards that must move,
// and the largest number of shards one object must move.
func movement(t *testing.T, before, after Map, s erasure.Scheme, objects int) (objFrac, shardFrac float64, most int, in, out map[string]int) {
	t.Helper()
	a, b := mustNew(t, before), mustNew(t, after)
	in, out = map[string]int{}, map[string]int{}
	changed, moved := 0, 0
	for i := range objects {
		was := mustPlace(t, a, s, "bucket", objectName(i))
		now := mustPlace(t, b, s, "bucket", objectName(i))
		added, gone := setDiff(was, now), setDiff(now, was)
		if i%8 == 0 { // Changed must agree; a sample keeps -race runs short
			changed2, err := Changed(a, b, s, "bucket", objectName(i))
			if err != nil || changed2 != (len(added) > 0) {
				t.Fatalf("Changed = %v, %v; sets differ by %v", changed2, err, added)
			}
		}
		if len(added) > 0 {
			changed++
		}
		moved += len(added)
		most = max(most, len(added))
		for _, id := range added {
			in[id]++
		}
		for _, id := range gone {
			out[id]++
		}
	}
	return float64(changed) / float64(objects), float64(moved) / float64(objects*s.Total()), most, in, out
}

func movementObjects() int {
	if testing.Short() {
		return 2_000
	}
	return 10_000
}

// One disk joining or leaving moves at most one shard of any object and
// only onto (or off) that disk, so what moves is exactly that disk's load:
// the least any placement that loads it like its peers can move. That is
// (k+m)/N of the objects when boxes do not constrain the set, and the disk's
// share of its box's shards when they do (a box holding one shard of every
// object gives each of its d disks 1/d of the objects).
func TestMovementOneDisk(t *testing.T) {
	for _, c := range []struct {
		name  string
		boxes []int
		s     erasure.Scheme
	}{
		{"6 boxes x 4 disks, 4+2", []int{4, 4, 4, 4, 4, 4}, scheme(4, 2)},
		{"6 boxes x 4 disks, 8+4", []int{4, 4, 4, 4, 4, 4}, scheme(8, 4)},
		{"8 boxes x 2 disks, 8+4 (partial round)", []int{2, 2, 2, 2, 2, 2, 2, 2}, scheme(8, 4)},
		{"3 boxes of 1,2,3 disks, 2+1", []int{1, 2, 3}, scheme(2, 1)},
		{"1 box x 8 disks, 4+2", []int{8}, scheme(4, 2)},
		{"16 boxes x 4 disks, 8+4", []int{4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4}, scheme(8, 4)},
	} {
		t.Run(c.name, func(t *testing.T) {
			base := boxesMap(c.boxes...)
			n := len(base.Disks)
			grown := boxesMap(c.boxes...)
			x := Disk{ID: diskID(0, 99), Node: boxName(0)}
			grown.Disks = append(grown.Disks, x)
			for _, e := range []struct {
				what          string
				before, after Map
				ideal         float64 // (k+m)/N, for reference
			}{
				{"add a disk", base, grown, float64(c.s.Total()) / float64(n+1)},
				{"remove that disk", grown, base, float64(c.s.Total()) / float64(n+1)},
				{"drain a disk", base, withState(base, 1, Draining), float64(c.s.Total()) / float64(n)},
			} {
				objFrac, shardFrac, most, in, out := movement(t, e.before, e.after, c.s, movementObjects())
				t.Logf("%-16s %5.1f%% of objects changed set, %5.2f%% of shards move ((k+m)/N = %5.1f%%)",
					e.what, 100*objFrac, 100*shardFrac, 100*e.ideal)
				if most > 1 {
					t.Errorf("%s: an object moves %d shards", e.what, most)
				}
				touched := func(m map[string]int) []string {
					var ids []string
					for id := range m {
						ids = append(ids, id)
					}
					return ids
				}
				switch e.what {
				case "add a disk":
					if got := touched(in); len(got) > 1 || len(got) == 1 && got[0] != x.ID {
						t.Errorf("shards moved onto %v, want only the new disk", got)
					}
				case "remove that disk":
					if got := touched(out); len(got) > 1 || len(got) == 1 && got[0] != x.ID {
						t.Errorf("shards moved off %v, want only the removed disk", got)
					}
				case "drain a disk":
					if got := touched(out); !slices.Equal(got, []string{e.before.Disks[1].ID}) {
						t.Errorf("shards moved off %v, want only the drained disk", got)
					}
				}
			}
		})
	}
}

// A whole box joining or leaving moves one shard per affected object while
// sets have at most one shard per box; when the set must deal more rounds
// (or fewer) shards move between the remaining boxes too. Reported, and
// bounded by what the box's share forces.
func TestMovementOneBox(t *testing.T) {
	for _, c := range []struct {
		name  string
		boxes []int
		s     erasure.Scheme
	}{
		{"8 boxes x 4 disks, 4+2: add a 9th", []int{4, 4, 4, 4, 4, 4, 4, 4}, scheme(4, 2)},
		{"16 boxes x 4 disks, 8+4: add a 17th", []int{4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4}, scheme(8, 4)},
		{"6 boxes x 4 disks, 4+2: add a 7th", []int{4, 4, 4, 4, 4, 4}, scheme(4, 2)},
		{"6 boxes x 4 disks, 8+4: add a 7th", []int{4, 4, 4, 4, 4, 4}, scheme(8, 4)},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := boxesMap(c.boxes...)
			after := boxesMap(append(slices.Clone(c.boxes), c.boxes[0])...)
			share := float64(c.boxes[0]) / float64(len(after.Disks)) // the new box's share of shards
			for _, e := range []struct {
				what          string
				before, after Map
			}{{"add", before, after}, {"remove", after, withBoxState(after, len(c.boxes), Removed)}} {
				objFrac, shardFrac, most, _, _ := movement(t, e.before, e.after, c.s, movementObjects())
				t.Logf("%-6s a box: %5.1f%% of objects changed set, %5.2f%% of shards move, at most %d per object (the box's share of disks: %.1f%%)",
					e.what, 100*objFrac, 100*shardFrac, most, 100*share)
				if len(c.boxes) >= c.s.Total() && most > 1 {
					t.Errorf("one shard per box but an object moves %d", most)
				}
			}
		})
	}
}

// Disks going offline and coming back move nothing, and say so for free.
func TestOfflineMovesNothing(t *testing.T) {
	base := boxesMap(4, 4, 4, 4, 4, 4)
	down := withBoxState(base, 2, Offline)
	down = withState(down, 0, Offline)
	a, b := mustNew(t, base), mustNew(t, down)
	if !SamePlacement(a, b) {
		t.Fatal("SamePlacement is false for a map that only took disks offline")
	}
	for i := range 2000 {
		was := mustPlace(t, a, scheme(4, 2), "b", objectName(i))
		now := mustPlace(t, b, scheme(4, 2), "b", objectName(i))
		if !slices.Equal(ids(was), ids(now)) {
			t.Fatalf("offline disks changed %v to %v", ids(was), ids(now))
		}
	}
	if SamePlacement(a, mustNew(t, withState(base, 0, Draining))) {
		t.Error("SamePlacement is true across a drain")
	}
}

func withState(m Map, disk int, s DiskState) Map {
	out := Map{Version: m.Version + 1, Disks: slices.Clone(m.Disks)}
	out.Disks[disk].State = s
	return out
}

func withBoxState(m Map, box int, s DiskState) Map {
	out := Map{Version: m.Version + 1, Disks: slices.Clone(m.Disks)}
	for i := range out.Disks {
		if out.Disks[i].Node == boxName(box) {
			out.Disks[i].State = s
		}
	}
	return out
}
