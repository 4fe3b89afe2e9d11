package nat

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"

	"golang.org/x/sys/unix"
)

// garpFrame is a gratuitous ARP request for ip from mac, broadcast: sender and target
// protocol addresses are both ip, as Linux's arping -U and the kernel's own
// announcements send it. Receivers update (and, with arp_accept, create) their entry
// for ip to mac, overriding the neighbour lock time (the kernel treats it as a GARP).
func garpFrame(mac net.HardwareAddr, ip netip.Addr) []byte {
	b := make([]byte, 42)
	copy(b[0:6], []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	copy(b[6:12], mac)
	binary.BigEndian.PutUint16(b[12:14], unix.ETH_P_ARP)
	binary.BigEndian.PutUint16(b[14:16], 1) // hardware: Ethernet
	binary.BigEndian.PutUint16(b[16:18], unix.ETH_P_IP)
	b[18], b[19] = 6, 4
	binary.BigEndian.PutUint16(b[20:22], 1) // request
	a := ip.As4()
	copy(b[22:28], mac)
	copy(b[28:32], a[:])
	// target hardware address: zero
	copy(b[38:42], a[:])
	return b
}

// Announce sends a gratuitous ARP for ip out of the named interface (with its MAC),
// from a raw AF_PACKET socket in the calling thread's namespace.
func Announce(iface string, ip netip.Addr) error {
	if !ip.Is4() {
		return fmt.Errorf("nat: announce %s: not IPv4", ip)
	}
	ifi, err := net.InterfaceByName(iface)
	if err != nil {
		return fmt.Errorf("nat: announce on %s: %w", iface, err)
	}
	if len(ifi.HardwareAddr) != 6 {
		return fmt.Errorf("nat: announce on %s: not an Ethernet interface", iface)
	}
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, int(htons(unix.ETH_P_ARP)))
	if err != nil {
		return fmt.Errorf("nat: announce on %s: raw socket: %w", iface, err)
	}
	defer unix.Close(fd)
	to := &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ARP), Ifindex: ifi.Index, Halen: 6,
		Addr: [8]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}
	if err := unix.Sendto(fd, garpFrame(ifi.HardwareAddr, ip), 0, to); err != nil {
		return fmt.Errorf("nat: announce %s on %s: %w", ip, iface, err)
	}
	return nil
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }
