package placement

import (
	"fmt"
	"math"
	"testing"
)

// spreadObjects is how many object names the spread tests place.
func spreadObjects() int {
	if testing.Short() {
		return 20_000
	}
	return 100_000
}

// chiSquare returns sum((obs-exp)^2/exp) and a bound it stays under unless
// the counts are far from expected: dof + 6*sqrt(2*dof), six standard
// deviations of the chi-square distribution. Counts from sets (no disk
// twice per object) vary less than multinomial counts, so the bound is
// conservative.
func chiSquare(obs map[string]int, exp map[string]float64) (stat, bound float64) {
	for k, e := range exp {
		d := float64(obs[k]) - e
		stat += d * d / e
	}
	dof := float64(len(exp) - 1)
	return stat, dof + 6*math.Sqrt(2*dof)
}

// Equal disks on equal boxes: every disk gets the same share of shards, of
// first shards (the data most reads hit) and every pair of disks on two
// boxes appears together equally often, which checks that the draws of
// different disks are independent.
func TestSpreadEqualDisks(t *testing.T) {
	topo := mustNew(t, boxesMap(4, 4, 4, 4, 4, 4))
	s := scheme(4, 2)
	n := spreadObjects()
	shards, first, pairs := map[string]int{}, map[string]int{}, map[string]int{}
	for i := range n {
		set := mustPlace(t, topo, s, "bucket", objectName(i))
		first[set[0].ID]++
		for a, d := range set {
			shards[d.ID]++
			for _, e := range set[a+1:] {
				pairs[pairKey(d.ID, e.ID)]++
			}
		}
	}
	expShards, expFirst, expPairs := map[string]float64{}, map[string]float64{}, map[string]float64{}
	disks := topo.write.disks
	for _, i := range disks {
		a := topo.disks[i]
		expShards[a.ID] = float64(n*s.Total()) / float64(len(disks))
		expFirst[a.ID] = float64(n) / float64(len(disks))
		for _, j := range disks {
			if b := topo.disks[j]; a.Node < b.Node {
				expPairs[pairKey(a.ID, b.ID)] = float64(n) / 16 // one disk of 4 on each box
			}
		}
	}
	for _, c := range []struct {
		what string
		obs  map[string]int
		exp  map[string]float64
	}{{"shards per disk", shards, expShards}, {"first shards per disk", first, expFirst}, {"disk pairs", pairs, expPairs}} {
		stat, bound := chiSquare(c.obs, c.exp)
		lo, hi := minMax(c.obs, c.exp)
		t.Logf("%s over %d objects: chi-square %.1f (bound %.1f, %d cells), min/max vs expected %.3f/%.3f", c.what, n, stat, bound, len(c.exp), lo, hi)
		if stat > bound {
			t.Errorf("%s: chi-square %.1f > %.1f", c.what, stat, bound)
		}
	}
}

// Weighted disks: the first shard lands on each disk in proportion to its
// weight (exactly what weighted rendezvous promises); later shards lean
// towards proportional as far as one-per-box allows.
func TestSpreadWeightedDisks(t *testing.T) {
	m := boxesMap(1, 1, 1, 1, 1, 1, 1, 1)
	total := 0.0
	for i := range m.Disks {
		m.Disks[i].Weight = int64(i+1) << 40 // 1..8 TiB
		total += float64(i + 1)
	}
	topo := mustNew(t, m)
	n := spreadObjects()
	first, shards := map[string]int{}, map[string]int{}
	for i := range n {
		set := mustPlace(t, topo, scheme(1, 1), "bucket", objectName(i))
		first[set[0].ID]++
		for _, d := range set {
			shards[d.ID]++
		}
	}
	exp := map[string]float64{}
	for i, d := range m.Disks {
		exp[d.ID] = float64(n) * float64(i+1) / total
	}
	stat, bound := chiSquare(first, exp)
	t.Logf("first shards, weights 1..8: chi-square %.1f (bound %.1f)", stat, bound)
	if stat > bound {
		t.Errorf("first shards not proportional to weight: chi-square %.1f > %.1f", stat, bound)
	}
	var line string
	for i, d := range m.Disks {
		line += fmt.Sprintf(" w%d:%.3f", i+1, float64(shards[d.ID])/float64(2*n)*total/float64(i+1))
	}
	t.Logf("all shards, share/weight share:%s", line)
}

// Uneven boxes: with one shard per box, every box carries the same number
// of shards and shares them evenly over its own disks.
func TestSpreadUnevenBoxes(t *testing.T) {
	topo := mustNew(t, boxesMap(1, 2, 3, 5, 8))
	n := spreadObjects()
	shards := map[string]int{}
	for i := range n {
		for _, d := range mustPlace(t, topo, scheme(3, 2), "bucket", objectName(i)) {
			shards[d.ID]++
		}
	}
	exp := map[string]float64{}
	for _, b := range topo.write.boxes {
		for _, i := range b.disks {
			exp[topo.disks[i].ID] = float64(n) / float64(len(b.disks))
		}
	}
	stat, bound := chiSquare(shards, exp)
	t.Logf("3+2 over boxes of 1,2,3,5,8 disks: chi-square %.1f (bound %.1f)", stat, bound)
	if stat > bound {
		t.Errorf("chi-square %.1f > %.1f", stat, bound)
	}
}

func pairKey(a, b string) string {
	if a > b {
		a, b = b, a
	}
	return a + "|" + b
}

func minMax(obs map[string]int, exp map[string]float64) (lo, hi float64) {
	lo = math.Inf(1)
	for k, e := range exp {
		r := float64(obs[k]) / e
		lo, hi = min(lo, r), max(hi, r)
	}
	return lo, hi
}
