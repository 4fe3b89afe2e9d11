package node

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/banyancloud/banyan/cluster/state"
	"github.com/banyancloud/banyan/netctl"
	"github.com/banyancloud/banyan/netctl/dhcp"
	"github.com/banyancloud/banyan/netctl/imds"
)

// startNetwork brings up what this box's instances need to boot: the bridge with the
// zone's router address and the metadata address, a DHCP server handing each instance
// placed here its fixed address, and the metadata service. Everything it answers comes
// from the local replica; nothing on these paths touches Raft.
func (c *Compute) startNetwork(ctx context.Context, region string) error {
	gw, err := netctl.Gateway(c.cfg.Zone)
	if err != nil {
		return err
	}
	did, err := netctl.EnsureBridge(c.cfg.Bridge, gw)
	if err != nil {
		return fmt.Errorf("instance bridge %s: %w", c.cfg.Bridge, err)
	}
	for _, d := range did {
		c.log.Info("instance network: " + d)
	}
	if err := netctl.FilterBridgedTraffic(); err != nil {
		c.log.Warn("instance network: traffic between instances on one layer 2 (same box, or over the overlay) is not filtered by security groups", "err", err)
	}
	st := c.cfg.Node.State()
	me := c.cfg.Node.Name()
	lookup := func(mac net.HardwareAddr) (dhcp.Lease, bool) {
		ins, _, err := st.InstancesOn(me)
		if err != nil {
			return dhcp.Lease{}, false
		}
		for _, in := range ins {
			if in.State != state.InstanceTerminated && strings.EqualFold(in.MAC, mac.String()) && in.PrivateIP != "" {
				l, err := dhcp.LeaseFor(in)
				return l, err == nil
			}
		}
		return dhcp.Lease{}, false
	}
	ds, err := dhcp.New(dhcp.Config{Interface: c.cfg.Bridge, ServerIP: gw.Addr(), Lookup: lookup, Region: region, MTU: instanceMTU, Log: c.log})
	if err != nil {
		return fmt.Errorf("DHCP on %s: %w", c.cfg.Bridge, err)
	}
	go ds.Serve()
	md, err := imds.New(imds.Config{Region: region, Log: c.log,
		Instance: func(ip netip.Addr) (*state.Instance, bool) {
			in, err := st.InstanceByIP(ip.String())
			return in, err == nil && in.Node == me
		},
		PublicIP: func(id string) (netip.Addr, bool) {
			a, ok := st.InstanceAddress(id)
			if !ok {
				return netip.Addr{}, false
			}
			ip, err := netip.ParseAddr(a.PublicIP)
			return ip, err == nil
		},
		KeyPair: func(account, name string) (*state.KeyPair, bool) {
			k, err := st.KeyPair(account, name)
			return k, err == nil
		}})
	if err != nil {
		ds.Close()
		return err
	}
	l, err := imds.Listen(c.cfg.Bridge)
	if err != nil {
		ds.Close()
		return fmt.Errorf("metadata service: %w", err)
	}
	go md.Serve(ctx, l)
	go func() { <-ctx.Done(); ds.Close() }()
	return nil
}
