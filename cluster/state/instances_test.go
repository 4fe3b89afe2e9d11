package state

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

type computeFSM struct {
	t   *testing.T
	f   *FSM
	idx uint64
}

func (c *computeFSM) apply(cmd Command) *Result {
	c.idx++
	return apply(c.t, c.f, c.idx, cmd, "")
}

func newComputeFSM(t *testing.T, boxes ...Box) *computeFSM {
	c := &computeFSM{t: t, f: newTestFSM()}
	for _, b := range boxes {
		if b.Hypervisor == "" {
			b.Hypervisor = HypervisorUp
		}
		if r := c.apply(&ReportBox{Box: b}); r.Err != nil {
			t.Fatal(r.Err)
		}
	}
	return c
}

func (c *computeFSM) run(n, min int, zone string, live []string) (RunResult, error) {
	var ins []Instance
	for i := range n {
		ins = append(ins, Instance{ID: fmt.Sprintf("i-%04d%04d", c.idx, i), Account: "111", ReservationID: "r-1",
			InstanceType: "t3.micro", VCPUs: 2, MemoryMiB: 1024, Zone: zone, LaunchIndex: i})
	}
	r := c.apply(&RunInstances{Instances: ins, MinCount: min, LiveNodes: live, Now: time.Unix(1, 0)})
	if r.Err != nil {
		return RunResult{}, r.Err
	}
	var res RunResult
	if err := Unmarshal(r.Value, &res); err != nil {
		c.t.Fatal(err)
	}
	return res, nil
}

func (c *computeFSM) nodesOf(ids []string) map[string]int {
	out := map[string]int{}
	for _, id := range ids {
		in, err := c.f.store.Instance(id)
		if err != nil {
			c.t.Fatal(err)
		}
		out[in.Node]++
	}
	return out
}

// Instances spread over boxes and zones, never past a box's capacity (4 vCPUs per host
// CPU by default), and a call that cannot place MinCount fails whole.
func TestSchedulerSpreadsAndRespectsCapacity(t *testing.T) {
	c := newComputeFSM(t,
		Box{Node: "a", Zone: "us-east-1a", VCPUs: 1, MemoryMiB: 8192},
		Box{Node: "b", Zone: "us-east-1a", VCPUs: 1, MemoryMiB: 8192},
		Box{Node: "c", Zone: "us-east-1b", VCPUs: 1, MemoryMiB: 8192})
	res, err := c.run(3, 3, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.nodesOf(res.IDs); len(got) != 3 {
		t.Fatalf("3 instances on 3 boxes landed as %v", got)
	}
	// Each box takes 2 instances of 2 vCPUs (1 CPU x 4). 3 more fit, a 4th does not.
	if _, err := c.run(4, 4, "", nil); !errors.Is(err, &Error{Code: CodeInsufficientCapacity}) {
		t.Fatalf("over capacity: got %v, want InsufficientCapacity", err)
	}
	if n, _ := c.f.store.Instances("111"); len(n) != 3 {
		t.Fatalf("a failed RunInstances left %d instances, want the first 3", len(n))
	}
	res, err = c.run(4, 1, "", nil)
	if err != nil || len(res.IDs) != 3 {
		t.Fatalf("MinCount 1 MaxCount 4 with room for 3: %v %v", res.IDs, err)
	}
	// A zone asked for is kept; a box not live is skipped.
	c2 := newComputeFSM(t, Box{Node: "a", Zone: "us-east-1a", VCPUs: 8, MemoryMiB: 8192}, Box{Node: "c", Zone: "us-east-1b", VCPUs: 8, MemoryMiB: 8192})
	res, _ = c2.run(2, 2, "us-east-1b", nil)
	if got := c2.nodesOf(res.IDs); got["c"] != 2 {
		t.Fatalf("zone us-east-1b: %v", got)
	}
	res, _ = c2.run(2, 2, "", []string{"a"})
	if got := c2.nodesOf(res.IDs); got["a"] != 2 {
		t.Fatalf("only a live: %v", got)
	}
	if _, err := c2.run(1, 1, "us-east-1b", []string{"a"}); !errors.Is(err, &Error{Code: CodeInsufficientCapacity}) {
		t.Fatalf("zone with no live box: %v", err)
	}
}

func TestPrivateAddressesAndLifecycle(t *testing.T) {
	c := newComputeFSM(t, Box{Node: "a", Zone: "us-east-1b", VCPUs: 8, MemoryMiB: 8192})
	res, err := c.run(2, 2, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := c.f.store.Instance(res.IDs[0])
	b, _ := c.f.store.Instance(res.IDs[1])
	if a.PrivateIP != "172.31.16.4" || b.PrivateIP != "172.31.16.5" || a.State != InstancePending {
		t.Fatalf("addresses %s %s state %s", a.PrivateIP, b.PrivateIP, a.State)
	}
	// A report from another box or for an older intent changes nothing.
	c.apply(&ReportInstance{ID: a.ID, Node: "z", Generation: 1, State: InstanceRunning})
	if in, _ := c.f.store.Instance(a.ID); in.State != InstancePending {
		t.Fatalf("report from another box applied: %s", in.State)
	}
	c.apply(&ReportInstance{ID: a.ID, Node: "a", Generation: 1, State: InstanceRunning})
	if in, _ := c.f.store.Instance(a.ID); in.State != InstanceRunning {
		t.Fatalf("after the box's report: %s", in.State)
	}
	r := c.apply(&SetInstances{Account: "111", IDs: []string{a.ID}, Action: ActionTerminate})
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	c.apply(&ReportInstance{ID: a.ID, Node: "a", Generation: 1, State: InstanceRunning}) // stale
	if in, _ := c.f.store.Instance(a.ID); in.State != InstanceShuttingDown {
		t.Fatalf("stale report after terminate: %s", in.State)
	}
	c.apply(&ReportInstance{ID: a.ID, Node: "a", Generation: 2, State: InstanceTerminated})
	res, _ = c.run(1, 1, "", nil)
	if in, _ := c.f.store.Instance(res.IDs[0]); in.PrivateIP != "172.31.16.4" {
		t.Fatalf("the terminated instance's address was not given again: %s", in.PrivateIP)
	}
	// Another account cannot touch the instance; a terminated one cannot start.
	if r := c.apply(&SetInstances{Account: "222", IDs: []string{b.ID}, Action: ActionStop}); !errors.Is(r.Err, ErrNotFound) {
		t.Fatalf("stop by another account: %v", r.Err)
	}
	if r := c.apply(&SetInstances{Account: "111", IDs: []string{a.ID}, Action: ActionStart}); !errors.Is(r.Err, &Error{Code: CodeIncorrectState}) {
		t.Fatalf("start of a terminated instance: %v", r.Err)
	}
}

func TestRunInstancesClientTokenIsIdempotent(t *testing.T) {
	c := newComputeFSM(t, Box{Node: "a", Zone: "us-east-1a", VCPUs: 8, MemoryMiB: 8192})
	mk := func(id string) *RunInstances {
		return &RunInstances{MinCount: 1, Instances: []Instance{{ID: id, Account: "111", ReservationID: "r-" + id, ClientToken: "tok", VCPUs: 1, MemoryMiB: 1}}}
	}
	r1 := c.apply(mk("i-1"))
	r2 := c.apply(mk("i-2"))
	var a, b RunResult
	Unmarshal(r1.Value, &a)
	Unmarshal(r2.Value, &b)
	if r1.Err != nil || r2.Err != nil || len(b.IDs) != 1 || b.IDs[0] != "i-1" || b.ReservationID != "r-i-1" {
		t.Fatalf("retry with the same token: %v %v %+v", r1.Err, r2.Err, b)
	}
}
