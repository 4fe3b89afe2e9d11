package service

import (
	"context"
	"time"

	"github.com/banyancloud/banyan/cluster/state"
)

// catchUpWait bounds ReadBarrier's CatchUp, which takes a round trip to the leader and
// the few milliseconds this replica needs to apply what it learns of.
var catchUpWait = 500 * time.Millisecond

// ReadBarrier brings c's local replica up to everything committed anywhere in the
// cluster when it is called, so that a read of the replica after it is linearizable.
// It asks the leader for its commit index (under VerifyLeader) and waits until the
// replica has applied that far (CatchUpper: one round trip, no Raft write). With no
// leader, it fails with the cluster's retryable error (503 ServiceUnavailable) rather
// than let a replica that may be behind answer. A cluster without CatchUp (a test
// double applying at once) needs nothing.
//
// Should the catch-up not finish within catchUpWait, a state.Noop is written through
// Raft instead: once Apply returns, this replica has applied it and everything
// committed before it. That holds during a failover too, as every write does.
func ReadBarrier(ctx context.Context, c Cluster) error {
	cu, ok := c.(CatchUpper)
	if !ok {
		return nil
	}
	wctx, cancel := context.WithTimeout(ctx, catchUpWait)
	err := cu.CatchUp(wctx)
	cancel()
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	_, err = c.Apply(ctx, &state.Noop{}, nil)
	return err
}
