package cluster

import (
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/banyancloud/banyan/cluster/mux"
	"github.com/banyancloud/banyan/cluster/pki"
)

// Default ports.
const (
	DefaultGossipPort = 7946
	DefaultRPCPort    = 7947
)

// Config configures a Node. The secrets (CA, identity, keys) come from the data dir,
// which the node package owns.
type Config struct {
	Name          string
	ClusterID     string
	BindAddr      string // IP to listen on; "0.0.0.0" listens everywhere
	AdvertiseAddr string // IP other nodes reach this one at
	RPCPort       int    // node RPC + Raft + join + ops HTTP; 0 picks a free port (tests)
	GossipPort    int    // 0 picks a free port (tests)
	APIAddr       string // the AWS API address, advertised in gossip
	DataDir       string // Raft's log and snapshots go in DataDir/raft

	CA         *pki.CA
	Identity   *pki.Identity
	GossipKey  []byte // 32 bytes, AES-256 for memberlist
	ClusterKey []byte // handed to joining boxes for secrets at rest

	// Bootstrap makes this node the first voter of a new cluster. It is honoured only
	// when the Raft store is empty.
	Bootstrap bool
	// Peers are gossip addresses (host:port) to join at start; failures are retried in
	// the background.
	Peers []string

	Version string
	Timing  Timing
	Logger  *slog.Logger
	// Faults injects partitions in in-process tests; nil in production.
	Faults *mux.Faults
	// Listener, if set, is used instead of binding BindAddr:RPCPort (lets the caller
	// check the port before creating anything on disk).
	Listener net.Listener
}

// Timing holds the timeouts tuned for a LAN.
type Timing struct {
	// Raft: a follower that hears nothing for HeartbeatTimeout starts an election.
	HeartbeatTimeout   time.Duration
	ElectionTimeout    time.Duration
	LeaderLeaseTimeout time.Duration
	// Gossip: a node that misses probes is suspect, then dead after the suspicion timeout.
	ProbeInterval time.Duration
	ProbeTimeout  time.Duration
	SuspicionMult int
	// GossipToTheDead is how long memberlist keeps gossiping to a member it declared
	// dead; after that only the rejoin loop contacts it again.
	GossipToTheDead time.Duration
	// WriteHold bounds how long a write waits for a leader before failing.
	WriteHold time.Duration
	// ReconcileInterval is how often the leader checks Raft membership against gossip.
	ReconcileInterval time.Duration
}

// LANTiming replaces a dead leader in about 1-2 s and declares a dead box dead in about
// 3-5 s. See docs/ARCHITECTURE.md for the arithmetic.
func LANTiming() Timing {
	return Timing{
		HeartbeatTimeout:   500 * time.Millisecond,
		ElectionTimeout:    500 * time.Millisecond,
		LeaderLeaseTimeout: 250 * time.Millisecond,
		ProbeInterval:      500 * time.Millisecond,
		ProbeTimeout:       250 * time.Millisecond,
		SuspicionMult:      4,
		GossipToTheDead:    30 * time.Second,
		WriteHold:          5 * time.Second,
		ReconcileInterval:  time.Second,
	}
}

func (c *Config) rpcAddr(port int) string {
	return net.JoinHostPort(c.AdvertiseAddr, strconv.Itoa(port))
}
