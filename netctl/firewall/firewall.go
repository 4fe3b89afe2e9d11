// Package firewall enforces security groups on a box with nftables: given the rules of
// the instances that run here, it programs one table (inet family, "banyan") with a
// pair of chains per instance interface, ingress and egress, each stateful (established
// and related traffic passes, invalid traffic is dropped), then the groups' rules, then
// a drop. Source-group rules match named sets of the member instances' private
// addresses. The whole table is replaced in one netlink batch, so the kernel never holds
// half a ruleset.
//
// Chains are entered by the instance's private address (its fixed DHCP lease), not by
// its tap: traffic an instance sends to or receives through the box crosses the box's
// IP stack with the bridge, not the tap, as interface, and the kernel here has no
// conntrack for the bridge family, which a tap-keyed, stateful filter would need.
// DHCP, the metadata service and DNS on the box's router address are always allowed,
// as in EC2; ARP is not IP and never reaches this table.
//
// It acts in the network namespace of the Conn it is given (the box's own).
package firewall

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// TableName is the inet table the firewall owns; nothing else should write to it.
const TableName = "banyan"

// MetadataAddr is the instance metadata service's address, always reachable on port 80.
var MetadataAddr = netip.AddrFrom4([4]byte{169, 254, 169, 254})

// Rule permits one kind of traffic: a protocol, a port range, and a peer (the source of
// ingress traffic, the destination of egress traffic).
type Rule struct {
	// Protocol is "-1" (all), "tcp", "udp", "icmp", or an IP protocol number.
	Protocol string
	// FromPort-ToPort is the port range for tcp and udp (0-65535 or -1 for all); for
	// icmp, FromPort is the type and ToPort the code (-1: any).
	FromPort, ToPort int32
	// The peer: CIDR when valid, else the named address Set.
	CIDR netip.Prefix
	Set  string
}

// Interface is one instance's network interface on this box.
type Interface struct {
	// Name names the interface's chains (in-NAME, out-NAME): letters, digits, - and _.
	Name    string
	Addr    netip.Addr // its private IPv4 address
	Ingress []Rule
	Egress  []Rule
	// Network, when set, names the Set of the private addresses of the instances in the
	// instance's own network (its account's): traffic to or from any other address of
	// Ruleset.Instances but the router is dropped before its groups are asked, whatever
	// they allow, as between two VPCs.
	Network string
}

// Ruleset is everything the box's table holds.
type Ruleset struct {
	Interfaces []Interface
	// Sets are the named address sets source-group rules refer to (group ID → members).
	Sets map[string][]netip.Addr
	// Router is the box's address on the instances' subnet (DHCP and DNS), if any.
	Router netip.Addr
	// Instances is the block every instance's private address is in (172.31.0.0/16);
	// with Interface.Network it keeps networks apart.
	Instances netip.Prefix
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,200}$`)

// Validate checks that the ruleset can be programmed.
func (rs *Ruleset) Validate() error {
	seen := map[string]bool{}
	for _, it := range rs.Interfaces {
		if !nameRE.MatchString(it.Name) {
			return fmt.Errorf("firewall: bad interface name %q", it.Name)
		}
		if seen[it.Name] {
			return fmt.Errorf("firewall: interface %q twice", it.Name)
		}
		seen[it.Name] = true
		if !it.Addr.Is4() {
			return fmt.Errorf("firewall: interface %s has no IPv4 address", it.Name)
		}
		for _, r := range append(append([]Rule{}, it.Ingress...), it.Egress...) {
			if _, err := protoNumber(r.Protocol); err != nil {
				return err
			}
			if r.CIDR.IsValid() {
				if !r.CIDR.Addr().Is4() {
					return fmt.Errorf("firewall: %s is not an IPv4 CIDR", r.CIDR)
				}
			} else if _, ok := rs.Sets[r.Set]; !ok {
				return fmt.Errorf("firewall: interface %s refers to unknown set %q", it.Name, r.Set)
			}
		}
	}
	for name, members := range rs.Sets {
		if !nameRE.MatchString(name) {
			return fmt.Errorf("firewall: bad set name %q", name)
		}
		for _, a := range members {
			if !a.Is4() {
				return fmt.Errorf("firewall: set %s: %s is not IPv4", name, a)
			}
		}
	}
	return nil
}

func protoNumber(p string) (int, error) {
	switch strings.ToLower(p) {
	case "-1", "all":
		return -1, nil
	case "tcp":
		return unix.IPPROTO_TCP, nil
	case "udp":
		return unix.IPPROTO_UDP, nil
	case "icmp":
		return unix.IPPROTO_ICMP, nil
	}
	n, err := strconv.Atoi(p)
	if err != nil || n < 0 || n > 255 {
		return 0, fmt.Errorf("firewall: unknown protocol %q", p)
	}
	return n, nil
}

// rule is one nftables rule as expressions and as nft's text, built side by side so
// that what is tested (the text) is what is programmed.
type rule struct {
	exprs []expr.Any
	text  []string
}

func (r *rule) add(text string, e ...expr.Any) *rule {
	r.exprs = append(r.exprs, e...)
	if text != "" {
		r.text = append(r.text, text)
	}
	return r
}

func (r *rule) String() string { return strings.Join(r.text, " ") }

func cmpEq(data []byte) *expr.Cmp { return &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: data} }

// ipv4 matches IPv4 packets (an inet table sees IPv6 too).
func (r *rule) ipv4() *rule {
	return r.add("", &expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1}, cmpEq([]byte{unix.NFPROTO_IPV4}))
}

const (
	offSaddr = 12
	offDaddr = 16
)

func addrField(off uint32) string {
	if off == offSaddr {
		return "ip saddr"
	}
	return "ip daddr"
}

func (r *rule) addr(off uint32, a netip.Addr) *rule {
	b := a.As4()
	return r.add(addrField(off)+" "+a.String(),
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: off, Len: 4}, cmpEq(b[:]))
}

func (r *rule) prefix(off uint32, p netip.Prefix) *rule {
	p = p.Masked()
	if p.Bits() == 0 {
		return r
	}
	if p.Bits() == 32 {
		return r.addr(off, p.Addr())
	}
	mask := binary.BigEndian.AppendUint32(nil, ^uint32(0)<<(32-p.Bits()))
	b := p.Addr().As4()
	return r.add(addrField(off)+" "+p.String(),
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: off, Len: 4},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: mask, Xor: []byte{0, 0, 0, 0}},
		cmpEq(b[:]))
}

func (r *rule) set(off uint32, s *nftables.Set) *rule {
	return r.add(addrField(off)+" @"+s.Name,
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: off, Len: 4},
		&expr.Lookup{SourceRegister: 1, SetName: s.Name, SetID: s.ID})
}

func (r *rule) notInSet(off uint32, s *nftables.Set) *rule {
	return r.add(addrField(off)+" != @"+s.Name,
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: off, Len: 4},
		&expr.Lookup{SourceRegister: 1, SetName: s.Name, SetID: s.ID, Invert: true})
}

func (r *rule) addrNot(off uint32, a netip.Addr) *rule {
	b := a.As4()
	return r.add(addrField(off)+" != "+a.String(),
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: off, Len: 4},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: b[:]})
}

func protoName(n int) string {
	switch n {
	case unix.IPPROTO_TCP:
		return "tcp"
	case unix.IPPROTO_UDP:
		return "udp"
	case unix.IPPROTO_ICMP:
		return "icmp"
	}
	return strconv.Itoa(n)
}

func (r *rule) l4proto(n int) *rule {
	return r.add("meta l4proto "+protoName(n), &expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1}, cmpEq([]byte{byte(n)}))
}

// port matches a transport port range (offset 0: source, 2: destination).
func (r *rule) port(proto int, off uint32, from, to uint16) *rule {
	field := protoName(proto) + " dport "
	if off == 0 {
		field = protoName(proto) + " sport "
	}
	load := &expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: off, Len: 2}
	if from == to {
		return r.add(field+strconv.Itoa(int(from)), load, cmpEq(binaryutil.BigEndian.PutUint16(from)))
	}
	return r.add(fmt.Sprintf("%s%d-%d", field, from, to), load,
		&expr.Cmp{Op: expr.CmpOpGte, Register: 1, Data: binaryutil.BigEndian.PutUint16(from)},
		&expr.Cmp{Op: expr.CmpOpLte, Register: 1, Data: binaryutil.BigEndian.PutUint16(to)})
}

func (r *rule) icmp(typ, code int32) *rule {
	if typ >= 0 && typ <= 255 {
		r.add("icmp type "+strconv.Itoa(int(typ)),
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 0, Len: 1}, cmpEq([]byte{byte(typ)}))
		if code >= 0 && code <= 255 {
			r.add("icmp code "+strconv.Itoa(int(code)),
				&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 1, Len: 1}, cmpEq([]byte{byte(code)}))
		}
	}
	return r
}

func (r *rule) ctState(bits uint32, text string) *rule {
	return r.add("ct state "+text,
		&expr.Ct{Register: 1, Key: expr.CtKeySTATE},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: binaryutil.NativeEndian.PutUint32(bits), Xor: binaryutil.NativeEndian.PutUint32(0)},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(0)})
}

func (r *rule) verdict(k expr.VerdictKind, chain string) *rule {
	text := map[expr.VerdictKind]string{expr.VerdictAccept: "accept", expr.VerdictDrop: "drop", expr.VerdictReturn: "return", expr.VerdictJump: "jump " + chain}[k]
	return r.add(text, &expr.Verdict{Kind: k, Chain: chain})
}

// permit is one group rule; peerOff is where the peer's address is (source for
// ingress, destination for egress).
func permit(g Rule, peerOff uint32, sets map[string]*nftables.Set) *rule {
	r := (&rule{}).ipv4()
	if g.CIDR.IsValid() {
		r.prefix(peerOff, g.CIDR)
	} else {
		r.set(peerOff, sets[g.Set])
	}
	n, _ := protoNumber(g.Protocol)
	if n >= 0 {
		r.l4proto(n)
		switch n {
		case unix.IPPROTO_TCP, unix.IPPROTO_UDP:
			from, to := g.FromPort, g.ToPort
			if from < 0 || to < 0 {
				from, to = 0, 65535
			}
			from, to = max(from, 0), min(to, 65535)
			if from != 0 || to != 65535 {
				r.port(n, 2, uint16(from), uint16(to))
			}
		case unix.IPPROTO_ICMP:
			r.icmp(g.FromPort, g.ToPort)
		}
	}
	return r.verdict(expr.VerdictReturn, "")
}

// chainSpec is one chain to program: base chains have a hook.
type chainSpec struct {
	name  string
	hook  *nftables.ChainHook
	rules []*rule
}

// plan turns a ruleset into chains; sets must already carry their names (and, when
// programming, their IDs).
func plan(rs *Ruleset, sets map[string]*nftables.Set) []chainSpec {
	ifs := append([]Interface{}, rs.Interfaces...)
	sort.Slice(ifs, func(i, j int) bool { return ifs[i].Name < ifs[j].Name })
	input := chainSpec{name: "input", hook: nftables.ChainHookInput}
	forward := chainSpec{name: "forward", hook: nftables.ChainHookForward}
	output := chainSpec{name: "output", hook: nftables.ChainHookOutput}
	var perIf []chainSpec
	for _, it := range ifs {
		in, out := "in-"+it.Name, "out-"+it.Name
		// What the instance sends: to the box (input) or through it (forward).
		input.rules = append(input.rules, (&rule{}).ipv4().addr(offSaddr, it.Addr).verdict(expr.VerdictJump, out))
		forward.rules = append(forward.rules, (&rule{}).ipv4().addr(offSaddr, it.Addr).verdict(expr.VerdictJump, out))
		// What reaches it: through the box (forward) or from the box itself (output).
		forward.rules = append(forward.rules, (&rule{}).ipv4().addr(offDaddr, it.Addr).verdict(expr.VerdictJump, in))
		output.rules = append(output.rules, (&rule{}).ipv4().addr(offDaddr, it.Addr).verdict(expr.VerdictJump, in))

		ing := chainSpec{name: in, rules: isolate(rs, it, offSaddr, sets)}
		ing.rules = append(ing.rules, statefulHead()...)
		// The box's DHCP server answers the instance whatever its groups.
		ing.rules = append(ing.rules, (&rule{}).l4proto(unix.IPPROTO_UDP).port(unix.IPPROTO_UDP, 0, 67, 67).port(unix.IPPROTO_UDP, 2, 68, 68).verdict(expr.VerdictReturn, ""))
		for _, g := range it.Ingress {
			ing.rules = append(ing.rules, permit(g, offSaddr, sets))
		}
		ing.rules = append(ing.rules, (&rule{}).verdict(expr.VerdictDrop, ""))

		eg := chainSpec{name: out, rules: isolate(rs, it, offDaddr, sets)}
		eg.rules = append(eg.rules, statefulHead()...)
		// DHCP, the metadata service and the router's DNS, whatever the groups say.
		eg.rules = append(eg.rules, (&rule{}).l4proto(unix.IPPROTO_UDP).port(unix.IPPROTO_UDP, 2, 67, 67).verdict(expr.VerdictReturn, ""))
		eg.rules = append(eg.rules, (&rule{}).ipv4().addr(offDaddr, MetadataAddr).l4proto(unix.IPPROTO_TCP).port(unix.IPPROTO_TCP, 2, 80, 80).verdict(expr.VerdictReturn, ""))
		if rs.Router.Is4() {
			for _, p := range []int{unix.IPPROTO_UDP, unix.IPPROTO_TCP} {
				eg.rules = append(eg.rules, (&rule{}).ipv4().addr(offDaddr, rs.Router).l4proto(p).port(p, 2, 53, 53).verdict(expr.VerdictReturn, ""))
			}
		}
		for _, g := range it.Egress {
			eg.rules = append(eg.rules, permit(g, offDaddr, sets))
		}
		eg.rules = append(eg.rules, (&rule{}).verdict(expr.VerdictDrop, ""))
		perIf = append(perIf, ing, eg)
	}
	return append([]chainSpec{input, forward, output}, perIf...)
}

// isolate drops traffic between the interface and instances of other networks: the
// peer (source of ingress, destination of egress) is an instance address, not the
// router, and not in the interface's network.
func isolate(rs *Ruleset, it Interface, peerOff uint32, sets map[string]*nftables.Set) []*rule {
	set, ok := sets[it.Network]
	if it.Network == "" || !ok || !rs.Instances.IsValid() || rs.Instances.Bits() == 0 {
		return nil
	}
	r := (&rule{}).ipv4().prefix(peerOff, rs.Instances)
	if rs.Router.Is4() {
		r.addrNot(peerOff, rs.Router)
	}
	return []*rule{r.notInSet(peerOff, set).verdict(expr.VerdictDrop, "")}
}

func statefulHead() []*rule {
	return []*rule{
		(&rule{}).ctState(expr.CtStateBitESTABLISHED|expr.CtStateBitRELATED, "established,related").verdict(expr.VerdictAccept, ""),
		(&rule{}).ctState(expr.CtStateBitINVALID, "invalid").verdict(expr.VerdictDrop, ""),
	}
}

func setNames(rs *Ruleset) []string {
	var names []string
	for n := range rs.Sets {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Render is the ruleset in nft's syntax, as Apply programs it (for tests and logs).
func Render(rs *Ruleset) (string, error) {
	if err := rs.Validate(); err != nil {
		return "", err
	}
	sets := map[string]*nftables.Set{}
	var b strings.Builder
	fmt.Fprintf(&b, "table inet %s {\n", TableName)
	for _, n := range setNames(rs) {
		sets[n] = &nftables.Set{Name: n}
		var elems []string
		for _, a := range sortedAddrs(rs.Sets[n]) {
			elems = append(elems, a.String())
		}
		fmt.Fprintf(&b, "\tset %s {\n\t\ttype ipv4_addr\n", n)
		if len(elems) > 0 {
			fmt.Fprintf(&b, "\t\telements = { %s }\n", strings.Join(elems, ", "))
		}
		b.WriteString("\t}\n")
	}
	for _, c := range plan(rs, sets) {
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

func sortedAddrs(as []netip.Addr) []netip.Addr {
	out := append([]netip.Addr{}, as...)
	sort.Slice(out, func(i, j int) bool { return out[i].Less(out[j]) })
	// Repeats would make the kernel refuse the set.
	n := 0
	for i, a := range out {
		if i == 0 || a != out[n-1] {
			out[n] = a
			n++
		}
	}
	return out[:n]
}

// Apply replaces the box's table with the ruleset, in one netlink batch: the table is
// added (so that deleting it cannot fail), deleted, and built again, all or nothing.
func Apply(c *nftables.Conn, rs *Ruleset) error {
	if err := rs.Validate(); err != nil {
		return err
	}
	t := &nftables.Table{Name: TableName, Family: nftables.TableFamilyINet}
	c.AddTable(t)
	c.DelTable(t)
	c.AddTable(t)
	sets := map[string]*nftables.Set{}
	for _, n := range setNames(rs) {
		s := &nftables.Set{Table: t, Name: n, KeyType: nftables.TypeIPAddr}
		var elems []nftables.SetElement
		for _, a := range sortedAddrs(rs.Sets[n]) {
			b := a.As4()
			elems = append(elems, nftables.SetElement{Key: b[:]})
		}
		if err := c.AddSet(s, elems); err != nil {
			return fmt.Errorf("firewall: set %s: %w", n, err)
		}
		sets[n] = s
	}
	addChains(c, t, plan(rs, sets), nftables.ChainPriorityFilter)
	if err := c.Flush(); err != nil {
		return fmt.Errorf("firewall: programming table inet %s: %w", TableName, err)
	}
	return nil
}

// addChains queues the chains and their rules into table t, base chains (those with a
// hook) as filter chains at prio with an accept policy; every chain exists before any
// rule jumps to it.
func addChains(c *nftables.Conn, t *nftables.Table, chains []chainSpec, prio *nftables.ChainPriority) {
	accept := nftables.ChainPolicyAccept
	made := map[string]*nftables.Chain{}
	for _, cs := range chains {
		ch := &nftables.Chain{Name: cs.name, Table: t}
		if cs.hook != nil {
			ch.Type, ch.Hooknum, ch.Priority, ch.Policy = nftables.ChainTypeFilter, cs.hook, prio, &accept
		}
		made[cs.name] = c.AddChain(ch)
	}
	for _, cs := range chains {
		for _, r := range cs.rules {
			c.AddRule(&nftables.Rule{Table: t, Chain: made[cs.name], Exprs: r.exprs})
		}
	}
}

// removeTable deletes table t, if it is there.
func removeTable(c *nftables.Conn, t *nftables.Table, family string) error {
	c.AddTable(t)
	c.DelTable(t)
	if err := c.Flush(); err != nil {
		return fmt.Errorf("firewall: removing table %s %s: %w", family, t.Name, err)
	}
	return nil
}

// Remove deletes the box's table, if it is there.
func Remove(c *nftables.Conn) error {
	return removeTable(c, &nftables.Table{Name: TableName, Family: nftables.TableFamilyINet}, "inet")
}
