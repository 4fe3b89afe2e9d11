package cluster

import (
	"context"
	"time"

	"github.com/hashicorp/raft"

	"github.com/banyancloud/banyan/cluster/state"
)

// absentIsDead: a Raft server that gossip has not reported at all for this long after
// this node became leader is treated as dead (gossip forgets dead nodes after a while, and
// a freshly restarted leader may never have heard of them).
const absentIsDead = 30 * time.Second

// leaderLoop runs the reconciler while this node leads.
func (n *Node) leaderLoop() {
	var leading *leaderTerm
	defer func() { leading.stop() }()
	for {
		select {
		case <-n.shutdownCh:
			return
		case isLeader := <-n.leaderNotify:
			leading.stop()
			leading = nil
			if isLeader {
				leading = &leaderTerm{done: make(chan struct{})}
				go n.lead(leading.done)
			}
		}
	}
}

// leaderTerm is one stretch of leadership; stop ends its duties.
type leaderTerm struct{ done chan struct{} }

func (t *leaderTerm) stop() {
	if t != nil {
		close(t.done)
	}
}

// lead is the leader's duty cycle: catch up the FSM, then keep Raft membership and the
// nodes table in line with gossip.
func (n *Node) lead(done chan struct{}) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-done:
			cancel()
		case <-ctx.Done():
		}
	}()
	n.log.Info("became leader")
	since := time.Now()
	if err := n.raft.Barrier(10 * time.Second).Error(); err != nil {
		n.log.Warn("leader barrier failed", "err", err)
		return
	}
	// Raft's own no-op of the new term is not an FSM command: commit one that is, so
	// that a commit index read from this leader (CatchUp) names an entry every replica
	// applies.
	if _, err := n.Apply(ctx, &state.Noop{}, nil); err != nil {
		n.log.Warn("leader no-op failed", "err", err)
	}
	tick := time.NewTicker(n.cfg.Timing.ReconcileInterval)
	defer tick.Stop()
	for {
		n.reconcile(ctx, since)
		select {
		case <-ctx.Done():
			n.log.Info("lost leadership")
			return
		case <-tick.C:
		case <-n.events.wake:
		}
	}
}

func (n *Node) reconcile(ctx context.Context, leaderSince time.Time) {
	cf := n.raft.GetConfiguration()
	if cf.Error() != nil {
		return
	}
	servers := map[string]raft.Server{}
	voters := 0
	for _, s := range cf.Configuration().Servers {
		servers[string(s.ID)] = s
		if s.Suffrage == raft.Voter {
			voters++
		}
	}
	members := n.memberStatus()
	members[n.cfg.Name] = memberRecord{status: StatusAlive, meta: memberMeta{ClusterID: n.cfg.ClusterID, Addr: n.Addr(), API: n.cfg.APIAddr, Version: n.cfg.Version}, gossip: n.GossipAddr()}

	alive := func(name string) bool {
		m, ok := members[name]
		return ok && (m.status == StatusAlive || m.status == StatusSuspect) && m.meta.Addr != ""
	}
	dead := func(name string) bool {
		m, ok := members[name]
		if !ok {
			return time.Since(leaderSince) > absentIsDead
		}
		return m.status == StatusDead || m.status == StatusLeft
	}

	for name, m := range members {
		if m.meta.ClusterID != "" && m.meta.ClusterID != n.cfg.ClusterID {
			continue
		}
		if alive(name) {
			n.registerNode(ctx, name, m)
		}
		s, inRaft := servers[name]
		switch {
		case m.status == StatusLeft && inRaft && name != n.cfg.Name:
			n.log.Info("removing departed node from raft", "member", name)
			n.raft.RemoveServer(raft.ServerID(name), 0, 0).Error()
			if s.Suffrage == raft.Voter {
				voters--
			}
		case alive(name) && !inRaft:
			if voters < maxVoters {
				n.log.Info("adding voter", "member", name, "addr", m.meta.Addr)
				if n.raft.AddVoter(raft.ServerID(name), raft.ServerAddress(m.meta.Addr), 0, 0).Error() == nil {
					voters++
				}
			} else {
				n.log.Info("adding non-voter", "member", name, "addr", m.meta.Addr)
				n.raft.AddNonvoter(raft.ServerID(name), raft.ServerAddress(m.meta.Addr), 0, 0).Error()
			}
		case alive(name) && string(s.Address) != m.meta.Addr:
			n.log.Info("updating raft address", "member", name, "from", s.Address, "to", m.meta.Addr)
			if s.Suffrage == raft.Voter {
				n.raft.AddVoter(raft.ServerID(name), raft.ServerAddress(m.meta.Addr), 0, 0).Error()
			} else {
				n.raft.AddNonvoter(raft.ServerID(name), raft.ServerAddress(m.meta.Addr), 0, 0).Error()
			}
		}
	}

	// Promote live non-voters while there is room, and let each one replace a dead voter.
	var deadVoters []string
	for name, s := range servers {
		if s.Suffrage == raft.Voter && name != n.cfg.Name && dead(name) {
			deadVoters = append(deadVoters, name)
		}
	}
	for name, s := range servers {
		if s.Suffrage != raft.Nonvoter || !alive(name) {
			continue
		}
		if voters < maxVoters {
			n.log.Info("promoting non-voter", "member", name)
			if n.raft.AddVoter(s.ID, s.Address, 0, 0).Error() == nil {
				voters++
			}
			continue
		}
		if len(deadVoters) == 0 {
			break
		}
		d := deadVoters[0]
		deadVoters = deadVoters[1:]
		n.log.Info("replacing dead voter", "dead", d, "with", name)
		if n.raft.AddVoter(s.ID, s.Address, 0, 0).Error() == nil {
			n.raft.DemoteVoter(raft.ServerID(d), 0, 0).Error()
		}
	}
}

// registerNode records a live member in the nodes table when it is new or has moved.
func (n *Node) registerNode(ctx context.Context, name string, m memberRecord) {
	want := state.Node{Name: name, Addr: m.meta.Addr, GossipAddr: m.gossip, APIAddr: m.meta.API, Version: m.meta.Version}
	if cur, err := n.store.Node(name); err == nil &&
		cur.Addr == want.Addr && cur.GossipAddr == want.GossipAddr && cur.APIAddr == want.APIAddr && cur.Version == want.Version {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := n.Apply(ctx, &state.RegisterNode{Node: want}, nil); err != nil {
		n.log.Warn("cannot register node", "member", name, "err", err)
	}
}
