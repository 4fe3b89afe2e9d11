package cluster

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/hashicorp/raft"

	"github.com/banyancloud/banyan/cluster/mux"
	"github.com/banyancloud/banyan/cluster/pki"
	"github.com/banyancloud/banyan/cluster/state"
)

// Client talks node RPC to one node with a certificate from the cluster CA. The admin
// verbs of the banyan binary use it with the box's own certificate (so only root on a
// member box can use them), and so do process-level tests.
type Client struct {
	addr string
	rpc  *rpcClient
}

// NewClient returns a client for the node at addr (host:port of its RPC port).
func NewClient(addr string, id *pki.Identity) *Client {
	return &Client{addr: addr, rpc: newRPCClient(&mux.Dialer{}, id.ClientConfig())}
}

// Close releases idle connections.
func (c *Client) Close() { c.rpc.close() }

type submitRequest struct {
	Data []byte `cbor:"1,keyasint"`
}

// Submit applies cmd through the node, exactly as Node.Apply would on that node: it is
// forwarded to the leader and held while there is none. out receives the result value.
func (c *Client) Submit(ctx context.Context, cmd state.Command, out any) (uint64, error) {
	data, err := state.Encode(cmd)
	if err != nil {
		return 0, err
	}
	var resp applyResponse
	if err := c.rpc.call(ctx, c.addr, "/v1/submit", submitRequest{Data: data}, &resp); err != nil {
		return 0, err
	}
	if resp.Err != nil {
		return 0, fmt.Errorf("%s: %s", resp.Err.Code, resp.Err.Message)
	}
	if resp.Result == nil {
		return 0, fmt.Errorf("node %s sent an empty result", c.addr)
	}
	if resp.Result.Err != nil {
		return resp.Result.Index, resp.Result.Err
	}
	if out != nil && len(resp.Result.Value) > 0 {
		if err := state.Unmarshal(resp.Result.Value, out); err != nil {
			return resp.Result.Index, err
		}
	}
	return resp.Result.Index, nil
}

type settingsResponse struct {
	Settings     []*state.Setting `cbor:"1,keyasint"`
	AppliedIndex uint64           `cbor:"2,keyasint"`
}

// Settings lists the settings in that node's local replica (no forwarding), with the
// index the replica has applied.
func (c *Client) Settings(ctx context.Context) ([]*state.Setting, uint64, error) {
	var resp settingsResponse
	if err := c.rpc.call(ctx, c.addr, "/v1/settings", struct{}{}, &resp); err != nil {
		return nil, 0, err
	}
	return resp.Settings, resp.AppliedIndex, nil
}

func (n *Node) handleSubmit(w http.ResponseWriter, r *http.Request) {
	var req submitRequest
	if err := readCBOR(r.Body, &req); err != nil || len(req.Data) == 0 {
		writeCBOR(w, http.StatusBadRequest, applyResponse{Err: &rpcError{Code: rpcInvalid, Message: "malformed submit request"}})
		return
	}
	res, err := n.submit(r.Context(), req.Data, n.newRequestID())
	if err == nil {
		err = n.store.WaitForIndex(r.Context(), res.Index)
	}
	if err != nil {
		writeCBOR(w, http.StatusOK, applyResponse{Err: &rpcError{Code: rpcInternal, Message: err.Error()}})
		return
	}
	writeCBOR(w, http.StatusOK, applyResponse{Result: res})
}

func (n *Node) handleSettings(w http.ResponseWriter, r *http.Request) {
	idx := n.store.AppliedIndex()
	s, err := n.store.Settings()
	if err != nil {
		writeCBOR(w, http.StatusInternalServerError, nil)
		return
	}
	writeCBOR(w, http.StatusOK, settingsResponse{Settings: s, AppliedIndex: idx})
}

type iamEntitiesRequest struct {
	Kind    string `cbor:"1,keyasint"`
	Account string `cbor:"2,keyasint"`
}

type iamEntitiesResponse struct {
	Entities []*state.Entity `cbor:"1,keyasint"`
}

// IAMEntities lists IAM entities of a kind in an account from that node's replica (for
// the admin verbs; secrets in them stay sealed with the cluster key).
func (c *Client) IAMEntities(ctx context.Context, kind, account string) ([]*state.Entity, error) {
	var resp iamEntitiesResponse
	if err := c.rpc.call(ctx, c.addr, "/v1/iam/entities", iamEntitiesRequest{Kind: kind, Account: account}, &resp); err != nil {
		return nil, err
	}
	return resp.Entities, nil
}

// Apply makes a Client usable where a cluster writer is expected (the admin verbs).
func (c *Client) Apply(ctx context.Context, cmd state.Command, out any) (uint64, error) {
	return c.Submit(ctx, cmd, out)
}

func (n *Node) handleIAMEntities(w http.ResponseWriter, r *http.Request) {
	var req iamEntitiesRequest
	if err := readCBOR(r.Body, &req); err != nil {
		writeCBOR(w, http.StatusBadRequest, nil)
		return
	}
	es, err := n.store.IAMEntities(req.Kind, req.Account)
	if err != nil {
		writeCBOR(w, http.StatusInternalServerError, nil)
		return
	}
	writeCBOR(w, http.StatusOK, iamEntitiesResponse{Entities: es})
}

// Call posts in (CBOR) to a node RPC endpoint a subsystem added with HandleRPC and
// decodes the CBOR answer into out.
func (c *Client) Call(ctx context.Context, path string, in, out any) error {
	return c.rpc.call(ctx, c.addr, path, in, out)
}

type commitIndexResponse struct {
	Index uint64 `cbor:"1,keyasint"`
}

func (n *Node) handleCommitIndex(w http.ResponseWriter, r *http.Request) {
	idx, err := n.leaderCommitIndex()
	if err != nil {
		writeCBOR(w, http.StatusOK, applyResponse{Err: &rpcError{Code: rpcNotLeader}})
		return
	}
	writeCBOR(w, http.StatusOK, commitIndexResponse{Index: idx})
}

// leaderCommitIndex is the commit index of a leader that a majority still follows: read
// before VerifyLeader's round of heartbeats, so that a leader that was paused or cut
// off (and replaced meanwhile) cannot hand out an index older than the cluster's.
func (n *Node) leaderCommitIndex() (uint64, error) {
	if n.raft.State() != raft.Leader {
		return 0, errNotLeader
	}
	idx := n.raft.CommitIndex()
	if err := n.raft.VerifyLeader().Error(); err != nil {
		return 0, errNotLeader
	}
	return idx, nil
}

// CatchUp waits until this node's replica has applied everything the leader had
// committed when asked: a read after it sees every write acknowledged anywhere in the
// cluster before the call. It costs one round trip to the leader and no Raft write, so
// front ends call it when a lookup misses (a bucket or key created through another box a
// moment ago) rather than on every read.
func (n *Node) CatchUp(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, n.cfg.Timing.WriteHold)
	defer cancel()
	for {
		var idx uint64
		var err error
		if n.raft.State() == raft.Leader {
			idx, err = n.leaderCommitIndex()
		} else if addr, _ := n.raft.LeaderWithID(); addr != "" {
			var resp struct {
				commitIndexResponse
				Err *rpcError `cbor:"2,keyasint,omitempty"`
			}
			attempt, cancelAttempt := context.WithTimeout(ctx, forwardAttempt)
			err = n.rpc.call(attempt, string(addr), "/v1/commit-index", struct{}{}, &resp)
			cancelAttempt()
			if err == nil && resp.Err != nil {
				err = errNotLeader
			}
			idx = resp.Index
		} else {
			err = ErrNoLeader
		}
		if err == nil {
			if werr := n.store.WaitForIndex(ctx, idx); werr != nil && ctx.Err() != nil {
				// Not caught up within the hold: the caller answers a retryable error
				// (503), not a guess from a stale replica and not a 500.
				return &noLeaderError{last: fmt.Errorf("catching up to index %d: %w", idx, werr)}
			} else if werr != nil {
				return werr
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return &noLeaderError{last: err}
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Call posts in (CBOR) to an endpoint a subsystem added with HandleRPC on the node at
// addr (its RPC address) and decodes the CBOR answer into out.
func (n *Node) Call(ctx context.Context, addr, path string, in, out any) error {
	return n.rpc.call(ctx, addr, path, in, out)
}
