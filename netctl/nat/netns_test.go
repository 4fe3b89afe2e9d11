package nat_test

// This test builds a LAN, a box and two guests out of unnamed network namespaces of its
// own (they vanish with the test's handles), and programs the NAT in the box's namespace
// only: the host's namespace is never touched.
//
//	lan (lan0 10.77.0.254/24) == up0 10.77.0.1/24 [box] br0 172.31.0.1/20 == g1 172.31.0.5 [guest1]
//	                                                                    == g2 172.31.0.6 [guest2]

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/banyancloud/banyan/netctl"
	"github.com/banyancloud/banyan/netctl/internal/nstest"
	"github.com/banyancloud/banyan/netctl/nat"
)

func TestNATInNamespaces(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: builds network namespaces, veth pairs and a bridge")
	}
	lan, lh := nstest.NewNS(t)
	box, bh := nstest.NewNS(t)
	g1, g1h := nstest.NewNS(t)
	g2, g2h := nstest.NewNS(t)
	if err := bh.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "up0"}, PeerName: "lan0", PeerNamespace: netlink.NsFd(int(lan))}); err != nil {
		t.Fatalf("veth: %v", err)
	}
	if err := bh.LinkAdd(&netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: "br0"}}); err != nil {
		t.Fatalf("bridge: %v", err)
	}
	br := nstest.Up(t, bh, "br0", "172.31.0.1/20")
	for i, g := range []netns.NsHandle{g1, g2} {
		port := fmt.Sprintf("b%d", i+1)
		if err := bh.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: port, MasterIndex: br.Attrs().Index}, PeerName: "eth0", PeerNamespace: netlink.NsFd(int(g))}); err != nil {
			t.Fatalf("veth: %v", err)
		}
		nstest.Up(t, bh, port, "")
	}
	nstest.Up(t, lh, "lan0", "10.77.0.254/24")
	upLink := nstest.Up(t, bh, "up0", "10.77.0.1/24")
	nstest.Up(t, g1h, "eth0", "172.31.0.5/20")
	nstest.Up(t, g2h, "eth0", "172.31.0.6/20")
	nstest.DefaultRoute(t, bh, "up0", "10.77.0.254")
	nstest.DefaultRoute(t, g1h, "eth0", "172.31.0.1")
	nstest.DefaultRoute(t, g2h, "eth0", "172.31.0.1")

	nstest.Whoami(t, g1, "172.31.0.5:8080")
	nstest.Whoami(t, lan, "10.77.0.254:9090")
	nstest.Until(t, "the box reaches guest1", func() bool { return nstest.SeenAs(box, "172.31.0.5:8080") != "" })

	pub := netip.MustParseAddr("10.77.0.100")
	if got := nstest.SeenAs(lan, "10.77.0.100:8080"); got != "" {
		t.Fatalf("the public address answered before any NAT (as %q)", got)
	}

	uplink, err := nat.DefaultUplink(bh)
	if err != nil || uplink != "up0" {
		t.Fatalf("default uplink %q %v", uplink, err)
	}
	conn, err := nftables.New(nftables.WithNetNSFd(int(box)))
	if err != nil {
		t.Fatal(err)
	}
	ours := func(a netip.Addr) bool { return netip.MustParsePrefix("10.77.0.96/27").Contains(a) }
	program := func(ms ...nat.Mapping) {
		t.Helper()
		var want []netip.Addr
		for _, m := range ms {
			want = append(want, m.Public)
		}
		if _, _, err := nat.SyncAddresses(bh, uplink, want, ours, 0); err != nil {
			t.Fatal(err)
		}
		if err := nat.Apply(conn, &nat.Ruleset{Uplink: uplink, Bridge: "br0", Instances: netip.MustParsePrefix("172.31.0.0/16"), Mappings: ms}); err != nil {
			t.Fatal(err)
		}
	}
	// An address that is not the NAT's is never touched.
	other, _ := netlink.ParseAddr("10.77.0.50/32")
	if err := bh.AddrAdd(upLink, other); err != nil {
		t.Fatal(err)
	}
	if err := nstest.InNS(box, netctl.EnableForwarding); err != nil {
		t.Fatal(err)
	}
	program(nat.Mapping{Public: pub, Private: netip.MustParseAddr("172.31.0.5")})

	// In: the LAN reaches guest1 at the public address, and guest1 sees the LAN's address.
	var got string
	nstest.Until(t, "the LAN reaches guest1 at its public address", func() bool { got = nstest.SeenAs(lan, "10.77.0.100:8080"); return got != "" })
	if got != "10.77.0.254" {
		t.Errorf("guest1 saw the LAN as %q", got)
	}
	// Out: what guest1 starts leaves as the public address.
	if got := nstest.SeenAs(g1, "10.77.0.254:9090"); got != "10.77.0.100" {
		t.Errorf("the LAN saw guest1 as %q, want its public address", got)
	}
	// A guest without a public address is not SNATed to someone else's.
	if got := nstest.SeenAs(g2, "10.77.0.254:9090"); got == "10.77.0.100" {
		t.Errorf("guest2 left as guest1's public address")
	}
	// Hairpin: guest2 reaches guest1's public address through the box's router.
	if got := nstest.SeenAs(g2, "10.77.0.100:8080"); got != "172.31.0.1" {
		t.Errorf("hairpin: guest1 saw guest2 as %q, want the router 172.31.0.1", got)
	}
	// The box itself reaches it too.
	if got := nstest.SeenAs(box, "10.77.0.100:8080"); got == "" {
		t.Error("the box cannot reach the public address")
	}

	// A gratuitous ARP moves the LAN's neighbour entry to the box's MAC.
	lanLink, _ := lh.LinkByName("lan0")
	stale := net.HardwareAddr{0x02, 0, 0, 0, 0, 0x99}
	if err := lh.NeighSet(&netlink.Neigh{LinkIndex: lanLink.Attrs().Index, Family: netlink.FAMILY_V4, State: netlink.NUD_STALE,
		IP: pub.AsSlice(), HardwareAddr: stale}); err != nil {
		t.Fatal(err)
	}
	if err := nstest.InNS(box, func() error { return nat.Announce(uplink, pub) }); err != nil {
		t.Fatal(err)
	}
	nstest.Until(t, "the LAN's neighbour entry follows the announcement", func() bool {
		ns, _ := lh.NeighList(lanLink.Attrs().Index, netlink.FAMILY_V4)
		for _, n := range ns {
			if n.IP.Equal(pub.AsSlice()) {
				return bytes.Equal(n.HardwareAddr, upLink.Attrs().HardwareAddr)
			}
		}
		return false
	})

	// Reassociated to guest2 on the same box: new flows reach guest2.
	nstest.Whoami(t, g2, "172.31.0.6:8080")
	if err := nat.ForgetFlows(bh, nat.Mapping{Public: pub, Private: netip.MustParseAddr("172.31.0.5")}); err != nil {
		t.Fatal(err)
	}
	program(nat.Mapping{Public: pub, Private: netip.MustParseAddr("172.31.0.6")})
	if got := nstest.SeenAs(g2, "10.77.0.254:9090"); got != "10.77.0.100" {
		t.Errorf("after the move the LAN saw guest2 as %q", got)
	}
	if got := nstest.SeenAs(g1, "10.77.0.254:9090"); got == "10.77.0.100" {
		t.Error("after the move guest1 still leaves as the public address")
	}

	// Leased: an address its agent stops renewing lapses, and its DNAT with it, even for
	// a LAN whose neighbour entry still sends the address's traffic to the box.
	if _, _, err := nat.SyncAddresses(bh, uplink, []netip.Addr{pub}, ours, 2*time.Second); err != nil {
		t.Fatal(err)
	}
	if got := nstest.SeenAs(lan, "10.77.0.100:8080"); got == "" {
		t.Fatal("the leased address does not answer")
	}
	if err := lh.NeighSet(&netlink.Neigh{LinkIndex: lanLink.Attrs().Index, Family: netlink.FAMILY_V4, State: netlink.NUD_PERMANENT,
		IP: pub.AsSlice(), HardwareAddr: upLink.Attrs().HardwareAddr}); err != nil {
		t.Fatal(err)
	}
	nstest.Until(t, "the unrenewed lease to lapse", func() bool {
		addrs, _ := bh.AddrList(upLink, netlink.FAMILY_V4)
		for _, a := range addrs {
			if a.IP.Equal(pub.AsSlice()) {
				return false
			}
		}
		return true
	})
	if got := nstest.SeenAs(lan, "10.77.0.100:8080"); got != "" {
		t.Errorf("the lapsed address's traffic still reaches a guest (as %q)", got)
	}
	if err := lh.NeighDel(&netlink.Neigh{LinkIndex: lanLink.Attrs().Index, Family: netlink.FAMILY_V4, IP: pub.AsSlice()}); err != nil {
		t.Fatal(err)
	}

	// Gone: the address leaves the uplink and answers no more; other addresses stay.
	program()
	if got := nstest.SeenAs(lan, "10.77.0.100:8080"); got != "" {
		t.Errorf("the public address still answers after its mapping went (as %q)", got)
	}
	addrs, _ := bh.AddrList(upLink, netlink.FAMILY_V4)
	var kept []string
	for _, a := range addrs {
		kept = append(kept, a.IPNet.String())
	}
	if fmt.Sprint(kept) != "[10.77.0.1/24 10.77.0.50/32]" {
		t.Errorf("uplink addresses %v", kept)
	}
	tables, err := conn.ListTablesOfFamily(nftables.TableFamilyIPv4)
	if err != nil || len(tables) != 1 || tables[0].Name != nat.TableName {
		t.Errorf("tables %v %v", tables, err)
	}
	if err := nat.Remove(conn); err != nil {
		t.Fatal(err)
	}
}
