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
	e.records[n.Name] = memberRecord{status: status, meta: meta, gossip: n.Address(), since: time.Now()}
	e.mu.Unlock()
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
	mc.GossipToTheDeadTime = 30 * time.Second
	ml, err := memberlist.Create(mc)
	if err != nil {
		return fmt.Errorf("cannot start gossip on %s:%d: %w", n.cfg.BindAddr, n.cfg.GossipPort, err)
	}
	n.gossip = ml
	n.wg.Add(1)
	go func() { defer n.wg.Done(); n.joinPeers() }()
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

// memberStatus is gossip's live view merged with what it last reported.
func (n *Node) memberStatus() map[string]memberRecord {
	out := n.events.snapshot()
	for _, m := range n.gossip.Members() {
		rec := out[m.Name]
		rec.gossip = m.Address()
		switch m.State {
		case memberlist.StateAlive:
			rec.status = StatusAlive
		case memberlist.StateSuspect:
			rec.status = StatusSuspect
		}
		if len(m.Meta) > 0 {
			state.Unmarshal(m.Meta, &rec.meta)
		}
		out[m.Name] = rec
	}
	return out
}
