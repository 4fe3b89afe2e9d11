package state

import (
	"errors"
	"testing"
	"time"
)

// TestSnapshotLifecycle: the taker of a detached volume's snapshot is a live box with a
// copy; an attach hands a pending snapshot to the new primary as a new attempt, so the
// old taker's report is ignored; the next snapshot's parent is the last completed one,
// and a deleting snapshot stays needed while a volume made from it is not filled.
func TestSnapshotLifecycle(t *testing.T) {
	c := newComputeFSM(t,
		Box{Node: "a", Zone: "us-east-1a", VCPUs: 4, MemoryMiB: 8192, DiskGiB: 100},
		Box{Node: "b", Zone: "us-east-1a", VCPUs: 4, MemoryMiB: 8192, DiskGiB: 90})
	live := []string{"a", "b"}
	must := func(r *Result) {
		t.Helper()
		if r.Err != nil {
			t.Fatal(r.Err)
		}
	}
	must(c.apply(&CreateVolume{Volume: Volume{ID: "vol-1", Account: "111", Zone: "us-east-1a", SizeGiB: 4}, Replicas: 2, LiveNodes: live}))
	snap := func(id, vol string) *Result {
		return c.apply(&CreateSnapshot{Snapshot: Snapshot{ID: id, Account: "111", VolumeID: vol}, LiveNodes: []string{"b"}})
	}
	if r := snap("snap-1", "vol-1"); !errors.Is(r.Err, &Error{Code: CodeIncorrectState}) {
		t.Fatalf("snapshot of a creating volume: %v", r.Err)
	}
	c.apply(&ReportVolume{ID: "vol-1", Node: "a", Event: VolumeEventReady})
	c.apply(&ReportVolume{ID: "vol-1", Node: "b", Event: VolumeEventReady})
	must(snap("snap-1", "vol-1"))
	s, _ := c.f.store.Snapshot("snap-1")
	if s.Node != "b" || s.State != SnapshotPending || s.Attempt != 1 || s.VolumeSizeGiB != 4 {
		t.Fatalf("new snapshot %+v: want taken by the live box b", s)
	}

	// Attached meanwhile: the new primary takes it over.
	res, err := c.run(1, 1, "us-east-1a", []string{"a"})
	if err != nil {
		t.Fatal(err)
	}
	in, _ := c.f.store.Instance(res.IDs[0])
	c.apply(&ReportInstance{ID: in.ID, Node: in.Node, Generation: in.Generation, State: InstanceRunning})
	must(c.apply(&AttachVolume{Account: "111", VolumeID: "vol-1", InstanceID: in.ID, Device: "/dev/sdf", Now: time.Unix(2, 0)}))
	s, _ = c.f.store.Snapshot("snap-1")
	if s.Node != "a" || s.Attempt != 2 {
		t.Fatalf("after the attach the snapshot is %s's attempt %d, want a's attempt 2", s.Node, s.Attempt)
	}
	c.apply(&ReportSnapshot{ID: "snap-1", Node: "b", Attempt: 1, State: SnapshotCompleted, Manifest: "m"})
	if s, _ = c.f.store.Snapshot("snap-1"); s.State != SnapshotPending {
		t.Fatal("the old taker's report counted")
	}
	c.apply(&ReportSnapshot{ID: "snap-1", Node: "a", Attempt: 2, Progress: 50})
	c.apply(&ReportSnapshot{ID: "snap-1", Node: "a", Attempt: 2, Progress: 30})
	if s, _ = c.f.store.Snapshot("snap-1"); s.Progress != 50 {
		t.Fatalf("progress went back to %d", s.Progress)
	}
	must(c.apply(&ReportSnapshot{ID: "snap-1", Node: "a", Attempt: 2, State: SnapshotCompleted, Manifest: "manifests/snap-1", Extents: 1024, Uploaded: 7}))
	must(snap("snap-2", "vol-1"))
	if s, _ = c.f.store.Snapshot("snap-2"); s.Parent != "snap-1" || s.Node != "a" {
		t.Fatalf("second snapshot %+v: want parent snap-1, taken by the primary a", s)
	}

	// Volumes from it: not smaller, not by another account; the first snapshot of such
	// a volume is incremental to it.
	mk := func(id, account string, size int) *Result {
		return c.apply(&CreateVolume{Volume: Volume{ID: id, Account: account, Zone: "us-east-1a", SizeGiB: size, SnapshotID: "snap-1"}, Replicas: 2, LiveNodes: live})
	}
	if r := mk("vol-2", "111", 3); !errors.Is(r.Err, ErrInvalid) {
		t.Fatalf("a volume smaller than its snapshot: %v", r.Err)
	}
	if r := mk("vol-2", "222", 4); !errors.Is(r.Err, ErrNotFound) {
		t.Fatalf("another account's volume from the snapshot: %v", r.Err)
	}
	must(c.apply(&SetSnapshotAttribute{Account: "111", ID: "snap-1", Add: []string{"222"}}))
	must(mk("vol-2", "222", 8))
	c.apply(&ReportVolume{ID: "vol-2", Node: "a", Event: VolumeEventReady})
	c.apply(&ReportVolume{ID: "vol-2", Node: "b", Event: VolumeEventReady})
	must(c.apply(&CreateSnapshot{Snapshot: Snapshot{ID: "snap-3", Account: "222", VolumeID: "vol-2"}, LiveNodes: live}))
	if s, _ = c.f.store.Snapshot("snap-3"); s.Parent != "snap-1" {
		t.Fatalf("first snapshot of a volume made from snap-1 has parent %q", s.Parent)
	}

	// Deleting: hidden from its owner at once, kept while needed.
	must(c.apply(&DeleteSnapshot{Account: "111", ID: "snap-1", LiveNodes: live}))
	if r := c.apply(&DeleteSnapshot{Account: "111", ID: "snap-1", LiveNodes: live}); !errors.Is(r.Err, ErrNotFound) {
		t.Fatalf("deleting twice: %v", r.Err)
	}
	if needed, _, _ := c.f.store.SnapshotNeeded("snap-1"); !needed {
		t.Fatal("snap-1 not needed while snap-3 is taken from it and vol-2 fills from it")
	}
	c.apply(&ReportSnapshot{ID: "snap-2", Node: "a", Attempt: 1, State: SnapshotCompleted, Manifest: "manifests/snap-2"})
	c.apply(&ReportSnapshot{ID: "snap-3", Node: "a", Attempt: 1, State: SnapshotError, Message: "x"})
	if needed, _, _ := c.f.store.SnapshotNeeded("snap-1"); !needed {
		t.Fatal("snap-1 not needed while vol-2 fills from it")
	}
	c.apply(&ReportVolumeFilled{VolumeID: "vol-2", Node: "b", Epoch: 1}) // not its primary: ignored
	if needed, _, _ := c.f.store.SnapshotNeeded("snap-1"); !needed {
		t.Fatal("a report from a box that is not the primary counted")
	}
	must(c.apply(&DeleteVolume{Account: "222", ID: "vol-2"}))
	if needed, why, _ := c.f.store.SnapshotNeeded("snap-1"); needed {
		t.Fatalf("snap-1 still needed: %s", why)
	}
	s, _ = c.f.store.Snapshot("snap-1")
	must(c.apply(&ReportSnapshot{ID: "snap-1", Node: s.Node, Attempt: s.Attempt, Gone: true}))
	if _, err := c.f.store.Snapshot("snap-1"); !errors.Is(err, ErrNotFound) {
		t.Fatal("the record stayed")
	}
}
