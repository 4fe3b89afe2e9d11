package node

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"

	"github.com/banyancloud/banyan/cluster"
	"github.com/banyancloud/banyan/cluster/state"
	"github.com/banyancloud/banyan/objectstore/disk"
	"github.com/banyancloud/banyan/objectstore/placement"
)

// Disks is the object store's view of the cluster's disks from this box: it opens this
// box's disks, records them in the replicated disk map, serves them to the other boxes
// over node RPC, and hands the object store the placement topology of the current map
// and a handle (local, or remote over node RPC) for every disk in it.
type Disks struct {
	node  *cluster.Node
	log   *slog.Logger
	local map[string]*disk.Local
	paths []string

	mu      sync.Mutex
	version uint64
	topo    *placement.Topology
	remotes map[string]disk.Disk
}

// OpenDisks opens (and on first use stamps) the disks at paths; with none, one folder in
// the data dir.
func OpenDisks(dataDir string, paths []string, node *cluster.Node, log *slog.Logger) (*Disks, error) {
	if len(paths) == 0 {
		paths = []string{filepath.Join(dataDir, "disks", "0")}
	}
	d := &Disks{node: node, log: log, local: map[string]*disk.Local{}, paths: paths, remotes: map[string]disk.Disk{}}
	for _, p := range paths {
		if err := os.MkdirAll(p, 0o700); err != nil {
			return nil, fmt.Errorf("disk %s: %w", p, err)
		}
		l, err := disk.OpenLocal(p)
		if err != nil {
			return nil, fmt.Errorf("disk %s: %w", p, err)
		}
		if other, dup := d.local[l.ID()]; dup {
			return nil, fmt.Errorf("disks %s and %s carry the same identity %s (a copied disk?)", other.Path(), p, l.ID())
		}
		d.local[l.ID()] = l
	}
	handlers := map[string]disk.Disk{}
	for id, l := range d.local {
		handlers[id] = l
	}
	node.HandleRPC(disk.RPCPrefix, disk.NewHandler(handlers))
	return d, nil
}

// Register records this box's disks in the disk map, waiting for a leader if needed.
func (d *Disks) Register(ctx context.Context) error {
	var disks []state.Disk
	for id, l := range d.local {
		var capacity int64
		if info, err := l.Info(ctx); err == nil {
			capacity = int64(info.Total)
		}
		disks = append(disks, state.Disk{ID: id, Path: l.Path(), State: state.DiskOnline, Capacity: capacity})
	}
	_, err := d.node.Apply(ctx, &state.RegisterDisks{Node: d.node.Name(), Disks: disks}, nil)
	return err
}

// Topology is the placement topology of the current disk map. A box that gossip reports
// dead has its disks marked offline: they stay in every erasure set, their shards are
// simply missing, and nothing moves.
func (d *Disks) Topology() *placement.Topology {
	disks, version, err := d.node.State().DiskMap()
	if err != nil {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.topo != nil && version == d.version {
		return d.topo
	}
	m := placement.Map{Version: version}
	for _, sd := range disks {
		m.Disks = append(m.Disks, placement.Disk{ID: sd.ID, Node: sd.Node, State: placementState(sd.State)})
	}
	topo, err := placement.New(m)
	if err != nil {
		d.log.Error("the disk map does not make a placement topology", "version", version, "err", err)
		return d.topo
	}
	d.topo, d.version = topo, version
	return topo
}

// Disk returns the disk with the given ID: the local one, or a remote client for a disk
// of a live box; nil when the disk is unknown or its box is down, so the object store
// treats its shard as missing without waiting on a timeout.
func (d *Disks) Disk(id string) disk.Disk {
	if l, ok := d.local[id]; ok {
		return l
	}
	rec, nodeRec := d.lookup(id)
	if rec == nil || nodeRec == nil || !d.node.MemberAlive(rec.Node) {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	key := id + "@" + nodeRec.Addr
	if r, ok := d.remotes[key]; ok {
		return r
	}
	r := disk.NewRemote(d.node.RPCClient(), "https://"+nodeRec.Addr, id)
	d.remotes[key] = r
	return r
}

func (d *Disks) lookup(id string) (*state.Disk, *state.Node) {
	disks, _, err := d.node.State().DiskMap()
	if err != nil {
		return nil, nil
	}
	for _, sd := range disks {
		if sd.ID == id {
			n, err := d.node.State().Node(sd.Node)
			if err != nil {
				return sd, nil
			}
			return sd, n
		}
	}
	return nil, nil
}

// Local lists this box's disks.
func (d *Disks) Local() []*disk.Local {
	out := make([]*disk.Local, 0, len(d.local))
	for _, l := range d.local {
		out = append(out, l)
	}
	return out
}

func placementState(s string) placement.DiskState {
	switch s {
	case state.DiskDraining:
		return placement.Draining
	case state.DiskRemoved:
		return placement.Removed
	case state.DiskOffline:
		return placement.Offline
	}
	return placement.Online
}
