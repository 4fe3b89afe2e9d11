package disk

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/banyancloud/banyan/objectstore/erasure"
)

// The tests in this file run against Local and against Remote+NewHandler.

func TestIDAndInfo(t *testing.T) {
	forEachDisk(t, func(t *testing.T, d Disk, l *Local) {
		if !isUUID(d.ID()) || d.ID() != l.ID() {
			t.Fatalf("ID %q, local %q", d.ID(), l.ID())
		}
		info, err := d.Info(bg)
		must(t, err)
		if info.ID != l.ID() || info.Path != l.Path() || !info.Healthy || info.Total == 0 || info.Free > info.Total || info.Endpoint == "" {
			t.Fatalf("info %+v", info)
		}
	})
}

func TestVolumes(t *testing.T) {
	forEachDisk(t, func(t *testing.T, d Disk, l *Local) {
		vols, err := d.ListVolumes(bg)
		must(t, err)
		if len(vols) != 0 {
			t.Fatalf("new disk lists %v", vols)
		}
		for _, b := range []string{"zeta", "alpha", "mid.dle-x_y"} {
			mustMakeVolume(t, d, b)
		}
		if err := d.MakeVolume(bg, "alpha"); !errors.Is(err, ErrVolumeExists) {
			t.Fatalf("second MakeVolume: %v", err)
		}
		for _, bad := range []string{"", ".banyan.sys", "..", "a/b", "lost+found", strings.Repeat("b", 256)} {
			if err := d.MakeVolume(bg, bad); !errors.Is(err, ErrInvalidArgument) {
				t.Errorf("MakeVolume(%q): %v", bad, err)
			}
		}
		vols, err = d.ListVolumes(bg)
		must(t, err)
		if want := []VolumeInfo{{"alpha"}, {"mid.dle-x_y"}, {"zeta"}}; !reflect.DeepEqual(vols, want) {
			t.Fatalf("ListVolumes %v, want %v", vols, want)
		}
		if v, err := d.StatVolume(bg, "alpha"); err != nil || v.Name != "alpha" {
			t.Fatalf("StatVolume: %v %v", v, err)
		}
		if _, err := d.StatVolume(bg, "nope"); !errors.Is(err, ErrVolumeNotFound) {
			t.Fatalf("StatVolume(nope): %v", err)
		}

		putInline(t, d, "alpha", "x/y", version("", 0), []byte("hi"))
		if err := d.DeleteVolume(bg, "alpha", false); !errors.Is(err, ErrVolumeNotEmpty) {
			t.Fatalf("DeleteVolume of a full bucket: %v", err)
		}
		must(t, d.DeleteVolume(bg, "alpha", true))
		must(t, d.DeleteVolume(bg, "zeta", false))
		if err := d.DeleteVolume(bg, "zeta", false); !errors.Is(err, ErrVolumeNotFound) {
			t.Fatalf("DeleteVolume twice: %v", err)
		}
		if err := d.DeleteVolume(bg, "zeta", true); !errors.Is(err, ErrVolumeNotFound) {
			t.Fatalf("forced DeleteVolume of nothing: %v", err)
		}
		// A bucket holding only leftovers of a crash (empty nodes, an
		// unreferenced data dir) has no objects: it is empty.
		must(t, os.MkdirAll(filepath.Join(l.bucketDir("mid.dle-x_y"), "a", "b", dataDirPrefix+newUUID()), 0o755))
		must(t, d.DeleteVolume(bg, "mid.dle-x_y", false))
		vols, err = d.ListVolumes(bg)
		must(t, err)
		if len(vols) != 0 {
			t.Fatalf("left %v", vols)
		}
	})
}

func TestMetadataRoundTrip(t *testing.T) {
	forEachDisk(t, func(t *testing.T, d Disk, l *Local) {
		mustMakeVolume(t, d, "b")
		if _, err := d.ReadMetadata(bg, "b", "k"); !errors.Is(err, ErrFileNotFound) {
			t.Fatalf("missing object: %v", err)
		}
		if _, err := d.ReadMetadata(bg, "nob", "k"); !errors.Is(err, ErrVolumeNotFound) || errors.Is(err, ErrFileNotFound) {
			t.Fatalf("missing bucket: %v", err)
		}
		v1, v2 := version("v1", 1), version("v2", 2)
		v2.Inline = []byte("inline bytes")
		v2.Checksums = map[string]string{"CRC32C": "AAAAAA=="}
		v2.Sys = map[string]string{"content-encoding": "gzip"}
		dm := version("v3", 3)
		dm.IsDeleteMarker, dm.UserMeta, dm.Erasure = true, nil, ErasureInfo{}
		v1.DataDir = newUUID()
		meta := &ObjectMeta{}
		for _, v := range []Version{v1, dm, v2} {
			meta.AddVersion(v)
		}
		must(t, d.WriteMetadata(bg, "b", "k", meta))
		got, err := d.ReadMetadata(bg, "b", "k")
		must(t, err)
		equalMeta(t, got, meta)
		if got.Versions[0].VersionID != "v3" || !got.Versions[0].IsDeleteMarker {
			t.Fatalf("latest is %+v", got.Versions[0])
		}

		// Invalid metadata never reaches the disk.
		bad := meta.Clone()
		bad.Versions[1].DataDir = "../../etc"
		for _, m := range []*ObjectMeta{nil, {}, bad} {
			if err := d.WriteMetadata(bg, "b", "k", m); !errors.Is(err, ErrInvalidArgument) {
				t.Errorf("WriteMetadata(%+v): %v", m, err)
			}
		}
		if err := d.WriteMetadata(bg, "nob", "k", meta); !errors.Is(err, ErrVolumeNotFound) {
			t.Fatalf("WriteMetadata to a missing bucket: %v", err)
		}
		if _, err := os.Stat(l.bucketDir("nob")); !os.IsNotExist(err) {
			t.Fatalf("a write recreated a missing bucket: %v", err)
		}
	})
}

func TestCorruptMetadata(t *testing.T) {
	forEachDisk(t, func(t *testing.T, d Disk, l *Local) {
		mustMakeVolume(t, d, "b")
		putInline(t, d, "b", "k", version("", 0), []byte("data"))
		path := filepath.Join(nodeDir(l, "b", "k"), metaName)
		good, err := os.ReadFile(path)
		must(t, err)
		flipped := bytes.Clone(good)
		flipped[len(flipped)/2] ^= 0x40
		newer := bytes.Clone(good)
		newer[4] = 9
		// Walk reads only the header: it sees damage there, and leaves
		// damage to the inline data for ReadMetadata to find.
		for name, c := range map[string]struct {
			data    []byte
			want    error
			walkNil bool
		}{
			"flipped":   {flipped, ErrFileCorrupt, true},
			"truncated": {good[:len(good)-3], ErrFileCorrupt, false},
			"empty":     {nil, ErrFileCorrupt, true},
			"garbage":   {[]byte("{\"json\": true}"), ErrFileCorrupt, true},
			"newer":     {newer, ErrFormatUnsupported, true},
		} {
			must(t, os.WriteFile(path, c.data, 0o644))
			if _, err := d.ReadMetadata(bg, "b", "k"); !errors.Is(err, c.want) {
				t.Errorf("%s: ReadMetadata: %v, want %v", name, err, c.want)
			}
			var metas []*ObjectMeta
			must(t, d.Walk(bg, "b", "", "", func(_ string, m *ObjectMeta) error { metas = append(metas, m); return nil }))
			if len(metas) != 1 || (metas[0] == nil) != c.walkNil {
				t.Errorf("%s: Walk reported %v, want one meta, nil: %v", name, metas, c.walkNil)
			}
		}
		// A new version still lands over a corrupt file (heal restores
		// the others); a newer format is never overwritten.
		must(t, os.WriteFile(path, flipped, 0o644))
		putInline(t, d, "b", "k", version("", 1), []byte("new"))
		m, err := d.ReadMetadata(bg, "b", "k")
		must(t, err)
		if len(m.Versions) != 1 || string(m.Versions[0].Inline) != "new" {
			t.Fatalf("after rewrite: %+v", m)
		}
		must(t, os.WriteFile(path, newer, 0o644))
		if err := d.RenameData(bg, "", "b", "k", version("", 2)); !errors.Is(err, ErrFormatUnsupported) {
			t.Fatalf("RenameData over a newer format: %v", err)
		}
	})
}

func TestDataRoundTrip(t *testing.T) {
	forEachDisk(t, func(t *testing.T, d Disk, l *Local) {
		mustMakeVolume(t, d, "b")
		data := randBytes(1, 100_000)
		v := putData(t, d, "b", "dir/obj", version("", 0), data)
		if got := readShardData(t, d, "b", "dir/obj", v); !bytes.Equal(got, data) {
			t.Fatal("read back different bytes")
		}
		m, err := d.ReadMetadata(bg, "b", "dir/obj")
		must(t, err)
		if len(m.Versions) != 1 || m.Versions[0].DataDir != v.DataDir {
			t.Fatalf("metadata %+v", m)
		}
		// Ranged reads at odd offsets, concurrently, as erasure.Decode
		// does with a range.
		f, size, err := d.OpenFile(bg, "b", "dir/obj", v.DataDir, 1)
		must(t, err)
		defer f.Close()
		shard := shardFile(t, data)
		done := make(chan error, 4)
		for g := range 4 {
			go func() {
				for i := range 20 {
					off := int64((g*7919 + i*104729) % len(shard))
					buf := make([]byte, 1+(i*331)%9000)
					n, err := f.ReadAt(buf, off)
					if err != nil && !(err == io.EOF && off+int64(n) == size) {
						done <- err
						return
					}
					if !bytes.Equal(buf[:n], shard[off:off+int64(n)]) {
						done <- errors.New("ranged read returned wrong bytes")
						return
					}
				}
				done <- nil
			}()
		}
		for range 4 {
			must(t, <-done)
		}
		if n, err := f.ReadAt(make([]byte, 10), size); n != 0 || err != io.EOF {
			t.Fatalf("read at the end: %d %v", n, err)
		}
		var out bytes.Buffer
		_, err = erasure.Decode(bg, &out, []erasure.ShardReader{f}, testScheme, v.Size, 12345, 54321)
		must(t, err)
		if !bytes.Equal(out.Bytes(), data[12345:12345+54321]) {
			t.Fatal("range decode differs")
		}
		must(t, d.VerifyFile(bg, "b", "dir/obj", v.DataDir, 1, testScheme, v.Size))

		if _, _, err := d.OpenFile(bg, "b", "dir/obj", newUUID(), 1); !errors.Is(err, ErrFileNotFound) {
			t.Fatalf("unknown data dir: %v", err)
		}
		if _, _, err := d.OpenFile(bg, "b", "dir/obj", "../x", 1); !errors.Is(err, ErrInvalidArgument) {
			t.Fatalf("data dir not a uuid: %v", err)
		}
		if _, _, err := d.OpenFile(bg, "nob", "dir/obj", v.DataDir, 1); !errors.Is(err, ErrVolumeNotFound) {
			t.Fatalf("missing bucket: %v", err)
		}
	})
}

func TestVerifyFileFindsDamage(t *testing.T) {
	forEachDisk(t, func(t *testing.T, d Disk, l *Local) {
		mustMakeVolume(t, d, "b")
		v := putData(t, d, "b", "o", version("", 0), randBytes(2, 20_000))
		path := filepath.Join(nodeDir(l, "b", "o"), dataDirPrefix+v.DataDir, "part.1")
		b, err := os.ReadFile(path)
		must(t, err)
		b[5000] ^= 1
		must(t, os.WriteFile(path, b, 0o644))
		err = d.VerifyFile(bg, "b", "o", v.DataDir, 1, testScheme, v.Size)
		if !errors.Is(err, ErrFileCorrupt) || !errors.Is(err, erasure.ErrBitrot) {
			t.Fatalf("bitrot: %v", err)
		}
		must(t, os.WriteFile(path, b[:len(b)-1], 0o644))
		err = d.VerifyFile(bg, "b", "o", v.DataDir, 1, testScheme, v.Size)
		if !errors.Is(err, ErrFileCorrupt) || !errors.Is(err, erasure.ErrShardSize) {
			t.Fatalf("truncated: %v", err)
		}
		if err := d.VerifyFile(bg, "b", "o", v.DataDir, 1, erasure.Scheme{}, v.Size); !errors.Is(err, ErrInvalidArgument) {
			t.Fatalf("bad scheme: %v", err)
		}
	})
}

func TestCreateFile(t *testing.T) {
	forEachDisk(t, func(t *testing.T, d Disk, l *Local) {
		mustMakeVolume(t, d, "b")
		staged := func(p string) bool {
			_, err := os.Stat(filepath.Join(l.tmp, p))
			return err == nil
		}
		must(t, d.CreateFile(bg, "b", "up1/part.1", 5, strings.NewReader("hello")))
		must(t, d.CreateFile(bg, "b", "up1/part.2", 0, strings.NewReader("")))
		must(t, d.CreateFile(bg, "b", "up1/part.3", -1, iotest.HalfReader(strings.NewReader("unknown length"))))
		if !staged("up1/part.1") || !staged("up1/part.2") || !staged("up1/part.3") {
			t.Fatal("staged files missing")
		}
		for name, c := range map[string]struct {
			size int64
			r    io.Reader
			want error
		}{
			"short":        {10, strings.NewReader("hello"), ErrSizeMismatch},
			"long":         {3, strings.NewReader("hello"), ErrSizeMismatch},
			"long empty":   {0, strings.NewReader("x"), ErrSizeMismatch},
			"reader fails": {100, iotest.TimeoutReader(strings.NewReader(strings.Repeat("x", 100))), iotest.ErrTimeout},
		} {
			err := d.CreateFile(bg, "b", "up2/part.1", c.size, c.r)
			if c.want == iotest.ErrTimeout {
				if err == nil {
					t.Errorf("%s: no error", name)
				}
			} else if !errors.Is(err, c.want) {
				t.Errorf("%s: %v, want %v", name, err, c.want)
			}
			// Through a Remote the server cleans up after the client has
			// given up, so wait for it.
			eventually(t, func() bool { return !staged("up2/part.1") }, "%s: failed file left in staging", name)
		}
		for _, bad := range []string{"", "../x", "a/../../b", "/abs", "a//b", ".meta-x", "a/.hidden", "sp ace"} {
			if err := d.CreateFile(bg, "b", bad, 1, strings.NewReader("x")); !errors.Is(err, ErrInvalidArgument) {
				t.Errorf("CreateFile(%q): %v", bad, err)
			}
		}
		if err := d.CreateFile(bg, "nob", "up3/part.1", 1, strings.NewReader("x")); !errors.Is(err, ErrVolumeNotFound) {
			t.Fatalf("missing bucket: %v", err)
		}
		ctx, cancel := context.WithCancel(bg)
		cancel()
		if err := d.CreateFile(ctx, "b", "up4/part.1", 1, strings.NewReader("x")); !errors.Is(err, context.Canceled) {
			t.Fatalf("canceled: %v", err)
		}
		must(t, d.DeleteTmp(bg, "up1"))
		must(t, d.DeleteTmp(bg, "up1"))
		if staged("up1") {
			t.Fatal("DeleteTmp left the upload")
		}
		if err := d.RenameData(bg, "up1", "b", "o", Version{DataDir: newUUID()}); !errors.Is(err, ErrFileNotFound) {
			t.Fatalf("RenameData of nothing staged: %v", err)
		}
		if err := d.RenameData(bg, "up9", "b", "o", Version{}); !errors.Is(err, ErrInvalidArgument) {
			t.Fatalf("RenameData of data for an inline version: %v", err)
		}
	})
}

func TestVersions(t *testing.T) {
	forEachDisk(t, func(t *testing.T, d Disk, l *Local) {
		mustMakeVolume(t, d, "b")
		node := nodeDir(l, "b", "obj")
		dataDirs := func() []string {
			var out []string
			for _, n := range dirEntries(t, node) {
				if strings.HasPrefix(n, dataDirPrefix) {
					out = append(out, strings.TrimPrefix(n, dataDirPrefix))
				}
			}
			slices.Sort(out)
			return out
		}
		// Unversioned overwrites replace the null version and its data.
		n1 := putData(t, d, "b", "obj", version("", 0), randBytes(3, 5000))
		n2 := putData(t, d, "b", "obj", version("", 1), randBytes(4, 7000))
		if got := dataDirs(); !reflect.DeepEqual(got, []string{n2.DataDir}) {
			t.Fatalf("data dirs %v, want only %s (not %s)", got, n2.DataDir, n1.DataDir)
		}
		// Versioned writes accumulate, newest first whatever the arrival
		// order.
		a := putData(t, d, "b", "obj", version("a", 5), randBytes(5, 3000))
		c := putInline(t, d, "b", "obj", version("c", 7), []byte("small"))
		bv := putData(t, d, "b", "obj", version("b", 6), randBytes(6, 3000))
		m, err := d.ReadMetadata(bg, "b", "obj")
		must(t, err)
		var ids []string
		for _, v := range m.Versions {
			ids = append(ids, v.VersionID)
		}
		if !reflect.DeepEqual(ids, []string{"c", "b", "a", ""}) {
			t.Fatalf("version order %v", ids)
		}
		if v, ok := m.FindVersion("c"); !ok || string(v.Inline) != "small" {
			t.Fatalf("inline version %+v", v)
		}
		if got := readShardData(t, d, "b", "obj", bv); !bytes.Equal(got, randBytes(6, 3000)) {
			t.Fatal("version b's data")
		}

		// A metadata-only update keeps the data where it is.
		a2 := a
		a2.UserMeta = map[string]string{"tagged": "yes"}
		must(t, d.RenameData(bg, "", "b", "obj", a2))
		if got := readShardData(t, d, "b", "obj", a2); !bytes.Equal(got, randBytes(5, 3000)) {
			t.Fatal("metadata update lost the data")
		}
		gone := a
		gone.VersionID, gone.DataDir = "z", newUUID()
		if err := d.RenameData(bg, "", "b", "obj", gone); !errors.Is(err, ErrFileNotFound) {
			t.Fatalf("metadata-only version without data: %v", err)
		}

		must(t, d.DeleteVersion(bg, "b", "obj", "b"))
		if err := d.DeleteVersion(bg, "b", "obj", "b"); !errors.Is(err, ErrVersionNotFound) {
			t.Fatalf("deleting a deleted version: %v", err)
		}
		if got, want := dataDirs(), sorted(n2.DataDir, a.DataDir); !reflect.DeepEqual(got, want) {
			t.Fatalf("data dirs %v, want %v", got, want)
		}
		dm := version("dm", 9)
		dm.IsDeleteMarker = true
		must(t, d.RenameData(bg, "", "b", "obj", dm))
		m, err = d.ReadMetadata(bg, "b", "obj")
		must(t, err)
		if l, _ := m.Latest(); l.VersionID != "dm" || len(m.Versions) != 4 {
			t.Fatalf("after delete marker: %+v", m.Versions)
		}
		for _, id := range []string{"dm", c.VersionID, "a", ""} {
			must(t, d.DeleteVersion(bg, "b", "obj", id))
		}
		if _, err := d.ReadMetadata(bg, "b", "obj"); !errors.Is(err, ErrFileNotFound) {
			t.Fatalf("after deleting every version: %v", err)
		}
		if ents := dirEntries(t, l.bucketDir("b")); len(ents) != 0 {
			t.Fatalf("bucket dir keeps %v", ents)
		}
		if err := d.DeleteVersion(bg, "b", "obj", ""); !errors.Is(err, ErrFileNotFound) {
			t.Fatalf("DeleteVersion of a missing object: %v", err)
		}
	})
}

func sorted(s ...string) []string { slices.Sort(s); return s }

func TestDeleteObjectKeepsNeighbours(t *testing.T) {
	forEachDisk(t, func(t *testing.T, d Disk, l *Local) {
		mustMakeVolume(t, d, "b")
		for _, k := range []string{"a", "a/b", "a/b/c", "a-b"} {
			putData(t, d, "b", k, version("", 0), []byte(k))
		}
		must(t, d.DeleteObject(bg, "b", "a/b"))
		if got := listAll(t, d, "b", "", ""); !reflect.DeepEqual(got, []string{"a", "a-b", "a/b/c"}) {
			t.Fatalf("after deleting a/b: %v", got)
		}
		must(t, d.DeleteObject(bg, "b", "a/b/c"))
		if _, err := os.Stat(nodeDir(l, "b", "a/b")); !os.IsNotExist(err) {
			t.Fatalf("empty node a/b kept: %v", err)
		}
		if err := d.DeleteObject(bg, "b", "a/b"); !errors.Is(err, ErrFileNotFound) {
			t.Fatalf("deleting a deleted object: %v", err)
		}
		if err := d.DeleteObject(bg, "nob", "a"); !errors.Is(err, ErrVolumeNotFound) {
			t.Fatalf("missing bucket: %v", err)
		}
		must(t, d.DeleteObject(bg, "b", "a"))
		must(t, d.DeleteObject(bg, "b", "a-b"))
		if ents := dirEntries(t, l.bucketDir("b")); len(ents) != 0 {
			t.Fatalf("bucket dir keeps %v", ents)
		}
	})
}

// trickyKeys are keys whose paths or order are easy to get wrong.
func trickyKeys() []string {
	long := strings.Repeat("x", 1024)
	longUnicode := strings.Repeat("é", 512) // 1024 bytes, splits must not cut a rune
	longEscaped := strings.Repeat("%", 1024)
	return []string{
		"a", "a/", "a/b", "a-b", "a.b", "a0", "a//b", "a/b/", "a/b/c", "ab",
		"/", "/a", "//", "..", ".", "./x", "../x", "a/../b", "a/./b", ".meta", ".data-x",
		"+", "+x", "%", "%2F", "a b", "a\tb", "a\x00b", "~", "A", "Z/z",
		"日本語/ファイル", "emoji/😀", "Ünïcödé", "\u00a0", "\U0010FFFF",
		long, long[:1023] + "/", long[:500] + "/" + long[:500], longUnicode, longEscaped,
		strings.Repeat("a/", 40) + "deep",
		strings.Repeat("x", 240) + "y", strings.Repeat("x", 240), strings.Repeat("x", 241), strings.Repeat("x", 240) + "/z",
	}
}

func TestWalkOrderWithTrickyKeys(t *testing.T) {
	forEachDisk(t, func(t *testing.T, d Disk, l *Local) {
		mustMakeVolume(t, d, "b")
		keys := trickyKeys()
		for i, k := range keys {
			putInline(t, d, "b", k, version("", i), []byte(k))
		}
		want := slices.Clone(keys)
		slices.Sort(want)
		got := listAll(t, d, "b", "", "")
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("walk order\n got %q\nwant %q", got, want)
		}
		for _, k := range keys {
			m, err := d.ReadMetadata(bg, "b", k)
			must(t, err)
			if string(m.Versions[0].Inline) != k {
				t.Fatalf("key %q reads back %q", k, m.Versions[0].Inline)
			}
		}
		// Every prefix and start point of interest gives the sorted
		// suffix of the matching keys.
		var probes []string
		for _, k := range keys {
			for _, n := range []int{0, 1, 2, len(k) / 2, len(k) - 1, len(k)} {
				if n >= 0 && n <= len(k) {
					probes = append(probes, k[:n])
				}
			}
		}
		probes = append(probes, "a/b/c/d", "zzz", "a/c", "\U0010FFFF\U0010FFFF")
		for _, p := range probes {
			var wantP []string
			for _, k := range want {
				if strings.HasPrefix(k, p) {
					wantP = append(wantP, k)
				}
			}
			if got := listAll(t, d, "b", p, ""); !slices.Equal(got, wantP) {
				t.Fatalf("prefix %q\n got %q\nwant %q", p, got, wantP)
			}
			var wantS []string
			for _, k := range want {
				if k > p {
					wantS = append(wantS, k)
				}
			}
			if got := listAll(t, d, "b", "", p); !slices.Equal(got, wantS) {
				t.Fatalf("startAfter %q\n got %q\nwant %q", p, got, wantS)
			}
		}
		for _, k := range keys {
			must(t, d.DeleteObject(bg, "b", k))
		}
		if ents := dirEntries(t, l.bucketDir("b")); len(ents) != 0 {
			t.Fatalf("bucket dir keeps %v", ents)
		}
	})
}

// TestWalkBatchesWithTrickyKeys: batching must not change the order of
// keys whose directories do not sort like the keys.
func TestWalkBatchesWithTrickyKeys(t *testing.T) {
	old := walkBatch
	walkBatch = 2
	defer func() { walkBatch = old }()
	l := mustOpenLocal(t)
	mustMakeVolume(t, l, "b")
	keys := trickyKeys()
	for _, k := range keys {
		putInline(t, l, "b", k, version("", 0), nil)
	}
	slices.Sort(keys)
	if got := listAll(t, l, "b", "", ""); !slices.Equal(got, keys) {
		t.Fatalf("got %q\nwant %q", got, keys)
	}
	for i := 0; i < len(keys); i += 7 {
		if got := listAll(t, l, "b", "", keys[i]); !slices.Equal(got, keys[i+1:]) {
			t.Fatalf("after %q: got %q", keys[i], got)
		}
	}
}

func TestWalkDetails(t *testing.T) {
	forEachDisk(t, func(t *testing.T, d Disk, l *Local) {
		mustMakeVolume(t, d, "b")
		for i := range 30 {
			putInline(t, d, "b", "k/"+string(rune('a'+i%26))+strings.Repeat("z", i/26), version("", i), bytes.Repeat([]byte{'d'}, 1000))
		}
		// Listing metadata leaves the inline bytes on the disk.
		n := 0
		must(t, d.Walk(bg, "b", "", "", func(k string, m *ObjectMeta) error {
			n++
			if m == nil || len(m.Versions) != 1 || m.Versions[0].Inline != nil || m.Versions[0].Size != 1000 {
				t.Fatalf("%s: walk meta %+v", k, m)
			}
			if n == 5 {
				return StopWalk
			}
			return nil
		}))
		if n != 5 {
			t.Fatalf("StopWalk after 5 gave %d", n)
		}
		boom := errors.New("boom")
		if err := d.Walk(bg, "b", "", "", func(string, *ObjectMeta) error { return boom }); !errors.Is(err, boom) {
			t.Fatalf("callback error: %v", err)
		}
		if err := d.Walk(bg, "nob", "", "", func(string, *ObjectMeta) error { return nil }); !errors.Is(err, ErrVolumeNotFound) {
			t.Fatalf("missing bucket: %v", err)
		}
		ctx, cancel := context.WithCancel(bg)
		err := d.Walk(ctx, "b", "", "", func(string, *ObjectMeta) error { cancel(); return nil })
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("canceled walk: %v", err)
		}
		if got := listAll(t, d, "b", "nothing/", ""); len(got) != 0 {
			t.Fatalf("empty prefix lists %v", got)
		}
	})
}

// TestWalkBatches lists directories larger than walkBatch, which the walk
// reads in batches.
func TestWalkBatches(t *testing.T) {
	old := walkBatch
	walkBatch = 3
	defer func() { walkBatch = old }()
	forEachDisk(t, func(t *testing.T, d Disk, l *Local) {
		mustMakeVolume(t, d, "b")
		var keys []string
		for i := range 25 {
			for _, k := range []string{string(rune('a' + i)), string(rune('a'+i)) + "/x", string(rune('a'+i)) + "-" + string(rune('a'+i%5))} {
				keys = append(keys, k)
				putInline(t, d, "b", k, version("", 0), nil)
			}
		}
		slices.Sort(keys)
		if got := listAll(t, d, "b", "", ""); !slices.Equal(got, keys) {
			t.Fatalf("got %q\nwant %q", got, keys)
		}
		if got := listAll(t, d, "b", "", "k-"); !slices.Equal(got, keys[slices.Index(keys, "k-a"):]) {
			t.Fatalf("startAfter k-: %q", got)
		}
	})
}

func TestObjectNames(t *testing.T) {
	forEachDisk(t, func(t *testing.T, d Disk, l *Local) {
		mustMakeVolume(t, d, "b")
		for _, bad := range []string{"", strings.Repeat("x", maxNameLen+1), "\xff\xfe"} {
			if _, err := d.ReadMetadata(bg, "b", bad); !errors.Is(err, ErrInvalidArgument) {
				t.Errorf("ReadMetadata(%q): %v", bad, err)
			}
			if err := d.RenameData(bg, "", "b", bad, version("", 0)); !errors.Is(err, ErrInvalidArgument) {
				t.Errorf("RenameData(%q): %v", bad, err)
			}
		}
		// Nothing a key holds lands outside the bucket.
		for _, k := range []string{"../../escape", "/etc/passwd", "..", "a/../../.."} {
			putInline(t, d, "b", k, version("", 0), []byte("x"))
		}
		for _, e := range dirEntries(t, l.root) {
			if e != "b" && e != sysDir {
				t.Fatalf("disk root holds %q", e)
			}
		}
	})
}

func TestConcurrentWritesToOneObject(t *testing.T) {
	forEachDisk(t, func(t *testing.T, d Disk, l *Local) {
		mustMakeVolume(t, d, "b")
		const writers = 8
		errs := make(chan error, writers)
		shard := shardFile(t, []byte{7})
		for i := range writers {
			go func() {
				errs <- func() error {
					up, v := newUUID(), version(string(rune('a'+i)), i)
					v.DataDir, v.Size = newUUID(), 1
					if err := d.CreateFile(bg, "b", up+"/part.1", int64(len(shard)), bytes.NewReader(shard)); err != nil {
						return err
					}
					if err := d.RenameData(bg, up, "b", "hot", v); err != nil {
						return err
					}
					// Neighbours come and go meanwhile: their empty-directory
					// cleanup must not take the hot node with it.
					n := "hot/n" + string(rune('a'+i))
					if err := d.RenameData(bg, "", "b", n, version("", 0)); err != nil {
						return err
					}
					return d.DeleteObject(bg, "b", n)
				}()
			}()
		}
		for range writers {
			must(t, <-errs)
		}
		m, err := d.ReadMetadata(bg, "b", "hot")
		must(t, err)
		if len(m.Versions) != writers {
			t.Fatalf("%d versions, want %d", len(m.Versions), writers)
		}
		for _, v := range m.Versions {
			if got := readShardData(t, d, "b", "hot", v); len(got) != 1 {
				t.Fatalf("version %s data %v", v.VersionID, got)
			}
		}
	})
}

func TestContextDeadlineIsHonoured(t *testing.T) {
	forEachDisk(t, func(t *testing.T, d Disk, l *Local) {
		ctx, cancel := context.WithTimeout(bg, time.Nanosecond)
		defer cancel()
		time.Sleep(time.Millisecond)
		if err := d.MakeVolume(ctx, "b"); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("expired deadline: %v", err)
		}
	})
}
