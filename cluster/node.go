package cluster

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/hashicorp/raft"

	"github.com/banyancloud/banyan/cluster/mux"
	"github.com/banyancloud/banyan/cluster/state"
)

// Node is this box's membership in the cluster.
type Node struct {
	cfg   Config
	log   *slog.Logger
	store *state.Store

	mux    *mux.Mux
	dialer *mux.Dialer
	raft   *raft.Raft
	// raftTrans is Raft's transport, kept to empty its connection pool.
	raftTrans *raft.NetworkTransport
	closer    []func() error // raft stores, in shutdown order
	gossip    *memberlist.Memberlist
	events    *memberEvents
	rpc       *rpcClient
	reach     *reachability
	ops       *http.ServeMux
	rpcMux    *http.ServeMux

	servers      []*http.Server
	leaderNotify chan bool

	statusMu    sync.Mutex
	statusFuncs map[string]func() any

	bootNonce [8]byte
	reqSeq    atomic.Uint64

	shutdownOnce sync.Once
	shutdownCh   chan struct{}
	wg           sync.WaitGroup
}

// Start brings the node up: the shared port, Raft, gossip, RPC, and the leader loop.
// On error everything already started is stopped again.
func Start(cfg Config) (_ *Node, err error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Timing == (Timing{}) {
		cfg.Timing = LANTiming()
	}
	if cfg.Name == "" || cfg.Identity == nil || cfg.CA == nil || len(cfg.GossipKey) != 32 {
		return nil, errors.New("cluster: config needs a name, an identity, the CA and a 32-byte gossip key")
	}
	n := &Node{
		cfg:        cfg,
		log:        cfg.Logger.With("node", cfg.Name),
		store:      state.NewStore(),
		dialer:     &mux.Dialer{Faults: cfg.Faults},
		reach:      newReachability(),
		ops:        http.NewServeMux(),
		rpcMux:     http.NewServeMux(),
		shutdownCh: make(chan struct{}),
	}
	if _, err := rand.Read(n.bootNonce[:]); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			n.Shutdown()
		}
	}()

	ln := cfg.Listener
	if ln == nil {
		ln, err = net.Listen("tcp", net.JoinHostPort(cfg.BindAddr, fmt.Sprint(cfg.RPCPort)))
		if err != nil {
			return nil, fmt.Errorf("cannot listen for node RPC on %s:%d: %w", cfg.BindAddr, cfg.RPCPort, err)
		}
	}
	n.cfg.RPCPort = ln.Addr().(*net.TCPAddr).Port
	n.mux = mux.New(ln, map[mux.Kind]*tls.Config{
		mux.KindRaft: cfg.Identity.ServerConfig(),
		mux.KindRPC:  cfg.Identity.ServerConfig(),
		mux.KindJoin: cfg.Identity.JoinServerConfig(),
	}, cfg.Faults, n.log)
	n.wg.Add(1)
	go func() { defer n.wg.Done(); n.mux.Serve() }()

	n.rpc = newRPCClient(n.dialer, cfg.Identity.ClientConfig())
	n.rpc.http.Transport = &observingTransport{next: n.rpc.peers, reach: n.reach}
	n.serve(mux.KindRPC, n.rpcHandler())
	n.serve(mux.KindJoin, n.joinHandler())
	n.ops.HandleFunc("GET /v1/status", n.handleStatus)
	n.servers = append(n.servers, &http.Server{Handler: n.ops, ReadHeaderTimeout: 10 * time.Second})
	go n.servers[len(n.servers)-1].Serve(n.mux.HTTPListener())

	if err := n.startRaft(); err != nil {
		return nil, err
	}
	if err := n.startGossip(); err != nil {
		return nil, err
	}
	n.wg.Add(2)
	go func() { defer n.wg.Done(); n.leaderLoop() }()
	go func() { defer n.wg.Done(); n.probeLoop() }()
	return n, nil
}

func (n *Node) serve(k mux.Kind, h http.Handler) {
	s := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	n.servers = append(n.servers, s)
	go s.Serve(n.mux.Listener(k))
}

// Name is this node's name.
func (n *Node) Name() string { return n.cfg.Name }

// Addr is this node's RPC address as peers dial it.
func (n *Node) Addr() string { return n.cfg.rpcAddr(n.cfg.RPCPort) }

// GossipAddr is this node's gossip address.
func (n *Node) GossipAddr() string {
	if n.gossip == nil {
		return ""
	}
	return n.gossip.LocalNode().Address()
}

// State is the local replica.
func (n *Node) State() *state.Store { return n.store }

// HandleOps adds a plain-HTTP endpoint (metrics, health) on the node's RPC port.
func (n *Node) HandleOps(pattern string, h http.Handler) { n.ops.Handle(pattern, h) }

// HandleRPC adds an endpoint to node RPC (mutual TLS: only cluster members reach it),
// for subsystems that serve other boxes, such as the object store's disks.
func (n *Node) HandleRPC(pattern string, h http.Handler) { n.rpcMux.Handle(pattern, h) }

// RPCClient is an HTTP client that reaches any member's node RPC at
// https://ADDR/..., authenticated with this node's certificate.
func (n *Node) RPCClient() *http.Client { return n.rpc.http }

// MemberAlive reports whether the named member is up as far as this node can tell:
// gossip sees it alive or suspect and node RPC to it is not failing, or it answered node
// RPC a moment ago whatever gossip says (gossip can lag behind a healed partition). This
// node is always alive to itself.
func (n *Node) MemberAlive(name string) bool {
	if name == n.cfg.Name {
		return true
	}
	var verdict int
	if rec, err := n.store.Node(name); err == nil {
		verdict = n.reach.verdict(rec.Addr)
	}
	switch verdict {
	case 1:
		return true
	case -1:
		return false
	}
	return n.gossipMembers()[name]
}

// IsLeader reports whether this node is the Raft leader.
func (n *Node) IsLeader() bool { return n.raft != nil && n.raft.State() == raft.Leader }

// Leader returns the leader's name and address, empty when none is known.
func (n *Node) Leader() (name, addr string) {
	if n.raft == nil {
		return "", ""
	}
	a, id := n.raft.LeaderWithID()
	return string(id), string(a)
}

// Shutdown stops the node without leaving the cluster: a restart with the same data dir
// rejoins as the same member. It is what SIGTERM does.
func (n *Node) Shutdown() {
	n.shutdownOnce.Do(func() {
		close(n.shutdownCh)
		if n.gossip != nil {
			n.gossip.Shutdown()
		}
		if n.raft != nil {
			if err := n.raft.Shutdown().Error(); err != nil {
				n.log.Warn("raft shutdown", "err", err)
			}
		}
		for _, c := range n.closer {
			c()
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		for _, s := range n.servers {
			s.Shutdown(ctx)
		}
		cancel()
		if n.mux != nil {
			n.mux.Close()
		}
		if n.rpc != nil {
			n.rpc.close()
		}
		n.wg.Wait()
	})
}

// Leave announces a permanent departure: the leader removes this node from Raft. Use it
// before decommissioning a box, not for a restart.
func (n *Node) Leave(timeout time.Duration) error {
	if n.gossip == nil {
		return nil
	}
	return n.gossip.Leave(timeout)
}

func (n *Node) newRequestID() []byte {
	b := make([]byte, 16)
	copy(b, n.bootNonce[:])
	binary.BigEndian.PutUint64(b[8:], n.reqSeq.Add(1))
	return b
}
