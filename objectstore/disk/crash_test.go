package disk

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// Crash tests: an operation is stopped at a kill point as if the process
// died there (no cleanup runs), the disk is reopened, and the object must
// be in its old state or its new one, never in between, with the garbage
// gone or harmless. Renames are atomic, so these points are every state a
// crash can leave; a power cut additionally relies on the fsyncs, which a
// test cannot observe.

// crashOnce makes l die at point, once.
func crashOnce(l *Local, point string) {
	l.crash = func(p string) bool {
		if p == point {
			l.crash = nil
			return true
		}
		return false
	}
}

// reopen closes l and opens its directory again, as after a restart.
func reopen(t *testing.T, l *Local) *Local {
	t.Helper()
	l.Close()
	return mustOpenLocalAt(t, l.root)
}

// dataDirsOf lists the .data-* dirs of a node.
func dataDirsOf(t *testing.T, l *Local, bucket, object string) []string {
	var out []string
	for _, n := range dirEntries(t, nodeDir(l, bucket, object)) {
		if id, ok := strings.CutPrefix(n, dataDirPrefix); ok {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

func expectObject(t *testing.T, l *Local, object string, want Version, data []byte) {
	t.Helper()
	m, err := l.ReadMetadata(bg, "b", object)
	must(t, err)
	got, _ := m.Latest()
	if got.VersionID != want.VersionID || got.DataDir != want.DataDir || !got.ModTime.Equal(want.ModTime) {
		t.Fatalf("latest version %+v, want %+v", got, want)
	}
	if got.DataDir != "" {
		if b := readShardData(t, l, "b", object, got); !bytes.Equal(b, data) {
			t.Fatalf("data %q, want %q", b, data)
		}
	}
}

func expectStagingEmpty(t *testing.T, l *Local) {
	t.Helper()
	if ents := dirEntries(t, l.tmp); len(ents) != 0 {
		t.Fatalf("staging keeps %v after reopen", ents)
	}
}

func TestCrashDuringRenameData(t *testing.T) {
	for _, c := range []struct {
		point   string
		visible bool // the new version survives
	}{
		{"createfile:written", false},
		{"renamedata:data-moved", false},
		{"meta:staged", false},
		{"renamedata:committed", true},
	} {
		t.Run(c.point, func(t *testing.T) {
			l := mustOpenLocal(t)
			mustMakeVolume(t, l, "b")
			old := putData(t, l, "b", "k", version("", 0), []byte("old"))

			crashOnce(l, c.point)
			shard := shardFile(t, []byte("new"))
			nv := version("", 1)
			nv.DataDir, nv.Size = newUUID(), 3
			err := l.CreateFile(bg, "b", "up/part.1", int64(len(shard)), bytes.NewReader(shard))
			if err == nil {
				err = l.RenameData(bg, "up", "b", "k", nv)
			}
			if !errors.Is(err, errCrashed) {
				t.Fatalf("no crash: %v", err)
			}

			l = reopen(t, l)
			expectStagingEmpty(t, l)
			if c.visible {
				expectObject(t, l, "k", nv, []byte("new"))
			} else {
				expectObject(t, l, "k", old, []byte("old"))
			}
			// The next write of the key leaves only referenced data.
			latest := putData(t, l, "b", "k", version("", 2), []byte("next"))
			if got := dataDirsOf(t, l, "b", "k"); !slices.Equal(got, []string{latest.DataDir}) {
				t.Fatalf("data dirs %v after the next write, want only %s", got, latest.DataDir)
			}
		})
	}
}

func TestCrashDuringFirstWrite(t *testing.T) {
	// A new key: before the metadata lands there is no object at all, and
	// the half-made node does not show up in listings.
	for _, point := range []string{"renamedata:data-moved", "meta:staged"} {
		t.Run(point, func(t *testing.T) {
			l := mustOpenLocal(t)
			mustMakeVolume(t, l, "b")
			crashOnce(l, point)
			shard := shardFile(t, []byte("x"))
			must(t, l.CreateFile(bg, "b", "up/part.1", int64(len(shard)), bytes.NewReader(shard)))
			v := version("", 0)
			v.DataDir, v.Size = newUUID(), 1
			if err := l.RenameData(bg, "up", "b", "dir/k", v); !errors.Is(err, errCrashed) {
				t.Fatalf("no crash: %v", err)
			}
			l = reopen(t, l)
			if _, err := l.ReadMetadata(bg, "b", "dir/k"); !errors.Is(err, ErrFileNotFound) {
				t.Fatalf("half-written object reads as %v", err)
			}
			if got := listAll(t, l, "b", "", ""); len(got) != 0 {
				t.Fatalf("listing shows %v", got)
			}
			// The bucket has no objects, so it can be deleted.
			must(t, l.DeleteVolume(bg, "b", false))
		})
	}
}

func TestCrashDuringDeletes(t *testing.T) {
	setup := func(t *testing.T) (*Local, Version, Version) {
		l := mustOpenLocal(t)
		mustMakeVolume(t, l, "b")
		a := putData(t, l, "b", "k", version("a", 0), []byte("a"))
		bv := putData(t, l, "b", "k", version("b", 1), []byte("b"))
		return l, a, bv
	}
	t.Run("DeleteObject after the metadata went", func(t *testing.T) {
		l, _, _ := setup(t)
		crashOnce(l, "deleteobject:meta-trashed")
		if err := l.DeleteObject(bg, "b", "k"); !errors.Is(err, errCrashed) {
			t.Fatalf("no crash: %v", err)
		}
		l = reopen(t, l)
		if _, err := l.ReadMetadata(bg, "b", "k"); !errors.Is(err, ErrFileNotFound) {
			t.Fatalf("deleted object reads as %v", err)
		}
		if len(dataDirsOf(t, l, "b", "k")) != 2 {
			t.Fatal("expected the orphaned data to be there until the next write")
		}
		n := putInline(t, l, "b", "k", version("", 5), []byte("again"))
		if got := dataDirsOf(t, l, "b", "k"); len(got) != 0 {
			t.Fatalf("orphans %v survive a new write", got)
		}
		expectObject(t, l, "k", n, nil)
	})
	for _, point := range []string{"meta:staged", "deleteversion:committed"} {
		t.Run("DeleteVersion/"+point, func(t *testing.T) {
			l, a, bv := setup(t)
			crashOnce(l, point)
			if err := l.DeleteVersion(bg, "b", "k", "b"); !errors.Is(err, errCrashed) {
				t.Fatalf("no crash: %v", err)
			}
			l = reopen(t, l)
			if point == "meta:staged" {
				expectObject(t, l, "k", bv, []byte("b"))
			} else {
				expectObject(t, l, "k", a, []byte("a"))
			}
		})
	}
	t.Run("DeleteVolume", func(t *testing.T) {
		l, _, _ := setup(t)
		crashOnce(l, "deletevolume:trashed")
		if err := l.DeleteVolume(bg, "b", true); !errors.Is(err, errCrashed) {
			t.Fatalf("no crash: %v", err)
		}
		l = reopen(t, l)
		if _, err := l.StatVolume(bg, "b"); !errors.Is(err, ErrVolumeNotFound) {
			t.Fatalf("bucket after crash: %v", err)
		}
		waitTrashEmpty(t, l)
	})
}

// TestCrashLeavesOnlyWholeFiles scans the disk after crashes at every point
// for metadata files that do not decode: there must be none outside the
// staging area.
func TestCrashLeavesOnlyWholeFiles(t *testing.T) {
	l := mustOpenLocal(t)
	mustMakeVolume(t, l, "b")
	for i, point := range []string{"meta:staged", "renamedata:data-moved", "renamedata:committed", "createfile:written"} {
		putData(t, l, "b", "k", version("", i*2), []byte("x"))
		crashOnce(l, point)
		shard := shardFile(t, []byte("y"))
		v := version("", i*2+1)
		v.DataDir, v.Size = newUUID(), 1
		if err := l.CreateFile(bg, "b", "u/part.1", int64(len(shard)), bytes.NewReader(shard)); err == nil {
			l.RenameData(bg, "u", "b", "k", v)
		}
		l = reopen(t, l)
	}
	filepath.WalkDir(l.bucketDir("b"), func(p string, d os.DirEntry, err error) error {
		must(t, err)
		if d.Name() == metaName {
			if _, err := readMetaFile(p); err != nil {
				t.Errorf("%s: %v", p, err)
			}
		}
		return nil
	})
}
