package node

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// A Controller makes one kind of this box's actual state (VMs, later volumes and
// network rules) match the desired state in the replicated store. The Converger calls
// it; it never has to worry about scheduling, retries or concurrency per key.
type Controller interface {
	// Name names the controller in logs.
	Name() string
	// Keys lists every key this box must look at now (desired objects placed here, and
	// actual objects found here that may have to go), with a channel that is closed
	// when the desired side may have changed.
	Keys(ctx context.Context) ([]string, <-chan struct{}, error)
	// Reconcile converges one key. It is idempotent; an error retries the key later.
	Reconcile(ctx context.Context, key string) error
}

// ConvergeOptions tunes a Converger.
type ConvergeOptions struct {
	Workers int           // keys reconciled at once (default 4)
	Resync  time.Duration // every key again this often, changed or not (default 30 s)
	Logger  *slog.Logger
}

// Converge runs c until ctx ends: each key is reconciled when the state it watches
// changes, every Resync, and after a failure again with exponential backoff (0.5 s, 1.5 s, ...
// up to 1 min). A key is never reconciled by two workers at once; a key that changes while it
// is being reconciled is reconciled again right after.
func Converge(ctx context.Context, c Controller, o ConvergeOptions) {
	if o.Workers <= 0 {
		o.Workers = 4
	}
	if o.Resync <= 0 {
		o.Resync = 30 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	q := newWorkQueue()
	var wg sync.WaitGroup
	for range o.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				key, ok := q.get(ctx)
				if !ok {
					return
				}
				err := c.Reconcile(ctx, key)
				if err != nil && ctx.Err() == nil {
					o.Logger.Warn("reconcile failed; will retry", "controller", c.Name(), "key", key, "err", err)
				}
				q.done(key, err)
			}
		}()
	}
	resync := time.NewTicker(o.Resync)
	defer resync.Stop()
	for ctx.Err() == nil {
		keys, changed, err := c.Keys(ctx)
		if err != nil {
			o.Logger.Warn("listing keys failed", "controller", c.Name(), "err", err)
			changed = nil
		}
		for _, k := range keys {
			q.add(k)
		}
		// Without a change channel (listing failed), look again in a second.
		wait := time.NewTimer(time.Second)
		var waitC <-chan time.Time
		if changed == nil {
			waitC = wait.C
		}
		select {
		case <-ctx.Done():
		case <-changed:
		case <-waitC:
		case <-resync.C:
			q.forgetBackoff()
		}
		wait.Stop()
	}
	q.close()
	wg.Wait()
}

// workQueue holds keys to reconcile: a key is queued at most once, one worker has it
// at a time, and a failed key waits out its backoff before it is handed out again.
type workQueue struct {
	mu      sync.Mutex
	cond    *sync.Cond
	queue   []string
	queued  map[string]bool
	active  map[string]bool
	dirty   map[string]bool // changed while active
	backoff map[string]time.Duration
	until   map[string]time.Time
	closed  bool
}

func newWorkQueue() *workQueue {
	q := &workQueue{queued: map[string]bool{}, active: map[string]bool{}, dirty: map[string]bool{},
		backoff: map[string]time.Duration{}, until: map[string]time.Time{}}
	q.cond = sync.NewCond(&q.mu)
	return q
}

func (q *workQueue) add(key string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.active[key] {
		q.dirty[key] = true
		return
	}
	if time.Now().Before(q.until[key]) || q.queued[key] {
		return
	}
	q.queued[key] = true
	q.queue = append(q.queue, key)
	q.cond.Signal()
}

func (q *workQueue) get(ctx context.Context) (string, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.queue) == 0 && !q.closed {
		q.cond.Wait()
	}
	if q.closed {
		return "", false
	}
	key := q.queue[0]
	q.queue = q.queue[1:]
	delete(q.queued, key)
	q.active[key] = true
	return key, true
}

func (q *workQueue) done(key string, err error) {
	q.mu.Lock()
	delete(q.active, key)
	again := q.dirty[key]
	delete(q.dirty, key)
	if err != nil {
		b := q.backoff[key]*2 + time.Second/2
		if b > time.Minute {
			b = time.Minute
		}
		q.backoff[key] = b
		q.until[key] = time.Now().Add(b)
		again = false
		time.AfterFunc(b, func() { q.add(key) })
	} else {
		delete(q.backoff, key)
		delete(q.until, key)
	}
	q.mu.Unlock()
	if again {
		q.add(key)
	}
}

// forgetBackoff lets a resync retry failed keys now (not their whole backoff later).
func (q *workQueue) forgetBackoff() {
	q.mu.Lock()
	q.until = map[string]time.Time{}
	q.mu.Unlock()
}

func (q *workQueue) close() {
	q.mu.Lock()
	q.closed = true
	q.cond.Broadcast()
	q.mu.Unlock()
}
