package cluster

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	bolt "go.etcd.io/bbolt"

	"github.com/banyancloud/banyan/cluster/mux"
	"github.com/banyancloud/banyan/cluster/state"
)

const (
	raftDir           = "raft"
	snapshotsRetained = 2
	// maxVoters: five voters survive two failures; more only slow down commits.
	maxVoters = 5
)

func (n *Node) startRaft() error {
	dir := filepath.Join(n.cfg.DataDir, raftDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	hl := newHCLogger(n.log.With("sub", "raft"))
	bolt, err := raftboltdb.New(raftboltdb.Options{Path: filepath.Join(dir, "raft.db"), BoltOptions: boltOptions()})
	if err != nil {
		return fmt.Errorf("cannot open the Raft log %s: %w (is the data dir corrupt or in use?)", filepath.Join(dir, "raft.db"), err)
	}
	n.closer = append(n.closer, bolt.Close)
	logs, err := raft.NewLogCache(1024, bolt)
	if err != nil {
		return err
	}
	snaps, err := raft.NewFileSnapshotStoreWithLogger(dir, snapshotsRetained, hl)
	if err != nil {
		return fmt.Errorf("cannot open Raft snapshots in %s: %w", dir, err)
	}
	stream := &streamLayer{
		Listener:  n.mux.Listener(mux.KindRaft),
		advertise: &net.TCPAddr{IP: net.ParseIP(n.cfg.AdvertiseAddr), Port: n.cfg.RPCPort},
		dialer:    n.dialer,
		tls:       n.cfg.Identity.ClientConfig(),
	}
	trans := raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream: stream, MaxPool: 3, Timeout: 5 * time.Second, Logger: hl,
	})
	n.closer = append([]func() error{trans.Close}, n.closer...)
	n.raftTrans = trans

	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(n.cfg.Name)
	rc.Logger = hl
	rc.HeartbeatTimeout = n.cfg.Timing.HeartbeatTimeout
	rc.ElectionTimeout = n.cfg.Timing.ElectionTimeout
	rc.LeaderLeaseTimeout = n.cfg.Timing.LeaderLeaseTimeout
	// A follower learns that a forwarded write committed from the next AppendEntries;
	// sending them this often keeps read-your-writes through a follower fast.
	rc.CommitTimeout = 5 * time.Millisecond
	rc.SnapshotThreshold = 8192
	rc.SnapshotInterval = 30 * time.Second
	rc.TrailingLogs = 10240
	notify := make(chan bool, 16)
	rc.NotifyCh = notify
	n.leaderNotify = notify

	hasState, err := raft.HasExistingState(logs, bolt, snaps)
	if err != nil {
		return fmt.Errorf("cannot read the Raft state in %s: %w", dir, err)
	}
	r, err := raft.NewRaft(rc, state.NewFSM(n.store, n.log), logs, bolt, snaps, trans)
	if err != nil {
		return fmt.Errorf("cannot start Raft: %w", err)
	}
	n.raft = r
	if n.cfg.Bootstrap && !hasState {
		f := r.BootstrapCluster(raft.Configuration{Servers: []raft.Server{{
			ID: rc.LocalID, Address: trans.LocalAddr(), Suffrage: raft.Voter,
		}}})
		if err := f.Error(); err != nil {
			return fmt.Errorf("cannot bootstrap the cluster: %w", err)
		}
	}
	return nil
}

// streamLayer carries Raft over the mux's KindRaft connections.
type streamLayer struct {
	net.Listener
	advertise net.Addr
	dialer    *mux.Dialer
	tls       *tls.Config
}

func (s *streamLayer) Addr() net.Addr { return s.advertise }

// Dial connects to a Raft peer. A box that is down refuses at once, and Raft counts
// every refused call as a failure and backs off exponentially (up to 10 s between tries
// of log replication), so a follower back from a restart would wait seconds for its log
// and every write through it would wait with it. So a refused dial is retried every
// refusedRetry for up to refusedWait: failures then pile up at the pace of the wait, and
// a box that comes back is reached within one retry.
func (s *streamLayer) Dial(addr raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	give := time.Now().Add(min(timeout, refusedWait))
	for {
		conn, err := s.dialer.Dial(ctx, string(addr), mux.KindRaft, s.tls)
		if err == nil || !errors.Is(err, syscall.ECONNREFUSED) || time.Now().Add(refusedRetry).After(give) {
			return conn, err
		}
		select {
		case <-time.After(refusedRetry):
		case <-ctx.Done():
			return nil, err
		}
	}
}

const (
	refusedRetry = 100 * time.Millisecond
	refusedWait  = 2 * time.Second
)

// newHCLogger routes hashicorp's hclog output into slog, dropping debug chatter.
func newHCLogger(l *slog.Logger) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{
		Name:   "raft",
		Level:  hclog.Warn,
		Output: &slogWriter{l: l},
		// slog adds its own time and level.
		DisableTime: true,
	})
}

// slogWriter turns line-oriented library logs into slog records.
type slogWriter struct{ l *slog.Logger }

func (w *slogWriter) Write(p []byte) (int, error) {
	line := strings.TrimSpace(string(p))
	switch {
	case strings.Contains(line, "[DEBUG]") || strings.Contains(line, "[TRACE]"):
	case strings.Contains(line, "[ERR") || strings.Contains(line, "[ERROR]"):
		w.l.Error(stripLevel(line))
	case strings.Contains(line, "[WARN"):
		w.l.Warn(stripLevel(line))
	default:
		w.l.Info(stripLevel(line))
	}
	return len(p), nil
}

func stripLevel(s string) string {
	if i := strings.Index(s, "] "); i >= 0 && i < 12 {
		return s[i+2:]
	}
	return s
}

var _ io.Writer = (*slogWriter)(nil)

// boltOptions makes a second server on the same data dir fail within seconds with a
// clear error instead of waiting forever on the file lock.
func boltOptions() *bolt.Options {
	return &bolt.Options{Timeout: 2 * time.Second, NoFreelistSync: true}
}

// dropRaftConns empties Raft's connection pool when a box gossip had declared dead is
// back. A pooled connection to any peer may have died while it sat idle through the
// partition or the restart (keepalive gave up on it, or the far process is gone), and
// hashicorp/raft finds that out only by using it: an election whose RequestVote went out
// on such a connection fails and waits out a whole election timeout (soak rounds 46 and
// 68: 1.7 and 2.1 s without a leader after a kill, "write: connection timed out" on a
// connection idle since the round before). The next RPC dials afresh.
func (n *Node) dropRaftConns(member string) {
	if n.raftTrans == nil {
		return
	}
	n.log.Debug("dropping pooled Raft connections", "returned", member)
	n.raftTrans.CloseStreams()
}
