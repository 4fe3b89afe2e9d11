package node

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"

	"github.com/banyancloud/banyan/cluster/state"
	"github.com/banyancloud/banyan/node/hypervisor"
)

// fakeVolumeData is a TEST DOUBLE of the box's block storage: replicas and exports are
// set members. The real one (blockstore) is tested on its own and end to end.
type fakeVolumeData struct {
	mu       sync.Mutex
	replicas map[string]int64
	exports  map[string]uint64 // volume → epoch
}

func (d *fakeVolumeData) EnsureReplica(id string, size int64) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.replicas[id] = size
	return nil
}
func (d *fakeVolumeData) DropReplica(id string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.replicas, id)
	return nil
}
func (d *fakeVolumeData) HasReplica(id string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	_, ok := d.replicas[id]
	return ok
}
func (d *fakeVolumeData) Replicas() ([]string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []string
	for id := range d.replicas {
		out = append(out, id)
	}
	return out, nil
}
func (d *fakeVolumeData) Export(ctx context.Context, v *state.Volume) (string, string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.exports[v.ID] = v.Epoch
	return "/run/test-nbd.sock", v.ID, nil
}
func (d *fakeVolumeData) Unexport(id string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.exports, id)
	return nil
}
func (d *fakeVolumeData) Exports() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []string
	for id := range d.exports {
		out = append(out, id)
	}
	return out
}

// fakeDisks is a TEST DOUBLE of the driver's disk hot-plug: each domain's NBD disks.
type fakeDisks struct {
	doms map[string]map[string]string // domain → export → target
}

func (h *fakeDisks) AttachDisk(dom string, d hypervisor.NBDDisk) error {
	m, ok := h.doms[dom]
	if !ok {
		return hypervisor.ErrDomainNotFound
	}
	m[d.Export] = d.Target
	return nil
}
func (h *fakeDisks) DetachDisk(dom, target string) error {
	for exp, t := range h.doms[dom] {
		if t == target {
			delete(h.doms[dom], exp)
		}
	}
	return nil
}
func (h *fakeDisks) Disks(dom string) (map[string]string, error) {
	m, ok := h.doms[dom]
	if !ok {
		return nil, hypervisor.ErrDomainNotFound
	}
	return m, nil
}

func TestVolumeController(t *testing.T) {
	ctx := context.Background()
	local := state.NewLocal()
	box := func(name string) *volumeController {
		return &volumeController{node: localCluster{Local: local, name: name}, log: slog.New(slog.NewTextHandler(io.Discard, nil)),
			data: &fakeVolumeData{replicas: map[string]int64{}, exports: map[string]uint64{}}, hv: &fakeDisks{doms: map[string]map[string]string{}}}
	}
	b1, b2 := box("box1"), box("box2")
	apply := func(cmd state.Command) {
		t.Helper()
		if _, err := local.Apply(ctx, cmd, nil); err != nil {
			t.Fatal(err)
		}
	}
	for _, b := range []string{"box1", "box2"} {
		apply(&state.ReportBox{Box: state.Box{Node: b, Zone: "us-east-1a", VCPUs: 4, MemoryMiB: 4096, DiskGiB: 100, Hypervisor: state.HypervisorUp}})
	}
	reconcile := func(c *volumeController, id string) {
		t.Helper()
		if err := c.Reconcile(ctx, id); err != nil {
			t.Fatalf("%s reconcile %s: %v", c.node.Name(), id, err)
		}
	}
	vol := func() *state.Volume {
		v, err := local.State().Volume("vol-1")
		if err != nil {
			t.Fatal(err)
		}
		return v
	}

	apply(&state.CreateVolume{Volume: state.Volume{ID: "vol-1", Account: "111", Zone: "us-east-1a", SizeGiB: 2}, Replicas: 2, LiveNodes: []string{"box1", "box2"}})
	for _, c := range []*volumeController{b1, b2} {
		if keys, _, _ := c.Keys(ctx); !slices.Equal(keys, []string{"vol-1"}) {
			t.Fatalf("%s keys %v", c.node.Name(), keys)
		}
		reconcile(c, "vol-1")
	}
	if v := vol(); v.State != state.VolumeAvailable || !b1.data.HasReplica("vol-1") || !b2.data.HasReplica("vol-1") {
		t.Fatalf("after both replicas reconciled: %+v", v)
	}

	// Attach to an instance on box2: box2 exports it and plugs it into the domain.
	apply(&state.RunInstances{MinCount: 1, LiveNodes: []string{"box2"}, Instances: []state.Instance{{ID: "i-1", Account: "111", VCPUs: 1, MemoryMiB: 256, ReservationID: "r-1"}}})
	in, _ := local.State().Instance("i-1")
	apply(&state.ReportInstance{ID: "i-1", Node: in.Node, Generation: in.Generation, State: state.InstanceRunning})
	apply(&state.AttachVolume{Account: "111", VolumeID: "vol-1", InstanceID: "i-1", Device: "/dev/sdf"})
	if err := b2.Reconcile(ctx, "vol-1"); err == nil {
		t.Fatalf("attached with no domain on the box")
	}
	b2.hv.(*fakeDisks).doms["i-1"] = map[string]string{}
	reconcile(b2, "vol-1")
	if got := b2.hv.(*fakeDisks).doms["i-1"]["vol-1"]; got != "vdf" {
		t.Fatalf("plugged in as %q, want vdf", got)
	}
	if v := vol(); v.Attachment.State != state.AttachmentAttached || b2.data.(*fakeVolumeData).exports["vol-1"] != v.Epoch {
		t.Fatalf("attachment %+v, exports %v", v.Attachment, b2.data.(*fakeVolumeData).exports)
	}
	reconcile(b1, "vol-1") // box1 is only a replica: it exports nothing
	if len(b1.data.Exports()) != 0 {
		t.Fatalf("a replica box exports %v", b1.data.Exports())
	}

	// Detach: unplugged, unexported, reported.
	apply(&state.DetachVolume{Account: "111", VolumeID: "vol-1"})
	reconcile(b2, "vol-1")
	if v := vol(); v.Attachment != nil || v.State != state.VolumeAvailable || len(b2.data.Exports()) != 0 || len(b2.hv.(*fakeDisks).doms["i-1"]) != 0 {
		t.Fatalf("after detach: %+v, exports %v, disks %v", v, b2.data.Exports(), b2.hv.(*fakeDisks).doms)
	}

	// Delete: each replica drops its copy, and the record goes with the last.
	apply(&state.DeleteVolume{Account: "111", ID: "vol-1"})
	reconcile(b1, "vol-1")
	reconcile(b2, "vol-1")
	if _, err := local.State().Volume("vol-1"); err == nil || b1.data.HasReplica("vol-1") || b2.data.HasReplica("vol-1") {
		t.Fatalf("after delete: %v, replicas %v %v", err, b1.data.HasReplica("vol-1"), b2.data.HasReplica("vol-1"))
	}
	// A copy the state no longer knows is dropped.
	b1.data.EnsureReplica("vol-stray", 1<<30)
	if keys, _, _ := b1.Keys(ctx); !slices.Contains(keys, "vol-stray") {
		t.Fatalf("stray copy not among the keys: %v", keys)
	}
	reconcile(b1, "vol-stray")
	if b1.data.HasReplica("vol-stray") {
		t.Fatal("stray copy kept")
	}
	if tgt, err := deviceTarget("/dev/xvdq"); err != nil || tgt != "vdq" {
		t.Fatalf("deviceTarget: %q %v", tgt, err)
	}
}
