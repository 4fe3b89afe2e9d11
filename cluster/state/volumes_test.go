package state

import (
	"errors"
	"slices"
	"testing"
	"time"
)

func TestVolumeLifecycle(t *testing.T) {
	c := newComputeFSM(t,
		Box{Node: "a", Zone: "us-east-1a", VCPUs: 4, MemoryMiB: 8192, DiskGiB: 100},
		Box{Node: "b", Zone: "us-east-1a", VCPUs: 4, MemoryMiB: 8192, DiskGiB: 50},
		Box{Node: "c", Zone: "us-east-1a", VCPUs: 4, MemoryMiB: 8192, DiskGiB: 80},
		Box{Node: "d", Zone: "us-east-1b", VCPUs: 4, MemoryMiB: 8192, DiskGiB: 500})
	live := []string{"a", "b", "c", "d"}
	create := func(id string, size, replicas int, live []string) error {
		if r := c.apply(&CreateVolume{Volume: Volume{ID: id, Account: "111", Zone: "us-east-1a", SizeGiB: size}, Replicas: replicas, LiveNodes: live}); r.Err != nil {
			return r.Err
		}
		return nil
	}

	// Replicas on distinct live boxes of the zone, the emptiest first.
	if err := create("vol-1", 40, 2, live); err != nil {
		t.Fatal(err)
	}
	v, _ := c.f.store.Volume("vol-1")
	if !slices.Equal(v.Replicas, []string{"a", "c"}) || v.State != VolumeCreating || v.Epoch != 1 {
		t.Fatalf("vol-1: %+v", v)
	}
	// A dead box is passed over; a zone without room is InsufficientCapacity.
	if err := create("vol-2", 20, 3, []string{"a", "b"}); err != nil {
		t.Fatal(err)
	}
	if v, _ := c.f.store.Volume("vol-2"); !slices.Equal(v.Replicas, []string{"a", "b"}) {
		t.Fatalf("vol-2 replicas %v", v.Replicas)
	}
	if err := create("vol-3", 90, 2, live); !errors.Is(err, &Error{Code: CodeInsufficientCapacity}) {
		t.Fatalf("a volume larger than any box's room: %v", err)
	}

	// Available once every replica reported its copy.
	c.apply(&ReportVolume{ID: "vol-1", Node: "a", Event: VolumeEventReady})
	c.apply(&ReportVolume{ID: "vol-1", Node: "d", Event: VolumeEventReady}) // not a replica: ignored
	if v, _ := c.f.store.Volume("vol-1"); v.State != VolumeCreating {
		t.Fatalf("available with one of two replicas: %+v", v)
	}
	c.apply(&ReportVolume{ID: "vol-1", Node: "c", Event: VolumeEventReady})
	if v, _ := c.f.store.Volume("vol-1"); v.State != VolumeAvailable {
		t.Fatalf("not available with both replicas: %+v", v)
	}

	// Attach to a running instance in the zone: its box is the primary, a new epoch.
	res, err := c.run(1, 1, "us-east-1a", []string{"b"})
	if err != nil {
		t.Fatal(err)
	}
	id := res.IDs[0]
	if r := c.apply(&AttachVolume{Account: "111", VolumeID: "vol-1", InstanceID: id, Device: "/dev/sdf", Now: time.Unix(2, 0)}); !errors.Is(r.Err, &Error{Code: CodeIncorrectInstanceState}) {
		t.Fatalf("attach to a pending instance: %v", r.Err)
	}
	in, _ := c.f.store.Instance(id)
	c.apply(&ReportInstance{ID: id, Node: in.Node, Generation: in.Generation, State: InstanceRunning})
	if r := c.apply(&AttachVolume{Account: "222", VolumeID: "vol-1", InstanceID: id, Device: "/dev/sdf"}); !errors.Is(r.Err, ErrNotFound) {
		t.Fatalf("another account's attach: %v", r.Err)
	}
	if r := c.apply(&AttachVolume{Account: "111", VolumeID: "vol-1", InstanceID: id, Device: "/dev/sdf", Now: time.Unix(2, 0)}); r.Err != nil {
		t.Fatal(r.Err)
	}
	v, _ = c.f.store.Volume("vol-1")
	if v.State != VolumeInUse || v.Primary != "b" || v.Epoch != 2 || v.Attachment.State != AttachmentAttaching {
		t.Fatalf("attached: %+v %+v", v, v.Attachment)
	}
	if r := c.apply(&DeleteVolume{Account: "111", ID: "vol-1"}); !errors.Is(r.Err, &Error{Code: CodeIncorrectState}) {
		t.Fatalf("delete while attached: %v", r.Err)
	}
	// Only the primary's report of the current epoch counts.
	c.apply(&ReportVolume{ID: "vol-1", Node: "a", Epoch: 2, Event: VolumeEventAttached})
	c.apply(&ReportVolume{ID: "vol-1", Node: "b", Epoch: 1, Event: VolumeEventAttached})
	if v, _ := c.f.store.Volume("vol-1"); v.Attachment.State != AttachmentAttaching {
		t.Fatalf("a stale or foreign report changed the attachment: %+v", v.Attachment)
	}
	c.apply(&ReportVolume{ID: "vol-1", Node: "b", Epoch: 2, Event: VolumeEventAttached})
	if v, _ := c.f.store.Volume("vol-1"); v.Attachment.State != AttachmentAttached {
		t.Fatalf("attachment: %+v", v.Attachment)
	}

	// Detach, then delete: the record goes when the last replica dropped its copy.
	if r := c.apply(&DetachVolume{Account: "111", VolumeID: "vol-1"}); r.Err != nil {
		t.Fatal(r.Err)
	}
	c.apply(&ReportVolume{ID: "vol-1", Node: "b", Epoch: 2, Event: VolumeEventDetached})
	if v, _ := c.f.store.Volume("vol-1"); v.State != VolumeAvailable || v.Attachment != nil || v.Primary != "" {
		t.Fatalf("detached: %+v", v)
	}
	if r := c.apply(&DeleteVolume{Account: "111", ID: "vol-1"}); r.Err != nil {
		t.Fatal(r.Err)
	}
	c.apply(&ReportVolume{ID: "vol-1", Node: "a", Event: VolumeEventGone})
	if _, err := c.f.store.Volume("vol-1"); err != nil {
		t.Fatalf("gone after one replica of two: %v", err)
	}
	c.apply(&ReportVolume{ID: "vol-1", Node: "c", Event: VolumeEventGone})
	if _, err := c.f.store.Volume("vol-1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("still there after both replicas dropped it: %v", err)
	}
}

// TestVolumesOfATerminatedInstance: its volumes are detached (available again), and
// those marked DeleteOnTermination go.
func TestVolumesOfATerminatedInstance(t *testing.T) {
	c := newComputeFSM(t, Box{Node: "a", Zone: "us-east-1a", VCPUs: 4, MemoryMiB: 8192, DiskGiB: 100})
	res, err := c.run(1, 1, "us-east-1a", []string{"a"})
	if err != nil {
		t.Fatal(err)
	}
	id := res.IDs[0]
	in, _ := c.f.store.Instance(id)
	c.apply(&ReportInstance{ID: id, Node: "a", Generation: in.Generation, State: InstanceRunning})
	for i, vid := range []string{"vol-keep", "vol-drop"} {
		c.apply(&CreateVolume{Volume: Volume{ID: vid, Account: "111", Zone: "us-east-1a", SizeGiB: 1}, Replicas: 1, LiveNodes: []string{"a"}})
		c.apply(&ReportVolume{ID: vid, Node: "a", Event: VolumeEventReady})
		if r := c.apply(&AttachVolume{Account: "111", VolumeID: vid, InstanceID: id, Device: "/dev/sd" + string(rune('f'+i))}); r.Err != nil {
			t.Fatal(r.Err)
		}
	}
	// Mark one DeleteOnTermination, as RunInstances' block device mappings will.
	v, _ := c.f.store.Volume("vol-drop")
	nv := *v
	a := *v.Attachment
	a.DeleteOnTermination = true
	nv.Attachment = &a
	tx := &Txn{Txn: c.f.store.db.Load().Txn(true), Index: 999}
	tx.putVolume(&nv)
	tx.Commit()

	c.apply(&SetInstances{Account: "111", IDs: []string{id}, Action: ActionTerminate})
	in, _ = c.f.store.Instance(id)
	c.apply(&ReportInstance{ID: id, Node: "a", Generation: in.Generation, State: InstanceTerminated})
	if v, _ := c.f.store.Volume("vol-keep"); v.State != VolumeAvailable || v.Attachment != nil || v.Primary != "" {
		t.Fatalf("volume of a terminated instance: %+v", v)
	}
	if v, _ := c.f.store.Volume("vol-drop"); v.State != VolumeDeleting {
		t.Fatalf("DeleteOnTermination volume of a terminated instance: %+v", v)
	}
}
