package disk

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// Benchmarks of the local disk beside the machine's own limits, measured in
// the same run on the same filesystem:
//
//	go test -run '^$' -bench . -benchtime 2s ./objectstore/disk/
//
// BenchmarkRaw* are the physical floor: a 4 KiB write + fsync (what any
// durable metadata update costs at least), a directory fsync, and a
// sequential write of the same size as CreateFile followed by one fsync.

func BenchmarkRawFsync(b *testing.B) {
	dir := b.TempDir()
	f, err := os.Create(filepath.Join(dir, "f"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 4096)
	b.Run("file-4KiB", func(b *testing.B) {
		for b.Loop() {
			if _, err := f.WriteAt(buf, 0); err != nil {
				b.Fatal(err)
			}
			if err := f.Sync(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("dir", func(b *testing.B) {
		for b.Loop() {
			if err := fsyncDir(dir); err != nil {
				b.Fatal(err)
			}
		}
	})
	// The least a durable atomic replace of a small file costs: what
	// WriteMetadata does for an existing object, without encoding.
	b.Run("replace-4KiB", func(b *testing.B) {
		for b.Loop() {
			tmp := filepath.Join(dir, "tmp")
			if err := writeFileSync(tmp, buf); err != nil {
				b.Fatal(err)
			}
			if err := os.Rename(tmp, filepath.Join(dir, "meta")); err != nil {
				b.Fatal(err)
			}
			if err := fsyncDir(dir); err != nil {
				b.Fatal(err)
			}
		}
	})
}

var benchSizes = []int64{1 << 20, 64 << 20}

func BenchmarkRawWrite(b *testing.B) {
	dir := b.TempDir()
	buf := make([]byte, copyBufSize)
	for _, size := range benchSizes {
		b.Run(sizeName(size), func(b *testing.B) {
			b.SetBytes(size)
			for i := 0; b.Loop(); i++ {
				path := filepath.Join(dir, fmt.Sprint(i))
				f, err := os.Create(path)
				if err != nil {
					b.Fatal(err)
				}
				for off := int64(0); off < size; off += int64(len(buf)) {
					if _, err := f.Write(buf[:min(int64(len(buf)), size-off)]); err != nil {
						b.Fatal(err)
					}
				}
				if err := f.Sync(); err != nil {
					b.Fatal(err)
				}
				f.Close()
				os.Remove(path)
			}
		})
	}
}

func sizeName(n int64) string {
	if n >= 1<<20 {
		return fmt.Sprintf("%dMiB", n>>20)
	}
	return fmt.Sprintf("%dKiB", n>>10)
}

func benchCreateFile(b *testing.B, d Disk, clean func(string)) {
	for _, size := range benchSizes {
		b.Run(sizeName(size), func(b *testing.B) {
			b.SetBytes(size)
			for i := 0; b.Loop(); i++ {
				up := fmt.Sprintf("up%d", i)
				if err := d.CreateFile(bg, "b", up+"/part.1", size, &patternReader{left: size}); err != nil {
					b.Fatal(err)
				}
				clean(up)
			}
		})
	}
}

func BenchmarkCreateFile(b *testing.B) {
	l := mustOpenLocal(b)
	mustMakeVolume(b, l, "b")
	b.Run("local", func(b *testing.B) {
		benchCreateFile(b, l, func(up string) { l.DeleteTmp(bg, up) })
	})
	b.Run("remote", func(b *testing.B) {
		benchCreateFile(b, mustRemote(b, l), func(up string) { l.DeleteTmp(bg, up) })
	})
}

func BenchmarkOpenFileRead(b *testing.B) {
	l := mustOpenLocal(b)
	mustMakeVolume(b, l, "b")
	const size = 64 << 20
	dataDir := newUUID()
	must(b, l.CreateFile(bg, "b", "up/part.1", size, &patternReader{left: size}))
	must(b, l.RenameData(bg, "up", "b", "big", Version{ModTime: clock, DataDir: dataDir, Size: size}))
	for _, c := range []struct {
		name string
		d    Disk
	}{{"local", l}, {"remote", mustRemote(b, l)}} {
		b.Run(c.name, func(b *testing.B) {
			// Frame-sized reads, as erasure.Decode issues them for a 1 MiB
			// block over 4 data shards; the page cache is warm, so this
			// is the software's cost, not the disk's.
			buf := make([]byte, 256<<10+32)
			b.SetBytes(size)
			for b.Loop() {
				f, n, err := c.d.OpenFile(bg, "b", "big", dataDir, 1)
				if err != nil {
					b.Fatal(err)
				}
				for off := int64(0); off < n; off += int64(len(buf)) {
					if _, err := f.ReadAt(buf, off); err != nil && err != io.EOF {
						b.Fatal(err)
					}
				}
				f.Close()
			}
		})
	}
}

func benchMeta(inline int) *ObjectMeta {
	v := version("", 0)
	if inline > 0 {
		v.Inline = bytes.Repeat([]byte("x"), inline)
	} else {
		v.DataDir = newUUID()
	}
	return &ObjectMeta{Versions: []Version{v}}
}

func BenchmarkWriteMetadata(b *testing.B) {
	l := mustOpenLocal(b)
	mustMakeVolume(b, l, "b")
	for _, inline := range []int{0, 128 << 10} {
		m := benchMeta(inline)
		b.Run(fmt.Sprintf("inline=%d/existing-object", inline), func(b *testing.B) {
			for b.Loop() {
				must(b, l.WriteMetadata(bg, "b", "dir/obj", m))
			}
		})
	}
	b.Run("new-object", func(b *testing.B) {
		m := benchMeta(0)
		for i := 0; b.Loop(); i++ {
			must(b, l.WriteMetadata(bg, "b", fmt.Sprintf("new/obj%d", i), m))
		}
	})
}

func BenchmarkReadMetadata(b *testing.B) {
	l := mustOpenLocal(b)
	mustMakeVolume(b, l, "b")
	for _, inline := range []int{0, 128 << 10} {
		must(b, l.WriteMetadata(bg, "b", "dir/obj", benchMeta(inline)))
		b.Run(fmt.Sprintf("inline=%d/local", inline), func(b *testing.B) {
			for b.Loop() {
				if _, err := l.ReadMetadata(bg, "b", "dir/obj"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	r := mustRemote(b, l)
	b.Run("inline=131072/remote", func(b *testing.B) {
		for b.Loop() {
			if _, err := r.ReadMetadata(bg, "b", "dir/obj"); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkPut is one disk's share of a PUT: stage a 64 KiB shard file,
// commit it with RenameData, into a new key or over an existing one.
func BenchmarkPut(b *testing.B) {
	l := mustOpenLocal(b)
	mustMakeVolume(b, l, "b")
	shard := make([]byte, 64<<10)
	put := func(b *testing.B, key string, i int) {
		up := fmt.Sprintf("up%d", i)
		must(b, l.CreateFile(bg, "b", up+"/part.1", int64(len(shard)), bytes.NewReader(shard)))
		must(b, l.RenameData(bg, up, "b", key, Version{ModTime: clock, DataDir: newUUID(), Size: 1}))
	}
	b.Run("new-key", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			put(b, fmt.Sprintf("new/k%d", i), i)
		}
	})
	b.Run("overwrite", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			put(b, "same", i)
		}
	})
	b.Run("inline", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			must(b, l.RenameData(bg, "", "b", fmt.Sprintf("inl/k%d", i), Version{ModTime: clock, Inline: shard[:4096], Size: 4096}))
		}
	})
}

// BenchmarkWalk lists 10,000 keys in 100 "folders"; metadata files are
// written directly (unsynced) to keep the setup short.
func BenchmarkWalk(b *testing.B) {
	l := mustOpenLocal(b)
	mustMakeVolume(b, l, "b")
	data, err := encodeMeta(benchMeta(1024))
	must(b, err)
	const n = 10000
	for i := range n {
		dir := nodeDir(l, "b", fmt.Sprintf("f%03d/obj%05d", i%100, i))
		must(b, os.MkdirAll(dir, 0o755))
		must(b, os.WriteFile(filepath.Join(dir, metaName), data, 0o644))
	}
	// The floor: the same directories read and every metadata file
	// opened and read, in directory order, with no decoding.
	b.Run("raw", func(b *testing.B) {
		for b.Loop() {
			k := 0
			must(b, filepath.WalkDir(l.bucketDir("b"), func(p string, d os.DirEntry, err error) error {
				if err == nil && d.Name() == metaName {
					f, err := os.Open(p)
					if err != nil {
						return err
					}
					f.Read(make([]byte, 4096))
					f.Close()
					k++
				}
				return err
			}))
			if k != n {
				b.Fatalf("read %d", k)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/key")
	})
	for _, c := range []struct {
		name string
		d    Disk
	}{{"local", l}, {"remote", mustRemote(b, l)}} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				k := 0
				must(b, c.d.Walk(bg, "b", "", "", func(string, *ObjectMeta) error { k++; return nil }))
				if k != n {
					b.Fatalf("listed %d", k)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/key")
		})
	}
}
