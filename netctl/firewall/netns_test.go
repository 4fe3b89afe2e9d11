package firewall_test

// This test builds a box and a guest out of two unnamed network namespaces of its own
// (they vanish with the test's handles), joined by a veth pair, and programs the
// firewall in the box's namespace only: the host's namespace is never touched.

import (
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"

	"github.com/banyancloud/banyan/netctl/firewall"
	"github.com/banyancloud/banyan/netctl/internal/nstest"
)

func TestFirewallInNamespaces(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: builds network namespaces and veth pairs")
	}
	box, bh := nstest.NewNS(t)
	guest, gh := nstest.NewNS(t)
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "box0"}, PeerName: "guest0", PeerNamespace: netlink.NsFd(int(guest))}
	if err := bh.LinkAdd(veth); err != nil {
		t.Fatalf("veth: %v", err)
	}
	nstest.Up(t, bh, "box0", "10.99.0.1/24")
	nstest.Up(t, gh, "guest0", "10.99.0.2/24")
	nstest.Whoami(t, guest, "10.99.0.2:8080")
	nstest.Whoami(t, box, "10.99.0.1:9090")
	// The veth pair takes a moment to come up.
	for deadline := time.Now().Add(5 * time.Second); !(nstest.SeenAs(box, "10.99.0.2:8080") != "") || !(nstest.SeenAs(guest, "10.99.0.1:9090") != ""); {
		if time.Now().After(deadline) {
			t.Fatal("no connectivity before any rule")
		}
		time.Sleep(100 * time.Millisecond)
	}

	conn, err := nftables.New(nftables.WithNetNSFd(int(box)))
	if err != nil {
		t.Fatal(err)
	}
	apply := func(rs *firewall.Ruleset) {
		t.Helper()
		if err := firewall.Apply(conn, rs); err != nil {
			t.Fatal(err)
		}
	}
	guestIP := netip.MustParseAddr("10.99.0.2")
	boxNet := netip.MustParsePrefix("10.99.0.1/32")

	// No rules: nothing in, nothing out.
	apply(&firewall.Ruleset{Interfaces: []firewall.Interface{{Name: "i-guest", Addr: guestIP}}})
	if nstest.SeenAs(box, "10.99.0.2:8080") != "" {
		t.Error("connect to the guest passed with no ingress rule")
	}
	if nstest.SeenAs(guest, "10.99.0.1:9090") != "" {
		t.Error("connect from the guest passed with no egress rule")
	}

	// Ingress on the port: the connection is made, and its replies pass although no
	// egress rule allows them (stateful).
	apply(&firewall.Ruleset{Interfaces: []firewall.Interface{{Name: "i-guest", Addr: guestIP,
		Ingress: []firewall.Rule{{Protocol: "tcp", FromPort: 8080, ToPort: 8080, CIDR: boxNet}}}}})
	if !(nstest.SeenAs(box, "10.99.0.2:8080") != "") {
		t.Error("connect to the guest blocked with an ingress rule for it")
	}
	if nstest.SeenAs(guest, "10.99.0.1:9090") != "" {
		t.Error("connect from the guest passed with no egress rule")
	}

	// Another port only: blocked again. A source-group set holding the box: allowed.
	apply(&firewall.Ruleset{Interfaces: []firewall.Interface{{Name: "i-guest", Addr: guestIP,
		Ingress: []firewall.Rule{{Protocol: "tcp", FromPort: 22, ToPort: 22, CIDR: boxNet}}}}})
	if nstest.SeenAs(box, "10.99.0.2:8080") != "" {
		t.Error("connect passed with a rule for another port")
	}
	apply(&firewall.Ruleset{
		Sets: map[string][]netip.Addr{"sg-peers": {netip.MustParseAddr("10.99.0.1")}},
		Interfaces: []firewall.Interface{{Name: "i-guest", Addr: guestIP,
			Ingress: []firewall.Rule{{Protocol: "-1", FromPort: -1, ToPort: -1, Set: "sg-peers"}},
			Egress:  []firewall.Rule{{Protocol: "tcp", FromPort: 9000, ToPort: 9100, CIDR: netip.MustParsePrefix("10.99.0.0/24")}}}}})
	if !(nstest.SeenAs(box, "10.99.0.2:8080") != "") {
		t.Error("connect from a member of the source group blocked")
	}
	if !(nstest.SeenAs(guest, "10.99.0.1:9090") != "") {
		t.Error("connect from the guest blocked with an egress rule for it")
	}

	// Networks: a rule open to everyone still lets no instance of another network in
	// (the box's address stands for one here); one of the same network, or the router,
	// passes.
	instances := netip.MustParsePrefix("10.99.0.0/24")
	openToAll := []firewall.Rule{{Protocol: "-1", FromPort: -1, ToPort: -1, CIDR: netip.MustParsePrefix("0.0.0.0/0")}}
	apply(&firewall.Ruleset{Instances: instances,
		Sets:       map[string][]netip.Addr{"net-a": {guestIP}},
		Interfaces: []firewall.Interface{{Name: "i-guest", Addr: guestIP, Network: "net-a", Ingress: openToAll, Egress: openToAll}}})
	if nstest.SeenAs(box, "10.99.0.2:8080") != "" {
		t.Error("an instance of another network got in through a rule open to all")
	}
	if nstest.SeenAs(guest, "10.99.0.1:9090") != "" {
		t.Error("the guest reached an instance of another network")
	}
	apply(&firewall.Ruleset{Instances: instances,
		Sets:       map[string][]netip.Addr{"net-a": {guestIP, netip.MustParseAddr("10.99.0.1")}},
		Interfaces: []firewall.Interface{{Name: "i-guest", Addr: guestIP, Network: "net-a", Ingress: openToAll, Egress: openToAll}}})
	if !(nstest.SeenAs(box, "10.99.0.2:8080") != "") || !(nstest.SeenAs(guest, "10.99.0.1:9090") != "") {
		t.Error("traffic within one network blocked")
	}
	apply(&firewall.Ruleset{Instances: instances, Router: netip.MustParseAddr("10.99.0.1"),
		Sets:       map[string][]netip.Addr{"net-a": {guestIP}},
		Interfaces: []firewall.Interface{{Name: "i-guest", Addr: guestIP, Network: "net-a", Ingress: openToAll, Egress: openToAll}}})
	if !(nstest.SeenAs(box, "10.99.0.2:8080") != "") {
		t.Error("the router's traffic blocked as another network's")
	}

	// The table is one: replaced, never appended to; Remove takes it away.
	tables, err := conn.ListTablesOfFamily(nftables.TableFamilyINet)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tb := range tables {
		names = append(names, tb.Name)
	}
	if strings.Join(names, ",") != firewall.TableName {
		t.Errorf("tables %v", names)
	}
	if err := firewall.Remove(conn); err != nil {
		t.Fatal(err)
	}
	if !(nstest.SeenAs(guest, "10.99.0.1:9090") != "") || !(nstest.SeenAs(box, "10.99.0.2:8080") != "") {
		t.Error("traffic still filtered after Remove")
	}
}
