// Package dns is the DNS server every box runs for its instances and its operators
// (github.com/miekg/dns, UDP and TCP). It is authoritative for the names the cloud
// itself gives out, answered from a Table the box agent builds from the replicated
// state, and forwards every other name to the box's own resolvers:
//
//   - instances' private host names, ip-172-31-16-5.ec2.internal (REGION.compute.internal
//     outside us-east-1), as EC2's resolver names them, and their reverse (PTR) names
//     in the instance networks' in-addr.arpa. zones;
//   - public host names, ec2-203-0-113-5.compute-1.amazonaws.com, and their PTRs, for
//     instances the table gives a public address (a client in the instance networks gets
//     the private address, as in a VPC);
//   - the cluster's own name (banyan.internal by default) and the S3 virtual-host names
//     BUCKET.s3.CLUSTER-NAME, answered with the API addresses of the boxes that are up
//     now (asked on every query, with a short TTL, so a dead box drops out at once).
//
// Forwarded answers (NXDOMAIN and SERVFAIL too) pass through unchanged; when no upstream
// answers the client gets SERVFAIL. Only clients in the instance networks, on loopback or
// at the box's own addresses may recurse; others get REFUSED for names outside the
// cloud's zones. UDP answers are truncated (TC) to the client's buffer size (512 bytes
// without EDNS0), so a large answer is fetched again over TCP.
package dns

import (
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/banyancloud/banyan/netctl"
)

// DefaultClusterName is the cluster's own DNS name unless a setting gives another.
const DefaultClusterName = "banyan.internal"

// DefaultInstanceNetworks are the instance networks: the default VPC's 172.31.0.0/16.
var DefaultInstanceNetworks = []netip.Prefix{netip.MustParsePrefix("172.31.0.0/16")}

// Host is one instance's addresses as DNS shows them.
type Host struct {
	Private netip.Addr
	Public  netip.Addr // the zero Addr when the instance has no public address
}

// Table is what the server answers from: the replicated state's part that DNS shows.
// The box agent builds a new one on every change and hands it to SetTable.
type Table struct {
	// ClusterName is the cluster's own name ("" for DefaultClusterName).
	ClusterName string
	Hosts       []Host
	// Serial is the zones' SOA serial (the state's applied index, say).
	Serial uint32
}

// Config configures a Server.
type Config struct {
	// Region picks the private domain (ec2.internal or REGION.compute.internal) and the
	// public one.
	Region string
	// InstanceNetworks are the networks whose reverse zones the server is authoritative
	// for and whose clients may recurse (nil for DefaultInstanceNetworks).
	InstanceNetworks []netip.Prefix
	// Trusted are other clients that may recurse (the box's own addresses); loopback
	// always may.
	Trusted []netip.Prefix
	// LiveBoxes returns the API addresses of the boxes that are up now; it is called
	// for every query of the cluster's names.
	LiveBoxes func() []netip.Addr
	// Upstreams are the resolvers other names go to, host:port (SetUpstreams changes them).
	Upstreams []string
	// ForwardTimeout bounds one upstream exchange (default 2 s).
	ForwardTimeout time.Duration
	// TTL is the instance records' TTL (default 60 s, as EC2's resolver); ClusterTTL is
	// the cluster names' (default 5 s: a dead box must leave caches quickly).
	TTL, ClusterTTL uint32
	Log             *slog.Logger
}

// Server answers DNS queries; it serves on any number of addresses (Listen).
type Server struct {
	cfg       Config
	private   string // ec2.internal.
	public    string // compute-1.amazonaws.com.
	table     atomic.Pointer[index]
	upstreams atomic.Pointer[[]string]
	trusted   atomic.Pointer[[]netip.Prefix]

	mu      sync.Mutex
	servers []*mdns.Server
	addrs   []string
	closed  bool
}

type index struct {
	cluster   string // banyan.internal.
	s3        string // .s3.banyan.internal.
	serial    uint32
	byPrivate map[netip.Addr]Host
	byPublic  map[netip.Addr]Host
}

// New makes a server with an empty table; it serves once Listen (or Serve) is called.
func New(cfg Config) *Server {
	if cfg.InstanceNetworks == nil {
		cfg.InstanceNetworks = DefaultInstanceNetworks
	}
	if cfg.ForwardTimeout <= 0 {
		cfg.ForwardTimeout = 2 * time.Second
	}
	if cfg.TTL == 0 {
		cfg.TTL = 60
	}
	if cfg.ClusterTTL == 0 {
		cfg.ClusterTTL = 5
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.LiveBoxes == nil {
		cfg.LiveBoxes = func() []netip.Addr { return nil }
	}
	s := &Server{cfg: cfg, private: netctl.Domain(cfg.Region) + ".", public: PublicDomain(cfg.Region) + "."}
	s.SetTable(&Table{})
	s.SetUpstreams(cfg.Upstreams)
	s.SetTrusted(cfg.Trusted)
	return s
}

// SetTable replaces what the server answers from.
func (s *Server) SetTable(t *Table) {
	name := t.ClusterName
	if name == "" {
		name = DefaultClusterName
	}
	name = fqdn(name)
	ix := &index{cluster: name, s3: ".s3." + name, serial: t.Serial,
		byPrivate: map[netip.Addr]Host{}, byPublic: map[netip.Addr]Host{}}
	for _, h := range t.Hosts {
		if h.Private.Is4() {
			ix.byPrivate[h.Private] = h
		}
		if h.Public.Is4() {
			ix.byPublic[h.Public] = h
		}
	}
	s.table.Store(ix)
}

// SetUpstreams replaces the resolvers other names are forwarded to (host:port, or a
// bare address for port 53). The server's own listening addresses are left out, so a
// box whose resolv.conf names this server does not loop.
func (s *Server) SetUpstreams(ups []string) {
	s.mu.Lock()
	own := slices.Clone(s.addrs)
	s.mu.Unlock()
	var out []string
	for _, u := range ups {
		if _, _, err := net.SplitHostPort(u); err != nil {
			u = net.JoinHostPort(u, "53")
		}
		if !slices.Contains(own, u) && !slices.Contains(out, u) {
			out = append(out, u)
		}
	}
	s.upstreams.Store(&out)
}

// Upstreams returns the resolvers in use.
func (s *Server) Upstreams() []string { return slices.Clone(*s.upstreams.Load()) }

// SetTrusted replaces the clients besides the instance networks and loopback that may
// recurse.
func (s *Server) SetTrusted(p []netip.Prefix) {
	c := slices.Clone(p)
	s.trusted.Store(&c)
}

// Listen serves UDP and TCP on addr (host:port; port 0 picks one free for both) and
// returns the address it serves on.
func (s *Server) Listen(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("dns: listen address %q: %w", addr, err)
	}
	// With port 0, the TCP port must be the one UDP got; try a few times.
	for try := 0; ; try++ {
		pc, err := net.ListenPacket("udp", net.JoinHostPort(host, port))
		if err != nil {
			return "", fmt.Errorf("dns: %w", err)
		}
		bound := pc.LocalAddr().(*net.UDPAddr)
		l, err := net.Listen("tcp", net.JoinHostPort(host, fmt.Sprint(bound.Port)))
		if err != nil {
			pc.Close()
			if port == "0" && try < 10 {
				continue
			}
			return "", fmt.Errorf("dns: %w", err)
		}
		got := net.JoinHostPort(host, fmt.Sprint(bound.Port))
		if err := s.Serve(pc, l); err != nil {
			return "", err
		}
		s.mu.Lock()
		s.addrs = append(s.addrs, got)
		s.mu.Unlock()
		s.SetUpstreams(*s.upstreams.Load()) // drop ourselves, should an upstream be us
		return got, nil
	}
}

// Serve answers on the given sockets (either may be nil) until Close.
func (s *Server) Serve(pc net.PacketConn, l net.Listener) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		if pc != nil {
			pc.Close()
		}
		if l != nil {
			l.Close()
		}
		return errors.New("dns: server closed")
	}
	if pc != nil {
		srv := &mdns.Server{PacketConn: pc, Handler: s}
		s.servers = append(s.servers, srv)
		go s.run(srv, pc.LocalAddr())
	}
	if l != nil {
		srv := &mdns.Server{Listener: l, Handler: s, ReadTimeout: 5 * time.Second, IdleTimeout: func() time.Duration { return 10 * time.Second }}
		s.servers = append(s.servers, srv)
		go s.run(srv, l.Addr())
	}
	return nil
}

func (s *Server) run(srv *mdns.Server, addr net.Addr) {
	err := srv.ActivateAndServe()
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if err != nil && !closed {
		s.cfg.Log.Error("dns: stopped serving", "addr", addr.Network()+"/"+addr.String(), "err", err)
	}
}

// Addrs lists the addresses Listen serves on.
func (s *Server) Addrs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.addrs)
}

// Close stops serving and closes every socket.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closed = true
	servers := s.servers
	s.servers = nil
	s.mu.Unlock()
	var errs []error
	for _, srv := range servers {
		if err := srv.Shutdown(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// ServeDNS answers one query (mdns.Handler).
func (s *Server) ServeDNS(w mdns.ResponseWriter, req *mdns.Msg) {
	var client netip.Addr
	udp := true
	switch a := w.RemoteAddr().(type) {
	case *net.UDPAddr:
		client, _ = netip.AddrFromSlice(a.IP)
	case *net.TCPAddr:
		client, _ = netip.AddrFromSlice(a.IP)
		udp = false
	}
	resp := s.Answer(req, client.Unmap(), !udp)
	if resp == nil {
		return
	}
	if udp {
		size := mdns.MinMsgSize
		if opt := req.IsEdns0(); opt != nil && int(opt.UDPSize()) > size {
			size = int(opt.UDPSize())
		}
		resp.Truncate(size)
	} else {
		resp.Truncate(mdns.MaxMsgSize)
	}
	if err := w.WriteMsg(resp); err != nil {
		s.cfg.Log.Debug("dns: cannot send the answer", "client", client, "err", err)
	}
}

// Answer is the server's reply to req from client (over TCP when tcp): an authoritative
// answer for the cloud's names, else the upstreams' (or REFUSED, SERVFAIL).
func (s *Server) Answer(req *mdns.Msg, client netip.Addr, tcp bool) *mdns.Msg {
	resp := new(mdns.Msg)
	if req.Response {
		return nil
	}
	if req.Opcode != mdns.OpcodeQuery {
		return resp.SetRcode(req, mdns.RcodeNotImplemented)
	}
	if len(req.Question) != 1 {
		return resp.SetRcode(req, mdns.RcodeFormatError)
	}
	recurse := s.mayRecurse(client)
	q := req.Question[0]
	if q.Qclass != mdns.ClassINET && q.Qclass != mdns.ClassANY || q.Qtype == mdns.TypeAXFR || q.Qtype == mdns.TypeIXFR {
		return s.refuse(req, recurse)
	}
	name := fqdn(q.Name)
	ix := s.table.Load()
	if a := s.authoritative(ix, req, name, q.Qtype, client); a != nil {
		a.RecursionAvailable = recurse
		if opt := req.IsEdns0(); opt != nil {
			a.SetEdns0(max(opt.UDPSize(), mdns.MinMsgSize), false)
		}
		return a
	}
	if !recurse {
		return s.refuse(req, false)
	}
	r, err := s.forward(req, tcp)
	if err != nil {
		s.cfg.Log.Warn("dns: no upstream resolver answered", "name", q.Name, "err", err)
		resp.SetRcode(req, mdns.RcodeServerFailure)
		resp.RecursionAvailable = true
		return resp
	}
	r.Id = req.Id
	return r
}

func (s *Server) refuse(req *mdns.Msg, recurse bool) *mdns.Msg {
	resp := new(mdns.Msg).SetRcode(req, mdns.RcodeRefused)
	resp.RecursionAvailable = recurse
	return resp
}

func (s *Server) mayRecurse(client netip.Addr) bool {
	if !client.IsValid() {
		return false
	}
	if client.IsLoopback() {
		return true
	}
	for _, p := range s.cfg.InstanceNetworks {
		if p.Contains(client) {
			return true
		}
	}
	for _, p := range *s.trusted.Load() {
		if p.Contains(client) {
			return true
		}
	}
	return false
}

func (s *Server) inInstanceNetworks(a netip.Addr) (netip.Prefix, bool) {
	for _, p := range s.cfg.InstanceNetworks {
		if p.Contains(a) {
			return p, true
		}
	}
	return netip.Prefix{}, false
}

// authoritative answers a name in one of the cloud's zones; nil for other names.
func (s *Server) authoritative(ix *index, req *mdns.Msg, name string, qtype uint16, client netip.Addr) *mdns.Msg {
	wantA := qtype == mdns.TypeA || qtype == mdns.TypeANY
	wantAAAA := qtype == mdns.TypeAAAA || qtype == mdns.TypeANY
	wantPTR := qtype == mdns.TypePTR || qtype == mdns.TypeANY
	switch {
	case name == ix.cluster || strings.HasSuffix(name, "."+ix.cluster):
		if name != ix.cluster && name != ix.s3[1:] && !strings.HasSuffix(name, ix.s3) {
			return s.negative(req, ix.cluster, ix, mdns.RcodeNameError)
		}
		var rrs []mdns.RR
		boxes := s.cfg.LiveBoxes()
		// Rotate, so clients that take the first address spread over the boxes.
		if n := len(boxes); n > 1 {
			k := rand.IntN(n)
			boxes = slices.Concat(boxes[k:], boxes[:k])
		}
		for _, b := range boxes {
			if b.Is4() && wantA {
				rrs = append(rrs, &mdns.A{Hdr: s.hdr(name, mdns.TypeA, s.cfg.ClusterTTL), A: b.AsSlice()})
			} else if b.Is6() && wantAAAA {
				rrs = append(rrs, &mdns.AAAA{Hdr: s.hdr(name, mdns.TypeAAAA, s.cfg.ClusterTTL), AAAA: b.AsSlice()})
			}
		}
		if name == ix.cluster && (qtype == mdns.TypeSOA || qtype == mdns.TypeANY) {
			rrs = append(rrs, s.soa(ix.cluster, ix))
		}
		return s.positive(req, ix.cluster, ix, rrs)

	case name == s.private || strings.HasSuffix(name, "."+s.private):
		if name == s.private {
			if qtype == mdns.TypeSOA || qtype == mdns.TypeANY {
				return s.positive(req, s.private, ix, []mdns.RR{s.soa(s.private, ix)})
			}
			return s.negative(req, s.private, ix, mdns.RcodeSuccess)
		}
		label, ok := hostLabel(name, s.private)
		ip, ok2 := dashedAddr(label, "ip-")
		if _, held := ix.byPrivate[ip]; !ok || !ok2 || !held {
			return s.negative(req, s.private, ix, mdns.RcodeNameError)
		}
		var rrs []mdns.RR
		if wantA {
			rrs = append(rrs, &mdns.A{Hdr: s.hdr(name, mdns.TypeA, s.cfg.TTL), A: ip.AsSlice()})
		}
		return s.positive(req, s.private, ix, rrs)

	case strings.HasSuffix(name, "."+s.public):
		// Only the public names of this cloud's own addresses; others are EC2's, upstream.
		label, ok := hostLabel(name, s.public)
		ip, ok2 := dashedAddr(label, "ec2-")
		h, held := ix.byPublic[ip]
		if !ok || !ok2 || !held {
			return nil
		}
		var rrs []mdns.RR
		if wantA {
			a := h.Public
			if _, inside := s.inInstanceNetworks(client); inside && h.Private.Is4() {
				a = h.Private // inside the VPC a public name resolves to the private address
			}
			rrs = append(rrs, &mdns.A{Hdr: s.hdr(name, mdns.TypeA, s.cfg.TTL), A: a.AsSlice()})
		}
		return s.positive(req, s.public, ix, rrs)

	case strings.HasSuffix(name, reverseSuffix):
		p, partial, ok := reverseAddr(name)
		if !ok {
			return nil
		}
		ip := p.Addr()
		if !partial {
			if h, held := ix.byPublic[ip]; held {
				var rrs []mdns.RR
				if wantPTR {
					rrs = append(rrs, &mdns.PTR{Hdr: s.hdr(name, mdns.TypePTR, s.cfg.TTL), Ptr: PublicName(h.Public, s.cfg.Region)})
				}
				return s.positive(req, name, ix, rrs)
			}
		}
		for _, nw := range s.cfg.InstanceNetworks {
			zone := reverseZone(nw)
			if name != zone && !strings.HasSuffix(name, "."+zone) {
				continue
			}
			if partial {
				// An inner node of the zone (or its apex): it exists, with no PTR.
				if name == zone && (qtype == mdns.TypeSOA || qtype == mdns.TypeANY) {
					return s.positive(req, zone, ix, []mdns.RR{s.soa(zone, ix)})
				}
				return s.negative(req, zone, ix, mdns.RcodeSuccess)
			}
			if _, held := ix.byPrivate[ip]; !held {
				return s.negative(req, zone, ix, mdns.RcodeNameError)
			}
			var rrs []mdns.RR
			if wantPTR {
				rrs = append(rrs, &mdns.PTR{Hdr: s.hdr(name, mdns.TypePTR, s.cfg.TTL), Ptr: PrivateName(ip, s.cfg.Region)})
			}
			return s.positive(req, zone, ix, rrs)
		}
		return nil
	}
	return nil
}

// positive is an authoritative answer; with no records it is NODATA, with the zone's SOA.
func (s *Server) positive(req *mdns.Msg, zone string, ix *index, rrs []mdns.RR) *mdns.Msg {
	if len(rrs) == 0 {
		return s.negative(req, zone, ix, mdns.RcodeSuccess)
	}
	m := new(mdns.Msg).SetReply(req)
	m.Authoritative = true
	m.Answer = rrs
	return m
}

// negative is NXDOMAIN (or NODATA for RcodeSuccess) with the zone's SOA, whose minimum
// is how long resolvers may cache the absence.
func (s *Server) negative(req *mdns.Msg, zone string, ix *index, rcode int) *mdns.Msg {
	m := new(mdns.Msg).SetRcode(req, rcode)
	m.Authoritative = true
	m.Ns = []mdns.RR{s.soa(zone, ix)}
	return m
}

func (s *Server) soa(zone string, ix *index) mdns.RR {
	ttl := s.cfg.TTL
	if zone == ix.cluster {
		ttl = s.cfg.ClusterTTL
	}
	return &mdns.SOA{Hdr: s.hdr(zone, mdns.TypeSOA, ttl), Ns: "ns." + ix.cluster, Mbox: "hostmaster." + ix.cluster,
		Serial: ix.serial, Refresh: 3600, Retry: 600, Expire: 86400, Minttl: ttl}
}

func (s *Server) hdr(name string, typ uint16, ttl uint32) mdns.RR_Header {
	return mdns.RR_Header{Name: name, Rrtype: typ, Class: mdns.ClassINET, Ttl: ttl}
}

// forward asks the upstreams in turn, over the client's transport, and returns the
// first answer whatever its code: NXDOMAIN and SERVFAIL are answers too.
func (s *Server) forward(req *mdns.Msg, tcp bool) (*mdns.Msg, error) {
	ups := *s.upstreams.Load()
	if len(ups) == 0 {
		return nil, errors.New("no upstream resolvers (none in resolv.conf?)")
	}
	c := &mdns.Client{Net: "udp", Timeout: s.cfg.ForwardTimeout}
	if tcp {
		c.Net = "tcp"
	}
	var errs []error
	for _, u := range ups {
		r, _, err := c.Exchange(req.Copy(), u)
		if err == nil {
			return r, nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", u, err))
	}
	return nil, errors.Join(errs...)
}

// ResolvConf reads the name servers of a resolv.conf file as host:port.
func ResolvConf(path string) ([]string, error) {
	cc, err := mdns.ClientConfigFromFile(path)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, s := range cc.Servers {
		out = append(out, net.JoinHostPort(s, cc.Port))
	}
	return out, nil
}
