package erasure

import "sync"

// crew runs fn(i) for a set of shard indices in parallel on one long-lived
// goroutine per shard. A stream of blocks then costs a channel hand-off per
// shard per block instead of a new goroutine and closure, so allocations do
// not grow with the object. A crew is driven by one goroutine at a time.
type crew struct {
	fn   func(i int)
	wake []chan struct{}
	wg   sync.WaitGroup
	live sync.WaitGroup
}

func newCrew(n int, fn func(i int)) *crew {
	c := &crew{fn: fn, wake: make([]chan struct{}, n)}
	for i := range c.wake {
		c.wake[i] = make(chan struct{})
		c.live.Add(1)
		go c.loop(i)
	}
	return c
}

func (c *crew) loop(i int) {
	defer c.live.Done()
	for range c.wake[i] {
		c.fn(i)
		c.wg.Done()
	}
}

// run calls fn for every index in idx and returns when all are done. The
// first index runs on the calling goroutine: one hand-off fewer per block,
// and no hand-off at all when there is a single shard.
func (c *crew) run(idx []int) {
	if len(idx) == 0 {
		return
	}
	c.wg.Add(len(idx) - 1)
	for _, i := range idx[1:] {
		c.wake[i] <- struct{}{}
	}
	c.fn(idx[0])
	c.wg.Wait()
}

// stop ends the goroutines and waits for them, so no shard I/O outlives the
// call that started it.
func (c *crew) stop() {
	for _, ch := range c.wake {
		close(ch)
	}
	c.live.Wait()
}
