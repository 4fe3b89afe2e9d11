package node

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/banyancloud/banyan/cluster/state"
	"github.com/banyancloud/banyan/netctl/overlay"
)

// TestOverlayPeersFollowTheState: the overlay of box1 holds every instance of its zone on
// another box, behind that box's address, and not its own, other zones' or terminated
// ones; an instance that moves to box1 leaves the peers.
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

	c := newOverlayController(cl, "us-east-1a", "bnybr0", slog.New(slog.NewTextHandler(io.Discard, nil)))
	var dev overlay.Device
	var peers []overlay.Peer
	c.ensure = func(d overlay.Device) ([]string, error) { dev = d; return nil, nil }
	c.sync = func(d overlay.Device, p []overlay.Peer) (int, int, error) { peers = p; return len(p), 0, nil }
	if err := c.Reconcile(ctx, overlayKey); err != nil {
		t.Fatal(err)
	}
	remote, _ := cl.State().Instance("i-remote")
	if dev.Local.String() != "10.0.0.1" || dev.Bridge != "bnybr0" || len(peers) != 1 ||
		peers[0].MAC.String() != "02:00:00:00:00:02" || peers[0].Box.String() != "10.0.0.2" || peers[0].IP.String() != remote.PrivateIP {
		t.Fatalf("device %+v peers %+v", dev, peers)
	}
}
