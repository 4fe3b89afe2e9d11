package erasure

import (
	"context"
	"sync"

	"github.com/klauspost/reedsolomon"
)

// overlap makes Encode, Decode and Heal prepare block b+1 (read the source,
// run the RS math, verify hashes) while block b is being written out. It
// costs one extra stripe per call. BenchmarkOverlap measures what it buys
// when the client and the disks both take time (about 1.3x for a 4+2 set);
// with free in-memory I/O it is within noise. Tests flip it to cover both
// paths.
var overlap = true

// stripes takes the stripes a call needs from the pool: two when
// overlapping, else one. Give them back with putStripes.
func stripes(key stripeKey) [2]*stripe {
	sts := [2]*stripe{getStripe(key)}
	if overlap {
		sts[1] = getStripe(key)
	}
	return sts
}

func putStripes(sts [2]*stripe) {
	putStripe(sts[0])
	putStripe(sts[1])
}

// pump moves a stream of blocks from fill to drain. fill loads the next block
// into a stripe and reports false when there is none; drain consumes it.
// Given two stripes, the two run on different goroutines, so a
// slow source and slow disks wait for each other only when one of them is
// really the bottleneck. pump returns only after fill and drain have both
// stopped touching the stripes and the I/O objects behind them.
func pump(ctx context.Context, sts [2]*stripe, fill func(*stripe) (bool, error), drain func(*stripe) error) error {
	if sts[1] == nil {
		for {
			if err := ctx.Err(); err != nil {
				return err
			}
			ok, err := fill(sts[0])
			if err != nil || !ok {
				return err
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := drain(sts[0]); err != nil {
				return err
			}
		}
	}

	type item struct {
		st  *stripe
		err error
	}
	free := make(chan *stripe, 2)
	for _, st := range sts {
		free <- st
	}
	full := make(chan item)
	stop := make(chan struct{})
	var producer sync.WaitGroup
	producer.Add(1)
	go func() {
		defer producer.Done()
		defer close(full)
		for {
			var st *stripe
			select {
			case st = <-free:
			case <-stop:
				return
			}
			select {
			case <-stop: // drain gave up while we waited for a stripe
				return
			default:
			}
			ok, err := false, ctx.Err()
			if err == nil {
				ok, err = fill(st)
			}
			if err == nil && !ok {
				return
			}
			select {
			case full <- item{st, err}:
			case <-stop:
				return
			}
			if err != nil {
				return
			}
		}
	}()

	var err error
	for it := range full {
		if err = it.err; err == nil {
			err = ctx.Err()
		}
		if err == nil {
			err = drain(it.st)
		}
		free <- it.st
		if err != nil {
			break
		}
	}
	close(stop)
	producer.Wait()
	return err
}

var codecs sync.Map // [2]int{data, parity} -> reedsolomon.Encoder

// codec returns the shared Reed-Solomon coder for data+parity. The default
// matrix is deliberate: it is part of the on-disk format (see the package
// doc). One goroutine per call because this package already runs the RS
// math of a block concurrently with the hashing and I/O of the previous one,
// and the math for a 1 MiB block takes tens of microseconds: splitting it
// further only added goroutine churn (BenchmarkEncode: 4+2 ~3.8 vs ~3.6
// GB/s, 8+4 ~4.0 vs ~3.0 GB/s on 2 cores). Coders are safe for concurrent
// use and cache inverted matrices, so one per shape serves the process.
func codec(data, parity int) (reedsolomon.Encoder, error) {
	key := [2]int{data, parity}
	if c, ok := codecs.Load(key); ok {
		return c.(reedsolomon.Encoder), nil
	}
	c, err := reedsolomon.New(data, parity, reedsolomon.WithMaxGoroutines(1))
	if err != nil {
		return nil, err
	}
	actual, _ := codecs.LoadOrStore(key, c)
	return actual.(reedsolomon.Encoder), nil
}
