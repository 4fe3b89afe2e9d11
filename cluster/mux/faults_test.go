package mux

import (
	"net"
	"testing"
)

// A connection whose dial passed the partition check just before Block is cut when it is
// registered, instead of slipping through the partition (a flake in the cluster's
// no-majority test: a leader kept replicating over such a connection).
func TestTrackAfterBlockCuts(t *testing.T) {
	var f Faults
	a, b := net.Pipe()
	defer b.Close()
	if !f.allowed("127.0.0.12:7000") {
		t.Fatal("nothing blocked yet")
	}
	f.Block("127.0.0.12")
	c := f.track(a, "127.0.0.12:7000")
	if _, err := c.Write([]byte{1}); err == nil {
		t.Fatal("a connection registered after Block still carries data")
	}
	f.Heal()
	a2, b2 := net.Pipe()
	defer b2.Close()
	c2 := f.track(a2, "127.0.0.12:7000")
	go b2.Read(make([]byte, 1))
	if _, err := c2.Write([]byte{1}); err != nil {
		t.Fatalf("after Heal: %v", err)
	}
	c2.Close()
}
