package state

import (
	"errors"
	"slices"
	"testing"
	"time"
)

// TestRebuildVolumeCopy: a detached volume's copy on a dead box moves to the zone's other
// live box, which is named stale, and a box holding a copy in sync becomes the resync
// owner at a new epoch, released once the new copy is reported in sync; an attached
// volume keeps its primary and epoch. A retry, a live box, the box serving the
// attachment and a zone with no room left are refused or ignored.
func TestRebuildVolumeCopy(t *testing.T) {
	c := newComputeFSM(t,
		Box{Node: "a", Zone: "us-east-1a", VCPUs: 2, MemoryMiB: 2048, DiskGiB: 100},
		Box{Node: "b", Zone: "us-east-1a", VCPUs: 2, MemoryMiB: 2048, DiskGiB: 100},
		Box{Node: "c", Zone: "us-east-1a", VCPUs: 2, MemoryMiB: 2048, DiskGiB: 100},
		Box{Node: "d", Zone: "us-east-1b", VCPUs: 2, MemoryMiB: 2048, DiskGiB: 100})
	live := []string{"a", "b", "c", "d"}
	must := func(r *Result) *Result {
		t.Helper()
		if r.Err != nil {
			t.Fatal(r.Err)
		}
		return r
	}
	must(c.apply(&CreateVolume{Volume: Volume{ID: "vol-1", Account: "111", Zone: "us-east-1a", SizeGiB: 4}, Replicas: 2, LiveNodes: []string{"a", "b"}}))
	c.apply(&ReportVolume{ID: "vol-1", Node: "a", Event: VolumeEventReady})
	c.apply(&ReportVolume{ID: "vol-1", Node: "b", Event: VolumeEventReady})
	v, _ := c.f.store.Volume("vol-1")
	if v.State != VolumeAvailable || !slices.Equal(v.Replicas, []string{"a", "b"}) {
		t.Fatalf("volume %+v", v)
	}
	epoch := v.Epoch

	if r := c.apply(&RebuildVolumeCopy{ID: "vol-1", From: "b", LiveNodes: live}); !errors.Is(r.Err, &Error{Code: CodeIncorrectState}) {
		t.Fatalf("rebuild of a live box's copy: %v", r.Err)
	}
	down := []string{"a", "c", "d"}
	to := func(r *Result) string {
		t.Helper()
		var s string
		if err := Unmarshal(r.Value, &s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	r := must(c.apply(&RebuildVolumeCopy{ID: "vol-1", From: "b", LiveNodes: down, Now: time.Unix(9, 0)}))
	v, _ = c.f.store.Volume("vol-1")
	if to(r) != "c" || !slices.Equal(v.Replicas, []string{"a", "c"}) || !slices.Equal(v.Ready, []string{"a"}) || !slices.Equal(v.Stale, []string{"c"}) ||
		v.Primary != "a" || v.Epoch != epoch+1 || v.Attachment != nil || v.State != VolumeAvailable {
		t.Fatalf("after the rebuild (%v): %+v", to(r), v)
	}
	// A retry finds b holding nothing: no change.
	must(c.apply(&RebuildVolumeCopy{ID: "vol-1", From: "b", LiveNodes: down}))
	if w, _ := c.f.store.Volume("vol-1"); w.ModifyIndex != v.ModifyIndex {
		t.Fatalf("a retried rebuild changed the volume: %+v", w)
	}
	// The new copy is made, then resynced by the owner, which lets the volume go.
	c.apply(&ReportVolume{ID: "vol-1", Node: "c", Event: VolumeEventReady})
	must(c.apply(&ReportVolumeCopy{ID: "vol-1", Node: "a", Epoch: v.Epoch, Copy: "c", InSync: true}))
	v, _ = c.f.store.Volume("vol-1")
	if len(v.Stale) != 0 || v.Primary != "" || !slices.Contains(v.Ready, "c") || v.Epoch != epoch+1 {
		t.Fatalf("after the resync: %+v", v)
	}

	// Attached on a: a rebuild of c's copy keeps a as primary at its epoch.
	res, err := c.run(1, 1, "us-east-1a", []string{"a"})
	if err != nil {
		t.Fatal(err)
	}
	inst, _ := c.f.store.Instance(res.IDs[0])
	c.apply(&ReportInstance{ID: inst.ID, Node: inst.Node, Generation: inst.Generation, State: InstanceRunning})
	must(c.apply(&AttachVolume{Account: "111", VolumeID: "vol-1", InstanceID: res.IDs[0], Device: "/dev/sdf", Now: time.Unix(10, 0)}))
	v, _ = c.f.store.Volume("vol-1")
	if v.Primary != "a" {
		t.Fatalf("attached volume's primary %q", v.Primary)
	}
	if r := c.apply(&RebuildVolumeCopy{ID: "vol-1", From: "a", LiveNodes: []string{"b", "c"}}); !errors.Is(r.Err, &Error{Code: CodeIncorrectState}) {
		t.Fatalf("rebuild of the primary's own copy: %v", r.Err)
	}
	attached := v.Epoch
	r = must(c.apply(&RebuildVolumeCopy{ID: "vol-1", From: "c", LiveNodes: []string{"a", "b", "d"}}))
	v, _ = c.f.store.Volume("vol-1")
	if to(r) != "b" || !slices.Equal(v.Replicas, []string{"a", "b"}) || !slices.Equal(v.Stale, []string{"b"}) || v.Primary != "a" || v.Epoch != attached {
		t.Fatalf("rebuild of an attached volume (%v): %+v", to(r), v)
	}
	// The primary's report about the copy it dropped is nothing to record.
	must(c.apply(&ReportVolumeCopy{ID: "vol-1", Node: "a", Epoch: v.Epoch, Copy: "c"}))
	// No box left in the zone without a copy: refused, nothing changed.
	if r := c.apply(&RebuildVolumeCopy{ID: "vol-1", From: "b", LiveNodes: []string{"a", "d"}}); !errors.Is(r.Err, &Error{Code: CodeInsufficientCapacity}) {
		t.Fatalf("rebuild with no room: %v", r.Err)
	}
	if w, _ := c.f.store.Volume("vol-1"); !slices.Equal(w.Replicas, []string{"a", "b"}) {
		t.Fatalf("a refused rebuild changed the replicas: %v", w.Replicas)
	}
}

func TestRebuildAfterSetting(t *testing.T) {
	c := newComputeFSM(t)
	if d, on := c.f.store.RebuildAfter(); !on || d != DefaultRebuildAfter {
		t.Fatalf("default %v %v", d, on)
	}
	for v, want := range map[string]time.Duration{"5s": 5 * time.Second, "junk": DefaultRebuildAfter} {
		c.apply(&SetSetting{Key: SettingRebuildAfter, Value: v})
		if d, on := c.f.store.RebuildAfter(); !on || d != want {
			t.Fatalf("%s: %v %v", v, d, on)
		}
	}
	c.apply(&SetSetting{Key: SettingRebuildAfter, Value: "off"})
	if _, on := c.f.store.RebuildAfter(); on {
		t.Fatal("off is on")
	}
}
