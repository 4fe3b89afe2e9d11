// Package nat gives a box's instances their public (Elastic IP) addresses: 1:1 NAT
// between each public address and the private address of the instance it is associated
// with, as one nftables table (ip family, "banyan-nat") replaced whole in one netlink
// batch; the public addresses on the box's uplink, so that the box answers ARP for them
// on the LAN; and a gratuitous ARP when an address lands on the box, so that the LAN's
// neighbour caches follow an address that moved from another box at once.
//
// The table DNATs public to private in prerouting (traffic from the LAN, and from the
// box's own instances: the hairpin) and in output (the box itself), while the box holds
// the public address, SNATs private to
// public in postrouting for what an instance sends out of the uplink, and masquerades
// hairpin traffic (an instance reaching another's public address on this box) behind
// the bridge's router address, so that the reply comes back through the box and is
// un-NATed. The filter table (netctl/firewall) hooks at filter priority, after DNAT and
// before SNAT, so security groups see and judge the instance's private address.
//
// Why addresses on the uplink rather than proxy ARP: the kernel answers proxy ARP only
// for a destination it routes out of another interface than the one the request came
// in on, and a public address on the LAN's own subnet routes out of the uplink, so proxy
// ARP would need a host route per address as well; an address on the interface is one
// netlink call, answered by the kernel's ARP as any local address, and DNAT in
// prerouting rewrites the packet before it could be delivered to the box itself. The
// addresses are /32s, so they add no subnet route and the kernel never picks one as the
// source of the box's own traffic.
//
// It acts in the network namespace of the Conn and netlink handle it is given.
package nat

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"regexp"
	"sort"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// TableName is the ip table the NAT owns; nothing else should write to it.
const TableName = "banyan-nat"

// Mapping is one public address and the private address it stands for.
type Mapping struct {
	Public  netip.Addr
	Private netip.Addr
}

// Ruleset is everything the box's NAT table holds.
type Ruleset struct {
	// Uplink is the interface public traffic arrives and leaves on.
	Uplink string
	// Bridge is the instances' bridge, and Instances the prefix their private addresses
	// are in: hairpin traffic (from Instances, DNATed, out of Bridge) is masqueraded. An
	// empty Bridge leaves hairpin out.
	Bridge    string
	Instances netip.Prefix
	Mappings  []Mapping
}

var ifnameRE = regexp.MustCompile(`^[A-Za-z0-9_.:@-]{1,15}$`)

// Validate checks that the ruleset can be programmed: interface names the kernel
// allows, IPv4 addresses, and no public or private address twice.
func (rs *Ruleset) Validate() error {
	if !ifnameRE.MatchString(rs.Uplink) {
		return fmt.Errorf("nat: bad uplink interface name %q", rs.Uplink)
	}
	if rs.Bridge != "" {
		if !ifnameRE.MatchString(rs.Bridge) {
			return fmt.Errorf("nat: bad bridge name %q", rs.Bridge)
		}
		if !rs.Instances.IsValid() || !rs.Instances.Addr().Is4() {
			return fmt.Errorf("nat: hairpin on %s needs the instances' IPv4 prefix", rs.Bridge)
		}
	}
	pub, priv := map[netip.Addr]bool{}, map[netip.Addr]bool{}
	for _, m := range rs.Mappings {
		if !m.Public.Is4() || !m.Private.Is4() {
			return fmt.Errorf("nat: mapping %s -> %s is not IPv4", m.Public, m.Private)
		}
		if pub[m.Public] {
			return fmt.Errorf("nat: public address %s mapped twice", m.Public)
		}
		if priv[m.Private] {
			return fmt.Errorf("nat: private address %s has two public addresses", m.Private)
		}
		pub[m.Public], priv[m.Private] = true, true
	}
	return nil
}

// rule is one nftables rule as expressions and as nft's text, built side by side so
// that what is tested (the text) is what is programmed.
type rule struct {
	exprs []expr.Any
	text  []string
}

func (r *rule) add(text string, e ...expr.Any) *rule {
	r.exprs = append(r.exprs, e...)
	r.text = append(r.text, text)
	return r
}

func cmpEq(data []byte) *expr.Cmp { return &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: data} }

const (
	offSaddr = 12
	offDaddr = 16
)

func (r *rule) addr(off uint32, a netip.Addr) *rule {
	b := a.As4()
	field := "ip daddr "
	if off == offSaddr {
		field = "ip saddr "
	}
	return r.add(field+a.String(), &expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: off, Len: 4}, cmpEq(b[:]))
}

func (r *rule) srcPrefix(p netip.Prefix) *rule {
	p = p.Masked()
	mask := binary.BigEndian.AppendUint32(nil, ^uint32(0)<<(32-p.Bits()))
	b := p.Addr().As4()
	return r.add("ip saddr "+p.String(),
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: offSaddr, Len: 4},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: mask, Xor: []byte{0, 0, 0, 0}},
		cmpEq(b[:]))
}

func ifname(n string) []byte {
	b := make([]byte, unix.IFNAMSIZ)
	copy(b, n)
	return b
}

func (r *rule) oifname(n string) *rule {
	return r.add(`oifname "`+n+`"`, &expr.Meta{Key: expr.MetaKeyOIFNAME, Register: 1}, cmpEq(ifname(n)))
}

// ipsDstNAT is the kernel's IPS_DST_NAT conntrack status bit.
const ipsDstNAT = 1 << 5

func (r *rule) ctDNAT() *rule {
	return r.add("ct status dnat",
		&expr.Ct{Register: 1, Key: expr.CtKeySTATUS},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: binaryutil.NativeEndian.PutUint32(ipsDstNAT), Xor: binaryutil.NativeEndian.PutUint32(0)},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(0)})
}

// localDaddr matches packets to an address the box holds now (fib daddr type local):
// the DNAT of a public address lapses with the address's lease on the uplink, so a box
// whose agent died stops translating for it even where a neighbour cache still sends
// the address's traffic here.
func (r *rule) localDaddr() *rule {
	return r.add("fib daddr type local",
		&expr.Fib{Register: 1, FlagDADDR: true, ResultADDRTYPE: true},
		cmpEq(binaryutil.NativeEndian.PutUint32(unix.RTN_LOCAL)))
}

func (r *rule) nat(t expr.NATType, to netip.Addr) *rule {
	b := to.As4()
	word := map[expr.NATType]string{expr.NATTypeDestNAT: "dnat", expr.NATTypeSourceNAT: "snat"}[t]
	return r.add(word+" to "+to.String(),
		&expr.Immediate{Register: 1, Data: b[:]},
		&expr.NAT{Type: t, Family: unix.NFPROTO_IPV4, RegAddrMin: 1, RegAddrMax: 1})
}

// chainSpec is one base chain to program.
type chainSpec struct {
	name     string
	hook     *nftables.ChainHook
	priority *nftables.ChainPriority
	prioText string
	rules    []*rule
}

func plan(rs *Ruleset) []chainSpec {
	ms := append([]Mapping{}, rs.Mappings...)
	sort.Slice(ms, func(i, j int) bool { return ms[i].Public.Less(ms[j].Public) })
	pre := chainSpec{name: "prerouting", hook: nftables.ChainHookPrerouting, priority: nftables.ChainPriorityNATDest, prioText: "dstnat"}
	out := chainSpec{name: "output", hook: nftables.ChainHookOutput, priority: nftables.ChainPriorityNATDest, prioText: "-100"}
	post := chainSpec{name: "postrouting", hook: nftables.ChainHookPostrouting, priority: nftables.ChainPriorityNATSource, prioText: "srcnat"}
	for _, m := range ms {
		pre.rules = append(pre.rules, (&rule{}).addr(offDaddr, m.Public).localDaddr().nat(expr.NATTypeDestNAT, m.Private))
		out.rules = append(out.rules, (&rule{}).addr(offDaddr, m.Public).localDaddr().nat(expr.NATTypeDestNAT, m.Private))
	}
	for _, m := range ms {
		post.rules = append(post.rules, (&rule{}).oifname(rs.Uplink).addr(offSaddr, m.Private).nat(expr.NATTypeSourceNAT, m.Public))
	}
	if rs.Bridge != "" && len(ms) > 0 {
		post.rules = append(post.rules, (&rule{}).oifname(rs.Bridge).srcPrefix(rs.Instances).ctDNAT().add("masquerade", &expr.Masq{}))
	}
	return []chainSpec{pre, out, post}
}

// Render is the ruleset in nft's syntax, as Apply programs it (for tests and logs).
func Render(rs *Ruleset) (string, error) {
	if err := rs.Validate(); err != nil {
		return "", err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "table ip %s {\n", TableName)
	for _, c := range plan(rs) {
		fmt.Fprintf(&b, "\tchain %s {\n\t\ttype nat hook %s priority %s; policy accept;\n", c.name, c.name, c.prioText)
		for _, r := range c.rules {
			fmt.Fprintf(&b, "\t\t%s\n", strings.Join(r.text, " "))
		}
		b.WriteString("\t}\n")
	}
	b.WriteString("}\n")
	return b.String(), nil
}

// Apply replaces the box's NAT table with the ruleset, in one netlink batch: the table
// is added (so that deleting it cannot fail), deleted, and built again, all or nothing.
func Apply(c *nftables.Conn, rs *Ruleset) error {
	if err := rs.Validate(); err != nil {
		return err
	}
	t := &nftables.Table{Name: TableName, Family: nftables.TableFamilyIPv4}
	c.AddTable(t)
	c.DelTable(t)
	c.AddTable(t)
	accept := nftables.ChainPolicyAccept
	for _, cs := range plan(rs) {
		ch := c.AddChain(&nftables.Chain{Name: cs.name, Table: t, Type: nftables.ChainTypeNAT,
			Hooknum: cs.hook, Priority: cs.priority, Policy: &accept})
		for _, r := range cs.rules {
			c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: r.exprs})
		}
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("nat: programming table ip %s: %w", TableName, err)
	}
	return nil
}

// Remove deletes the box's NAT table, if it is there.
func Remove(c *nftables.Conn) error {
	t := &nftables.Table{Name: TableName, Family: nftables.TableFamilyIPv4}
	c.AddTable(t)
	c.DelTable(t)
	if err := c.Flush(); err != nil {
		return fmt.Errorf("nat: removing table ip %s: %w", TableName, err)
	}
	return nil
}
