package replica

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestStoreSurvivesReopen(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "volumes")
	s := mustOpen(t, dir)
	must(t, s.Create(bg, "vol-a", 2*ExtentSize))
	data := randBytes(2, 64<<10)
	must(t, s.Write(bg, "vol-a", 3, 12345, data, true))
	must(t, s.MarkDirty(bg, "vol-a", 3, "box-b", []Run{{1, 1}}))
	must(t, s.Close())

	s = mustOpen(t, dir)
	info, err := s.Info(bg, "vol-a")
	must(t, err)
	if info.Epoch != 3 || info.Size != 2*ExtentSize {
		t.Fatalf("after reopen: %+v", info)
	}
	wantBytes(t, mustRead(t, s, "vol-a", 12345, len(data)), data, "data after reopen")
	d, err := s.Dirty(bg, "vol-a")
	must(t, err)
	if len(d["box-b"]) != 1 {
		t.Fatalf("dirty after reopen: %v", d)
	}
	wantErr(t, s.Write(bg, "vol-a", 2, 0, data, false), ErrStaleEpoch, "stale epoch after reopen")
}

func TestStoreIsLocked(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "volumes")
	mustOpen(t, dir)
	_, err := Open(dir)
	wantErr(t, err, ErrUnavailable, "second open of the same folder")
}

// A crash while the metadata is rewritten (here: before the rename takes
// effect) leaves the old metadata whole, the write that needed the new
// epoch refused, and garbage that the next Open removes.
func TestStoreMetadataCrashLeavesOldFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "volumes")
	s := mustOpen(t, dir)
	must(t, s.Create(bg, "vol-a", ExtentSize))
	must(t, s.Write(bg, "vol-a", 4, 0, []byte("epoch four"), true))

	crash := errors.New("simulated crash before rename")
	renameHook = func(from, to string) error {
		// The temporary file is complete and fsynced, but the crash keeps
		// it from replacing the real one; leave it behind as a crash would.
		b, _ := os.ReadFile(from)
		os.WriteFile(from+".kept", b, 0o600)
		return crash
	}
	err := s.Write(bg, "vol-a", 9, 0, []byte("epoch nine"), true)
	renameHook = os.Rename
	if !errors.Is(err, ErrIO) {
		t.Fatalf("write needing a new epoch while the metadata cannot be replaced: %v", err)
	}
	wantBytes(t, mustRead(t, s, "vol-a", 0, 10), []byte("epoch four"), "the refused write did not land")
	must(t, s.Close())
	// What a crash leaves: a stray temporary file.
	must(t, os.Rename(filepath.Join(dir, "vol-a.meta.tmp.kept"), filepath.Join(dir, "vol-a.meta.tmp")))

	s = mustOpen(t, dir)
	info, err := s.Info(bg, "vol-a")
	must(t, err)
	if info.Epoch != 4 {
		t.Fatalf("epoch %d after the crash, want the old 4", info.Epoch)
	}
	if _, err := os.Stat(filepath.Join(dir, "vol-a.meta.tmp")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("temporary metadata left after Open: %v", err)
	}
	must(t, s.Write(bg, "vol-a", 9, 0, []byte("epoch nine"), true))
}

// A metadata file that fails its checks is never served as a fresh volume
// (that would reset its epoch and unfence an old primary), and does not
// stop the store from serving the others.
func TestStoreCorruptMetadataIsNotServed(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "volumes")
	s := mustOpen(t, dir)
	must(t, s.Create(bg, "vol-bad", ExtentSize))
	must(t, s.Create(bg, "vol-good", ExtentSize))
	must(t, s.Flush(bg, "vol-bad", 7))
	must(t, s.Close())
	mp := filepath.Join(dir, "vol-bad.meta")
	b, err := os.ReadFile(mp)
	must(t, err)
	b[len(b)/2] ^= 0xff
	must(t, os.WriteFile(mp, b, 0o600))
	// An interrupted Create: a data file without metadata.
	must(t, os.WriteFile(filepath.Join(dir, "vol-half.img"), []byte("x"), 0o600))

	s = mustOpen(t, dir)
	_, err = s.Info(bg, "vol-bad")
	wantErr(t, err, ErrCorrupt, "info of a corrupt volume")
	wantErr(t, s.Write(bg, "vol-bad", 1, 0, []byte("x"), false), ErrCorrupt, "write to a corrupt volume")
	wantErr(t, s.Create(bg, "vol-bad", ExtentSize), ErrCorrupt, "create over a corrupt volume")
	_, err = s.Info(bg, "vol-good")
	must(t, err)
	if _, err := os.Stat(filepath.Join(dir, "vol-half.img")); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("orphan data file not removed")
	}
	must(t, s.Delete(bg, "vol-bad"))
	must(t, s.Create(bg, "vol-bad", ExtentSize))
}

func TestDecodeMetaRefusesGarbage(t *testing.T) {
	good, err := encodeMeta(&meta{ID: "vol-a", Size: ExtentSize, ExtentSize: ExtentSize, Epoch: 2})
	must(t, err)
	if _, err := decodeMeta(good); err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{
		"empty":     nil,
		"truncated": good[:len(good)-1],
		"longer":    append(append([]byte{}, good...), 0),
		"magic":     append([]byte("XXXX"), good[4:]...),
	} {
		if _, err := decodeMeta(b); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: %v, want ErrCorrupt", name, err)
		}
	}
	bad, _ := encodeMeta(&meta{ID: "vol-a", Size: ExtentSize, ExtentSize: 512})
	if _, err := decodeMeta(bad); !errors.Is(err, ErrCorrupt) {
		t.Errorf("foreign extent size: %v", err)
	}
}

func TestExtentSet(t *testing.T) {
	var s ExtentSet
	if s.Add(Run{3, 4}) != 4 || s.Add(Run{5, 3}) != 1 || s.Len() != 5 {
		t.Fatalf("len %d", s.Len())
	}
	s.Add(Run{100, 1})
	s.Remove(Run{4, 1})
	want := []Run{{3, 1}, {5, 3}, {100, 1}}
	got := s.Runs()
	if len(got) != len(want) {
		t.Fatalf("runs %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("runs %v, want %v", got, want)
		}
	}
	if !s.Has(100) || s.Has(4) || s.Has(-1) || s.Has(1<<40) {
		t.Fatal("Has")
	}
}
