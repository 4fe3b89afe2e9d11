package erasure

import (
	"bytes"
	"context"
	"errors"
	"io"
	"runtime"
	"testing"
)

// allocDelta runs fn and returns the bytes and objects it allocated.
func allocDelta(fn func()) (bytes, mallocs uint64) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc, after.Mallocs - before.Mallocs
}

const streamSize = 256 << 20

// TestEncodeMemoryBounded streams 256 MiB through Encode and checks that
// the bytes allocated are a few stripes, not a fraction of the object, and
// that allocations do not grow with the object. The one exception is
// reedsolomon itself: its GFNI code path heap-allocates a small matrix on
// every Encode call (~1 allocation, <1 KiB per block), which we allow for.
func TestEncodeMemoryBounded(t *testing.T) {
	pattern := randBytes(67, 1<<20+13)
	for _, c := range []struct {
		scheme   Scheme
		perBlock uint64 // allocations allowed per block
	}{
		{Scheme{Data: 4, Parity: 0, BlockSize: DefaultBlockSize}, 0},
		{Scheme{Data: 4, Parity: 2, BlockSize: DefaultBlockSize}, 1},
		{Scheme{Data: 1, Parity: 2, BlockSize: DefaultBlockSize}, 0},
	} {
		s := c.scheme
		encode := func(size int64) {
			dst := make([]io.Writer, s.Total())
			for i := range dst {
				dst[i] = &discardWriter{}
			}
			n, err := Encode(context.Background(), &patternReader{pattern: pattern, size: size}, dst, s, s.WriteQuorum())
			if err != nil || n != size {
				t.Fatalf("Encode = %d, %v", n, err)
			}
		}
		const small = 4 << 20
		smallBytes, smallMallocs := allocDelta(func() { encode(small) })
		bigBytes, bigMallocs := allocDelta(func() { encode(streamSize) })
		stripeBytes := uint64(s.Total()) * uint64(s.FrameSize())
		if s.Data == 1 {
			stripeBytes = uint64(s.FrameSize()) // mirrors keep one frame
		}
		t.Logf("%v: 4 MiB: %d B in %d allocs; 256 MiB: %d B in %d allocs; one stripe is %d B",
			s, smallBytes, smallMallocs, bigBytes, bigMallocs, stripeBytes)
		if bigBytes > 2*stripeBytes+1<<20 {
			t.Errorf("%v: Encode of 256 MiB allocated %d bytes, want at most two stripes (%d each) and change", s, bigBytes, stripeBytes)
		}
		extraBlocks := uint64(streamSize-small) / uint64(s.BlockSize)
		if bigMallocs > smallMallocs+c.perBlock*extraBlocks+50 {
			t.Errorf("%v: allocations grow with the object: %d for 4 MiB, %d for 256 MiB", s, smallMallocs, bigMallocs)
		}
	}
}

// cycleChecker checks that what it is given is pattern repeated, without
// keeping it.
type cycleChecker struct {
	pattern []byte
	off     int64
}

func (c *cycleChecker) Write(p []byte) (int, error) {
	for n := 0; n < len(p); {
		at := int(c.off % int64(len(c.pattern)))
		m := min(len(p)-n, len(c.pattern)-at)
		if !bytes.Equal(p[n:n+m], c.pattern[at:at+m]) {
			return n, errors.New("decoded bytes differ")
		}
		n += m
		c.off += int64(m)
	}
	return len(p), nil
}

// TestDecodeMemoryBounded reads a 256 MiB object, healthy and degraded,
// from generated shard files. Healthy reads allocate nothing per block.
// Degraded reads allocate reedsolomon.ReconstructSome's per-call scratch
// (a few KiB of matrices per block), garbage as soon as the call returns,
// so live memory stays at two stripes; we bound the rate.
func TestDecodeMemoryBounded(t *testing.T) {
	s := Scheme{Data: 4, Parity: 2, BlockSize: DefaultBlockSize}
	block := randBytes(71, s.BlockSize)
	enc := mustEncode(t, s, block)
	src := make([]ShardReader, s.Total())
	for i := range src {
		shard := enc[i].Bytes()[HashSize:]
		src[i] = &syntheticShard{scheme: s, objectSize: streamSize, full: shard, last: shard, h: newHasher()}
	}
	decode := func(src []ShardReader) {
		out := &cycleChecker{pattern: block}
		res, err := Decode(context.Background(), out, src, s, streamSize, 0, streamSize)
		if err != nil || res.Written != streamSize || out.off != streamSize {
			t.Fatalf("Decode = %+v, %v", res, err)
		}
	}
	stripeBytes := uint64(s.Total()) * uint64(s.FrameSize())
	healthy, _ := allocDelta(func() { decode(src) })
	degraded := append([]ShardReader(nil), src...)
	degraded[0], degraded[3] = nil, nil
	rebuilt, _ := allocDelta(func() { decode(degraded) })
	t.Logf("256 MiB decode allocated %d B healthy, %d B rebuilding two shards; one stripe is %d B", healthy, rebuilt, stripeBytes)
	blocks := uint64(streamSize / s.BlockSize)
	if healthy > 2*stripeBytes+1<<20 {
		t.Errorf("healthy Decode of 256 MiB allocated %d bytes, want at most two stripes (%d each) and change", healthy, stripeBytes)
	}
	if rebuilt > 2*stripeBytes+1<<20+blocks*16<<10 {
		t.Errorf("degraded Decode of 256 MiB allocated %d bytes, want two stripes and at most 16 KiB of RS scratch per block", rebuilt)
	}
}
