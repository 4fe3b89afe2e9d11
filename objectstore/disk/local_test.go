package disk

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestOpenStampsAndRecognizesADisk(t *testing.T) {
	dir := t.TempDir()
	must(t, os.Mkdir(filepath.Join(dir, "lost+found"), 0o700))
	l, err := OpenLocal(dir)
	must(t, err)
	id := l.ID()
	if _, err := OpenLocal(dir); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("second open of a disk in use: %v", err)
	}
	must(t, l.Close())
	l2 := mustOpenLocalAt(t, dir)
	if l2.ID() != id {
		t.Fatalf("reopened disk has ID %s, was %s", l2.ID(), id)
	}
	vols, err := l2.ListVolumes(bg)
	must(t, err)
	if len(vols) != 0 {
		t.Fatalf("lost+found listed as a bucket: %v", vols)
	}
}

func TestOpenRefusesForeignAndCorruptDisks(t *testing.T) {
	foreign := t.TempDir()
	must(t, os.WriteFile(filepath.Join(foreign, "important.txt"), []byte("x"), 0o644))
	if _, err := OpenLocal(foreign); !errors.Is(err, ErrForeignDisk) {
		t.Fatalf("foreign directory: %v", err)
	}
	if _, err := os.Stat(filepath.Join(foreign, sysDir)); !os.IsNotExist(err) {
		t.Fatal("a foreign directory was written to")
	}
	if _, err := OpenLocal(filepath.Join(foreign, "missing")); !errors.Is(err, ErrDiskNotFound) {
		t.Fatalf("missing path: %v", err)
	}

	dir := t.TempDir()
	l, err := OpenLocal(dir)
	must(t, err)
	must(t, l.Close())
	stamp := filepath.Join(dir, sysDir, formatName)
	good, err := os.ReadFile(stamp)
	must(t, err)
	for name, c := range map[string]struct {
		data string
		want error
	}{
		"garbage": {"not json", ErrFileCorrupt},
		"empty":   {"", ErrFileCorrupt},
		"bad id":  {`{"format":1,"id":"x"}`, ErrFileCorrupt},
		"newer":   {`{"format":2,"id":"` + l.ID() + `"}`, ErrFormatUnsupported},
	} {
		must(t, os.WriteFile(stamp, []byte(c.data), 0o644))
		_, err := OpenLocal(dir)
		if !errors.Is(err, c.want) {
			t.Errorf("%s stamp: %v", name, err)
		}
		if err != nil && c.want == ErrFileCorrupt && !strings.Contains(err.Error(), "wipe") {
			t.Errorf("%s stamp: error does not say what to do: %v", name, err)
		}
	}
	must(t, os.WriteFile(stamp, good, 0o644))
	mustOpenLocalAt(t, dir)
}

func TestOpenClearsStagingAndTrash(t *testing.T) {
	dir := t.TempDir()
	l, err := OpenLocal(dir)
	must(t, err)
	mustMakeVolume(t, l, "b")
	must(t, l.CreateFile(bg, "b", "up/part.1", 3, strings.NewReader("abc")))
	must(t, os.MkdirAll(filepath.Join(l.trash, "old", "deep"), 0o755))
	must(t, l.Close())

	l = mustOpenLocalAt(t, dir)
	if ents := dirEntries(t, l.tmp); len(ents) != 0 {
		t.Fatalf("staging keeps %v", ents)
	}
	waitTrashEmpty(t, l)
}

func TestInfoNoticesALostDisk(t *testing.T) {
	l := mustOpenLocal(t)
	must(t, os.Rename(filepath.Join(l.sys, formatName), filepath.Join(l.sys, "moved")))
	info, err := l.Info(bg)
	must(t, err)
	if info.Healthy || !strings.Contains(info.Problem, formatName) {
		t.Fatalf("info without a stamp: %+v", info)
	}
	// Unmounted: the path is an empty directory of the root filesystem.
	// Nothing may be created there.
	if err := l.MakeVolume(bg, "b"); !errors.Is(err, ErrDiskNotFound) {
		t.Fatalf("MakeVolume without a stamp: %v", err)
	}
	must(t, os.RemoveAll(l.tmp))
	must(t, os.MkdirAll(l.bucketDir("b2"), 0o755))
	if err := l.CreateFile(bg, "b2", "up/part.1", 1, strings.NewReader("x")); !errors.Is(err, ErrDiskNotFound) {
		t.Fatalf("CreateFile without a staging area: %v", err)
	}
	if _, err := os.Stat(l.tmp); !os.IsNotExist(err) {
		t.Fatal("the staging area was recreated")
	}
	must(t, os.WriteFile(filepath.Join(l.sys, formatName), []byte(`{"format":1,"id":"`+newUUID()+`"}`), 0o644))
	info, err = l.Info(bg)
	must(t, err)
	if info.Healthy || !strings.Contains(info.Problem, "replaced") {
		t.Fatalf("info with another disk's stamp: %+v", info)
	}
}

// TestOrphansAreSwept: data that no metadata references (left by a crash
// or by hand) goes at the next write of the key.
func TestOrphansAreSwept(t *testing.T) {
	l := mustOpenLocal(t)
	mustMakeVolume(t, l, "b")
	v := putData(t, l, "b", "k", version("", 0), []byte("x"))
	orphan := filepath.Join(nodeDir(l, "b", "k"), dataDirPrefix+newUUID())
	must(t, os.MkdirAll(orphan, 0o755))
	putInline(t, l, "b", "k", version("v2", 1), []byte("y"))
	if _, err := os.Stat(orphan); !os.IsNotExist(err) {
		t.Fatalf("orphan kept: %v", err)
	}
	if got := readShardData(t, l, "b", "k", v); string(got) != "x" {
		t.Fatal("a referenced data dir was swept")
	}
}

// Large staged files go through O_DIRECT with an unaligned tail through the
// page cache; every size around the boundaries must come back byte for byte,
// and a stream that is short or long for its declared size must fail.
func TestCreateFileDirectAndBuffered(t *testing.T) {
	l := mustOpenLocalAt(t, t.TempDir())
	mustMakeVolume(t, l, "b")
	for i, size := range []int{directMin - 1, directMin, directMin + 3*directAlign, directMin + 12345, 3*copyBufSize + 1, 9 << 20} {
		data := randBytes(uint64(i), size)
		name := fmt.Sprintf("up%d/part.1", i)
		must(t, l.CreateFile(bg, "b", name, int64(size), bytes.NewReader(data)))
		got, err := os.ReadFile(filepath.Join(l.tmp, name))
		must(t, err)
		if !bytes.Equal(got, data) {
			t.Fatalf("size %d: staged file differs (%d bytes back)", size, len(got))
		}
	}
	data := randBytes(9, directMin+100)
	if err := l.CreateFile(bg, "b", "short/part.1", int64(len(data))+1, bytes.NewReader(data)); !errors.Is(err, ErrSizeMismatch) {
		t.Fatalf("short stream: %v", err)
	}
	if err := l.CreateFile(bg, "b", "long/part.1", int64(len(data))-1, bytes.NewReader(data)); !errors.Is(err, ErrSizeMismatch) {
		t.Fatalf("long stream: %v", err)
	}
	for _, name := range []string{"short/part.1", "long/part.1"} {
		if _, err := os.Stat(filepath.Join(l.tmp, name)); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("%s left behind: %v", name, err)
		}
	}
}
