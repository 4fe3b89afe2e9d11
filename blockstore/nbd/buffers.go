package nbd

import (
	"math/bits"
	"sync"
)

// Payload buffers come from one pool per power-of-two size class, 4 KiB to MaxPayload,
// so a busy connection reuses them instead of allocating per request. A buffer is only
// ever taken for a length already checked against MaxPayload.
const (
	minClassShift = 12 // 4 KiB
	maxClassShift = 25 // 32 MiB == MaxPayload
)

var bufPools [maxClassShift - minClassShift + 1]sync.Pool

// classOf is the size class holding n bytes (0 < n <= MaxPayload).
func classOf(n int) int {
	if n <= 1<<minClassShift {
		return 0
	}
	return bits.Len(uint(n-1)) - minClassShift
}

// classSize is the capacity of buffers in a class, which is what a buffer costs against
// a connection's budget.
func classSize(class int) int64 { return 1 << (class + minClassShift) }

// getBuf returns a buffer of length n from the pool of its class.
func getBuf(n int) *[]byte {
	c := classOf(n)
	if p, ok := bufPools[c].Get().(*[]byte); ok {
		*p = (*p)[:n]
		return p
	}
	b := make([]byte, n, classSize(c))
	return &b
}

// putBuf returns a buffer taken with getBuf.
func putBuf(p *[]byte) {
	bufPools[classOf(cap(*p))].Put(p)
}

// budget bounds the payload bytes a connection holds at once. Only the connection's
// reader acquires (so there is no fairness to arrange); its workers release.
type budget struct {
	mu    sync.Mutex
	used  int64
	limit int64
	freed chan struct{} // a release happened; capacity 1
}

func newBudget(limit int64) *budget {
	return &budget{limit: limit, freed: make(chan struct{}, 1)}
}

// acquire takes n bytes, waiting for releases; it gives up when stop closes. A request
// larger than the whole limit is let through alone (once nothing else is held), so a
// small limit slows a connection down instead of wedging it.
func (b *budget) acquire(n int64, stop <-chan struct{}) bool {
	for {
		b.mu.Lock()
		if b.used+n <= b.limit || b.used == 0 {
			b.used += n
			b.mu.Unlock()
			return true
		}
		b.mu.Unlock()
		select {
		case <-b.freed:
		case <-stop:
			return false
		}
	}
}

func (b *budget) release(n int64) {
	b.mu.Lock()
	b.used -= n
	b.mu.Unlock()
	select {
	case b.freed <- struct{}{}:
	default:
	}
}
