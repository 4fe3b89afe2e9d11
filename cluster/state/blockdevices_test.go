package state

import (
	"errors"
	"testing"
	"time"
)

// TestBootFromVolume: RunInstances of an EBS launch makes its volumes in the same apply,
// in the instance's zone, attached with the instance's box as the primary; a snapshot
// that is too large for its volume fails the whole call; termination deletes the
// DeleteOnTermination volumes and leaves the others available; CreateImage snapshots
// every attached volume and the image becomes available when they complete; a
// snapshot an image maps cannot be deleted.
func TestBootFromVolume(t *testing.T) {
	c := newComputeFSM(t,
		Box{Node: "a", Zone: "us-east-1a", VCPUs: 4, MemoryMiB: 8192, DiskGiB: 100},
		Box{Node: "b", Zone: "us-east-1a", VCPUs: 4, MemoryMiB: 8192, DiskGiB: 100})
	live := []string{"a", "b"}
	must := func(r *Result) {
		t.Helper()
		if r.Err != nil {
			t.Fatal(r.Err)
		}
	}
	// A completed snapshot of 2 GiB to boot from.
	must(c.apply(&CreateVolume{Volume: Volume{ID: "vol-src", Account: "111", Zone: "us-east-1a", SizeGiB: 2}, Replicas: 2, LiveNodes: live}))
	c.apply(&ReportVolume{ID: "vol-src", Node: "a", Event: VolumeEventReady})
	c.apply(&ReportVolume{ID: "vol-src", Node: "b", Event: VolumeEventReady})
	must(c.apply(&CreateSnapshot{Snapshot: Snapshot{ID: "snap-root", Account: "111", VolumeID: "vol-src"}, LiveNodes: live}))
	s, _ := c.f.store.Snapshot("snap-root")
	must(c.apply(&ReportSnapshot{ID: s.ID, Node: s.Node, Attempt: s.Attempt, State: SnapshotCompleted, Manifest: "m"}))

	launch := func(id string, rootGiB int) *Result {
		in := Instance{ID: id, Account: "111", ReservationID: "r-" + id, InstanceType: "t3.micro", VCPUs: 1, MemoryMiB: 512,
			RootDeviceType: RootDeviceEBS, RootDeviceName: "/dev/xvda", BlockDevices: []BlockDevice{
				{DeviceName: "/dev/xvda", SnapshotID: "snap-root", VolumeSizeGiB: rootGiB, VolumeType: "gp3", DeleteOnTermination: true, VolumeID: "vol-root-" + id},
				{DeviceName: "/dev/sdf", VolumeSizeGiB: 1, VolumeType: "gp2", VolumeID: "vol-data-" + id},
			}}
		return c.apply(&RunInstances{Instances: []Instance{in}, MinCount: 1, LiveNodes: live, Now: time.Unix(5, 0), VolumeReplicas: 2})
	}
	if r := launch("i-small", 1); !errors.Is(r.Err, ErrInvalid) {
		t.Fatalf("a root volume smaller than its snapshot: %v", r.Err)
	}
	if _, err := c.f.store.Instance("i-small"); err == nil {
		t.Fatal("the refused launch left its instance")
	}
	if _, err := c.f.store.Volume("vol-data-i-small"); err == nil {
		t.Fatal("the refused launch left a volume")
	}
	must(launch("i-1", 4))
	in, _ := c.f.store.Instance("i-1")
	vols, err := c.f.store.InstanceVolumes("111", "i-1")
	if err != nil || len(vols) != 2 {
		t.Fatalf("volumes of the instance: %v %v", vols, err)
	}
	root, data := vols[1], vols[0] // by device: /dev/sdf, /dev/xvda
	if root.ID != "vol-root-i-1" || root.SizeGiB != 4 || root.SnapshotID != "snap-root" || root.State != VolumeInUse ||
		root.Primary != in.Node || root.Epoch != 2 || root.Attachment.State != AttachmentAttaching || !root.Attachment.DeleteOnTermination ||
		root.Zone != in.Zone || len(root.Replicas) != 2 {
		t.Fatalf("root volume %+v (attachment %+v)", root, root.Attachment)
	}
	if data.Attachment.Device != "/dev/sdf" || data.Attachment.DeleteOnTermination || data.SnapshotID != "" {
		t.Fatalf("data volume %+v", data)
	}
	// Replicas report ready: the volume stays in-use.
	for _, n := range root.Replicas {
		c.apply(&ReportVolume{ID: root.ID, Node: n, Event: VolumeEventReady})
	}
	c.apply(&ReportVolume{ID: root.ID, Node: in.Node, Epoch: 2, Event: VolumeEventAttached})
	if v, _ := c.f.store.Volume(root.ID); v.State != VolumeInUse || v.Attachment.State != AttachmentAttached {
		t.Fatalf("root after its replicas and the attach: %s %+v", v.State, v.Attachment)
	}
	c.apply(&ReportInstance{ID: in.ID, Node: in.Node, Generation: in.Generation, State: InstanceRunning})
	if r := c.apply(&DetachVolume{Account: "111", VolumeID: root.ID}); !errors.Is(r.Err, &Error{Code: CodeIncorrectState}) {
		t.Fatalf("detaching the root volume of a running instance: %v", r.Err)
	}
	must(c.apply(&DetachVolume{Account: "111", VolumeID: data.ID}))
	if v, _ := c.f.store.Volume(data.ID); v.Attachment.State != AttachmentDetaching {
		t.Fatalf("data volume after its detach: %+v", v.Attachment)
	}
	c.apply(&ReportVolume{ID: data.ID, Node: in.Node, Epoch: data.Epoch, Event: VolumeEventDetached})
	must(c.apply(&AttachVolume{Account: "111", VolumeID: data.ID, InstanceID: in.ID, Device: "/dev/sdf", Now: time.Unix(6, 0)}))

	// ModifyInstanceAttribute: keep the root, delete the data volume on termination.
	if r := c.apply(&SetDeleteOnTermination{Account: "111", InstanceID: "i-1", Devices: map[string]bool{"/dev/sdz": true}}); !errors.Is(r.Err, &Error{Code: CodeInvalidBlockDeviceMapping}) {
		t.Fatalf("an unmapped device: %v", r.Err)
	}

	// CreateImage: a snapshot of each volume; pending until both complete.
	if r := c.apply(&CreateImage{Image: Image{ID: "ami-1", Account: "111", Name: "img"}, InstanceID: "i-1", SnapshotIDs: []string{"snap-a"}, LiveNodes: live}); !errors.Is(r.Err, ErrInvalid) {
		t.Fatalf("too few snapshot IDs: %v", r.Err)
	}
	must(c.apply(&CreateImage{Image: Image{ID: "ami-1", Account: "111", Name: "img"}, InstanceID: "i-1", SnapshotIDs: []string{"snap-a", "snap-b"}, LiveNodes: live, Now: time.Unix(9, 0)}))
	im, _ := c.f.store.Image("ami-1")
	if im.State != ImagePending || im.RootDeviceType() != RootDeviceEBS || im.RootDeviceName != "/dev/xvda" || len(im.BlockDevices) != 2 ||
		im.RootDevice().SnapshotID != "snap-b" || im.RootDevice().VolumeSizeGiB != 4 {
		t.Fatalf("image %+v", im)
	}
	for _, id := range []string{"snap-a", "snap-b"} {
		s, _ := c.f.store.Snapshot(id)
		if s.Node != in.Node {
			t.Fatalf("%s taken by %s, not the instance's box %s", id, s.Node, in.Node)
		}
		must(c.apply(&ReportSnapshot{ID: id, Node: s.Node, Attempt: s.Attempt, State: SnapshotCompleted, Manifest: "m"}))
		im, _ = c.f.store.Image("ami-1")
		if want := map[string]string{"snap-a": ImagePending, "snap-b": ImageAvailable}[id]; im.State != want {
			t.Fatalf("image after %s completed: %s, want %s", id, im.State, want)
		}
	}
	if r := c.apply(&DeleteSnapshot{Account: "111", ID: "snap-b", LiveNodes: live}); !errors.Is(r.Err, &Error{Code: CodeSnapshotInUse}) {
		t.Fatalf("deleting a snapshot an image maps: %v", r.Err)
	}
	if r := c.apply(&CreateImage{Image: Image{ID: "ami-2", Account: "111", Name: "img2"}, InstanceID: "i-missing", SnapshotIDs: []string{"x"}, LiveNodes: live}); !errors.Is(r.Err, ErrNotFound) {
		t.Fatalf("CreateImage of a missing instance: %v", r.Err)
	}

	must(c.apply(&SetDeleteOnTermination{Account: "111", InstanceID: "i-1", Devices: map[string]bool{"/dev/xvda": false, "/dev/sdf": true}}))
	must(c.apply(&SetInstances{Account: "111", IDs: []string{"i-1"}, Action: ActionTerminate, Now: time.Unix(10, 0)}))
	in, _ = c.f.store.Instance("i-1")
	c.apply(&ReportInstance{ID: in.ID, Node: in.Node, Generation: in.Generation, State: InstanceTerminated})
	if v, _ := c.f.store.Volume(root.ID); v.State != VolumeAvailable || v.Attachment != nil || v.Primary != "" {
		t.Fatalf("kept root after termination: %+v", v)
	}
	if v, _ := c.f.store.Volume(data.ID); v.State != VolumeDeleting {
		t.Fatalf("data volume after termination: %s, want deleting", v.State)
	}
}

// TestImageRootDevice: imported images and old instance records are instance-store with
// /dev/sda1; an image is EBS-backed only when its root mapping names a snapshot.
func TestImageRootDevice(t *testing.T) {
	if typ := (&Image{}).RootDeviceType(); typ != RootDeviceInstanceStore {
		t.Fatalf("an imported image is %s", typ)
	}
	im := &Image{RootDeviceName: "/dev/xvda", BlockDevices: []BlockDevice{{DeviceName: "/dev/sdf", SnapshotID: "snap-1"}}}
	if im.RootDeviceType() != RootDeviceInstanceStore {
		t.Fatal("a snapshot on a non-root device made the image EBS-backed")
	}
	im.BlockDevices = append(im.BlockDevices, BlockDevice{DeviceName: "/dev/xvda", SnapshotID: "snap-2"})
	if im.RootDeviceType() != RootDeviceEBS || im.RootDevice().SnapshotID != "snap-2" {
		t.Fatal("root mapping with a snapshot not seen")
	}
	if typ, name := (&Instance{}).RootDevice(); typ != RootDeviceInstanceStore || name != "/dev/sda1" {
		t.Fatalf("an old instance record: %s %s", typ, name)
	}
}
