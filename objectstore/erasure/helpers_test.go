package erasure

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"testing"
)

// testSchemes covers striping, mirroring, k>m, k==m, k<m and wide sets.
// Block sizes are small and odd so that every test crosses many blocks,
// pads shards and hits short last blocks without moving megabytes.
var testSchemes = []Scheme{
	{Data: 1, Parity: 0, BlockSize: 1000},
	{Data: 1, Parity: 1, BlockSize: 1000},
	{Data: 1, Parity: 2, BlockSize: 999},
	{Data: 2, Parity: 1, BlockSize: 1000},
	{Data: 2, Parity: 2, BlockSize: 1001},
	{Data: 3, Parity: 2, BlockSize: 1000},
	{Data: 4, Parity: 0, BlockSize: 1024},
	{Data: 4, Parity: 2, BlockSize: 1000},
	{Data: 5, Parity: 3, BlockSize: 777},
	{Data: 6, Parity: 1, BlockSize: 10},
	{Data: 8, Parity: 4, BlockSize: 4096},
	{Data: 12, Parity: 4, BlockSize: 1 << 10},
}

// sizesFor returns the object sizes worth testing for s: empty, tiny,
// around one block, a few blocks and odd lengths.
func sizesFor(s Scheme) []int64 {
	b := s.BlockSize
	k := int64(s.Data)
	return dedupe([]int64{0, 1, 2, k - 1, k, k + 1, b - 1, b, b + 1, 2*b - 1, 2 * b, 3*b + 17, 5*b + b/2 + 3})
}

func dedupe(in []int64) []int64 {
	seen := map[int64]bool{}
	var out []int64
	for _, v := range in {
		if v >= 0 && !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}

func randBytes(seed uint64, n int64) []byte {
	var key [32]byte
	key[0] = byte(seed)
	key[1] = byte(seed >> 8)
	b := make([]byte, n)
	rand.NewChaCha8(key).Read(b)
	return b
}

// withOverlap runs fn with block overlap on and off, since the two take
// different paths through pump.
func withOverlap(t *testing.T, fn func(t *testing.T)) {
	for _, on := range []bool{true, false} {
		name := "overlap"
		if !on {
			name = "serial"
		}
		t.Run(name, func(t *testing.T) {
			old := overlap
			overlap = on
			defer func() { overlap = old }()
			fn(t)
		})
	}
}

func mustEncode(t testing.TB, s Scheme, data []byte) []*memShard {
	t.Helper()
	shards := make([]*memShard, s.Total())
	dst := make([]io.Writer, s.Total())
	for i := range shards {
		shards[i] = &memShard{}
		dst[i] = shards[i]
	}
	n, err := Encode(context.Background(), bytes.NewReader(data), dst, s, s.WriteQuorum())
	if err != nil {
		t.Fatalf("Encode(%v, %d bytes): %v", s, len(data), err)
	}
	if n != int64(len(data)) {
		t.Fatalf("Encode(%v) consumed %d bytes, want %d", s, n, len(data))
	}
	return shards
}

func readersOf(shards []*memShard) []ShardReader {
	src := make([]ShardReader, len(shards))
	for i, s := range shards {
		if s != nil {
			src[i] = s
		}
	}
	return src
}

func decodeRange(src []ShardReader, s Scheme, size, off, length int64) ([]byte, Result, error) {
	var out bytes.Buffer
	res, err := Decode(context.Background(), &out, src, s, size, off, length)
	if res.Written != int64(out.Len()) {
		panic("Result.Written disagrees with the bytes written")
	}
	return out.Bytes(), res, err
}
