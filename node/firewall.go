package node

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/google/nftables"

	"github.com/banyancloud/banyan/cluster/state"
	"github.com/banyancloud/banyan/netctl/firewall"
	"github.com/banyancloud/banyan/netctl/overlay"
)

// firewallController enforces the security groups of the instances placed on this box:
// it computes the box's whole ruleset from the local replica (every instance and group,
// since a source-group rule stands for its members wherever they run) and programs it
// with netctl/firewall when it differs from what it last programmed, together with the
// anti-spoofing guard that keeps each local instance, at its tap, to its own MAC and
// address (which the address-keyed ruleset relies on). It has one key: both tables are
// replaced whole, each atomically, on every change of an instance or a group.
type firewallController struct {
	node   clusterView
	router netip.Addr // the zone subnet's router on this box's bridge
	log    *slog.Logger

	mu          sync.Mutex
	cancelWatch context.CancelFunc
	applied     string
	appliedAt   time.Time
	// program applies a ruleset and a guard (firewall.Apply and ApplyGuard on this box's
	// namespace; tests replace it).
	program func(*firewall.Ruleset, *firewall.Guard) error
}

// tapPrefix begins the name of every instance's tap device (instanceTap): the guard drops
// what comes in by a tap of that name it was not told of.
const tapPrefix = "bnyt"

// instanceTap is the host name of an instance's tap device: tapPrefix and 11 hex digits
// of a hash of the instance ID (interface names have at most 15 bytes).
func instanceTap(id string) string {
	h := sha256.Sum256([]byte(id))
	return tapPrefix + hex.EncodeToString(h[:])[:11]
}

const firewallKey = "ruleset"

func newFirewallController(node clusterView, router netip.Addr, log *slog.Logger) *firewallController {
	c := &firewallController{node: node, router: router, log: log}
	c.program = func(rs *firewall.Ruleset, g *firewall.Guard) error {
		conn, err := nftables.New()
		if err != nil {
			return err
		}
		if err := firewall.Apply(conn, rs); err != nil {
			return err
		}
		return firewall.ApplyGuard(conn, g)
	}
	return c
}

func (c *firewallController) Name() string { return "firewall" }

// Keys watches the instances and groups tables; the previous watch ends with each call.
func (c *firewallController) Keys(ctx context.Context) ([]string, <-chan struct{}, error) {
	wctx, cancel := context.WithCancel(ctx)
	c.mu.Lock()
	if c.cancelWatch != nil {
		c.cancelWatch()
	}
	c.cancelWatch = cancel
	c.mu.Unlock()
	v, err := c.node.State().Firewall(wctx)
	if err != nil {
		return nil, nil, err
	}
	return []string{firewallKey}, v.Changed, nil
}

func (c *firewallController) Reconcile(ctx context.Context, key string) error {
	v, err := c.node.State().Firewall(nil)
	if err != nil {
		return err
	}
	rs := boxRuleset(v, c.node.Name(), c.router)
	g := boxGuard(v, c.node.Name())
	text, err := firewall.Render(rs)
	if err != nil {
		return err
	}
	gtext, err := firewall.RenderGuard(g)
	if err != nil {
		return err
	}
	text += gtext
	c.mu.Lock()
	same := text == c.applied && time.Since(c.appliedAt) < 30*time.Second
	c.mu.Unlock()
	if same {
		return nil
	}
	start := time.Now()
	if err := c.program(rs, g); err != nil {
		return err
	}
	c.mu.Lock()
	changed := text != c.applied
	c.applied, c.appliedAt = text, time.Now()
	c.mu.Unlock()
	if changed {
		c.log.Info("firewall programmed", "interfaces", len(rs.Interfaces), "sets", len(rs.Sets), "guarded_ports", len(g.Ports), "took", time.Since(start))
	}
	return nil
}

// boxRuleset is the firewall of box me: a chain pair for each live instance placed
// here, with the union of its groups' rules, and an address set for each group a rule
// refers to, holding its members' private addresses.
func boxRuleset(v *state.FirewallView, me string, router netip.Addr) *firewall.Ruleset {
	rs := &firewall.Ruleset{Router: router, Sets: map[string][]netip.Addr{}, Instances: instancesPrefix}
	members := map[string][]netip.Addr{}
	networks := map[string][]netip.Addr{} // account → its instances' addresses
	for _, in := range v.Instances {
		a, err := netip.ParseAddr(in.PrivateIP)
		if in.State == state.InstanceTerminated || err != nil || !a.Is4() {
			continue
		}
		for _, g := range in.GroupIDs() {
			members[g] = append(members[g], a)
		}
		networks[in.Account] = append(networks[in.Account], a)
	}
	convert := func(rules []state.SecurityGroupRule) []firewall.Rule {
		var out []firewall.Rule
		for _, r := range rules {
			fr := firewall.Rule{Protocol: r.Protocol, FromPort: r.FromPort, ToPort: r.ToPort}
			if r.CIDR != "" {
				p, err := netip.ParsePrefix(r.CIDR)
				if err != nil || !p.Addr().Is4() {
					continue
				}
				fr.CIDR = p
			} else {
				fr.Set = r.Group
				rs.Sets[r.Group] = members[r.Group]
			}
			out = append(out, fr)
		}
		return out
	}
	for _, in := range v.Instances {
		a, err := netip.ParseAddr(in.PrivateIP)
		if in.Node != me || in.State == state.InstanceTerminated || err != nil || !a.Is4() {
			continue
		}
		// Each account's instances are a network of their own (its default VPC): no
		// group rule lets another account's instances in or out.
		network := "net-" + in.Account
		rs.Sets[network] = networks[in.Account]
		it := firewall.Interface{Name: in.ID, Addr: a, Network: network}
		for _, gid := range in.GroupIDs() {
			g, ok := v.Groups[gid]
			if !ok && gid == state.DefaultSecurityGroupID(in.Account) {
				d := state.DefaultSecurityGroup(in.Account)
				g, ok = &d, true
			}
			if !ok {
				continue // a group that is gone admits nothing
			}
			it.Ingress = append(it.Ingress, convert(g.Ingress)...)
			it.Egress = append(it.Egress, convert(g.Egress)...)
		}
		rs.Interfaces = append(rs.Interfaces, it)
	}
	return rs
}

// boxGuard is the anti-spoofing guard of box me: a port for each live instance placed
// here, its tap (instanceTap) held to its MAC and private address; other boxes'
// instances come in by the overlay's VXLAN port, guarded on their own boxes.
func boxGuard(v *state.FirewallView, me string) *firewall.Guard {
	g := &firewall.Guard{TapPrefix: tapPrefix, Trusted: []string{overlay.DefaultName}}
	macs, addrs := map[string]bool{}, map[netip.Addr]bool{}
	for _, in := range v.Instances {
		a, aerr := netip.ParseAddr(in.PrivateIP)
		mac, merr := net.ParseMAC(in.MAC)
		if in.Node != me || in.State == state.InstanceTerminated || aerr != nil || merr != nil || !a.Is4() {
			continue
		}
		if macs[mac.String()] || addrs[a] {
			continue // the state allows neither twice; never program what the guard refuses
		}
		macs[mac.String()], addrs[a] = true, true
		g.Ports = append(g.Ports, firewall.Port{Iface: instanceTap(in.ID), MAC: mac, Addr: a})
	}
	return g
}
