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

// resizeData is a TEST DOUBLE of the block storage that can grow: fakeVolumeData's copies
// with their sizes, and the sizes of the volumes it serves. failGrow fails GrowReplica.
type resizeData struct {
	*fakeVolumeData
	served   map[string]int64
	failGrow error
}

// EnsureReplica keeps a copy that exists, whatever its size, as the real store does.
func (d *resizeData) EnsureReplica(id string, size int64) error {
	if d.HasReplica(id) {
		return nil
	}
	return d.fakeVolumeData.EnsureReplica(id, size)
}

func (d *resizeData) ReplicaSize(id string) (int64, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	s, ok := d.replicas[id]
	if !ok {
		return 0, errors.New("no copy")
	}
	return s, nil
}

func (d *resizeData) GrowReplica(id string, size int64) error {
	if d.failGrow != nil {
		return d.failGrow
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.replicas[id] = max(d.replicas[id], size)
	return nil
}

func (d *resizeData) GrowExport(ctx context.Context, id string, size int64) (bool, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.exports[id]; !ok {
		return false, nil
	}
	d.served[id] = max(d.served[id], size)
	return true, nil
}

func TestVolumeControllerGrows(t *testing.T) {
	ctx := context.Background()
	local := state.NewLocal()
	box := func(name string) (*volumeController, *resizeData) {
		d := &resizeData{fakeVolumeData: &fakeVolumeData{replicas: map[string]int64{}, exports: map[string]uint64{}}, served: map[string]int64{}}
		return &volumeController{node: localCluster{Local: local, name: name}, log: slog.New(slog.NewTextHandler(io.Discard, nil)),
			data: d, hv: &fakeDisks{doms: map[string]map[string]string{"i-1": {}}}}, d
	}
	b1, d1 := box("box1")
	b2, d2 := box("box2")
	apply := func(cmd state.Command) {
		t.Helper()
		if _, err := local.Apply(ctx, cmd, nil); err != nil {
			t.Fatal(err)
		}
	}
	reconcile := func(c *volumeController) error { return c.Reconcile(ctx, "vol-1") }
	mod := func() *state.VolumeModification {
		m, err := local.State().VolumeModification("vol-1")
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	for _, b := range []string{"box1", "box2"} {
		apply(&state.ReportBox{Box: state.Box{Node: b, Zone: "us-east-1a", VCPUs: 4, MemoryMiB: 4096, DiskGiB: 100, Hypervisor: state.HypervisorUp}})
	}
	apply(&state.CreateVolume{Volume: state.Volume{ID: "vol-1", Account: "111", Zone: "us-east-1a", SizeGiB: 2, VolumeType: "gp2"}, Replicas: 2, LiveNodes: []string{"box1", "box2"}})
	for _, c := range []*volumeController{b1, b2} {
		if err := reconcile(c); err != nil {
			t.Fatal(err)
		}
	}

	// Detached: each box grows its copy; a box whose grow fails keeps it modifying and
	// returns the error (the controller retries), never reports.
	apply(&state.ModifyVolume{Account: "111", VolumeID: "vol-1", TargetSizeGiB: 3, TargetType: "gp2", Now: time.Unix(1, 0)})
	d2.failGrow = errors.New("disk full")
	if err := reconcile(b1); err != nil {
		t.Fatal(err)
	}
	if err := reconcile(b2); err == nil {
		t.Fatal("a failed grow was not returned")
	}
	if m := mod(); m.State != state.ModificationModifying || len(m.Grown) != 1 || d1.replicas["vol-1"] != 3<<30 || d2.replicas["vol-1"] != 2<<30 {
		t.Fatalf("one copy grown: %+v, sizes %d %d", m, d1.replicas["vol-1"], d2.replicas["vol-1"])
	}
	d2.failGrow = nil
	if err := reconcile(b2); err != nil {
		t.Fatal(err)
	}
	if m := mod(); m.State != state.ModificationOptimizing {
		t.Fatalf("both copies grown: %+v", m)
	}
	if err := reconcile(b1); err != nil {
		t.Fatal(err)
	}
	if m := mod(); m.State != state.ModificationCompleted || m.EndTime.IsZero() {
		t.Fatalf("after optimizing was seen: %+v", m)
	}
	if v, _ := local.State().Volume("vol-1"); v.SizeGiB != 3 {
		t.Fatalf("size %d", v.SizeGiB)
	}

	// Attached to a running instance on box2: the primary grows what it serves and says
	// when the guest will see it.
	apply(&state.RunInstances{MinCount: 1, LiveNodes: []string{"box2"}, Instances: []state.Instance{{ID: "i-1", Account: "111", VCPUs: 1, MemoryMiB: 256, ReservationID: "r-1"}}})
	in, _ := local.State().Instance("i-1")
	apply(&state.ReportInstance{ID: "i-1", Node: in.Node, Generation: in.Generation, State: state.InstanceRunning})
	apply(&state.AttachVolume{Account: "111", VolumeID: "vol-1", InstanceID: "i-1", Device: "/dev/sdf"})
	if err := reconcile(b2); err != nil {
		t.Fatal(err)
	}
	apply(&state.ModifyVolume{Account: "111", VolumeID: "vol-1", TargetSizeGiB: 5, TargetType: "gp2", Now: time.Unix(2, 0)})
	if err := reconcile(b1); err != nil {
		t.Fatal(err)
	}
	if m := mod(); m.State != state.ModificationModifying {
		t.Fatalf("a replica's copy alone completed an attached volume's growth: %+v", m)
	}
	if err := reconcile(b2); err != nil {
		t.Fatal(err)
	}
	m := mod()
	if m.State != state.ModificationOptimizing || d2.served["vol-1"] != 5<<30 || m.StatusMessage == "" {
		t.Fatalf("after the primary grew: %+v, served %d", m, d2.served["vol-1"])
	}
}
