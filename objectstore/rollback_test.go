package objectstore

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/banyancloud/banyan/objectstore/disk"
)

// A write or delete that fails its quorum must leave an acknowledged
// object as it was. An overwrite of the null version replaces the old
// version on each disk it reaches; if it then misses its quorum, rolling it
// back must bring the replaced version back on those disks, not merely
// remove the new one: otherwise the old version is left on fewer disks
// than its read quorum, and the failed write has deleted the object.

// failOn makes method fail on the first n disks of c.
func failOn(c *testCluster, method string, n int) []*disk.Faulty {
	var fs []*disk.Faulty
	for _, id := range c.ids[:n] {
		f := c.faulty(id)
		f.Set(method, disk.ErrFaultyDisk, 0)
		fs = append(fs, f)
	}
	return fs
}

// expectIntact checks that key still reads as want (the version oi) and
// that every disk holds that version again.
func expectIntact(t *testing.T, c *testCluster, s *Store, key string, want []byte, oi ObjectInfo) {
	t.Helper()
	got, goi := mustGet(t, s, key, GetOptions{})
	if !bytes.Equal(got, want) || goi.VersionID != oi.VersionID || !goi.ModTime.Equal(oi.ModTime) {
		t.Fatalf("%s reads %q version %s, want %q version %s", key, got, goi.VersionID, want, oi.VersionID)
	}
	for _, id := range c.ids {
		if !onDisk(t, c, id, key, oi) {
			t.Errorf("disk %s lost %s version %s", id, key, oi.VersionID)
		}
	}
}

func TestFailedOverwriteKeepsObject(t *testing.T) {
	for _, tc := range []struct {
		name       string
		size       int
		versioning string
	}{
		{"inline", 100, ""},
		{"data", 300 << 10, ""},
		{"suspended-inline", 100, VersioningSuspended},
		{"suspended-data", 300 << 10, VersioningSuspended},
		{"versioned", 300 << 10, VersioningEnabled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newCluster(t, 3, 2) // 4+2 over all six disks: quorum 4
			s := newTestStore(t, c, Options{BlockSize: 64 << 10})
			one := randBytes(tc.size, 1)
			oi := mustPut(t, s, "k", one, PutOptions{Versioning: tc.versioning})

			fs := failOn(c, "RenameData", 3)
			two := randBytes(tc.size, 2)
			_, err := s.PutObject(ctxT(t), "b", "k", bytes.NewReader(two), PutOptions{Size: int64(len(two)), Versioning: tc.versioning})
			if !errors.Is(err, ErrWriteQuorum) {
				t.Fatalf("overwrite on 3 of 6 disks: %v", err)
			}
			for _, f := range fs {
				f.Heal()
			}
			expectIntact(t, c, s, "k", one, oi)

			// The disks are whole again: an overwrite now succeeds and
			// replaces the object for good.
			mustPut(t, s, "k", two, PutOptions{Versioning: tc.versioning})
			if got, _ := mustGet(t, s, "k", GetOptions{}); !bytes.Equal(got, two) {
				t.Fatal("overwrite after the failed one")
			}
		})
	}
}

// Delete markers: on a versioned bucket a marker is a new version and
// replaces nothing; on a suspended one it replaces the null version.
func TestFailedDeleteMarkerKeepsObject(t *testing.T) {
	for _, versioning := range []string{VersioningEnabled, VersioningSuspended} {
		t.Run(versioning, func(t *testing.T) {
			c := newCluster(t, 3, 2)
			s := newTestStore(t, c, Options{BlockSize: 64 << 10})
			one := randBytes(300<<10, 3)
			oi := mustPut(t, s, "k", one, PutOptions{Versioning: versioning})
			fs := failOn(c, "RenameData", 3)
			if _, err := s.DeleteObject(ctxT(t), "b", "k", DeleteOptions{Versioning: versioning}); !errors.Is(err, ErrWriteQuorum) {
				t.Fatalf("marker on 3 of 6 disks: %v", err)
			}
			for _, f := range fs {
				f.Heal()
			}
			expectIntact(t, c, s, "k", one, oi)
		})
	}
}

// An unversioned DELETE removes the null version from each disk it reaches;
// one that misses its quorum must put it back there.
func TestFailedDeleteKeepsObject(t *testing.T) {
	for _, tc := range []struct {
		name       string
		size       int
		versionID  string
		versioning string
	}{
		{"inline", 100, "", ""},
		{"data", 300 << 10, "", ""},
		{"by-version-id", 300 << 10, "id", VersioningEnabled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newCluster(t, 3, 2)
			s := newTestStore(t, c, Options{BlockSize: 64 << 10})
			one := randBytes(tc.size, 4)
			oi := mustPut(t, s, "k", one, PutOptions{Versioning: tc.versioning})
			var id string
			if tc.versionID != "" {
				id = oi.VersionID
			}
			fs := failOn(c, "DeleteVersion", 3)
			if _, err := s.DeleteObject(ctxT(t), "b", "k", DeleteOptions{VersionID: id}); !errors.Is(err, ErrWriteQuorum) {
				t.Fatalf("delete on 3 of 6 disks: %v", err)
			}
			for _, f := range fs {
				f.Heal()
			}
			expectIntact(t, c, s, "k", one, oi)

			if _, err := s.DeleteObject(ctxT(t), "b", "k", DeleteOptions{VersionID: id}); err != nil {
				t.Fatal(err)
			}
			if _, _, err := s.GetObject(ctxT(t), "b", "k", GetOptions{}); !errors.Is(err, ErrObjectNotFound) {
				t.Fatalf("after the delete: %v", err)
			}
		})
	}
}

// Completing a multipart upload over an object is an overwrite like a PUT.
func TestFailedCompleteKeepsObject(t *testing.T) {
	c := newCluster(t, 3, 2)
	s := newTestStore(t, c, Options{BlockSize: 64 << 10})
	ctx := ctxT(t)
	one := randBytes(300<<10, 5)
	oi := mustPut(t, s, "k", one, PutOptions{})
	up, err := s.NewMultipartUpload(ctx, "b", "k", PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	part := randBytes(200<<10, 6)
	pi, err := s.PutObjectPart(ctx, "b", "k", up, 1, bytes.NewReader(part), PartOptions{Size: int64(len(part))})
	if err != nil {
		t.Fatal(err)
	}
	fs := failOn(c, "RenameData", 3)
	if _, err := s.CompleteMultipartUpload(ctx, "b", "k", up, []CompletePart{{Number: 1, ETag: pi.ETag}}, PutOptions{}); !errors.Is(err, ErrWriteQuorum) {
		t.Fatalf("complete on 3 of 6 disks: %v", err)
	}
	for _, f := range fs {
		f.Heal()
	}
	expectIntact(t, c, s, "k", one, oi)
}

// CopyObject is a PutObject in the engine; a copy onto an existing key
// that fails is the overwrite above. What a rolled-back overwrite kept
// aside does not outlive its time.
func TestRolledBackOverwriteLeavesNothing(t *testing.T) {
	c := newCluster(t, 3, 2)
	s := newTestStore(t, c, Options{BlockSize: 64 << 10})
	one := randBytes(300<<10, 7)
	oi := mustPut(t, s, "k", one, PutOptions{})
	fs := failOn(c, "RenameData", 3)
	two := randBytes(300<<10, 8)
	if _, err := s.PutObject(ctxT(t), "b", "k", bytes.NewReader(two), PutOptions{Size: int64(len(two))}); !errors.Is(err, ErrWriteQuorum) {
		t.Fatal(err)
	}
	for _, f := range fs {
		f.Heal()
	}
	expectIntact(t, c, s, "k", one, oi)
	for _, id := range c.ids {
		m, err := c.locals[id].ReadMetadata(ctxT(t), "b", "k")
		if err != nil || len(m.Versions) != 1 {
			t.Fatalf("disk %s: %+v %v", id, m, err)
		}
		dir := filepath.Join(c.locals[id].Path(), "b", "k") // a plain key is its own path
		ents, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, e := range ents {
			if e.IsDir() {
				n++
			}
		}
		if n != 1 {
			t.Errorf("disk %s keeps %d data dirs for one version", id, n)
		}
	}
}
