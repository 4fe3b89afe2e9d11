package main

// The network benchmark's two topologies, built out of unnamed network namespaces of
// the benchmark's own. An unnamed namespace lives only as long as something holds it
// (a file descriptor, a thread inside it, a socket made in it), so closing the lab's
// handles and sockets removes every namespace, and a benchmark killed half way leaves
// nothing behind either: its descriptors die with the process.

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/banyancloud/banyan/netctl"
	"github.com/banyancloud/banyan/netctl/firewall"
	"github.com/banyancloud/banyan/netctl/overlay"
)

// netNS is one namespace of the lab and a netlink handle in it.
type netNS struct {
	name  string
	ns    netns.NsHandle
	h     *netlink.Handle
	inode uint64
}

// netLab owns every namespace the benchmark makes. Sockets made in them are closed by
// the code that made them, before it returns (a socket holds its namespace).
type netLab struct {
	spaces []*netNS
}

// inNS runs fn on an OS thread switched into ns. A thread that cannot switch back stays
// locked and is thrown away when fn's goroutine ends, so no thread of the process is
// left in a lab namespace.
func inNS(ns netns.NsHandle, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			errc <- err
			return
		}
		defer orig.Close()
		if err := netns.Set(ns); err != nil {
			errc <- fmt.Errorf("setns: %w", err)
			return
		}
		err = fn()
		if netns.Set(orig) == nil {
			runtime.UnlockOSThread()
		}
		errc <- err
	}()
	return <-errc
}

// newNS makes an unnamed namespace with lo up.
func (l *netLab) newNS(name string) (*netNS, error) {
	var ns netns.NsHandle
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			errc <- err
			return
		}
		defer orig.Close()
		ns, err = netns.New()
		if err == nil && netns.Set(orig) == nil {
			runtime.UnlockOSThread()
		}
		errc <- err
	}()
	if err := <-errc; err != nil {
		return nil, fmt.Errorf("creating a network namespace (needs root): %w", err)
	}
	n := &netNS{name: name, ns: ns}
	l.spaces = append(l.spaces, n)
	var st unix.Stat_t
	if err := unix.Fstat(int(ns), &st); err != nil {
		return nil, err
	}
	n.inode = st.Ino
	var err error
	if n.h, err = netlink.NewHandleAt(ns); err != nil {
		return nil, fmt.Errorf("netlink in %s: %w", name, err)
	}
	lo, err := n.h.LinkByName("lo")
	if err != nil {
		return nil, err
	}
	if err := n.h.LinkSetUp(lo); err != nil {
		return nil, fmt.Errorf("lo up in %s: %w", name, err)
	}
	return n, nil
}

// Close closes every namespace's handle and descriptor.
func (l *netLab) Close() {
	for _, n := range l.spaces {
		if n.h != nil {
			n.h.Close()
		}
		n.ns.Close()
	}
}

// leftover reports the lab's namespaces something of this process still holds: a thread
// inside one, a descriptor of one, or a socket made in one. None held means none exist
// (the lab never bind-mounts or hands a namespace to another process).
func (l *netLab) leftover() error {
	mine := map[uint64]string{}
	for _, n := range l.spaces {
		mine[n.inode] = n.name
	}
	var held []string
	tasks, _ := filepath.Glob("/proc/self/task/*/ns/net")
	for _, t := range tasks {
		if ino, ok := nsInode(t); ok && mine[ino] != "" {
			held = append(held, mine[ino]+" (a thread is inside it)")
		}
	}
	fds, _ := os.ReadDir("/proc/self/fd")
	for _, e := range fds {
		fd, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		link, err := os.Readlink(filepath.Join("/proc/self/fd", e.Name()))
		if err != nil {
			continue
		}
		switch {
		case strings.HasPrefix(link, "net:["):
			ino, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimPrefix(link, "net:["), "]"), 10, 64)
			if mine[ino] != "" {
				held = append(held, mine[ino]+" (an open descriptor of it)")
			}
		case strings.HasPrefix(link, "socket:["):
			nsfd, err := unix.IoctlRetInt(fd, unix.SIOCGSKNS)
			if err != nil {
				continue
			}
			var st unix.Stat_t
			if unix.Fstat(nsfd, &st) == nil && mine[st.Ino] != "" {
				held = append(held, mine[st.Ino]+" (a socket made in it)")
			}
			unix.Close(nsfd)
		}
	}
	if len(held) > 0 {
		return fmt.Errorf("network namespaces still held after the benchmark: %s", strings.Join(held, ", "))
	}
	return nil
}

func nsInode(path string) (uint64, bool) {
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		return 0, false
	}
	return st.Ino, true
}

// guest is one end of a measured path: a namespace with eth0 at addr.
type guest struct {
	*netNS
	addr netip.Addr
	mac  net.HardwareAddr
}

// Addresses as a zone's instances get them (us-east-1a, 172.31.0.0/20, router .1, the
// first instance .4), and a LAN for the boxes.
var (
	benchZone  = "us-east-1a"
	guest1Addr = netip.MustParseAddr("172.31.0.4")
	guest2Addr = netip.MustParseAddr("172.31.0.5")
	guest1MAC  = net.HardwareAddr{0x02, 0x00, 0xac, 0x1f, 0x00, 0x04}
	guest2MAC  = net.HardwareAddr{0x02, 0x00, 0xac, 0x1f, 0x00, 0x05}
	boxAAddr   = netip.MustParseAddr("10.88.0.1")
	boxBAddr   = netip.MustParseAddr("10.88.0.2")
)

// upAddr brings name up in n with cidr (none when empty).
func upAddr(n *netNS, name, cidr string) error {
	l, err := n.h.LinkByName(name)
	if err != nil {
		return fmt.Errorf("%s in %s: %w", name, n.name, err)
	}
	if cidr != "" {
		a, err := netlink.ParseAddr(cidr)
		if err != nil {
			return err
		}
		if err := n.h.AddrAdd(l, a); err != nil {
			return fmt.Errorf("address %s on %s in %s: %w", cidr, name, n.name, err)
		}
	}
	if err := n.h.LinkSetUp(l); err != nil {
		return fmt.Errorf("%s up in %s: %w", name, n.name, err)
	}
	return nil
}

// vethTopology is topology A, the limit: two guests joined by one veth pair.
func (l *netLab) vethTopology() (g1, g2 *guest, err error) {
	a, err := l.newNS("veth-guest1")
	if err != nil {
		return nil, nil, err
	}
	b, err := l.newNS("veth-guest2")
	if err != nil {
		return nil, nil, err
	}
	if err := a.h.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "eth0", HardwareAddr: guest1MAC}, PeerName: "eth0",
		PeerHardwareAddr: guest2MAC, PeerNamespace: netlink.NsFd(int(b.ns))}); err != nil {
		return nil, nil, fmt.Errorf("veth pair between the guests: %w", err)
	}
	g1 = &guest{netNS: a, addr: guest1Addr, mac: guest1MAC}
	g2 = &guest{netNS: b, addr: guest2Addr, mac: guest2MAC}
	for _, g := range []*guest{g1, g2} {
		if err := upAddr(g.netNS, "eth0", g.addr.String()+"/20"); err != nil {
			return nil, nil, err
		}
	}
	return g1, g2, nil
}

// box is one box of topology B: its namespace, its bridge and VXLAN device, and the
// firewall's view of the instance it runs.
type box struct {
	*netNS
	dev   overlay.Device
	nft   *nftables.Conn
	local *guest // the instance placed here
	peer  *guest // the instance on the other box
}

// The security group both instances are in, and their account's network set.
const (
	benchGroup   = "sg-0bench0000000000"
	benchNetwork = "net-000000000000"
	// Ports the group admits from its members: throughput, request/response, and the
	// overlay probe (UDP, one port a trial).
	portStream   = 5201
	portPingPong = 5202
	portUDPFirst = 5301
	portUDPLast  = 5399
	// Ports the admit-time trials open, one a trial, with a new CIDR rule each.
	portAdmitFirst = 6001
)

// baseIngress is what the group admits from its own members.
func baseIngress() []firewall.Rule {
	return []firewall.Rule{
		{Protocol: "tcp", FromPort: portStream, ToPort: portPingPong, Set: benchGroup},
		{Protocol: "udp", FromPort: portUDPFirst, ToPort: portUDPLast, Set: benchGroup},
	}
}

// ruleset is box b's whole table as node/firewall.go computes it for one instance of
// account 000000000000 in benchGroup (egress open, as a new group's is).
func (b *box) ruleset(extraIngress ...firewall.Rule) *firewall.Ruleset {
	gw, _ := netctl.Gateway(benchZone)
	members := []netip.Addr{guest1Addr, guest2Addr}
	return &firewall.Ruleset{
		Router:    gw.Addr(),
		Instances: netip.MustParsePrefix("172.31.0.0/16"),
		Sets:      map[string][]netip.Addr{benchGroup: members, benchNetwork: members},
		Interfaces: []firewall.Interface{{
			Name: "i-bench" + strings.ReplaceAll(b.local.addr.String(), ".", ""), Addr: b.local.addr, Network: benchNetwork,
			Ingress: append(baseIngress(), extraIngress...),
			Egress:  []firewall.Rule{{Protocol: "-1", FromPort: -1, ToPort: -1, CIDR: netip.MustParsePrefix("0.0.0.0/0")}},
		}},
	}
}

func (b *box) apply(rs *firewall.Ruleset) error {
	if err := firewall.Apply(b.nft, rs); err != nil {
		return fmt.Errorf("%s: %w", b.name, err)
	}
	return nil
}

// peers is what node/overlay.go's boxPeers gives box b: the instance on the other box.
func (b *box) peers() []overlay.Peer {
	other := boxBAddr
	if b.dev.Local == boxBAddr {
		other = boxAAddr
	}
	return []overlay.Peer{{MAC: b.peer.mac, IP: b.peer.addr, Box: other}}
}

// overlayTopology is topology B, Banyan's path: guest1 on box A's bridge, the VXLAN
// overlay over a veth "LAN", box B's bridge, guest2, with the security-group firewall on
// both boxes.
func (l *netLab) overlayTopology() (a, b *box, err error) {
	gw, err := netctl.Gateway(benchZone)
	if err != nil {
		return nil, nil, err
	}
	var boxes [2]*box
	for i, spec := range []struct {
		name, guest string
		local       netip.Addr
		addr        netip.Addr
		mac         net.HardwareAddr
	}{{"boxA", "overlay-guest1", boxAAddr, guest1Addr, guest1MAC}, {"boxB", "overlay-guest2", boxBAddr, guest2Addr, guest2MAC}} {
		bn, err := l.newNS(spec.name)
		if err != nil {
			return nil, nil, err
		}
		gn, err := l.newNS(spec.guest)
		if err != nil {
			return nil, nil, err
		}
		// The box's side, as a box agent brings it up in its own namespace.
		if err := inNS(bn.ns, func() error {
			if _, err := netctl.EnsureBridge(netctl.DefaultBridge, gw); err != nil {
				return err
			}
			return netctl.FilterBridgedTraffic()
		}); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", spec.name, err)
		}
		br, err := bn.h.LinkByName(netctl.DefaultBridge)
		if err != nil {
			return nil, nil, err
		}
		// The instance's NIC: a port of the bridge (libvirt's tap; here a veth).
		if err := bn.h.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "vnet0", MasterIndex: br.Attrs().Index},
			PeerName: "eth0", PeerHardwareAddr: spec.mac, PeerNamespace: netlink.NsFd(int(gn.ns))}); err != nil {
			return nil, nil, fmt.Errorf("%s: instance port: %w", spec.name, err)
		}
		if err := upAddr(bn, "vnet0", ""); err != nil {
			return nil, nil, err
		}
		g := &guest{netNS: gn, addr: spec.addr, mac: spec.mac}
		eth, err := gn.h.LinkByName("eth0")
		if err != nil {
			return nil, nil, err
		}
		// The MTU DHCP offers instances (option 26).
		if err := gn.h.LinkSetMTU(eth, 1500-overlay.Overhead); err != nil {
			return nil, nil, err
		}
		if err := upAddr(gn, "eth0", fmt.Sprintf("%s/%d", spec.addr, gw.Bits())); err != nil {
			return nil, nil, err
		}
		if err := gn.h.RouteAdd(&netlink.Route{LinkIndex: eth.Attrs().Index, Gw: gw.Addr().AsSlice()}); err != nil {
			return nil, nil, fmt.Errorf("%s: default route: %w", spec.guest, err)
		}
		// Not lasting, as node/firewall.go's: every Apply opens its own netlink socket.
		conn, err := nftables.New(nftables.WithNetNSFd(int(bn.ns)))
		if err != nil {
			return nil, nil, fmt.Errorf("%s: nftables: %w", spec.name, err)
		}
		boxes[i] = &box{netNS: bn, nft: conn, local: g, dev: overlay.Device{Local: spec.local, Bridge: netctl.DefaultBridge}}
	}
	a, b = boxes[0], boxes[1]
	a.peer, b.peer = b.local, a.local
	// The LAN between the boxes.
	if err := a.h.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "lan0"}, PeerName: "lan0", PeerNamespace: netlink.NsFd(int(b.ns))}); err != nil {
		return nil, nil, fmt.Errorf("LAN between the boxes: %w", err)
	}
	if err := upAddr(a.netNS, "lan0", boxAAddr.String()+"/24"); err != nil {
		return nil, nil, err
	}
	if err := upAddr(b.netNS, "lan0", boxBAddr.String()+"/24"); err != nil {
		return nil, nil, err
	}
	for _, bx := range boxes {
		if _, err := overlay.Ensure(bx.h, bx.dev); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", bx.name, err)
		}
		if _, _, err := overlay.Sync(bx.h, bx.dev, bx.peers()); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", bx.name, err)
		}
		if err := bx.apply(bx.ruleset()); err != nil {
			return nil, nil, err
		}
	}
	return a, b, nil
}

// staticNeighbour gives g a permanent ARP entry for peer, as if it had asked before.
func staticNeighbour(g, peer *guest) error {
	eth, err := g.h.LinkByName("eth0")
	if err != nil {
		return err
	}
	if err := g.h.NeighSet(&netlink.Neigh{LinkIndex: eth.Attrs().Index, Family: unix.AF_INET, State: netlink.NUD_PERMANENT,
		IP: peer.addr.AsSlice(), HardwareAddr: peer.mac}); err != nil {
		return fmt.Errorf("%s: neighbour %s: %w", g.name, peer.addr, err)
	}
	return nil
}
