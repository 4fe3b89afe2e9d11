package node

import (
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/banyancloud/banyan/cluster/state"
)

// aliveCluster is a localCluster whose liveness view a test sets.
type aliveCluster struct {
	localCluster
	down map[string]bool
}

func (a aliveCluster) MemberAlive(name string) bool { return !a.down[name] }

// TestRecoveryMovesInstancesOffADeadBox: once the leader has seen a box down for the
// setting's delay, its EBS-backed instance moves to the other box (its instance-store one
// stays), and the dead box's agent, when it returns, removes the VM it still runs.
func TestRecoveryMovesInstancesOffADeadBox(t *testing.T) {
	f := newControllerFixture(t) // the box1 agent, with a fake hypervisor
	f.c.volumes = &fakeVolumeData{replicas: map[string]int64{}, exports: map[string]uint64{}}
	for _, n := range []string{"box1", "box2"} {
		f.apply(&state.ReportBox{Box: state.Box{Node: n, Zone: "us-east-1a", VCPUs: 4, MemoryMiB: 4096, DiskGiB: 100, Hypervisor: state.HypervisorUp}})
	}
	f.apply(&state.RunInstances{MinCount: 1, Instances: []state.Instance{{ID: "i-ebs", Account: f.acct, ImageID: "ami-1",
		VCPUs: 1, MemoryMiB: 256, MAC: "02:00:00:00:00:01", ReservationID: "r-1", Zone: "us-east-1a",
		RootDeviceType: state.RootDeviceEBS, RootDeviceName: "/dev/xvda", BlockDevices: []state.BlockDevice{
			{DeviceName: "/dev/xvda", VolumeSizeGiB: 1, VolumeType: "gp3", DeleteOnTermination: true, VolumeID: "vol-root"}}}},
		LiveNodes: []string{"box1", "box2"}, VolumeReplicas: 2, Now: time.Unix(1, 0)})
	f.apply(&state.RunInstances{MinCount: 1, Instances: []state.Instance{{ID: "i-store", Account: f.acct, ImageID: "ami-1",
		VCPUs: 1, MemoryMiB: 256, MAC: "02:00:00:00:00:02", ReservationID: "r-2"}}, LiveNodes: []string{"box1"}})
	for _, n := range []string{"box1", "box2"} {
		f.apply(&state.ReportVolume{ID: "vol-root", Node: n, Event: state.VolumeEventReady})
	}
	f.reconcile("i-ebs")
	if !f.hv.took("start i-ebs") {
		t.Fatalf("not started on box1: %v", f.hv.calls)
	}
	before := f.instance("i-ebs")

	leader := aliveCluster{localCluster: localCluster{Local: f.cl.Local, name: "box2"}, down: map[string]bool{"box1": true}}
	r := &recoverer{node: leader, log: slog.New(slog.NewTextHandler(io.Discard, nil)), downSince: map[string]time.Time{}, lastErr: map[string]time.Time{}}
	f.apply(&state.SetSetting{Key: state.SettingRecoveryAfter, Value: "off"})
	t0 := time.Now()
	r.pass(f.ctx, t0)
	r.pass(f.ctx, t0.Add(time.Hour))
	if f.instance("i-ebs").Node != "box1" {
		t.Fatal("recovered with recovery off")
	}
	f.apply(&state.SetSetting{Key: state.SettingRecoveryAfter, Value: "5s"})
	r.downSince = map[string]time.Time{}
	r.pass(f.ctx, t0)
	r.pass(f.ctx, t0.Add(4*time.Second))
	if f.instance("i-ebs").Node != "box1" {
		t.Fatal("recovered before the delay")
	}
	r.pass(f.ctx, t0.Add(5*time.Second))
	in := f.instance("i-ebs")
	if in.Node != "box2" || in.PrivateIP != before.PrivateIP || in.Recovery == nil || in.State != state.InstancePending {
		t.Fatalf("after the delay: %+v", in)
	}
	if v, _ := f.cl.State().Volume("vol-root"); v.Primary != "box2" || v.Epoch <= 2 {
		t.Fatalf("root volume after the recovery: primary %s epoch %d", v.Primary, v.Epoch)
	}
	if f.instance("i-store").Node != "box1" {
		t.Fatal("an instance-store instance was moved")
	}

	// box1 comes back with the VM still running: its agent removes it.
	f.hv.reset()
	keys, _, err := f.c.Keys(f.ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		f.reconcile(k)
	}
	if !f.hv.took("destroy i-ebs") || !f.hv.took("undefine i-ebs") {
		t.Fatalf("the returning box left the moved instance's VM: %v", f.hv.calls)
	}
}

// TestRebuildReplacesTheCopiesOfALostBox: a detached volume with a copy on a box the
// leader has seen down for blockstore.rebuild_after gets a copy on the zone's third box
// instead, and a box holding a copy in sync as its resync owner; nothing happens before
// the delay or with rebuilds off.
func TestRebuildReplacesTheCopiesOfALostBox(t *testing.T) {
	cl := localCluster{Local: state.NewLocal(), name: "box1"}
	apply := func(cmd state.Command) {
		t.Helper()
		if _, err := cl.Apply(t.Context(), cmd, nil); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range []string{"box1", "box2", "box3"} {
		apply(&state.ReportBox{Box: state.Box{Node: n, Zone: "us-east-1a", VCPUs: 4, MemoryMiB: 4096, DiskGiB: 100, Hypervisor: state.HypervisorUp}})
	}
	apply(&state.CreateVolume{Volume: state.Volume{ID: "vol-1", Account: "111", Zone: "us-east-1a", SizeGiB: 1}, Replicas: 2, LiveNodes: []string{"box1", "box2"}})
	for _, n := range []string{"box1", "box2"} {
		apply(&state.ReportVolume{ID: "vol-1", Node: n, Event: state.VolumeEventReady})
	}
	leader := aliveCluster{localCluster: cl, down: map[string]bool{"box2": true}}
	r := &recoverer{node: leader, log: slog.New(slog.NewTextHandler(io.Discard, nil)), downSince: map[string]time.Time{}, lastErr: map[string]time.Time{}}
	replicas := func() []string { v, _ := cl.State().Volume("vol-1"); return v.Replicas }
	apply(&state.SetSetting{Key: state.SettingRebuildAfter, Value: "off"})
	t0 := time.Now()
	r.pass(t.Context(), t0)
	r.pass(t.Context(), t0.Add(time.Hour))
	if got := replicas(); !slices.Equal(got, []string{"box1", "box2"}) {
		t.Fatalf("rebuilt with rebuilds off: %v", got)
	}
	apply(&state.SetSetting{Key: state.SettingRebuildAfter, Value: "1m"})
	r.downSince = map[string]time.Time{}
	r.pass(t.Context(), t0)
	r.pass(t.Context(), t0.Add(59*time.Second))
	if got := replicas(); !slices.Equal(got, []string{"box1", "box2"}) {
		t.Fatalf("rebuilt before the delay: %v", got)
	}
	r.pass(t.Context(), t0.Add(time.Minute))
	v, _ := cl.State().Volume("vol-1")
	if !slices.Equal(v.Replicas, []string{"box1", "box3"}) || !slices.Equal(v.Stale, []string{"box3"}) || v.Primary != "box1" {
		t.Fatalf("after the delay: %+v", v)
	}
	// box1's agent: the resync owner opens the volume once the new copy is made, and lets
	// it go when the state does.
	data := &fakeVolumeData{replicas: map[string]int64{"vol-1": 1 << 30}, exports: map[string]uint64{}}
	c := &volumeController{node: cl, log: slog.New(slog.NewTextHandler(io.Discard, nil)), data: data}
	if err := c.Reconcile(t.Context(), "vol-1"); err != nil || len(data.exports) != 0 {
		t.Fatalf("served before the new copy is made: %v %v", data.exports, err)
	}
	apply(&state.ReportVolume{ID: "vol-1", Node: "box3", Event: state.VolumeEventReady})
	if err := c.Reconcile(t.Context(), "vol-1"); err != nil || data.exports["vol-1"] != v.Epoch {
		t.Fatalf("the resync owner does not open the volume: %v %v", data.exports, err)
	}
	apply(&state.ReportVolumeCopy{ID: "vol-1", Node: "box1", Epoch: v.Epoch, Copy: "box3", InSync: true})
	if err := c.Reconcile(t.Context(), "vol-1"); err != nil || len(data.exports) != 0 {
		t.Fatalf("the resync owner keeps the volume open after the resync: %v %v", data.exports, err)
	}
	if v, _ := cl.State().Volume("vol-1"); v.Primary != "" || len(v.Stale) != 0 || v.State != state.VolumeAvailable {
		t.Fatalf("after the resync: %+v", v)
	}
}

// TestSnapshotsOfADeadBoxAreTakenOver: a snapshot of a detached volume that a box down for
// compute.recovery_after was taking goes to the box with the other copy, as a new attempt.
func TestSnapshotsOfADeadBoxAreTakenOver(t *testing.T) {
	cl := localCluster{Local: state.NewLocal(), name: "box1"}
	apply := func(cmd state.Command) {
		t.Helper()
		if _, err := cl.Apply(t.Context(), cmd, nil); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range []string{"box1", "box2"} {
		apply(&state.ReportBox{Box: state.Box{Node: n, Zone: "us-east-1a", VCPUs: 4, MemoryMiB: 4096, DiskGiB: 100, Hypervisor: state.HypervisorUp}})
	}
	apply(&state.CreateVolume{Volume: state.Volume{ID: "vol-1", Account: "111", Zone: "us-east-1a", SizeGiB: 1}, Replicas: 2, LiveNodes: []string{"box1", "box2"}})
	for _, n := range []string{"box1", "box2"} {
		apply(&state.ReportVolume{ID: "vol-1", Node: n, Event: state.VolumeEventReady})
	}
	apply(&state.CreateSnapshot{Snapshot: state.Snapshot{ID: "snap-1", Account: "111", VolumeID: "vol-1"}, LiveNodes: []string{"box2"}})
	leader := aliveCluster{localCluster: cl, down: map[string]bool{"box2": true}}
	r := &recoverer{node: leader, log: slog.New(slog.NewTextHandler(io.Discard, nil)), downSince: map[string]time.Time{}, lastErr: map[string]time.Time{}}
	apply(&state.SetSetting{Key: state.SettingRecoveryAfter, Value: "5s"})
	t0 := time.Now()
	r.pass(t.Context(), t0)
	r.pass(t.Context(), t0.Add(4*time.Second))
	if s, _ := cl.State().Snapshot("snap-1"); s.Node != "box2" {
		t.Fatalf("taken over before the delay: %+v", s)
	}
	r.pass(t.Context(), t0.Add(5*time.Second))
	if s, _ := cl.State().Snapshot("snap-1"); s.Node != "box1" || s.Attempt != 2 {
		t.Fatalf("after the delay: %+v", s)
	}
}
