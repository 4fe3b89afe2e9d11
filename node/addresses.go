package node

import (
	"context"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"

	"github.com/banyancloud/banyan/cluster/state"
	"github.com/banyancloud/banyan/netctl"
	"github.com/banyancloud/banyan/netctl/nat"
)

// natController answers for the Elastic IP addresses of the instances placed on this
// box: it computes, from the local replica, which public addresses map to which of this
// box's instances and makes the box match, whole: the NAT table replaced (netctl/nat),
// the public addresses on the uplink exactly those (added ones announced with a
// gratuitous ARP, so the LAN follows an address that moved here from another box), and
// the flows of a mapping that changed forgotten. An address that moves away (another
// instance, or the instance restarted elsewhere: its Node changes) leaves this box on
// the same change. It has one key, like the firewall. The uplink's addresses are leased
// (addressLease), renewed on every reconcile.
type natController struct {
	node   clusterView
	uplink string // "" for the interface of the default route
	bridge string
	log    *slog.Logger

	mu          sync.Mutex
	cancelWatch context.CancelFunc
	applied     string
	appliedAt   time.Time
	held        map[netip.Addr]netip.Addr // public → private as last programmed

	// The box's side, replaced by tests.
	program       func(*nat.Ruleset) error
	sync          func(uplink string, want []netip.Addr, ours func(netip.Addr) bool) (added, removed []netip.Addr, err error)
	announce      func(uplink string, ip netip.Addr) error
	forget        func(nat.Mapping) error
	defaultUplink func() (string, error)
	forwarding    func() error
	reannounce    time.Duration // a second announcement this long after the first (0: none)
}

const natKey = "nat"

// The public addresses on the uplink are leased: each reconcile (on every change, and
// every natResync) gives them addressLease from now, so the kernel drops the addresses
// (and with them their DNAT) of a box whose agent died within addressLease, before the
// cluster restarts its instances elsewhere (compute.recovery_after, 30 s by default), and
// a VM that outlived its agent is no longer reachable at its public address.
const (
	addressLease = 15 * time.Second
	natResync    = 5 * time.Second
)

// instancesPrefix is the default VPC's block, where every instance's private address is.
var instancesPrefix = netip.MustParsePrefix("172.31.0.0/16")

func newNATController(node clusterView, uplink, bridge string, log *slog.Logger) *natController {
	c := &natController{node: node, uplink: uplink, bridge: bridge, log: log, held: map[netip.Addr]netip.Addr{}, reannounce: time.Second}
	c.program = func(rs *nat.Ruleset) error {
		conn, err := nftables.New()
		if err != nil {
			return err
		}
		return nat.Apply(conn, rs)
	}
	c.sync = func(uplink string, want []netip.Addr, ours func(netip.Addr) bool) ([]netip.Addr, []netip.Addr, error) {
		h, err := netlink.NewHandle()
		if err != nil {
			return nil, nil, err
		}
		defer h.Close()
		return nat.SyncAddresses(h, uplink, want, ours, addressLease)
	}
	c.announce = nat.Announce
	c.forget = func(m nat.Mapping) error {
		h, err := netlink.NewHandle()
		if err != nil {
			return err
		}
		defer h.Close()
		return nat.ForgetFlows(h, m)
	}
	c.defaultUplink = func() (string, error) {
		h, err := netlink.NewHandle()
		if err != nil {
			return "", err
		}
		defer h.Close()
		return nat.DefaultUplink(h)
	}
	c.forwarding = netctl.EnableForwarding
	return c
}

func (c *natController) Name() string { return "nat" }

// Keys watches the addresses, the instances and the pool; the previous watch ends with
// each call.
func (c *natController) Keys(ctx context.Context) ([]string, <-chan struct{}, error) {
	wctx, cancel := context.WithCancel(ctx)
	c.mu.Lock()
	if c.cancelWatch != nil {
		c.cancelWatch()
	}
	c.cancelWatch = cancel
	c.mu.Unlock()
	v, err := c.node.State().NAT(wctx, c.node.Name())
	if err != nil {
		return nil, nil, err
	}
	return []string{natKey}, v.Changed, nil
}

// boxNAT is the NAT of this box from the view: its mappings, and which uplink
// addresses are the NAT's to manage (the pool's and every allocated address).
func boxNAT(v *state.NATView, uplink, bridge string) (*nat.Ruleset, func(netip.Addr) bool) {
	rs := &nat.Ruleset{Uplink: uplink, Bridge: bridge, Instances: instancesPrefix}
	seenPub, seenPriv := map[netip.Addr]bool{}, map[netip.Addr]bool{}
	for _, m := range v.Mappings {
		if seenPub[m.PublicIP] || seenPriv[m.PrivateIP] {
			continue // the state allows neither; never program what the kernel would refuse
		}
		seenPub[m.PublicIP], seenPriv[m.PrivateIP] = true, true
		rs.Mappings = append(rs.Mappings, nat.Mapping{Public: m.PublicIP, Private: m.PrivateIP})
	}
	allocated := map[netip.Addr]bool{}
	for _, a := range v.Allocated {
		allocated[a] = true
	}
	pool := slices.Clone(v.Pool)
	ours := func(a netip.Addr) bool {
		if allocated[a] {
			return true
		}
		for _, p := range pool {
			if p.Contains(a) {
				return true
			}
		}
		return false
	}
	return rs, ours
}

func (c *natController) Reconcile(ctx context.Context, key string) error {
	v, err := c.node.State().NAT(nil, c.node.Name())
	if err != nil {
		return err
	}
	uplink := c.uplink
	if uplink == "" {
		if uplink, err = c.defaultUplink(); err != nil {
			if len(v.Mappings) == 0 {
				return nil // nothing to answer for yet; say it when there is
			}
			return err
		}
	}
	rs, ours := boxNAT(v, uplink, c.bridge)
	text, err := nat.Render(rs)
	if err != nil {
		return err
	}
	next := map[netip.Addr]netip.Addr{}
	var want []netip.Addr
	for _, m := range rs.Mappings {
		next[m.Public] = m.Private
		want = append(want, m.Public)
	}
	if len(want) > 0 {
		if err := c.forwarding(); err != nil {
			return err
		}
	}
	c.mu.Lock()
	same := text == c.applied && time.Since(c.appliedAt) < 30*time.Second
	held := c.held
	c.mu.Unlock()
	if !same {
		if err := c.program(rs); err != nil {
			return err
		}
	}
	added, removed, err := c.sync(uplink, want, ours)
	if err != nil {
		return err
	}
	// Flows of a mapping that changed or went would keep the old translation.
	for pub, priv := range held {
		if next[pub] != priv {
			if err := c.forget(nat.Mapping{Public: pub, Private: priv}); err != nil {
				c.log.Warn("cannot forget the flows of a public address that moved; they keep the old mapping until they time out", "address", pub, "err", err)
			}
		}
	}
	for _, a := range added {
		if err := c.announce(uplink, a); err != nil {
			c.log.Warn("cannot announce a public address; the LAN learns it when its neighbour entry expires", "address", a, "err", err)
			continue
		}
		if c.reannounce > 0 { // once more a moment later, for a LAN that missed the first one
			time.AfterFunc(c.reannounce, func() { c.announce(uplink, a) })
		}
	}
	c.mu.Lock()
	c.applied, c.appliedAt, c.held = text, time.Now(), next
	c.mu.Unlock()
	if !same || len(added) > 0 || len(removed) > 0 {
		c.log.Info("public addresses programmed", "uplink", uplink, "mappings", len(rs.Mappings), "added", added, "removed", removed)
	}
	return nil
}
