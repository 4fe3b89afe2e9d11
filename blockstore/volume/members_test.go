package volume

import (
	"context"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"github.com/banyancloud/banyan/blockstore/replica"
)

// TestSetReplicasRebuildsACopyWhileWriting: a volume open over a and b, b's box lost, is
// given c in b's place while a writer goes on: c joins out with every extent to verify,
// b's failures are neither recorded nor reported any more, a Resync brings c to a's bytes,
// and a set with no copy in sync is refused without a change.
func TestSetReplicasRebuildsACopyWhileWriting(t *testing.T) {
	const size = 8 * replica.ExtentSize
	c := newCluster(t, size, 0)
	cfg := c.config(1)
	cfg.Replicas = cfg.Replicas[:2] // a and b
	var mu sync.Mutex
	var reports []string
	cfg.Report = func(ctx context.Context, name string, inSync bool) error {
		mu.Lock()
		defer mu.Unlock()
		reports = append(reports, name+map[bool]string{true: "+", false: "-"}[inSync])
		return nil
	}
	v, err := Open(bg, cfg)
	must(t, err)
	r := rand.New(rand.NewPCG(5, 6))
	for i := range 16 {
		must(t, v.WriteAt(bg, randBytes(r, 64<<10), int64(i)*(size/16), false))
	}
	c.faults["b"].down.Store(true) // b's box is lost
	must(t, v.WriteAt(bg, []byte("b is out now"), 4096, true))
	if st := status(v, "b"); st.State != Out {
		t.Fatalf("b after its box went: %+v", st)
	}

	wantErr(t, v.SetReplicas([]Replica{{Name: "b", Holder: c.faults["b"]}, {Name: "c", Holder: c.faults["c"]}}), ErrNoReplica, "a set with no copy in sync")
	if got := v.Replicas(); !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("a refused set changed the copies: %v", got)
	}
	mu.Lock()
	reports = nil
	mu.Unlock()
	must(t, v.SetReplicas([]Replica{{Name: "a", Holder: c.stores["a"], Local: true}, {Name: "c", Holder: c.faults["c"]}}))
	if got := v.Replicas(); !slices.Equal(got, []string{"a", "c"}) {
		t.Fatalf("copies %v", got)
	}
	if st := status(v, "c"); st.State != Out || st.DirtyExtents != replica.Extents(size) {
		t.Fatalf("c as it joins: %+v", st)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		r := rand.New(rand.NewPCG(7, 8))
		for {
			select {
			case <-stop:
				return
			default:
			}
			if err := v.WriteAt(bg, randBytes(r, 4096*(1+r.IntN(8))), r.Int64N(size/4096-8)*4096, false); err != nil {
				t.Error(err)
				return
			}
		}
	})
	st, err := v.Resync(bg, "c")
	close(stop)
	wg.Wait()
	must(t, err)
	if st.Copied == 0 {
		t.Fatalf("resync of a new copy copied nothing: %+v", st)
	}
	must(t, v.Flush(bg))
	if got := status(v, "c"); got.State != InSync {
		t.Fatalf("c after its resync: %+v", got)
	}
	a, cs := c.sums(t, "a"), c.sums(t, "c")
	if !slices.Equal(a, cs) {
		t.Fatal("the rebuilt copy differs from a")
	}
	mu.Lock()
	defer mu.Unlock()
	if slices.Contains(reports, "b-") || !slices.Contains(reports, "c+") {
		t.Fatalf("reports after the change: %v", reports)
	}
}
