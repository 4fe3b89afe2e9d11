package dns

import (
	"net/netip"
	"strconv"
	"strings"

	"github.com/banyancloud/banyan/netctl"
)

// PrivateName is an address's private host name as a fully qualified DNS name:
// ip-172-31-16-4.ec2.internal. in us-east-1, ip-172-31-16-4.REGION.compute.internal. elsewhere.
func PrivateName(ip netip.Addr, region string) string { return netctl.FQDN(ip, region) + "." }

// PublicDomain is EC2's public DNS domain of a region: compute-1.amazonaws.com in
// us-east-1, REGION.compute.amazonaws.com elsewhere.
func PublicDomain(region string) string {
	if region == "" || region == "us-east-1" {
		return "compute-1.amazonaws.com"
	}
	return region + ".compute.amazonaws.com"
}

// PublicName is a public address's host name as a fully qualified DNS name:
// ec2-203-0-113-5.compute-1.amazonaws.com.
func PublicName(ip netip.Addr, region string) string {
	return "ec2-" + strings.ReplaceAll(ip.String(), ".", "-") + "." + PublicDomain(region) + "."
}

// dashedAddr parses the a-b-c-d of ip-a-b-c-d or ec2-a-b-c-d after the prefix.
func dashedAddr(label, prefix string) (netip.Addr, bool) {
	rest, ok := strings.CutPrefix(label, prefix)
	if !ok {
		return netip.Addr{}, false
	}
	parts := strings.Split(rest, "-")
	if len(parts) != 4 {
		return netip.Addr{}, false
	}
	a, err := netip.ParseAddr(strings.Join(parts, "."))
	if err != nil || !a.Is4() {
		return netip.Addr{}, false
	}
	return a, true
}

// hostLabel splits name (lower case, fully qualified) into its first label and the
// rest when the rest is domain (also fully qualified): "ip-1-2-3-4" of
// "ip-1-2-3-4.ec2.internal.".
func hostLabel(name, domain string) (string, bool) {
	label, rest, ok := strings.Cut(name, ".")
	return label, ok && rest == domain
}

const reverseSuffix = ".in-addr.arpa."

// reverseAddr parses a reverse name: 5.16.31.172.in-addr.arpa. is 172.31.16.5. partial
// is true for a name with fewer than four labels (a reverse zone's inner node), whose
// octets are returned as a prefix.
func reverseAddr(name string) (p netip.Prefix, partial, ok bool) {
	rest, found := strings.CutSuffix(name, reverseSuffix)
	if !found {
		return netip.Prefix{}, false, false
	}
	labels := strings.Split(rest, ".")
	if len(labels) > 4 {
		return netip.Prefix{}, false, false
	}
	var b [4]byte
	for i, l := range labels {
		v, err := strconv.Atoi(l)
		if err != nil || v < 0 || v > 255 || strconv.Itoa(v) != l {
			return netip.Prefix{}, false, false
		}
		b[len(labels)-1-i] = byte(v)
	}
	return netip.PrefixFrom(netip.AddrFrom4(b), 8*len(labels)), len(labels) < 4, true
}

// ReverseName is the in-addr.arpa. name of an IPv4 address.
func ReverseName(ip netip.Addr) string {
	a := ip.As4()
	return strconv.Itoa(int(a[3])) + "." + strconv.Itoa(int(a[2])) + "." + strconv.Itoa(int(a[1])) + "." + strconv.Itoa(int(a[0])) + reverseSuffix
}

// reverseZone is the in-addr.arpa. zone holding a prefix's addresses, cut at the octet
// boundary at or above its length: 31.172.in-addr.arpa. for 172.31.0.0/16 and /20.
func reverseZone(p netip.Prefix) string {
	a := p.Masked().Addr().As4()
	n := p.Bits() / 8
	var labels []string
	for i := n - 1; i >= 0; i-- {
		labels = append(labels, strconv.Itoa(int(a[i])))
	}
	if len(labels) == 0 {
		return "in-addr.arpa."
	}
	return strings.Join(labels, ".") + reverseSuffix
}

// fqdn lower-cases a name and makes sure it ends in a dot.
func fqdn(name string) string {
	name = strings.ToLower(name)
	if !strings.HasSuffix(name, ".") {
		name += "."
	}
	return name
}
