package node

import (
	"context"
	"io"
	"log/slog"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/banyancloud/banyan/cluster/state"
	"github.com/banyancloud/banyan/netctl/nat"
)

type natCluster struct {
	*state.Local
	name string
}

func (n natCluster) Name() string { return n.name }

// natBox is one box's NAT controller over a shared replica, with the box's side
// recorded instead of programmed.
type natBox struct {
	c         *natController
	rulesets  []*nat.Ruleset
	uplink    []netip.Addr // the addresses the uplink holds now
	announced []netip.Addr
	forgotten []nat.Mapping
}

func newNATBox(local *state.Local, name string) *natBox {
	b := &natBox{}
	b.c = newNATController(natCluster{local, name}, "", "bnybr0", slog.New(slog.NewTextHandler(io.Discard, nil)))
	b.c.defaultUplink = func() (string, error) { return "eth0", nil }
	b.c.forwarding = func() error { return nil }
	b.c.reannounce = 0
	b.c.program = func(rs *nat.Ruleset) error { b.rulesets = append(b.rulesets, rs); return nil }
	b.c.sync = func(uplink string, want []netip.Addr, ours func(netip.Addr) bool) (added, removed []netip.Addr, err error) {
		var kept []netip.Addr
		for _, a := range b.uplink {
			if slices.Contains(want, a) || !ours(a) {
				kept = append(kept, a)
			} else {
				removed = append(removed, a)
			}
		}
		for _, a := range want {
			if !slices.Contains(kept, a) {
				kept = append(kept, a)
				added = append(added, a)
			}
		}
		b.uplink = kept
		return added, removed, nil
	}
	b.c.announce = func(_ string, a netip.Addr) error { b.announced = append(b.announced, a); return nil }
	b.c.forget = func(m nat.Mapping) error { b.forgotten = append(b.forgotten, m); return nil }
	return b
}

func (b *natBox) reconcile(t *testing.T) {
	t.Helper()
	if err := b.c.Reconcile(context.Background(), natKey); err != nil {
		t.Fatal(err)
	}
}

func (b *natBox) mappings() []nat.Mapping {
	if len(b.rulesets) == 0 {
		return nil
	}
	return b.rulesets[len(b.rulesets)-1].Mappings
}

func TestNATFollowsTheAssociation(t *testing.T) {
	local := state.NewLocal()
	ctx := context.Background()
	apply := func(cmd state.Command, out any) {
		t.Helper()
		if _, err := local.Apply(ctx, cmd, out); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range []string{"a", "b"} {
		apply(&state.ReportBox{Box: state.Box{Node: n, Zone: "us-east-1a", VCPUs: 2, MemoryMiB: 2048, Hypervisor: state.HypervisorUp}}, nil)
	}
	apply(&state.SetSetting{Key: state.SettingPublicCIDR, Value: "192.0.2.128/25"}, nil)
	var run state.RunResult
	apply(&state.RunInstances{MinCount: 2, Instances: []state.Instance{
		{ID: "i-00000001", Account: "111", VCPUs: 1, MemoryMiB: 256, ReservationID: "r-1"},
		{ID: "i-00000002", Account: "111", VCPUs: 1, MemoryMiB: 256, ReservationID: "r-1", LaunchIndex: 1}}}, &run)
	in1, _ := local.State().Instance("i-00000001")
	in2, _ := local.State().Instance("i-00000002")
	if in1.Node == in2.Node {
		t.Fatalf("both instances on %s", in1.Node)
	}
	boxes := map[string]*natBox{"a": newNATBox(local, "a"), "b": newNATBox(local, "b")}
	first, second := boxes[in1.Node], boxes[in2.Node]
	// An address on the uplink that is not the NAT's is never touched.
	first.uplink = []netip.Addr{netip.MustParseAddr("10.0.0.1")}

	var addr state.Address
	apply(&state.AllocateAddress{Account: "111"}, &addr)
	pub := netip.MustParseAddr(addr.PublicIP)
	first.reconcile(t)
	if len(first.mappings()) != 0 || len(first.announced) != 0 {
		t.Fatalf("an unassociated address is answered: %+v %v", first.mappings(), first.announced)
	}

	apply(&state.AssociateAddress{Account: "111", AllocationID: addr.AllocationID, InstanceID: in1.ID}, nil)
	for _, b := range boxes {
		b.reconcile(t)
	}
	if ms := first.mappings(); len(ms) != 1 || ms[0].Public != pub || ms[0].Private.String() != in1.PrivateIP {
		t.Fatalf("box of i1 maps %+v", ms)
	}
	if !slices.Contains(first.uplink, pub) || !slices.Equal(first.announced, []netip.Addr{pub}) {
		t.Fatalf("box of i1: uplink %v, announced %v", first.uplink, first.announced)
	}
	if len(second.mappings()) != 0 || slices.Contains(second.uplink, pub) {
		t.Fatalf("the other box answers for the address: %+v %v", second.mappings(), second.uplink)
	}
	// Nothing changed: nothing reprogrammed, nothing announced again.
	n := len(first.rulesets)
	first.reconcile(t)
	if len(first.rulesets) != n || len(first.announced) != 1 {
		t.Fatalf("an unchanged reconcile reprogrammed (%d→%d) or announced again (%v)", n, len(first.rulesets), first.announced)
	}

	// Reassociated to i2 on the other box: the old box lets go, the new one takes it.
	apply(&state.AssociateAddress{Account: "111", AllocationID: addr.AllocationID, InstanceID: in2.ID, AllowReassociation: true}, nil)
	for _, b := range boxes {
		b.reconcile(t)
	}
	if len(first.mappings()) != 0 || slices.Contains(first.uplink, pub) || !slices.Contains(first.uplink, netip.MustParseAddr("10.0.0.1")) {
		t.Fatalf("old box: mappings %+v, uplink %v", first.mappings(), first.uplink)
	}
	if len(first.forgotten) != 1 || first.forgotten[0].Public != pub {
		t.Fatalf("old box forgot %+v", first.forgotten)
	}
	if ms := second.mappings(); len(ms) != 1 || ms[0].Private.String() != in2.PrivateIP || !slices.Equal(second.announced, []netip.Addr{pub}) {
		t.Fatalf("new box: %+v, announced %v", ms, second.announced)
	}

	// Termination takes the address off the box too.
	apply(&state.SetInstances{Account: "111", IDs: []string{in2.ID}, Action: state.ActionTerminate, Now: time.Unix(2, 0)}, nil)
	second.reconcile(t)
	if len(second.mappings()) != 0 || slices.Contains(second.uplink, pub) {
		t.Fatalf("a terminated instance's box still answers: %+v %v", second.mappings(), second.uplink)
	}
}

func TestDNSPublicNames(t *testing.T) {
	v := &state.DNSView{Instances: []*state.Instance{
		{ID: "i-1", PrivateIP: "172.31.0.5", State: state.InstanceRunning},
		{ID: "i-2", PrivateIP: "172.31.0.6", State: state.InstanceRunning},
	}}
	tbl := dnsTable(v)
	setPublicNames(tbl, v, map[string]netip.Addr{"i-1": netip.MustParseAddr("192.0.2.129")})
	got := map[string]string{}
	for _, h := range tbl.Hosts {
		got[h.Private.String()] = h.Public.String()
	}
	if got["172.31.0.5"] != "192.0.2.129" || got["172.31.0.6"] != "invalid IP" {
		t.Fatalf("hosts %v", got)
	}
}
