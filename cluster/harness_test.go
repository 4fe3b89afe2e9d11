package cluster

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/banyancloud/banyan/cluster/mux"
	"github.com/banyancloud/banyan/cluster/pki"
	"github.com/banyancloud/banyan/cluster/state"
)

// testCluster is a set of in-process nodes on loopback, each on its own 127.0.0.x
// address with OS-chosen ports, joined through the real join path.
type testCluster struct {
	t      *testing.T
	ca     *pki.CA
	gkey   []byte
	token  pki.Token
	nodes  []*Node
	cfgs   []Config
	faults []*mux.Faults
}

func testLogger(t *testing.T) *slog.Logger {
	if os.Getenv("BANYAN_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func nodeIP(i int) string { return fmt.Sprintf("127.0.0.%d", 10+i) }

// newTestCluster starts n nodes and waits until all of them are in Raft.
func newTestCluster(t *testing.T, n int) *testCluster {
	t.Helper()
	ca, err := pki.NewCA("test")
	if err != nil {
		t.Fatal(err)
	}
	c := &testCluster{t: t, ca: ca, gkey: make([]byte, 32)}
	rand.Read(c.gkey)
	c.token = pki.NewToken(ca.Fingerprint())

	key, keyPEM, _ := pki.NewKey()
	cert, err := ca.Issue("n0", key.Public(), []net.IP{net.ParseIP(nodeIP(0))})
	if err != nil {
		t.Fatal(err)
	}
	id, err := pki.LoadIdentity(ca.CertPEM, cert, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	c.startNode(Config{Name: "n0", ClusterID: "test", BindAddr: nodeIP(0), AdvertiseAddr: nodeIP(0),
		DataDir: t.TempDir(), CA: ca, Identity: id, GossipKey: c.gkey, Bootstrap: true})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := c.nodes[0].Apply(ctx, &state.CreateJoinToken{Token: state.JoinToken{SecretHash: c.token.SecretHash()}}, nil); err != nil {
		t.Fatalf("creating the join token: %v", err)
	}
	for i := 1; i < n; i++ {
		c.join(i, c.nodes[0].Addr())
	}
	c.waitRaftMembers(n)
	t.Cleanup(c.shutdown)
	return c
}

// join admits node i through addr with the cluster's token.
func (c *testCluster) join(i int, addr string) {
	c.t.Helper()
	cfg, err := c.joinConfig(i, addr, c.token)
	if err != nil {
		c.t.Fatalf("join n%d: %v", i, err)
	}
	c.startNode(cfg)
}

func (c *testCluster) joinConfig(i int, addr string, tok pki.Token) (Config, error) {
	name := fmt.Sprintf("n%d", i)
	key, keyPEM, _ := pki.NewKey()
	pub, _ := pki.MarshalPublicKey(key.Public())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	g, err := RequestJoin(ctx, addr, tok, JoinRequest{Name: name, AdvertiseAddr: nodeIP(i), PublicKey: pub})
	if err != nil {
		return Config{}, err
	}
	id, err := pki.LoadIdentity(g.CACert, g.NodeCert, keyPEM)
	if err != nil {
		return Config{}, err
	}
	gca, err := pki.ParseCA(g.CACert, g.CAKey)
	if err != nil {
		return Config{}, err
	}
	return Config{Name: name, ClusterID: g.ClusterID, BindAddr: nodeIP(i), AdvertiseAddr: nodeIP(i),
		DataDir: c.t.TempDir(), CA: gca, Identity: id, GossipKey: g.GossipKey, Peers: g.Peers}, nil
}

func (c *testCluster) startNode(cfg Config) {
	c.t.Helper()
	f := &mux.Faults{}
	cfg.Faults = f
	if cfg.Timing == (Timing{}) {
		// Stop gossiping to the dead at once, so that only the rejoin loop heals gossip
		// after a partition (memberlist alone heals those shorter than this setting).
		cfg.Timing = LANTiming()
		cfg.Timing.GossipToTheDead = 200 * time.Millisecond
	}
	cfg.Logger = testLogger(c.t).With("test_node", cfg.Name)
	n, err := Start(cfg)
	if err != nil {
		c.t.Fatalf("start %s: %v", cfg.Name, err)
	}
	// Keep the ports the OS chose so that a restart comes back on the same addresses.
	cfg.RPCPort = n.cfg.RPCPort
	cfg.GossipPort = int(n.gossip.LocalNode().Port)
	cfg.Bootstrap = false
	idx := indexOf(cfg.Name)
	for len(c.nodes) <= idx {
		c.nodes = append(c.nodes, nil)
		c.cfgs = append(c.cfgs, Config{})
		c.faults = append(c.faults, nil)
	}
	c.nodes[idx], c.cfgs[idx], c.faults[idx] = n, cfg, f
}

func indexOf(name string) int {
	var i int
	fmt.Sscanf(name, "n%d", &i)
	return i
}

// kill stops node i abruptly (no leave); restart brings it back from its data dir.
func (c *testCluster) kill(i int) {
	c.nodes[i].Shutdown()
}

func (c *testCluster) restart(i int) {
	c.t.Helper()
	cfg := c.cfgs[i]
	cfg.Peers = nil
	for j, n := range c.nodes {
		if j != i && n != nil {
			cfg.Peers = append(cfg.Peers, net.JoinHostPort(c.cfgs[j].AdvertiseAddr, fmt.Sprint(c.cfgs[j].GossipPort)))
		}
	}
	c.startNode(cfg)
}

func (c *testCluster) shutdown() {
	var wg sync.WaitGroup
	for _, n := range c.nodes {
		if n != nil {
			wg.Add(1)
			go func() { defer wg.Done(); n.Shutdown() }()
		}
	}
	wg.Wait()
}

// partition cuts node i off from every other node, both ways.
func (c *testCluster) partition(i int) {
	for j := range c.nodes {
		if j == i {
			continue
		}
		c.faults[i].Block(nodeIP(j))
		c.faults[j].Block(nodeIP(i))
	}
}

func (c *testCluster) heal() {
	for _, f := range c.faults {
		f.Heal()
	}
}

// leader waits for a leader among the live nodes other than those in except.
func (c *testCluster) leader(except ...int) int {
	c.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for i, n := range c.nodes {
			if n != nil && !contains(except, i) && n.IsLeader() {
				return i
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	c.t.Fatal("no leader within 10s")
	return -1
}

func (c *testCluster) waitRaftMembers(n int) {
	c.t.Helper()
	eventually(c.t, 15*time.Second, func() error {
		l := c.nodes[c.leader()]
		cf := l.raft.GetConfiguration()
		if err := cf.Error(); err != nil {
			return err
		}
		if got := len(cf.Configuration().Servers); got != n {
			return fmt.Errorf("raft has %d servers, want %d", got, n)
		}
		return nil
	})
}

func contains(xs []int, x int) bool {
	for _, y := range xs {
		if x == y {
			return true
		}
	}
	return false
}

// eventually retries f until it returns nil or the timeout passes.
func eventually(t *testing.T, timeout time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var err error
	for time.Now().Before(deadline) {
		if err = f(); err == nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("not true after %s: %v", timeout, err)
}

func set(t *testing.T, n *Node, key, value string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := n.Apply(ctx, &state.SetSetting{Key: key, Value: value}, nil); err != nil {
		t.Fatalf("set %s on %s: %v", key, n.Name(), err)
	}
}

func get(n *Node, key string) (string, bool) {
	s, err := n.State().Setting(key)
	if err != nil {
		return "", false
	}
	return s.Value, true
}
