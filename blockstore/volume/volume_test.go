package volume

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/banyancloud/banyan/blockstore/replica"
)

// TestNoAcknowledgedWriteLostWhenReplicaFailsMidStream runs concurrent
// writers while copy b dies after a number of writes: every acknowledged
// write must be on every copy still in sync, b must be out with the extents
// it missed recorded, and a later primary must learn that from the others
// and resync b to identical.
func TestNoAcknowledgedWriteLostWhenReplicaFailsMidStream(t *testing.T) {
	const size = 16 * replica.ExtentSize
	c := newCluster(t, size, 200*time.Microsecond)
	c.faults["b"].failAfter.Store(150)
	v := c.open(t, 1)

	const writers, each, block = 8, 60, 16 << 10
	type acked struct {
		off  int64
		data []byte
	}
	var mu sync.Mutex
	var done []acked
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), 7))
			for i := range each {
				// Each writer owns its blocks, so the last ack per block is the truth.
				off := int64((i*writers+w)%(size/block)) * block
				data := randBytes(r, block)
				if err := v.WriteAt(bg, data, off, i%5 == 0); err != nil {
					t.Errorf("write at %d: %v", off, err)
					return
				}
				mu.Lock()
				done = append(done, acked{off, data})
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	must(t, v.Flush(bg))
	if st := status(v, "b"); st.State != Out || st.DirtyExtents == 0 {
		t.Fatalf("b after failing: %+v", st)
	}
	last := map[int64][]byte{}
	for _, a := range done {
		last[a.off] = a.data
	}
	for off, data := range last {
		wantBytes(t, c.read(t, "a", off, len(data)), data, "acknowledged write on a")
		wantBytes(t, c.read(t, "c", off, len(data)), data, "acknowledged write on c")
		p := make([]byte, len(data))
		must(t, v.ReadAt(bg, p, off))
		wantBytes(t, p, data, "acknowledged write read through the volume")
	}

	// The primary goes away; b's box comes back; a new primary takes over.
	c.faults["b"].down.Store(false)
	c.faults["b"].failAfter.Store(0)
	v2 := c.open(t, 2)
	if st := status(v2, "b"); st.State != Out || st.DirtyExtents == 0 {
		t.Fatalf("the new primary did not learn that b lags: %+v", st)
	}
	stats, err := v2.Resync(bg, "b")
	must(t, err)
	t.Logf("resync of b: %+v", stats)
	if st := status(v2, "b"); st.State != InSync || st.DirtyExtents != 0 {
		t.Fatalf("b after resync: %+v", st)
	}
	c.wantIdentical(t)
	if _, err := v.Resync(bg, "b"); err == nil {
		// The old primary is fenced: b, a and c all saw epoch 2.
		t.Fatal("the old primary resynced after a takeover")
	}
}

// TestResyncCopiesOnlyDirtyExtents: with c down, writes to two extents;
// resync copies exactly those two, and the copies end identical.
func TestResyncCopiesOnlyDirtyExtents(t *testing.T) {
	const size = 16 * replica.ExtentSize
	c := newCluster(t, size, 0)
	v := c.open(t, 1)
	r := rand.New(rand.NewPCG(1, 2))
	for e := range int64(16) {
		must(t, v.WriteAt(bg, randBytes(r, 64<<10), e*replica.ExtentSize+4096, false))
	}
	must(t, v.Flush(bg))
	c.faults["c"].down.Store(true)
	must(t, v.WriteAt(bg, randBytes(r, 8192), 3*replica.ExtentSize+100*512, true))
	must(t, v.WriteAt(bg, randBytes(r, 4096), 9*replica.ExtentSize, false))
	must(t, v.Flush(bg))
	if st := status(v, "c"); st.State != Out || st.DirtyExtents != 2 {
		t.Fatalf("c while down: %+v", st)
	}
	d, err := c.stores["a"].Dirty(bg, volID)
	must(t, err)
	if len(d["c"]) != 2 {
		t.Fatalf("dirty set recorded on a: %v", d)
	}
	c.faults["c"].down.Store(false)
	stats, err := v.Resync(bg, "c")
	must(t, err)
	if stats.Copied != 2 || stats.Verified != 0 {
		t.Fatalf("resync %+v, want 2 copied", stats)
	}
	c.wantIdentical(t)
	for _, n := range []string{"a", "b", "c"} {
		d, err := c.stores[n].Dirty(bg, volID)
		must(t, err)
		if len(d) != 0 {
			t.Fatalf("dirty sets left on %s: %v", n, d)
		}
	}
}

// TestResyncWhileWriting resyncs a copy that missed many writes while
// writers keep going over the same extents.
func TestResyncWhileWriting(t *testing.T) {
	const size = 8 * replica.ExtentSize
	c := newCluster(t, size, 100*time.Microsecond)
	v := c.open(t, 1)
	c.faults["b"].down.Store(true)
	r := rand.New(rand.NewPCG(3, 4))
	for i := range 64 {
		must(t, v.WriteAt(bg, randBytes(r, 32<<10), int64(i)*(size/64), false))
	}
	c.faults["b"].down.Store(false)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), 9))
			for {
				select {
				case <-stop:
					return
				default:
				}
				off := r.Int64N(size/4096-8) * 4096
				if err := v.WriteAt(bg, randBytes(r, 4096*(1+r.IntN(8))), off, false); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	_, err := v.Resync(bg, "b")
	close(stop)
	wg.Wait()
	must(t, err)
	must(t, v.Flush(bg))
	c.wantIdentical(t)
}

// TestStalePrimaryIsFenced: once a new primary has opened the volume, the
// old one's next write fails with ErrFenced, lands nowhere, and every later
// call fails too.
func TestStalePrimaryIsFenced(t *testing.T) {
	c := newCluster(t, 4*replica.ExtentSize, 0)
	old := c.open(t, 1)
	must(t, old.WriteAt(bg, []byte("from the old primary"), 0, true))
	cur := c.open(t, 2)
	wantErr(t, old.WriteAt(bg, []byte("LATE WRITE FROM OLD!"), 0, false), ErrFenced, "write of the old primary")
	for _, n := range []string{"a", "b", "c"} {
		wantBytes(t, c.read(t, n, 0, 20), []byte("from the old primary"), "copy "+n+" after the fenced write")
	}
	wantErr(t, old.ReadAt(bg, make([]byte, 10), 0), ErrFenced, "read after fencing")
	wantErr(t, old.Flush(bg), ErrFenced, "flush after fencing")
	if !old.Fenced() {
		t.Fatal("Fenced() is false")
	}
	must(t, cur.WriteAt(bg, []byte("from the new primary"), 0, true))
	_, err := Open(bg, c.config(1))
	wantErr(t, err, ErrFenced, "opening at an old epoch")
}

// TestFencedWhenOnlyOneCopyIsClaimed: the new primary reached only c; the
// old one still reaches a and b, and is fenced by c's answer.
func TestFencedWhenOnlyOneCopyIsClaimed(t *testing.T) {
	c := newCluster(t, 4*replica.ExtentSize, 0)
	old := c.open(t, 1)
	must(t, c.stores["c"].Flush(bg, volID, 2)) // the new primary's claim
	wantErr(t, old.WriteAt(bg, make([]byte, 4096), 0, false), ErrFenced, "write after a partial claim")
}

// TestConcurrentWritesToOneExtentLeaveIdenticalCopies: many writers hammer
// overlapping ranges of one extent while the copies add random latency;
// the striped locks must deliver the writes in the same order everywhere.
func TestConcurrentWritesToOneExtentLeaveIdenticalCopies(t *testing.T) {
	c := newCluster(t, 2*replica.ExtentSize, 300*time.Microsecond)
	v := c.open(t, 1)
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), 11))
			for range 40 {
				off := r.Int64N(replica.ExtentSize/512-256) * 512
				if err := v.WriteAt(bg, randBytes(r, 512*(1+r.IntN(256))), off, r.IntN(4) == 0); err != nil {
					t.Error(err)
					return
				}
				if r.IntN(10) == 0 {
					if err := v.WriteZeroes(bg, off, 4096, false); err != nil {
						t.Error(err)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	must(t, v.Flush(bg))
	c.wantIdentical(t)
}

// TestWriteWithNoCopyFails: when every copy fails, the write is refused
// and nothing is put out (no copy is known to be better than another).
func TestWriteWithNoCopyFails(t *testing.T) {
	c := newCluster(t, 4*replica.ExtentSize, 0)
	cfg := c.config(1)
	cfg.Replicas = cfg.Replicas[1:] // b and c only
	v, err := Open(bg, cfg)
	must(t, err)
	c.faults["b"].failWrites.Store(true)
	c.faults["c"].failWrites.Store(true)
	wantErr(t, v.WriteAt(bg, make([]byte, 4096), 0, false), ErrNoReplica, "write with every copy failing")
	for _, s := range v.Status() {
		if s.State != InSync {
			t.Fatalf("%s put out by a write no copy took", s.Name)
		}
	}
	c.faults["b"].failWrites.Store(false)
	must(t, v.WriteAt(bg, make([]byte, 4096), 0, false))
	if st := status(v, "c"); st.State != Out {
		t.Fatalf("c after failing alone: %+v", st)
	}
}

// TestCopyDownAtOpenIsVerifiedNotCopied: a copy unreachable at takeover is
// presumed to lag everywhere, but resync finds it identical by the sums and
// copies nothing.
func TestCopyDownAtOpenIsVerifiedNotCopied(t *testing.T) {
	c := newCluster(t, 8*replica.ExtentSize, 0)
	v := c.open(t, 1)
	r := rand.New(rand.NewPCG(5, 6))
	must(t, v.WriteAt(bg, randBytes(r, 1<<20), 3*replica.ExtentSize, true))
	c.faults["c"].down.Store(true)
	v2 := c.open(t, 2)
	if st := status(v2, "c"); st.State != Out || st.DirtyExtents != 8 {
		t.Fatalf("c down at open: %+v", st)
	}
	c.faults["c"].down.Store(false)
	stats, err := v2.Resync(bg, "c")
	must(t, err)
	if stats.Copied != 0 || stats.Verified != 8 {
		t.Fatalf("resync %+v, want 8 verified, 0 copied", stats)
	}
	c.wantIdentical(t)
}

// TestResyncCreatesAMissingCopy: a copy whose box lost it is recreated and
// filled.
func TestResyncCreatesAMissingCopy(t *testing.T) {
	c := newCluster(t, 4*replica.ExtentSize, 0)
	v := c.open(t, 1)
	must(t, v.WriteAt(bg, []byte("hello"), replica.ExtentSize, true))
	must(t, c.stores["b"].Delete(bg, volID))
	v2 := c.open(t, 2)
	if st := status(v2, "b"); st.State != Out {
		t.Fatalf("b without a copy: %+v", st)
	}
	_, err := v2.Resync(bg, "b")
	must(t, err)
	c.wantIdentical(t)
}

func TestBoundsAndGrow(t *testing.T) {
	c := newCluster(t, 2*replica.ExtentSize, 0)
	v := c.open(t, 1)
	wantErr(t, v.WriteAt(bg, make([]byte, 512), v.Size(), false), ErrOutOfRange, "write past the end")
	wantErr(t, v.ReadAt(bg, make([]byte, 512), -512), ErrOutOfRange, "read before the start")
	wantErr(t, v.Trim(bg, 0, v.Size()+1), ErrOutOfRange, "trim past the end")
	c.faults["c"].down.Store(true)
	must(t, v.Grow(bg, 3*replica.ExtentSize))
	must(t, v.WriteAt(bg, []byte("grown"), 2*replica.ExtentSize+10, false))
	c.faults["c"].down.Store(false)
	_, err := v.Resync(bg, "c")
	must(t, err)
	c.wantIdentical(t)
	must(t, v.Close(bg))
	wantErr(t, v.WriteAt(bg, make([]byte, 1), 0, false), ErrClosed, "write after close")
}

// TestWritesWaitForTheOutReport: a write that puts a copy out is acknowledged only once
// Config.Report accepted it, and while the report is refused (a primary cut off from the
// control plane) every later write is refused too, not only the first: otherwise the
// primary would acknowledge writes that only its own copies hold and that the control
// plane does not know are missing elsewhere. When it comes back in sync it is reported.
func TestWritesWaitForTheOutReport(t *testing.T) {
	c := newCluster(t, 4*replica.ExtentSize, 0)
	cfg := c.config(1)
	var mu sync.Mutex
	refuse := true
	var reports []string
	cfg.Report = func(ctx context.Context, name string, inSync bool) error {
		mu.Lock()
		defer mu.Unlock()
		if refuse && !inSync {
			return errors.New("no quorum (test)")
		}
		reports = append(reports, fmt.Sprintf("%s:%v", name, inSync))
		return nil
	}
	v, err := Open(bg, cfg)
	must(t, err)
	c.faults["c"].down.Store(true)
	for i := range 3 {
		if err := v.WriteAt(bg, make([]byte, 4096), int64(i)*4096, false); err == nil {
			t.Fatalf("write %d acknowledged while the report that c is out was refused", i)
		}
	}
	mu.Lock()
	refuse = false
	mu.Unlock()
	must(t, v.WriteAt(bg, make([]byte, 4096), 0, false))
	must(t, v.WriteAt(bg, make([]byte, 4096), 4096, false))
	c.faults["c"].down.Store(false)
	if _, err := v.Resync(bg, "c"); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if want := []string{"c:false", "c:true"}; !slices.Equal(reports, want) {
		t.Fatalf("reports %v, want %v (one out, accepted once, then back)", reports, want)
	}
}
