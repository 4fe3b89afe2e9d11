package firewall

// The anti-spoofing guard: a bridge-family table that keeps every instance, at the port
// its frames enter the bridge by, to its own MAC and private IPv4 address, so that the
// address-keyed inet table above (security groups, networks per account) and the
// services that tell instances apart by source address (metadata, DHCP) can trust the
// addresses they see.
//
// The checks run at the bridge family's prerouting hook and again at its input hook
// (which alone sees frames to link-local group MACs, handed to the box unforwarded).
// Frames are told apart by their input port (iifname), not by the bridge they enter:
// kernels built without CONFIG_NFT_BRIDGE_META (the one these tests were written on
// among them) refuse "meta ibrname" with EOPNOTSUPP, and matching by port name also
// binds a MAC to its port, which a MAC-keyed filter cannot (a guest that copies
// another's MAC and address would pass one). Frames the box sends itself (the router's) take the bridge's
// output hook and are not checked; neither are ports the guard is not told of, but for
// those named with Guard.TapPrefix, which are dropped whole.

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"sort"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// GuardTableName is the bridge-family table ApplyGuard owns; nothing else should write to it.
const GuardTableName = "banyan-guard"

// guardPriority is the bridge family's "filter" priority (nft's name for -200).
var guardPriority = nftables.ChainPriorityRef(-200)

// Port is one instance's port on the bridge: the tap its frames come in by, and the only
// MAC and private IPv4 address they may carry.
type Port struct {
	// Iface is the tap's name on the box (hypervisor.NIC.Device), at most 15 bytes.
	Iface string
	// MAC is the instance's MAC: every frame from Iface must carry it as its Ethernet
	// source and, in ARP, as its sender hardware address.
	MAC net.HardwareAddr
	// Addr is the instance's private IPv4 address: the only IPv4 source (but 0.0.0.0 for
	// DHCP) and ARP sender address (but 0.0.0.0 for an ARP probe) it may use.
	Addr netip.Addr
}

// Guard is what the anti-spoofing table holds: the guarded ports, and which other ports
// are left alone or dropped.
//
// A frame that enters by a Port's Iface passes when it carries the port's MAC and is
// IPv4 from the port's Addr, a DHCP request from 0.0.0.0 (UDP 68 to 67), or ARP whose
// sender is the port's MAC and Addr (or 0.0.0.0); anything else from it is dropped:
// another source MAC or address, IPv6 (instances are IPv4 only), VLAN-tagged frames,
// other ethertypes. Frames of other ports pass, but for those matching TapPrefix.
type Guard struct {
	// Ports are the instances' ports; their Iface, MAC and Addr are each unique.
	Ports []Port
	// TapPrefix, when set, names the box's instance taps ("bnyt" for bnyt…): a port
	// whose name begins with it, is not one of Ports and not Trusted, gets nothing
	// through (an instance the guard has not been told of, or no longer knows).
	TapPrefix string
	// Trusted are ports never guarded, even when TapPrefix matches them: the overlay's
	// VXLAN device ("bnyvx0"), whose frames are other boxes' instances', each guarded
	// on its own box.
	Trusted []string
}

// validIfname reports whether s can be a Linux interface name (dev_valid_name).
func validIfname(s string) bool {
	if s == "" || len(s) > unix.IFNAMSIZ-1 || s == "." || s == ".." {
		return false
	}
	return !strings.ContainsAny(s, "/: \t\n\v\f\r\x00")
}

// Validate checks that the guard can be programmed.
func (g *Guard) Validate() error {
	if g.TapPrefix != "" && !validIfname(g.TapPrefix) {
		return fmt.Errorf("firewall: guard: bad tap prefix %q (1-15 bytes of an interface name)", g.TapPrefix)
	}
	trusted := map[string]bool{}
	for _, n := range g.Trusted {
		if !validIfname(n) {
			return fmt.Errorf("firewall: guard: bad trusted interface name %q", n)
		}
		trusted[n] = true
	}
	ifaces, macs, addrs := map[string]bool{}, map[string]string{}, map[netip.Addr]string{}
	for _, p := range g.Ports {
		if !validIfname(p.Iface) {
			return fmt.Errorf("firewall: guard: bad interface name %q (1-15 bytes, no '/', ':' or space)", p.Iface)
		}
		if ifaces[p.Iface] {
			return fmt.Errorf("firewall: guard: port %s twice", p.Iface)
		}
		ifaces[p.Iface] = true
		if trusted[p.Iface] {
			return fmt.Errorf("firewall: guard: port %s is also trusted", p.Iface)
		}
		if len(p.MAC) != 6 {
			return fmt.Errorf("firewall: guard: port %s: MAC %q is not a 6-byte Ethernet address", p.Iface, p.MAC)
		}
		if p.MAC[0]&1 != 0 || bytes.Equal(p.MAC, make([]byte, 6)) {
			return fmt.Errorf("firewall: guard: port %s: MAC %s is not a unicast address", p.Iface, p.MAC)
		}
		if other, ok := macs[p.MAC.String()]; ok {
			return fmt.Errorf("firewall: guard: ports %s and %s have the same MAC %s", other, p.Iface, p.MAC)
		}
		macs[p.MAC.String()] = p.Iface
		if !p.Addr.Is4() || p.Addr.IsUnspecified() || p.Addr.IsMulticast() || p.Addr == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
			return fmt.Errorf("firewall: guard: port %s: %v is not a unicast IPv4 address", p.Iface, p.Addr)
		}
		if other, ok := addrs[p.Addr]; ok {
			return fmt.Errorf("firewall: guard: ports %s and %s have the same address %s", other, p.Iface, p.Addr)
		}
		addrs[p.Addr] = p.Iface
	}
	return nil
}

// ifnameData is an interface name as the kernel loads it: NUL-padded to IFNAMSIZ.
func ifnameData(name string) []byte {
	b := make([]byte, unix.IFNAMSIZ)
	copy(b, name)
	return b
}

func (r *rule) iifname(name string) *rule {
	return r.add(fmt.Sprintf("iifname %q", name),
		&expr.Meta{Key: expr.MetaKeyIIFNAME, Register: 1}, cmpEq(ifnameData(name)))
}

// iifnamePrefix matches names beginning with prefix (nft's "prefix*": a shorter compare).
func (r *rule) iifnamePrefix(prefix string) *rule {
	return r.add(fmt.Sprintf("iifname %q", prefix+"*"),
		&expr.Meta{Key: expr.MetaKeyIIFNAME, Register: 1}, cmpEq([]byte(prefix)))
}

// Link-layer and ARP offsets. The Ethernet type is read from the link-layer header as
// nft's "ether type" is: for a VLAN-tagged frame the kernel puts the tag back in place,
// so such a frame reads 0x8100 and matches neither IPv4 nor ARP.
const (
	offEtherSaddr = 6
	offEtherType  = 12
	offArpSha     = 8
	offArpSpa     = 14
)

func (r *rule) etherSaddrNot(mac net.HardwareAddr) *rule {
	return r.add("ether saddr != "+mac.String(),
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseLLHeader, Offset: offEtherSaddr, Len: 6},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: []byte(mac)})
}

func (r *rule) etherType(t uint16, name string) *rule {
	return r.add("ether type "+name,
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseLLHeader, Offset: offEtherType, Len: 2},
		cmpEq([]byte{byte(t >> 8), byte(t)}))
}

// arpEthernetIPv4 matches ARP for IPv4 over Ethernet: hardware type 1, protocol
// 0x0800, address lengths 6 and 4 (the first six bytes of the header, in one compare).
func (r *rule) arpEthernetIPv4() *rule {
	return r.add("arp htype 1 arp ptype ip arp hlen 6 arp plen 4",
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 0, Len: 6},
		cmpEq([]byte{0, 1, 0x08, 0x00, 6, 4}))
}

func (r *rule) arpSha(mac net.HardwareAddr) *rule {
	return r.add("arp saddr ether "+mac.String(),
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: offArpSha, Len: 6},
		cmpEq([]byte(mac)))
}

func (r *rule) arpSpa(a netip.Addr) *rule {
	b := a.As4()
	return r.add("arp saddr ip "+a.String(),
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: offArpSpa, Len: 4},
		cmpEq(b[:]))
}

// guardChainName is the chain of a port: its MAC, so that it does not depend on how
// the tap is named.
func guardChainName(p Port) string { return "port-" + hex.EncodeToString(p.MAC) }

// dispatch is a base chain's rules: trusted ports pass, each port's frames go to its
// chain, other instance taps are dropped.
func dispatch(ports []Port, trusted []string, prefix string) []*rule {
	var rules []*rule
	for i, n := range trusted {
		if i > 0 && n == trusted[i-1] {
			continue
		}
		rules = append(rules, (&rule{}).iifname(n).verdict(expr.VerdictAccept, ""))
	}
	for _, p := range ports {
		rules = append(rules, (&rule{}).iifname(p.Iface).verdict(expr.VerdictJump, guardChainName(p)))
	}
	if prefix != "" {
		rules = append(rules, (&rule{}).iifnamePrefix(prefix).verdict(expr.VerdictDrop, ""))
	}
	return rules
}

// guardPlan turns a (valid) guard into chains, the base chains first. Two base chains
// dispatch alike: prerouting sees every frame a port brings in but those to a
// link-local group address (01:80:c2:00:00:0X), which the bridge hands to the box's own
// stack by the input hook alone; input catches those (and sees again, with the same
// verdict, what prerouting let through to the box).
func guardPlan(g *Guard) []chainSpec {
	ports := append([]Port{}, g.Ports...)
	sort.Slice(ports, func(i, j int) bool { return ports[i].Iface < ports[j].Iface })
	trusted := append([]string{}, g.Trusted...)
	sort.Strings(trusted)

	chains := []chainSpec{
		{name: "prerouting", hook: nftables.ChainHookPrerouting, rules: dispatch(ports, trusted, g.TapPrefix)},
		{name: "input", hook: nftables.ChainHookInput, rules: dispatch(ports, trusted, g.TapPrefix)},
	}
	unspecified := netip.IPv4Unspecified()
	for _, p := range ports {
		c := chainSpec{name: guardChainName(p)}
		c.rules = append(c.rules,
			(&rule{}).etherSaddrNot(p.MAC).verdict(expr.VerdictDrop, ""),
			(&rule{}).etherType(unix.ETH_P_IP, "ip").addr(offSaddr, p.Addr).verdict(expr.VerdictAccept, ""),
			// DHCP before the instance has its address (DISCOVER, REQUEST in INIT-REBOOT).
			(&rule{}).etherType(unix.ETH_P_IP, "ip").addr(offSaddr, unspecified).
				l4proto(unix.IPPROTO_UDP).port(unix.IPPROTO_UDP, 0, 68, 68).port(unix.IPPROTO_UDP, 2, 67, 67).
				verdict(expr.VerdictAccept, ""),
			(&rule{}).etherType(unix.ETH_P_ARP, "arp").arpEthernetIPv4().arpSha(p.MAC).arpSpa(p.Addr).verdict(expr.VerdictAccept, ""),
			// An ARP probe (RFC 5227) has no sender address yet.
			(&rule{}).etherType(unix.ETH_P_ARP, "arp").arpEthernetIPv4().arpSha(p.MAC).arpSpa(unspecified).verdict(expr.VerdictAccept, ""),
			// IPv6, VLAN-tagged frames, other ethertypes, and whatever did not conform.
			(&rule{}).verdict(expr.VerdictDrop, ""),
		)
		chains = append(chains, c)
	}
	return chains
}

// RenderGuard is the guard's table in nft's syntax, as ApplyGuard programs it: stable
// for one guard whatever the order of its lists, for tests, logs and change detection.
func RenderGuard(g *Guard) (string, error) {
	if err := g.Validate(); err != nil {
		return "", err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "table bridge %s {\n", GuardTableName)
	for _, c := range guardPlan(g) {
		fmt.Fprintf(&b, "\tchain %s {\n", c.name)
		if c.hook != nil {
			fmt.Fprintf(&b, "\t\ttype filter hook %s priority filter; policy accept;\n", c.name)
		}
		for _, r := range c.rules {
			fmt.Fprintf(&b, "\t\t%s\n", r)
		}
		b.WriteString("\t}\n")
	}
	b.WriteString("}\n")
	return b.String(), nil
}

// ApplyGuard replaces the table bridge banyan-guard with the guard in one netlink batch:
// the table is added (so that deleting it cannot fail), deleted, and built again, all or
// nothing. A guard that does not validate changes nothing.
func ApplyGuard(c *nftables.Conn, g *Guard) error {
	if err := g.Validate(); err != nil {
		return err
	}
	t := &nftables.Table{Name: GuardTableName, Family: nftables.TableFamilyBridge}
	c.AddTable(t)
	c.DelTable(t)
	c.AddTable(t)
	addChains(c, t, guardPlan(g), guardPriority)
	if err := c.Flush(); err != nil {
		return fmt.Errorf("firewall: programming table bridge %s: %w", GuardTableName, err)
	}
	return nil
}

// RemoveGuard deletes the guard's table, if it is there.
func RemoveGuard(c *nftables.Conn) error {
	return removeTable(c, &nftables.Table{Name: GuardTableName, Family: nftables.TableFamilyBridge}, "bridge")
}
