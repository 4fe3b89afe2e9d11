package cluster

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"time"
)

// Gossip is not the only witness of whether a box is up. Node RPC to a box is direct
// evidence: every call through the node's RPC client records whether the box answered,
// and a prober asks every registered box whose gossip status and RPC evidence disagree
// with "answering". MemberAlive combines both, so that a box that answers node RPC is
// not skipped because gossip is stale (gossip that has not yet healed after a partition)
// and a box whose calls are failing is not waited on while gossip still calls it alive.

// evidenceFresh is how long one RPC outcome counts as evidence.
const evidenceFresh = 3 * time.Second

type rpcEvidence struct {
	ok, fail time.Time
}

// reachability records the last success and the last failure of node RPC per address.
type reachability struct {
	mu sync.Mutex
	m  map[string]rpcEvidence
}

func newReachability() *reachability { return &reachability{m: map[string]rpcEvidence{}} }

func (r *reachability) record(addr string, ok bool) {
	now := time.Now()
	r.mu.Lock()
	e := r.m[addr]
	if ok {
		e.ok = now
	} else {
		e.fail = now
	}
	r.m[addr] = e
	r.mu.Unlock()
}

// verdict is +1 when the box answered recently and has not failed since, -1 when its
// most recent call failed recently, 0 when there is no fresh evidence either way.
func (r *reachability) verdict(addr string) int {
	if r == nil || addr == "" {
		return 0
	}
	r.mu.Lock()
	e := r.m[addr]
	r.mu.Unlock()
	now := time.Now()
	switch {
	case e.ok.After(e.fail) && now.Sub(e.ok) < evidenceFresh:
		return 1
	case e.fail.After(e.ok) && now.Sub(e.fail) < evidenceFresh:
		return -1
	}
	return 0
}

// observingTransport records the outcome of every node RPC round trip. A call the
// caller cancelled says nothing about the box and is not recorded.
type observingTransport struct {
	next  http.RoundTripper
	reach *reachability
}

func (t *observingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(req)
	switch {
	case err == nil:
		t.reach.record(req.URL.Host, true)
	case errors.Is(err, context.Canceled) || req.Context().Err() == context.Canceled:
	default:
		t.reach.record(req.URL.Host, false)
	}
	return resp, err
}

// probeLoop asks, once per probe period, every registered box that is not plainly
// alive (gossip says dead or does not know it, or its last RPC failed) whether it
// answers node RPC. It is what keeps the evidence fresh for boxes nothing else calls.
func (n *Node) probeLoop() {
	period := 4 * n.cfg.Timing.ProbeInterval
	if period <= 0 {
		period = 2 * time.Second
	}
	inflight := map[string]bool{}
	var mu sync.Mutex
	tick := time.NewTicker(period)
	defer tick.Stop()
	for {
		select {
		case <-n.shutdownCh:
			return
		case <-tick.C:
		}
		nodes, err := n.store.Nodes()
		if err != nil {
			continue
		}
		gossipAlive := n.gossipMembers()
		for _, rec := range nodes {
			if rec.Name == n.cfg.Name || rec.Addr == "" {
				continue
			}
			if gossipAlive[rec.Name] && n.reach.verdict(rec.Addr) >= 0 {
				continue
			}
			mu.Lock()
			busy := inflight[rec.Addr]
			inflight[rec.Addr] = true
			mu.Unlock()
			if busy {
				continue
			}
			addr := rec.Addr
			go func() {
				defer func() { mu.Lock(); delete(inflight, addr); mu.Unlock() }()
				ctx, cancel := context.WithTimeout(context.Background(), period)
				defer cancel()
				req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+addr+"/v1/ping", nil)
				if err != nil {
					return
				}
				resp, err := n.rpc.http.Do(req) // the transport records the outcome
				if err == nil {
					resp.Body.Close()
				}
			}()
		}
	}
}

func (n *Node) handlePing(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) }

// gossipMembers names the members gossip sees as alive or suspect.
func (n *Node) gossipMembers() map[string]bool {
	out := map[string]bool{}
	if n.gossip == nil {
		return out
	}
	for _, m := range n.gossip.Members() {
		out[m.Name] = true // Members() holds only alive and suspect nodes
	}
	return out
}
