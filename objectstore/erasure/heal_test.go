package erasure

import (
	"bytes"
	"context"
	"errors"
	"io"
	"slices"
	"testing"
)

func TestHeal(t *testing.T) {
	withOverlap(t, func(t *testing.T) {
		for _, s := range testSchemes {
			if s.Parity == 0 {
				continue
			}
			for _, size := range []int64{0, 1, s.BlockSize, 3*s.BlockSize + 7} {
				data := randBytes(37, size)
				orig := mustEncode(t, s, data)
				subsets(s.Total(), s.Parity, func(lost []int) {
					if len(lost) == 0 {
						return
					}
					src := readersOf(orig)
					dst := make([]io.Writer, s.Total())
					healed := make([]*memShard, s.Total())
					for n, i := range lost {
						if n%2 == 0 {
							src[i] = nil // disk replaced
						} else {
							src[i] = errReaderAt{err: errInjectedRead} // must not be read
						}
						healed[i] = &memShard{}
						dst[i] = healed[i]
					}
					res, err := Heal(context.Background(), src, dst, s, size)
					if err != nil || res.BadShards != nil {
						t.Fatalf("%v size %d heal %v: %v (bad %v)", s, size, lost, err, res.BadShards)
					}
					for _, i := range lost {
						if !bytes.Equal(healed[i].Bytes(), orig[i].Bytes()) {
							t.Fatalf("%v size %d: healed shard %d differs from the original", s, size, i)
						}
						if err := VerifyShard(healed[i], int64(healed[i].Len()), s, size); err != nil {
							t.Fatalf("VerifyShard(healed %d): %v", i, err)
						}
						if res.Written != s.ShardFileSize(size) {
							t.Fatalf("Written = %d, want %d", res.Written, s.ShardFileSize(size))
						}
					}
				})
			}
		}
	})
}

// TestHealThenDecode: corruption found by Decode is healed, the healed
// set verifies and decodes with no further bad shards, even with parity
// disks gone.
func TestHealThenDecode(t *testing.T) {
	s := Scheme{Data: 4, Parity: 2, BlockSize: 1000}
	size := 6*s.BlockSize + 123
	data := randBytes(41, size)
	shards := mustEncode(t, s, data)
	// Rot shard 1 on disk, in block 3.
	shards[1].Bytes()[3*s.FrameSize()+HashSize+10] ^= 0x40

	got, res, err := decodeRange(readersOf(shards), s, size, 0, size)
	if err != nil || !bytes.Equal(got, data) || !slices.Equal(res.BadShards, []int{1}) {
		t.Fatalf("Decode: %v, BadShards %v", err, res.BadShards)
	}
	if err := VerifyShard(shards[1], int64(shards[1].Len()), s, size); !errors.Is(err, ErrBitrot) {
		t.Fatalf("VerifyShard(rotten) = %v", err)
	}

	dst := make([]io.Writer, s.Total())
	fresh := &memShard{}
	dst[1] = fresh
	if _, err := Heal(context.Background(), readersOf(shards), dst, s, size); err != nil {
		t.Fatal(err)
	}
	shards[1] = fresh
	for i, sh := range shards {
		if err := VerifyShard(sh, int64(sh.Len()), s, size); err != nil {
			t.Fatalf("VerifyShard(%d) after heal: %v", i, err)
		}
	}
	src := readersOf(shards)
	src[4], src[5] = nil, nil
	got, res, err = decodeRange(src, s, size, 0, size)
	if err != nil || !bytes.Equal(got, data) || res.BadShards != nil {
		t.Fatalf("Decode after heal: %v, BadShards %v", err, res.BadShards)
	}
}

func TestHealReportsBadSources(t *testing.T) {
	withOverlap(t, func(t *testing.T) {
		s := Scheme{Data: 3, Parity: 3, BlockSize: 500}
		size := 4 * s.BlockSize
		orig := mustEncode(t, s, randBytes(43, size))
		src := readersOf(orig)
		src[0] = bitFlipReaderAt{r: orig[0], at: []int64{s.FrameSize() + 40}}
		src[2] = errReaderAt{err: errInjectedRead}
		healed := &memShard{}
		dst := []io.Writer{nil, nil, nil, nil, healed, nil}
		res, err := Heal(context.Background(), src, dst, s, size)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(res.BadShards, []int{0, 2}) || !errors.Is(res.ShardErrs[0], ErrBitrot) {
			t.Fatalf("BadShards = %v (%v), want [0 2] with bitrot on 0", res.BadShards, res.ShardErrs)
		}
		if !bytes.Equal(healed.Bytes(), orig[4].Bytes()) {
			t.Fatal("healed shard 4 differs from the original")
		}
	})
}

func TestHealFailures(t *testing.T) {
	withOverlap(t, func(t *testing.T) {
		s := Scheme{Data: 4, Parity: 2, BlockSize: 1000}
		size := 5 * s.BlockSize
		orig := mustEncode(t, s, randBytes(47, size))

		// Too few sources: three shards gone.
		src := readersOf(orig)
		src[0], src[3] = nil, nil
		dst := make([]io.Writer, s.Total())
		dst[5] = &memShard{}
		_, err := Heal(context.Background(), src, dst, s, size)
		var qe *QuorumError
		if !errors.As(err, &qe) || qe.Op != "read" || qe.Have != 3 {
			t.Fatalf("Heal with 3 sources = %v, want read QuorumError have 3", err)
		}

		// One of two targets fails mid-stream: the other is still healed.
		src = readersOf(orig)
		good := &memShard{}
		dst = make([]io.Writer, s.Total())
		dst[1] = &failingWriter{w: &memShard{}, after: 2 * s.FrameSize(), err: errInjectedWrite}
		dst[4] = good
		_, err = Heal(context.Background(), src, dst, s, size)
		if !errors.As(err, &qe) || qe.Op != "heal" || qe.Need != 2 || qe.Have != 1 || !errors.Is(err, errInjectedWrite) {
			t.Fatalf("Heal with a failing target = %v, want heal QuorumError need 2 have 1", err)
		}
		for i, e := range qe.Errs {
			if (e != nil) != (i == 1) {
				t.Fatalf("QuorumError.Errs = %v, want only shard 1", qe.Errs)
			}
		}
		if !bytes.Equal(good.Bytes(), orig[4].Bytes()) {
			t.Fatal("surviving target was not fully healed")
		}

		// Plain striping cannot heal anything.
		s0 := Scheme{Data: 2, Parity: 0, BlockSize: 100}
		orig = mustEncode(t, s0, randBytes(53, 300))
		if _, err := Heal(context.Background(), []ShardReader{orig[0], nil}, []io.Writer{nil, &memShard{}}, s0, 300); !errors.Is(err, ErrQuorum) {
			t.Fatalf("Heal on 2+0 = %v, want ErrQuorum", err)
		}
		// Nothing to heal is not an error.
		if _, err := Heal(context.Background(), readersOf(orig), make([]io.Writer, 2), s0, 300); err != nil {
			t.Fatalf("Heal with no targets = %v", err)
		}
	})
}
