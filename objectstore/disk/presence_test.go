package disk

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// everyCall calls each Disk method on d once, on objects and staging
// paths that exist on the disk as presenceDisk leaves it, and returns each
// method's error.
func everyCall(d Disk, dataDir string) map[string]error {
	errs := map[string]error{}
	errs["MakeVolume"] = d.MakeVolume(bg, "c")
	_, errs["StatVolume"] = d.StatVolume(bg, "b")
	_, errs["ListVolumes"] = d.ListVolumes(bg)
	_, errs["ReadMetadata"] = d.ReadMetadata(bg, "b", "k")
	_, errs["ReadMetadata (missing key)"] = d.ReadMetadata(bg, "b", "nokey")
	errs["WriteMetadata"] = d.WriteMetadata(bg, "b", "w", &ObjectMeta{Versions: []Version{version("", 1)}})
	errs["DeleteVersion"] = d.DeleteVersion(bg, "b", "k", "v1")
	errs["DeleteObject"] = d.DeleteObject(bg, "b", "k")
	errs["CreateFile"] = d.CreateFile(bg, "b", "up/part.1", 3, bytes.NewReader([]byte("abc")))
	errs["DeleteTmp"] = d.DeleteTmp(bg, "up")
	_, errs["ListStagedUploads"] = d.ListStagedUploads(bg, "", 10)
	v := version("v2", 2)
	v.Inline, v.Size = []byte("x"), 1
	errs["RenameData"] = d.RenameData(bg, "", "b", "k2", v)
	if f, _, err := d.OpenFile(bg, "b", "k", dataDir, 1); err == nil {
		f.Close()
	} else {
		errs["OpenFile"] = err
	}
	errs["VerifyFile"] = d.VerifyFile(bg, "b", "k", dataDir, 1, testScheme, 5)
	errs["Walk"] = d.Walk(bg, "b", "", "", func(string, *ObjectMeta) error { return nil })
	errs["DeleteVolume"] = d.DeleteVolume(bg, "b", true)
	return errs
}

// presenceDisk puts object k (a data version) in bucket b.
func presenceDisk(t *testing.T, d Disk) Version {
	t.Helper()
	mustMakeVolume(t, d, "b")
	return putData(t, d, "b", "k", version("v1", 1), []byte("hello"))
}

// wantUnavailable checks that every call failed with ErrDiskNotFound and
// none with an error meaning "no such bucket, object or version".
func wantUnavailable(t *testing.T, errs map[string]error) {
	t.Helper()
	for m, err := range errs {
		switch {
		case errors.Is(err, ErrFileNotFound), errors.Is(err, ErrVolumeNotFound), errors.Is(err, ErrVersionNotFound):
			t.Errorf("%s answered %v: a disk that is not there must not say what it lacks", m, err)
		case !errors.Is(err, ErrDiskNotFound):
			t.Errorf("%s: %v, want ErrDiskNotFound", m, err)
		}
	}
}

func wantHealthy(t *testing.T, d Disk, healthy bool) {
	t.Helper()
	info, err := d.Info(bg)
	if err != nil || info.Healthy != healthy {
		t.Errorf("Info: %+v, %v; want Healthy %v", info, err, healthy)
	}
}

// wantServes checks that the disk answers with its data again.
func wantServes(t *testing.T, d Disk, v Version) {
	t.Helper()
	m, err := d.ReadMetadata(bg, "b", "k")
	if err != nil {
		t.Fatalf("disk back in place: %v", err)
	}
	if len(m.Versions) != 1 || m.Versions[0].VersionID != v.VersionID {
		t.Fatalf("disk back in place: versions %+v", m.Versions)
	}
	if got := readShardData(t, d, "b", "k", v); string(got) != "hello" {
		t.Fatalf("disk back in place: read %q", got)
	}
	if _, err := d.ReadMetadata(bg, "b", "nokey"); !errors.Is(err, ErrFileNotFound) {
		t.Fatalf("disk back in place: missing key: %v", err)
	}
	wantHealthy(t, d, true)
}

func TestDiskFolderRenamedAway(t *testing.T) {
	forEachDisk(t, func(t *testing.T, d Disk, l *Local) {
		v := presenceDisk(t, d)
		root := l.Path()
		must(t, os.Rename(root, root+".away"))
		wantUnavailable(t, everyCall(d, v.DataDir))
		if _, err := os.Stat(root); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("the disk's folder was recreated: %v", err)
		}
		wantHealthy(t, d, false)
		must(t, os.Rename(root+".away", root))
		wantServes(t, d, v)
	})
}

func TestDiskFolderReplacedByEmptyOne(t *testing.T) {
	forEachDisk(t, func(t *testing.T, d Disk, l *Local) {
		v := presenceDisk(t, d)
		root := l.Path()
		must(t, os.Rename(root, root+".away"))
		must(t, os.Mkdir(root, 0o755))
		wantUnavailable(t, everyCall(d, v.DataDir))
		if names := dirEntries(t, root); len(names) > 0 {
			t.Errorf("the disk created %q in a folder that is not it", names)
		}
		wantHealthy(t, d, false)
		must(t, os.Remove(root))
		must(t, os.Rename(root+".away", root))
		wantServes(t, d, v)
	})
}

func TestDiskFolderReplacedByAnotherDisk(t *testing.T) {
	forEachDisk(t, func(t *testing.T, d Disk, l *Local) {
		v := presenceDisk(t, d)
		other := mustOpenLocal(t)
		mustMakeVolume(t, other, "b")
		root := l.Path()
		must(t, os.Rename(root, root+".away"))
		must(t, os.Rename(other.Path(), root))
		wantUnavailable(t, everyCall(d, v.DataDir))
		wantHealthy(t, d, false)
		if names := dirEntries(t, filepath.Join(root, "b")); len(names) > 0 {
			t.Errorf("the disk wrote %q into another disk", names)
		}
		must(t, os.Rename(root, other.Path()))
		must(t, os.Rename(root+".away", root))
		wantServes(t, d, v)
	})
}

// TestDiskStampRemoved: the folder is the disk's but format.json is gone.
// What is there is still served; "not found" is not answered.
func TestDiskStampRemoved(t *testing.T) {
	forEachDisk(t, func(t *testing.T, d Disk, l *Local) {
		v := presenceDisk(t, d)
		stamp := filepath.Join(l.Path(), sysDir, formatName)
		saved, err := os.ReadFile(stamp)
		must(t, err)
		must(t, os.Remove(stamp))
		if _, err := d.ReadMetadata(bg, "b", "nokey"); !errors.Is(err, ErrDiskNotFound) {
			t.Errorf("missing key on a disk without its stamp: %v, want ErrDiskNotFound", err)
		}
		if err := d.MakeVolume(bg, "c"); !errors.Is(err, ErrDiskNotFound) {
			t.Errorf("MakeVolume on a disk without its stamp: %v, want ErrDiskNotFound", err)
		}
		wantHealthy(t, d, false)
		must(t, os.WriteFile(stamp, saved, 0o644))
		wantServes(t, d, v)
	})
}

// TestWalkWhileDiskFolderGoes: a walk skips directories that vanish, so a
// walk whose disk's folder goes away part way must fail rather than end
// as if it had seen every key. (Local only: a remote walk may be over on
// the far side before the client's callback sees the first key.)
func TestWalkWhileDiskFolderGoes(t *testing.T) {
	l := mustOpenLocal(t)
	mustMakeVolume(t, l, "b")
	for _, k := range []string{"a", "b/c", "d", "e/f/g"} {
		putInline(t, l, "b", k, version("", 1), []byte(k))
	}
	root := l.Path()
	n := 0
	err := l.Walk(bg, "b", "", "", func(string, *ObjectMeta) error {
		if n++; n == 1 {
			must(t, os.Rename(root, root+".away"))
		}
		return nil
	})
	if !errors.Is(err, ErrDiskNotFound) {
		t.Errorf("walk cut short by the folder going away: %v after %d keys, want ErrDiskNotFound", err, n)
	}
	must(t, os.Rename(root+".away", root))
	if keys := listAll(t, l, "b", "", ""); len(keys) != 4 {
		t.Errorf("walk with the folder back: %q", keys)
	}
}
