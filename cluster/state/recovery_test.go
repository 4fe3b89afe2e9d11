package state

import (
	"errors"
	"slices"
	"testing"
	"time"
)

// TestRecoverInstance: an EBS-backed instance on a dead box moves to a live box of its
// zone with its ID, address and volumes; each volume gets the new box as its primary at a
// new epoch and names the old box's copy stale; the old primary's copy reports are
// refused from then on. An instance-store instance, one no longer on the box, and one
// with no room anywhere are left where they are.
func TestRecoverInstance(t *testing.T) {
	c := newComputeFSM(t,
		Box{Node: "a", Zone: "us-east-1a", VCPUs: 2, MemoryMiB: 2048, DiskGiB: 100},
		Box{Node: "b", Zone: "us-east-1a", VCPUs: 2, MemoryMiB: 2048, DiskGiB: 100},
		Box{Node: "c", Zone: "us-east-1b", VCPUs: 8, MemoryMiB: 8192, DiskGiB: 100})
	live := []string{"a", "b", "c"}
	must := func(r *Result) {
		t.Helper()
		if r.Err != nil {
			t.Fatal(r.Err)
		}
	}
	// Two EBS-backed instances in zone a (one per box) and one instance-store one.
	launch := func(id string, mem int) *Instance {
		t.Helper()
		in := Instance{ID: id, Account: "111", ReservationID: "r-" + id, InstanceType: "t3.micro", VCPUs: 1, MemoryMiB: mem, Zone: "us-east-1a",
			RootDeviceType: RootDeviceEBS, RootDeviceName: "/dev/xvda", BlockDevices: []BlockDevice{
				{DeviceName: "/dev/xvda", VolumeSizeGiB: 1, VolumeType: "gp3", DeleteOnTermination: true, VolumeID: "vol-root-" + id},
			}}
		must(c.apply(&RunInstances{Instances: []Instance{in}, MinCount: 1, LiveNodes: live, Now: time.Unix(5, 0), VolumeReplicas: 2}))
		got, _ := c.f.store.Instance(id)
		c.apply(&ReportInstance{ID: id, Node: got.Node, Generation: got.Generation, State: InstanceRunning})
		got, _ = c.f.store.Instance(id)
		return got
	}
	i1 := launch("i-1", 1024)
	i2 := launch("i-2", 1024)
	if i1.Node == i2.Node {
		t.Fatalf("both on %s", i1.Node)
	}
	must(c.apply(&RunInstances{Instances: []Instance{{ID: "i-store", Account: "111", ReservationID: "r-s", InstanceType: "t3.micro", VCPUs: 1, MemoryMiB: 256, Zone: "us-east-1a"}},
		MinCount: 1, LiveNodes: []string{i1.Node}, Now: time.Unix(5, 0)}))
	from := i1.Node
	to := i2.Node
	root, _ := c.f.store.Volume("vol-root-i-1")
	if root.Primary != from {
		t.Fatalf("root volume's primary %s, want %s", root.Primary, from)
	}
	// The primary reports its other copy out and back: Stale follows.
	other := root.Replicas[0]
	if other == from {
		other = root.Replicas[1]
	}
	must(c.apply(&ReportVolumeCopy{ID: root.ID, Node: from, Epoch: root.Epoch, Copy: other}))
	if v, _ := c.f.store.Volume(root.ID); !slices.Equal(v.Stale, []string{other}) {
		t.Fatalf("stale after a copy went out: %v", v.Stale)
	}
	must(c.apply(&ReportVolumeCopy{ID: root.ID, Node: from, Epoch: root.Epoch, Copy: other, InSync: true}))
	if v, _ := c.f.store.Volume(root.ID); len(v.Stale) != 0 {
		t.Fatalf("stale after the copy came back: %v", v.Stale)
	}
	if r := c.apply(&ReportVolumeCopy{ID: root.ID, Node: from, Epoch: root.Epoch, Copy: "zz", InSync: true}); !errors.Is(r.Err, ErrInvalid) {
		t.Fatalf("a report about a box with no copy: %v", r.Err)
	}
	// A copy the volume no longer has going out is nothing to record.
	if r := c.apply(&ReportVolumeCopy{ID: root.ID, Node: from, Epoch: root.Epoch, Copy: "zz"}); r.Err != nil {
		t.Fatalf("an out report about a box with no copy: %v", r.Err)
	}
	if v, _ := c.f.store.Volume(root.ID); len(v.Stale) != 0 {
		t.Fatalf("stale after a report about no copy: %v", v.Stale)
	}

	// Box "from" dies. Zone a's other box has room for i-1 (1 GiB of 2 used).
	live = slices.DeleteFunc(slices.Clone(live), func(n string) bool { return n == from })
	must(c.apply(&RecoverInstance{ID: "i-1", From: from, LiveNodes: live, Now: time.Unix(100, 0)}))
	in, _ := c.f.store.Instance("i-1")
	if in.Node != to || in.PrivateIP != i1.PrivateIP || in.MAC != i1.MAC || in.State != InstancePending || in.Desired != InstanceRunning ||
		in.Generation != i1.Generation+1 || in.Recovery == nil || in.Recovery.From != from || in.Recovery.To != to || in.TransitionReason == "" {
		t.Fatalf("recovered instance %+v", in)
	}
	v, _ := c.f.store.Volume(root.ID)
	if v.Primary != to || v.Epoch != root.Epoch+1 || v.Attachment.State != AttachmentAttaching || v.Attachment.InstanceID != "i-1" ||
		!slices.Contains(v.Stale, from) || v.State != VolumeInUse {
		t.Fatalf("root volume after the recovery %+v %+v", v, v.Attachment)
	}
	// The old primary is fenced in the state too: it can report nothing.
	if r := c.apply(&ReportVolumeCopy{ID: root.ID, Node: from, Epoch: root.Epoch, Copy: other}); !errors.Is(r.Err, &Error{Code: CodeStaleEpoch}) {
		t.Fatalf("a report from the replaced primary: %v", r.Err)
	}
	// A report from the old box about the instance is ignored (another box, older generation).
	c.apply(&ReportInstance{ID: "i-1", Node: from, Generation: i1.Generation, State: InstanceRunning})
	if in, _ := c.f.store.Instance("i-1"); in.State != InstancePending {
		t.Fatalf("the old box's report changed the recovered instance: %s", in.State)
	}
	// A retry of the same recovery changes nothing.
	must(c.apply(&RecoverInstance{ID: "i-1", From: from, LiveNodes: live, Now: time.Unix(101, 0)}))
	if v2, _ := c.f.store.Volume(root.ID); v2.Epoch != v.Epoch {
		t.Fatalf("a second recovery raised the epoch to %d", v2.Epoch)
	}

	// The instance-store instance stays on its box.
	if r := c.apply(&RecoverInstance{ID: "i-store", From: from, LiveNodes: live, Now: time.Unix(100, 0)}); !errors.Is(r.Err, &Error{Code: CodeIncorrectState}) {
		t.Fatalf("recovering an instance-store instance: %v", r.Err)
	}
	// i-2's box dies too: zone a has no live box left, and c is in another zone.
	if r := c.apply(&RecoverInstance{ID: "i-2", From: to, LiveNodes: []string{"c"}, Now: time.Unix(100, 0)}); !errors.Is(r.Err, &Error{Code: CodeInsufficientCapacity}) {
		t.Fatalf("recovering with no box in the zone: %v", r.Err)
	}
	if in, _ := c.f.store.Instance("i-2"); in.Node != to {
		t.Fatalf("a failed recovery moved the instance to %s", in.Node)
	}
	if r := c.apply(&RecoverInstance{ID: "i-none", From: to, LiveNodes: live}); !errors.Is(r.Err, ErrNotFound) {
		t.Fatalf("recovering a missing instance: %v", r.Err)
	}
}

func TestRecoveryAfterSetting(t *testing.T) {
	for v, want := range map[string]time.Duration{"5s": 5 * time.Second, "2m": 2 * time.Minute, "junk": DefaultRecoveryAfter} {
		if d, ok := parseRecoveryAfter(v); !ok || d != want {
			t.Errorf("%q: %v %v, want %v", v, d, ok, want)
		}
	}
	if _, ok := parseRecoveryAfter("off"); ok {
		t.Error("off is on")
	}
	if ValidateSetting(SettingRecoveryAfter, "soon") == nil || ValidateSetting(SettingRecoveryAfter, "-1s") == nil {
		t.Error("a bad duration was accepted")
	}
	if ValidateSetting(SettingRecoveryAfter, "10s") != nil || ValidateSetting(SettingRecoveryAfter, "off") != nil {
		t.Error("a good value was refused")
	}
}
