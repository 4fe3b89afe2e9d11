package dns

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	mdns "github.com/miekg/dns"
)

// liveSet is a settable list of live boxes, standing in for the cluster's liveness.
type liveSet struct {
	mu    sync.Mutex
	addrs []netip.Addr
}

func (l *liveSet) set(as ...string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.addrs = nil
	for _, a := range as {
		l.addrs = append(l.addrs, netip.MustParseAddr(a))
	}
}

func (l *liveSet) get() []netip.Addr {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.addrs)
}

// startServer serves s on a free loopback port and returns its address.
func startServer(t *testing.T, cfg Config) (*Server, string) {
	t.Helper()
	s := New(cfg)
	addr, err := s.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, addr
}

func query(t *testing.T, addr, network, name string, qtype uint16, edns uint16) *mdns.Msg {
	t.Helper()
	m := new(mdns.Msg).SetQuestion(mdns.Fqdn(name), qtype)
	if edns > 0 {
		m.SetEdns0(edns, false)
	}
	c := &mdns.Client{Net: network}
	if edns > 0 {
		c.UDPSize = edns
	}
	r, _, err := c.Exchange(m, addr)
	if err != nil {
		t.Fatalf("%s %s over %s: %v", name, mdns.TypeToString[qtype], network, err)
	}
	return r
}

func answers(r *mdns.Msg) []string {
	var out []string
	for _, rr := range r.Answer {
		switch v := rr.(type) {
		case *mdns.A:
			out = append(out, v.A.String())
		case *mdns.AAAA:
			out = append(out, v.AAAA.String())
		case *mdns.PTR:
			out = append(out, v.Ptr)
		default:
			out = append(out, rr.String())
		}
	}
	slices.Sort(out)
	return out
}

func expect(t *testing.T, r *mdns.Msg, rcode int, want ...string) {
	t.Helper()
	if r.Rcode != rcode {
		t.Fatalf("rcode %s, want %s:\n%s", mdns.RcodeToString[r.Rcode], mdns.RcodeToString[rcode], r)
	}
	slices.Sort(want)
	if got := answers(r); !slices.Equal(got, want) {
		t.Fatalf("answers %v, want %v:\n%s", got, want, r)
	}
}

func table() *Table {
	return &Table{Serial: 7, Hosts: []Host{
		{Private: netip.MustParseAddr("172.31.16.5")},
		{Private: netip.MustParseAddr("172.31.0.4"), Public: netip.MustParseAddr("203.0.113.5")},
	}}
}

func TestPrivateNames(t *testing.T) {
	s, addr := startServer(t, Config{Region: "us-east-1"})
	s.SetTable(table())
	r := query(t, addr, "udp", "ip-172-31-16-5.ec2.internal", mdns.TypeA, 0)
	expect(t, r, mdns.RcodeSuccess, "172.31.16.5")
	if !r.Authoritative || r.Answer[0].Header().Ttl != 60 {
		t.Fatalf("not authoritative or wrong TTL:\n%s", r)
	}
	expect(t, query(t, addr, "tcp", "IP-172-31-16-5.EC2.Internal", mdns.TypeA, 0), mdns.RcodeSuccess, "172.31.16.5")
	// No instance holds it: NXDOMAIN with the zone's SOA.
	r = query(t, addr, "udp", "ip-172-31-16-6.ec2.internal", mdns.TypeA, 0)
	expect(t, r, mdns.RcodeNameError)
	if len(r.Ns) != 1 || r.Ns[0].(*mdns.SOA).Hdr.Name != "ec2.internal." || r.Ns[0].(*mdns.SOA).Serial != 7 {
		t.Fatalf("NXDOMAIN without the zone's SOA:\n%s", r)
	}
	expect(t, query(t, addr, "udp", "web.ec2.internal", mdns.TypeA, 0), mdns.RcodeNameError)
	expect(t, query(t, addr, "udp", "ip-172-31-16-5.ec2.internal", mdns.TypeAAAA, 0), mdns.RcodeSuccess) // NODATA
	expect(t, query(t, addr, "udp", "ec2.internal", mdns.TypeSOA, 0), mdns.RcodeSuccess, "ec2.internal.\t60\tIN\tSOA\tns.banyan.internal. hostmaster.banyan.internal. 7 3600 600 86400 60")

	// Another region: REGION.compute.internal, as EC2 names them.
	s2, addr2 := startServer(t, Config{Region: "eu-west-1"})
	s2.SetTable(table())
	expect(t, query(t, addr2, "udp", "ip-172-31-16-5.eu-west-1.compute.internal", mdns.TypeA, 0), mdns.RcodeSuccess, "172.31.16.5")
	// A table change is seen at once.
	s2.SetTable(&Table{})
	expect(t, query(t, addr2, "udp", "ip-172-31-16-5.eu-west-1.compute.internal", mdns.TypeA, 0), mdns.RcodeNameError)
}

func TestReverseAndPublicNames(t *testing.T) {
	s, addr := startServer(t, Config{})
	s.SetTable(table())
	expect(t, query(t, addr, "udp", "5.16.31.172.in-addr.arpa", mdns.TypePTR, 0), mdns.RcodeSuccess, "ip-172-31-16-5.ec2.internal.")
	expect(t, query(t, addr, "udp", "6.16.31.172.in-addr.arpa", mdns.TypePTR, 0), mdns.RcodeNameError)
	expect(t, query(t, addr, "udp", "31.172.in-addr.arpa", mdns.TypeSOA, 0), mdns.RcodeSuccess,
		"31.172.in-addr.arpa.\t60\tIN\tSOA\tns.banyan.internal. hostmaster.banyan.internal. 7 3600 600 86400 60")
	expect(t, query(t, addr, "udp", "5.113.0.203.in-addr.arpa", mdns.TypePTR, 0), mdns.RcodeSuccess, "ec2-203-0-113-5.compute-1.amazonaws.com.")

	// A public name is its public address from outside, the private one inside the VPC.
	expect(t, query(t, addr, "udp", "ec2-203-0-113-5.compute-1.amazonaws.com", mdns.TypeA, 0), mdns.RcodeSuccess, "203.0.113.5")
	req := new(mdns.Msg).SetQuestion("ec2-203-0-113-5.compute-1.amazonaws.com.", mdns.TypeA)
	expect(t, s.Answer(req, netip.MustParseAddr("172.31.16.5"), false), mdns.RcodeSuccess, "172.31.0.4")

	for _, tc := range []struct {
		name    string
		p       string
		partial bool
	}{{"5.16.31.172.in-addr.arpa.", "172.31.16.5/32", false}, {"31.172.in-addr.arpa.", "172.31.0.0/16", true}} {
		p, partial, ok := reverseAddr(tc.name)
		if !ok || p.String() != tc.p || partial != tc.partial {
			t.Errorf("reverseAddr(%s) = %v %v %v", tc.name, p, partial, ok)
		}
	}
	for _, bad := range []string{"256.1.1.1.in-addr.arpa.", "01.1.1.1.in-addr.arpa.", "1.1.1.1.1.in-addr.arpa.", "x.in-addr.arpa."} {
		if _, _, ok := reverseAddr(bad); ok {
			t.Errorf("reverseAddr(%s) parsed", bad)
		}
	}
	if z := reverseZone(netip.MustParsePrefix("172.31.16.0/20")); z != "31.172.in-addr.arpa." {
		t.Errorf("reverse zone of a /20: %s", z)
	}
	if n := ReverseName(netip.MustParseAddr("172.31.16.5")); n != "5.16.31.172.in-addr.arpa." {
		t.Errorf("ReverseName: %s", n)
	}
}

func TestClusterNameAnswersLiveBoxes(t *testing.T) {
	var live liveSet
	live.set("10.0.0.1", "10.0.0.2", "10.0.0.3", "fd00::4")
	s, addr := startServer(t, Config{LiveBoxes: live.get})
	s.SetTable(table())
	r := query(t, addr, "udp", "banyan.internal", mdns.TypeA, 0)
	expect(t, r, mdns.RcodeSuccess, "10.0.0.1", "10.0.0.2", "10.0.0.3")
	if r.Answer[0].Header().Ttl != 5 {
		t.Fatalf("cluster name TTL %d, want 5", r.Answer[0].Header().Ttl)
	}
	expect(t, query(t, addr, "udp", "banyan.internal", mdns.TypeAAAA, 0), mdns.RcodeSuccess, "fd00::4")
	// S3 virtual-host names, a bucket name with dots too.
	expect(t, query(t, addr, "udp", "photos.s3.banyan.internal", mdns.TypeA, 0), mdns.RcodeSuccess, "10.0.0.1", "10.0.0.2", "10.0.0.3")
	expect(t, query(t, addr, "tcp", "my.photos.s3.banyan.internal", mdns.TypeA, 0), mdns.RcodeSuccess, "10.0.0.1", "10.0.0.2", "10.0.0.3")
	expect(t, query(t, addr, "udp", "s3.banyan.internal", mdns.TypeA, 0), mdns.RcodeSuccess, "10.0.0.1", "10.0.0.2", "10.0.0.3")
	expect(t, query(t, addr, "udp", "other.banyan.internal", mdns.TypeA, 0), mdns.RcodeNameError)

	// A box that dies leaves the very next answer.
	live.set("10.0.0.1", "10.0.0.3")
	expect(t, query(t, addr, "udp", "banyan.internal", mdns.TypeA, 0), mdns.RcodeSuccess, "10.0.0.1", "10.0.0.3")

	// The name is a setting.
	s.SetTable(&Table{ClusterName: "Cloud.Example.Org"})
	expect(t, query(t, addr, "udp", "cloud.example.org", mdns.TypeA, 0), mdns.RcodeSuccess, "10.0.0.1", "10.0.0.3")
	expect(t, query(t, addr, "udp", "b.s3.cloud.example.org", mdns.TypeA, 0), mdns.RcodeSuccess, "10.0.0.1", "10.0.0.3")
}

func TestLargeAnswersAreTruncatedOverUDP(t *testing.T) {
	var live liveSet
	var many []string
	for i := range 100 {
		many = append(many, fmt.Sprintf("10.0.%d.%d", i/200, i%200+1))
	}
	live.set(many...)
	_, addr := startServer(t, Config{LiveBoxes: live.get})
	r := query(t, addr, "udp", "banyan.internal", mdns.TypeA, 0)
	r.Compress = true // as it was sent
	if !r.Truncated || len(r.Answer) >= 100 || r.Len() > mdns.MinMsgSize {
		t.Fatalf("a 100-address answer over UDP without EDNS0: TC=%v, %d answers, %d bytes", r.Truncated, len(r.Answer), r.Len())
	}
	if r = query(t, addr, "tcp", "banyan.internal", mdns.TypeA, 0); r.Truncated || len(r.Answer) != 100 {
		t.Fatalf("over TCP: TC=%v, %d answers", r.Truncated, len(r.Answer))
	}
	if r = query(t, addr, "udp", "banyan.internal", mdns.TypeA, 4096); r.Truncated || len(r.Answer) != 100 || r.IsEdns0() == nil {
		t.Fatalf("over UDP with a 4096-byte EDNS0 buffer: TC=%v, %d answers, OPT %v", r.Truncated, len(r.Answer), r.IsEdns0())
	}
}

// upstreamDouble is a test double of the box's upstream resolver: a DNS server on
// loopback with a few fixed answers, counting the queries it gets.
type upstreamDouble struct {
	addr string
	mu   sync.Mutex
	seen []string
	srvs []*mdns.Server
}

func startUpstreamDouble(t *testing.T) *upstreamDouble {
	t.Helper()
	u := &upstreamDouble{}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u.addr = pc.LocalAddr().String()
	l, err := net.Listen("tcp", u.addr)
	if err != nil {
		t.Fatal(err)
	}
	h := mdns.HandlerFunc(u.serve)
	u.srvs = []*mdns.Server{{PacketConn: pc, Handler: h}, {Listener: l, Handler: h}}
	for _, s := range u.srvs {
		go s.ActivateAndServe()
	}
	t.Cleanup(func() {
		for _, s := range u.srvs {
			s.Shutdown()
		}
	})
	return u
}

func (u *upstreamDouble) serve(w mdns.ResponseWriter, req *mdns.Msg) {
	q := req.Question[0]
	u.mu.Lock()
	u.seen = append(u.seen, w.RemoteAddr().Network()+" "+q.Name)
	u.mu.Unlock()
	m := new(mdns.Msg).SetReply(req)
	m.RecursionAvailable = true
	switch q.Name {
	case "www.example.com.":
		rr, _ := mdns.NewRR("www.example.com. 300 IN A 192.0.2.10")
		m.Answer = append(m.Answer, rr)
	case "nx.example.com.":
		m.Rcode = mdns.RcodeNameError
	case "broken.example.com.":
		m.Rcode = mdns.RcodeServerFailure
	case "big.example.com.":
		for i := range 80 {
			rr, _ := mdns.NewRR(fmt.Sprintf("big.example.com. 300 IN A 192.0.2.%d", i+1))
			m.Answer = append(m.Answer, rr)
		}
		if _, ok := w.RemoteAddr().(*net.UDPAddr); ok {
			m.Truncate(mdns.MinMsgSize)
		}
	}
	w.WriteMsg(m)
}

func (u *upstreamDouble) queries() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return slices.Clone(u.seen)
}

func TestForwardsOtherNames(t *testing.T) {
	up := startUpstreamDouble(t)
	s, addr := startServer(t, Config{Upstreams: []string{up.addr}})
	s.SetTable(table())
	expect(t, query(t, addr, "udp", "www.example.com", mdns.TypeA, 0), mdns.RcodeSuccess, "192.0.2.10")
	expect(t, query(t, addr, "udp", "nx.example.com", mdns.TypeA, 0), mdns.RcodeNameError)
	expect(t, query(t, addr, "tcp", "broken.example.com", mdns.TypeA, 0), mdns.RcodeServerFailure)
	// A truncated upstream answer comes back truncated; the client's TCP retry is
	// forwarded over TCP.
	if r := query(t, addr, "udp", "big.example.com", mdns.TypeA, 0); !r.Truncated {
		t.Fatalf("big answer over UDP not truncated: %d answers", len(r.Answer))
	}
	if r := query(t, addr, "tcp", "big.example.com", mdns.TypeA, 0); r.Truncated || len(r.Answer) != 80 {
		t.Fatalf("big answer over TCP: TC=%v, %d answers", r.Truncated, len(r.Answer))
	}
	// Reverse names outside the instance networks, and public names of addresses
	// that are not the cloud's, are the world's.
	query(t, addr, "udp", "10.2.0.192.in-addr.arpa", mdns.TypePTR, 0)
	query(t, addr, "udp", "ec2-198-51-100-1.compute-1.amazonaws.com", mdns.TypeA, 0)
	// The cloud's own names never go upstream.
	query(t, addr, "udp", "ip-172-31-9-9.ec2.internal", mdns.TypeA, 0)
	query(t, addr, "udp", "9.9.31.172.in-addr.arpa", mdns.TypePTR, 0)
	want := []string{"udp www.example.com.", "udp nx.example.com.", "tcp broken.example.com.", "udp big.example.com.",
		"tcp big.example.com.", "udp 10.2.0.192.in-addr.arpa.", "udp ec2-198-51-100-1.compute-1.amazonaws.com."}
	if got := up.queries(); !slices.Equal(got, want) {
		t.Fatalf("the upstream saw %q, want %q", got, want)
	}

	// Recursion only for the instance networks, loopback and the box.
	req := new(mdns.Msg).SetQuestion("www.example.com.", mdns.TypeA)
	outsider := netip.MustParseAddr("198.51.100.7")
	if r := s.Answer(req, outsider, false); r.Rcode != mdns.RcodeRefused || r.RecursionAvailable {
		t.Fatalf("an outside client's recursive query: %s", r)
	}
	expect(t, s.Answer(req, netip.MustParseAddr("172.31.16.5"), false), mdns.RcodeSuccess, "192.0.2.10")
	s.SetTrusted([]netip.Prefix{netip.MustParsePrefix("198.51.100.7/32")})
	expect(t, s.Answer(req, outsider, false), mdns.RcodeSuccess, "192.0.2.10")
	s.SetTrusted(nil)
	// The cloud's names are answered to anyone who reaches the server.
	expect(t, s.Answer(new(mdns.Msg).SetQuestion("ip-172-31-16-5.ec2.internal.", mdns.TypeA), outsider, false), mdns.RcodeSuccess, "172.31.16.5")

	// The server never forwards to itself.
	s.SetUpstreams([]string{addr, up.addr})
	if got := s.Upstreams(); !slices.Equal(got, []string{up.addr}) {
		t.Fatalf("upstreams %v", got)
	}
	// No upstream answering is SERVFAIL, not silence.
	dead, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadAddr := dead.LocalAddr().String()
	dead.Close()
	s2, addr2 := startServer(t, Config{Upstreams: []string{deadAddr}, ForwardTimeout: 300e6})
	_ = s2
	expect(t, query(t, addr2, "udp", "www.example.com", mdns.TypeA, 0), mdns.RcodeServerFailure)
}

func TestRefusesWhatItDoesNotServe(t *testing.T) {
	s := New(Config{})
	for _, tc := range []struct {
		msg   *mdns.Msg
		rcode int
	}{
		{func() *mdns.Msg { m := new(mdns.Msg).SetQuestion("ec2.internal.", mdns.TypeAXFR); return m }(), mdns.RcodeRefused},
		{func() *mdns.Msg {
			m := new(mdns.Msg).SetQuestion("version.bind.", mdns.TypeTXT)
			m.Question[0].Qclass = mdns.ClassCHAOS
			return m
		}(), mdns.RcodeRefused},
		{func() *mdns.Msg {
			m := new(mdns.Msg).SetQuestion("ec2.internal.", mdns.TypeSOA)
			m.Opcode = mdns.OpcodeUpdate
			return m
		}(), mdns.RcodeNotImplemented},
		{&mdns.Msg{}, mdns.RcodeFormatError},
	} {
		if r := s.Answer(tc.msg, netip.MustParseAddr("127.0.0.1"), false); r.Rcode != tc.rcode {
			t.Errorf("%v: rcode %s, want %s", tc.msg.Question, mdns.RcodeToString[r.Rcode], mdns.RcodeToString[tc.rcode])
		}
	}
}

func TestResolvConf(t *testing.T) {
	p := filepath.Join(t.TempDir(), "resolv.conf")
	os.WriteFile(p, []byte("# test\nsearch example.org\nnameserver 192.0.2.53\nnameserver 2001:db8::53\noptions ndots:1\n"), 0o644)
	got, err := ResolvConf(p)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"192.0.2.53:53", "[2001:db8::53]:53"}; !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}
