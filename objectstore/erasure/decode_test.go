package erasure

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestDecodeRanges(t *testing.T) {
	withOverlap(t, func(t *testing.T) {
		for _, s := range []Scheme{
			{Data: 1, Parity: 1, BlockSize: 1000},
			{Data: 4, Parity: 2, BlockSize: 1000},
			{Data: 5, Parity: 3, BlockSize: 777},
			{Data: 3, Parity: 0, BlockSize: 100},
		} {
			b := s.BlockSize
			size := 4*b + b/3
			data := randBytes(9, size)
			src := readersOf(mustEncode(t, s, data))
			sl := s.ShardBlockSize()
			for _, r := range [][2]int64{
				{0, size}, {0, 0}, {size, 0}, {size - 1, 1}, {0, 1},
				{0, b}, {b, b}, {b - 1, 2}, {b, 1}, {b - 1, 1}, {2*b - 1, b + 2},
				{b + sl - 1, 2}, {b + sl, sl}, {3 * b, size - 3*b}, {4 * b, size - 4*b},
				{17, size - 34}, {b / 2, 3 * b},
			} {
				got, res, err := decodeRange(src, s, size, r[0], r[1])
				if err != nil {
					t.Fatalf("%v range %v: %v", s, r, err)
				}
				if !bytes.Equal(got, data[r[0]:r[0]+r[1]]) {
					t.Fatalf("%v range %v: wrong bytes", s, r)
				}
				if res.BadShards != nil {
					t.Fatalf("%v range %v: BadShards %v", s, r, res.BadShards)
				}
			}
			for _, r := range [][2]int64{{-1, 1}, {0, size + 1}, {size + 1, 0}, {5, -1}} {
				if _, _, err := decodeRange(src, s, size, r[0], r[1]); !errors.Is(err, ErrInvalidArgument) {
					t.Fatalf("%v range %v: %v, want ErrInvalidArgument", s, r, err)
				}
			}
		}
	})
}

// TestDecodeReadsOnlyWhatItNeeds: a healthy small range reads one frame of
// one data shard, and a healthy full read never touches parity.
func TestDecodeReadsOnlyWhatItNeeds(t *testing.T) {
	s := Scheme{Data: 4, Parity: 2, BlockSize: 4000}
	size := 3 * s.BlockSize
	shards := mustEncode(t, s, randBytes(3, size))
	count := func(off, length int64) []int64 {
		src := make([]ShardReader, s.Total())
		cs := make([]*countingReaderAt, s.Total())
		for i := range src {
			cs[i] = &countingReaderAt{r: shards[i]}
			src[i] = cs[i]
		}
		if _, _, err := decodeRange(src, s, size, off, length); err != nil {
			t.Fatal(err)
		}
		reads := make([]int64, len(cs))
		for i, c := range cs {
			reads[i] = c.reads.Load()
		}
		return reads
	}
	if got := count(s.BlockSize+1000, 10); !slices.Equal(got, []int64{0, 1, 0, 0, 0, 0}) {
		t.Errorf("10 bytes in shard 1 of block 1: reads per shard %v", got)
	}
	if got := count(0, size); !slices.Equal(got, []int64{3, 3, 3, 3, 0, 0}) {
		t.Errorf("full read: reads per shard %v", got)
	}
}

// subsets calls fn with every subset of [0,n) of size up to max, or a
// random sample of them when there are too many.
func subsets(n, most int, fn func([]int)) {
	var rec func(start int, cur []int)
	count := 0
	rec = func(start int, cur []int) {
		count++
		if count > 300 {
			return
		}
		fn(cur)
		if len(cur) == most {
			return
		}
		for i := start; i < n; i++ {
			rec(i+1, append(cur, i))
		}
	}
	rec(0, nil)
}

func TestDecodeMissingShards(t *testing.T) {
	withOverlap(t, func(t *testing.T) {
		for _, s := range testSchemes {
			size := 3*s.BlockSize + 5
			data := randBytes(11, size)
			shards := mustEncode(t, s, data)
			subsets(s.Total(), s.Parity, func(lost []int) {
				src := readersOf(shards)
				for _, i := range lost {
					src[i] = nil
				}
				got, res, err := decodeRange(src, s, size, 0, size)
				if err != nil || !bytes.Equal(got, data) {
					t.Fatalf("%v without shards %v: %v", s, lost, err)
				}
				if res.BadShards != nil {
					t.Fatalf("%v without shards %v: BadShards %v; nil shards are not news", s, lost, res.BadShards)
				}
			})
			// One more than parity: a quorum error naming the offline shards.
			src := readersOf(shards)
			for _, i := range rand.Perm(s.Total())[:s.Parity+1] {
				src[i] = nil
			}
			_, _, err := decodeRange(src, s, size, 0, size)
			var qe *QuorumError
			if !errors.As(err, &qe) || qe.Op != "read" || qe.Need != s.Data || qe.Have != s.Data-1 || !errors.Is(err, ErrShardOffline) {
				t.Fatalf("%v with %d shards lost: %v, want read QuorumError need %d have %d", s, s.Parity+1, err, s.Data, s.Data-1)
			}
		}
	})
}

func TestDecodeCorruptShards(t *testing.T) {
	withOverlap(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(1, 2))
		for _, s := range testSchemes {
			size := 3*s.BlockSize + 5
			data := randBytes(13, size)
			shards := mustEncode(t, s, data)
			fullFrames := 3 * s.FrameSize() // the last block may not need every shard
			subsets(s.Total(), s.Parity, func(bad []int) {
				src := readersOf(shards)
				for _, i := range bad {
					// Flip one bit in a hash or a shard byte of a full block.
					src[i] = bitFlipReaderAt{r: shards[i], at: []int64{rng.Int64N(fullFrames)}, bit: byte(rng.IntN(8))}
				}
				got, res, err := decodeRange(src, s, size, 0, size)
				if err != nil || !bytes.Equal(got, data) {
					t.Fatalf("%v with shards %v corrupt: %v", s, bad, err)
				}
				// Healthy reads use the data shards that hold object bytes,
				// so their corruption must be caught; corrupt parity (or a
				// data shard that is all padding) is caught only if read.
				for _, i := range bad {
					if i < s.Data && int64(i)*s.ShardBlockSize() < s.BlockSize && !slices.Contains(res.BadShards, i) {
						t.Fatalf("%v: corrupt data shard %d not reported (BadShards %v)", s, i, res.BadShards)
					}
				}
				for _, i := range res.BadShards {
					if !slices.Contains(bad, i) || !errors.Is(res.ShardErrs[i], ErrBitrot) {
						t.Fatalf("%v: shard %d reported bad (%v) but was not corrupted", s, i, res.ShardErrs[i])
					}
					var se *ShardError
					if !errors.As(res.ShardErrs[i], &se) || se.Shard != i {
						t.Fatalf("ShardErrs[%d] = %v, want *ShardError for shard %d", i, res.ShardErrs[i], i)
					}
				}
			})
		}
	})
}

// TestDecodeCorruptBeyondParity: corrupting m+1 data shards in the same
// block fails with a quorum error that lists the bitrot, after writing the
// blocks before it.
func TestDecodeCorruptBeyondParity(t *testing.T) {
	s := Scheme{Data: 4, Parity: 2, BlockSize: 1000}
	size := 5 * s.BlockSize
	data := randBytes(17, size)
	shards := mustEncode(t, s, data)
	src := readersOf(shards)
	inBlock2 := 2*s.FrameSize() + HashSize + 3
	for _, i := range []int{0, 2, 5} {
		src[i] = bitFlipReaderAt{r: shards[i], at: []int64{inBlock2}}
	}
	got, res, err := decodeRange(src, s, size, 0, size)
	var qe *QuorumError
	if !errors.As(err, &qe) || !errors.Is(err, ErrBitrot) {
		t.Fatalf("Decode = %v, want a QuorumError caused by bitrot", err)
	}
	t.Logf("error reads: %v", err)
	if !bytes.Equal(got, data[:2*s.BlockSize]) {
		t.Fatalf("wrote %d bytes before failing, want the %d of the first two blocks", len(got), 2*s.BlockSize)
	}
	if !slices.Equal(res.BadShards, []int{0, 2, 5}) {
		t.Fatalf("BadShards = %v, want [0 2 5]", res.BadShards)
	}
}

func TestDecodeReadErrors(t *testing.T) {
	withOverlap(t, func(t *testing.T) {
		s := Scheme{Data: 3, Parity: 2, BlockSize: 999}
		size := 4*s.BlockSize + 1
		data := randBytes(19, size)
		shards := mustEncode(t, s, data)
		src := readersOf(shards)
		src[1] = errReaderAt{err: errInjectedRead}
		truncated := &memShard{}
		truncated.Write(shards[2].Bytes()[:2*s.FrameSize()+10]) // torn in block 2
		src[2] = truncated
		got, res, err := decodeRange(src, s, size, 0, size)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("Decode: %v", err)
		}
		if !slices.Equal(res.BadShards, []int{1, 2}) {
			t.Fatalf("BadShards = %v, want [1 2]", res.BadShards)
		}
		if !errors.Is(res.ShardErrs[1], errInjectedRead) || !errors.Is(res.ShardErrs[2], io.ErrUnexpectedEOF) {
			t.Fatalf("ShardErrs = %v", res.ShardErrs)
		}
	})
}

// TestDecodeMisplacedFrame: a disk that returns a valid frame from the
// wrong block is caught, because the block number is in the hash.
func TestDecodeMisplacedFrame(t *testing.T) {
	s := Scheme{Data: 2, Parity: 1, BlockSize: 100}
	size := 3 * s.BlockSize
	data := randBytes(23, size)
	shards := mustEncode(t, s, data)
	f := s.FrameSize()
	b := bytes.Clone(shards[0].Bytes())
	copy(b[f:2*f], shards[0].Bytes()[0:f]) // block 0's frame stored again at block 1
	swapped := &memShard{}
	swapped.Write(b)
	src := readersOf(shards)
	src[0] = swapped
	got, res, err := decodeRange(src, s, size, 0, size)
	if err != nil || !bytes.Equal(got, data) || !slices.Equal(res.BadShards, []int{0}) {
		t.Fatalf("Decode = %v, BadShards %v; want exact bytes and shard 0 bad", err, res.BadShards)
	}
	if err := VerifyShard(swapped, int64(swapped.Len()), s, size); !errors.Is(err, ErrBitrot) {
		t.Fatalf("VerifyShard = %v, want ErrBitrot", err)
	}
}

type failingDst struct{ n int }

func (f *failingDst) Write(p []byte) (int, error) {
	if f.n -= len(p); f.n < 0 {
		return 0, errInjectedWrite
	}
	return len(p), nil
}

func TestDecodeDestinationFails(t *testing.T) {
	withOverlap(t, func(t *testing.T) {
		s := Scheme{Data: 2, Parity: 1, BlockSize: 100}
		size := 10 * s.BlockSize
		src := readersOf(mustEncode(t, s, randBytes(29, size)))
		_, err := Decode(context.Background(), &failingDst{n: 250}, src, s, size, 0, size)
		if !errors.Is(err, errInjectedWrite) {
			t.Fatalf("Decode = %v, want the destination's error", err)
		}
	})
}

func TestDecodeCanceled(t *testing.T) {
	withOverlap(t, func(t *testing.T) {
		s := Scheme{Data: 2, Parity: 1, BlockSize: 100}
		size := 10 * s.BlockSize
		src := readersOf(mustEncode(t, s, randBytes(31, size)))
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := Decode(ctx, io.Discard, src, s, size, 0, size); !errors.Is(err, context.Canceled) {
			t.Fatalf("Decode = %v, want context.Canceled", err)
		}
	})
}

func ExampleDecode() {
	s := Scheme{Data: 2, Parity: 1, BlockSize: 4}
	shards := []*memShard{{}, {}, {}}
	object := []byte("hello, erasure")
	if _, err := Encode(context.Background(), bytes.NewReader(object), []io.Writer{shards[0], shards[1], shards[2]}, s, s.WriteQuorum()); err != nil {
		panic(err)
	}
	// Disk 0 is gone; the range is rebuilt from shard 1 and parity.
	var out bytes.Buffer
	res, err := Decode(context.Background(), &out, []ShardReader{nil, shards[1], shards[2]}, s, int64(len(object)), 7, 7)
	fmt.Println(out.String(), res.BadShards, err)
	// Output: erasure [] <nil>
}

// TestDecodeRandomized mixes everything: random schemes, sizes, ranges,
// missing, failing and rotten shards, up to Parity of them in total.
func TestDecodeRandomized(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for iter := range 150 {
		s := Scheme{Data: 1 + rng.IntN(10), Parity: rng.IntN(5), BlockSize: 1 + rng.Int64N(3000)}
		size := rng.Int64N(6 * s.BlockSize)
		data := randBytes(uint64(iter), size)
		shards := mustEncode(t, s, data)
		src := readersOf(shards)
		for n, i := range rng.Perm(s.Total())[:rng.IntN(s.Parity+1)] {
			switch n % 3 {
			case 0:
				src[i] = nil
			case 1:
				src[i] = errReaderAt{err: errInjectedRead}
			default:
				src[i] = bitFlipReaderAt{r: shards[i], at: []int64{rng.Int64N(max(s.ShardFileSize(size), 1))}, bit: byte(rng.IntN(8))}
			}
		}
		off := rng.Int64N(size + 1)
		length := rng.Int64N(size - off + 1)
		got, _, err := decodeRange(src, s, size, off, length)
		if err != nil || !bytes.Equal(got, data[off:off+length]) {
			t.Fatalf("iter %d: %v size %d range [%d,+%d): %v", iter, s, size, off, length, err)
		}
	}
}
