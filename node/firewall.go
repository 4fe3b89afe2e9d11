package node

import (
	"context"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	"github.com/google/nftables"

	"github.com/banyancloud/banyan/cluster/state"
	"github.com/banyancloud/banyan/netctl/firewall"
)

// firewallController enforces the security groups of the instances placed on this box:
// it computes the box's whole ruleset from the local replica (every instance and group,
// since a source-group rule stands for its members wherever they run) and programs it
// with netctl/firewall when it differs from what it last programmed. It has one key:
// the ruleset is replaced whole, atomically, on every change of an instance or a group.
type firewallController struct {
	node   clusterView
	router netip.Addr // the zone subnet's router on this box's bridge
	log    *slog.Logger

	mu          sync.Mutex
	cancelWatch context.CancelFunc
	applied     string
	appliedAt   time.Time
	// program applies a ruleset (firewall.Apply on this box's namespace; tests replace it).
	program func(*firewall.Ruleset) error
}

const firewallKey = "ruleset"

func newFirewallController(node clusterView, router netip.Addr, log *slog.Logger) *firewallController {
	c := &firewallController{node: node, router: router, log: log}
	c.program = func(rs *firewall.Ruleset) error {
		conn, err := nftables.New()
		if err != nil {
			return err
		}
		return firewall.Apply(conn, rs)
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
	text, err := firewall.Render(rs)
	if err != nil {
		return err
	}
	c.mu.Lock()
	same := text == c.applied && time.Since(c.appliedAt) < 30*time.Second
	c.mu.Unlock()
	if same {
		return nil
	}
	start := time.Now()
	if err := c.program(rs); err != nil {
		return err
	}
	c.mu.Lock()
	changed := text != c.applied
	c.applied, c.appliedAt = text, time.Now()
	c.mu.Unlock()
	if changed {
		c.log.Info("firewall programmed", "interfaces", len(rs.Interfaces), "sets", len(rs.Sets), "took", time.Since(start))
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
