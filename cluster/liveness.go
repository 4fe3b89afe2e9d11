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
// A failure also asks the prober to check the box again at once (kick), on a fresh
// connection: one call that died on a connection the far box had dropped (it restarted,
// or a partition healed) must not make the box look down for a whole evidence period.
type reachability struct {
	mu       sync.Mutex
	m        map[string]rpcEvidence
	lastKick map[string]time.Time
	kick     chan string
}

func newReachability() *reachability {
	return &reachability{m: map[string]rpcEvidence{}, lastKick: map[string]time.Time{}, kick: make(chan string, 64)}
}

// forget drops all evidence (tests).
func (r *reachability) forget() {
	r.mu.Lock()
	clear(r.m)
	clear(r.lastKick)
	r.mu.Unlock()
}

// kickGap bounds how often one box's failures start an immediate probe.
const kickGap = 200 * time.Millisecond

// recheck asks the prober to ping addr now, at most once per kickGap; it never blocks.
func (r *reachability) recheck(addr string) {
	now := time.Now()
	r.mu.Lock()
	if now.Sub(r.lastKick[addr]) < kickGap {
		r.mu.Unlock()
		return
	}
	r.lastKick[addr] = now
	r.mu.Unlock()
	select {
	case r.kick <- addr:
	default:
	}
}

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
// caller cancelled says nothing about the box and is not recorded. A failed call drops
// the box's idle connections (they may be as dead as the one that failed) and asks for
// a fresh probe, unless it was a probe.
type observingTransport struct {
	next  *peerTransports
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
		t.next.dropIdle(req.URL.Host)
		if req.URL.Path != pingPath {
			t.reach.recheck(req.URL.Host)
		}
	}
	return resp, err
}

// CloseIdleConnections lets http.Client.CloseIdleConnections reach the pools.
func (t *observingTransport) CloseIdleConnections() { t.next.CloseIdleConnections() }

const pingPath = "/v1/ping"

// probeLoop asks, once per probe period, every registered box that is not plainly
// alive (gossip says dead or does not know it, or its last RPC failed) whether it
// answers node RPC. It is what keeps the evidence fresh for boxes nothing else calls.
func (n *Node) probeLoop() {
	period := 2 * n.cfg.Timing.ProbeInterval
	if period <= 0 {
		period = time.Second
	}
	inflight := map[string]bool{}
	var mu sync.Mutex
	probe := func(addr string) {
		mu.Lock()
		busy := inflight[addr]
		inflight[addr] = true
		mu.Unlock()
		if busy {
			return
		}
		go func() {
			defer func() { mu.Lock(); delete(inflight, addr); mu.Unlock() }()
			ctx, cancel := context.WithTimeout(context.Background(), 2*period)
			defer cancel()
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+addr+pingPath, nil)
			if err != nil {
				return
			}
			resp, err := n.rpc.http.Do(req) // the transport records the outcome
			if err == nil {
				resp.Body.Close()
			}
		}()
	}
	tick := time.NewTicker(period)
	defer tick.Stop()
	for {
		select {
		case <-n.shutdownCh:
			return
		case addr := <-n.reach.kick:
			probe(addr)
			continue
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
			probe(rec.Addr)
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
