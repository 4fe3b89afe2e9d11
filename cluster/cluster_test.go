package cluster

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/banyancloud/banyan/cluster/pki"
	"github.com/banyancloud/banyan/cluster/state"
)

func TestElectionAndWritesThroughEveryNode(t *testing.T) {
	for _, size := range []int{3, 5} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			c := newTestCluster(t, size)
			c.leader()
			for i, n := range c.nodes {
				key := fmt.Sprintf("k%d", i)
				set(t, n, key, n.Name())
				// Read-your-writes: the writing node sees its write at once.
				if v, ok := get(n, key); !ok || v != n.Name() {
					t.Fatalf("%s does not see its own write: %q %v", n.Name(), v, ok)
				}
			}
			for _, n := range c.nodes {
				eventually(t, 5*time.Second, func() error {
					for i := range c.nodes {
						if _, ok := get(n, fmt.Sprintf("k%d", i)); !ok {
							return fmt.Errorf("%s misses k%d", n.Name(), i)
						}
					}
					return nil
				})
			}
			st := c.nodes[0].Status()
			voters := 0
			for _, m := range st.Members {
				if m.Raft == "leader" || m.Raft == "follower" {
					voters++
				}
				if m.Status != StatusAlive {
					t.Errorf("member %s is %s", m.Name, m.Status)
				}
			}
			if voters != size {
				t.Errorf("%d voters, want %d: %+v", voters, size, st.Members)
			}
		})
	}
}

func TestLeaderKillThenNewLeaderAndWritesEverywhere(t *testing.T) {
	c := newTestCluster(t, 3)
	old := c.leader()
	set(t, c.nodes[old], "before", "1")
	c.kill(old)
	start := time.Now()
	var survivors []*Node
	for i, n := range c.nodes {
		if i != old {
			survivors = append(survivors, n)
		}
	}
	// A write submitted right away is held until the new leader takes it.
	set(t, survivors[0], "during", "1")
	t.Logf("first write after leader kill accepted in %s", time.Since(start))
	nl := c.leader(old)
	if nl == old {
		t.Fatal("dead node still leader")
	}
	for i, n := range survivors {
		set(t, n, fmt.Sprintf("after%d", i), "1")
	}
	for _, n := range survivors {
		eventually(t, 5*time.Second, func() error {
			for _, k := range []string{"before", "during", "after0", "after1"} {
				if _, ok := get(n, k); !ok {
					return fmt.Errorf("%s misses %s", n.Name(), k)
				}
			}
			return nil
		})
	}
	// Survivors see the dead node as dead.
	eventually(t, 8*time.Second, func() error {
		for _, m := range survivors[0].Status().Members {
			if m.Name == c.nodes[old].Name() && m.Status != StatusDead {
				return fmt.Errorf("%s is %s", m.Name, m.Status)
			}
		}
		return nil
	})
}

func TestMinorityPartitionCannotCommitAndCatchesUp(t *testing.T) {
	c := newTestCluster(t, 3)
	l := c.leader()
	minority := (l + 1) % 3
	c.partition(minority)

	c.nodes[minority].cfg.Timing.WriteHold = 1500 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := c.nodes[minority].Apply(ctx, &state.SetSetting{Key: "lost", Value: "x"}, nil)
	if !errors.Is(err, ErrNoLeader) {
		t.Fatalf("write on the minority side: got %v, want ErrNoLeader", err)
	}
	for i := 0; i < 20; i++ {
		set(t, c.nodes[l], fmt.Sprintf("m%d", i), "v")
	}
	if _, ok := get(c.nodes[minority], "m0"); ok {
		t.Fatal("partitioned node saw a write during the partition")
	}
	c.heal()
	eventually(t, 10*time.Second, func() error {
		if _, ok := get(c.nodes[minority], "m19"); !ok {
			return errors.New("not caught up")
		}
		return nil
	})
	if _, ok := get(c.nodes[l], "lost"); ok {
		t.Fatal("a write refused on the minority side was applied")
	}
	set(t, c.nodes[minority], "healed", "1")
}

func TestSnapshotRestoreAndRestart(t *testing.T) {
	c := newTestCluster(t, 3)
	l := c.leader()
	for i := 0; i < 50; i++ {
		set(t, c.nodes[l], fmt.Sprintf("s%02d", i), fmt.Sprint(i))
	}
	for _, n := range c.nodes {
		if err := n.raft.Snapshot().Error(); err != nil {
			t.Fatalf("snapshot on %s: %v", n.Name(), err)
		}
	}
	f := (l + 1) % 3
	c.kill(f)
	set(t, c.nodes[l], "while-down", "1")
	// Restart with nothing but the persisted config (no bootstrap, same data dir).
	c.restart(f)
	eventually(t, 10*time.Second, func() error {
		if _, ok := get(c.nodes[f], "while-down"); !ok {
			return errors.New("restarted node did not catch up")
		}
		for i := 0; i < 50; i++ {
			if v, ok := get(c.nodes[f], fmt.Sprintf("s%02d", i)); !ok || v != fmt.Sprint(i) {
				return fmt.Errorf("s%02d = %q %v after restore", i, v, ok)
			}
		}
		return nil
	})
	set(t, c.nodes[f], "after-restart", "1")

	// Restart the whole cluster: state comes back from snapshots plus log.
	for i := range c.nodes {
		c.kill(i)
	}
	for i := range c.nodes {
		c.restart(i)
	}
	c.leader()
	set(t, c.nodes[0], "after-full-restart", "1")
	for _, n := range c.nodes {
		eventually(t, 10*time.Second, func() error {
			for _, k := range []string{"s49", "while-down", "after-restart", "after-full-restart"} {
				if _, ok := get(n, k); !ok {
					return fmt.Errorf("%s misses %s", n.Name(), k)
				}
			}
			return nil
		})
	}
}

func TestJoinRefusals(t *testing.T) {
	c := newTestCluster(t, 1)
	addr := c.nodes[0].Addr()

	wrong := pki.NewToken(c.ca.Fingerprint()) // right cluster, unknown secret
	_, err := c.joinConfig(1, addr, wrong)
	var refused *JoinRefusedError
	if !errors.As(err, &refused) || refused.Code != "InvalidToken" {
		t.Fatalf("wrong secret: got %v", err)
	}

	other, _ := pki.NewCA("other")
	_, err = c.joinConfig(1, addr, pki.NewToken(other.Fingerprint()))
	if !errors.Is(err, pki.ErrForeignCluster) {
		t.Fatalf("foreign token: got %v", err)
	}

	expired := pki.NewToken(c.ca.Fingerprint())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := c.nodes[0].Apply(ctx, &state.CreateJoinToken{Token: state.JoinToken{
		SecretHash: expired.SecretHash(), Expires: time.Now().Add(-time.Minute)}}, nil); err != nil {
		t.Fatal(err)
	}
	_, err = c.joinConfig(1, addr, expired)
	if !errors.As(err, &refused) || refused.Code != "ExpiredToken" {
		t.Fatalf("expired token: got %v", err)
	}

	// The gossip port speaks no TLS: joining it must say "not a Banyan node".
	_, err = c.joinConfig(1, c.nodes[0].GossipAddr(), c.token)
	if !errors.Is(err, pki.ErrNotBanyan) {
		t.Fatalf("join to a non-Banyan port: got %v", err)
	}
	if got := len(c.nodes[0].Status().Members); got != 1 {
		t.Fatalf("refused joins added members: %d", got)
	}
}

func TestCatchUpSeesWritesMadeElsewhere(t *testing.T) {
	c := newTestCluster(t, 3)
	l := c.leader()
	f := (l + 1) % 3
	for i := 0; i < 20; i++ {
		key := fmt.Sprintf("cu%d", i)
		set(t, c.nodes[l], key, "v")
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := c.nodes[f].CatchUp(ctx)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := get(c.nodes[f], key); !ok {
			t.Fatalf("follower misses %s right after CatchUp", key)
		}
	}
}
