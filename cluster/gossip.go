package cluster

import (
	"fmt"
	"log"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/banyancloud/banyan/cluster/state"
)

// memberMeta is what a node tells the others about itself in gossip (at most 512 bytes).
type memberMeta struct {
	ClusterID string `cbor:"1,keyasint"`
	Addr      string `cbor:"2,keyasint"` // node RPC + Raft
	API       string `cbor:"3,keyasint,omitempty"`
	Version   string `cbor:"4,keyasint,omitempty"`
}

// Member statuses as `banyan status` prints them.
const (
	StatusAlive   = "alive"
	StatusSuspect = "suspect"
	StatusDead    = "dead"
	StatusLeft    = "left"
)

// memberRecord is the last thing gossip said about a node.
type memberRecord struct {
	status string
	meta   memberMeta
	gossip string
	since  time.Time
}

// memberEvents records gossip's reports and wakes the leader's reconciler. Gossip only
// reports; it never changes Raft membership itself.
type memberEvents struct {
	mu      sync.Mutex
	records map[string]memberRecord
	wake    chan struct{}
	// alive is told the node RPC address of a member gossip reports alive, so that
	// older evidence of failed calls is checked again at once.
	alive func(rpcAddr string)
	// returned is called when a member gossip had reported dead is alive again: a
	// partition healed or the box restarted.
	returned func(name string)
}

func newMemberEvents() *memberEvents {
	return &memberEvents{records: map[string]memberRecord{}, wake: make(chan struct{}, 1)}
}

func (e *memberEvents) record(n *memberlist.Node, status string) {
	var meta memberMeta
	if len(n.Meta) > 0 {
		if err := state.Unmarshal(n.Meta, &meta); err != nil {
			return // not one of ours; the gossip key makes this very unlikely
		}
	}
	e.mu.Lock()
	prev, known := e.records[n.Name]
	e.records[n.Name] = memberRecord{status: status, meta: meta, gossip: n.Address(), since: time.Now()}
	e.mu.Unlock()
	if status == StatusAlive && meta.Addr != "" && e.alive != nil {
		e.alive(meta.Addr)
	}
	if status == StatusAlive && known && prev.status == StatusDead && e.returned != nil {
		e.returned(n.Name)
	}
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

func (e *memberEvents) NotifyJoin(n *memberlist.Node)   { e.record(n, StatusAlive) }
func (e *memberEvents) NotifyUpdate(n *memberlist.Node) { e.record(n, StatusAlive) }
func (e *memberEvents) NotifyLeave(n *memberlist.Node) {
	if n.State == memberlist.StateLeft {
		e.record(n, StatusLeft)
	} else {
		e.record(n, StatusDead)
	}
}

func (e *memberEvents) snapshot() map[string]memberRecord {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make(map[string]memberRecord, len(e.records))
	for k, v := range e.records {
		out[k] = v
	}
	return out
}

// metaDelegate serves this node's meta to gossip.
type metaDelegate struct{ meta []byte }

func (d *metaDelegate) NodeMeta(limit int) []byte {
	if len(d.meta) > limit {
		return nil
	}
	return d.meta
}
func (d *metaDelegate) NotifyMsg([]byte)                           {}
func (d *metaDelegate) GetBroadcasts(overhead, limit int) [][]byte { return nil }
func (d *metaDelegate) LocalState(join bool) []byte                { return nil }
func (d *metaDelegate) MergeRemoteState(buf []byte, join bool)     {}

func (n *Node) startGossip() error {
	meta, err := state.Marshal(memberMeta{ClusterID: n.cfg.ClusterID, Addr: n.Addr(), API: n.cfg.APIAddr, Version: n.cfg.Version})
	if err != nil {
		return err
	}
	n.events = newMemberEvents()
	n.events.alive = n.reach.recheck
	n.events.returned = n.dropRaftConns
	mc := memberlist.DefaultLANConfig()
	mc.Name = n.cfg.Name
	mc.BindAddr = n.cfg.BindAddr
	mc.BindPort = n.cfg.GossipPort
	mc.AdvertiseAddr = n.cfg.AdvertiseAddr
	mc.AdvertisePort = n.cfg.GossipPort
	mc.SecretKey = n.cfg.GossipKey
	mc.Delegate = &metaDelegate{meta: meta}
	mc.Events = n.events
	mc.Logger = log.New(&slogWriter{l: n.log.With("sub", "gossip")}, "", 0)
	mc.ProbeInterval = n.cfg.Timing.ProbeInterval
	mc.ProbeTimeout = n.cfg.Timing.ProbeTimeout
	mc.SuspicionMult = n.cfg.Timing.SuspicionMult
	// Bound the suspicion timeout even when no other node confirms the suspicion (a
	// three-box cluster has only one other witness).
	mc.SuspicionMaxTimeoutMult = 2
	mc.GossipToTheDeadTime = n.cfg.Timing.GossipToTheDead
	// A join or push-pull to a box behind a partition should give up quickly: the rejoin
	// loop tries again, and a healed partition must heal within seconds.
	mc.TCPTimeout = 2 * time.Second
	if n.cfg.Faults != nil {
		t, err := newFaultyTransport(n.cfg.BindAddr, n.cfg.GossipPort, n.cfg.Faults, mc)
		if err != nil {
			return fmt.Errorf("cannot start gossip on %s:%d: %w", n.cfg.BindAddr, n.cfg.GossipPort, err)
		}
		mc.Transport = t
	}
	ml, err := memberlist.Create(mc)
	if err != nil {
		return fmt.Errorf("cannot start gossip on %s:%d: %w", n.cfg.BindAddr, n.cfg.GossipPort, err)
	}
	n.gossip = ml
	n.wg.Add(2)
	go func() { defer n.wg.Done(); n.joinPeers() }()
	go func() { defer n.wg.Done(); n.rejoinLoop() }()
	return nil
}

// joinPeers contacts the known peers until gossip reaches at least one of them; a box
// that restarts while the others are down keeps trying in the background.
func (n *Node) joinPeers() {
	var peers []string
	for _, p := range n.cfg.Peers {
		if p != n.GossipAddr() {
			peers = append(peers, p)
		}
	}
	if len(peers) == 0 {
		return
	}
	backoff := 200 * time.Millisecond
	for {
		k, err := n.gossip.Join(peers)
		if k > 0 {
			return
		}
		n.log.Debug("gossip join failed; retrying", "peers", strings.Join(peers, ","), "err", err)
		select {
		case <-n.shutdownCh:
			return
		case <-time.After(backoff):
		}
		if backoff < 5*time.Second {
			backoff *= 2
		}
	}
}

// rejoinLoop heals gossip after partitions. memberlist stops contacting a member some
// time after it declared it dead, so two sides of a healed partition that have marked
// each other dead would never gossip again. Every registered box (the nodes table knows
// them all) that gossip does not see alive is joined again, with a backoff per box, one
// attempt in flight per box; a box that left on purpose is not.
func (n *Node) rejoinLoop() {
	const minBackoff, maxBackoff = 250 * time.Millisecond, 2 * time.Second
	type target struct {
		next    time.Time
		backoff time.Duration
		busy    bool
	}
	var mu sync.Mutex
	targets := map[string]*target{}
	period := n.cfg.Timing.ProbeInterval
	if period <= 0 {
		period = 500 * time.Millisecond
	}
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
		alive := n.gossipMembers()
		records := n.events.snapshot()
		now := time.Now()
		mu.Lock()
		for _, rec := range nodes {
			if rec.Name == n.cfg.Name || rec.GossipAddr == "" || rec.GossipAddr == n.GossipAddr() {
				continue
			}
			if alive[rec.Name] {
				delete(targets, rec.Name)
				continue
			}
			if records[rec.Name].status == StatusLeft {
				continue
			}
			t := targets[rec.Name]
			if t == nil {
				t = &target{backoff: minBackoff}
				targets[rec.Name] = t
			}
			if t.busy || now.Before(t.next) {
				continue
			}
			t.busy = true
			name, addr := rec.Name, rec.GossipAddr
			go func() {
				k, err := n.gossip.Join([]string{addr})
				mu.Lock()
				defer mu.Unlock()
				t.busy = false
				if k > 0 {
					n.log.Info("gossip rejoined member", "member", name, "addr", addr)
					t.backoff = minBackoff
					t.next = time.Now().Add(t.backoff)
					return
				}
				n.log.Debug("gossip rejoin failed", "member", name, "addr", addr, "err", err)
				t.next = time.Now().Add(t.backoff)
				if t.backoff < maxBackoff {
					t.backoff *= 2
				}
			}()
		}
		mu.Unlock()
	}
}

// memberStatus is what gossip last reported of each member, with every member gossip
// holds as alive or suspect shown alive. Only Name is read from Members(): memberlist
// hands out pointers to nodes it goes on changing, and Name alone never changes; the
// rest comes from the events, which memberlist delivers under its lock.
func (n *Node) memberStatus() map[string]memberRecord {
	out := n.events.snapshot()
	for name := range n.gossipMembers() {
		rec := out[name]
		rec.status = StatusAlive
		out[name] = rec
	}
	return out
}
