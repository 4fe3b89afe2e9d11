package state

import (
	"errors"
	"testing"
	"time"
)

// modFSM is a compute FSM with one available 10 GiB gp2 volume, vol-1, of account 111
// on boxes a and b.
func modFSM(t *testing.T) *computeFSM {
	t.Helper()
	c := newComputeFSM(t,
		Box{Node: "a", Zone: "us-east-1a", VCPUs: 4, MemoryMiB: 8192, DiskGiB: 100},
		Box{Node: "b", Zone: "us-east-1a", VCPUs: 4, MemoryMiB: 8192, DiskGiB: 30})
	if r := c.apply(&CreateVolume{Volume: Volume{ID: "vol-1", Account: "111", Zone: "us-east-1a", SizeGiB: 10, VolumeType: "gp2", Iops: 100},
		Replicas: 2, LiveNodes: []string{"a", "b"}}); r.Err != nil {
		t.Fatal(r.Err)
	}
	for _, n := range []string{"a", "b"} {
		c.apply(&ReportVolume{ID: "vol-1", Node: n, Event: VolumeEventReady})
	}
	return c
}

func (c *computeFSM) mod(id string) *VolumeModification {
	c.t.Helper()
	m, err := c.f.store.VolumeModification(id)
	if err != nil {
		c.t.Fatal(err)
	}
	return m
}

func wantModCode(t *testing.T, r *Result, code Code, what string) {
	t.Helper()
	if !errors.Is(r.Err, &Error{Code: code}) {
		t.Fatalf("%s: got %v, want %s", what, r.Err, code)
	}
}

func TestModifyVolumeDetached(t *testing.T) {
	c := modFSM(t)
	t0 := time.Unix(1000, 0)
	if _, err := c.f.store.VolumeModification("vol-1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a volume never modified: %v", err)
	}
	wantModCode(t, c.apply(&ModifyVolume{Account: "222", VolumeID: "vol-1", TargetSizeGiB: 20, TargetType: "gp2", TargetIops: 100, Now: t0}), CodeNotFound, "another account's volume")
	wantModCode(t, c.apply(&ModifyVolume{Account: "111", VolumeID: "vol-9", TargetSizeGiB: 20, TargetType: "gp2", TargetIops: 100, Now: t0}), CodeNotFound, "no such volume")
	wantModCode(t, c.apply(&ModifyVolume{Account: "111", VolumeID: "vol-1", TargetSizeGiB: 5, TargetType: "gp2", TargetIops: 100, Now: t0}), CodeInvalid, "shrinking")
	wantModCode(t, c.apply(&ModifyVolume{Account: "111", VolumeID: "vol-1", TargetSizeGiB: 10, TargetType: "gp2", TargetIops: 100, Now: t0}), CodeInvalid, "no change")
	// Box b holds 10 GiB of its 30: growing by 25 does not fit.
	wantModCode(t, c.apply(&ModifyVolume{Account: "111", VolumeID: "vol-1", TargetSizeGiB: 35, TargetType: "gp2", TargetIops: 100, Now: t0}), CodeInsufficientCapacity, "no room")

	if r := c.apply(&ModifyVolume{Account: "111", VolumeID: "vol-1", TargetSizeGiB: 20, TargetType: "gp3", TargetIops: 3000, TargetThroughput: 125,
		Now: t0, MinInterval: 6 * time.Hour}); r.Err != nil {
		t.Fatal(r.Err)
	}
	m := c.mod("vol-1")
	if m.State != ModificationModifying || m.OriginalSizeGiB != 10 || m.TargetSizeGiB != 20 || m.OriginalType != "gp2" ||
		m.TargetType != "gp3" || m.OriginalIops != 100 || m.TargetIops != 3000 || m.Progress != 0 || !m.StartTime.Equal(t0) {
		t.Fatalf("started: %+v", m)
	}
	if v, _ := c.f.store.Volume("vol-1"); v.SizeGiB != 10 || v.VolumeType != "gp2" {
		t.Fatalf("the volume changed before its copies grew: %+v", v)
	}
	wantModCode(t, c.apply(&ModifyVolume{Account: "111", VolumeID: "vol-1", TargetSizeGiB: 30, TargetType: "gp2", TargetIops: 100, Now: t0.Add(time.Minute)}),
		CodeIncorrectModificationState, "a second modification while one is in progress")

	// A box that is no replica, or the primary's report of a detached volume, count for nothing.
	c.apply(&ReportVolumeModification{VolumeID: "vol-1", Node: "z", Event: ModEventGrown})
	c.apply(&ReportVolumeModification{VolumeID: "vol-1", Node: "a", Epoch: 1, Event: ModEventPrimary})
	c.apply(&ReportVolumeModification{VolumeID: "vol-1", Node: "a", Event: ModEventGrown})
	c.apply(&ReportVolumeModification{VolumeID: "vol-1", Node: "a", Event: ModEventGrown}) // again: once
	if m := c.mod("vol-1"); m.State != ModificationModifying || m.Progress != 45 || len(m.Grown) != 1 {
		t.Fatalf("one copy of two grown: %+v", m)
	}
	c.apply(&ReportVolumeModification{VolumeID: "vol-1", Node: "a", Event: ModEventOptimized, Now: t0}) // too early: ignored
	c.apply(&ReportVolumeModification{VolumeID: "vol-1", Node: "b", Event: ModEventGrown})
	if m := c.mod("vol-1"); m.State != ModificationOptimizing || m.Progress != 90 {
		t.Fatalf("every copy grown: %+v", m)
	}
	v, _ := c.f.store.Volume("vol-1")
	if v.SizeGiB != 20 || v.VolumeType != "gp3" || v.Iops != 3000 || v.Throughput != 125 {
		t.Fatalf("optimizing, the volume has its targets: %+v", v)
	}
	end := t0.Add(2 * time.Minute)
	c.apply(&ReportVolumeModification{VolumeID: "vol-1", Node: "b", Event: ModEventOptimized, Now: end})
	if m := c.mod("vol-1"); m.State != ModificationCompleted || m.Progress != 100 || !m.EndTime.Equal(end) {
		t.Fatalf("completed: %+v", m)
	}

	// Six hours from the start of the last one, not before.
	wantModCode(t, c.apply(&ModifyVolume{Account: "111", VolumeID: "vol-1", TargetSizeGiB: 25, TargetType: "gp3", TargetIops: 3000, TargetThroughput: 125, Now: t0.Add(5 * time.Hour), MinInterval: 6 * time.Hour}),
		CodeVolumeModificationRateExceeded, "a modification within six hours")
	if r := c.apply(&ModifyVolume{Account: "111", VolumeID: "vol-1", TargetSizeGiB: 25, TargetType: "gp3", TargetIops: 3000, TargetThroughput: 125, Now: t0.Add(6 * time.Hour), MinInterval: 6 * time.Hour}); r.Err != nil {
		t.Fatal(r.Err)
	}
	if m := c.mod("vol-1"); m.State != ModificationModifying || m.OriginalSizeGiB != 20 || m.TargetSizeGiB != 25 || m.OriginalType != "gp3" || len(m.Grown) != 0 {
		t.Fatalf("the next modification starts afresh: %+v", m)
	}
}

func TestModifyVolumeTypeOnlyNeedsNoBox(t *testing.T) {
	c := modFSM(t)
	if r := c.apply(&ModifyVolume{Account: "111", VolumeID: "vol-1", TargetSizeGiB: 10, TargetType: "gp3", TargetIops: 3000, TargetThroughput: 125, Now: time.Unix(1, 0)}); r.Err != nil {
		t.Fatal(r.Err)
	}
	if m := c.mod("vol-1"); m.State != ModificationOptimizing || m.TargetSizeGiB != 10 {
		t.Fatalf("a type change has no copy to grow: %+v", m)
	}
	if v, _ := c.f.store.Volume("vol-1"); v.VolumeType != "gp3" {
		t.Fatalf("type: %+v", v)
	}
}

func TestModifyVolumeAttached(t *testing.T) {
	c := modFSM(t)
	res, err := c.run(1, 1, "us-east-1a", []string{"a"})
	if err != nil {
		t.Fatal(err)
	}
	id := res.IDs[0]
	in, _ := c.f.store.Instance(id)
	c.apply(&ReportInstance{ID: id, Node: in.Node, Generation: in.Generation, State: InstanceRunning})
	if r := c.apply(&AttachVolume{Account: "111", VolumeID: "vol-1", InstanceID: id, Device: "/dev/sdf"}); r.Err != nil {
		t.Fatal(r.Err)
	}
	v, _ := c.f.store.Volume("vol-1")
	if r := c.apply(&ModifyVolume{Account: "111", VolumeID: "vol-1", TargetSizeGiB: 12, TargetType: "gp2", TargetIops: 100, Now: time.Unix(1, 0)}); r.Err != nil {
		t.Fatal(r.Err)
	}
	// Both copies grown is not enough while attached: the volume the guest is served
	// must be grown by its primary, at the current epoch.
	c.apply(&ReportVolumeModification{VolumeID: "vol-1", Node: "a", Event: ModEventGrown})
	c.apply(&ReportVolumeModification{VolumeID: "vol-1", Node: "b", Event: ModEventGrown})
	if m := c.mod("vol-1"); m.State != ModificationModifying || m.Progress != 60 {
		t.Fatalf("copies grown, primary not yet: %+v", m)
	}
	c.apply(&ReportVolumeModification{VolumeID: "vol-1", Node: v.Primary, Epoch: v.Epoch - 1, Event: ModEventPrimary})
	c.apply(&ReportVolumeModification{VolumeID: "vol-1", Node: "b", Epoch: v.Epoch, Event: ModEventPrimary})
	if m := c.mod("vol-1"); m.State != ModificationModifying {
		t.Fatalf("a stale or foreign primary report counted: %+v", m)
	}
	c.apply(&ReportVolumeModification{VolumeID: "vol-1", Node: v.Primary, Epoch: v.Epoch, Event: ModEventPrimary, Message: "at the next start"})
	if m := c.mod("vol-1"); m.State != ModificationOptimizing || m.StatusMessage != "at the next start" {
		t.Fatalf("primary grown: %+v", m)
	}
	if v, _ := c.f.store.Volume("vol-1"); v.SizeGiB != 12 {
		t.Fatalf("size: %d", v.SizeGiB)
	}
}

func TestVolumeAutoEnableIO(t *testing.T) {
	c := modFSM(t)
	wantModCode(t, c.apply(&SetVolumeAttribute{Account: "222", VolumeID: "vol-1", AutoEnableIO: true}), CodeNotFound, "another account's volume")
	if r := c.apply(&SetVolumeAttribute{Account: "111", VolumeID: "vol-1", AutoEnableIO: true}); r.Err != nil {
		t.Fatal(r.Err)
	}
	if v, _ := c.f.store.Volume("vol-1"); !v.AutoEnableIO {
		t.Fatal("autoEnableIO not set")
	}
}
