package node

import (
	"context"
	"io"
	"log/slog"
	"sort"
	"testing"

	"github.com/banyancloud/banyan/cluster/state"
	"github.com/banyancloud/banyan/netctl/overlay"
)

// TestOverlayPeersFollowTheState: the overlay of box1 holds every instance on another
// box, of its zone or another, behind that box's address, and not its own or terminated
// ones; the instance block is routed onto the bridge.
func TestOverlayPeersFollowTheState(t *testing.T) {
	cl := localCluster{Local: state.NewLocal(), name: "box1"}
	ctx := context.Background()
	apply := func(cmd state.Command) {
		t.Helper()
		if _, err := cl.Apply(ctx, cmd, nil); err != nil {
			t.Fatal(err)
		}
	}
	for i, n := range []struct{ name, zone string }{{"box1", "us-east-1a"}, {"box2", "us-east-1a"}, {"box3", "us-east-1b"}} {
		apply(&state.RegisterNode{Node: state.Node{Name: n.name, Addr: []string{"10.0.0.1:7947", "10.0.0.2:7947", "10.0.0.3:7947"}[i]}})
		apply(&state.ReportBox{Box: state.Box{Node: n.name, Zone: n.zone, VCPUs: 4, MemoryMiB: 4096, Hypervisor: state.HypervisorUp}})
	}
	run := func(id, mac, box string) {
		apply(&state.RunInstances{MinCount: 1, LiveNodes: []string{box}, Instances: []state.Instance{{ID: id, Account: "111", ImageID: "ami-1",
			VCPUs: 1, MemoryMiB: 256, MAC: mac, ReservationID: "r-" + id}}})
	}
	run("i-local", "02:00:00:00:00:01", "box1")
	run("i-remote", "02:00:00:00:00:02", "box2")
	run("i-otherzone", "02:00:00:00:00:03", "box3")
	run("i-gone", "02:00:00:00:00:04", "box2")
	apply(&state.SetInstances{Account: "111", IDs: []string{"i-gone"}, Action: state.ActionTerminate})
	gone, _ := cl.State().Instance("i-gone")
	apply(&state.ReportInstance{ID: gone.ID, Node: gone.Node, Generation: gone.Generation, State: state.InstanceTerminated})

	c := newOverlayController(cl, "bnybr0", slog.New(slog.NewTextHandler(io.Discard, nil)))
	var dev overlay.Device
	var peers []overlay.Peer
	c.ensure = func(d overlay.Device) ([]string, error) { dev = d; return nil, nil }
	c.sync = func(d overlay.Device, p []overlay.Peer) (int, int, error) { peers = p; return len(p), 0, nil }
	forwarding := false
	c.forwarding = func() error { forwarding = true; return nil }
	if err := c.Reconcile(ctx, overlayKey); err != nil {
		t.Fatal(err)
	}
	remote, _ := cl.State().Instance("i-remote")
	other, _ := cl.State().Instance("i-otherzone")
	sort.Slice(peers, func(i, j int) bool { return peers[i].MAC.String() < peers[j].MAC.String() })
	if dev.Local.String() != "10.0.0.1" || dev.Bridge != "bnybr0" || dev.Routed.String() != "172.31.0.0/16" || len(peers) != 2 ||
		peers[0].MAC.String() != "02:00:00:00:00:02" || peers[0].Box.String() != "10.0.0.2" || peers[0].IP.String() != remote.PrivateIP ||
		peers[1].MAC.String() != "02:00:00:00:00:03" || peers[1].Box.String() != "10.0.0.3" || peers[1].IP.String() != other.PrivateIP {
		t.Fatalf("device %+v peers %+v", dev, peers)
	}
	if !forwarding {
		t.Fatal("the box does not forward between its instances and other zones'")
	}
}
