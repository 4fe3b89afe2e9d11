package state

import (
	"errors"
	"testing"
)

// TestTakeOverSnapshot: a pending snapshot of a detached volume taken by a box that died
// goes, as a new attempt, to the live box with the other ready copy; a deletion goes to
// any live box; a retry, a finished snapshot and no box left are ignored or refused.
func TestTakeOverSnapshot(t *testing.T) {
	c := newComputeFSM(t,
		Box{Node: "a", Zone: "us-east-1a", VCPUs: 2, MemoryMiB: 2048, DiskGiB: 100},
		Box{Node: "b", Zone: "us-east-1a", VCPUs: 2, MemoryMiB: 2048, DiskGiB: 100})
	must := func(r *Result) *Result {
		t.Helper()
		if r.Err != nil {
			t.Fatal(r.Err)
		}
		return r
	}
	live := []string{"a", "b"}
	must(c.apply(&CreateVolume{Volume: Volume{ID: "vol-1", Account: "111", Zone: "us-east-1a", SizeGiB: 4}, Replicas: 2, LiveNodes: live}))
	c.apply(&ReportVolume{ID: "vol-1", Node: "a", Event: VolumeEventReady})
	c.apply(&ReportVolume{ID: "vol-1", Node: "b", Event: VolumeEventReady})
	must(c.apply(&CreateSnapshot{Snapshot: Snapshot{ID: "snap-1", Account: "111", VolumeID: "vol-1"}, LiveNodes: []string{"a"}}))
	s, _ := c.f.store.Snapshot("snap-1")
	if s.Node != "a" || s.Attempt != 1 {
		t.Fatalf("new snapshot %+v", s)
	}
	must(c.apply(&TakeOverSnapshot{ID: "snap-1", From: "a", LiveNodes: []string{"b"}}))
	s, _ = c.f.store.Snapshot("snap-1")
	if s.Node != "b" || s.Attempt != 2 || s.State != SnapshotPending || s.Progress != 0 {
		t.Fatalf("after the takeover %+v", s)
	}
	// The old box's reports are of an older attempt; a retry changes nothing.
	must(c.apply(&TakeOverSnapshot{ID: "snap-1", From: "a", LiveNodes: []string{"b"}}))
	if s2, _ := c.f.store.Snapshot("snap-1"); s2.Attempt != 2 || s2.Node != "b" {
		t.Fatalf("a retry moved it: %+v", s2)
	}
	s, _ = c.f.store.Snapshot("snap-1")
	if r := c.apply(&TakeOverSnapshot{ID: "snap-1", From: s.Node, LiveNodes: []string{s.Node}}); !errors.Is(r.Err, &Error{Code: CodeInsufficientCapacity}) {
		t.Fatalf("takeover with no other box: %v", r.Err)
	}
	// A deletion of the snapshot, on a box that then dies, moves too.
	must(c.apply(&ReportSnapshot{ID: "snap-1", Node: s.Node, Attempt: s.Attempt, State: SnapshotCompleted, Progress: 100, Manifest: "m"}))
	if s, _ = c.f.store.Snapshot("snap-1"); s.State != SnapshotCompleted {
		t.Fatalf("not completed: %+v", s)
	}
	must(c.apply(&TakeOverSnapshot{ID: "snap-1", From: s.Node, LiveNodes: live})) // completed: nothing to take over
	if s2, _ := c.f.store.Snapshot("snap-1"); s2.Attempt != s.Attempt {
		t.Fatalf("a completed snapshot was taken over: %+v", s2)
	}
	must(c.apply(&DeleteSnapshot{Account: "111", ID: "snap-1", LiveNodes: []string{"a"}}))
	obj, _ := c.f.store.ReadTxn().First(tableSnapshots, "id", "snap-1")
	s = obj.(*Snapshot)
	if s.State != SnapshotDeleting || s.Node != "a" {
		t.Fatalf("deleting %+v", s)
	}
	must(c.apply(&TakeOverSnapshot{ID: "snap-1", From: "a", LiveNodes: []string{"b"}}))
	obj, _ = c.f.store.ReadTxn().First(tableSnapshots, "id", "snap-1")
	if s2 := obj.(*Snapshot); s2.Node != "b" || s2.Attempt != s.Attempt+1 || s2.State != SnapshotDeleting {
		t.Fatalf("deletion after the takeover %+v", s2)
	}
}
