package erasure

import (
	"errors"
	"testing"
)

func TestSchemeValidate(t *testing.T) {
	for _, s := range []Scheme{
		{Data: 0, Parity: 1, BlockSize: 1},
		{Data: 1, Parity: -1, BlockSize: 1},
		{Data: 200, Parity: 57, BlockSize: 1},
		{Data: 2, Parity: 1, BlockSize: 0},
		{Data: 2, Parity: 1, BlockSize: 1 << 31},
	} {
		if err := s.Validate(); !errors.Is(err, ErrInvalidScheme) {
			t.Errorf("%+v.Validate() = %v, want ErrInvalidScheme", s, err)
		}
	}
	for _, s := range append(testSchemes, Scheme{Data: 128, Parity: 128, BlockSize: DefaultBlockSize}) {
		if err := s.Validate(); err != nil {
			t.Errorf("%v.Validate() = %v", s, err)
		}
	}
}

func TestSchemeSizes(t *testing.T) {
	s := Scheme{Data: 4, Parity: 2, BlockSize: 10} // full shard blocks of 3 bytes
	for _, c := range []struct{ size, shard, file int64 }{
		{0, 0, 0},
		{1, 1, 1 + HashSize},
		{4, 1, 1 + HashSize},
		{5, 2, 2 + HashSize},
		{10, 3, 3 + HashSize},
		{11, 4, 4 + 2*HashSize},
		{25, 3 + 3 + 2, 8 + 3*HashSize},
	} {
		if got := s.ShardSize(c.size); got != c.shard {
			t.Errorf("ShardSize(%d) = %d, want %d", c.size, got, c.shard)
		}
		if got := s.ShardFileSize(c.size); got != c.file {
			t.Errorf("ShardFileSize(%d) = %d, want %d", c.size, got, c.file)
		}
	}
}

func TestQuorums(t *testing.T) {
	for _, c := range []struct{ k, m, write int }{
		{1, 0, 1}, {4, 0, 4}, // striping: every disk
		{1, 1, 2}, {1, 2, 2}, {1, 3, 3}, // mirrors: a majority
		{2, 1, 2}, {4, 2, 4}, {8, 4, 8}, {12, 4, 12}, // k > m: k
		{2, 2, 3}, {4, 4, 5}, {8, 8, 9}, // k == m: k+1, as MinIO
		{2, 4, 4}, // k < m: a majority
	} {
		s := Scheme{Data: c.k, Parity: c.m, BlockSize: 1}
		if got := s.WriteQuorum(); got != c.write {
			t.Errorf("%v.WriteQuorum() = %d, want %d", s, got, c.write)
		}
		// Any two write quorums share a disk, and a write quorum can be read.
		if w := s.WriteQuorum(); 2*w <= s.Total() || w < s.ReadQuorum() {
			t.Errorf("%v: write quorum %d does not intersect itself or is below read quorum %d", s, w, s.ReadQuorum())
		}
		if got := s.ReadQuorum(); got != c.k {
			t.Errorf("%v.ReadQuorum() = %d, want %d", s, got, c.k)
		}
	}
}
