package volume

import (
	"context"
	"fmt"
	"os"
	"slices"
	"sync"

	"github.com/banyancloud/banyan/blockstore/replica"
)

// View is a frozen, crash-consistent image of the volume as it was when Freeze
// returned, read extent by extent while writes go on (a snapshot reads it). Copy on
// write: the first write to an extent the View has not read yet first saves the
// extent's old bytes in a scratch file; ReadExtent serves saved bytes, else the
// volume's current ones (unchanged since the mark). An extent once read needs no
// saving any more.
type View struct {
	v    *Volume
	size int64

	mu      sync.Mutex
	scratch *os.File
	saved   replica.ExtentSet
	read    replica.ExtentSet
	err     error // a save that failed: the View is unusable
	closed  bool
}

// Freeze marks the point in time the returned View reads: every write acknowledged
// before it is in the View, none after. It waits for writes in flight to finish.
// Scratch space for saved extents is a file in dir ("" for the system's temporary
// folder), removed by Release.
func (v *Volume) Freeze(dir string) (*View, error) {
	if err := v.usable(); err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(dir, "freeze-"+v.cfg.ID+"-*")
	if err != nil {
		return nil, fmt.Errorf("volume: scratch file for a frozen view: %w", err)
	}
	os.Remove(f.Name()) // unnamed: gone with the last descriptor
	unlock := v.units.lock(span{0, stripes * lockUnit})
	defer unlock()
	w := &View{v: v, size: v.Size(), scratch: f}
	v.mu.Lock()
	v.views = append(v.views, w)
	v.mu.Unlock()
	return w, nil
}

// Size is the volume's size at the mark.
func (w *View) Size() int64 { return w.size }

// Extents is the number of extents at the mark.
func (w *View) Extents() int64 { return replica.Extents(w.size) }

// ReadExtent returns extent n as it was at the mark.
func (w *View) ReadExtent(ctx context.Context, n int64) ([]byte, error) {
	if n < 0 || n >= w.Extents() {
		return nil, fmt.Errorf("%w: extent %d of %d", ErrOutOfRange, n, w.Extents())
	}
	// Filling from a snapshot never changes what the extent reads as, so do it
	// before taking the View's lock (a fill takes unit locks).
	if err := w.v.ensureFilled(ctx, n*replica.ExtentSize, replica.ExtentLen(w.size, n)); err != nil {
		return nil, err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return nil, w.err
	}
	if w.closed {
		return nil, ErrClosed
	}
	buf := make([]byte, replica.ExtentLen(w.size, n))
	if w.saved.Has(n) {
		if _, err := w.scratch.ReadAt(buf, n*replica.ExtentSize); err != nil {
			return nil, fmt.Errorf("volume: reading a saved extent: %w", err)
		}
		return buf, nil
	}
	if err := w.v.ReadAt(ctx, buf, n*replica.ExtentSize); err != nil {
		return nil, err
	}
	w.read.Add(replica.Run{First: n, Count: 1})
	return buf, nil
}

// Release ends the View and frees its scratch space.
func (w *View) Release() {
	v := w.v
	v.mu.Lock()
	v.views = slices.DeleteFunc(v.views, func(x *View) bool { return x == w })
	v.mu.Unlock()
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.closed {
		w.closed = true
		w.scratch.Close()
	}
}

// preserve saves, for every View, the extents of [off, off+n) it has neither saved nor
// read, before a write changes them. It runs under the write's unit locks, after the
// range was filled. A save that fails breaks that View (its snapshot fails), never the
// write.
func (v *Volume) preserve(ctx context.Context, off, n int64) {
	v.mu.Lock()
	views := slices.Clone(v.views)
	v.mu.Unlock()
	if len(views) == 0 || n <= 0 {
		return
	}
	first, last := off/replica.ExtentSize, (off+n-1)/replica.ExtentSize
	for _, w := range views {
		w.mu.Lock()
		for e := first; e <= last && e < w.Extents() && w.err == nil && !w.closed; e++ {
			if w.saved.Has(e) || w.read.Has(e) {
				continue
			}
			buf := make([]byte, replica.ExtentLen(w.size, e))
			if err := v.ReadAt(ctx, buf, e*replica.ExtentSize); err != nil {
				w.err = fmt.Errorf("volume: saving extent %d for a frozen view: %w", e, err)
				break
			}
			if _, err := w.scratch.WriteAt(buf, e*replica.ExtentSize); err != nil {
				w.err = fmt.Errorf("volume: saving extent %d for a frozen view: %w", e, err)
				break
			}
			w.saved.Add(replica.Run{First: e, Count: 1})
		}
		w.mu.Unlock()
	}
}
