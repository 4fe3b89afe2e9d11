package overlay_test

// Two boxes and a guest on each, out of unnamed network namespaces of the test's own:
//
//	[guest1] eth0 172.31.0.5 == p1 br0 (172.31.0.1, router MAC) [boxA] uA 10.88.0.1 == uB 10.88.0.2 [boxB] br0 == p2 == eth0 172.31.0.6 [guest2]

import (
	"net"
	"net/netip"
	"os"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/banyancloud/banyan/netctl"
	"github.com/banyancloud/banyan/netctl/internal/nstest"
	"github.com/banyancloud/banyan/netctl/overlay"
)

// twoBoxes builds the picture above with guest1 at g1addr behind router r1 and guest2 at
// g2addr behind r2 (CIDRs), each bridge holding its router address and that address's
// router MAC; the guests' default routes point at their routers.
type twoBoxes struct {
	ah, bh         *netlink.Handle
	boxA, boxB     netns.NsHandle
	g1, g2         netns.NsHandle
	macs           map[string]net.HardwareAddr
	devA, devB     overlay.Device
	g1addr, g2addr netip.Prefix
}

func newTwoBoxes(t *testing.T, r1, g1addr, r2, g2addr string) *twoBoxes {
	t.Helper()
	tb := &twoBoxes{macs: map[string]net.HardwareAddr{"g1": {2, 0, 0, 0, 0, 5}, "g2": {2, 0, 0, 0, 0, 6}},
		g1addr: netip.MustParsePrefix(g1addr), g2addr: netip.MustParsePrefix(g2addr)}
	tb.boxA, tb.ah = nstest.NewNS(t)
	tb.boxB, tb.bh = nstest.NewNS(t)
	var g1h, g2h *netlink.Handle
	tb.g1, g1h = nstest.NewNS(t)
	tb.g2, g2h = nstest.NewNS(t)
	if err := tb.ah.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "uA"}, PeerName: "uB", PeerNamespace: netlink.NsFd(int(tb.boxB))}); err != nil {
		t.Fatalf("veth: %v", err)
	}
	nstest.Up(t, tb.ah, "uA", "10.88.0.1/24")
	nstest.Up(t, tb.bh, "uB", "10.88.0.2/24")
	for _, b := range []struct {
		h      *netlink.Handle
		guest  netns.NsHandle
		port   string
		router string
	}{{tb.ah, tb.g1, "p1", r1}, {tb.bh, tb.g2, "p2", r2}} {
		router := netip.MustParsePrefix(b.router)
		if err := b.h.LinkAdd(&netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: "br0", HardwareAddr: netctl.RouterMAC(router.Addr())}}); err != nil {
			t.Fatalf("bridge: %v", err)
		}
		br := nstest.Up(t, b.h, "br0", b.router)
		if err := b.h.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: b.port, MasterIndex: br.Attrs().Index}, PeerName: "eth0",
			PeerNamespace: netlink.NsFd(int(b.guest))}); err != nil {
			t.Fatalf("veth: %v", err)
		}
		nstest.Up(t, b.h, b.port, "")
	}
	for _, g := range []struct {
		h        *netlink.Handle
		addr, gw string
		mac      net.HardwareAddr
	}{{g1h, g1addr, r1, tb.macs["g1"]}, {g2h, g2addr, r2, tb.macs["g2"]}} {
		l, _ := g.h.LinkByName("eth0")
		if err := g.h.LinkSetHardwareAddr(l, g.mac); err != nil {
			t.Fatal(err)
		}
		if err := g.h.LinkSetMTU(l, 1500-overlay.Overhead); err != nil {
			t.Fatal(err)
		}
		nstest.Up(t, g.h, "eth0", g.addr)
		nstest.DefaultRoute(t, g.h, "eth0", netip.MustParsePrefix(g.gw).Addr().String())
	}
	tb.devA = overlay.Device{Local: netip.MustParseAddr("10.88.0.1"), Bridge: "br0"}
	tb.devB = overlay.Device{Local: netip.MustParseAddr("10.88.0.2"), Bridge: "br0"}
	return tb
}

func (tb *twoBoxes) peer(g, box string) overlay.Peer {
	a := tb.g1addr
	if g == "g2" {
		a = tb.g2addr
	}
	return overlay.Peer{MAC: tb.macs[g], IP: a.Addr(), Box: netip.MustParseAddr(box)}
}

func ensure(t *testing.T, h *netlink.Handle, d overlay.Device) {
	t.Helper()
	did, err := overlay.Ensure(h, d)
	if err != nil || len(did) == 0 {
		t.Fatalf("Ensure: %v %v", did, err)
	}
	if did, err := overlay.Ensure(h, d); err != nil || len(did) != 0 {
		t.Fatalf("Ensure again changed %v (%v)", did, err)
	}
}

func sync(t *testing.T, h *netlink.Handle, d overlay.Device, peers ...overlay.Peer) (int, int) {
	t.Helper()
	a, r, err := overlay.Sync(h, d, peers)
	if err != nil {
		t.Fatal(err)
	}
	return a, r
}

func TestOverlayJoinsTwoBoxes(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: builds network namespaces, veth pairs, bridges and VXLAN devices")
	}
	// Both bridges hold the same router address and MAC, as the zone's boxes do.
	tb := newTwoBoxes(t, "172.31.0.1/20", "172.31.0.5/20", "172.31.0.1/20", "172.31.0.6/20")
	nstest.Whoami(t, tb.g2, "172.31.0.6:8080")
	if got := nstest.SeenAs(tb.g1, "172.31.0.6:8080"); got != "" {
		t.Fatalf("guest2 answered across boxes before any overlay (as %q)", got)
	}
	ensure(t, tb.ah, tb.devA)
	ensure(t, tb.bh, tb.devB)
	// Only the device: nothing is learned or flooded, so still no way through.
	if got := nstest.SeenAs(tb.g1, "172.31.0.6:8080"); got != "" {
		t.Fatalf("guest2 answered with no peers programmed (as %q)", got)
	}
	sync(t, tb.ah, tb.devA, tb.peer("g2", "10.88.0.2"))
	sync(t, tb.bh, tb.devB, tb.peer("g1", "10.88.0.1"))
	nstest.Until(t, "guest1 reaches guest2 on its private address", func() bool { return nstest.SeenAs(tb.g1, "172.31.0.6:8080") == "172.31.0.5" })
	if a, r := sync(t, tb.ah, tb.devA, tb.peer("g2", "10.88.0.2")); a != 0 || r != 0 {
		t.Fatalf("a second Sync with the same peers added %d and removed %d entries", a, r)
	}
	// guest2 leaves box B (its entries on box A go): unreachable again.
	if _, r := sync(t, tb.ah, tb.devA); r == 0 {
		t.Fatal("removing the peer removed nothing")
	}
	nstest.Until(t, "guest2 unreachable once its entries are gone", func() bool { return nstest.SeenAs(tb.g1, "172.31.0.6:8080") == "" })
}

// TestOverlayRoutesBetweenZones: two boxes of two zones, each its own subnet and router;
// with the instance block routed onto the bridges, a guest reaches the other zone's
// guest through its router, over the overlay, and is seen with its own address.
func TestOverlayRoutesBetweenZones(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: builds network namespaces, veth pairs, bridges and VXLAN devices")
	}
	tb := newTwoBoxes(t, "172.31.0.1/20", "172.31.0.5/20", "172.31.16.1/20", "172.31.16.6/20")
	for _, ns := range []netns.NsHandle{tb.boxA, tb.boxB} {
		if err := nstest.InNS(ns, func() error { return os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte("1\n"), 0o644) }); err != nil {
			t.Fatal(err)
		}
	}
	nstest.Whoami(t, tb.g2, "172.31.16.6:8080")
	// The zone's overlay alone, peers programmed: the other subnet is not routed there.
	ensure(t, tb.ah, tb.devA)
	ensure(t, tb.bh, tb.devB)
	sync(t, tb.ah, tb.devA, tb.peer("g2", "10.88.0.2"))
	sync(t, tb.bh, tb.devB, tb.peer("g1", "10.88.0.1"))
	if got := nstest.SeenAs(tb.g1, "172.31.16.6:8080"); got != "" {
		t.Fatalf("guest2 answered across zones without the instance block routed (as %q)", got)
	}
	tb.devA.Routed = netip.MustParsePrefix("172.31.0.0/16")
	tb.devB.Routed = tb.devA.Routed
	for _, b := range []struct {
		h   *netlink.Handle
		dev overlay.Device
	}{{tb.ah, tb.devA}, {tb.bh, tb.devB}} {
		if did, err := overlay.Ensure(b.h, b.dev); err != nil || len(did) != 1 {
			t.Fatalf("Ensure with the block routed: %v %v", did, err)
		}
		if did, err := overlay.Ensure(b.h, b.dev); err != nil || len(did) != 0 {
			t.Fatalf("Ensure again changed %v (%v)", did, err)
		}
	}
	nstest.Until(t, "guest1 reaches the other zone's guest2", func() bool { return nstest.SeenAs(tb.g1, "172.31.16.6:8080") == "172.31.0.5" })
}
