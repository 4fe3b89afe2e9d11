package disk

import (
	"bytes"
	"errors"
	"path/filepath"
	"slices"
	"testing"
)

// stageKept writes data's shard as the kept file up/part.N.
func stageKept(t *testing.T, d Disk, up string, n int, data []byte) {
	t.Helper()
	shard := shardFile(t, data)
	must(t, d.CreateFile(bg, "b", UploadsPrefix+up+"/part."+string(rune('0'+n)), int64(len(shard)), bytes.NewReader(shard)))
}

// commitKept commits the kept directory up as object's data and checks
// that part 1 reads back as data.
func commitKept(t *testing.T, d Disk, up, object string, data []byte) {
	t.Helper()
	v := version("", 1)
	v.DataDir = newUUID()
	v.Size = int64(len(data))
	v.Parts = []Part{{Number: 1, Size: v.Size, ETag: v.ETag}}
	must(t, d.RenameData(bg, UploadsPrefix+up, "b", object, v))
	if got := readShardData(t, d, "b", object, v); !bytes.Equal(got, data) {
		t.Fatalf("committed kept part reads %q, want %q", got, data)
	}
}

func stagedUploads(t *testing.T, d Disk) []string {
	t.Helper()
	names, err := d.ListStagedUploads(bg, "", 0)
	must(t, err)
	return names
}

// A multipart upload's parts outlive a restart; a PUT's staging does not.
func TestKeptStagingSurvivesReopen(t *testing.T) {
	dir := t.TempDir()
	l := mustOpenLocalAt(t, dir)
	mustMakeVolume(t, l, "b")
	part := []byte("a part of an upload in progress")
	stageKept(t, l, "up1", 1, part)
	must(t, l.CreateFile(bg, "b", "put1/part.1", 3, bytes.NewReader([]byte("abc"))))

	l = reopen(t, l)
	expectStagingEmpty(t, l)
	if got := stagedUploads(t, l); !slices.Equal(got, []string{"up1"}) {
		t.Fatalf("kept staging after reopen: %q", got)
	}
	if err := l.RenameData(bg, "put1", "b", "put", withDataDir(version("", 1))); !errors.Is(err, ErrFileNotFound) {
		t.Fatalf("a PUT's staging survived the restart: %v", err)
	}
	commitKept(t, l, "up1", "obj", part)
	if got := stagedUploads(t, l); len(got) != 0 {
		t.Fatalf("kept staging after commit: %q", got)
	}
}

func withDataDir(v Version) Version {
	v.DataDir = newUUID()
	v.Size = 3
	v.Parts = []Part{{Number: 1, Size: 3, ETag: v.ETag}}
	return v
}

// A crash while a kept file is written leaves the file it was replacing,
// or nothing, never a partial file under the part's name.
func TestKeptStagingCrash(t *testing.T) {
	for _, point := range []string{"createfile:written", "createfile:synced"} {
		t.Run(point, func(t *testing.T) {
			l := mustOpenLocal(t)
			mustMakeVolume(t, l, "b")
			old := []byte("the part as first uploaded")
			stageKept(t, l, "up1", 1, old)
			crashOnce(l, point)
			shard := shardFile(t, []byte("a re-upload that dies"))
			if err := l.CreateFile(bg, "b", UploadsPrefix+"up1/part.1", int64(len(shard)), bytes.NewReader(shard)); !errors.Is(err, errCrashed) {
				t.Fatalf("CreateFile: %v", err)
			}
			crashOnce(l, point)
			if err := l.CreateFile(bg, "b", UploadsPrefix+"up2/part.1", int64(len(shard)), bytes.NewReader(shard)); !errors.Is(err, errCrashed) {
				t.Fatalf("CreateFile: %v", err)
			}
			l = reopen(t, l)
			expectStagingEmpty(t, l)
			if got := stagedUploads(t, l); !slices.Equal(got, []string{"up1"}) {
				t.Fatalf("kept staging after crash: %q", got)
			}
			if ents := dirEntries(t, filepath.Join(l.uploads, "up1")); !slices.Equal(ents, []string{"part.1"}) {
				t.Fatalf("up1 holds %q", ents)
			}
			commitKept(t, l, "up1", "obj", old)
		})
	}
}

// The kept area behaves the same through node RPC: staging, paging,
// deleting, committing, and refusing paths of the wrong shape.
func TestKeptStaging(t *testing.T) {
	forEachDisk(t, func(t *testing.T, d Disk, l *Local) {
		mustMakeVolume(t, d, "b")
		ups := []string{"u1", "u2", "u3", "u4", "u5"}
		for _, up := range ups {
			stageKept(t, d, up, 1, []byte(up))
			stageKept(t, d, up, 2, []byte(up+" again"))
		}
		var got []string
		for after := ""; ; {
			page, err := d.ListStagedUploads(bg, after, 2)
			must(t, err)
			if len(page) > 2 {
				t.Fatalf("page of %d", len(page))
			}
			if len(page) == 0 {
				break
			}
			got = append(got, page...)
			after = page[len(page)-1]
		}
		if !slices.Equal(got, ups) {
			t.Fatalf("paged listing %q", got)
		}
		must(t, d.DeleteTmp(bg, UploadsPrefix+"u2"))
		must(t, d.DeleteTmp(bg, UploadsPrefix+"u2")) // missing is fine
		must(t, d.DeleteTmp(bg, UploadsPrefix+"u3/part.2"))
		if ents := dirEntries(t, filepath.Join(l.uploads, "u3")); !slices.Equal(ents, []string{"part.1"}) {
			t.Fatalf("u3 holds %q", ents)
		}
		commitKept(t, d, "u1", "obj", []byte("u1"))
		if got := stagedUploads(t, d); !slices.Equal(got, []string{"u3", "u4", "u5"}) {
			t.Fatalf("after delete and commit: %q", got)
		}
		for _, bad := range []string{UploadsPrefix + "u4", UploadsPrefix + "u4/x/part.1", UploadsPrefix + ".x/part.1"} {
			if err := d.CreateFile(bg, "b", bad, 1, bytes.NewReader([]byte("x"))); !errors.Is(err, ErrInvalidArgument) {
				t.Errorf("CreateFile(%q): %v", bad, err)
			}
		}
		if err := d.RenameData(bg, UploadsPrefix+"u4/part.1", "b", "obj2", withDataDir(version("", 2))); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("RenameData of a kept file: %v", err)
		}
	})
}
