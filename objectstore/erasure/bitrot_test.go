package erasure

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"testing"

	"github.com/klauspost/reedsolomon"
	"github.com/minio/highwayhash"
)

func TestVerifyShard(t *testing.T) {
	s := Scheme{Data: 3, Parity: 1, BlockSize: 100}
	size := int64(250)
	shards := mustEncode(t, s, randBytes(59, size))
	sh := shards[2]
	if err := VerifyShard(sh, int64(sh.Len()), s, size); err != nil {
		t.Fatal(err)
	}
	if err := VerifyShard(sh, int64(sh.Len())-1, s, size); !errors.Is(err, ErrShardSize) {
		t.Fatalf("short size: %v", err)
	}
	if err := VerifyShard(sh, int64(sh.Len()), s, size+4); !errors.Is(err, ErrShardSize) {
		t.Fatalf("wrong object size: %v", err)
	}
	if err := VerifyShard(errReaderAt{err: errInjectedRead}, int64(sh.Len()), s, size); !errors.Is(err, errInjectedRead) {
		t.Fatalf("read error: %v", err)
	}
	for _, at := range []int64{0, HashSize, s.FrameSize() - 1, s.FrameSize() + 5, int64(sh.Len()) - 1} {
		err := VerifyShard(bitFlipReaderAt{r: sh, at: []int64{at}}, int64(sh.Len()), s, size)
		if !errors.Is(err, ErrBitrot) {
			t.Fatalf("bit flip at %d: %v", at, err)
		}
	}
	if err := VerifyShard(sh, 0, s, 0); err != ErrShardSize && err != nil {
		t.Fatalf("empty object, empty shard: %v", err)
	}
}

// TestFormatGolden pins the shard file format: if this fails, shard files
// already on disks would no longer read back. Only change the digests
// together with a format version bump and a migration.
func TestFormatGolden(t *testing.T) {
	for _, c := range []struct {
		scheme Scheme
		size   int64
	}{
		{Scheme{Data: 4, Parity: 2, BlockSize: 4096}, 10_000},
		{Scheme{Data: 1, Parity: 1, BlockSize: 1000}, 1500},
		{Scheme{Data: 3, Parity: 0, BlockSize: 100}, 250},
	} {
		data := make([]byte, c.size)
		for i := range data {
			data[i] = byte(i*7 + i/251)
		}
		shards := mustEncode(t, c.scheme, data)
		var got []string
		for _, sh := range shards {
			sum := sha256.Sum256(sh.Bytes())
			got = append(got, hex.EncodeToString(sum[:8]))
		}
		t.Logf("%v size %d: %q", c.scheme, c.size, got)
		want := goldenDigests[c.scheme.String()]
		if len(want) != len(got) {
			t.Errorf("no golden digests for %v", c.scheme)
			continue
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("%v shard %d: digest %s, golden %s: the on-disk format changed", c.scheme, i, got[i], want[i])
			}
		}
	}
}

var goldenDigests = map[string][]string{
	"4+2/4096": {"acb31e2beb2157d7", "b5906f2de4aa98cd", "72907169fc6dd189", "6ee982692bd9ee18", "e6adffa6c7adb545", "0cb6ef722df88391"},
	"1+1/1000": {"3c60ca32d06937a4", "3c60ca32d06937a4"},
	"3+0/100":  {"14dd4865dbc5380a", "87883dbb213bd81b", "9b5bcc13e50fef8f"},
}

// referenceShards builds the shard files the slow, obvious way, straight
// from the format in the package doc, with no code shared with Encode.
func referenceShards(t *testing.T, s Scheme, data []byte) [][]byte {
	enc, err := reedsolomon.New(s.Data, max(s.Parity, 1))
	if err != nil {
		t.Fatal(err)
	}
	files := make([][]byte, s.Total())
	for b := int64(0); b*s.BlockSize < int64(len(data)); b++ {
		block := data[b*s.BlockSize : min((b+1)*s.BlockSize, int64(len(data)))]
		sl := (len(block) + s.Data - 1) / s.Data
		padded := append(bytes.Clone(block), make([]byte, sl*s.Data-len(block))...)
		shards := make([][]byte, s.Data+max(s.Parity, 1))
		for i := range shards {
			shards[i] = make([]byte, sl)
			if i < s.Data {
				copy(shards[i], padded[i*sl:])
			}
		}
		if err := enc.Encode(shards); err != nil {
			t.Fatal(err)
		}
		for i := range files {
			msg := binary.LittleEndian.AppendUint64(nil, uint64(b))
			sum := highwayhash.Sum(append(msg, shards[i]...), bitrotKey[:])
			files[i] = append(append(files[i], sum[:]...), shards[i]...)
		}
	}
	return files
}

func TestFormatMatchesReference(t *testing.T) {
	for _, s := range testSchemes {
		for _, size := range sizesFor(s) {
			data := randBytes(61, size)
			want := referenceShards(t, s, data)
			for i, sh := range mustEncode(t, s, data) {
				if !bytes.Equal(sh.Bytes(), want[i]) {
					t.Fatalf("%v size %d: shard %d differs from the documented format", s, size, i)
				}
			}
		}
	}
}
