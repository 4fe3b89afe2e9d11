package node

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"syscall"
	"time"

	"github.com/banyancloud/banyan/cluster"
	"github.com/banyancloud/banyan/cluster/state"
	"github.com/banyancloud/banyan/netctl"
	"github.com/banyancloud/banyan/node/hypervisor"
	"github.com/banyancloud/banyan/objectstore"
)

// ComputeConfig is what this box's compute agent needs.
type ComputeConfig struct {
	Node    *cluster.Node
	DataDir string
	Zone    string
	// Hypervisor is the box's libvirt driver; nil when it could not be opened, in which
	// case the box reports its hypervisor down (with HypervisorErr) and runs nothing.
	Hypervisor    Hypervisor
	HypervisorErr error
	// Capacity reports the host's CPUs and memory (the driver's NodeInfo).
	Capacity func() (hypervisor.Capacity, error)
	Accel    string
	Objects  objectstore.ObjectLayer
	// Bridge is the bridge instance NICs attach to ("" for none); Region names the
	// instances' DNS domain and metadata.
	Bridge string
	Region string
	// PublicInterface is the uplink that answers for the Elastic IPs of the instances
	// placed here ("" for the interface of the default route).
	PublicInterface string
	// Volumes is the box's EBS data plane (BlockStorage); nil runs no volumes.
	Volumes VolumeData
	// DNS is the box's DNS server (StartDNS); when set it also answers on the bridge's
	// router address, which DHCP hands the instances as their name server.
	DNS    *DNS
	Logger *slog.Logger
}

// Compute is this box's compute agent: it reports the box's capacity, converges the
// VMs of the instances placed here, and serves their console logs to the other boxes.
type Compute struct {
	cfg    ComputeConfig
	log    *slog.Logger
	images *imageCache
	inst   *instanceController
}

// consolePath is the node RPC endpoint that serves an instance's console log.
const consolePath = "/v1/compute/console"

type consoleRequest struct {
	ID string `cbor:"1,keyasint"`
}

type consoleResponse struct {
	Output []byte `cbor:"1,keyasint"`
	Error  string `cbor:"2,keyasint,omitempty"`
}

// StartCompute starts the agent; it stops with ctx.
func StartCompute(ctx context.Context, cfg ComputeConfig) *Compute {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	c := &Compute{cfg: cfg, log: cfg.Logger.With("sub", "compute"),
		images: newImageCache(filepath.Join(cfg.DataDir, "images"), cfg.Objects)}
	cfg.Node.HandleRPC("POST "+consolePath, http.HandlerFunc(c.serveConsole))
	if cfg.Hypervisor != nil {
		// qemu runs as its own user and must reach DATA-DIR/images and DATA-DIR/instances.
		for _, d := range []string{cfg.DataDir, filepath.Join(cfg.DataDir, "instances"), filepath.Join(cfg.DataDir, "images")} {
			if err := mkdirSearchable(d); err != nil {
				c.log.Warn("cannot make the instance folders reachable for qemu", "dir", d, "err", err)
			}
		}
	}
	go c.reportBox(ctx)
	if cfg.Hypervisor != nil && cfg.Bridge != "" {
		if err := c.startNetwork(ctx, cfg.Region); err != nil {
			c.log.Error("instances on this box get no network", "err", err)
			cfg.Bridge = ""
		} else if gw, err := netctl.Gateway(cfg.Zone); err == nil {
			if cfg.DNS != nil {
				if err := cfg.DNS.ListenBridge(gw.Addr()); err != nil {
					c.log.Error("instances on this box get no DNS", "err", err)
				}
			}
			// Security groups (node/firewall.go).
			go Converge(ctx, newFirewallController(cfg.Node, gw.Addr(), c.log), ConvergeOptions{Logger: c.log, Workers: 1})
			// Elastic IPs (node/addresses.go).
			go Converge(ctx, newNATController(cfg.Node, cfg.PublicInterface, cfg.Bridge, c.log), ConvergeOptions{Logger: c.log, Workers: 1, Resync: natResync})
			// The zone's other boxes' instances on the same layer 2 (node/overlay.go).
			go Converge(ctx, newOverlayController(cfg.Node, cfg.Bridge, c.log), ConvergeOptions{Logger: c.log, Workers: 1})
		}
	}
	if cfg.Hypervisor != nil {
		c.inst = &instanceController{node: cfg.Node, hv: cfg.Hypervisor, images: c.images, volumes: cfg.Volumes,
			dir: filepath.Join(cfg.DataDir, "instances"), bridge: cfg.Bridge, log: c.log, stopWait: 30 * time.Second}
		go Converge(ctx, c.inst, ConvergeOptions{Logger: c.log})
	}
	if cfg.Volumes != nil {
		vc := &volumeController{node: cfg.Node, data: cfg.Volumes, log: c.log}
		if dh, ok := cfg.Hypervisor.(DiskHypervisor); ok {
			vc.hv = dh
		}
		go Converge(ctx, vc, ConvergeOptions{Logger: c.log, Resync: 10 * time.Second})
		if sd, ok := cfg.Volumes.(snapshotStorage); ok && cfg.Objects != nil {
			startSnapshots(ctx, cfg.Node, sd, cfg.Objects, c.log)
		}
	}
	return c
}

// reportBox records the box's capacity and hypervisor state now and whenever it
// changes (checked every 15 s).
func (c *Compute) reportBox(ctx context.Context) {
	var last state.Box
	for {
		b := state.Box{Node: c.cfg.Node.Name(), Zone: c.cfg.Zone, Accel: c.cfg.Accel, Hypervisor: state.HypervisorUp}
		if c.cfg.Hypervisor == nil {
			b.Hypervisor, b.Reason = state.HypervisorDown, fmt.Sprint(c.cfg.HypervisorErr)
		} else if c.cfg.Capacity != nil {
			capa, err := c.cfg.Capacity()
			if err != nil {
				b.Hypervisor, b.Reason = state.HypervisorDown, err.Error()
			}
			b.VCPUs, b.MemoryMiB = capa.VCPUs, capa.MemoryMiB
		}
		var fs syscall.Statfs_t
		if syscall.Statfs(c.cfg.DataDir, &fs) == nil {
			b.DiskGiB = int(fs.Bavail * uint64(fs.Bsize) >> 30)
		}
		cur, err := c.cfg.Node.State().BoxOf(b.Node)
		stale := err != nil || cur.Zone != b.Zone || cur.VCPUs != b.VCPUs || cur.MemoryMiB != b.MemoryMiB ||
			cur.Hypervisor != b.Hypervisor || cur.Reason != b.Reason || cur.Accel != b.Accel || absDiff(cur.DiskGiB, b.DiskGiB) > 4
		if stale && b != last {
			rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			if _, err := c.cfg.Node.Apply(rctx, &state.ReportBox{Box: b}, nil); err != nil {
				c.log.Warn("cannot report this box's capacity yet", "err", err)
			} else {
				last = b
			}
			cancel()
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(15 * time.Second):
		}
	}
}

func absDiff(a, b int) int {
	if a > b {
		return a - b
	}
	return b - a
}

func (c *Compute) serveConsole(w http.ResponseWriter, r *http.Request) {
	var req consoleRequest
	if err := decodeBody(r, &req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var resp consoleResponse
	if c.cfg.Hypervisor == nil {
		resp.Error = "the box's hypervisor is down"
	} else if out, err := c.cfg.Hypervisor.ConsoleOutput(req.ID); err != nil {
		resp.Error = err.Error()
	} else {
		resp.Output = out
	}
	b, _ := state.Marshal(resp)
	w.Header().Set("Content-Type", "application/cbor")
	w.Write(b)
}

// ConsoleOutput fetches an instance's console log from the box it runs on.
func ConsoleOutput(ctx context.Context, n *cluster.Node, node, id string) ([]byte, error) {
	rec, err := n.State().Node(node)
	if err != nil {
		return nil, err
	}
	var resp consoleResponse
	if err := n.Call(ctx, rec.Addr, consolePath, consoleRequest{ID: id}, &resp); err != nil {
		return nil, err
	}
	if resp.Error != "" {
		return nil, errors.New(resp.Error)
	}
	return resp.Output, nil
}

// ForgetTerminated removes instances terminated more than an hour ago (EC2 shows them
// that long); the leader runs it.
func ForgetTerminated(ctx context.Context, n *cluster.Node) {
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		ins, err := n.State().Instances("")
		if err != nil {
			continue
		}
		var ids []string
		for _, in := range ins {
			if in.State == state.InstanceTerminated && time.Since(in.StateChange) > time.Hour {
				ids = append(ids, in.ID)
			}
		}
		if len(ids) > 0 {
			n.Apply(ctx, &state.ForgetInstances{IDs: ids}, nil)
		}
	}
}

// RunImports carries out ImportImage tasks; the leader runs it.
func RunImports(ctx context.Context, n *cluster.Node, objects objectstore.ObjectLayer, dataDir string, log *slog.Logger) {
	im := &importer{node: n, objects: objects, dir: filepath.Join(dataDir, "imports"), log: log.With("sub", "import"), newID: NewEC2ID}
	im.run(ctx)
}

// NewEC2ID returns prefix followed by 17 random lower-case hex digits, as EC2's IDs.
func NewEC2ID(prefix string) string {
	var b [9]byte
	rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])[:17]
}
