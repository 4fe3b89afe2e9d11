package nat

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// DefaultUplink is the interface of the IPv4 default route in h's namespace: where
// public addresses live unless the box names another.
func DefaultUplink(h *netlink.Handle) (string, error) {
	routes, err := h.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Table: unix.RT_TABLE_MAIN}, netlink.RT_FILTER_TABLE)
	if err != nil {
		return "", fmt.Errorf("nat: routes: %w", err)
	}
	for _, r := range routes {
		if r.Dst != nil {
			if ones, _ := r.Dst.Mask.Size(); ones != 0 {
				continue
			}
		}
		if r.LinkIndex == 0 {
			continue
		}
		l, err := h.LinkByIndex(r.LinkIndex)
		if err != nil {
			return "", fmt.Errorf("nat: default route's interface: %w", err)
		}
		return l.Attrs().Name, nil
	}
	return "", errors.New("nat: no IPv4 default route: name the uplink with --public-interface")
}

// SyncAddresses makes the uplink hold, as /32 addresses, exactly want among the
// addresses ours says are the NAT's (the pool's and every allocated public address):
// what is missing is added, what is ours and not wanted removed; other addresses are
// never touched. A lease above zero gives every wanted address that valid lifetime from
// now (renewing those already held), after which the kernel removes it unless a later
// call renews it again; zero adds them for good. It returns what it added and removed.
func SyncAddresses(h *netlink.Handle, uplink string, want []netip.Addr, ours func(netip.Addr) bool, lease time.Duration) (added, removed []netip.Addr, err error) {
	link, err := h.LinkByName(uplink)
	if err != nil {
		return nil, nil, fmt.Errorf("nat: uplink %s: %w", uplink, err)
	}
	have, err := h.AddrList(link, netlink.FAMILY_V4)
	if err != nil {
		return nil, nil, fmt.Errorf("nat: addresses of %s: %w", uplink, err)
	}
	wanted := map[netip.Addr]bool{}
	for _, a := range want {
		wanted[a] = true
	}
	held := map[netip.Addr]bool{}
	for _, a := range have {
		ip, ok := netip.AddrFromSlice(a.IP)
		if ones, _ := a.Mask.Size(); !ok || ones != 32 {
			continue
		}
		ip = ip.Unmap()
		if wanted[ip] {
			held[ip] = true
			continue
		}
		if ours(ip) {
			if err := h.AddrDel(link, &a); err != nil && !errors.Is(err, unix.EADDRNOTAVAIL) {
				return added, removed, fmt.Errorf("nat: remove %s from %s: %w", ip, uplink, err)
			}
			removed = append(removed, ip)
		}
	}
	secs := 0
	if lease > 0 {
		secs = max(1, int(lease.Round(time.Second)/time.Second))
	}
	for _, ip := range want {
		if held[ip] && secs == 0 {
			continue
		}
		a := &netlink.Addr{IPNet: &net.IPNet{IP: ip.AsSlice(), Mask: net.CIDRMask(32, 32)}, ValidLft: secs, PreferedLft: secs}
		if held[ip] {
			if err := h.AddrReplace(link, a); err != nil {
				return added, removed, fmt.Errorf("nat: renew %s on %s: %w", ip, uplink, err)
			}
			continue
		}
		if err := h.AddrAdd(link, a); err != nil && !errors.Is(err, unix.EEXIST) {
			return added, removed, fmt.Errorf("nat: add %s to %s: %w", ip, uplink, err)
		}
		added = append(added, ip)
	}
	return added, removed, nil
}

// ForgetFlows deletes the connection tracking entries of a mapping that changed or
// went: flows to the public address (DNATed) and from the private one (SNATed), so that
// packets of a running flow take the new mapping at once instead of the old one until
// the entry times out.
func ForgetFlows(h *netlink.Handle, m Mapping) error {
	var fs []netlink.CustomConntrackFilter
	if m.Public.IsValid() {
		f := &netlink.ConntrackFilter{}
		if err := f.AddIP(netlink.ConntrackOrigDstIP, m.Public.AsSlice()); err != nil {
			return err
		}
		fs = append(fs, f)
	}
	if m.Private.IsValid() {
		f := &netlink.ConntrackFilter{}
		if err := f.AddIP(netlink.ConntrackOrigSrcIP, m.Private.AsSlice()); err != nil {
			return err
		}
		fs = append(fs, f)
	}
	if len(fs) == 0 {
		return nil
	}
	if _, err := h.ConntrackDeleteFilters(netlink.ConntrackTable, unix.AF_INET, fs...); err != nil {
		return fmt.Errorf("nat: forgetting the flows of %s: %w", m.Public, err)
	}
	return nil
}
