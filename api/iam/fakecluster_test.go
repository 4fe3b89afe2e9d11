package iam

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/raft"

	"github.com/banyancloud/banyan/cluster/state"
)

// fakeCluster is a TEST DOUBLE for service.Cluster: it applies each command to a local
// state.FSM at once, as a one-node cluster's leader would, and answers like
// cluster.Node.Apply (the domain error, or the decoded value). It has no Raft, no
// forwarding and no failover; those are the cluster package's to test.
type fakeCluster struct {
	mu    sync.Mutex
	store *state.Store
	fsm   *state.FSM
	index uint64
	// beforeApply, if set, runs before each command is applied (under no lock), so a
	// test can slip a competing write in between a handler's read and its write.
	beforeApply atomic.Pointer[func()]
}

func newFakeCluster() *fakeCluster {
	st := state.NewStore()
	return &fakeCluster{store: st, fsm: state.NewFSM(st, slog.New(slog.NewTextHandler(io.Discard, nil)))}
}

func (f *fakeCluster) State() *state.Store { return f.store }

func (f *fakeCluster) Apply(ctx context.Context, cmd state.Command, out any) (uint64, error) {
	data, err := state.Encode(cmd)
	if err != nil {
		return 0, err
	}
	if hook := f.beforeApply.Load(); hook != nil {
		(*hook)()
	}
	f.mu.Lock()
	f.index++
	res := f.fsm.Apply(&raft.Log{Index: f.index, Type: raft.LogCommand, Data: data}).(*state.Result)
	f.mu.Unlock()
	if res.Err != nil {
		return res.Index, res.Err
	}
	if out != nil && len(res.Value) > 0 {
		if err := state.Unmarshal(res.Value, out); err != nil {
			return res.Index, err
		}
	}
	return res.Index, nil
}
