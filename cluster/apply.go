package cluster

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/raft"

	"github.com/banyancloud/banyan/cluster/state"
)

// Errors from Apply.
var (
	// ErrNoLeader: no leader could be reached within the write hold. A majority of the
	// voters is down or partitioned away from this node.
	ErrNoLeader error = retryable("no cluster leader could be reached; a majority of the Raft voters may be down")
	// ErrShutdown: the node is stopping.
	ErrShutdown error = retryable("node is shutting down")
	// errNotLeader is what a former leader answers a forward with; the caller retries.
	errNotLeader = errors.New("not the leader")
)

// forwardAttempt bounds one forward of a write to the leader (and one commit-index
// query); after it the leader is looked up again. The write hold bounds the whole call.
// A retry is safe: the request ID makes a write that did commit apply once.
const forwardAttempt = 1500 * time.Millisecond

// retryable is a sentinel error the front door answers with the service's 503 "try
// again" (api/awserr.Retryable).
type retryable string

func (e retryable) Error() string   { return string(e) }
func (e retryable) Retryable() bool { return true }

// noLeaderError is ErrNoLeader with the last thing that went wrong. It says it is
// retryable, so the front door answers every service's "try again" (HTTP 503).
type noLeaderError struct{ last error }

func (e *noLeaderError) Error() string {
	if e.last == nil || errors.Is(e.last, ErrNoLeader) {
		return ErrNoLeader.Error()
	}
	return fmt.Sprintf("%v (last error: %v)", ErrNoLeader, e.last)
}
func (e *noLeaderError) Unwrap() error   { return ErrNoLeader }
func (e *noLeaderError) Retryable() bool { return true }

// Apply submits a command from any node. It goes to the leader (directly, or forwarded
// over node RPC) and waits, at most Timing.WriteHold, while there is no leader, so a
// failover shows as latency rather than an error. It returns once this node's replica
// has applied the command, so a read here afterwards sees it. A domain error from the
// apply function is returned as *state.Error; out, if non-nil, receives the value.
func (n *Node) Apply(ctx context.Context, cmd state.Command, out any) (uint64, error) {
	data, err := state.Encode(cmd)
	if err != nil {
		return 0, fmt.Errorf("cluster: encoding %T: %w", cmd, err)
	}
	res, err := n.submit(ctx, data, n.newRequestID())
	if err != nil {
		return 0, err
	}
	if err := n.store.WaitForIndex(ctx, res.Index); err != nil {
		return res.Index, err
	}
	if res.Err != nil {
		return res.Index, res.Err
	}
	if out != nil && len(res.Value) > 0 {
		if err := state.Unmarshal(res.Value, out); err != nil {
			return res.Index, fmt.Errorf("cluster: decoding the result of %T: %w", cmd, err)
		}
	}
	return res.Index, nil
}

// submit gets data committed, retrying through leader changes. The request ID makes a
// retry after an ambiguous failure (the leader died after committing) apply once.
func (n *Node) submit(ctx context.Context, data, requestID []byte) (*state.Result, error) {
	hold, cancel := context.WithTimeout(ctx, n.cfg.Timing.WriteHold)
	defer cancel()
	backoff := 5 * time.Millisecond
	var last error
	for {
		var res *state.Result
		var err error
		if n.raft.State() == raft.Leader {
			res, err = n.applyLocal(hold, data, requestID)
		} else if addr, _ := n.raft.LeaderWithID(); addr != "" {
			// Each forward has its own short deadline: a leader that was cut off may
			// never answer, and a new one is usually elected within a second or two.
			attempt, cancelAttempt := context.WithTimeout(hold, forwardAttempt)
			res, err = n.rpc.apply(attempt, string(addr), data, requestID)
			cancelAttempt()
		} else {
			err = ErrNoLeader
		}
		if err == nil {
			return res, nil
		}
		if errors.Is(err, raft.ErrRaftShutdown) {
			return nil, ErrShutdown
		}
		last = err
		select {
		case <-hold.Done():
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, &noLeaderError{last: last}
		case <-n.shutdownCh:
			return nil, ErrShutdown
		case <-time.After(backoff):
		}
		if backoff < 100*time.Millisecond {
			backoff *= 2
		}
	}
}

// applyLocal commits data on this node, which must be the leader.
func (n *Node) applyLocal(ctx context.Context, data, requestID []byte) (*state.Result, error) {
	timeout := n.cfg.Timing.WriteHold
	if dl, ok := ctx.Deadline(); ok {
		timeout = time.Until(dl)
	}
	f := n.raft.ApplyLog(raft.Log{Data: data, Extensions: requestID}, timeout)
	if err := f.Error(); err != nil {
		if errors.Is(err, raft.ErrNotLeader) || errors.Is(err, raft.ErrLeadershipLost) ||
			errors.Is(err, raft.ErrLeadershipTransferInProgress) {
			return nil, errNotLeader
		}
		return nil, err
	}
	res, ok := f.Response().(*state.Result)
	if !ok {
		return nil, fmt.Errorf("cluster: unexpected FSM response %T", f.Response())
	}
	return res, nil
}
