package node

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/banyancloud/banyan/cluster/state"
	"github.com/banyancloud/banyan/node/hypervisor"
)

// fakeHypervisor is a TEST DOUBLE of the libvirt driver: domains are map entries whose
// state changes as the calls say. The real driver is tested against a real libvirtd in
// node/hypervisor; this one lets the controller's decisions be checked one by one.
type fakeHypervisor struct {
	mu    sync.Mutex
	doms  map[string]*hypervisor.DomainInfo
	specs map[string]hypervisor.DomainSpec
	calls []string
	down  bool
}

func newFakeHypervisor() *fakeHypervisor {
	return &fakeHypervisor{doms: map[string]*hypervisor.DomainInfo{}, specs: map[string]hypervisor.DomainSpec{}}
}

func (h *fakeHypervisor) op(name, id string) (*hypervisor.DomainInfo, error) {
	h.calls = append(h.calls, name+" "+id)
	if h.down {
		return nil, hypervisor.ErrHypervisorDown
	}
	d := h.doms[id]
	if d == nil && name != "define" {
		return nil, hypervisor.ErrDomainNotFound
	}
	return d, nil
}

func (h *fakeHypervisor) Define(spec hypervisor.DomainSpec) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, err := h.op("define", spec.Name); err != nil {
		return err
	}
	if h.doms[spec.Name] == nil {
		h.doms[spec.Name] = &hypervisor.DomainInfo{Name: spec.Name, State: "shutoff", RootDisk: spec.RootDisk}
	}
	h.specs[spec.Name] = spec
	return nil
}

func (h *fakeHypervisor) set(op, id, from, to string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	d, err := h.op(op, id)
	if err != nil {
		return err
	}
	if from != "" && d.State != from {
		return hypervisor.ErrInvalidState
	}
	d.State = to
	return nil
}

func (h *fakeHypervisor) Start(id string) error   { return h.set("start", id, "shutoff", "running") }
func (h *fakeHypervisor) Destroy(id string) error { return h.set("destroy", id, "", "shutoff") }
func (h *fakeHypervisor) Reboot(id string) error  { return h.set("reboot", id, "running", "running") }
func (h *fakeHypervisor) Stop(ctx context.Context, id string, grace time.Duration) (bool, error) {
	return false, h.set("stop", id, "", "shutoff")
}

func (h *fakeHypervisor) Undefine(id string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, err := h.op("undefine", id); err != nil {
		return err
	}
	delete(h.doms, id)
	return nil
}

func (h *fakeHypervisor) List() ([]hypervisor.DomainInfo, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []hypervisor.DomainInfo
	for _, d := range h.doms {
		out = append(out, *d)
	}
	return out, nil
}

func (h *fakeHypervisor) Lookup(id string) (hypervisor.DomainInfo, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.down {
		return hypervisor.DomainInfo{}, hypervisor.ErrHypervisorDown
	}
	if d := h.doms[id]; d != nil {
		return *d, nil
	}
	return hypervisor.DomainInfo{}, hypervisor.ErrDomainNotFound
}

func (h *fakeHypervisor) ConsoleOutput(id string) ([]byte, error) { return nil, nil }

func (h *fakeHypervisor) took(call string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Contains(h.calls, call)
}

func (h *fakeHypervisor) reset() {
	h.mu.Lock()
	h.calls = nil
	h.mu.Unlock()
}

// localCluster is state.Local with a box name, as a clusterView.
type localCluster struct {
	*state.Local
	name string
}

func (l localCluster) Name() string { return l.name }

type controllerFixture struct {
	t    *testing.T
	c    *instanceController
	hv   *fakeHypervisor
	cl   localCluster
	dir  string
	ctx  context.Context
	acct string
}

func newControllerFixture(t *testing.T) *controllerFixture {
	if _, err := exec.LookPath("qemu-img"); err != nil {
		t.Skip("qemu-img is not installed (packaging/deps.sh installs qemu-utils)")
	}
	dir := t.TempDir()
	cl := localCluster{Local: state.NewLocal(), name: "box1"}
	hv := newFakeHypervisor()
	cache := newImageCache(filepath.Join(dir, "images"), nil)
	// The image is cached already, so nothing is fetched from an object store.
	os.MkdirAll(cache.dir, 0o700)
	if out, err := exec.Command("qemu-img", "create", "-q", "-f", "qcow2", filepath.Join(cache.dir, "ami-1.qcow2"), "16M").CombinedOutput(); err != nil {
		t.Fatalf("qemu-img: %v %s", err, out)
	}
	f := &controllerFixture{t: t, hv: hv, cl: cl, dir: dir, ctx: context.Background(), acct: "111122223333"}
	f.c = &instanceController{node: cl, hv: hv, images: cache, dir: filepath.Join(dir, "instances"), bridge: "bnybr0",
		log: slog.New(slog.NewTextHandler(io.Discard, nil)), stopWait: time.Second}
	f.apply(&state.ReportBox{Box: state.Box{Node: "box1", Zone: "us-east-1a", VCPUs: 4, MemoryMiB: 4096, Hypervisor: state.HypervisorUp}})
	f.apply(&state.PutImage{Create: true, Image: state.Image{ID: "ami-1", Account: f.acct, State: state.ImageAvailable, ObjectKey: "ami-1.qcow2"}})
	return f
}

func (f *controllerFixture) apply(cmd state.Command) {
	f.t.Helper()
	if _, err := f.cl.Apply(f.ctx, cmd, nil); err != nil {
		f.t.Fatal(err)
	}
}

func (f *controllerFixture) run(id, image string) {
	f.apply(&state.RunInstances{MinCount: 1, Instances: []state.Instance{{ID: id, Account: f.acct, ImageID: image,
		VCPUs: 1, MemoryMiB: 256, MAC: "02:00:00:00:00:01", ReservationID: "r-1"}}})
}

func (f *controllerFixture) reconcile(id string) {
	f.t.Helper()
	if err := f.c.Reconcile(f.ctx, id); err != nil {
		f.t.Fatalf("reconcile %s: %v", id, err)
	}
}

func (f *controllerFixture) instance(id string) *state.Instance {
	f.t.Helper()
	in, err := f.cl.State().Instance(id)
	if err != nil {
		f.t.Fatal(err)
	}
	return in
}

func TestInstanceControllerLifecycle(t *testing.T) {
	f := newControllerFixture(t)
	f.run("i-1", "ami-1")
	f.reconcile("i-1")
	if !f.hv.took("define i-1") || !f.hv.took("start i-1") {
		t.Fatalf("a pending instance was not defined and started: %v", f.hv.calls)
	}
	spec := f.hv.specs["i-1"]
	if spec.MemoryMiB != 256 || len(spec.NICs) != 1 || spec.NICs[0].MAC != "02:00:00:00:00:01" || spec.NICs[0].Bridge != "bnybr0" {
		t.Fatalf("domain spec %+v", spec)
	}
	if _, err := os.Stat(spec.RootDisk); err != nil {
		t.Fatalf("root disk overlay: %v", err)
	}
	if in := f.instance("i-1"); in.State != state.InstanceRunning {
		t.Fatalf("after start: %s", in.State)
	}
	// Converged: another pass does nothing (a restarted agent adopts what runs).
	f.hv.reset()
	f.reconcile("i-1")
	if f.hv.took("start i-1") || f.hv.took("define i-1") {
		t.Fatalf("a running instance was started again: %v", f.hv.calls)
	}
	// Reboot once per RebootInstances.
	f.apply(&state.SetInstances{Account: f.acct, IDs: []string{"i-1"}, Action: state.ActionReboot})
	f.reconcile("i-1")
	f.hv.reset()
	f.reconcile("i-1")
	if in := f.instance("i-1"); in.Rebooted != 1 || f.hv.took("reboot i-1") {
		t.Fatalf("reboot: rebooted=%d calls=%v", in.Rebooted, f.hv.calls)
	}
	// Stop, start, terminate.
	f.apply(&state.SetInstances{Account: f.acct, IDs: []string{"i-1"}, Action: state.ActionStop})
	f.reconcile("i-1")
	if d, _ := f.hv.Lookup("i-1"); d.State != "shutoff" || f.instance("i-1").State != state.InstanceStopped {
		t.Fatalf("after stop: domain %s, instance %s", d.State, f.instance("i-1").State)
	}
	f.apply(&state.SetInstances{Account: f.acct, IDs: []string{"i-1"}, Action: state.ActionStart})
	f.reconcile("i-1")
	if d, _ := f.hv.Lookup("i-1"); d.State != "running" || f.instance("i-1").State != state.InstanceRunning {
		t.Fatalf("after start: domain %s, instance %s", d.State, f.instance("i-1").State)
	}
	f.apply(&state.SetInstances{Account: f.acct, IDs: []string{"i-1"}, Action: state.ActionTerminate})
	f.reconcile("i-1")
	if _, err := f.hv.Lookup("i-1"); !errors.Is(err, hypervisor.ErrDomainNotFound) {
		t.Fatalf("a terminated instance's domain is still defined: %v", err)
	}
	if _, err := os.Stat(filepath.Dir(spec.RootDisk)); !os.IsNotExist(err) {
		t.Fatalf("a terminated instance's disk folder is left: %v", err)
	}
	if in := f.instance("i-1"); in.State != state.InstanceTerminated || in.PrivateIP != "" {
		t.Fatalf("after terminate: %s %q", in.State, in.PrivateIP)
	}
}

func TestInstanceControllerRemovesDomainsItDoesNotOwn(t *testing.T) {
	f := newControllerFixture(t)
	f.hv.Define(hypervisor.DomainSpec{Name: "i-stray"})
	f.hv.Start("i-stray")
	keys, _, err := f.c.Keys(f.ctx)
	if err != nil || !slices.Contains(keys, "i-stray") {
		t.Fatalf("keys %v %v", keys, err)
	}
	f.reconcile("i-stray")
	if _, err := f.hv.Lookup("i-stray"); !errors.Is(err, hypervisor.ErrDomainNotFound) {
		t.Fatalf("a domain of no instance placed here survived: %v", err)
	}
}

func TestInstanceControllerLaunchFailures(t *testing.T) {
	f := newControllerFixture(t)
	// An image that cannot be had terminates the instance with the reason.
	f.run("i-2", "ami-missing")
	f.reconcile("i-2")
	if in := f.instance("i-2"); in.State != state.InstanceTerminated || in.StateReason == "" {
		t.Fatalf("unknown image: state %s reason %q", in.State, in.StateReason)
	}
	if len(f.hv.specs) != 0 {
		t.Fatalf("a domain was defined for an instance that cannot launch: %v", f.hv.calls)
	}
	// libvirtd down: the instance stays pending with the reason, and is retried.
	f.run("i-3", "ami-1")
	f.hv.down = true
	if err := f.c.Reconcile(f.ctx, "i-3"); err == nil {
		t.Fatal("reconcile with libvirtd down succeeded")
	}
	if in := f.instance("i-3"); in.State != state.InstancePending || in.StateReason == "" {
		t.Fatalf("libvirtd down: state %s reason %q", in.State, in.StateReason)
	}
	f.hv.down = false
	f.reconcile("i-3")
	if in := f.instance("i-3"); in.State != state.InstanceRunning || in.StateReason != "" {
		t.Fatalf("libvirtd back: state %s reason %q", in.State, in.StateReason)
	}
}
