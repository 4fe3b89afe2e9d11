package netctl

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// bridgeNFPath is the switch that makes the kernel pass bridged IPv4 frames through the
// IP hooks (br_netfilter), in the calling thread's network namespace.
const bridgeNFPath = "/proc/sys/net/bridge/bridge-nf-call-iptables"

// FilterBridgedTraffic makes IPv4 frames the kernel bridges (between two instances on one
// box, or between an instance and the overlay's VXLAN port) pass the IP hooks, so that
// the security-group firewall (netctl/firewall, an inet table keyed by instance
// addresses, with conntrack) sees them as it sees routed traffic. It loads br_netfilter
// when the switch is missing. Without it, instances on one layer 2 reach each other
// unfiltered.
func FilterBridgedTraffic() error {
	if _, err := os.Stat(bridgeNFPath); errors.Is(err, os.ErrNotExist) {
		if out, err := exec.Command("modprobe", "br_netfilter").CombinedOutput(); err != nil {
			return fmt.Errorf("loading br_netfilter: %v: %s", err, strings.TrimSpace(string(out)))
		}
	}
	if b, err := os.ReadFile(bridgeNFPath); err == nil && strings.TrimSpace(string(b)) == "1" {
		return nil
	}
	if err := os.WriteFile(bridgeNFPath, []byte("1\n"), 0o644); err != nil {
		return fmt.Errorf("switching on %s: %w", bridgeNFPath, err)
	}
	return nil
}

// EnableForwarding turns on IPv4 forwarding in the calling thread's namespace (its
// /proc/sys/net): a box routes between its uplink and its instances (public addresses,
// netctl/nat) and between its instances and other zones' (the overlay's routed block).
func EnableForwarding() error {
	const f = "/proc/sys/net/ipv4/ip_forward"
	b, err := os.ReadFile(f)
	if err == nil && strings.TrimSpace(string(b)) == "1" {
		return nil
	}
	if err := os.WriteFile(f, []byte("1\n"), 0o644); err != nil {
		return fmt.Errorf("enabling IPv4 forwarding: %w", err)
	}
	return nil
}
