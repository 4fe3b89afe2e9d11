package firewall

import (
	"net/netip"
	"strings"
	"testing"
)

func TestRenderTranslatesGroupRules(t *testing.T) {
	rs := &Ruleset{
		Router: netip.MustParseAddr("172.31.16.1"),
		Sets:   map[string][]netip.Addr{"sg-web": {netip.MustParseAddr("172.31.16.9"), netip.MustParseAddr("172.31.16.5"), netip.MustParseAddr("172.31.16.5")}},
		Interfaces: []Interface{{
			Name: "i-1", Addr: netip.MustParseAddr("172.31.16.5"),
			Ingress: []Rule{
				{Protocol: "tcp", FromPort: 22, ToPort: 22, CIDR: netip.MustParsePrefix("10.0.0.0/8")},
				{Protocol: "udp", FromPort: 1000, ToPort: 2000, CIDR: netip.MustParsePrefix("192.168.1.7/32")},
				{Protocol: "-1", FromPort: -1, ToPort: -1, Set: "sg-web"},
				{Protocol: "icmp", FromPort: 8, ToPort: -1, CIDR: netip.MustParsePrefix("0.0.0.0/0")},
				{Protocol: "tcp", FromPort: 0, ToPort: 65535, CIDR: netip.MustParsePrefix("10.1.2.3/16")},
				{Protocol: "47", CIDR: netip.MustParsePrefix("0.0.0.0/0")},
			},
			Egress: []Rule{{Protocol: "-1", FromPort: -1, ToPort: -1, CIDR: netip.MustParsePrefix("0.0.0.0/0")}},
		}},
	}
	got, err := Render(rs)
	if err != nil {
		t.Fatal(err)
	}
	want := `table inet banyan {
	set sg-web {
		type ipv4_addr
		elements = { 172.31.16.5, 172.31.16.9 }
	}
	chain input {
		type filter hook input priority filter; policy accept;
		ip saddr 172.31.16.5 jump out-i-1
	}
	chain forward {
		type filter hook forward priority filter; policy accept;
		ip saddr 172.31.16.5 jump out-i-1
		ip daddr 172.31.16.5 jump in-i-1
	}
	chain output {
		type filter hook output priority filter; policy accept;
		ip daddr 172.31.16.5 jump in-i-1
	}
	chain in-i-1 {
		ct state established,related accept
		ct state invalid drop
		meta l4proto udp udp sport 67 udp dport 68 return
		ip saddr 10.0.0.0/8 meta l4proto tcp tcp dport 22 return
		ip saddr 192.168.1.7 meta l4proto udp udp dport 1000-2000 return
		ip saddr @sg-web return
		meta l4proto icmp icmp type 8 return
		ip saddr 10.1.0.0/16 meta l4proto tcp return
		meta l4proto 47 return
		drop
	}
	chain out-i-1 {
		ct state established,related accept
		ct state invalid drop
		meta l4proto udp udp dport 67 return
		ip daddr 169.254.169.254 meta l4proto tcp tcp dport 80 return
		ip daddr 172.31.16.1 meta l4proto udp udp dport 53 return
		ip daddr 172.31.16.1 meta l4proto tcp tcp dport 53 return
		return
		drop
	}
}
`
	if got != want {
		t.Fatalf("got:\n%s\nwant:\n%s", got, want)
	}
}

func TestValidateRefusesWhatCannotBeProgrammed(t *testing.T) {
	a := netip.MustParseAddr("172.31.16.5")
	for name, rs := range map[string]*Ruleset{
		"bad name":       {Interfaces: []Interface{{Name: "i 1", Addr: a}}},
		"twice":          {Interfaces: []Interface{{Name: "i-1", Addr: a}, {Name: "i-1", Addr: a}}},
		"no address":     {Interfaces: []Interface{{Name: "i-1"}}},
		"ipv6":           {Interfaces: []Interface{{Name: "i-1", Addr: netip.MustParseAddr("fd00::1")}}},
		"unknown set":    {Interfaces: []Interface{{Name: "i-1", Addr: a, Ingress: []Rule{{Protocol: "-1", Set: "sg-x"}}}}},
		"bad protocol":   {Interfaces: []Interface{{Name: "i-1", Addr: a, Ingress: []Rule{{Protocol: "sctpx", CIDR: netip.MustParsePrefix("0.0.0.0/0")}}}}},
		"ipv6 cidr":      {Interfaces: []Interface{{Name: "i-1", Addr: a, Egress: []Rule{{Protocol: "-1", CIDR: netip.MustParsePrefix("::/0")}}}}},
		"ipv6 in a set":  {Sets: map[string][]netip.Addr{"sg-1": {netip.MustParseAddr("::1")}}},
		"protocol > 255": {Interfaces: []Interface{{Name: "i-1", Addr: a, Ingress: []Rule{{Protocol: "256", CIDR: netip.MustParsePrefix("0.0.0.0/0")}}}}},
	} {
		if _, err := Render(rs); err == nil {
			t.Errorf("%s: rendered", name)
		} else if !strings.HasPrefix(err.Error(), "firewall: ") {
			t.Errorf("%s: %v", name, err)
		}
	}
}
