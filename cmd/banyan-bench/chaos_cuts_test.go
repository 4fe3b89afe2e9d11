package main

import (
	"testing"
	"time"
)

// A GET is excused as served from the minority side only when its box was cut off from
// more than (nodes-1)/2 others while it was being read.
func TestInMinorityDuring(t *testing.T) {
	c := &chaosCluster{}
	for i := 1; i <= 5; i++ {
		c.nodes = append(c.nodes, &chaosNode{idx: i})
	}
	t0 := time.Now()
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	c.cutLog = []cutChange{
		{at: at(10), cuts: c.isolate(4)},
		{at: at(20), cuts: nil},
		{at: at(30), cuts: [][2]int{{4, 1}, {2, 4}}}, // two others away: not a minority of 5
		{at: at(40), cuts: nil},
	}
	for _, tc := range []struct {
		node     int
		from, to float64
		want     bool
	}{
		{4, 5, 9, false},
		{4, 5, 11, true},
		{4, 19, 25, true},
		{4, 21, 29, false},
		{3, 5, 25, false},
		{4, 31, 35, false},
	} {
		if got := c.inMinorityDuring(tc.node, at(tc.from), at(tc.to)); got != tc.want {
			t.Errorf("n%d during [%v, %v]: got %v, want %v", tc.node, tc.from, tc.to, got, tc.want)
		}
	}
}

// A GET served by a node the soak killed while it read (or a moment after its client saw
// the end) broke off because its server died, and is counted apart.
func TestKilledDuring(t *testing.T) {
	c := &chaosCluster{}
	t0 := time.Now()
	for i := 1; i <= 3; i++ {
		c.nodes = append(c.nodes, &chaosNode{idx: i})
	}
	c.nodes[1].killed = []time.Time{t0.Add(10 * time.Second)}
	for _, tc := range []struct {
		node     int
		from, to time.Duration
		want     bool
	}{
		{2, 9 * time.Second, 11 * time.Second, true},
		{2, 9 * time.Second, 9500 * time.Millisecond, true}, // the client saw the reset first
		{2, 5 * time.Second, 8 * time.Second, false},
		{2, 11 * time.Second, 12 * time.Second, false},
		{1, 9 * time.Second, 11 * time.Second, false},
	} {
		if got := c.killedDuring(tc.node, t0.Add(tc.from), t0.Add(tc.to)); got != tc.want {
			t.Errorf("node %d [%v, %v]: %v, want %v", tc.node, tc.from, tc.to, got, tc.want)
		}
	}
}
