package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/banyancloud/banyan/blockstore/nbd"
	"github.com/banyancloud/banyan/blockstore/replica"
	"github.com/banyancloud/banyan/blockstore/snapshot"
	"github.com/banyancloud/banyan/blockstore/volume"
	"github.com/banyancloud/banyan/cluster"
	"github.com/banyancloud/banyan/cluster/state"
)

// BlockStorage is this box's EBS data plane (VolumeData): its copies of volumes under
// DATA-DIR/volumes, served to primaries on other boxes over node RPC, and the volumes it
// is the primary of, served to the local qemu over NBD on a unix socket.
type BlockStorage struct {
	node   *cluster.Node
	store  *replica.Store
	server *nbd.Server
	socket string
	log    *slog.Logger

	mu   sync.Mutex
	vols map[string]*volume.Volume
	// exportMu serializes Export: the instance controller (a boot volume) and the volume
	// controller may export the same volume at once, and only one may open it.
	exportMu sync.Mutex
	// Snapshots (blockstore_snapshots.go): the object store's snapshot data, and the
	// frozen views of snapshots being taken here by ID.
	snaps  snapshot.Store
	frozen map[string]*frozenView
}

// StartBlockStorage opens the box's volume store, mounts its node RPC and starts the
// NBD server on DATA-DIR/run/nbd.sock.
func StartBlockStorage(ctx context.Context, n *cluster.Node, dataDir string, log *slog.Logger) (*BlockStorage, error) {
	store, err := replica.Open(filepath.Join(dataDir, "volumes"))
	if err != nil {
		return nil, err
	}
	n.HandleRPC(replica.RPCPrefix, replica.NewHandler(store))
	run := filepath.Join(dataDir, "run")
	// qemu runs as its own user: it must reach the socket.
	if err := mkdirSearchable(run); err != nil {
		return nil, err
	}
	b := &BlockStorage{node: n, store: store, socket: filepath.Join(run, "nbd.sock"), log: log.With("sub", "blockstore"),
		vols: map[string]*volume.Volume{}, frozen: map[string]*frozenView{}}
	os.Remove(b.socket)
	l, err := net.Listen("unix", b.socket)
	if err != nil {
		return nil, fmt.Errorf("blockstore: NBD socket: %w", err)
	}
	if err := os.Chmod(b.socket, 0o666); err != nil {
		l.Close()
		return nil, err
	}
	b.server = &nbd.Server{Lookup: b.lookup, List: b.Exports, Logger: b.log}
	go b.server.Serve(l)
	go b.resyncLoop(ctx)
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		b.server.Shutdown(sctx)
		b.mu.Lock()
		for id, v := range b.vols {
			v.Close(sctx)
			delete(b.vols, id)
		}
		b.mu.Unlock()
		store.Close()
	}()
	return b, nil
}

func (b *BlockStorage) lookup(name string) (nbd.Backend, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	v, ok := b.vols[name]
	if !ok {
		return nil, fmt.Errorf("no export %q on this box", name)
	}
	return v, nil
}

// EnsureReplica implements VolumeData.
func (b *BlockStorage) EnsureReplica(id string, size int64) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := b.store.Create(ctx, id, size)
	if errors.Is(err, replica.ErrExists) {
		return nil
	}
	return err
}

// DropReplica implements VolumeData.
func (b *BlockStorage) DropReplica(id string) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := b.store.Delete(ctx, id)
	if errors.Is(err, replica.ErrNotFound) {
		return nil
	}
	return err
}

// HasReplica implements VolumeData.
func (b *BlockStorage) HasReplica(id string) bool {
	_, err := b.store.Info(context.Background(), id)
	return err == nil
}

// Replicas implements VolumeData.
func (b *BlockStorage) Replicas() ([]string, error) {
	infos, err := b.store.List(context.Background())
	if err != nil {
		return nil, err
	}
	var out []string
	for _, in := range infos {
		out = append(out, in.ID)
	}
	return out, nil
}

// Export implements VolumeData: it opens the volume as its primary at the record's
// epoch (closing an older one first), with a copy on every replica box.
func (b *BlockStorage) Export(ctx context.Context, rec *state.Volume) (string, string, error) {
	b.exportMu.Lock()
	defer b.exportMu.Unlock()
	b.mu.Lock()
	cur := b.vols[rec.ID]
	b.mu.Unlock()
	if cur != nil && cur.Epoch() == rec.Epoch && !cur.Fenced() {
		if !slices.Equal(cur.Replicas(), rec.Replicas) {
			// A copy rebuilt on another box (state/rebuild.go): the volume takes the new
			// set live; the resync loop copies the new copy whole.
			rs, err := b.replicaSet(rec)
			if err != nil {
				return "", "", err
			}
			if err := cur.SetReplicas(rs); err != nil {
				return "", "", fmt.Errorf("changing the copies of %s: %w", rec.ID, err)
			}
			b.log.Info("volume copies changed", "volume", rec.ID, "epoch", rec.Epoch, "replicas", rec.Replicas)
		}
		return b.socket, rec.ID, nil
	}
	if cur != nil {
		// An older epoch (another attach since) or a fenced volume: close it first.
		if err := b.Unexport(rec.ID); err != nil {
			b.log.Warn("closing the previous export of a volume", "volume", rec.ID, "epoch", cur.Epoch(), "err", err)
		}
	}
	cfg, err := b.volumeConfig(ctx, rec)
	if err != nil {
		return "", "", err
	}
	v, err := volume.Open(ctx, cfg)
	if err != nil {
		return "", "", fmt.Errorf("opening %s as its primary: %w", rec.ID, err)
	}
	// Snapshots handed to this box by the attach freeze before the guest writes.
	b.freezePending(rec, v)
	b.mu.Lock()
	b.vols[rec.ID] = v
	b.mu.Unlock()
	b.log.Info("serving volume", "volume", rec.ID, "epoch", rec.Epoch, "replicas", rec.Replicas)
	return b.socket, rec.ID, nil
}

// volumeConfig describes a volume to open as its primary here: a copy on every replica
// box, filled from its snapshot if it was made from one and is not filled yet.
func (b *BlockStorage) volumeConfig(ctx context.Context, rec *state.Volume) (volume.Config, error) {
	me := b.node.Name()
	cfg := volume.Config{ID: rec.ID, Size: int64(rec.SizeGiB) << 30, Epoch: rec.Epoch, Logger: b.log,
		Live:  func(name string) bool { return name == me || b.node.MemberAlive(name) },
		Stale: rec.Stale,
		// A copy that goes out is recorded through Raft before the write that put it
		// out is acknowledged: a primary cut off from the majority acknowledges
		// nothing that only its own copy holds, and a later primary (after a recovery
		// elsewhere) knows which copies to verify whole.
		Report: func(ctx context.Context, name string, inSync bool) error {
			_, err := b.node.Apply(ctx, &state.ReportVolumeCopy{ID: rec.ID, Node: me, Epoch: rec.Epoch, Copy: name, InSync: inSync}, nil)
			return err
		}}
	rs, err := b.replicaSet(rec)
	if err != nil {
		return cfg, err
	}
	cfg.Replicas = rs
	return cfg, b.fillSource(ctx, rec, &cfg)
}

// replicaSet is a holder for each of the volume's copies: this box's store, or the
// replica box's over node RPC.
func (b *BlockStorage) replicaSet(rec *state.Volume) ([]volume.Replica, error) {
	var rs []volume.Replica
	for _, name := range rec.Replicas {
		if name == b.node.Name() {
			rs = append(rs, volume.Replica{Name: name, Holder: b.store, Local: true})
			continue
		}
		n, err := b.node.State().Node(name)
		if err != nil {
			return nil, fmt.Errorf("replica box %s of %s: %w", name, rec.ID, err)
		}
		rs = append(rs, volume.Replica{Name: name, Holder: replica.NewRemote(b.node.RPCClient(), "https://"+n.Addr)})
	}
	return rs, nil
}

// resyncInterval is how often the primary looks for copies that are out and whose box
// answers again.
const resyncInterval = 2 * time.Second

// resyncLoop brings copies that were put out (their box died or did not answer) back in
// sync as soon as their box is live again: only the extents they missed are copied, while
// the guest keeps writing.
func (b *BlockStorage) resyncLoop(ctx context.Context) {
	t := time.NewTicker(resyncInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		b.mu.Lock()
		vols := make([]*volume.Volume, 0, len(b.vols))
		for _, v := range b.vols {
			vols = append(vols, v)
		}
		b.mu.Unlock()
		for _, v := range vols {
			for _, st := range v.Status() {
				if st.State == volume.InSync || st.Resyncing || (!st.Local && !b.node.MemberAlive(st.Name)) {
					continue
				}
				rctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
				stats, err := v.Resync(rctx, st.Name)
				cancel()
				if err != nil {
					b.log.Warn("volume copy resync failed; will retry", "volume", v.ID(), "replica", st.Name, "err", err)
					continue
				}
				b.log.Info("volume copy back in sync", "volume", v.ID(), "replica", st.Name, "copied_extents", stats.Copied, "verified_extents", stats.Verified)
			}
		}
	}
}

// Status reports the copies of each volume this box serves, for tests and status.
func (b *BlockStorage) Status() map[string][]volume.ReplicaStatus {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := map[string][]volume.ReplicaStatus{}
	for id, v := range b.vols {
		out[id] = v.Status()
	}
	return out
}

// Unexport implements VolumeData.
func (b *BlockStorage) Unexport(id string) error {
	b.mu.Lock()
	v := b.vols[id]
	delete(b.vols, id)
	b.mu.Unlock()
	if v == nil || b.keepForSnapshot(v) {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return v.Close(ctx)
}

// Exports implements VolumeData.
func (b *BlockStorage) Exports() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for id := range b.vols {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}
