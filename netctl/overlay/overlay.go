// Package overlay joins the instance bridges of a zone's boxes into one layer-2 network
// with VXLAN, so that instances on different boxes reach each other on their private
// addresses. Nothing is learned from the wire: the VXLAN device has learning off, and
// every remote instance is programmed from the replicated state as a forwarding entry
// (its MAC behind its box's underlay address) and a neighbour entry the device answers
// ARP requests from (proxy), so an ARP request for a remote instance is answered on the
// box that asks and no broadcast, DHCP included, ever crosses to another box. The
// zone's router address and MAC are the same on every box (netctl.RouterMAC): frames for
// the router stay on the box the instance runs on.
//
// Every zone's boxes share the one network, so an instance also reaches the instances of
// other zones, whose subnets are not its own: it sends to its router, the box it runs on,
// which has the block of every instance address routed onto its bridge (Device.Routed)
// and so asks the device's ARP proxy for the remote instance and sends the frame over
// VXLAN to the box that runs it, which bridges it to the instance. The answer goes the
// same way back through that box's router. One hop, no tunnel per zone pair.
package overlay

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Device is the overlay's VXLAN device on one box.
type Device struct {
	// Name of the VXLAN device (DefaultName when empty).
	Name string
	// VNI is the VXLAN network identifier (DefaultVNI when 0).
	VNI int
	// Local is this box's underlay address, the source of its VXLAN packets.
	Local netip.Addr
	// Bridge is the instance bridge the device is a port of.
	Bridge string
	// Port is the UDP port (DefaultPort when 0).
	Port int
	// Routed, when valid, is the block every instance's address is in, routed onto the
	// bridge (on-link) so that the box forwards traffic for instances of other zones'
	// subnets to the overlay; the bridge's own subnet is more specific.
	Routed netip.Prefix
}

// Defaults: the IANA VXLAN port; one network for the whole cloud (accounts are kept
// apart by their addresses and the firewall, not by VNI).
const (
	DefaultName = "bnyvx0"
	DefaultVNI  = 4242
	DefaultPort = 4789
	// Overhead is what VXLAN over IPv4 adds to a frame; instances get an MTU this much
	// below the underlay's.
	Overhead = 50
)

// Peer is one instance on another box.
type Peer struct {
	MAC net.HardwareAddr
	IP  netip.Addr // the instance's private address
	Box netip.Addr // the underlay address of the box it runs on
}

func (d *Device) name() string {
	if d.Name == "" {
		return DefaultName
	}
	return d.Name
}

func (d *Device) vni() int {
	if d.VNI == 0 {
		return DefaultVNI
	}
	return d.VNI
}

func (d *Device) port() int {
	if d.Port == 0 {
		return DefaultPort
	}
	return d.Port
}

// Ensure makes the VXLAN device exist as described, a port of the bridge, and up; a
// device of that name with other settings is replaced. It returns what it did.
func Ensure(h *netlink.Handle, d Device) ([]string, error) {
	if !d.Local.Is4() {
		return nil, fmt.Errorf("overlay: local underlay address %v is not IPv4", d.Local)
	}
	br, err := h.LinkByName(d.Bridge)
	if err != nil {
		return nil, fmt.Errorf("overlay: bridge %s: %w", d.Bridge, err)
	}
	var did []string
	link, err := h.LinkByName(d.name())
	if err == nil {
		vx, ok := link.(*netlink.Vxlan)
		if !ok || vx.VxlanId != d.vni() || !vx.SrcAddr.Equal(d.Local.AsSlice()) || vx.Port != d.port() || vx.Learning || !vx.Proxy {
			if err := h.LinkDel(link); err != nil {
				return did, fmt.Errorf("overlay: replacing %s: %w", d.name(), err)
			}
			did = append(did, "removed "+d.name()+" (other settings)")
			link = nil
		}
	} else if !errors.As(err, &netlink.LinkNotFoundError{}) {
		return did, fmt.Errorf("overlay: %s: %w", d.name(), err)
	} else {
		link = nil
	}
	if link == nil {
		vx := &netlink.Vxlan{
			LinkAttrs: netlink.LinkAttrs{Name: d.name()},
			VxlanId:   d.vni(), SrcAddr: d.Local.AsSlice(), Port: d.port(),
			Learning: false, Proxy: true,
		}
		if err := h.LinkAdd(vx); err != nil {
			return did, fmt.Errorf("overlay: create %s: %w", d.name(), err)
		}
		did = append(did, fmt.Sprintf("created %s (VNI %d, %s:%d)", d.name(), d.vni(), d.Local, d.port()))
		if link, err = h.LinkByName(d.name()); err != nil {
			return did, err
		}
	}
	if link.Attrs().MasterIndex != br.Attrs().Index {
		if err := h.LinkSetMaster(link, br); err != nil {
			return did, fmt.Errorf("overlay: %s into %s: %w", d.name(), d.Bridge, err)
		}
		did = append(did, fmt.Sprintf("%s joined %s", d.name(), d.Bridge))
	}
	if link.Attrs().Flags&net.FlagUp == 0 {
		if err := h.LinkSetUp(link); err != nil {
			return did, fmt.Errorf("overlay: %s up: %w", d.name(), err)
		}
		did = append(did, d.name()+" up")
	}
	if d.Routed.IsValid() {
		r, err := routeOnBridge(h, br, d.Routed)
		if err != nil {
			return did, err
		}
		did = append(did, r...)
	}
	return did, nil
}

// routeOnBridge makes p an on-link route through the bridge, replacing a route to p
// through anywhere else.
func routeOnBridge(h *netlink.Handle, br netlink.Link, p netip.Prefix) ([]string, error) {
	p = p.Masked()
	if !p.Addr().Is4() {
		return nil, fmt.Errorf("overlay: routed block %s is not IPv4", p)
	}
	dst := &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), 32)}
	have, err := h.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Dst: dst, Table: unix.RT_TABLE_MAIN}, netlink.RT_FILTER_DST|netlink.RT_FILTER_TABLE)
	if err != nil {
		return nil, fmt.Errorf("overlay: routes to %s: %w", p, err)
	}
	for _, r := range have {
		if r.LinkIndex == br.Attrs().Index && r.Gw == nil && r.Scope == netlink.SCOPE_LINK {
			return nil, nil
		}
	}
	if err := h.RouteReplace(&netlink.Route{LinkIndex: br.Attrs().Index, Dst: dst, Scope: netlink.SCOPE_LINK}); err != nil {
		return nil, fmt.Errorf("overlay: route %s onto %s: %w", p, br.Attrs().Name, err)
	}
	return []string{fmt.Sprintf("routed %s onto %s", p, br.Attrs().Name)}, nil
}

// Sync makes the device's forwarding and neighbour entries exactly the peers': for each,
// its MAC behind its box (the VXLAN's own table, and a static entry in the bridge's so
// frames for it go to the device without flooding) and its IP answered by the device's
// ARP proxy. Entries of peers that left are removed. It returns how many entries it
// added and removed.
func Sync(h *netlink.Handle, d Device, peers []Peer) (added, removed int, err error) {
	link, err := h.LinkByName(d.name())
	if err != nil {
		return 0, 0, fmt.Errorf("overlay: %s: %w", d.name(), err)
	}
	idx := link.Attrs().Index
	type fdbKey struct{ mac, dst string }
	wantFDB := map[fdbKey]bool{}
	wantMaster := map[string]bool{}
	wantNeigh := map[string]string{} // ip → mac
	for _, p := range peers {
		if len(p.MAC) != 6 || !p.IP.Is4() || !p.Box.Is4() {
			continue
		}
		mac := strings.ToLower(p.MAC.String())
		wantFDB[fdbKey{mac, p.Box.String()}] = true
		wantMaster[mac] = true
		wantNeigh[p.IP.String()] = mac
	}

	// The device's and the bridge's forwarding entries on this port.
	fdb, err := h.NeighList(idx, unix.AF_BRIDGE)
	if err != nil {
		return 0, 0, fmt.Errorf("overlay: forwarding entries of %s: %w", d.name(), err)
	}
	haveFDB := map[fdbKey]bool{}
	haveMaster := map[string]bool{}
	for _, n := range fdb {
		mac := strings.ToLower(n.HardwareAddr.String())

		switch {
		case n.Flags&netlink.NTF_SELF != 0 && n.IP != nil && !isZeroMAC(n.HardwareAddr):
			k := fdbKey{mac, n.IP.String()}
			if wantFDB[k] && !haveFDB[k] {
				haveFDB[k] = true
				continue
			}
			if err := h.NeighDel(&n); err != nil && !errors.Is(err, unix.ENOENT) {
				return added, removed, fmt.Errorf("overlay: remove %s → %s: %w", mac, n.IP, err)
			}
			removed++
		case n.Flags&netlink.NTF_SELF == 0 && n.State == netlink.NUD_NOARP:
			// The bridge's static entry (a dump shows it without NTF_MASTER); its
			// permanent ones are the ports' own addresses.
			if wantMaster[mac] && !haveMaster[mac] {
				haveMaster[mac] = true
				continue
			}
			if err := h.NeighDel(&n); err != nil && !errors.Is(err, unix.ENOENT) {
				return added, removed, fmt.Errorf("overlay: remove bridge entry %s: %w", mac, err)
			}
			removed++
		}
	}
	for _, k := range sortedKeys(wantFDB, func(k fdbKey) string { return k.mac + k.dst }) {
		if haveFDB[k] {
			continue
		}
		mac, _ := net.ParseMAC(k.mac)
		n := &netlink.Neigh{LinkIndex: idx, Family: unix.AF_BRIDGE, State: netlink.NUD_PERMANENT | netlink.NUD_NOARP,
			Flags: netlink.NTF_SELF, HardwareAddr: mac, IP: net.ParseIP(k.dst)}
		if err := h.NeighAppend(n); err != nil && !errors.Is(err, unix.EEXIST) {
			return added, removed, fmt.Errorf("overlay: %s → %s: %w", k.mac, k.dst, err)
		}
		added++
	}
	for _, mac := range sortedKeys(wantMaster, func(s string) string { return s }) {
		if haveMaster[mac] {
			continue
		}
		hw, _ := net.ParseMAC(mac)
		n := &netlink.Neigh{LinkIndex: idx, Family: unix.AF_BRIDGE, State: netlink.NUD_NOARP,
			Flags: netlink.NTF_MASTER, HardwareAddr: hw}
		if err := h.NeighSet(n); err != nil {
			return added, removed, fmt.Errorf("overlay: bridge entry %s: %w", mac, err)
		}
		added++
	}

	// The ARP proxy's neighbour entries.
	neighs, err := h.NeighList(idx, unix.AF_INET)
	if err != nil {
		return added, removed, fmt.Errorf("overlay: neighbours of %s: %w", d.name(), err)
	}
	haveNeigh := map[string]bool{}
	for _, n := range neighs {
		ip, mac := n.IP.String(), strings.ToLower(n.HardwareAddr.String())
		if wantNeigh[ip] == mac && n.State&netlink.NUD_PERMANENT != 0 {
			haveNeigh[ip] = true
			continue
		}
		if err := h.NeighDel(&n); err != nil && !errors.Is(err, unix.ENOENT) {
			return added, removed, fmt.Errorf("overlay: remove neighbour %s: %w", ip, err)
		}
		removed++
	}
	for _, ip := range sortedKeys(wantNeigh, func(s string) string { return s }) {
		if haveNeigh[ip] {
			continue
		}
		hw, _ := net.ParseMAC(wantNeigh[ip])
		n := &netlink.Neigh{LinkIndex: idx, Family: unix.AF_INET, State: netlink.NUD_PERMANENT, IP: net.ParseIP(ip), HardwareAddr: hw}
		if err := h.NeighSet(n); err != nil {
			return added, removed, fmt.Errorf("overlay: neighbour %s: %w", ip, err)
		}
		added++
	}
	return added, removed, nil
}

func isZeroMAC(m net.HardwareAddr) bool {
	for _, b := range m {
		if b != 0 {
			return false
		}
	}
	return true
}

func sortedKeys[K comparable, V any](m map[K]V, key func(K) string) []K {
	out := make([]K, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.SortFunc(out, func(a, b K) int { return strings.Compare(key(a), key(b)) })
	return out
}
