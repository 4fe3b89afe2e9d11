package state

import (
	"context"
	"io"
	"log/slog"
	"sync"

	"github.com/hashicorp/raft"
)

// Local is a TEST DOUBLE of the cluster's write path: it applies each command to an
// in-memory FSM at once, as the leader of a one-node cluster would, and answers as
// cluster.Node.Apply does (the domain error, or the decoded value). It has no Raft, no
// forwarding and no failover; those are the cluster package's to test. Packages that
// program against "Apply plus the local replica" test with it.
type Local struct {
	mu    sync.Mutex
	store *Store
	fsm   *FSM
	index uint64
}

// NewLocal returns an empty Local.
func NewLocal() *Local {
	st := NewStore()
	return &Local{store: st, fsm: NewFSM(st, slog.New(slog.NewTextHandler(io.Discard, nil)))}
}

// State is the replica the commands are applied to.
func (l *Local) State() *Store { return l.store }

// Apply applies cmd now.
func (l *Local) Apply(ctx context.Context, cmd Command, out any) (uint64, error) {
	data, err := Encode(cmd)
	if err != nil {
		return 0, err
	}
	l.mu.Lock()
	l.index++
	res := l.fsm.Apply(&raft.Log{Index: l.index, Type: raft.LogCommand, Data: data}).(*Result)
	l.mu.Unlock()
	if res.Err != nil {
		return res.Index, res.Err
	}
	if out != nil && len(res.Value) > 0 {
		if err := Unmarshal(res.Value, out); err != nil {
			return res.Index, err
		}
	}
	return res.Index, nil
}
