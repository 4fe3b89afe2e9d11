package node

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/banyancloud/banyan/cluster/state"
	netdns "github.com/banyancloud/banyan/netctl/dns"
)

// SettingDNSClusterName is the cluster setting naming the cluster in DNS (default
// netdns.DefaultClusterName, banyan.internal): NAME and BUCKET.s3.NAME answer with the
// API addresses of the boxes that are up.
const SettingDNSClusterName = "dns.cluster_name"

// DNSConfig is what this box's DNS server needs.
type DNSConfig struct {
	Node dnsCluster
	// Region names the instances' DNS domain.
	Region string
	// Listen are the addresses (host:port) it answers operators on; the instance
	// bridge's router address is added by ListenBridge when the box runs instances.
	Listen []string
	// BridgePort is the port on the bridge (default 53, what guests ask).
	BridgePort int
	// ResolvConf names the resolvers other names are forwarded to (default /etc/resolv.conf).
	ResolvConf string
	// Upstreams, when set, are the resolvers (host:port) instead of ResolvConf's.
	Upstreams []string
	Logger    *slog.Logger
}

// dnsCluster is what the DNS server needs of the cluster: the local replica and who is up.
type dnsCluster interface {
	State() *state.Store
	MemberAlive(name string) bool
}

// DNS is this box's DNS server (netctl/dns) kept in step with the replicated state.
type DNS struct {
	cfg DNSConfig
	srv *netdns.Server
	log *slog.Logger
}

// StartDNS starts the box's DNS server on cfg.Listen and keeps its table in step with
// the local replica (the instances and the cluster-name setting, on every change) and
// its upstreams with resolv.conf (every 10 s). It stops with ctx.
func StartDNS(ctx context.Context, cfg DNSConfig) (*DNS, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.BridgePort == 0 {
		cfg.BridgePort = 53
	}
	if cfg.ResolvConf == "" {
		cfg.ResolvConf = "/etc/resolv.conf"
	}
	log := cfg.Logger.With("sub", "dns")
	d := &DNS{cfg: cfg, log: log}
	d.srv = netdns.New(netdns.Config{Region: cfg.Region, Log: log, Trusted: boxAddrs(),
		LiveBoxes: func() []netip.Addr { return liveAPIAddrs(cfg.Node) }})
	ctl := &dnsController{node: cfg.Node, srv: d.srv, resolvConf: cfg.ResolvConf, upstreams: cfg.Upstreams, log: log}
	ctl.Reconcile(ctx, dnsKey) // a table before the first query
	for _, a := range cfg.Listen {
		got, err := d.srv.Listen(a)
		if err != nil {
			d.srv.Close()
			return nil, fmt.Errorf("DNS on %s: %w", a, err)
		}
		log.Info("DNS server answering", "addr", got)
	}
	go Converge(ctx, ctl, ConvergeOptions{Logger: log, Workers: 1, Resync: 10 * time.Second})
	go func() { <-ctx.Done(); d.srv.Close() }()
	return d, nil
}

// ListenBridge answers on the instance bridge's router address too, the name server
// the DHCP server hands the instances.
func (d *DNS) ListenBridge(router netip.Addr) error {
	got, err := d.srv.Listen(net.JoinHostPort(router.String(), strconv.Itoa(d.cfg.BridgePort)))
	if err != nil {
		return err
	}
	d.log.Info("DNS server answering instances", "addr", got)
	return nil
}

// Addrs lists the addresses the server answers on.
func (d *DNS) Addrs() []string { return d.srv.Addrs() }

const dnsKey = "table"

// dnsController rebuilds the DNS table whenever the instances or the cluster-name
// setting change (one key: the table is replaced whole), and on every resync re-reads
// resolv.conf and the box's own addresses (the clients besides instances that may recurse).
type dnsController struct {
	node       dnsCluster
	srv        *netdns.Server
	resolvConf string
	upstreams  []string // instead of resolvConf's, when set
	log        *slog.Logger

	noResolvers bool // resolv.conf could not be read last time (warned once)

	mu          sync.Mutex
	cancelWatch context.CancelFunc
}

func (c *dnsController) Name() string { return "dns" }

func (c *dnsController) Keys(ctx context.Context) ([]string, <-chan struct{}, error) {
	wctx, cancel := context.WithCancel(ctx)
	c.mu.Lock()
	if c.cancelWatch != nil {
		c.cancelWatch()
	}
	c.cancelWatch = cancel
	c.mu.Unlock()
	v, err := c.node.State().DNS(wctx, SettingDNSClusterName)
	if err != nil {
		return nil, nil, err
	}
	// Public names follow the Elastic IPs too (addresses.go).
	changed := make(chan struct{})
	addrs := c.node.State().AddressesChanged(wctx)
	go func() {
		select {
		case <-v.Changed:
		case <-addrs:
		}
		close(changed)
	}()
	return []string{dnsKey}, changed, nil
}

func (c *dnsController) Reconcile(ctx context.Context, key string) error {
	v, err := c.node.State().DNS(nil, SettingDNSClusterName)
	if err != nil {
		return err
	}
	t := dnsTable(v)
	setPublicNames(t, v, c.node.State().PublicAddresses())
	c.srv.SetTable(t)
	c.srv.SetTrusted(boxAddrs())
	ups := c.upstreams
	if len(ups) == 0 {
		ups, err = netdns.ResolvConf(c.resolvConf)
	}
	if err != nil {
		if !c.noResolvers {
			c.log.Warn("cannot read the box's resolvers; names outside the cloud get SERVFAIL", "file", c.resolvConf, "err", err)
		}
		ups = nil
	}
	c.noResolvers = err != nil
	old := c.srv.Upstreams()
	c.srv.SetUpstreams(ups)
	if now := c.srv.Upstreams(); !slices.Equal(old, now) {
		c.log.Info("DNS forwards to", "upstreams", now)
	}
	return nil
}

// dnsTable is what DNS shows of the state: every instance that is not terminated by
// its private address (stopped ones keep theirs, as in EC2), and the cluster's name.
func dnsTable(v *state.DNSView) *netdns.Table {
	t := &netdns.Table{Serial: uint32(v.Index)}
	if v.Setting != nil {
		t.ClusterName = v.Setting.Value
	}
	for _, in := range v.Instances {
		a, err := netip.ParseAddr(in.PrivateIP)
		if in.State == state.InstanceTerminated || err != nil || !a.Is4() {
			continue
		}
		t.Hosts = append(t.Hosts, netdns.Host{Private: a})
	}
	return t
}

// setPublicNames gives the hosts of instances with an Elastic IP their public address
// (ec2-a-b-c-d names and their PTRs).
func setPublicNames(t *netdns.Table, v *state.DNSView, public map[string]netip.Addr) {
	byPrivate := map[netip.Addr]netip.Addr{}
	for _, in := range v.Instances {
		priv, err := netip.ParseAddr(in.PrivateIP)
		if pub, ok := public[in.ID]; ok && err == nil && in.State != state.InstanceTerminated {
			byPrivate[priv] = pub
		}
	}
	for i := range t.Hosts {
		if pub, ok := byPrivate[t.Hosts[i].Private]; ok {
			t.Hosts[i].Public = pub
		}
	}
}

// liveAPIAddrs are the API addresses of the registered boxes that are up now.
func liveAPIAddrs(n dnsCluster) []netip.Addr {
	nodes, err := n.State().Nodes()
	if err != nil {
		return nil
	}
	var out []netip.Addr
	for _, nd := range nodes {
		host, _, err := net.SplitHostPort(nd.APIAddr)
		if err != nil {
			continue
		}
		a, err := netip.ParseAddr(host)
		if err != nil || a.IsUnspecified() || !n.MemberAlive(nd.Name) {
			continue
		}
		out = append(out, a.Unmap())
	}
	return out
}

// boxAddrs are this box's own addresses, as host prefixes.
func boxAddrs() []netip.Prefix {
	as, err := net.InterfaceAddrs()
	if err != nil {
		return nil
	}
	var out []netip.Prefix
	for _, a := range as {
		if n, ok := a.(*net.IPNet); ok {
			if ip, ok := netip.AddrFromSlice(n.IP); ok {
				ip = ip.Unmap()
				out = append(out, netip.PrefixFrom(ip, ip.BitLen()))
			}
		}
	}
	return out
}
