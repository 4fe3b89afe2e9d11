package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	sockaddr "github.com/hashicorp/go-sockaddr"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/banyancloud/banyan/cluster"
	"github.com/banyancloud/banyan/cluster/pki"
	"github.com/banyancloud/banyan/cluster/state"
)

// Default AWS API ports: 8773 is the Eucalyptus port.
const (
	DefaultAPIPort   = 8773
	DefaultHTTPSPort = 8443
)

// Config is what `banyan server` is given on its command line.
type Config struct {
	DataDir    string
	BindAddr   string // "" = as stored in the data dir, else 0.0.0.0
	Name       string // "" = as stored, else derived from the hostname
	Join       string // an existing member, host or host:port
	Token      string
	Disks      []string
	RPCPort    int // 0 = as stored, else the default
	GossipPort int
	APIPort    int
	HTTPSPort  int
	Version    string
	Logger     *slog.Logger
}

// Server is a running box.
type Server struct {
	Dir      *DataDir
	Cluster  *cluster.Node
	Registry *prometheus.Registry
	// APIListener is bound before anything is written, so the wiring serves the AWS API
	// on it without a second chance to fail on a busy port.
	APIListener net.Listener
	// APITLSListener serves the same API over HTTPS with the node's certificate from
	// the cluster CA (clients trust DATA-DIR/tls/ca.pem).
	APITLSListener net.Listener
	// Created is true when this start founded a new cluster.
	Created bool

	lock       *Lock
	rpcLn      net.Listener
	newToken   pki.Token
	grantPeers []string
	log        *slog.Logger
	stop       chan struct{}
	done       chan struct{}
}

// Start opens (or creates, or joins into) the data dir and brings the cluster member up.
// Every check that can fail (dir, ports, join) runs before anything is written.
func Start(ctx context.Context, cfg Config) (_ *Server, err error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	dir, err := Open(cfg.DataDir)
	fresh := errors.Is(err, ErrNotInitialized)
	if err != nil && !fresh {
		return nil, err
	}
	if !fresh && cfg.Join != "" {
		cfg.Logger.Warn("data dir already belongs to a cluster; --join and --token are ignored", "cluster", dir.Identity.ClusterID)
	}
	if fresh && cfg.Join == "" && cfg.Token != "" {
		return nil, errors.New("--token is only used with --join")
	}
	var tok pki.Token
	if fresh && cfg.Join != "" {
		if cfg.Token == "" {
			return nil, errors.New("--join needs --token: the contents of DATA-DIR/join-token on the node that created the cluster")
		}
		if tok, err = pki.ParseToken(cfg.Token); err != nil {
			return nil, err
		}
	}

	_, statErr := os.Stat(cfg.DataDir)
	lock, err := LockDataDir(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	s := &Server{Dir: dir, lock: lock, log: cfg.Logger, stop: make(chan struct{}), done: make(chan struct{})}
	defer func() {
		if err != nil {
			s.closeListeners()
			lock.Release()
			if fresh {
				// Leave the folder as it was: a failed first start creates nothing.
				undoInit(cfg.DataDir, os.IsNotExist(statErr))
			}
		}
	}()

	id := resolveIdentity(cfg, dir)
	rpcLn, err := listen(id.BindAddr, id.RPCPort, "node RPC")
	if err != nil {
		return nil, err
	}
	s.rpcLn = rpcLn
	if err := probePort(id.BindAddr, id.GossipPort, "gossip"); err != nil {
		return nil, err
	}
	if s.APIListener, err = listen(id.BindAddr, id.APIPort, "the AWS API"); err != nil {
		return nil, err
	}
	if s.APITLSListener, err = listen(id.BindAddr, id.HTTPSPort, "the AWS API over HTTPS"); err != nil {
		return nil, err
	}

	if fresh {
		if dir, err = s.initialize(ctx, cfg, id, tok); err != nil {
			return nil, err
		}
		s.Dir = dir
	} else if dir.Identity.BindAddr != id.BindAddr || dir.Identity.AdvertiseAddr != id.AdvertiseAddr {
		dir.Identity.BindAddr, dir.Identity.AdvertiseAddr = id.BindAddr, id.AdvertiseAddr
		if err := dir.rewriteIdentity(); err != nil {
			return nil, err
		}
	}

	peers := dir.ReadPeers()
	peers = append(peers, s.grantPeers...)
	s.Registry = prometheus.NewRegistry()
	s.Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if err := cluster.EnableLibraryMetrics(s.Registry); err != nil {
		return nil, err
	}
	s.Cluster, err = cluster.Start(cluster.Config{
		Name: dir.Identity.Name, ClusterID: dir.Identity.ClusterID,
		BindAddr: id.BindAddr, AdvertiseAddr: id.AdvertiseAddr,
		RPCPort: id.RPCPort, GossipPort: id.GossipPort,
		APIAddr: net.JoinHostPort(id.AdvertiseAddr, strconv.Itoa(id.APIPort)),
		DataDir: dir.Path, CA: dir.CA, Identity: dir.TLS,
		GossipKey: dir.Secrets.GossipKey, ClusterKey: dir.Secrets.ClusterKey,
		Bootstrap: fresh && cfg.Join == "", Peers: dedupe(peers),
		Version: cfg.Version, Logger: cfg.Logger, Listener: rpcLn,
	})
	if err != nil {
		return nil, err
	}
	s.rpcLn = nil // owned by the cluster node now
	s.Registry.MustRegister(s.Cluster.Collector())
	s.Cluster.HandleOps("GET /metrics", promhttp.HandlerFor(s.Registry, promhttp.HandlerOpts{}))

	if fresh && cfg.Join == "" {
		if err := s.publishJoinToken(ctx); err != nil {
			s.Cluster.Shutdown()
			return nil, err
		}
		s.Created = true
	}
	go s.savePeers()
	return s, nil
}

// initialize creates the data dir for a new cluster or for a box joining one.
func (s *Server) initialize(ctx context.Context, cfg Config, id Identity, tok pki.Token) (*DataDir, error) {
	key, keyPEM, err := pki.NewKey()
	if err != nil {
		return nil, err
	}
	var sec Secrets
	if cfg.Join == "" {
		id.ClusterID = NewClusterID()
		id.Founder = true
		ca, err := pki.NewCA(id.ClusterID)
		if err != nil {
			return nil, err
		}
		cert, err := ca.Issue(id.Name, key.Public(), []net.IP{net.ParseIP(id.AdvertiseAddr)})
		if err != nil {
			return nil, err
		}
		sec = Secrets{CACert: ca.CertPEM, CAKey: ca.KeyPEM, NodeCert: cert, NodeKey: keyPEM, GossipKey: NewKey(), ClusterKey: NewKey()}
		s.newToken = pki.NewToken(ca.Fingerprint())
	} else {
		pub, err := pki.MarshalPublicKey(key.Public())
		if err != nil {
			return nil, err
		}
		jctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		g, err := cluster.RequestJoin(jctx, cfg.Join, tok, cluster.JoinRequest{
			Name: id.Name, AdvertiseAddr: id.AdvertiseAddr, PublicKey: pub, Version: cfg.Version,
		})
		if err != nil {
			return nil, err
		}
		id.ClusterID = g.ClusterID
		sec = Secrets{CACert: g.CACert, CAKey: g.CAKey, NodeCert: g.NodeCert, NodeKey: keyPEM, GossipKey: g.GossipKey, ClusterKey: g.ClusterKey}
		s.grantPeers = g.Peers
	}
	d, err := Create(cfg.DataDir, id, sec)
	if err != nil {
		return nil, err
	}
	// Remember the members the grant named at once: a box killed before its first
	// peers save must still find the cluster when it restarts.
	if len(s.grantPeers) > 0 {
		if err := d.WritePeers(s.grantPeers); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// publishJoinToken records the founding token in the cluster state, then writes it for
// the operator: once the file exists, joins with it are accepted.
func (s *Server) publishJoinToken(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	_, err := s.Cluster.Apply(ctx, &state.CreateJoinToken{Token: state.JoinToken{
		SecretHash: s.newToken.SecretHash(), Description: "created with the cluster",
	}}, nil)
	if err != nil {
		return fmt.Errorf("cannot record the join token: %w", err)
	}
	return s.Dir.WriteJoinToken(s.newToken)
}

// Wait blocks until Shutdown.
func (s *Server) Wait() { <-s.done }

// Shutdown stops the box without leaving the cluster.
func (s *Server) Shutdown() {
	select {
	case <-s.stop:
		return
	default:
	}
	close(s.stop)
	if s.Cluster != nil {
		s.writePeers()
		s.Cluster.Shutdown()
	}
	s.closeListeners()
	s.lock.Release()
	close(s.done)
}

// undoInit removes what a failed first start wrote: the whole folder if it made it,
// else only its own entries.
func undoInit(dir string, created bool) {
	if created {
		os.RemoveAll(dir)
		return
	}
	for name := range initArtifacts {
		os.RemoveAll(filepath.Join(dir, name))
	}
	for _, name := range []string{nodeFile, joinTokenFile, peersFile, "raft"} {
		os.RemoveAll(filepath.Join(dir, name))
	}
}

func (s *Server) closeListeners() {
	if s.rpcLn != nil {
		s.rpcLn.Close()
	}
	if s.APIListener != nil {
		s.APIListener.Close()
	}
	if s.APITLSListener != nil {
		s.APITLSListener.Close()
	}
}

// savePeers remembers where the other members are, so a restart with no flags finds
// them even if the box that founded the cluster is gone.
func (s *Server) savePeers() {
	t := time.NewTicker(10 * time.Second)
	defer t.Stop()
	select {
	case <-s.stop:
		return
	case <-time.After(2 * time.Second):
		s.writePeers()
	}
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			s.writePeers()
		}
	}
}

func (s *Server) writePeers() {
	var peers []string
	nodes, _ := s.Cluster.State().Nodes()
	for _, n := range nodes {
		if n.Name != s.Dir.Identity.Name && n.GossipAddr != "" {
			peers = append(peers, n.GossipAddr)
		}
	}
	if len(peers) == 0 || slices.Equal(peers, s.Dir.ReadPeers()) {
		return
	}
	if err := s.Dir.WritePeers(peers); err != nil {
		s.log.Warn("cannot save peers", "err", err)
	}
}

func (d *DataDir) rewriteIdentity() error {
	b, _ := jsonIndent(d.Identity)
	return WriteFileAtomic(filepath.Join(d.Path, nodeFile), b, 0o600)
}

// resolveIdentity merges flags, the stored identity and defaults.
func resolveIdentity(cfg Config, dir *DataDir) Identity {
	var id Identity
	if dir != nil {
		id = dir.Identity
	}
	if cfg.BindAddr != "" {
		id.BindAddr = cfg.BindAddr
	}
	if id.BindAddr == "" {
		id.BindAddr = "0.0.0.0"
	}
	id.AdvertiseAddr = id.BindAddr
	if ip := net.ParseIP(id.BindAddr); ip == nil || ip.IsUnspecified() {
		id.AdvertiseAddr = defaultAdvertise()
	}
	if dir == nil {
		id.Name = cfg.Name
		if id.Name == "" {
			id.Name = defaultName(cfg.BindAddr)
		}
	}
	pick := func(flag, stored, def int) int {
		switch {
		case flag != 0:
			return flag
		case stored != 0:
			return stored
		}
		return def
	}
	id.RPCPort = pick(cfg.RPCPort, id.RPCPort, cluster.DefaultRPCPort)
	id.GossipPort = pick(cfg.GossipPort, id.GossipPort, cluster.DefaultGossipPort)
	id.APIPort = pick(cfg.APIPort, id.APIPort, DefaultAPIPort)
	id.HTTPSPort = pick(cfg.HTTPSPort, id.HTTPSPort, DefaultHTTPSPort)
	return id
}

// defaultName is the hostname, with the bind address appended when one was given, so
// that several nodes on one machine (127.0.0.x) get distinct names.
func defaultName(bind string) string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		h = "banyan"
	}
	h = strings.ToLower(strings.SplitN(h, ".", 2)[0])
	if ip := net.ParseIP(bind); ip != nil && !ip.IsUnspecified() {
		h += "-" + strings.NewReplacer(".", "-", ":", "-").Replace(ip.String())
	}
	return h
}

// defaultAdvertise picks the box's private IPv4 address, the one other boxes and users on
// the LAN can reach; without one, loopback (a single-box cloud).
func defaultAdvertise() string {
	ifs, err := sockaddr.GetPrivateInterfaces()
	if err == nil {
		for _, ifa := range ifs {
			if ip := sockaddr.ToIPv4Addr(ifa.SockAddr); ip != nil {
				return ip.NetIP().String()
			}
		}
	}
	return "127.0.0.1"
}

func listen(host string, port int, what string) (net.Listener, error) {
	ln, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		return nil, fmt.Errorf("cannot listen for %s on %s port %d: %w", what, host, port, unwrapSyscall(err))
	}
	return ln, nil
}

// probePort checks that memberlist will be able to bind port over TCP and UDP.
func probePort(host string, port int, what string) error {
	addr := net.JoinHostPort(host, strconv.Itoa(port))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("cannot listen for %s on %s port %d: %w", what, host, port, unwrapSyscall(err))
	}
	ln.Close()
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		return fmt.Errorf("cannot listen for %s on %s UDP port %d: %w", what, host, port, unwrapSyscall(err))
	}
	pc.Close()
	return nil
}

func unwrapSyscall(err error) error {
	var se *os.SyscallError
	if errors.As(err, &se) {
		return se.Err
	}
	return err
}

func dedupe(xs []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, x := range xs {
		if x != "" && !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}
