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
