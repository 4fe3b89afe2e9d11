package netctl

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
)

// EnsureBridge makes the named Linux bridge ("" for DefaultBridge) exist in the calling
// thread's network namespace with exactly two IPv4 addresses, the zone subnet's router
// (gateway, e.g. 172.31.16.1/20) and MetadataAddr/32, and be up. It changes only what
// differs and returns what it did, one line per change (none when all was in place).
//
// A new bridge gets a fixed MAC derived from the gateway (0a:58 then the address), so
// the router's MAC does not follow the lowest port's as taps come and go, and a box's
// router answers with the same MAC after the bridge is recreated.
func EnsureBridge(name string, gateway netip.Prefix) ([]string, error) {
	h, err := netlink.NewHandle()
	if err != nil {
		return nil, fmt.Errorf("netlink: %w", err)
	}
	defer h.Close()
	return ensureBridge(h, name, gateway)
}

// RouterMAC is the MAC EnsureBridge gives a new bridge whose router address is gw.
func RouterMAC(gw netip.Addr) net.HardwareAddr {
	a := gw.As4()
	return net.HardwareAddr{0x0a, 0x58, a[0], a[1], a[2], a[3]}
}

func ensureBridge(h *netlink.Handle, name string, gateway netip.Prefix) ([]string, error) {
	if name == "" {
		name = DefaultBridge
	}
	if !gateway.Addr().Is4() || gateway.Bits() <= 0 || gateway.Bits() >= 31 || gateway.Masked().Addr() == gateway.Addr() {
		return nil, fmt.Errorf("bridge %s: gateway %s is not a host address with its subnet length", name, gateway)
	}
	var did []string
	link, err := h.LinkByName(name)
	if errors.As(err, &netlink.LinkNotFoundError{}) {
		br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: name, HardwareAddr: RouterMAC(gateway.Addr())}}
		if err := h.LinkAdd(br); err != nil {
			return did, fmt.Errorf("create bridge %s: %w", name, err)
		}
		did = append(did, "created bridge "+name)
		link, err = h.LinkByName(name)
	}
	if err != nil {
		return did, fmt.Errorf("bridge %s: %w", name, err)
	}
	if link.Type() != "bridge" {
		return did, fmt.Errorf("%s exists and is a %s, not a bridge", name, link.Type())
	}

	want := map[netip.Prefix]bool{gateway: true, netip.PrefixFrom(MetadataAddr, 32): true}
	addrs, err := h.AddrList(link, netlink.FAMILY_V4)
	if err != nil {
		return did, fmt.Errorf("bridge %s addresses: %w", name, err)
	}
	have := map[netip.Prefix]bool{}
	for _, a := range addrs {
		p, ok := prefixOf(a.IPNet)
		if ok && want[p] {
			have[p] = true
			continue
		}
		if err := h.AddrDel(link, &a); err != nil {
			return did, fmt.Errorf("bridge %s: remove %s: %w", name, a.IPNet, err)
		}
		did = append(did, fmt.Sprintf("removed %s from %s", a.IPNet, name))
	}
	for _, p := range []netip.Prefix{gateway, netip.PrefixFrom(MetadataAddr, 32)} {
		if have[p] {
			continue
		}
		a := &netlink.Addr{IPNet: &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), 32)}}
		if err := h.AddrAdd(link, a); err != nil {
			return did, fmt.Errorf("bridge %s: add %s: %w", name, p, err)
		}
		did = append(did, fmt.Sprintf("added %s to %s", p, name))
	}

	if link.Attrs().Flags&net.FlagUp == 0 {
		if err := h.LinkSetUp(link); err != nil {
			return did, fmt.Errorf("bridge %s up: %w", name, err)
		}
		did = append(did, "set "+name+" up")
	}
	return did, nil
}

func prefixOf(n *net.IPNet) (netip.Prefix, bool) {
	if n == nil {
		return netip.Prefix{}, false
	}
	a, ok := netip.AddrFromSlice(n.IP)
	if !ok {
		return netip.Prefix{}, false
	}
	bits, _ := n.Mask.Size()
	return netip.PrefixFrom(a.Unmap(), bits), true
}
