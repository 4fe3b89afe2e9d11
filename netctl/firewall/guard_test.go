package firewall_test

// The guard's tests: its text, its validation, and a box of unnamed network namespaces
// of the test's own (they vanish with the test's handles), the guard programmed in the
// box's namespace only:
//
//	[g1] eth0 02:..:05 172.31.0.5 == bnyt1 \
//	[g2] eth0 02:..:06 172.31.0.6 == bnyt2  br0 172.31.0.1/20 [box]
//	[g3] eth0 02:..:07 172.31.0.7 == bnyt3  (a tap the first guard is not told of)
//	[gv] eth0 02:..:0a 172.31.0.10 == bnyvx0 / (trusted: stands for the VXLAN port)

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/banyancloud/banyan/netctl/firewall"
	"github.com/banyancloud/banyan/netctl/internal/nstest"
	"github.com/banyancloud/banyan/netctl/nat"
)

func mustMAC(s string) net.HardwareAddr {
	m, err := net.ParseMAC(s)
	if err != nil {
		panic(err)
	}
	return m
}

func TestGuardRender(t *testing.T) {
	g := &firewall.Guard{
		TapPrefix: "bnyt",
		Trusted:   []string{"bnyvx0", "bnyvx0"},
		Ports: []firewall.Port{
			{Iface: "bnyt-b", MAC: mustMAC("52:54:00:00:00:0b"), Addr: netip.MustParseAddr("172.31.16.11")},
			{Iface: "bnyt-a", MAC: mustMAC("52:54:00:00:00:0a"), Addr: netip.MustParseAddr("172.31.16.10")},
		},
	}
	got, err := firewall.RenderGuard(g)
	if err != nil {
		t.Fatal(err)
	}
	want := `table bridge banyan-guard {
	chain prerouting {
		type filter hook prerouting priority filter; policy accept;
		iifname "bnyvx0" accept
		iifname "bnyt-a" jump port-52540000000a
		iifname "bnyt-b" jump port-52540000000b
		iifname "bnyt*" drop
	}
	chain input {
		type filter hook input priority filter; policy accept;
		iifname "bnyvx0" accept
		iifname "bnyt-a" jump port-52540000000a
		iifname "bnyt-b" jump port-52540000000b
		iifname "bnyt*" drop
	}
	chain port-52540000000a {
		ether saddr != 52:54:00:00:00:0a drop
		ether type ip ip saddr 172.31.16.10 accept
		ether type ip ip saddr 0.0.0.0 meta l4proto udp udp sport 68 udp dport 67 accept
		ether type arp arp htype 1 arp ptype ip arp hlen 6 arp plen 4 arp saddr ether 52:54:00:00:00:0a arp saddr ip 172.31.16.10 accept
		ether type arp arp htype 1 arp ptype ip arp hlen 6 arp plen 4 arp saddr ether 52:54:00:00:00:0a arp saddr ip 0.0.0.0 accept
		drop
	}
	chain port-52540000000b {
		ether saddr != 52:54:00:00:00:0b drop
		ether type ip ip saddr 172.31.16.11 accept
		ether type ip ip saddr 0.0.0.0 meta l4proto udp udp sport 68 udp dport 67 accept
		ether type arp arp htype 1 arp ptype ip arp hlen 6 arp plen 4 arp saddr ether 52:54:00:00:00:0b arp saddr ip 172.31.16.11 accept
		ether type arp arp htype 1 arp ptype ip arp hlen 6 arp plen 4 arp saddr ether 52:54:00:00:00:0b arp saddr ip 0.0.0.0 accept
		drop
	}
}
`
	if got != want {
		t.Fatalf("got:\n%s\nwant:\n%s", got, want)
	}
	// Stable: the same guard in another order renders the same; a change shows.
	g.Ports[0], g.Ports[1] = g.Ports[1], g.Ports[0]
	if again, _ := firewall.RenderGuard(g); again != got {
		t.Errorf("the order of Ports changed the text:\n%s", again)
	}
	g.Ports[0].Addr = netip.MustParseAddr("172.31.16.12")
	if changed, _ := firewall.RenderGuard(g); changed == got {
		t.Error("a changed address left the text as it was")
	}
	// No ports, no prefix: a table that passes everything.
	empty, err := firewall.RenderGuard(&firewall.Guard{})
	if err != nil || empty != "table bridge banyan-guard {\n"+
		"\tchain prerouting {\n\t\ttype filter hook prerouting priority filter; policy accept;\n\t}\n"+
		"\tchain input {\n\t\ttype filter hook input priority filter; policy accept;\n\t}\n}\n" {
		t.Errorf("empty guard: %v\n%s", err, empty)
	}
}

func TestGuardValidateRefusesWhatCannotBeProgrammed(t *testing.T) {
	mac := mustMAC("52:54:00:00:00:0a")
	a := netip.MustParseAddr("172.31.16.10")
	port := func(iface string, m net.HardwareAddr, addr netip.Addr) firewall.Port {
		return firewall.Port{Iface: iface, MAC: m, Addr: addr}
	}
	for name, g := range map[string]*firewall.Guard{
		"no interface":     {Ports: []firewall.Port{port("", mac, a)}},
		"long interface":   {Ports: []firewall.Port{port("bnyt-0123456789a", mac, a)}},
		"slash":            {Ports: []firewall.Port{port("bny/1", mac, a)}},
		"space":            {Ports: []firewall.Port{port("bny 1", mac, a)}},
		"no MAC":           {Ports: []firewall.Port{port("bnyt1", nil, a)}},
		"8-byte MAC":       {Ports: []firewall.Port{port("bnyt1", net.HardwareAddr{2, 0, 0, 0, 0, 0, 0, 1}, a)}},
		"multicast MAC":    {Ports: []firewall.Port{port("bnyt1", mustMAC("01:00:5e:00:00:01"), a)}},
		"zero MAC":         {Ports: []firewall.Port{port("bnyt1", make(net.HardwareAddr, 6), a)}},
		"no address":       {Ports: []firewall.Port{port("bnyt1", mac, netip.Addr{})}},
		"IPv6 address":     {Ports: []firewall.Port{port("bnyt1", mac, netip.MustParseAddr("fd00::1"))}},
		"4in6 address":     {Ports: []firewall.Port{port("bnyt1", mac, netip.MustParseAddr("::ffff:172.31.16.10"))}},
		"0.0.0.0":          {Ports: []firewall.Port{port("bnyt1", mac, netip.IPv4Unspecified())}},
		"broadcast":        {Ports: []firewall.Port{port("bnyt1", mac, netip.MustParseAddr("255.255.255.255"))}},
		"multicast":        {Ports: []firewall.Port{port("bnyt1", mac, netip.MustParseAddr("224.0.0.1"))}},
		"port twice":       {Ports: []firewall.Port{port("bnyt1", mac, a), port("bnyt1", mustMAC("52:54:00:00:00:0b"), a.Next())}},
		"MAC twice":        {Ports: []firewall.Port{port("bnyt1", mac, a), port("bnyt2", mac, a.Next())}},
		"address twice":    {Ports: []firewall.Port{port("bnyt1", mac, a), port("bnyt2", mustMAC("52:54:00:00:00:0b"), a)}},
		"trusted and port": {Trusted: []string{"bnyt1"}, Ports: []firewall.Port{port("bnyt1", mac, a)}},
		"bad trusted":      {Trusted: []string{"bnyvx0", ""}},
		"long trusted":     {Trusted: []string{"bnyvx0123456789a"}},
		"bad prefix":       {TapPrefix: "bny:"},
		"prefix too long":  {TapPrefix: "bnyt0123456789ab"},
	} {
		if _, err := firewall.RenderGuard(g); err == nil {
			t.Errorf("%s: rendered", name)
		} else if !strings.HasPrefix(err.Error(), "firewall: guard: ") {
			t.Errorf("%s: %v", name, err)
		}
		// ApplyGuard validates before it talks to the kernel (a nil Conn is never used).
		if err := firewall.ApplyGuard(nil, g); err == nil {
			t.Errorf("%s: applied", name)
		}
	}
}

// guest is a namespace with one interface, eth0, plugged into the box's bridge by port.
type guest struct {
	name string
	ns   netns.NsHandle
	h    *netlink.Handle
	port string
	mac  net.HardwareAddr
	addr netip.Addr
}

func (g *guest) eth0(t *testing.T) netlink.Link {
	t.Helper()
	l, err := g.h.LinkByName("eth0")
	if err != nil {
		t.Fatal(err)
	}
	return l
}

var (
	routerAddr = netip.MustParseAddr("172.31.0.1")
	routerMAC  = mustMAC("0a:58:ac:1f:00:01")
)

// setAddr gives the guest's eth0 the one IPv4 address a (in 172.31.0.0/20), and a
// permanent neighbour entry for the router, so that what the guest sends to the router
// needs no ARP and is plain IPv4 with the source address a.
func (g *guest) setAddr(t *testing.T, a netip.Addr) {
	t.Helper()
	l := g.eth0(t)
	old, err := g.h.AddrList(l, netlink.FAMILY_V4)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range old {
		if err := g.h.AddrDel(l, &o); err != nil {
			t.Fatal(err)
		}
	}
	na, _ := netlink.ParseAddr(a.String() + "/20")
	if err := g.h.AddrAdd(l, na); err != nil {
		t.Fatal(err)
	}
	g.pinRouter(t)
}

// pinRouter gives the guest a permanent neighbour entry for the router.
func (g *guest) pinRouter(t *testing.T) {
	t.Helper()
	l := g.eth0(t)
	if err := g.h.NeighSet(&netlink.Neigh{LinkIndex: l.Attrs().Index, Family: netlink.FAMILY_V4, State: netlink.NUD_PERMANENT,
		IP: routerAddr.AsSlice(), HardwareAddr: routerMAC}); err != nil {
		t.Fatal(err)
	}
}

// setMAC gives the guest's eth0 the MAC m. The kernel forgets the device's neighbour
// entries then, permanent ones too: the router's is pinned again, so that the guest's
// next frame to it is IPv4 from m, not an ARP request.
func (g *guest) setMAC(t *testing.T, m net.HardwareAddr) {
	t.Helper()
	if err := g.h.LinkSetHardwareAddr(g.eth0(t), m); err != nil {
		t.Fatal(err)
	}
	g.pinRouter(t)
}

// sendUDP sends one datagram from ns to addr with Go's sockets (the source address is
// whatever the namespace's stack picks).
func sendUDP(ns netns.NsHandle, addr, payload string) error {
	return nstest.InNS(ns, func() error {
		c, err := net.Dial("udp4", addr)
		if err != nil {
			return err
		}
		defer c.Close()
		_, err = c.Write([]byte(payload))
		return err
	})
}

// sink is a UDP socket that keeps what it receives.
type sink struct{ got chan datagram }

type datagram struct {
	from netip.AddrPort
	data string
}

func udpSink(t *testing.T, ns netns.NsHandle, addr string) *sink {
	t.Helper()
	var pc net.PacketConn
	if err := nstest.InNS(ns, func() (err error) { pc, err = net.ListenPacket("udp4", addr); return err }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	s := &sink{got: make(chan datagram, 256)}
	go func() {
		b := make([]byte, 2048)
		for {
			n, from, err := pc.ReadFrom(b)
			if err != nil {
				return
			}
			select {
			case s.got <- datagram{from.(*net.UDPAddr).AddrPort(), string(b[:n])}:
			default:
			}
		}
	}()
	return s
}

// from waits up to wait for a datagram holding data and tells where it came from.
func (s *sink) from(data string, wait time.Duration) (netip.AddrPort, bool) {
	timeout := time.After(wait)
	for {
		select {
		case d := <-s.got:
			if d.data == data {
				return d.from, true
			}
		case <-timeout:
			return netip.AddrPort{}, false
		}
	}
}

// rawSend sends one whole Ethernet frame out of the guest's eth0 (AF_PACKET).
func rawSend(t *testing.T, g *guest, frame []byte) {
	t.Helper()
	index := g.eth0(t).Attrs().Index
	if err := nstest.InNS(g.ns, func() error {
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		return unix.Sendto(fd, frame, 0, &unix.SockaddrLinklayer{Ifindex: index, Halen: 6})
	}); err != nil {
		t.Fatalf("raw send from %s: %v", g.name, err)
	}
}

// capture is an AF_PACKET socket on a guest's eth0 that sees every frame it receives.
type capture struct{ fd int }

func captureOn(t *testing.T, g *guest) *capture {
	t.Helper()
	index := g.eth0(t).Attrs().Index
	c := &capture{fd: -1}
	if err := nstest.InNS(g.ns, func() error {
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, int(htons(unix.ETH_P_ALL)))
		if err != nil {
			return err
		}
		c.fd = fd
		tv := unix.NsecToTimeval((50 * time.Millisecond).Nanoseconds())
		if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
			return err
		}
		return unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: index})
	}); err != nil {
		t.Fatalf("capture on %s: %v", g.name, err)
	}
	t.Cleanup(func() { unix.Close(c.fd) })
	return c
}

// saw waits up to wait for a received frame that match accepts.
func (c *capture) saw(match func([]byte) bool, wait time.Duration) bool {
	b := make([]byte, 9000)
	for deadline := time.Now().Add(wait); time.Now().Before(deadline); {
		n, from, err := unix.Recvfrom(c.fd, b, 0)
		if err != nil {
			continue
		}
		if ll, ok := from.(*unix.SockaddrLinklayer); ok && ll.Pkttype == unix.PACKET_OUTGOING {
			continue
		}
		if match(b[:n]) {
			return true
		}
	}
	return false
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

var broadcast = net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

func etherFrame(dst, src net.HardwareAddr, typ uint16, payload []byte) []byte {
	b := append(append(append([]byte{}, dst...), src...), byte(typ>>8), byte(typ))
	return append(b, payload...)
}

// ipv4UDP is an IPv4 header (with its checksum) and a UDP datagram (no checksum).
func ipv4UDP(src, dst netip.Addr, sport, dport uint16, payload []byte) []byte {
	b := make([]byte, 28, 28+len(payload))
	b[0], b[8], b[9] = 0x45, 64, unix.IPPROTO_UDP
	binary.BigEndian.PutUint16(b[2:], uint16(28+len(payload)))
	s, d := src.As4(), dst.As4()
	copy(b[12:16], s[:])
	copy(b[16:20], d[:])
	var sum uint32
	for i := 0; i < 20; i += 2 {
		sum += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	binary.BigEndian.PutUint16(b[10:], ^uint16(sum))
	binary.BigEndian.PutUint16(b[20:], sport)
	binary.BigEndian.PutUint16(b[22:], dport)
	binary.BigEndian.PutUint16(b[24:], uint16(8+len(payload)))
	return append(b, payload...)
}

// arpPacket is an ARP packet for IPv4 over Ethernet (op 1 request, 2 reply) with the
// given sender and target; nat.Announce sends only gratuitous requests, so the forged
// replies are built here.
func arpPacket(op uint16, sha net.HardwareAddr, spa netip.Addr, tha net.HardwareAddr, tpa netip.Addr) []byte {
	b := []byte{0, 1, 0x08, 0x00, 6, 4, byte(op >> 8), byte(op)}
	s, d := spa.As4(), tpa.As4()
	b = append(append(b, sha...), s[:]...)
	return append(append(b, tha...), d[:]...)
}

// arpIs matches a received ARP frame by its opcode and sender.
func arpIs(op uint16, sha net.HardwareAddr, spa netip.Addr) func([]byte) bool {
	return func(f []byte) bool {
		if len(f) < 42 || binary.BigEndian.Uint16(f[12:]) != unix.ETH_P_ARP {
			return false
		}
		s := spa.As4()
		return binary.BigEndian.Uint16(f[20:]) == op && bytes.Equal(f[22:28], sha) && bytes.Equal(f[28:32], s[:])
	}
}

func holds(token string) func([]byte) bool {
	return func(f []byte) bool { return bytes.Contains(f, []byte(token)) }
}

var tokens atomic.Int64

func token(what string) string { return fmt.Sprintf("guard-probe-%d-%s", tokens.Add(1), what) }

// probe is a piece of traffic: got reports whether it got through, waiting up to wait.
type probe struct {
	name string
	got  func(wait time.Duration) bool
}

// guardWorld is the box and its guests.
type guardWorld struct {
	box            netns.NsHandle
	g1, g2, g3, gv *guest
	conn           *nftables.Conn
	udp, dhcp      *sink
	cap2           *capture
}

func newGuardWorld(t *testing.T) *guardWorld {
	t.Helper()
	w := &guardWorld{}
	var bh *netlink.Handle
	w.box, bh = nstest.NewNS(t)
	if err := bh.LinkAdd(&netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: "br0", HardwareAddr: routerMAC}}); err != nil {
		t.Fatalf("bridge: %v", err)
	}
	br := nstest.Up(t, bh, "br0", routerAddr.String()+"/20")
	mk := func(name, port, mac, addr string) *guest {
		g := &guest{name: name, port: port, mac: mustMAC(mac), addr: netip.MustParseAddr(addr)}
		g.ns, g.h = nstest.NewNS(t)
		if err := bh.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: port, MasterIndex: br.Attrs().Index}, PeerName: "eth0",
			PeerNamespace: netlink.NsFd(int(g.ns))}); err != nil {
			t.Fatalf("veth: %v", err)
		}
		nstest.Up(t, bh, port, "")
		if err := g.h.LinkSetHardwareAddr(g.eth0(t), g.mac); err != nil {
			t.Fatal(err)
		}
		nstest.Up(t, g.h, "eth0", "")
		g.setAddr(t, g.addr)
		return g
	}
	w.g1 = mk("g1", "bnyt1", "02:00:00:00:00:05", "172.31.0.5")
	w.g2 = mk("g2", "bnyt2", "02:00:00:00:00:06", "172.31.0.6")
	w.g3 = mk("g3", "bnyt3", "02:00:00:00:00:07", "172.31.0.7")
	w.gv = mk("gv", "bnyvx0", "02:00:00:00:00:0a", "172.31.0.10")
	var err error
	if w.conn, err = nftables.New(nftables.WithNetNSFd(int(w.box))); err != nil {
		t.Fatal(err)
	}
	nstest.Whoami(t, w.g2.ns, "172.31.0.6:8080")
	nstest.Whoami(t, w.box, "172.31.0.1:8080")
	w.udp = udpSink(t, w.box, "0.0.0.0:9000")
	w.dhcp = udpSink(t, w.box, "0.0.0.0:67")
	w.cap2 = captureOn(t, w.g2)
	nstest.Until(t, "g1 reaches g2", func() bool { return nstest.SeenAs(w.g1.ns, "172.31.0.6:8080") != "" })
	nstest.Until(t, "g2 reaches the box", func() bool { return nstest.SeenAs(w.g2.ns, "172.31.0.1:8080") != "" })
	return w
}

// udpFrom sends a datagram from g, as it is now, to the box and reports whether the box
// got it from src.
func (w *guardWorld) udpFrom(t *testing.T, g *guest, src netip.Addr, wait time.Duration) bool {
	t.Helper()
	tok := token(g.name + "-udp")
	if err := sendUDP(g.ns, "172.31.0.1:9000", tok); err != nil {
		t.Fatalf("send from %s: %v", g.name, err)
	}
	from, ok := w.udp.from(tok, wait)
	return ok && from.Addr() == src
}

// as runs f with g's eth0 given the address a (its own back after).
func (g *guest) as(t *testing.T, a netip.Addr, f func() bool) bool {
	t.Helper()
	g.setAddr(t, a)
	defer g.setAddr(t, g.addr)
	return f()
}

// withMAC runs f with g's eth0 given the MAC m (its own back after).
func (g *guest) withMAC(t *testing.T, m net.HardwareAddr, f func() bool) bool {
	t.Helper()
	g.setMAC(t, m)
	defer g.setMAC(t, g.mac)
	return f()
}

// probes are the traffic the guard is tested with, and whether it should pass it.
func (w *guardWorld) probes(t *testing.T) (good, bad []probe) {
	g1, g2, g3, gv := w.g1, w.g2, w.g3, w.gv
	unassigned := netip.MustParseAddr("172.31.0.99")
	nobodys := mustMAC("02:00:00:00:00:99")
	good = []probe{
		{"g1 to g2 over TCP", func(time.Duration) bool { return nstest.SeenAs(g1.ns, "172.31.0.6:8080") == "172.31.0.5" }},
		{"g2 to the box over TCP", func(time.Duration) bool { return nstest.SeenAs(g2.ns, "172.31.0.1:8080") == "172.31.0.6" }},
		{"g1 to the box over UDP from its address", func(d time.Duration) bool { return w.udpFrom(t, g1, g1.addr, d) }},
		{"g1's ARP reply as itself", func(d time.Duration) bool {
			rawSend(t, g1, etherFrame(g2.mac, g1.mac, unix.ETH_P_ARP, arpPacket(2, g1.mac, g1.addr, g2.mac, g2.addr)))
			return w.cap2.saw(arpIs(2, g1.mac, g1.addr), d)
		}},
		{"g1's ARP probe from 0.0.0.0", func(d time.Duration) bool {
			rawSend(t, g1, etherFrame(broadcast, g1.mac, unix.ETH_P_ARP, arpPacket(1, g1.mac, netip.IPv4Unspecified(), make(net.HardwareAddr, 6), g1.addr)))
			return w.cap2.saw(arpIs(1, g1.mac, netip.IPv4Unspecified()), d)
		}},
		{"g1's DHCP discover from 0.0.0.0", func(d time.Duration) bool {
			m, err := dhcpv4.NewDiscovery(g1.mac)
			if err != nil {
				t.Fatal(err)
			}
			payload := m.ToBytes()
			rawSend(t, g1, etherFrame(broadcast, g1.mac, unix.ETH_P_IP,
				ipv4UDP(netip.IPv4Unspecified(), netip.MustParseAddr("255.255.255.255"), 68, 67, payload)))
			from, ok := w.dhcp.from(string(payload), d)
			return ok && from == netip.MustParseAddrPort("0.0.0.0:68")
		}},
		{"gv on the trusted port, whose MAC and address the guard does not know", func(d time.Duration) bool { return w.udpFrom(t, gv, gv.addr, d) }},
	}
	bad = []probe{
		{"g1 as g2's address (UDP to the box)", func(d time.Duration) bool {
			return g1.as(t, g2.addr, func() bool { return w.udpFrom(t, g1, g2.addr, d) })
		}},
		{"g1 as an unassigned address (UDP to the box)", func(d time.Duration) bool {
			return g1.as(t, unassigned, func() bool { return w.udpFrom(t, g1, unassigned, d) })
		}},
		{"g1 as an unassigned address (TCP to g2)", func(d time.Duration) bool {
			return g1.as(t, unassigned, func() bool { return nstest.SeenAs(g1.ns, "172.31.0.6:8080") == unassigned.String() })
		}},
		{"g1 with a MAC nobody was given", func(d time.Duration) bool {
			return g1.withMAC(t, nobodys, func() bool { return w.udpFrom(t, g1, g1.addr, d) })
		}},
		{"g1 with g2's MAC and g2's address", func(d time.Duration) bool {
			got := g1.withMAC(t, g2.mac, func() bool {
				return g1.as(t, g2.addr, func() bool { return w.udpFrom(t, g1, g2.addr, d) })
			})
			// Before the guard the bridge learnt g2's MAC behind g1's port: g2 takes it back.
			if err := nstest.InNS(g2.ns, func() error { return nat.Announce("eth0", g2.addr) }); err != nil {
				t.Fatal(err)
			}
			return got
		}},
		{"g1's forged ARP reply: the router is at g1's MAC", func(d time.Duration) bool {
			rawSend(t, g1, etherFrame(g2.mac, g1.mac, unix.ETH_P_ARP, arpPacket(2, g1.mac, routerAddr, g2.mac, g2.addr)))
			return w.cap2.saw(arpIs(2, g1.mac, routerAddr), d)
		}},
		{"g1's forged ARP reply: its address is at another MAC", func(d time.Duration) bool {
			rawSend(t, g1, etherFrame(g2.mac, g1.mac, unix.ETH_P_ARP, arpPacket(2, nobodys, g1.addr, g2.mac, g2.addr)))
			return w.cap2.saw(arpIs(2, nobodys, g1.addr), d)
		}},
		{"g1's gratuitous ARP for g2's address (nat.Announce)", func(d time.Duration) bool {
			if err := nstest.InNS(g1.ns, func() error { return nat.Announce("eth0", g2.addr) }); err != nil {
				t.Fatal(err)
			}
			return w.cap2.saw(arpIs(1, g1.mac, g2.addr), d)
		}},
		{"UDP from 0.0.0.0 that is not DHCP", func(d time.Duration) bool {
			tok := token("zero-source")
			rawSend(t, g1, etherFrame(broadcast, g1.mac, unix.ETH_P_IP,
				ipv4UDP(netip.IPv4Unspecified(), netip.MustParseAddr("255.255.255.255"), 68, 9000, []byte(tok))))
			_, ok := w.udp.from(tok, d)
			return ok
		}},
		{"an IPv6 frame", func(d time.Duration) bool {
			tok := token("ipv6")
			hdr := make([]byte, 40)
			hdr[0], hdr[6], hdr[7] = 0x60, unix.IPPROTO_UDP, 64
			// A true payload length: the box's bridge netfilter trims the frame to it.
			binary.BigEndian.PutUint16(hdr[4:], uint16(len(tok)))
			copy(hdr[8:], netip.MustParseAddr("fe80::5").AsSlice())
			copy(hdr[24:], netip.MustParseAddr("fe80::6").AsSlice())
			rawSend(t, g1, etherFrame(g2.mac, g1.mac, unix.ETH_P_IPV6, append(hdr, tok...)))
			return w.cap2.saw(holds(tok), d)
		}},
		{"a VLAN-tagged IPv4 frame from g1's own address", func(d time.Duration) bool {
			tok := token("vlan")
			tag := []byte{0, 5, 0x08, 0x00}
			rawSend(t, g1, etherFrame(g2.mac, g1.mac, unix.ETH_P_8021Q, append(tag, ipv4UDP(g1.addr, g2.addr, 4000, 4000, []byte(tok))...)))
			return w.cap2.saw(holds(tok), d)
		}},
		{"a frame of another ethertype (0x88b5)", func(d time.Duration) bool {
			tok := token("ethertype")
			rawSend(t, g1, etherFrame(g2.mac, g1.mac, 0x88b5, []byte(tok)))
			return w.cap2.saw(holds(tok), d)
		}},
		{"g1 as g2's address to the box, in a frame to a link-local group MAC", func(d time.Duration) bool {
			// The bridge never forwards 01:80:c2:00:00:0X: it hands it to the box's own
			// stack by the bridge input hook, not prerouting.
			tok := token("link-local")
			rawSend(t, g1, etherFrame(mustMAC("01:80:c2:00:00:03"), g1.mac, unix.ETH_P_IP,
				ipv4UDP(g2.addr, routerAddr, 4000, 9000, []byte(tok))))
			from, ok := w.udp.from(tok, d)
			return ok && from.Addr() == g2.addr
		}},
		{"g3, on a tap the guard was not told of", func(d time.Duration) bool { return w.udpFrom(t, g3, g3.addr, d) }},
	}
	return good, bad
}

const (
	passWait  = 2 * time.Second        // what should pass does at once; this is slack
	blockWait = 300 * time.Millisecond // what should not pass is given this long
)

func (w *guardWorld) guard() *firewall.Guard {
	port := func(g *guest) firewall.Port { return firewall.Port{Iface: g.port, MAC: g.mac, Addr: g.addr} }
	return &firewall.Guard{TapPrefix: "bny", Trusted: []string{"bnyvx0"}, Ports: []firewall.Port{port(w.g1), port(w.g2)}}
}

func TestGuardInNamespaces(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: builds network namespaces, veth pairs and a bridge")
	}
	w := newGuardWorld(t)
	good, bad := w.probes(t)

	// Without the guard everything gets through: the probes do see what they look for.
	for _, p := range append(append([]probe{}, good...), bad...) {
		if !p.got(passWait) {
			t.Errorf("before the guard: %s did not get through", p.name)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	// That round poisoned what it could (g1's gratuitous ARP moved the box's entry for
	// g2's address to g1's MAC): every guest announces itself again, as after a boot.
	for _, g := range []*guest{w.g1, w.g2, w.g3, w.gv} {
		if err := nstest.InNS(g.ns, func() error { return nat.Announce("eth0", g.addr) }); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	if err := firewall.ApplyGuard(w.conn, w.guard()); err != nil {
		t.Fatal(err)
	}
	t.Logf("ApplyGuard took %v", time.Since(start))
	for _, p := range good {
		if !p.got(passWait) {
			t.Errorf("guarded: %s was blocked", p.name)
		}
	}
	for _, p := range bad {
		if p.got(blockWait) {
			t.Errorf("guarded: %s got through", p.name)
		}
	}
	// Applying again replaces the table: still one, still guarding.
	if err := firewall.ApplyGuard(w.conn, w.guard()); err != nil {
		t.Fatal(err)
	}
	tables, err := w.conn.ListTablesOfFamily(nftables.TableFamilyBridge)
	if err != nil || len(tables) != 1 || tables[0].Name != firewall.GuardTableName {
		t.Errorf("bridge tables %v %v", tables, err)
	}
}

func TestGuardReapplyAndRemove(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: builds network namespaces, veth pairs and a bridge")
	}
	w := newGuardWorld(t)
	g1, g2, g3 := w.g1, w.g2, w.g3
	nine := netip.MustParseAddr("172.31.0.9")
	unassigned := netip.MustParseAddr("172.31.0.99")
	g1AsNine := func(d time.Duration) bool { return g1.as(t, nine, func() bool { return w.udpFrom(t, g1, nine, d) }) }
	g1AsUnassigned := func(d time.Duration) bool {
		return g1.as(t, unassigned, func() bool { return w.udpFrom(t, g1, unassigned, d) })
	}
	g2ToBox := func(time.Duration) bool { return nstest.SeenAs(g2.ns, "172.31.0.1:8080") == "172.31.0.6" }
	check := func(when string, want bool, name string, got func(time.Duration) bool) {
		t.Helper()
		wait := blockWait
		if want {
			wait = passWait
		}
		if got(wait) != want {
			t.Errorf("%s: %s: got through %v, want %v", when, name, !want, want)
		}
	}
	// Before any guard: g1 at .9 and g2 get through (the checks below can fail).
	check("no guard", true, "g1 as 172.31.0.9", g1AsNine)
	check("no guard", true, "g2 to the box", g2ToBox)

	if err := firewall.ApplyGuard(w.conn, w.guard()); err != nil {
		t.Fatal(err)
	}
	check("first guard", false, "g1 as 172.31.0.9", g1AsNine)
	check("first guard", false, "g3", func(d time.Duration) bool { return w.udpFrom(t, g3, g3.addr, d) })
	check("first guard", true, "g2 to the box", g2ToBox)

	// g1 is given 172.31.0.9, g3 comes, g2 goes: all three take effect in one apply.
	second := &firewall.Guard{TapPrefix: "bny", Trusted: []string{"bnyvx0"}, Ports: []firewall.Port{
		{Iface: g1.port, MAC: g1.mac, Addr: nine},
		{Iface: g3.port, MAC: g3.mac, Addr: g3.addr},
	}}
	if err := firewall.ApplyGuard(w.conn, second); err != nil {
		t.Fatal(err)
	}
	check("second guard", true, "g1 as 172.31.0.9", g1AsNine)
	check("second guard", false, "g1 at its old address 172.31.0.5", func(d time.Duration) bool { return w.udpFrom(t, g1, g1.addr, d) })
	check("second guard", true, "g3", func(d time.Duration) bool { return w.udpFrom(t, g3, g3.addr, d) })
	check("second guard", false, "g2 to the box (no longer a port)", g2ToBox)

	// A guard that does not validate changes nothing: the second one stays.
	if err := firewall.ApplyGuard(w.conn, &firewall.Guard{Ports: []firewall.Port{{Iface: "bnyt1", MAC: net.HardwareAddr{1}, Addr: nine}}}); err == nil {
		t.Error("an invalid guard was applied")
	}
	check("after a refused guard", true, "g3", func(d time.Duration) bool { return w.udpFrom(t, g3, g3.addr, d) })
	check("after a refused guard", false, "g2 to the box", g2ToBox)

	// Without TapPrefix only Ports are guarded: g2 and g3, not among them, pass; g1
	// still gets nothing through from another address (its chain ends in a drop).
	third := &firewall.Guard{Ports: []firewall.Port{{Iface: g1.port, MAC: g1.mac, Addr: nine}}}
	if err := firewall.ApplyGuard(w.conn, third); err != nil {
		t.Fatal(err)
	}
	check("guard without a prefix", true, "g2 to the box", g2ToBox)
	check("guard without a prefix", true, "g3", func(d time.Duration) bool { return w.udpFrom(t, g3, g3.addr, d) })
	check("guard without a prefix", true, "g1 as 172.31.0.9", g1AsNine)
	check("guard without a prefix", false, "g1 as an unassigned address", g1AsUnassigned)

	// Remove leaves no bridge table and nothing filtered; removing again is no error.
	if err := firewall.RemoveGuard(w.conn); err != nil {
		t.Fatal(err)
	}
	if tables, err := w.conn.ListTablesOfFamily(nftables.TableFamilyBridge); err != nil || len(tables) != 0 {
		t.Errorf("bridge tables after RemoveGuard: %v %v", tables, err)
	}
	check("removed", true, "g2 to the box", g2ToBox)
	check("removed", true, "g1 as an unassigned address", g1AsUnassigned)
	if err := firewall.RemoveGuard(w.conn); err != nil {
		t.Errorf("removing an absent guard: %v", err)
	}
}
