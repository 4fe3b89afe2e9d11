package node

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// fakeController is a test double of a Controller: keys from a map, changes signalled
// on a channel, Reconcile failing a key the first fails[key] times.
type fakeController struct {
	mu      sync.Mutex
	keys    []string
	changed chan struct{}
	fails   map[string]int
	calls   map[string]int
	running map[string]bool
	overlap bool
}

func (f *fakeController) Name() string { return "fake" }

func (f *fakeController) Keys(context.Context) ([]string, <-chan struct{}, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.keys...), f.changed, nil
}

func (f *fakeController) Reconcile(ctx context.Context, key string) error {
	f.mu.Lock()
	if f.running[key] {
		f.overlap = true
	}
	f.running[key] = true
	f.calls[key]++
	fail := f.fails[key] > 0
	if fail {
		f.fails[key]--
	}
	f.mu.Unlock()
	time.Sleep(5 * time.Millisecond)
	f.mu.Lock()
	f.running[key] = false
	f.mu.Unlock()
	if fail {
		return errors.New("not yet")
	}
	return nil
}

func (f *fakeController) callsOf(key string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[key]
}

func TestConvergeReconcilesChangesAndRetriesFailures(t *testing.T) {
	f := &fakeController{keys: []string{"a", "b"}, changed: make(chan struct{}), fails: map[string]int{"b": 2},
		calls: map[string]int{}, running: map[string]bool{}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { Converge(ctx, f, ConvergeOptions{Resync: time.Hour}); close(done) }()
	waitTrue(t, 5*time.Second, func() bool { return f.callsOf("a") >= 1 && f.callsOf("b") >= 3 })
	// A change makes every listed key go round again.
	f.mu.Lock()
	f.keys = append(f.keys, "c")
	ch := f.changed
	f.changed = make(chan struct{})
	f.mu.Unlock()
	close(ch)
	waitTrue(t, 5*time.Second, func() bool { return f.callsOf("c") == 1 && f.callsOf("a") >= 2 })
	cancel()
	<-done
	if f.overlap {
		t.Fatal("a key was reconciled by two workers at once")
	}
	if n := f.callsOf("b"); n < 3 {
		t.Fatalf("b reconciled %d times, want its two failures retried", n)
	}
}

func waitTrue(t *testing.T, d time.Duration, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in time")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
