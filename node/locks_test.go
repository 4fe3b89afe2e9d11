package node

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestRestartWindowFollowsTheHeartbeatFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), aliveFile)
	if w := restartWindow(path); !w.IsZero() {
		t.Fatalf("first start: window %v, want none", w)
	}
	os.WriteFile(path, nil, 0o600)
	if w := time.Until(restartWindow(path)); w < leaseTTL || w > leaseTTL+aliveEvery+time.Second {
		t.Fatalf("restart right after a crash: refuses for %v, want about %v", w, leaseTTL+aliveEvery)
	}
	old := time.Now().Add(-leaseTTL - aliveEvery - time.Second)
	os.Chtimes(path, old, old)
	if w := restartWindow(path); time.Now().Before(w) {
		t.Fatalf("restart after a long outage still refuses until %v", w)
	}
}

// A box that restarted refuses every grant until the leases it may have granted before
// have expired, so a second holder cannot reach a majority through its forgotten grants.
// The only box of a cluster grants at once.
func TestLocksRefuseGrantsAfterRestart(t *testing.T) {
	boxes := 3
	l := &Locks{leases: map[string]lease{}, refuseUntil: time.Now().Add(time.Hour), boxes: func() int { return boxes }}
	if l.grant("b/k", "n1/a") {
		t.Fatal("granted a lease within the restart window")
	}
	boxes = 1
	if !l.grant("b/k", "n1/a") {
		t.Fatal("the only box refused a lease after its restart")
	}
	boxes = 3
	l.refuseUntil = time.Now().Add(-time.Second)
	l.leases = map[string]lease{}
	if !l.grant("b/k", "n1/a") {
		t.Fatal("refused a free lease after the window")
	}
	if l.grant("b/k", "n2/b") {
		t.Fatal("granted a lease another owner holds")
	}
	l.release("b/k", "n1/a")
	if !l.grant("b/k", "n2/b") {
		t.Fatal("refused a released lease")
	}
}
