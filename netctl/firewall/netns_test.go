package firewall_test

// This test builds a box and a guest out of two unnamed network namespaces of its own
// (they vanish with the test's handles), joined by a veth pair, and programs the
// firewall in the box's namespace only: the host's namespace is never touched.

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/banyancloud/banyan/netctl/firewall"
)

// inNS runs fn on an OS thread switched into ns; a thread that cannot switch back is
// thrown away.
func inNS(ns netns.NsHandle, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		defer orig.Close()
		if err := netns.Set(ns); err != nil {
			errc <- fmt.Errorf("setns: %w", err)
			return
		}
		err = fn()
		if netns.Set(orig) == nil {
			runtime.UnlockOSThread()
		}
		errc <- err
	}()
	return <-errc
}

func newNS(t *testing.T) (netns.NsHandle, *netlink.Handle) {
	t.Helper()
	type made struct {
		ns  netns.NsHandle
		err error
	}
	c := make(chan made, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			c <- made{err: err}
			return
		}
		defer orig.Close()
		ns, err := netns.New()
		if err == nil && netns.Set(orig) == nil {
			runtime.UnlockOSThread()
		}
		c <- made{ns, err}
	}()
	m := <-c
	if m.err != nil {
		t.Skipf("cannot create a network namespace: %v", m.err)
	}
	t.Cleanup(func() { m.ns.Close() })
	h, err := netlink.NewHandleAt(m.ns)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	lo, _ := h.LinkByName("lo")
	if err := h.LinkSetUp(lo); err != nil {
		t.Fatal(err)
	}
	return m.ns, h
}

func addAddr(t *testing.T, h *netlink.Handle, name, cidr string) {
	t.Helper()
	l, err := h.LinkByName(name)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := netlink.ParseAddr(cidr)
	if err := h.AddrAdd(l, a); err != nil {
		t.Fatal(err)
	}
	if err := h.LinkSetUp(l); err != nil {
		t.Fatal(err)
	}
}

// listen opens a TCP listener inside ns that accepts and closes connections.
func listen(t *testing.T, ns netns.NsHandle, addr string) {
	t.Helper()
	var l net.Listener
	if err := inNS(ns, func() (err error) { l, err = net.Listen("tcp4", addr); return err }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Write([]byte("hi"))
			c.Close()
		}
	}()
}

// connects reports whether a TCP connect from ns to addr completes within a short wait.
func connects(ns netns.NsHandle, addr string) bool {
	err := inNS(ns, func() error {
		c, err := net.DialTimeout("tcp4", addr, 300*time.Millisecond)
		if err == nil {
			c.Close()
		}
		return err
	})
	return err == nil
}

func TestFirewallInNamespaces(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: builds network namespaces and veth pairs")
	}
	box, bh := newNS(t)
	guest, gh := newNS(t)
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "box0"}, PeerName: "guest0", PeerNamespace: netlink.NsFd(int(guest))}
	if err := bh.LinkAdd(veth); err != nil {
		t.Fatalf("veth: %v", err)
	}
	addAddr(t, bh, "box0", "10.99.0.1/24")
	addAddr(t, gh, "guest0", "10.99.0.2/24")
	listen(t, guest, "10.99.0.2:8080")
	listen(t, box, "10.99.0.1:9090")
	// The veth pair takes a moment to come up.
	for deadline := time.Now().Add(5 * time.Second); !connects(box, "10.99.0.2:8080") || !connects(guest, "10.99.0.1:9090"); {
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
	if connects(box, "10.99.0.2:8080") {
		t.Error("connect to the guest passed with no ingress rule")
	}
	if connects(guest, "10.99.0.1:9090") {
		t.Error("connect from the guest passed with no egress rule")
	}

	// Ingress on the port: the connection is made, and its replies pass although no
	// egress rule allows them (stateful).
	apply(&firewall.Ruleset{Interfaces: []firewall.Interface{{Name: "i-guest", Addr: guestIP,
		Ingress: []firewall.Rule{{Protocol: "tcp", FromPort: 8080, ToPort: 8080, CIDR: boxNet}}}}})
	if !connects(box, "10.99.0.2:8080") {
		t.Error("connect to the guest blocked with an ingress rule for it")
	}
	if connects(guest, "10.99.0.1:9090") {
		t.Error("connect from the guest passed with no egress rule")
	}

	// Another port only: blocked again. A source-group set holding the box: allowed.
	apply(&firewall.Ruleset{Interfaces: []firewall.Interface{{Name: "i-guest", Addr: guestIP,
		Ingress: []firewall.Rule{{Protocol: "tcp", FromPort: 22, ToPort: 22, CIDR: boxNet}}}}})
	if connects(box, "10.99.0.2:8080") {
		t.Error("connect passed with a rule for another port")
	}
	apply(&firewall.Ruleset{
		Sets: map[string][]netip.Addr{"sg-peers": {netip.MustParseAddr("10.99.0.1")}},
		Interfaces: []firewall.Interface{{Name: "i-guest", Addr: guestIP,
			Ingress: []firewall.Rule{{Protocol: "-1", FromPort: -1, ToPort: -1, Set: "sg-peers"}},
			Egress:  []firewall.Rule{{Protocol: "tcp", FromPort: 9000, ToPort: 9100, CIDR: netip.MustParsePrefix("10.99.0.0/24")}}}}})
	if !connects(box, "10.99.0.2:8080") {
		t.Error("connect from a member of the source group blocked")
	}
	if !connects(guest, "10.99.0.1:9090") {
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
	if connects(box, "10.99.0.2:8080") {
		t.Error("an instance of another network got in through a rule open to all")
	}
	if connects(guest, "10.99.0.1:9090") {
		t.Error("the guest reached an instance of another network")
	}
	apply(&firewall.Ruleset{Instances: instances,
		Sets:       map[string][]netip.Addr{"net-a": {guestIP, netip.MustParseAddr("10.99.0.1")}},
		Interfaces: []firewall.Interface{{Name: "i-guest", Addr: guestIP, Network: "net-a", Ingress: openToAll, Egress: openToAll}}})
	if !connects(box, "10.99.0.2:8080") || !connects(guest, "10.99.0.1:9090") {
		t.Error("traffic within one network blocked")
	}
	apply(&firewall.Ruleset{Instances: instances, Router: netip.MustParseAddr("10.99.0.1"),
		Sets:       map[string][]netip.Addr{"net-a": {guestIP}},
		Interfaces: []firewall.Interface{{Name: "i-guest", Addr: guestIP, Network: "net-a", Ingress: openToAll, Egress: openToAll}}})
	if !connects(box, "10.99.0.2:8080") {
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
	if !connects(guest, "10.99.0.1:9090") || !connects(box, "10.99.0.2:8080") {
		t.Error("traffic still filtered after Remove")
	}
}
