package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/banyancloud/banyan/cluster"
	"github.com/banyancloud/banyan/cluster/state"
	"github.com/banyancloud/banyan/node/hypervisor"
)

// Hypervisor is what the instance controller needs of the box's hypervisor. The libvirt
// driver (node/hypervisor) is the implementation.
type Hypervisor interface {
	Define(spec hypervisor.DomainSpec) error
	Start(name string) error
	// Stop powers the domain off through ACPI, destroying it after grace.
	Stop(ctx context.Context, name string, grace time.Duration) (forced bool, err error)
	Destroy(name string) error
	Reboot(name string) error
	Undefine(name string) error
	List() ([]hypervisor.DomainInfo, error)
	Lookup(name string) (hypervisor.DomainInfo, error)
	ConsoleOutput(name string) ([]byte, error)
}

// clusterView is what a controller needs of the cluster: this box's name, the local
// replica, and the write path (cluster.Node; a test gives an FSM of its own).
type clusterView interface {
	Name() string
	State() *state.Store
	Apply(ctx context.Context, cmd state.Command, out any) (uint64, error)
}

var _ clusterView = (*cluster.Node)(nil)

// instanceController converges this box's VMs to the instances the replicated state
// places here: a domain per instance that should run, none for the others. The domain
// is named by the instance ID, so a restarted agent adopts the domains it finds and can
// never start an instance twice.
type instanceController struct {
	node   clusterView
	hv     Hypervisor
	images *imageCache
	// volumes serves the instances' EBS volumes (the boot volume first); nil on a box
	// without block storage.
	volumes VolumeData
	dir     string // DATA-DIR/instances
	bridge  string
	log     *slog.Logger
	// stopWait is how long a stop waits for the guest to power off before pulling the plug.
	stopWait time.Duration
}

func (c *instanceController) Name() string { return "instances" }

func (c *instanceController) Keys(ctx context.Context) ([]string, <-chan struct{}, error) {
	ins, changed, err := c.node.State().InstancesOn(c.node.Name())
	if err != nil {
		return nil, nil, err
	}
	seen := map[string]bool{}
	var keys []string
	for _, in := range ins {
		seen[in.ID] = true
		keys = append(keys, in.ID)
	}
	// Domains of instances no longer placed here (terminated and forgotten, moved).
	if doms, err := c.hv.List(); err == nil {
		for _, d := range doms {
			if strings.HasPrefix(d.Name, "i-") && !seen[d.Name] {
				keys = append(keys, d.Name)
			}
		}
	}
	return keys, changed, nil
}

func (c *instanceController) Reconcile(ctx context.Context, id string) error {
	in, err := c.node.State().Instance(id)
	if err != nil && !errors.Is(err, state.ErrNotFound) {
		return err
	}
	dom, lerr := c.hv.Lookup(id)
	exists := lerr == nil
	if lerr != nil && !errors.Is(lerr, hypervisor.ErrDomainNotFound) {
		return c.report(ctx, in, "", "Server.InternalError: the box's hypervisor does not answer: "+lerr.Error(), lerr)
	}
	if in == nil || in.Node != c.node.Name() {
		// Not ours (any more): no VM may run it here.
		if exists {
			c.log.Info("removing a domain this box does not own", "instance", id)
			if err := c.removeDomain(id); err != nil {
				return err
			}
		}
		if in == nil {
			os.RemoveAll(filepath.Join(c.dir, id))
		}
		return nil
	}
	switch in.Desired {
	case state.InstanceTerminated:
		if exists {
			if err := c.removeDomain(id); err != nil {
				return err
			}
		}
		if err := os.RemoveAll(filepath.Join(c.dir, id)); err != nil {
			return err
		}
		return c.report(ctx, in, state.InstanceTerminated, "Client.UserInitiatedShutdown: User initiated shutdown", nil)
	case state.InstanceStopped:
		if exists && dom.State == domainRunning {
			if err := c.stop(ctx, id); err != nil {
				return err
			}
		}
		return c.report(ctx, in, state.InstanceStopped, "Client.UserInitiatedShutdown: User initiated shutdown", nil)
	}
	// Desired running.
	if !exists {
		spec, err := c.prepare(ctx, in)
		if err != nil {
			if errors.Is(err, errVolumeNotReady) {
				return err // the volume's copies are on their way; no news to report
			}
			if errors.Is(err, errLaunchFailed) {
				// Nothing to retry: the instance cannot start from what it was given.
				c.log.Warn("instance launch failed", "instance", id, "err", err)
				return c.report(ctx, in, state.InstanceTerminated, "Server.InternalError: "+err.Error(), nil)
			}
			return c.report(ctx, in, "", "Server.InternalError: "+err.Error(), err)
		}
		if err := c.hv.Define(spec); err != nil {
			return c.report(ctx, in, "", "Server.InternalError: defining the VM: "+err.Error(), err)
		}
		dom.State = domainShutoff
	}
	rebooted := in.Rebooted
	if dom.State != domainRunning && dom.State != domainShutoff {
		// Crashed, paused on an error, half shut down: start it afresh.
		c.log.Warn("instance's VM is not running; restarting it", "instance", id, "state", dom.State, "reason", dom.Reason)
		if err := c.hv.Destroy(id); err != nil && !errors.Is(err, hypervisor.ErrInvalidState) {
			return err
		}
	}
	if dom.State != domainRunning {
		// The volumes in its definition are served before qemu opens them.
		if _, _, err := c.attachedDisks(ctx, in); err != nil {
			return err
		}
		if err := c.hv.Start(id); err != nil {
			return c.report(ctx, in, "", "Server.InternalError: starting the VM: "+err.Error(), err)
		}
		c.reportAttached(ctx, in)
		rebooted = in.RebootSeq // a fresh boot is as good as a reboot
	} else if in.RebootSeq > in.Rebooted {
		if err := c.hv.Reboot(id); err != nil {
			return err
		}
		rebooted = in.RebootSeq
	}
	return c.reportRebooted(ctx, in, state.InstanceRunning, "", rebooted)
}

// Domain states as the driver names them.
const (
	domainRunning = "running"
	domainShutoff = "shutoff"
)

// errLaunchFailed marks a launch that cannot succeed by retrying (a missing or broken
// image): the instance is terminated with the reason.
var errLaunchFailed = errors.New("launch failed")

// prepare makes the instance's root disk (a qcow2 overlay over the cached image) and
// the domain's description.
func (c *instanceController) prepare(ctx context.Context, in *state.Instance) (hypervisor.DomainSpec, error) {
	if typ, _ := in.RootDevice(); typ == state.RootDeviceEBS {
		return c.prepareEBS(ctx, in) // bootvolumes.go
	}
	im, err := c.node.State().Image(in.ImageID)
	if err != nil {
		return hypervisor.DomainSpec{}, fmt.Errorf("%w: image %s: %v", errLaunchFailed, in.ImageID, err)
	}
	base, err := c.images.path(ctx, im)
	if err != nil {
		return hypervisor.DomainSpec{}, err
	}
	dir := filepath.Join(c.dir, in.ID)
	if err := mkdirSearchable(dir); err != nil {
		return hypervisor.DomainSpec{}, err
	}
	root := filepath.Join(dir, "root.qcow2")
	if _, err := os.Stat(root); errors.Is(err, os.ErrNotExist) {
		tmp := root + ".tmp"
		out, err := exec.CommandContext(ctx, "qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", base, tmp).CombinedOutput()
		if err != nil {
			os.Remove(tmp)
			return hypervisor.DomainSpec{}, fmt.Errorf("%w: creating the root disk: %v: %s", errLaunchFailed, err, strings.TrimSpace(string(out)))
		}
		if err := os.Rename(tmp, root); err != nil {
			return hypervisor.DomainSpec{}, err
		}
	}
	spec := hypervisor.DomainSpec{
		Name: in.ID, VCPUs: in.VCPUs, MemoryMiB: in.MemoryMiB, RootDisk: root,
		ConsoleLog: filepath.Join(dir, "console.log"),
		Metadata:   map[string]string{"instance-id": in.ID, "account": in.Account, "image-id": in.ImageID},
	}
	if c.bridge != "" && in.MAC != "" {
		spec.NICs = []hypervisor.NIC{{Bridge: c.bridge, MAC: in.MAC, Device: instanceTap(in.ID)}}
	}
	return spec, nil
}

// stop asks the guest to power off and pulls the plug after stopWait.
func (c *instanceController) stop(ctx context.Context, id string) error {
	forced, err := c.hv.Stop(ctx, id, c.stopWait)
	if forced {
		c.log.Info("instance did not power off in time; stopped it hard", "instance", id, "after", c.stopWait)
	}
	return err
}

func (c *instanceController) removeDomain(id string) error {
	if err := c.hv.Destroy(id); err != nil && !errors.Is(err, hypervisor.ErrDomainNotFound) && !errors.Is(err, hypervisor.ErrInvalidState) {
		return err
	}
	if err := c.hv.Undefine(id); err != nil && !errors.Is(err, hypervisor.ErrDomainNotFound) {
		return err
	}
	return nil
}

func (c *instanceController) report(ctx context.Context, in *state.Instance, st, reason string, cause error) error {
	return c.reportWith(ctx, in, st, reason, in.Rebooted, cause)
}

func (c *instanceController) reportRebooted(ctx context.Context, in *state.Instance, st, reason string, rebooted uint64) error {
	return c.reportWith(ctx, in, st, reason, rebooted, nil)
}

// reportWith tells the cluster what the box did, only when that changes the record (no
// Raft write per pass), and returns cause so that a failure is retried.
func (c *instanceController) reportWith(ctx context.Context, in *state.Instance, st, reason string, rebooted uint64, cause error) error {
	if in == nil {
		return cause
	}
	if st == "" {
		st = in.State // no progress, only a reason
	}
	if st == in.State && reason == in.StateReason && rebooted == in.Rebooted {
		return cause
	}
	_, err := c.node.Apply(ctx, &state.ReportInstance{ID: in.ID, Node: c.node.Name(), Generation: in.Generation,
		State: st, Reason: reason, Rebooted: rebooted, Now: time.Now().UTC()}, nil)
	if cause != nil {
		return cause
	}
	return err
}
