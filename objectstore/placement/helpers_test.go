package placement

import (
	"fmt"
	"slices"
	"testing"

	"github.com/banyancloud/banyan/objectstore/erasure"
)

// boxesMap makes a map with one box per argument holding that many disks,
// all Online with equal weight. Disk IDs look like the UUIDs the cluster
// state hands out; the same (box, disk) always gets the same ID.
func boxesMap(disksPerBox ...int) Map {
	var m Map
	for b, n := range disksPerBox {
		for d := range n {
			m.Disks = append(m.Disks, Disk{ID: diskID(b, d), Node: boxName(b)})
		}
	}
	return m
}

func boxName(b int) string { return fmt.Sprintf("box-%02d", b) }

func diskID(b, d int) string {
	h := diskHash(fmt.Sprint(b, "/", d))
	return fmt.Sprintf("%08x-%04x-%04x-%04x-%012x", uint32(h), uint16(h>>32), uint16(h>>48), b, d)
}

func scheme(k, m int) erasure.Scheme {
	return erasure.Scheme{Data: k, Parity: m, BlockSize: erasure.DefaultBlockSize}
}

func mustNew(t testing.TB, m Map) *Topology {
	t.Helper()
	topo, err := New(m)
	if err != nil {
		t.Fatal(err)
	}
	return topo
}

func mustPlace(t testing.TB, topo *Topology, s erasure.Scheme, bucket, object string) []Disk {
	t.Helper()
	set, err := topo.Place(s, bucket, object)
	if err != nil {
		t.Fatal(err)
	}
	return set
}

func objectName(i int) string { return fmt.Sprintf("photos/2024/%07d.jpg", i) }

func ids(ds []Disk) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.ID
	}
	return out
}

// perBox counts an erasure set's shards per box.
func perBox(set []Disk) map[string]int {
	c := map[string]int{}
	for _, d := range set {
		c[d.Node]++
	}
	return c
}

// checkSet fails t unless set is a valid erasure set of s on topo: the
// right size, distinct disks that take writes, at most PerBox (<= parity on
// several boxes) shards per box.
func checkSet(t testing.TB, topo *Topology, s erasure.Scheme, tol Tolerance, set []Disk) {
	t.Helper()
	if len(set) != s.Total() {
		t.Fatalf("set of %d disks for %d+%d", len(set), s.Data, s.Parity)
	}
	seen := map[string]bool{}
	for _, d := range set {
		if seen[d.ID] {
			t.Fatalf("disk %s twice in %v", d.ID, ids(set))
		}
		seen[d.ID] = true
		if !d.State.takesWrites() {
			t.Fatalf("disk %s is %v but was placed on", d.ID, d.State)
		}
		if got := topo.Disk(d.ID); got != d {
			t.Fatalf("placed disk %+v, map has %+v", d, got)
		}
	}
	for node, c := range perBox(set) {
		if c > tol.PerBox {
			t.Fatalf("%d shards on %s, Tolerance.PerBox is %d", c, node, tol.PerBox)
		}
		if topo.Boxes() > 1 && c > s.Parity {
			t.Fatalf("%d shards on %s but only %d parity", c, node, s.Parity)
		}
	}
}

// setDiff returns the disks of b not in a.
func setDiff(a, b []Disk) []string {
	var out []string
	for _, d := range b {
		if !slices.ContainsFunc(a, func(x Disk) bool { return x.ID == d.ID }) {
			out = append(out, d.ID)
		}
	}
	return out
}
