package snapshot

import (
	"bytes"
	"errors"
	"slices"
	"testing"

	"github.com/banyancloud/banyan/blockstore/replica"
)

const testExtents = 8

func newVolumeBytes() []byte {
	buf := make([]byte, testExtents*replica.ExtentSize)
	for _, n := range []int64{0, 2, 3, 7} { // 1, 4, 5, 6 stay zero
		pattern(buf, n, 1)
	}
	return buf
}

func take(t *testing.T, st Store, id string, attempt uint64, src []byte, parent *Manifest) (*Manifest, Stats) {
	t.Helper()
	var last int64
	m, stats, err := Take(bg, bytesSource(src), st, TakeOptions{SnapshotID: id, VolumeID: "vol-1", Attempt: attempt, Parent: parent,
		Progress: func(done, total int64) {
			if done > total {
				t.Errorf("progress %d of %d", done, total)
			}
			last = max(last, done)
		}})
	if err != nil {
		t.Fatal(err)
	}
	if last != testExtents {
		t.Fatalf("progress ended at %d of %d", last, testExtents)
	}
	return m, stats
}

func readAll(t *testing.T, st Store, m *Manifest) []byte {
	t.Helper()
	r := NewReader(st, m)
	out := make([]byte, m.Size)
	for n := int64(0); n < r.Extents(); n++ {
		b, err := r.ReadExtent(bg, n)
		if err != nil {
			t.Fatal(err)
		}
		copy(out[n*replica.ExtentSize:], b) // nil: zeros
	}
	return out
}

func TestTakeStoresOnlyNonZeroExtents(t *testing.T) {
	st := newMemStore()
	vol := newVolumeBytes()
	m, stats := take(t, st, "snap-a", 1, vol, nil)
	if stats.Uploaded != 4 || stats.Zero != 4 || stats.Reused != 0 || stats.StoredBytes != 4*replica.ExtentSize {
		t.Fatalf("stats %+v, want 4 uploaded and 4 zero", stats)
	}
	if got := len(st.extentKeys()); got != 4 {
		t.Fatalf("%d extent objects stored, want 4", got)
	}
	if !m.Extents[1].Zero() || m.Extents[0].Zero() {
		t.Fatalf("zero extents wrong in manifest: %+v", m.Extents)
	}
	loaded, err := LoadManifest(bg, st, "snap-a")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(readAll(t, st, loaded), vol) {
		t.Fatal("the snapshot reads back different bytes")
	}
}

func TestIncrementalSnapshotUploadsOnlyChangedExtents(t *testing.T) {
	st := newMemStore()
	vol := newVolumeBytes()
	parent, _ := take(t, st, "snap-a", 1, vol, nil)
	pattern(vol, 3, 9) // one extent rewritten
	child, stats := take(t, st, "snap-b", 1, vol, parent)
	if stats.Uploaded != 1 || stats.Reused != 3 || stats.Zero != 4 {
		t.Fatalf("stats %+v, want 1 uploaded, 3 reused, 4 zero", stats)
	}
	if child.Extents[0].Key != parent.Extents[0].Key || child.Extents[3].Key == parent.Extents[3].Key {
		t.Fatal("child does not share unchanged extents, or shares the changed one")
	}
	if !bytes.Equal(readAll(t, st, child), vol) {
		t.Fatal("the child reads back different bytes")
	}
	// An extent that became zero is not stored and not shared.
	clear(vol[7*replica.ExtentSize : 8*replica.ExtentSize])
	_, stats = take(t, st, "snap-c", 1, vol, child)
	if stats.Uploaded != 0 || stats.Zero != 5 || stats.Reused != 3 {
		t.Fatalf("stats %+v, want 0 uploaded, 5 zero, 3 reused", stats)
	}
}

func TestRefs(t *testing.T) {
	a := &Manifest{Extents: []Extent{{Key: "x"}, {Key: "y"}, {}, {Key: "x"}}}
	b := &Manifest{Extents: []Extent{{Key: "x"}, {Key: "z"}}}
	r := Refs{}
	r.Add(a)
	r.Add(b)
	if r["x"] != 2 || r["y"] != 1 || r["z"] != 1 || len(r) != 3 {
		t.Fatalf("refs %v", r)
	}
	if freed := r.Release(a); !slices.Equal(freed, []string{"y"}) {
		t.Fatalf("releasing a freed %v, want [y]", freed)
	}
	if freed := r.Release(b); !slices.Equal(freed, []string{"x", "z"}) {
		t.Fatalf("releasing b freed %v, want [x z]", freed)
	}
	if got := Unreferenced(a, []*Manifest{b}); !slices.Equal(got, []string{"y"}) {
		t.Fatalf("Unreferenced %v", got)
	}
}

func TestDeleteKeepsSharedExtents(t *testing.T) {
	st := newMemStore()
	vol := newVolumeBytes()
	parent, _ := take(t, st, "snap-a", 1, vol, nil)
	pattern(vol, 0, 5)
	child, _ := take(t, st, "snap-b", 1, vol, parent)
	copied, err := Copy(bg, st, child, "snap-c")
	if err != nil {
		t.Fatal(err)
	}
	// A leftover of an abandoned attempt under the parent's prefix.
	st.Put(bg, extentKey("snap-a", 7, 0), []byte("junk"))

	// Deleting the parent frees only the extent the child rewrote, and the leftover.
	n, err := Delete(bg, st, "snap-a", parent, []*Manifest{child, copied})
	if err != nil {
		t.Fatal(err)
	}
	if n != 2 || len(st.extentKeys()) != 4 {
		t.Fatalf("deleted %d objects, %d left (%v); want 2 deleted, 4 left", n, len(st.extentKeys()), st.extentKeys())
	}
	if _, err := LoadManifest(bg, st, "snap-a"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("the parent's manifest is still there: %v", err)
	}
	if !bytes.Equal(readAll(t, st, child), vol) {
		t.Fatal("the child lost data when its parent was deleted")
	}
	// The copy shares everything: deleting the child frees nothing.
	if n, err := Delete(bg, st, "snap-b", child, []*Manifest{copied}); err != nil || n != 0 {
		t.Fatalf("deleting the child deleted %d: %v", n, err)
	}
	if !bytes.Equal(readAll(t, st, copied), vol) {
		t.Fatal("the copy lost data")
	}
	if n, err := Delete(bg, st, "snap-c", copied, nil); err != nil || n != 4 {
		t.Fatalf("deleting the last snapshot deleted %d: %v", n, err)
	}
	if left := st.extentKeys(); len(left) != 0 {
		t.Fatalf("objects left: %v", left)
	}
}

func TestReaderDetectsCorruption(t *testing.T) {
	st := newMemStore()
	m, _ := take(t, st, "snap-a", 1, newVolumeBytes(), nil)
	st.Put(bg, m.Extents[2].Key, make([]byte, replica.ExtentSize))
	if _, err := NewReader(st, m).ReadExtent(bg, 2); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("a changed extent read with %v", err)
	}
	if b, err := NewReader(st, m).ReadExtent(bg, 99); b != nil || err != nil {
		t.Fatal("an extent past the snapshot must read as zeros")
	}
}

func TestDecodeManifestRefusesGarbage(t *testing.T) {
	for _, b := range [][]byte{nil, []byte("x"), {0xa1, 0x01, 0x02}} {
		if _, err := DecodeManifest(b); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("%x: %v", b, err)
		}
	}
}
