package erasure

import "sync"

// stripe is one block's worth of frames, one per shard, carved from a single
// allocation and recycled through a pool: a stream of any length touches at
// most two stripes per call, which is what keeps memory O(BlockSize*(k+m)/k).
// The per-block fields are scratch owned by whichever goroutine holds the
// stripe.
type stripe struct {
	key    stripeKey
	mem    []byte
	frames [][]byte // frames[i] has capacity for exactly one full frame

	span   blockSpan
	out    [][]byte // frame to write to shard i this block; nil: none
	seal   []bool   // the writer must hash out[i] before writing it
	good   []bool   // frames[i] holds verified or rebuilt shard bytes
	tried  []bool   // frames[i] was read this block
	views  [][]byte // data shard i of this block, for Decode
	shards [][]byte // argument scratch for reedsolomon
	lo, hi int64    // object range of this block that Decode returns
}

type stripeKey struct {
	frames    int   // frames allocated
	frameSize int64 // bytes per frame
	total     int   // shards in the scheme, sizes the per-shard scratch
}

var stripePools sync.Map // stripeKey -> *sync.Pool

func getStripe(key stripeKey) *stripe {
	p, _ := stripePools.LoadOrStore(key, &sync.Pool{})
	if st, ok := p.(*sync.Pool).Get().(*stripe); ok {
		return st
	}
	st := &stripe{
		key:    key,
		mem:    make([]byte, int64(key.frames)*key.frameSize),
		frames: make([][]byte, key.frames),
		out:    make([][]byte, key.total),
		seal:   make([]bool, key.total),
		good:   make([]bool, key.total),
		tried:  make([]bool, key.total),
		views:  make([][]byte, key.total),
		shards: make([][]byte, key.total),
	}
	fs := int(key.frameSize)
	for i := range st.frames {
		// A full slice expression: reedsolomon writes into spare capacity,
		// which must never reach the neighbouring frame.
		st.frames[i] = st.mem[i*fs : (i+1)*fs : (i+1)*fs]
	}
	return st
}

func putStripe(st *stripe) {
	if st == nil {
		return
	}
	clear(st.out)
	clear(st.views)
	clear(st.shards)
	p, _ := stripePools.Load(st.key)
	p.(*sync.Pool).Put(st)
}

func getFrame(s Scheme) *stripe {
	return getStripe(stripeKey{frames: 1, frameSize: s.FrameSize(), total: 1})
}

func putFrame(st *stripe) { putStripe(st) }
