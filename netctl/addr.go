package netctl

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/banyancloud/banyan/cluster/state"
)

// MetadataAddr is the instance metadata service's address, held by every box's bridge.
var MetadataAddr = netip.MustParseAddr("169.254.169.254")

// DefaultBridge is the bridge instance NICs attach to.
const DefaultBridge = "bnybr0"

// Router is a subnet's router address, its first host (172.31.16.1 of 172.31.16.0/20).
func Router(subnet netip.Prefix) netip.Addr { return subnet.Masked().Addr().Next() }

// Gateway is the router address of a zone's subnet with the subnet's length
// (172.31.16.1/20 for a zone ending in b): what EnsureBridge puts on the bridge.
func Gateway(zone string) (netip.Prefix, error) {
	subnet, err := state.ZoneSubnet(zone)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(Router(subnet), subnet.Bits()), nil
}

// Hostname is EC2's private host name of an address: ip-172-31-16-4.
func Hostname(ip netip.Addr) string {
	return "ip-" + strings.ReplaceAll(ip.String(), ".", "-")
}

// Domain is EC2's private DNS domain of a region: ec2.internal in us-east-1,
// REGION.compute.internal elsewhere.
func Domain(region string) string {
	if region == "" || region == "us-east-1" {
		return "ec2.internal"
	}
	return region + ".compute.internal"
}

// FQDN is an address's private DNS name in a region: ip-172-31-16-4.ec2.internal.
func FQDN(ip netip.Addr, region string) string { return Hostname(ip) + "." + Domain(region) }

// InstanceAddr is an instance's private address with its zone subnet's length
// (172.31.16.4/20).
func InstanceAddr(in *state.Instance) (netip.Prefix, error) {
	ip, err := netip.ParseAddr(in.PrivateIP)
	if err != nil || !ip.Is4() {
		return netip.Prefix{}, fmt.Errorf("instance %s has no IPv4 private address (%q)", in.ID, in.PrivateIP)
	}
	subnet, err := state.ZoneSubnet(in.Zone)
	if err != nil {
		return netip.Prefix{}, err
	}
	if !subnet.Contains(ip) {
		return netip.Prefix{}, fmt.Errorf("instance %s: %s is outside its zone's subnet %s", in.ID, ip, subnet)
	}
	return netip.PrefixFrom(ip, subnet.Bits()), nil
}
