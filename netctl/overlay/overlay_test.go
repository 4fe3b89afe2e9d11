package overlay_test

// Two boxes and a guest on each, out of unnamed network namespaces of the test's own:
//
//	[guest1] eth0 172.31.0.5 == p1 br0 (172.31.0.1, router MAC) [boxA] uA 10.88.0.1 == uB 10.88.0.2 [boxB] br0 == p2 == eth0 172.31.0.6 [guest2]
//
// Both bridges hold the same router address and MAC, as the zone's boxes do.

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

func TestOverlayJoinsTwoBoxes(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: builds network namespaces, veth pairs, bridges and VXLAN devices")
	}
	_, ah := nstest.NewNS(t)
	boxB, bh := nstest.NewNS(t)
	g1, g1h := nstest.NewNS(t)
	g2, g2h := nstest.NewNS(t)
	if err := ah.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "uA"}, PeerName: "uB", PeerNamespace: netlink.NsFd(int(boxB))}); err != nil {
		t.Fatalf("veth: %v", err)
	}
	nstest.Up(t, ah, "uA", "10.88.0.1/24")
	nstest.Up(t, bh, "uB", "10.88.0.2/24")
	router := netip.MustParseAddr("172.31.0.1")
	macs := map[string]net.HardwareAddr{"g1": {2, 0, 0, 0, 0, 5}, "g2": {2, 0, 0, 0, 0, 6}}
	for _, b := range []struct {
		h     *netlink.Handle
		guest netns.NsHandle
		port  string
		mac   net.HardwareAddr
	}{{ah, g1, "p1", macs["g1"]}, {bh, g2, "p2", macs["g2"]}} {
		if err := b.h.LinkAdd(&netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: "br0", HardwareAddr: netctl.RouterMAC(router)}}); err != nil {
			t.Fatalf("bridge: %v", err)
		}
		br := nstest.Up(t, b.h, "br0", "172.31.0.1/20")
		if err := b.h.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: b.port, MasterIndex: br.Attrs().Index}, PeerName: "eth0",
			PeerNamespace: netlink.NsFd(int(b.guest))}); err != nil {
			t.Fatalf("veth: %v", err)
		}
		nstest.Up(t, b.h, b.port, "")
	}
	for _, g := range []struct {
		h    *netlink.Handle
		addr string
		mac  net.HardwareAddr
	}{{g1h, "172.31.0.5/20", macs["g1"]}, {g2h, "172.31.0.6/20", macs["g2"]}} {
		l, _ := g.h.LinkByName("eth0")
		if err := g.h.LinkSetHardwareAddr(l, g.mac); err != nil {
			t.Fatal(err)
		}
		if err := g.h.LinkSetMTU(l, 1500-overlay.Overhead); err != nil {
			t.Fatal(err)
		}
		nstest.Up(t, g.h, "eth0", g.addr)
	}
	nstest.Whoami(t, g2, "172.31.0.6:8080")
	if got := nstest.SeenAs(g1, "172.31.0.6:8080"); got != "" {
		t.Fatalf("guest2 answered across boxes before any overlay (as %q)", got)
	}

	devA := overlay.Device{Local: netip.MustParseAddr("10.88.0.1"), Bridge: "br0"}
	devB := overlay.Device{Local: netip.MustParseAddr("10.88.0.2"), Bridge: "br0"}
	for _, d := range []struct {
		h   *netlink.Handle
		dev overlay.Device
	}{{ah, devA}, {bh, devB}} {
		did, err := overlay.Ensure(d.h, d.dev)
		if err != nil || len(did) == 0 {
			t.Fatalf("Ensure: %v %v", did, err)
		}
		if did, err := overlay.Ensure(d.h, d.dev); err != nil || len(did) != 0 {
			t.Fatalf("Ensure again changed %v (%v)", did, err)
		}
	}
	// Only the device: nothing is learned or flooded, so still no way through.
	if got := nstest.SeenAs(g1, "172.31.0.6:8080"); got != "" {
		t.Fatalf("guest2 answered with no peers programmed (as %q)", got)
	}
	peerOf := func(g, ip, box string) overlay.Peer {
		return overlay.Peer{MAC: macs[g], IP: netip.MustParseAddr(ip), Box: netip.MustParseAddr(box)}
	}
	sync := func(h *netlink.Handle, d overlay.Device, peers ...overlay.Peer) (int, int) {
		t.Helper()
		a, r, err := overlay.Sync(h, d, peers)
		if err != nil {
			t.Fatal(err)
		}
		return a, r
	}
	sync(ah, devA, peerOf("g2", "172.31.0.6", "10.88.0.2"))
	sync(bh, devB, peerOf("g1", "172.31.0.5", "10.88.0.1"))
	nstest.Until(t, "guest1 reaches guest2 on its private address", func() bool { return nstest.SeenAs(g1, "172.31.0.6:8080") == "172.31.0.5" })
	if a, r := sync(ah, devA, peerOf("g2", "172.31.0.6", "10.88.0.2")); a != 0 || r != 0 {
		t.Fatalf("a second Sync with the same peers added %d and removed %d entries", a, r)
	}
	// guest2 leaves box B (its entries on box A go): unreachable again.
	if _, r := sync(ah, devA); r == 0 {
		t.Fatal("removing the peer removed nothing")
	}
	nstest.Until(t, "guest2 unreachable once its entries are gone", func() bool { return nstest.SeenAs(g1, "172.31.0.6:8080") == "" })
}
