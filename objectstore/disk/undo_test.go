package disk

import (
	"bytes"
	"errors"
	"slices"
	"testing"
	"time"
)

// latestOf returns the object's latest version on d.
func latestOf(t *testing.T, d Disk, object string) Version {
	t.Helper()
	m, err := d.ReadMetadata(bg, "b", object)
	must(t, err)
	v, _ := m.Latest()
	return v
}

func expectLatest(t *testing.T, d Disk, object string, want Version, data []byte) {
	t.Helper()
	got := latestOf(t, d, object)
	if !sameVersion(&got, &want) {
		t.Fatalf("latest version %+v, want %+v", got, want)
	}
	if got.DataDir != "" {
		if b := readShardData(t, d, "b", object, got); !bytes.Equal(b, data) {
			t.Fatalf("data %q, want %q", b, data)
		}
	} else if !bytes.Equal(got.Inline, data) {
		t.Fatalf("inline %q, want %q", got.Inline, data)
	}
}

func TestUndoRenameData(t *testing.T) {
	forEachDisk(t, func(t *testing.T, d Disk, l *Local) {
		mustMakeVolume(t, d, "b")

		// An overwrite of the null version, taken back: the old one is
		// there again, with its data, and the new one's data is gone.
		old := putData(t, d, "b", "k", version("", 0), []byte("old"))
		nv := putData(t, d, "b", "k", version("", 1), []byte("new"))
		if got := dataDirsOf(t, l, "b", "k"); !slices.Equal(got, []string{nv.DataDir}) {
			t.Fatalf("data dirs %v after the overwrite", got)
		}
		must(t, d.UndoRenameData(bg, "b", "k", nv))
		expectLatest(t, d, "k", old, []byte("old"))
		if got := dataDirsOf(t, l, "b", "k"); !slices.Equal(got, []string{old.DataDir}) {
			t.Fatalf("data dirs %v after the undo, want %s", got, old.DataDir)
		}
		// Once is all: the commit is no longer there to take back.
		if err := d.UndoRenameData(bg, "b", "k", nv); !errors.Is(err, ErrVersionNotFound) {
			t.Fatalf("second undo: %v", err)
		}

		// Inline over inline, inline over data, data over inline.
		small := putInline(t, d, "b", "k", version("", 2), []byte("small"))
		inl := putInline(t, d, "b", "k", version("", 3), []byte("smaller"))
		must(t, d.UndoRenameData(bg, "b", "k", inl))
		expectLatest(t, d, "k", small, []byte("small"))
		big := putData(t, d, "b", "k", version("", 4), []byte("big"))
		must(t, d.UndoRenameData(bg, "b", "k", big))
		expectLatest(t, d, "k", small, []byte("small"))

		// A delete marker replacing the null version (suspended bucket).
		dm := version("", 5)
		dm.IsDeleteMarker = true
		dm.Erasure = ErasureInfo{}
		must(t, d.RenameData(bg, "", "b", "k", dm))
		must(t, d.UndoRenameData(bg, "b", "k", dm))
		expectLatest(t, d, "k", small, []byte("small"))

		// A version that replaced nothing is removed: the other versions
		// stay, and a key that had none is gone.
		va := putInline(t, d, "b", "v", version("a", 0), []byte("a"))
		vb := putInline(t, d, "b", "v", version("b", 1), []byte("b"))
		must(t, d.UndoRenameData(bg, "b", "v", vb))
		expectLatest(t, d, "v", va, []byte("a"))
		fresh := putData(t, d, "b", "fresh", version("", 0), []byte("x"))
		must(t, d.UndoRenameData(bg, "b", "fresh", fresh))
		if _, err := d.ReadMetadata(bg, "b", "fresh"); !errors.Is(err, ErrFileNotFound) {
			t.Fatalf("taken-back new key reads as %v", err)
		}

		// Not the version committed: nothing changes.
		other := version("", 9)
		if err := d.UndoRenameData(bg, "b", "k", other); !errors.Is(err, ErrVersionNotFound) {
			t.Fatalf("undo of another version: %v", err)
		}
		expectLatest(t, d, "k", small, []byte("small"))
	})
}

func TestUndoDeleteVersion(t *testing.T) {
	forEachDisk(t, func(t *testing.T, d Disk, l *Local) {
		mustMakeVolume(t, d, "b")
		// The last version: the object and its node go, and come back.
		v := putData(t, d, "b", "dir/k", version("", 0), []byte("data"))
		must(t, d.DeleteVersion(bg, "b", "dir/k", ""))
		if _, err := d.ReadMetadata(bg, "b", "dir/k"); !errors.Is(err, ErrFileNotFound) {
			t.Fatalf("after delete: %v", err)
		}
		must(t, d.UndoDeleteVersion(bg, "b", "dir/k", v))
		expectLatest(t, d, "dir/k", v, []byte("data"))
		if err := d.UndoDeleteVersion(bg, "b", "dir/k", v); !errors.Is(err, ErrVersionNotFound) {
			t.Fatalf("second undo: %v", err)
		}

		// One of several, inline.
		a := putInline(t, d, "b", "m", version("a", 0), []byte("a"))
		b := putInline(t, d, "b", "m", version("b", 1), []byte("b"))
		must(t, d.DeleteVersion(bg, "b", "m", "b"))
		expectLatest(t, d, "m", a, []byte("a"))
		must(t, d.UndoDeleteVersion(bg, "b", "m", b))
		expectLatest(t, d, "m", b, []byte("b"))

		// Nothing deleted, nothing to take back.
		if err := d.UndoDeleteVersion(bg, "b", "m", version("c", 2)); !errors.Is(err, ErrVersionNotFound) {
			t.Fatalf("undo of no delete: %v", err)
		}
	})
}

// What a change kept goes with the object's next change on the disk (the
// last one is decided by then), and after KeptFor at the latest.
func TestKeptReleased(t *testing.T) {
	l := mustOpenLocal(t)
	mustMakeVolume(t, l, "b")
	putData(t, l, "b", "k", version("", 0), []byte("v0"))
	v1 := putData(t, l, "b", "k", version("", 1), []byte("v1"))
	if n := len(dirEntries(t, l.kept)); n != 1 {
		t.Fatalf("%d kept entries after an overwrite", n)
	}
	v2 := putData(t, l, "b", "k", version("", 2), []byte("v2"))
	if n := len(dirEntries(t, l.kept)); n != 1 {
		t.Fatalf("%d kept entries after the next overwrite, want 1", n)
	}
	if err := l.UndoRenameData(bg, "b", "k", v1); !errors.Is(err, ErrVersionNotFound) {
		t.Fatalf("undo of a decided change: %v", err)
	}
	// A write that replaces nothing, a metadata rewrite, a delete: each
	// releases the last change's entry.
	putInline(t, l, "b", "k", version("x", 3), []byte("x"))
	if n := len(dirEntries(t, l.kept)); n != 0 {
		t.Fatalf("%d kept entries after a new version", n)
	}
	_ = v2
	waitTrashEmpty(t, l)

	saved := keptFor
	keptFor = 50 * time.Millisecond
	defer func() { keptFor = saved }()
	l = reopen(t, l)
	putData(t, l, "b", "e", version("", 0), []byte("e0"))
	putData(t, l, "b", "e", version("", 1), []byte("e1"))
	if n := len(dirEntries(t, l.kept)); n != 1 {
		t.Fatalf("%d kept entries", n)
	}
	eventually(t, func() bool { return len(dirEntries(t, l.kept)) == 0 }, "kept entry outlives KeptFor")
	waitTrashEmpty(t, l)
}

// Kept entries survive a restart of the disk's box (for KeptFor), and a
// crash at any point of a change or its undo leaves the object as it was
// before the change or after it.
func TestUndoCrash(t *testing.T) {
	overwrite := func(t *testing.T, l *Local) (old, nv Version) {
		old = putData(t, l, "b", "k", version("", 0), []byte("old"))
		shard := shardFile(t, []byte("new"))
		nv = version("", 1)
		nv.DataDir, nv.Size = newUUID(), 3
		nv.Parts = []Part{{Number: 1, Size: 3}}
		must(t, l.CreateFile(bg, "b", "up/part.1", int64(len(shard)), bytes.NewReader(shard)))
		return old, nv
	}
	t.Run("renamedata:kept", func(t *testing.T) {
		l := mustOpenLocal(t)
		mustMakeVolume(t, l, "b")
		old, nv := overwrite(t, l)
		crashOnce(l, "renamedata:kept")
		if err := l.RenameData(bg, "up", "b", "k", nv); !errors.Is(err, errCrashed) {
			t.Fatalf("no crash: %v", err)
		}
		l = reopen(t, l)
		expectLatest(t, l, "k", old, []byte("old"))
	})
	t.Run("across-reopen", func(t *testing.T) {
		l := mustOpenLocal(t)
		mustMakeVolume(t, l, "b")
		old, nv := overwrite(t, l)
		must(t, l.RenameData(bg, "up", "b", "k", nv))
		l = reopen(t, l)
		expectLatest(t, l, "k", nv, []byte("new"))
		must(t, l.UndoRenameData(bg, "b", "k", nv))
		expectLatest(t, l, "k", old, []byte("old"))
	})
	for _, c := range []struct {
		point    string
		undone   bool // the undo took effect
		redoable bool // and if not, it can be done again after the restart
	}{
		{"undo:data-back", false, true},
		{"undo:committed", true, false},
	} {
		t.Run(c.point, func(t *testing.T) {
			l := mustOpenLocal(t)
			mustMakeVolume(t, l, "b")
			old, nv := overwrite(t, l)
			must(t, l.RenameData(bg, "up", "b", "k", nv))
			crashOnce(l, c.point)
			if err := l.UndoRenameData(bg, "b", "k", nv); !errors.Is(err, errCrashed) {
				t.Fatalf("no crash: %v", err)
			}
			l = reopen(t, l)
			if c.undone {
				expectLatest(t, l, "k", old, []byte("old"))
			} else {
				expectLatest(t, l, "k", nv, []byte("new"))
			}
			if c.redoable {
				must(t, l.UndoRenameData(bg, "b", "k", nv))
				expectLatest(t, l, "k", old, []byte("old"))
			}
			// The next write leaves only referenced data.
			latest := putData(t, l, "b", "k", version("", 2), []byte("next"))
			if got := dataDirsOf(t, l, "b", "k"); !slices.Equal(got, []string{latest.DataDir}) {
				t.Fatalf("data dirs %v after the next write", got)
			}
		})
	}
	for _, point := range []string{"deleteversion:kept", "deleteversion:committed"} {
		t.Run(point, func(t *testing.T) {
			l := mustOpenLocal(t)
			mustMakeVolume(t, l, "b")
			a := putInline(t, l, "b", "k", version("a", 0), []byte("a"))
			v := putData(t, l, "b", "k", version("b", 1), []byte("b"))
			crashOnce(l, point)
			if err := l.DeleteVersion(bg, "b", "k", "b"); !errors.Is(err, errCrashed) {
				t.Fatalf("no crash: %v", err)
			}
			l = reopen(t, l)
			if point == "deleteversion:kept" {
				expectLatest(t, l, "k", v, []byte("b"))
				return
			}
			expectLatest(t, l, "k", a, []byte("a"))
			must(t, l.UndoDeleteVersion(bg, "b", "k", v))
			expectLatest(t, l, "k", v, []byte("b"))
		})
	}
}
