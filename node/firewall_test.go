package node

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/banyancloud/banyan/cluster/state"
	"github.com/banyancloud/banyan/netctl/firewall"
)

func TestBoxRulesetFromState(t *testing.T) {
	def := state.DefaultSecurityGroupID("111")
	web := state.SecurityGroup{ID: "sg-web", Account: "111", Name: "web",
		Ingress: []state.SecurityGroupRule{{Protocol: "tcp", FromPort: 80, ToPort: 80, CIDR: "0.0.0.0/0"}, {Protocol: "-1", FromPort: -1, ToPort: -1, Group: def}},
		Egress:  []state.SecurityGroupRule{{Protocol: "-1", FromPort: -1, ToPort: -1, CIDR: "0.0.0.0/0"}}}
	v := &state.FirewallView{
		Groups: map[string]*state.SecurityGroup{"sg-web": &web},
		Instances: []*state.Instance{
			{ID: "i-here", Account: "111", Node: "a", PrivateIP: "172.31.16.5", State: state.InstanceRunning, SecurityGroups: []string{"sg-web"}},
			// Recorded before groups were real: in the default group, not yet recorded.
			{ID: "i-old", Account: "111", Node: "a", PrivateIP: "172.31.16.6", State: state.InstanceRunning},
			{ID: "i-there", Account: "111", Node: "b", PrivateIP: "172.31.32.5", State: state.InstanceRunning, SecurityGroups: []string{def}},
			{ID: "i-gone", Account: "111", Node: "a", PrivateIP: "", State: state.InstanceTerminated, SecurityGroups: []string{def}},
		},
	}
	rs := boxRuleset(v, "a", netip.MustParseAddr("172.31.16.1"))
	if len(rs.Interfaces) != 2 || rs.Interfaces[0].Name != "i-here" || rs.Interfaces[1].Name != "i-old" {
		t.Fatalf("interfaces %+v", rs.Interfaces)
	}
	// The default group's members on every box, for the source-group rules.
	if got := rs.Sets[def]; len(got) != 2 {
		t.Fatalf("members of the default group: %v", got)
	}
	text, err := firewall.Render(rs)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"ip saddr 0.0.0.0/0", "meta l4proto tcp tcp dport 80 return", "ip saddr @" + def + " return", "chain in-i-old"} {
		if want == "ip saddr 0.0.0.0/0" {
			if strings.Contains(text, want) {
				t.Errorf("a /0 source is matched explicitly:\n%s", text)
			}
			continue
		}
		if !strings.Contains(text, want) {
			t.Errorf("ruleset lacks %q:\n%s", want, text)
		}
	}
}

// TestBoxGuardFromState: the guard holds each live instance placed here at its tap to its
// MAC and address, names taps the way the domains do, and leaves the overlay's port alone.
func TestBoxGuardFromState(t *testing.T) {
	v := &state.FirewallView{Instances: []*state.Instance{
		{ID: "i-here", Account: "111", Node: "a", PrivateIP: "172.31.16.5", MAC: "02:00:00:00:00:05", State: state.InstanceRunning},
		{ID: "i-there", Account: "111", Node: "b", PrivateIP: "172.31.32.5", MAC: "02:00:00:00:00:06", State: state.InstanceRunning},
		{ID: "i-gone", Account: "111", Node: "a", PrivateIP: "172.31.16.7", MAC: "02:00:00:00:00:07", State: state.InstanceTerminated},
		{ID: "i-nomac", Account: "111", Node: "a", PrivateIP: "172.31.16.8", State: state.InstancePending},
	}}
	g := boxGuard(v, "a")
	if len(g.Ports) != 1 || g.Ports[0].Iface != instanceTap("i-here") || g.Ports[0].MAC.String() != "02:00:00:00:00:05" ||
		g.Ports[0].Addr.String() != "172.31.16.5" || g.TapPrefix != tapPrefix || len(g.Trusted) != 1 || g.Trusted[0] != "bnyvx0" {
		t.Fatalf("guard %+v", g)
	}
	if tap := instanceTap("i-0123456789abcdef0"); len(tap) != 15 || !strings.HasPrefix(tap, tapPrefix) || tap == instanceTap("i-0123456789abcdef1") {
		t.Fatalf("tap name %q", tap)
	}
	if _, err := firewall.RenderGuard(g); err != nil {
		t.Fatal(err)
	}
}
