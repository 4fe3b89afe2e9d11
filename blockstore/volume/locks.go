package volume

import (
	"slices"
	"sync"
)

const (
	// lockUnit is the granularity of write ordering: overlapping writes
	// within one unit are serialized.
	lockUnit = 128 << 10
	// stripes is the number of locks the units share.
	stripes = 4096
)

// unitLocks orders writes: a write holds the stripes of every unit it
// touches, taken in ascending stripe order so two writes never deadlock.
type unitLocks struct {
	mu [stripes]sync.Mutex
}

// span is a byte range of the volume.
type span struct{ off, n int64 }

// lock takes the stripes of every unit of the spans and returns the
// function that releases them.
func (l *unitLocks) lock(spans ...span) func() {
	var idx []int
	for _, s := range spans {
		first, last := s.off/lockUnit, (s.off+max(s.n, 1)-1)/lockUnit
		if last-first+1 >= stripes {
			idx = idx[:0]
			for i := range stripes {
				idx = append(idx, i)
			}
			break
		}
		for u := first; u <= last; u++ {
			idx = append(idx, int(u%stripes))
		}
	}
	slices.Sort(idx)
	idx = slices.Compact(idx)
	for _, i := range idx {
		l.mu[i].Lock()
	}
	return func() {
		for _, i := range slices.Backward(idx) {
			l.mu[i].Unlock()
		}
	}
}
