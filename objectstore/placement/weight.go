package placement

import (
	"math/bits"
	"sync"
)

// Weighted rendezvous hashing: a disk of weight w with uniform draw u in
// (0,1) scores w / -log2(u), highest wins. -log2(u)/w is exponentially
// distributed with rate proportional to w, so a disk wins with probability
// w/sum(w), the best of a group of disks (a box) wins with the group's total
// weight, and adding or reweighting a disk moves only the objects it wins or
// loses. With equal weights the order is that of u itself, which is what the
// unweighted fast path compares.
//
// Every box must compute the same order, so the logarithm is fixed-point
// integer arithmetic: math.Log differs between architectures in the last
// bit (assembly on amd64, pure Go elsewhere, FMA fusion on arm64), and a
// one-ulp difference would put an object on different disks depending on
// which box placed it.

// fracBits is the fixed-point precision of logarithms: Q57, so that
// -log2(u) <= 64 fits in 63 bits and w * -log2(u) fits in 128.
const fracBits = 57

// segBits: log2 on [1,2) is tabulated at 1<<segBits points and interpolated
// linearly in between; the interpolation error is below 2e-7 and, since the
// table is exact at its points and log2 is increasing, the result is still
// monotonic in u, which is all an order needs.
const segBits = 10

var log2Table = sync.OnceValue(func() *[1<<segBits + 1]uint64 {
	var t [1<<segBits + 1]uint64
	for i := range t {
		// x = 1 + i/2^segBits in Q62
		t[i] = log2Q62(uint64(1<<segBits+i) << (62 - segBits))
	}
	return &t
})

// log2Q62 returns log2(x) in Q57 for x in [1, 2] given in Q62, one bit per
// squaring. Integer only, so exact and identical everywhere.
func log2Q62(x uint64) uint64 {
	if x >= 1<<63 {
		return 1 << fracBits // x == 2
	}
	var r uint64
	for bit := uint64(1) << (fracBits - 1); bit != 0; bit >>= 1 {
		hi, lo := bits.Mul64(x, x) // x*x in Q124, < 4
		x = hi<<2 | lo>>62
		if x >= 1<<63 {
			x >>= 1
			r |= bit
		}
	}
	return r
}

// negLog2 returns -log2(s / 2^64) in Q57: 0 < result <= 64<<57.
func negLog2(s uint64) uint64 {
	if s == 0 {
		s = 1
	}
	lz := bits.LeadingZeros64(s)
	e := uint64(63 - lz)
	f := s << lz << 1 // fraction of the mantissa, Q64
	i := f >> (64 - segBits)
	rem := f << segBits >> segBits // position inside the segment, Q(64-segBits)
	t := log2Table()
	hi, lo := bits.Mul64(t[i+1]-t[i], rem)
	frac := t[i] + (hi<<segBits | lo>>(64-segBits))
	return 64<<fracBits - (e<<fracBits + frac)
}

// heavier reports whether weight wa with draw la (= negLog2) beats wb with
// lb, i.e. wa/la > wb/lb, exactly, by comparing the 128-bit products
// wa*lb and wb*la. ok is false on a tie.
func heavier(wa, la, wb, lb uint64) (better, ok bool) {
	ah, al := bits.Mul64(wa, lb)
	bh, bl := bits.Mul64(wb, la)
	if ah != bh {
		return ah > bh, true
	}
	if al != bl {
		return al > bl, true
	}
	return false, false
}
