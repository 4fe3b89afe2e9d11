package volume

import (
	"context"
	"log/slog"
	"time"

	"github.com/banyancloud/banyan/blockstore/replica"
)

// Replica is one copy of the volume.
type Replica struct {
	// Name is the box holding the copy; it keys the dirty sets recorded in
	// the copies' metadata, so it must be stable (the cluster member name).
	Name string
	// Holder reaches the copy: this box's *replica.Store, or a
	// *replica.Remote to another box's.
	Holder replica.Holder
	// Local marks the copy on this box; reads prefer it while it is in sync.
	Local bool
}

// Config describes the volume to Open.
type Config struct {
	// ID is the volume's ID (vol-...), the name of every copy.
	ID string
	// Size in bytes; 0 takes the largest size a reachable copy reports.
	Size int64
	// Epoch is this primary's epoch (the volume's Epoch in the replicated
	// state): higher than any earlier primary's.
	Epoch uint64
	// Replicas are the copies, the local one included if this box holds one.
	Replicas []Replica
	// Live reports whether a box is up as far as the cluster can tell
	// (cluster.Node.MemberAlive). A copy on a box that is not live is put
	// out at once instead of after CallTimeout. nil: every box is presumed
	// live until a call to it fails.
	Live func(name string) bool
	// Stale names copies the control plane knows lag behind; without a
	// dirty set recorded on a reachable copy they lag everywhere.
	Stale []string
	// Report, if set, is told synchronously when a copy goes out (inSync
	// false) and when Resync brings it back (true). A write that put a copy
	// out is not acknowledged until Report accepted that; an error fails
	// the write. The box agent records it through Raft.
	Report func(ctx context.Context, name string, inSync bool) error
	// Fill, for a volume created from a snapshot, gives the extents the copies
	// have not got yet (see FillSource).
	Fill FillSource
	// CallTimeout bounds each call to one copy (default 10 s): a copy that
	// takes longer is put out.
	CallTimeout time.Duration
	// Logger, default slog.Default().
	Logger *slog.Logger
}
