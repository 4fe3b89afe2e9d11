package erasure

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/klauspost/reedsolomon"
)

func TestRoundTrip(t *testing.T) {
	withOverlap(t, func(t *testing.T) {
		for _, s := range testSchemes {
			for _, size := range sizesFor(s) {
				t.Run(fmt.Sprintf("%v/%d", s, size), func(t *testing.T) {
					data := randBytes(uint64(size), size)
					shards := mustEncode(t, s, data)
					for i, sh := range shards {
						if got, want := int64(sh.Len()), s.ShardFileSize(size); got != want {
							t.Fatalf("shard %d is %d bytes, ShardFileSize says %d", i, got, want)
						}
						if err := VerifyShard(sh, int64(sh.Len()), s, size); err != nil {
							t.Fatalf("VerifyShard(%d): %v", i, err)
						}
					}
					got, res, err := decodeRange(readersOf(shards), s, size, 0, size)
					if err != nil {
						t.Fatal(err)
					}
					if !bytes.Equal(got, data) {
						t.Fatalf("decoded bytes differ")
					}
					if len(res.BadShards) != 0 {
						t.Fatalf("BadShards = %v on healthy shards", res.BadShards)
					}
				})
			}
		}
	})
}

// TestRoundTripLargeBlocks runs the production block size across its
// boundaries and over several MiB.
func TestRoundTripLargeBlocks(t *testing.T) {
	const mib = 1 << 20
	for _, s := range []Scheme{
		{Data: 1, Parity: 1, BlockSize: DefaultBlockSize},
		{Data: 4, Parity: 2, BlockSize: DefaultBlockSize},
		{Data: 3, Parity: 3, BlockSize: DefaultBlockSize}, // 1 MiB is not a multiple of 3
	} {
		for _, size := range []int64{mib - 1, mib, mib + 1, 5*mib + 12345} {
			data := randBytes(uint64(size), size)
			shards := mustEncode(t, s, data)
			got, _, err := decodeRange(readersOf(shards), s, size, 0, size)
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("%v size %d: round trip failed: %v", s, size, err)
			}
		}
	}
}

// TestLoadBlockLayout checks the in-place re-layout of short blocks against
// the definition: shard i of an n-byte block is bytes [i*s, (i+1)*s), zero
// padded.
func TestLoadBlockLayout(t *testing.T) {
	for k := 1; k <= 9; k++ {
		for _, bs := range []int64{1, 7, 64, 100} {
			s := Scheme{Data: k, Parity: 0, BlockSize: bs}
			for n := int64(1); n <= bs; n++ {
				data := randBytes(uint64(n), n)
				st := getStripe(stripeKey{frames: k, frameSize: s.FrameSize(), total: k})
				for i := range st.mem {
					st.mem[i] = 0xAA // stale bytes from a previous block
				}
				got, err := loadBlock(bytes.NewReader(data), st, s)
				if err != nil || got != n {
					t.Fatalf("loadBlock = %d, %v", got, err)
				}
				sl := ceilDiv(n, int64(k))
				padded := append(bytes.Clone(data), make([]byte, sl*int64(k)-n)...)
				for i := range k {
					want := padded[int64(i)*sl : int64(i+1)*sl]
					if have := st.frames[i][HashSize : HashSize+sl]; !bytes.Equal(have, want) {
						t.Fatalf("k=%d bs=%d n=%d shard %d = %x, want %x", k, bs, n, i, have, want)
					}
				}
				putStripe(st)
			}
		}
	}
}

// TestMirrorIsRS pins the shortcut for Data == 1: copying the data frame to
// every disk must be exactly what Reed-Solomon would have computed.
func TestMirrorIsRS(t *testing.T) {
	data := randBytes(1, 3000)
	s := Scheme{Data: 1, Parity: 3, BlockSize: 1000}
	shards := mustEncode(t, s, data)
	enc, err := reedsolomon.New(1, 3)
	if err != nil {
		t.Fatal(err)
	}
	rs := [][]byte{data[:1000], make([]byte, 1000), make([]byte, 1000), make([]byte, 1000)}
	if err := enc.Encode(rs); err != nil {
		t.Fatal(err)
	}
	for i := range shards {
		if !bytes.Equal(rs[i], shards[i].Bytes()[HashSize:HashSize+1000]) {
			t.Fatalf("mirror shard %d differs from RS parity", i)
		}
		if !bytes.Equal(shards[i].Bytes(), shards[0].Bytes()) {
			t.Fatalf("mirror shard %d differs from shard 0", i)
		}
	}
}

func TestEncodeWritersFail(t *testing.T) {
	withOverlap(t, func(t *testing.T) {
		s := Scheme{Data: 4, Parity: 2, BlockSize: 1000}
		data := randBytes(7, 10_500)
		frame := s.FrameSize()
		cases := []struct {
			name   string
			fail   map[int]int64 // shard -> bytes accepted before failing
			wantOK bool
		}{
			{"one data disk at start", map[int]int64{0: 0}, true},
			{"two disks mid-stream", map[int]int64{1: 3*frame + 5, 5: 7 * frame}, true},
			{"last frame of one disk", map[int]int64{3: 10 * frame}, true},
			{"three disks", map[int]int64{0: frame, 2: 2 * frame, 4: 9 * frame}, false},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				shards := make([]*memShard, s.Total())
				dst := make([]io.Writer, s.Total())
				for i := range dst {
					shards[i] = &memShard{}
					dst[i] = shards[i]
					if after, ok := c.fail[i]; ok {
						dst[i] = &failingWriter{w: shards[i], after: after, err: errInjectedWrite}
					}
				}
				n, err := Encode(context.Background(), bytes.NewReader(data), dst, s, s.WriteQuorum())
				for i := range dst {
					_, failed := c.fail[i]
					if (dst[i] == nil) != failed {
						t.Errorf("dst[%d] nil = %v after Encode, want %v", i, dst[i] == nil, failed)
					}
				}
				if !c.wantOK {
					var qe *QuorumError
					if !errors.As(err, &qe) || !errors.Is(err, ErrQuorum) || !errors.Is(err, errInjectedWrite) {
						t.Fatalf("Encode error = %v, want a QuorumError wrapping the injected failure", err)
					}
					if qe.Need != 4 || qe.Have != 3 || qe.Op != "write" {
						t.Fatalf("QuorumError = %+v, want write need 4 have 3", qe)
					}
					t.Logf("error reads: %v", err)
					return
				}
				if err != nil || n != int64(len(data)) {
					t.Fatalf("Encode = %d, %v; want %d, nil", n, err, len(data))
				}
				src := readersOf(shards)
				for i := range src {
					if dst[i] == nil {
						src[i] = nil
					}
				}
				got, _, err := decodeRange(src, s, int64(len(data)), 0, int64(len(data)))
				if err != nil || !bytes.Equal(got, data) {
					t.Fatalf("decode after partial write: %v", err)
				}
			})
		}
	})
}

func TestEncodeOfflineBelowQuorum(t *testing.T) {
	s := Scheme{Data: 2, Parity: 1, BlockSize: 100}
	src := &patternReader{pattern: []byte("x"), size: 1000}
	_, err := Encode(context.Background(), src, []io.Writer{&memShard{}, nil, nil}, s, 2)
	var qe *QuorumError
	if !errors.As(err, &qe) || qe.Have != 1 || qe.Need != 2 || !errors.Is(err, ErrShardOffline) {
		t.Fatalf("Encode = %v, want QuorumError need 2 have 1 with offline shards", err)
	}
	if src.off != 0 {
		t.Fatalf("Encode read %d bytes of the object before failing", src.off)
	}
	// One offline disk within quorum is fine and the object reads back.
	shards := []*memShard{{}, nil, {}}
	n, err := Encode(context.Background(), bytes.NewReader(make([]byte, 250)), []io.Writer{shards[0], nil, shards[2]}, s, 2)
	if err != nil || n != 250 {
		t.Fatalf("Encode with one offline disk = %d, %v", n, err)
	}
	if _, _, err := decodeRange([]ShardReader{shards[0], nil, shards[2]}, s, 250, 0, 250); err != nil {
		t.Fatal(err)
	}
}

type errAfterReader struct {
	r   io.Reader
	n   int64
	err error
}

func (e *errAfterReader) Read(p []byte) (int, error) {
	if e.n <= 0 {
		return 0, e.err
	}
	p = p[:min(int64(len(p)), e.n)]
	n, err := e.r.Read(p)
	e.n -= int64(n)
	return n, err
}

func TestEncodeSourceError(t *testing.T) {
	withOverlap(t, func(t *testing.T) {
		s := Scheme{Data: 2, Parity: 1, BlockSize: 100}
		errBody := errors.New("client went away")
		src := &errAfterReader{r: bytes.NewReader(make([]byte, 1000)), n: 350, err: errBody}
		dst := []io.Writer{&memShard{}, &memShard{}, &memShard{}}
		n, err := Encode(context.Background(), src, dst, s, 2)
		if !errors.Is(err, errBody) || n != 300 {
			t.Fatalf("Encode = %d, %v; want 300 bytes and the source's error", n, err)
		}
	})
}

func TestEncodeCanceled(t *testing.T) {
	withOverlap(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		s := Scheme{Data: 2, Parity: 1, BlockSize: 100}
		dst := []io.Writer{&memShard{}, &memShard{}, &memShard{}}
		_, err := Encode(ctx, bytes.NewReader(make([]byte, 1000)), dst, s, 2)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Encode = %v, want context.Canceled", err)
		}
	})
}

func TestEncodeArguments(t *testing.T) {
	s := Scheme{Data: 2, Parity: 1, BlockSize: 100}
	ctx := context.Background()
	if _, err := Encode(ctx, bytes.NewReader(nil), make([]io.Writer, 2), s, 2); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("wrong writer count: %v", err)
	}
	if _, err := Encode(ctx, bytes.NewReader(nil), make([]io.Writer, 3), s, 4); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("quorum above total: %v", err)
	}
	if _, err := Encode(ctx, bytes.NewReader(nil), make([]io.Writer, 3), Scheme{}, 1); !errors.Is(err, ErrInvalidScheme) {
		t.Errorf("zero scheme: %v", err)
	}
}
