package placement

import (
	"errors"
	"slices"
	"testing"

	"github.com/banyancloud/banyan/objectstore/erasure"
)

// apply returns the layout after the moves: the disk ID of every shard.
func apply(recorded []string, moves []Move) []string {
	out := slices.Clone(recorded)
	for _, mv := range moves {
		out[mv.Shard] = mv.To.ID
	}
	return out
}

// After any map change, Moves brings an object onto exactly its new set,
// keeps every shard that is already on a disk of that set, and agrees with
// Changed.
func TestMovesReachTheNewSet(t *testing.T) {
	base := boxesMap(3, 3, 3, 3, 3, 3)
	grown := boxesMap(3, 3, 3, 3, 3, 3, 3)
	grown.Disks = append(grown.Disks, Disk{ID: diskID(1, 99), Node: boxName(1)})
	s := scheme(4, 2)
	for _, c := range []struct {
		name  string
		after Map
	}{
		{"box and disk added", grown},
		{"disk removed", withState(base, 4, Removed)},
		{"disk draining", withState(base, 5, Draining)},
		{"box offline", withBoxState(base, 0, Offline)},
		{"box removed, dealt two rounds", withBoxState(base, 0, Removed)},
		{"disk dropped from the map", Map{Disks: base.Disks[1:]}},
	} {
		t.Run(c.name, func(t *testing.T) {
			old, now := mustNew(t, base), mustNew(t, c.after)
			tol, err := now.CheckScheme(s)
			if err != nil {
				t.Fatal(err)
			}
			anyMoved := false
			for i := range 500 {
				recorded := ids(mustPlace(t, old, s, "b", objectName(i)))
				moves, err := now.Moves(s, "b", objectName(i), recorded)
				if err != nil {
					t.Fatal(err)
				}
				want := mustPlace(t, now, s, "b", objectName(i))
				got := apply(recorded, moves)
				if !sameSet(got, ids(want)) {
					t.Fatalf("after %v: %v, want the set %v", moves, got, ids(want))
				}
				var placed []Disk
				for _, id := range got {
					placed = append(placed, now.Disk(id))
				}
				checkSet(t, now, s, tol, placed)
				for _, mv := range moves {
					if slices.Contains(ids(want), mv.From.ID) {
						t.Fatalf("moved shard %d off %s, which is in the new set", mv.Shard, mv.From.ID)
					}
					if recorded[mv.Shard] != mv.From.ID || now.Disk(mv.From.ID) != mv.From {
						t.Fatalf("move %+v does not match the record %v", mv, recorded)
					}
					wantCopy := mv.From.State == Online || mv.From.State == Draining
					if mv.Copyable() != wantCopy {
						t.Fatalf("Copyable %v for a %v source", mv.Copyable(), mv.From.State)
					}
				}
				changed, err := Changed(old, now, s, "b", objectName(i))
				if err != nil || changed != (len(moves) > 0) {
					t.Fatalf("Changed = %v, %v with %d moves", changed, err, len(moves))
				}
				anyMoved = anyMoved || len(moves) > 0
			}
			if anyMoved == SamePlacement(old, now) {
				t.Errorf("SamePlacement %v but objects moved: %v", SamePlacement(old, now), anyMoved)
			}
		})
	}
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

func TestMovesRefuses(t *testing.T) {
	topo := mustNew(t, boxesMap(2, 2, 2))
	set := ids(mustPlace(t, topo, scheme(2, 1), "b", "o"))
	if _, err := topo.Moves(scheme(2, 1), "b", "o", set[:2]); !errors.Is(err, erasure.ErrInvalidArgument) {
		t.Errorf("short record: %v", err)
	}
	if _, err := topo.Moves(scheme(2, 1), "b", "o", []string{set[0], set[1], set[0]}); !errors.Is(err, erasure.ErrInvalidArgument) {
		t.Errorf("repeated disk: %v", err)
	}
	// A 2+1 object after a box went away for good: re-encode, do not move.
	shrunk := mustNew(t, withBoxState(boxesMap(2, 2, 2), 0, Removed))
	if _, err := shrunk.Moves(scheme(2, 1), "b", "o", set); !errors.Is(err, ErrDoesNotFit) {
		t.Errorf("2+1 on two boxes: %v, want ErrDoesNotFit", err)
	}
	if _, err := Changed(topo, shrunk, scheme(2, 1), "b", "o"); !errors.Is(err, ErrDoesNotFit) {
		t.Errorf("Changed with 2+1 on two boxes: %v, want ErrDoesNotFit", err)
	}
}

// Candidates finds an object written under an older map: its set there is
// among the disks listed, and with no change the set comes first.
func TestCandidates(t *testing.T) {
	s := scheme(4, 2)
	v1 := boxesMap(4, 4, 4, 4, 4, 4)
	v2 := withState(v1, 3, Draining) // a drain begins
	v3 := Map{Version: 3, Disks: append(slices.Clone(v2.Disks), Disk{ID: diskID(9, 0), Node: boxName(9)})}
	t1, t2, t3 := mustNew(t, v1), mustNew(t, v2), mustNew(t, v3)
	for i := range 1000 {
		name := objectName(i)
		written := mustPlace(t, t1, s, "b", name)

		// Same map: the set itself, first.
		got := t1.Candidates(s.Total(), "b", name)
		if !slices.Equal(got[:s.Total()], written) || len(got) != s.Total() {
			t.Fatalf("candidates %v, want the set %v", ids(got), ids(written))
		}
		// After the drain began, with no older map: still found.
		// After the drain began (found with no older map), and after a box
		// joined too (found through the map of the drain).
		for _, c := range []struct {
			cur   *Topology
			found []Disk
		}{{t2, t2.Candidates(s.Total(), "b", name)}, {t3, t3.Candidates(s.Total(), "b", name, t2)}} {
			for _, d := range written {
				if !slices.ContainsFunc(c.found, func(x Disk) bool { return x.ID == d.ID }) {
					t.Fatalf("written to %v, candidates %v miss %s", ids(written), ids(c.found), d.ID)
				}
			}
			if now := mustPlace(t, c.cur, s, "b", name); !slices.Equal(c.found[:s.Total()], now) {
				t.Fatalf("candidates %v do not start with the current set %v", ids(c.found), ids(now))
			}
		}
		// States are reported as the current map has them.
		for _, d := range t3.Candidates(s.Total(), "b", name, t1) {
			if d != t3.Disk(d.ID) {
				t.Fatalf("candidate %+v, map has %+v", d, t3.Disk(d.ID))
			}
		}
		// A smaller set written under the same map is a prefix.
		small := mustPlace(t, t1, scheme(2, 1), "b", name)
		if !slices.Equal(small, written[:3]) {
			t.Fatalf("2+1 set %v is not a prefix of the 4+2 set %v", ids(small), ids(written))
		}
	}
	if _, err := Candidates(v3, s.Total(), "b", "o", v2, v1); err != nil {
		t.Error(err)
	}
	if _, err := Candidates(v3, s.Total(), "b", "o", Map{Disks: []Disk{{}}}); !errors.Is(err, ErrInvalidMap) {
		t.Errorf("invalid older map: %v", err)
	}
}

func TestStates(t *testing.T) {
	m := boxesMap(2, 2, 2, 2)
	m = withState(m, 0, Offline)
	m = withState(m, 2, Draining)
	m = withBoxState(m, 3, Removed)
	topo := mustNew(t, m)
	if topo.Boxes() != 3 || topo.Disks() != 5 {
		t.Fatalf("%d boxes, %d disks; want 3 boxes (one removed), 5 disks (offline counted, draining not)", topo.Boxes(), topo.Disks())
	}
	offlineUsed := false
	for i := range 1000 {
		for _, d := range mustPlace(t, topo, scheme(1, 2), "b", objectName(i)) {
			switch d.State {
			case Draining, Removed:
				t.Fatalf("placed on %v disk %s", d.State, d.ID)
			case Offline:
				offlineUsed = true
			}
		}
	}
	if !offlineUsed {
		t.Error("the offline disk was never placed on")
	}
	if got := topo.Disk("no-such-disk"); got.State != Removed {
		t.Errorf("unknown disk reported as %+v", got)
	}
}

func TestInvalidMaps(t *testing.T) {
	for name, m := range map[string]Map{
		"empty ID":     {Disks: []Disk{{Node: "a"}}},
		"empty node":   {Disks: []Disk{{ID: "d"}}},
		"repeated ID":  {Disks: []Disk{{ID: "d", Node: "a"}, {ID: "d", Node: "b"}}},
		"bad state":    {Disks: []Disk{{ID: "d", Node: "a", State: Removed + 1}}},
		"minus weight": {Disks: []Disk{{ID: "d", Node: "a", Weight: -1}}},
	} {
		if _, err := New(m); !errors.Is(err, ErrInvalidMap) {
			t.Errorf("%s: %v, want ErrInvalidMap", name, err)
		}
	}
	if _, err := Place(Map{Disks: []Disk{{ID: "d", Node: "a", State: Removed}}}, scheme(1, 0), "b", "o"); !errors.Is(err, ErrNoDisks) {
		t.Errorf("only removed disks: %v, want ErrNoDisks", err)
	}
}
