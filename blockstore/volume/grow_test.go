package volume

import (
	"math/rand/v2"
	"testing"

	"github.com/banyancloud/banyan/blockstore/replica"
)

// TestGrowWhileOpen grows a volume that is being written: afterwards it serves reads and
// writes past the old end, every copy has the new size and the same bytes (the tail of
// the old last extent and the new extents read as zeros until written), and a later
// primary opening it with the new size finds every copy in sync.
func TestGrowWhileOpen(t *testing.T) {
	const old = 2*replica.ExtentSize + 64<<10 // a partial last extent
	const grown = 5 * replica.ExtentSize
	c := newCluster(t, old, 0)
	v := c.open(t, 1)
	r := rand.New(rand.NewPCG(1, 2))
	head := randBytes(r, 64<<10)
	must(t, v.WriteAt(bg, head, old-int64(len(head)), false))

	done := make(chan error)
	go func() {
		// Writes inside the old size go on while the volume grows.
		for i := range 50 {
			if err := v.WriteAt(bg, head[:4096], int64(i)*4096, i%7 == 0); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	must(t, v.Grow(bg, grown))
	must(t, <-done)
	if v.Size() != grown {
		t.Fatalf("size %d after growing to %d", v.Size(), grown)
	}
	wantErr(t, v.Grow(bg, old), ErrOutOfRange, "shrinking")

	tail := randBytes(r, 1<<20)
	at := int64(grown) - int64(len(tail))
	must(t, v.WriteAt(bg, tail, at, true))
	straddle := randBytes(r, 128<<10)
	must(t, v.WriteAt(bg, straddle, old-64<<10, false))
	must(t, v.Flush(bg))
	got := make([]byte, len(tail))
	must(t, v.ReadAt(bg, got, at))
	wantBytes(t, got, tail, "read past the old end")
	wantErr(t, v.WriteAt(bg, make([]byte, 512), grown, false), ErrOutOfRange, "write past the new end")

	for name, s := range c.stores {
		info, err := s.Info(bg, volID)
		must(t, err)
		if info.Size != grown {
			t.Fatalf("copy %s is %d bytes, want %d", name, info.Size, grown)
		}
		wantBytes(t, c.read(t, name, at, len(tail)), tail, "copy "+name+" past the old end")
		wantBytes(t, c.read(t, name, old-64<<10, len(straddle)), straddle, "copy "+name+" across the old end")
		wantBytes(t, c.read(t, name, old+64<<10, 4096), make([]byte, 4096), "copy "+name+" unwritten new space")
	}
	c.wantIdentical(t)
	for _, st := range v.Status() {
		if st.State != InSync {
			t.Fatalf("copy %s is %s after the grow", st.Name, st.State)
		}
	}
	must(t, v.Close(bg))

	cfg := c.config(2)
	cfg.Size = grown
	w, err := Open(bg, cfg)
	must(t, err)
	for _, st := range w.Status() {
		if st.State != InSync {
			t.Fatalf("reopened at the new size, copy %s is %s", st.Name, st.State)
		}
	}
}

// TestGrowWithACopyDown grows while a copy's box is down: that copy goes out with the
// new extents dirty and comes back at the new size with the bytes written meanwhile.
func TestGrowWithACopyDown(t *testing.T) {
	const old, grown = 2 * replica.ExtentSize, 4 * replica.ExtentSize
	c := newCluster(t, old, 0)
	v := c.open(t, 1)
	c.faults["b"].down.Store(true)
	must(t, v.Grow(bg, grown))
	if st := status(v, "b"); st.State != Out || st.DirtyExtents == 0 {
		t.Fatalf("b after a grow it missed: %+v", st)
	}
	data := randBytes(rand.New(rand.NewPCG(3, 4)), 8192)
	must(t, v.WriteAt(bg, data, 3*replica.ExtentSize+100, true))
	c.faults["b"].down.Store(false)
	_, err := v.Resync(bg, "b")
	must(t, err)
	info, err := c.stores["b"].Info(bg, volID)
	must(t, err)
	if info.Size != grown {
		t.Fatalf("b resynced at %d bytes, want %d", info.Size, grown)
	}
	wantBytes(t, c.read(t, "b", 3*replica.ExtentSize+100, len(data)), data, "b's new extent")
	c.wantIdentical(t)
}
