package snapshot

import (
	"bytes"
	"context"
	"testing"

	"github.com/banyancloud/banyan/blockstore/replica"
	"github.com/banyancloud/banyan/blockstore/volume"
)

// openVolume opens id as its primary over copies in two fresh stores, creating them
// (marked unfilled from a snapshot of fillExtents extents when fill is set).
func openVolume(t *testing.T, stores []*replica.Store, id string, size int64, epoch uint64, fill volume.FillSource, fillExtents int64) *volume.Volume {
	t.Helper()
	cfg := volume.Config{ID: id, Size: size, Epoch: epoch, Fill: fill}
	for i, s := range stores {
		if _, err := s.Info(bg, id); err != nil {
			if err := s.Create(bg, id, size); err != nil {
				t.Fatal(err)
			}
			if fill != nil {
				if err := volume.MarkUnfilled(bg, s, id, fillExtents); err != nil {
					t.Fatal(err)
				}
			}
		}
		cfg.Replicas = append(cfg.Replicas, volume.Replica{Name: string(rune('a' + i)), Holder: s, Local: i == 0})
	}
	v, err := volume.Open(bg, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func newStores(t *testing.T) []*replica.Store {
	var out []*replica.Store
	for range 2 {
		s, err := replica.Open(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		out = append(out, s)
	}
	return out
}

func readVolume(t *testing.T, v interface {
	ReadAt(context.Context, []byte, int64) error
}, size int64) []byte {
	t.Helper()
	out := make([]byte, size)
	if err := v.ReadAt(bg, out, 0); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestSnapshotThenVolumeFromSnapshot: a snapshot of a volume being written holds the
// bytes of the moment it was frozen; a volume created from it reads those bytes (filled
// lazily from the objects, extent by extent), keeps its own writes across a reopen,
// and a second snapshot after one extent changed uploads one extent.
func TestSnapshotThenVolumeFromSnapshot(t *testing.T) {
	const size = testExtents * replica.ExtentSize
	st := newMemStore()
	src := openVolume(t, newStores(t), "vol-src", size, 1, nil, 0)
	want := newVolumeBytes()
	if err := src.WriteAt(bg, want, 0, true); err != nil {
		t.Fatal(err)
	}

	view, err := src.Freeze(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	// Writes after the mark, to extents read and not yet read, must not show.
	late := bytes.Repeat([]byte{0xEE}, 1<<20)
	if err := src.WriteAt(bg, late, 2*replica.ExtentSize+4096, false); err != nil {
		t.Fatal(err)
	}
	if err := src.WriteZeroes(bg, 0, replica.ExtentSize, false); err != nil {
		t.Fatal(err)
	}
	m, stats, err := Take(bg, view, st, TakeOptions{SnapshotID: "snap-1", VolumeID: "vol-src", Attempt: 1})
	view.Release()
	if err != nil {
		t.Fatal(err)
	}
	if stats.Uploaded != 4 || stats.Zero != 4 {
		t.Fatalf("stats %+v", stats)
	}

	// A larger volume from the snapshot.
	stores := newStores(t)
	dst := openVolume(t, stores, "vol-dst", size+2*replica.ExtentSize, 2, NewReader(st, m), int64(len(m.Extents)))
	if got := dst.Unfilled(); got != testExtents {
		t.Fatalf("%d extents unfilled, want %d", got, testExtents)
	}
	// One write into an unfilled extent keeps the rest of the extent's snapshot bytes.
	mine := bytes.Repeat([]byte{0x5A}, 512)
	if err := dst.WriteAt(bg, mine, 3*replica.ExtentSize+100, true); err != nil {
		t.Fatal(err)
	}
	expect := append(bytes.Clone(want), make([]byte, 2*replica.ExtentSize)...)
	copy(expect[3*replica.ExtentSize+100:], mine)
	if !bytes.Equal(readVolume(t, dst, size), expect[:size]) {
		t.Fatal("the volume from the snapshot reads other bytes than the snapshot's")
	}
	if err := dst.Close(bg); err != nil {
		t.Fatal(err)
	}
	// A new primary learns from the copies what is filled: its own write survives.
	dst = openVolume(t, stores, "vol-dst", 0, 3, NewReader(st, m), int64(len(m.Extents)))
	if dst.Unfilled() != 0 {
		t.Fatalf("%d extents unfilled after every extent was read", dst.Unfilled())
	}
	if !bytes.Equal(readVolume(t, dst, dst.Size()), expect) {
		t.Fatal("after a reopen the volume reads other bytes")
	}

	// Incremental: one extent changed, one uploaded.
	if err := dst.WriteAt(bg, bytes.Repeat([]byte{1}, 4096), 6*replica.ExtentSize, true); err != nil {
		t.Fatal(err)
	}
	v1, _ := dst.Freeze("")
	m1, s1, err := Take(bg, v1, st, TakeOptions{SnapshotID: "snap-2", VolumeID: "vol-dst", Attempt: 1})
	v1.Release()
	if err != nil {
		t.Fatal(err)
	}
	if err := dst.WriteAt(bg, bytes.Repeat([]byte{2}, 4096), 7*replica.ExtentSize, true); err != nil {
		t.Fatal(err)
	}
	v2, _ := dst.Freeze("")
	_, s2, err := Take(bg, v2, st, TakeOptions{SnapshotID: "snap-3", VolumeID: "vol-dst", Attempt: 1, Parent: m1})
	v2.Release()
	if err != nil {
		t.Fatal(err)
	}
	if s2.Uploaded != 1 || s2.Reused != s1.Uploaded-1 {
		t.Fatalf("second snapshot %+v after the first %+v: want 1 uploaded", s2, s1)
	}
}

// TestBackgroundFill: FillNext fills every extent without any guest access.
func TestBackgroundFill(t *testing.T) {
	const size = testExtents * replica.ExtentSize
	st := newMemStore()
	m, _ := take(t, st, "snap-1", 1, newVolumeBytes(), nil)
	stores := newStores(t)
	v := openVolume(t, stores, "vol-x", size, 1, NewReader(st, m), int64(len(m.Extents)))
	n := 0
	for {
		more, err := v.FillNext(bg)
		if err != nil {
			t.Fatal(err)
		}
		if !more {
			break
		}
		n++
	}
	if n != testExtents || v.Unfilled() != 0 {
		t.Fatalf("filled %d, %d left", n, v.Unfilled())
	}
	// Straight from a copy, not through the fill: the bytes are there.
	got := make([]byte, size)
	if err := stores[1].Read(bg, "vol-x", 0, got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, newVolumeBytes()) {
		t.Fatal("the second copy does not hold the snapshot's bytes")
	}
}
