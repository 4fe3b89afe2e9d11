package cluster

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/hashicorp/raft"

	"github.com/banyancloud/banyan/api/awserr"
	"github.com/banyancloud/banyan/cluster/state"
)

// gossipSees reports an error unless every node's gossip sees every other node alive.
func (c *testCluster) gossipSees() error {
	for i, n := range c.nodes {
		if n == nil {
			continue
		}
		st := n.memberStatus()
		for j, m := range c.nodes {
			if m == nil || i == j {
				continue
			}
			if rec, ok := st[m.Name()]; !ok || rec.status != StatusAlive {
				return fmt.Errorf("%s sees %s as %q", n.Name(), m.Name(), rec.status)
			}
		}
	}
	return nil
}

// waitSeenDead waits until some other node's gossip reports node i dead (the state in
// which memberlist alone never contacts it again).
func (c *testCluster) waitSeenDead(i int) {
	c.t.Helper()
	eventually(c.t, 20*time.Second, func() error {
		for j, n := range c.nodes {
			if j != i && n != nil {
				if rec := n.memberStatus()[c.nodes[i].Name()]; rec.status == StatusDead {
					return nil
				}
			}
		}
		return fmt.Errorf("no node reports %s dead yet", c.nodes[i].Name())
	})
}

// A partition that lasted long enough for gossip to declare the cut-off box dead heals
// by itself: the rejoin loop contacts the registered boxes gossip does not see, so every
// box sees every box alive again within a few seconds of the heal, whichever box was cut
// off (the leader, a follower, each in turn) and also after a one-way cut.
func TestGossipHealsAfterPartitions(t *testing.T) {
	c := newTestCluster(t, 3)
	eventually(t, 15*time.Second, c.gossipSees)
	cases := []struct {
		name string
		cut  func() int
	}{
		{"leader", func() int { l := c.leader(); c.partition(l); return l }},
		{"follower", func() int { f := (c.leader() + 1) % 3; c.partition(f); return f }},
		{"each in turn", func() int { c.partition(0); return 0 }},
		{"one way", func() int {
			// 0 and 1 neither send to 2 nor take its packets; 2 blocks nothing (on
			// loopback its TCP reaches them, as its source address is 127.0.0.1).
			c.faults[0].Block(nodeIP(2))
			c.faults[1].Block(nodeIP(2))
			return 2
		}},
	}
	for _, tc := range cases {
		cut := tc.cut()
		if tc.name == "one way" {
			time.Sleep(8 * time.Second) // whatever gossip makes of it
		} else {
			c.waitSeenDead(cut)
		}
		c.heal()
		healed := time.Now()
		eventually(t, 15*time.Second, c.gossipSees)
		t.Logf("%s cut off: every box sees every box alive %v after the heal", tc.name, time.Since(healed).Round(10*time.Millisecond))
		set(t, c.nodes[cut], "after."+strings.ReplaceAll(tc.name, " ", "-"), "ok")
	}
}

// MemberAlive trusts node RPC over stale gossip: a box that answers node RPC counts as
// alive, and one whose calls fail counts as down even while gossip still lists it.
func TestMemberAliveUsesRPCEvidence(t *testing.T) {
	c := newTestCluster(t, 2)
	n0, n1 := c.nodes[0], c.nodes[1]
	eventually(t, 10*time.Second, c.gossipSees)
	addr1 := n1.Addr()
	if _, err := n0.store.Node(n1.Name()); err != nil {
		eventually(t, 10*time.Second, func() error { _, err := n0.store.Node(n1.Name()); return err })
	}
	n0.reach.record(addr1, false)
	if n0.MemberAlive(n1.Name()) {
		t.Fatal("a box whose last RPC failed a moment ago counts as alive")
	}
	n0.reach.record(addr1, true)
	if !n0.MemberAlive(n1.Name()) {
		t.Fatal("a box that answered RPC a moment ago counts as down")
	}
	// Gossip cut off but node RPC still answering (the prober keeps the evidence fresh).
	n0.reach.forget()
	c.partition(1)
	c.waitSeenDead(1)
	c.heal()
	n0.reach.record(addr1, true)
	if !n0.MemberAlive(n1.Name()) {
		t.Fatal("a box gossip calls dead but that answers node RPC counts as down")
	}
}

// With the leader cut off, a write through a follower waits for the new leader rather
// than spending the whole write hold on the old one; with no leader at all it fails with
// an error the front door answers as retryable (503), never as an internal error.
func TestForwardRetriesNewLeaderAndNoLeaderIsRetryable(t *testing.T) {
	c := newTestCluster(t, 3)
	l := c.leader()
	f := (l + 1) % 3
	set(t, c.nodes[f], "warm", "1")
	c.partition(l)
	start := time.Now()
	set(t, c.nodes[f], "during", "1")
	if took := time.Since(start); took > c.cfgs[f].Timing.WriteHold-time.Second && c.cfgs[f].Timing.WriteHold > 0 {
		t.Errorf("write through a follower took %v with the leader cut off", took)
	}
	t.Logf("write through a follower with the leader cut off took %v", time.Since(start).Round(time.Millisecond))
	c.heal()

	// Cut every node off from every other: no majority anywhere.
	for i := range c.nodes {
		c.partition(i)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err := c.nodes[f].Apply(ctx, &state.SetSetting{Key: "k", Value: "v"}, nil)
	if !errors.Is(err, ErrNoLeader) || !awserr.Retryable(err) {
		t.Fatalf("write with no majority: got %v, want a retryable ErrNoLeader", err)
	}
	c.heal()
}

// TestCatchUpOnAnIdleCluster: the leader's commit index may name a Raft no-op or a
// membership change, which are no FSM commands; CatchUp must still return at once on
// every node instead of waiting out its deadline for a command that never comes.
func TestCatchUpOnAnIdleCluster(t *testing.T) {
	c := newTestCluster(t, 3)
	c.waitRaftMembers(3)
	check := func(when string) {
		t.Helper()
		for i, n := range c.nodes {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			err := n.CatchUp(ctx)
			cancel()
			if err != nil {
				t.Fatalf("%s: CatchUp on node %d: %v", when, i, err)
			}
		}
	}
	// The last entries are the membership changes of the joins.
	check("after the joins")
	// A new leader's first entry is its term's no-op.
	l := c.leader()
	c.kill(l)
	c.leader(l)
	c.restart(l)
	c.waitRaftMembers(3)
	eventually(t, 10*time.Second, func() error {
		for i, n := range c.nodes {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			err := n.CatchUp(ctx)
			cancel()
			if err != nil {
				return fmt.Errorf("node %d: %w", i, err)
			}
		}
		return nil
	})
	check("after a new leader")
}

// A Raft connection that died in the pool (cut by a partition, or its far process gone)
// fails the next RPC sent on it; an election whose RequestVote does so waits out a whole
// election timeout. When gossip reports a dead member alive again the pool is emptied,
// so the next RPC dials afresh.
func TestReturnedMemberEmptiesRaftPool(t *testing.T) {
	c := newTestCluster(t, 3)
	l := c.leader()
	a, b := (l+1)%3, (l+2)%3
	na, nb := c.nodes[a], c.nodes[b]
	vote := func() error {
		// A stale term: the far box refuses the vote and changes nothing.
		var resp raft.RequestVoteResponse
		return na.raftTrans.RequestVote(raft.ServerID(nb.Name()), raft.ServerAddress(nb.Addr()),
			&raft.RequestVoteRequest{RPCHeader: raft.RPCHeader{ProtocolVersion: raft.ProtocolVersionMax, ID: []byte(na.Name()), Addr: []byte(na.Addr())}, Term: 0}, &resp)
	}
	cut := func() {
		if err := vote(); err != nil { // pools a connection a→b
			t.Fatalf("vote on a healthy cluster: %v", err)
		}
		c.faults[a].Block(nodeIP(b))
		c.faults[a].Heal()
	}
	// Without the drop, the pooled connection's death shows on the next RPC: the test
	// can fail.
	cut()
	if err := vote(); err == nil {
		t.Fatal("an RPC on a pooled connection cut by a partition succeeded; the test cannot see the fault")
	}
	cut()
	dead := &memberlist.Node{Name: nb.Name()}
	na.events.record(dead, StatusDead)
	na.events.record(dead, StatusAlive)
	if err := vote(); err != nil {
		t.Fatalf("first RPC after the member returned: %v (the dead pooled connection was reused)", err)
	}
}
