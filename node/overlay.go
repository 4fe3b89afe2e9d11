package node

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"

	"github.com/vishvananda/netlink"

	"github.com/banyancloud/banyan/cluster/state"
	"github.com/banyancloud/banyan/netctl"
	"github.com/banyancloud/banyan/netctl/overlay"
)

// overlayController joins this box's instance bridge to the other boxes' (netctl/overlay):
// a VXLAN port on the bridge, and for every instance placed on another box, of this zone
// or another, a forwarding entry to that box and an ARP answer, from the local replica;
// the block of every instance address is routed onto the bridge, so instances of other
// zones' subnets are reached through the box as their router. An instance that moves
// (a recovery on another box, cluster/state/recovery.go) moves its entries with it,
// keeping its address. One key, like the firewall.
type overlayController struct {
	node   clusterView
	bridge string
	log    *slog.Logger

	mu          sync.Mutex
	cancelWatch context.CancelFunc

	// The box's side, replaced by tests.
	ensure     func(overlay.Device) ([]string, error)
	sync       func(overlay.Device, []overlay.Peer) (added, removed int, err error)
	forwarding func() error
}

const overlayKey = "overlay"

// instanceMTU is the MTU instances are offered (DHCP option 26) so that their frames fit
// a 1500-byte underlay with VXLAN's header.
const instanceMTU = 1500 - overlay.Overhead

func newOverlayController(node clusterView, bridge string, log *slog.Logger) *overlayController {
	c := &overlayController{node: node, bridge: bridge, log: log, forwarding: netctl.EnableForwarding}
	c.ensure = func(d overlay.Device) ([]string, error) {
		h, err := netlink.NewHandle()
		if err != nil {
			return nil, err
		}
		defer h.Close()
		return overlay.Ensure(h, d)
	}
	c.sync = func(d overlay.Device, peers []overlay.Peer) (int, int, error) {
		h, err := netlink.NewHandle()
		if err != nil {
			return 0, 0, err
		}
		defer h.Close()
		return overlay.Sync(h, d, peers)
	}
	return c
}

func (c *overlayController) Name() string { return "overlay" }

// Keys watches the instances; the previous watch ends with each call. A box that moves
// to another address is picked up by the periodic resync.
func (c *overlayController) Keys(ctx context.Context) ([]string, <-chan struct{}, error) {
	wctx, cancel := context.WithCancel(ctx)
	c.mu.Lock()
	if c.cancelWatch != nil {
		c.cancelWatch()
	}
	c.cancelWatch = cancel
	c.mu.Unlock()
	v, err := c.node.State().DNS(wctx, "")
	if err != nil {
		return nil, nil, err
	}
	return []string{overlayKey}, v.Changed, nil
}

// boxPeers lists the instances placed on other boxes, with those boxes' underlay
// addresses (the host of their node RPC address), and this box's own underlay address.
func boxPeers(st *state.Store, instances []*state.Instance, me string) (netip.Addr, []overlay.Peer, error) {
	nodes, err := st.Nodes()
	if err != nil {
		return netip.Addr{}, nil, err
	}
	underlay := map[string]netip.Addr{}
	for _, n := range nodes {
		host, _, err := net.SplitHostPort(n.Addr)
		if err != nil {
			continue
		}
		if a, err := netip.ParseAddr(host); err == nil && a.Is4() {
			underlay[n.Name] = a
		}
	}
	local, ok := underlay[me]
	if !ok {
		return netip.Addr{}, nil, fmt.Errorf("this box (%s) has no IPv4 node address registered yet", me)
	}
	var peers []overlay.Peer
	for _, in := range instances {
		if in.Node == me || in.State == state.InstanceTerminated || in.PrivateIP == "" {
			continue
		}
		box, ok := underlay[in.Node]
		mac, merr := net.ParseMAC(in.MAC)
		ip, ierr := netip.ParseAddr(in.PrivateIP)
		if !ok || merr != nil || ierr != nil || box == local {
			continue
		}
		peers = append(peers, overlay.Peer{MAC: mac, IP: ip, Box: box})
	}
	return local, peers, nil
}

func (c *overlayController) Reconcile(ctx context.Context, key string) error {
	v, err := c.node.State().DNS(nil, "")
	if err != nil {
		return err
	}
	local, peers, err := boxPeers(c.node.State(), v.Instances, c.node.Name())
	if err != nil {
		return err
	}
	dev := overlay.Device{Local: local, Bridge: c.bridge, Routed: instancesPrefix}
	// The box routes its instances' traffic to other zones' subnets.
	if err := c.forwarding(); err != nil {
		return err
	}
	did, err := c.ensure(dev)
	for _, d := range did {
		c.log.Info("instance overlay: " + d)
	}
	if err != nil {
		return err
	}
	added, removed, err := c.sync(dev, peers)
	if err != nil {
		return err
	}
	if added+removed > 0 {
		c.log.Debug("instance overlay entries changed", "added", added, "removed", removed, "peers", len(peers))
	}
	return nil
}
