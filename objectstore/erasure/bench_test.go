package erasure

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/minio/highwayhash"
)

// Reproduce with:
//
//	go test -run '^$' -bench . -benchtime 20x ./objectstore/erasure/
//
// Encode and Decode move a 64 MiB object through writers and readers that
// cost nothing (discardWriter, in-memory shards), so the numbers are this
// package's ceiling. ReedSolomon and HighwayHash are the raw libraries on
// the same shards: the distance to them is what framing, copying and
// scheduling cost.

const benchObject = 64 << 20

var benchSchemes = []Scheme{
	{Data: 1, Parity: 0, BlockSize: DefaultBlockSize},
	{Data: 1, Parity: 1, BlockSize: DefaultBlockSize},
	{Data: 2, Parity: 1, BlockSize: DefaultBlockSize},
	{Data: 4, Parity: 2, BlockSize: DefaultBlockSize},
	{Data: 8, Parity: 4, BlockSize: DefaultBlockSize},
}

func schemeName(s Scheme) string { return fmt.Sprintf("%d+%d", s.Data, s.Parity) }

func benchModes(b *testing.B, fn func(b *testing.B)) {
	for _, on := range []bool{true, false} {
		name := "overlap"
		if !on {
			name = "serial"
		}
		b.Run(name, func(b *testing.B) {
			old := overlap
			overlap = on
			defer func() { overlap = old }()
			fn(b)
		})
	}
}

func BenchmarkEncode(b *testing.B) {
	data := randBytes(1, benchObject)
	for _, s := range benchSchemes {
		b.Run(schemeName(s), func(b *testing.B) {
			benchModes(b, func(b *testing.B) {
				dst := make([]io.Writer, s.Total())
				for i := range dst {
					dst[i] = &discardWriter{}
				}
				b.SetBytes(benchObject)
				b.ReportAllocs()
				for b.Loop() {
					if _, err := Encode(context.Background(), bytes.NewReader(data), dst, s, s.WriteQuorum()); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}

func BenchmarkDecode(b *testing.B) {
	data := randBytes(2, benchObject)
	for _, s := range benchSchemes {
		shards := mustEncode(b, s, data)
		run := func(name string, lose int) {
			b.Run(schemeName(s)+name, func(b *testing.B) {
				benchModes(b, func(b *testing.B) {
					src := readersOf(shards)
					for i := range lose {
						src[i] = nil // data shards: the worst case, RS on every block
					}
					b.SetBytes(benchObject)
					b.ReportAllocs()
					for b.Loop() {
						if _, err := Decode(context.Background(), io.Discard, src, s, benchObject, 0, benchObject); err != nil {
							b.Fatal(err)
						}
					}
				})
			})
		}
		run("", 0)
		if s.Parity > 0 {
			run("/degraded", s.Parity)
		}
	}
}

// benchShardSets lays a 64 MiB object out as the shards of its 1 MiB
// blocks, distinct memory per block as in a real stream, so the raw
// library benchmarks pay for memory bandwidth like Encode does.
func benchShardSets(b *testing.B, s Scheme) [][][]byte {
	data := randBytes(4, benchObject)
	sl := int(s.ShardBlockSize())
	sets := make([][][]byte, benchObject/s.BlockSize)
	for n := range sets {
		set := make([][]byte, s.Total())
		for i := range set {
			set[i] = make([]byte, sl)
			if i < s.Data {
				copy(set[i], data[int64(n)*s.BlockSize+int64(i*sl):])
			}
		}
		sets[n] = set
	}
	return sets
}

// BenchmarkReedSolomon is the raw library encoding the same 64 MiB in the
// same 1 MiB blocks and with the same options as codec, with no reading,
// hashing or writing.
func BenchmarkReedSolomon(b *testing.B) {
	for _, s := range benchSchemes {
		if s.Parity == 0 {
			continue // nothing to compute
		}
		b.Run(schemeName(s), func(b *testing.B) {
			enc, err := codec(s.Data, s.Parity)
			if err != nil {
				b.Fatal(err)
			}
			sets := benchShardSets(b, s)
			b.SetBytes(benchObject)
			for b.Loop() {
				for _, set := range sets {
					if err := enc.Encode(set); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}

// BenchmarkHighwayHash is the raw hash over every shard block Encode hashes
// for a 64 MiB object: all k+m shards, or one per block for a mirror.
func BenchmarkHighwayHash(b *testing.B) {
	for _, s := range benchSchemes {
		b.Run(schemeName(s), func(b *testing.B) {
			sets := benchShardSets(b, s)
			hashed := s.Total()
			if s.Data == 1 {
				hashed = 1
			}
			b.SetBytes(benchObject)
			for b.Loop() {
				for _, set := range sets {
					for _, shard := range set[:hashed] {
						highwayhash.Sum(shard, bitrotKey[:])
					}
				}
			}
		})
	}
}

// pace models a device of fixed bandwidth: each call sleeps for its
// bytes' worth of time. Sleeps here overshoot by up to a millisecond, so
// the rates below keep every sleep at a few milliseconds.
type pace struct{ perMiB time.Duration }

func (p pace) spend(n int) { time.Sleep(p.perMiB * time.Duration(n) >> 20) }

// slowReader, slowReaderAt and slowWriter stand in for a client upload, a
// network link or a disk: Encode and Decode should keep both sides busy
// instead of alternating between them.
type slowReader struct {
	r io.Reader
	pace
}

func (s *slowReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	s.spend(n)
	return n, err
}

type slowReaderAt struct {
	r io.ReaderAt
	pace
}

func (s *slowReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := s.r.ReadAt(p, off)
	s.spend(n)
	return n, err
}

type slowWriter struct{ pace }

func (s *slowWriter) Write(p []byte) (int, error) {
	s.spend(len(p))
	return len(p), nil
}

// BenchmarkOverlap measures what overlapping block b+1's preparation with
// block b's output buys when both sides take time: a 100 MB/s client (the
// source of Encode, the destination of Decode) and 50 MB/s disks. Per 1 MiB
// block that is 10 ms of client and 5 ms of disk (256 KiB each, in
// parallel): 15 ms serially, 10 ms when overlapped.
func BenchmarkOverlap(b *testing.B) {
	const size = 8 << 20
	s := Scheme{Data: 4, Parity: 2, BlockSize: DefaultBlockSize}
	data := randBytes(5, size)
	shards := mustEncode(b, s, data)
	b.Run("encode", func(b *testing.B) {
		benchModes(b, func(b *testing.B) {
			dst := make([]io.Writer, s.Total())
			for i := range dst {
				dst[i] = &slowWriter{pace{perMiB: 20 * time.Millisecond}}
			}
			b.SetBytes(size)
			for b.Loop() {
				src := &slowReader{r: bytes.NewReader(data), pace: pace{perMiB: 10 * time.Millisecond}}
				if _, err := Encode(context.Background(), src, dst, s, s.WriteQuorum()); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
	b.Run("decode", func(b *testing.B) {
		benchModes(b, func(b *testing.B) {
			src := make([]ShardReader, s.Total())
			for i := range src {
				src[i] = &slowReaderAt{r: shards[i], pace: pace{perMiB: 20 * time.Millisecond}}
			}
			b.SetBytes(size)
			for b.Loop() {
				if _, err := Decode(context.Background(), &slowWriter{pace{perMiB: 10 * time.Millisecond}}, src, s, size, 0, size); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
}
