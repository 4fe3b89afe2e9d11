package node

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/banyancloud/banyan/cluster/state"
)

// TestInstanceControllerBootsFromVolume: an EBS-backed instance waits until its launch
// volumes' copies are made, then is defined with its root volume served over NBD as vda
// (no root disk file) and its other volume as vdf, started, and its volumes reported
// attached; stopped, it keeps them; started again, it is served again first.
func TestInstanceControllerBootsFromVolume(t *testing.T) {
	f := newControllerFixture(t)
	data := &fakeVolumeData{replicas: map[string]int64{}, exports: map[string]uint64{}}
	f.c.volumes = data
	f.apply(&state.ReportBox{Box: state.Box{Node: "box1", Zone: "us-east-1a", VCPUs: 4, MemoryMiB: 4096, DiskGiB: 100, Hypervisor: state.HypervisorUp}})
	f.apply(&state.RunInstances{MinCount: 1, Instances: []state.Instance{{ID: "i-1", Account: f.acct, ImageID: "ami-1",
		VCPUs: 1, MemoryMiB: 256, MAC: "02:00:00:00:00:01", ReservationID: "r-1",
		RootDeviceType: state.RootDeviceEBS, RootDeviceName: "/dev/xvda", BlockDevices: []state.BlockDevice{
			{DeviceName: "/dev/xvda", VolumeSizeGiB: 1, VolumeType: "gp3", DeleteOnTermination: true, VolumeID: "vol-root"},
			{DeviceName: "/dev/sdf", VolumeSizeGiB: 1, VolumeType: "gp3", VolumeID: "vol-data"}}}},
		LiveNodes: []string{"box1"}, VolumeReplicas: 1, Now: time.Unix(1, 0)})

	if err := f.c.Reconcile(f.ctx, "i-1"); !errors.Is(err, errVolumeNotReady) {
		t.Fatalf("reconcile before the copies are made: %v", err)
	}
	if f.hv.took("define i-1") {
		t.Fatal("defined before its volumes were ready")
	}
	for _, id := range []string{"vol-root", "vol-data"} {
		f.apply(&state.ReportVolume{ID: id, Node: "box1", Event: state.VolumeEventReady})
	}
	f.reconcile("i-1")
	spec := f.hv.specs["i-1"]
	if spec.RootDisk != "" || spec.BootDisk == nil || spec.BootDisk.Export != "vol-root" || spec.BootDisk.Target != "vda" ||
		len(spec.Disks) != 1 || spec.Disks[0].Export != "vol-data" || spec.Disks[0].Target != "vdf" {
		t.Fatalf("domain spec %+v", spec)
	}
	if !f.hv.took("start i-1") || f.instance("i-1").State != state.InstanceRunning {
		t.Fatalf("not started: %v", f.hv.calls)
	}
	for _, id := range []string{"vol-root", "vol-data"} {
		v, _ := f.cl.State().Volume(id)
		if v.Attachment == nil || v.Attachment.State != state.AttachmentAttached || data.exports[id] != v.Epoch {
			t.Fatalf("%s after the boot: %+v (exported at %d)", id, v.Attachment, data.exports[id])
		}
	}

	// Stop keeps the volumes; start serves them again before qemu opens them.
	f.apply(&state.SetInstances{Account: f.acct, IDs: []string{"i-1"}, Action: state.ActionStop})
	f.reconcile("i-1")
	data.Unexport("vol-root") // as after a restart of the box
	f.apply(&state.SetInstances{Account: f.acct, IDs: []string{"i-1"}, Action: state.ActionStart})
	f.reconcile("i-1")
	if _, ok := data.exports["vol-root"]; !ok || f.instance("i-1").State != state.InstanceRunning {
		t.Fatalf("after stop and start: exports %v, state %s", data.exports, f.instance("i-1").State)
	}
	if v, _ := f.cl.State().Volume("vol-root"); v.State != state.VolumeInUse {
		t.Fatalf("root volume after stop and start: %s", v.State)
	}

	// Terminated: the domain goes; the root volume is deleted, the other kept.
	f.apply(&state.SetInstances{Account: f.acct, IDs: []string{"i-1"}, Action: state.ActionTerminate})
	f.reconcile("i-1")
	if v, _ := f.cl.State().Volume("vol-root"); v.State != state.VolumeDeleting {
		t.Fatalf("root volume after termination: %s", v.State)
	}
	if v, _ := f.cl.State().Volume("vol-data"); v.State != state.VolumeAvailable {
		t.Fatalf("data volume after termination: %s", v.State)
	}
}

func TestRootDeviceTarget(t *testing.T) {
	for dev, want := range map[string]string{"/dev/xvda": "vda", "/dev/sda1": "vda", "/dev/sdf": "vdf", "/dev/xvdb": "vdb"} {
		if got, err := deviceTarget(dev); err != nil || got != want {
			t.Errorf("deviceTarget(%s) = %s, %v; want %s", dev, got, err, want)
		}
	}
}

// TestVolumeControllerLaunchVolume: a launch volume is attached from its creation; the
// primary box, itself a replica, makes and reports its copy and does not serve the volume
// until every copy is made (a missing domain must not hold up its own copy).
func TestVolumeControllerLaunchVolume(t *testing.T) {
	ctx := context.Background()
	local := state.NewLocal()
	data := &fakeVolumeData{replicas: map[string]int64{}, exports: map[string]uint64{}}
	c := &volumeController{node: localCluster{Local: local, name: "box1"}, log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		data: data, hv: &fakeDisks{doms: map[string]map[string]string{}}}
	apply := func(cmd state.Command) {
		t.Helper()
		if _, err := local.Apply(ctx, cmd, nil); err != nil {
			t.Fatal(err)
		}
	}
	for _, b := range []string{"box1", "box2"} {
		apply(&state.ReportBox{Box: state.Box{Node: b, Zone: "us-east-1a", VCPUs: 4, MemoryMiB: 4096, DiskGiB: 100, Hypervisor: state.HypervisorUp}})
	}
	apply(&state.RunInstances{MinCount: 1, LiveNodes: []string{"box1"}, VolumeReplicas: 2, Instances: []state.Instance{{ID: "i-1", Account: "111",
		VCPUs: 1, MemoryMiB: 256, ReservationID: "r-1", RootDeviceType: state.RootDeviceEBS, RootDeviceName: "/dev/xvda",
		BlockDevices: []state.BlockDevice{{DeviceName: "/dev/xvda", VolumeSizeGiB: 1, VolumeType: "gp2", VolumeID: "vol-root"}}}}})
	if err := c.Reconcile(ctx, "vol-root"); err != nil {
		t.Fatalf("primary's reconcile while box2's copy is missing: %v", err)
	}
	v, _ := local.State().Volume("vol-root")
	if len(v.Ready) != 1 || v.Ready[0] != "box1" || len(data.Exports()) != 0 {
		t.Fatalf("after the primary's first pass: ready %v, exports %v", v.Ready, data.Exports())
	}
	apply(&state.ReportVolume{ID: "vol-root", Node: "box2", Event: state.VolumeEventReady})
	if err := c.Reconcile(ctx, "vol-root"); err == nil || len(data.Exports()) != 1 {
		t.Fatalf("with every copy made the volume is served (and waits for its domain): %v, exports %v", err, data.Exports())
	}
}
