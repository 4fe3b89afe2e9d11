package nat

import (
	"net/netip"
	"strings"
	"testing"
)

func TestRenderMapsBothWays(t *testing.T) {
	rs := &Ruleset{Uplink: "eth0", Bridge: "bnybr0", Instances: netip.MustParsePrefix("172.31.0.0/16"),
		Mappings: []Mapping{
			{Public: netip.MustParseAddr("192.0.2.140"), Private: netip.MustParseAddr("172.31.16.9")},
			{Public: netip.MustParseAddr("192.0.2.129"), Private: netip.MustParseAddr("172.31.0.5")},
		}}
	got, err := Render(rs)
	if err != nil {
		t.Fatal(err)
	}
	want := `table ip banyan-nat {
	chain prerouting {
		type nat hook prerouting priority dstnat; policy accept;
		ip daddr 192.0.2.129 fib daddr type local dnat to 172.31.0.5
		ip daddr 192.0.2.140 fib daddr type local dnat to 172.31.16.9
	}
	chain output {
		type nat hook output priority -100; policy accept;
		ip daddr 192.0.2.129 fib daddr type local dnat to 172.31.0.5
		ip daddr 192.0.2.140 fib daddr type local dnat to 172.31.16.9
	}
	chain postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		oifname "eth0" ip saddr 172.31.0.5 snat to 192.0.2.129
		oifname "eth0" ip saddr 172.31.16.9 snat to 192.0.2.140
		oifname "bnybr0" ip saddr 172.31.0.0/16 ct status dnat masquerade
	}
}
`
	if got != want {
		t.Fatalf("got:\n%s\nwant:\n%s", got, want)
	}
	// No mappings: empty chains, no hairpin rule.
	got, _ = Render(&Ruleset{Uplink: "eth0", Bridge: "bnybr0", Instances: netip.MustParsePrefix("172.31.0.0/16")})
	if strings.Contains(got, "masquerade") || strings.Contains(got, "nat to") {
		t.Fatalf("empty ruleset:\n%s", got)
	}
}

func TestValidateRefusesWhatCannotBeProgrammed(t *testing.T) {
	pub, priv := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("172.31.0.5")
	for name, rs := range map[string]*Ruleset{
		"no uplink":        {},
		"bad uplink":       {Uplink: "eth 0"},
		"long uplink":      {Uplink: "a-very-long-interface"},
		"hairpin, no net":  {Uplink: "eth0", Bridge: "br0"},
		"ipv6 public":      {Uplink: "eth0", Mappings: []Mapping{{Public: netip.MustParseAddr("2001:db8::1"), Private: priv}}},
		"no private":       {Uplink: "eth0", Mappings: []Mapping{{Public: pub}}},
		"public twice":     {Uplink: "eth0", Mappings: []Mapping{{Public: pub, Private: priv}, {Public: pub, Private: netip.MustParseAddr("172.31.0.6")}}},
		"private has two":  {Uplink: "eth0", Mappings: []Mapping{{Public: pub, Private: priv}, {Public: netip.MustParseAddr("192.0.2.2"), Private: priv}}},
		"bad bridge name":  {Uplink: "eth0", Bridge: "br 0", Instances: netip.MustParsePrefix("172.31.0.0/16")},
		"ipv6 hairpin net": {Uplink: "eth0", Bridge: "br0", Instances: netip.MustParsePrefix("fd00::/8")},
	} {
		if _, err := Render(rs); err == nil {
			t.Errorf("%s: rendered", name)
		} else if !strings.HasPrefix(err.Error(), "nat: ") {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestGARPFrame(t *testing.T) {
	mac := []byte{0x02, 0x11, 0x22, 0x33, 0x44, 0x55}
	f := garpFrame(mac, netip.MustParseAddr("192.0.2.129"))
	want := []byte{
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0x11, 0x22, 0x33, 0x44, 0x55, 0x08, 0x06, // Ethernet: broadcast, ARP
		0x00, 0x01, 0x08, 0x00, 6, 4, 0x00, 0x01, // Ethernet/IPv4, request
		0x02, 0x11, 0x22, 0x33, 0x44, 0x55, 192, 0, 2, 129, // sender
		0, 0, 0, 0, 0, 0, 192, 0, 2, 129, // target: the same address
	}
	if string(f) != string(want) {
		t.Fatalf("frame % x\nwant  % x", f, want)
	}
}
