package placement

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// negLog2 is within 2e-7 of -log2(s/2^64) and never decreases as s falls,
// so weighted scores order draws as the real logarithm would.
func TestNegLog2(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	draws := []uint64{0, 1, 2, 3, 1 << 10, 1<<32 - 1, 1 << 32, 1<<63 - 1, 1 << 63, 1<<63 + 1, 1<<64 - 2, 1<<64 - 1}
	for range 20000 {
		draws = append(draws, rng.Uint64(), rng.Uint64()>>rng.IntN(64))
	}
	slices.Sort(draws)
	prev := uint64(math.MaxUint64)
	for _, s := range draws {
		got := negLog2(s)
		if got > prev || got == 0 || got > 64<<fracBits {
			t.Fatalf("negLog2(%#x) = %#x after %#x", s, got, prev)
		}
		prev = got
		want := 64 - math.Log2(float64(max(s, 1)))
		if d := math.Abs(float64(got)/(1<<fracBits) - want); d > 2e-7 && s < 1<<64-1<<20 {
			t.Fatalf("negLog2(%#x) = %.12f, want %.12f", s, float64(got)/(1<<fracBits), want)
		}
	}
	tab := log2Table()
	for i := 1; i < len(tab); i++ {
		if tab[i] <= tab[i-1] {
			t.Fatalf("table not increasing at %d", i)
		}
	}
}

func TestHeavier(t *testing.T) {
	// Weight 2 at twice the log ties weight 1.
	if _, ok := heavier(2, 200, 1, 100); ok {
		t.Error("2/200 vs 1/100 should tie")
	}
	if b, ok := heavier(3, 200, 1, 100); !b || !ok {
		t.Error("3/200 should beat 1/100")
	}
	if b, ok := heavier(1<<62, 64<<fracBits, 1<<62-1, 64<<fracBits); !b || !ok {
		t.Error("large weights must not overflow")
	}
}

// Equal weights take the fast path; it must agree with the weighted path.
func TestEqualWeightsMatchWeightedPath(t *testing.T) {
	m := boxesMap(3, 3, 3, 3)
	topo := mustNew(t, m)
	slow := mustNew(t, m)
	slow.write.equal = false
	for i := range 2000 {
		a := mustPlace(t, topo, scheme(4, 4), "b", objectName(i))
		b := mustPlace(t, slow, scheme(4, 4), "b", objectName(i))
		if !slices.Equal(a, b) {
			t.Fatalf("fast path %v, weighted path %v", ids(a), ids(b))
		}
	}
}
