package objectstore

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/banyancloud/banyan/objectstore/disk"
)

// shardFiles finds the shard files of key on every local disk.
func shardFiles(t *testing.T, c *testCluster, key string) []string {
	t.Helper()
	var out []string
	for _, id := range c.ids {
		root := c.locals[id].Path()
		filepath.Walk(filepath.Join(root, "b", key), func(p string, info os.FileInfo, err error) error {
			if err == nil && !info.IsDir() && strings.HasPrefix(info.Name(), "part.") {
				out = append(out, p)
			}
			return nil
		})
	}
	return out
}

// verifyAll checks that every disk of the set holds the latest version
// with sound shard files.
func verifyAll(t *testing.T, s *Store, c *testCluster, key string) {
	t.Helper()
	st, err := s.readObject(ctxT(t), "b", key)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.versions) == 0 {
		t.Fatalf("%s: no versions", key)
	}
	for i := range st.versions {
		v := st.versions[i]
		for _, id := range v.Erasure.Disks {
			l := c.locals[id]
			m, err := l.ReadMetadata(ctxT(t), "b", key)
			if err != nil {
				t.Fatalf("disk %s: %v", id, err)
			}
			if _, ok := m.FindVersion(v.VersionID); !ok {
				t.Fatalf("disk %s lacks version %q", id, v.VersionID)
			}
			for _, p := range v.Parts {
				if v.DataDir == "" {
					continue
				}
				if err := l.VerifyFile(ctxT(t), "b", key, v.DataDir, p.Number, v.Erasure.Scheme(), p.Size); err != nil {
					t.Fatalf("disk %s part %d: %v", id, p.Number, err)
				}
			}
		}
	}
}

func TestBoxDownReadsAndWrites(t *testing.T) {
	c := newCluster(t, 3, 2)
	s := newTestStore(t, c, Options{BlockSize: 64 << 10})
	old := randBytes(1<<20+5, 1)
	mustPut(t, s, "old", old, PutOptions{})
	mustPut(t, s, "small", []byte("tiny"), PutOptions{})
	c.breakBox("box1")
	if got, _ := mustGet(t, s, "old", GetOptions{}); !bytes.Equal(got, old) {
		t.Fatal("read with a box down")
	}
	if got, _ := mustGet(t, s, "small", GetOptions{}); string(got) != "tiny" {
		t.Fatal("inline read with a box down")
	}
	fresh := randBytes(700<<10, 2)
	mustPut(t, s, "new", fresh, PutOptions{})
	mustPut(t, s, "new-small", []byte("x"), PutOptions{})
	if _, err := s.DeleteObject(ctxT(t), "b", "small", DeleteOptions{Versioning: VersioningEnabled}); err != nil {
		t.Fatal(err)
	}
	res, err := s.ListObjects(ctxT(t), "b", ListOptions{})
	if err != nil || len(res.Objects) != 3 {
		t.Fatalf("list with a box down: %+v %v", res, err)
	}
	if got, _ := mustGet(t, s, "new", GetOptions{}); !bytes.Equal(got, fresh) {
		t.Fatal("read back a write made with a box down")
	}
	// The box returns; heal fills in what it missed.
	c.mend()
	for _, k := range []string{"new", "new-small", "small"} {
		hr, err := s.HealObject(ctxT(t), "b", k)
		if err != nil || !hr.Healed() {
			t.Fatalf("heal %s: %+v %v", k, hr, err)
		}
		verifyAll(t, s, c, k)
	}
	hr, err := s.HealObject(ctxT(t), "b", "old")
	if err != nil || hr.Healed() {
		t.Fatalf("healthy object healed: %+v %v", hr, err)
	}
}

func TestCorruptShardIsReadAroundAndHealed(t *testing.T) {
	c := newCluster(t, 1, 4)
	s := newTestStore(t, c, Options{BlockSize: 64 << 10, HealWorkers: 1})
	data := randBytes(1<<20+77, 5)
	mustPut(t, s, "k", data, PutOptions{})
	if files := shardFiles(t, c, "k"); len(files) != 4 {
		t.Fatalf("%d shard files", len(files))
	}
	// Damage data shard 1, which every plain read needs.
	m, err := c.locals[c.ids[0]].ReadMetadata(ctxT(t), "b", "k")
	if err != nil {
		t.Fatal(err)
	}
	holder := m.Versions[0].Erasure.Disks[1]
	files := shardFiles(t, &testCluster{ids: []string{holder}, locals: c.locals}, "k")
	f, err := os.OpenFile(files[0], os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt([]byte("garbage!"), 1000)
	f.Close()
	if got, _ := mustGet(t, s, "k", GetOptions{}); !bytes.Equal(got, data) {
		t.Fatal("read with a corrupt shard")
	}
	// The read queued a heal; the worker repairs the shard.
	deadline := time.Now().Add(20 * time.Second)
	for s.HealStatus().ObjectsHealed == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("heal-on-read did not happen: %+v", s.HealStatus())
		}
		time.Sleep(20 * time.Millisecond)
	}
	verifyAll(t, s, c, "k")
	if st := s.HealStatus(); st.BytesHealed == 0 {
		t.Fatalf("status %+v", st)
	}
}

func TestWipedDiskIsRebuilt(t *testing.T) {
	c := newCluster(t, 1, 4)
	s := newTestStore(t, c, Options{BlockSize: 64 << 10})
	big := randBytes(300<<10, 7)
	mustPut(t, s, "big", big, PutOptions{})
	mustPut(t, s, "dir/small", []byte("hello"), PutOptions{})
	mustPut(t, s, "ver", []byte("v"), PutOptions{Versioning: VersioningEnabled})
	s.DeleteObject(ctxT(t), "b", "ver", DeleteOptions{Versioning: VersioningEnabled})
	// Empty a disk's directory (except its stamp and lock, which the open
	// disk holds).
	root := c.locals[c.ids[2]].Path()
	ents, _ := os.ReadDir(root)
	for _, e := range ents {
		if e.Name() != ".banyan.sys" {
			os.RemoveAll(filepath.Join(root, e.Name()))
		}
	}
	if got, _ := mustGet(t, s, "big", GetOptions{}); !bytes.Equal(got, big) {
		t.Fatal("read with a wiped disk")
	}
	if _, err := s.ScanOnce(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"big", "dir/small", "ver"} {
		verifyAll(t, s, c, k)
	}
	if st := s.HealStatus(); st.ObjectsHealed < 3 || st.LastScanEnded.IsZero() {
		t.Fatalf("status %+v", st)
	}
}

func TestWriteQuorumLost(t *testing.T) {
	c := newCluster(t, 1, 4)
	s := newTestStore(t, c, Options{BlockSize: 64 << 10})
	c.set(c.ids[0], disk.Broken{DiskID: c.ids[0]})
	c.set(c.ids[3], disk.Broken{DiskID: c.ids[3]})
	for _, n := range []int{10, 500 << 10} {
		_, err := s.PutObject(ctxT(t), "b", "k", bytes.NewReader(randBytes(n, 1)), PutOptions{Size: int64(n)})
		if !errors.Is(err, ErrWriteQuorum) {
			t.Fatalf("%d bytes with 2 of 4 disks down: %v", n, err)
		}
	}
	c.mend()
	// Commits fail on two disks after staging everywhere: the version is
	// rolled back from the others.
	for _, i := range []int{1, 2} {
		c.faulty(c.ids[i]).Set("RenameData", disk.ErrDiskFull, 0)
	}
	for _, n := range []int{10, 500 << 10} {
		_, err := s.PutObject(ctxT(t), "b", "k", bytes.NewReader(randBytes(n, 1)), PutOptions{Size: int64(n)})
		if !errors.Is(err, ErrWriteQuorum) {
			t.Fatalf("%d bytes with 2 failing commits: %v", n, err)
		}
	}
	c.mend()
	if _, err := s.HeadObject(ctxT(t), "b", "k", GetOptions{}); !errors.Is(err, ErrObjectNotFound) {
		t.Fatalf("after failed writes: %v", err)
	}
	res, err := s.ListObjects(ctxT(t), "b", ListOptions{})
	if err != nil || len(res.Objects) != 0 {
		t.Fatalf("list after failed writes: %+v %v", res, err)
	}
	for _, l := range c.locals {
		if _, err := l.ReadMetadata(ctxT(t), "b", "k"); !errors.Is(err, disk.ErrFileNotFound) {
			t.Fatalf("disk %s kept metadata: %v", l.ID(), err)
		}
	}
	// Reads need a read quorum: three disks down of four is an error, not
	// "not found".
	mustPut(t, s, "k", []byte("x"), PutOptions{})
	for _, i := range []int{0, 1, 2} {
		c.set(c.ids[i], disk.Broken{DiskID: c.ids[i]})
	}
	if _, err := s.HeadObject(ctxT(t), "b", "k", GetOptions{}); !errors.Is(err, ErrReadQuorum) {
		t.Fatalf("head with 3 of 4 down: %v", err)
	}
	if _, err := s.ListObjects(ctxT(t), "b", ListOptions{}); !errors.Is(err, ErrReadQuorum) {
		t.Fatalf("list with 3 of 4 down: %v", err)
	}
}

func TestHealDropsUnfinishedWrites(t *testing.T) {
	c := newCluster(t, 1, 4)
	s := newTestStore(t, c, Options{})
	mustPut(t, s, "k", []byte("real"), PutOptions{})
	// A version only one disk took, from a write that died an hour ago.
	stray := disk.Version{VersionID: "11111111-2222-4333-8444-555555555555", ModTime: time.Now().Add(-time.Hour), Size: 1, ETag: "x",
		Erasure: disk.ErasureInfo{Data: 2, Parity: 2, BlockSize: 1 << 20, Disks: c.ids}, Inline: []byte{}}
	if err := c.locals[c.ids[1]].RenameData(ctxT(t), "", "b", "k", stray); err != nil {
		t.Fatal(err)
	}
	if err := c.locals[c.ids[1]].RenameData(ctxT(t), "", "b", "ghost", stray); err != nil {
		t.Fatal(err)
	}
	if _, err := s.HeadObject(ctxT(t), "b", "ghost", GetOptions{}); !errors.Is(err, ErrObjectNotFound) {
		t.Fatalf("ghost: %v", err)
	}
	for _, k := range []string{"k", "ghost"} {
		if _, err := s.HealObject(ctxT(t), "b", k); err != nil {
			t.Fatal(err)
		}
	}
	m, err := c.locals[c.ids[1]].ReadMetadata(ctxT(t), "b", "k")
	if err != nil || len(m.Versions) != 1 || m.Versions[0].VersionID != "" {
		t.Fatalf("after heal: %+v %v", m, err)
	}
	if _, err := c.locals[c.ids[1]].ReadMetadata(ctxT(t), "b", "ghost"); !errors.Is(err, disk.ErrFileNotFound) {
		t.Fatalf("ghost after heal: %v", err)
	}
}

func TestFaultyDisksDuringIO(t *testing.T) {
	c := newCluster(t, 3, 2)
	s := newTestStore(t, c, Options{BlockSize: 64 << 10})
	data := randBytes(1<<20+9, 3)
	// One disk fails while staging, another while committing: 4 of 6
	// still make the write quorum of 4+2.
	c.faulty(c.ids[0]).Set("CreateFile", disk.ErrFaultyDisk, 0)
	c.faulty(c.ids[3]).Set("RenameData", disk.ErrDiskFull, 0)
	mustPut(t, s, "k", data, PutOptions{})
	c.mend()
	if got, _ := mustGet(t, s, "k", GetOptions{}); !bytes.Equal(got, data) {
		t.Fatal("read with two shards missing")
	}
	if _, err := s.HealObject(ctxT(t), "b", "k"); err != nil {
		t.Fatal(err)
	}
	verifyAll(t, s, c, "k")
	// Reads that fail half-way on two disks still return the right bytes.
	for _, i := range []int{1, 4} {
		c.faulty(c.ids[i]).Set("ReadAt", disk.ErrFaultyDisk, 3)
	}
	if got, _ := mustGet(t, s, "k", GetOptions{}); !bytes.Equal(got, data) {
		t.Fatal("read with failing disks")
	}
	c.mend()
	if _, err := s.HealObject(ctxT(t), "b", "k"); err != nil {
		t.Fatal(err)
	}
	verifyAll(t, s, c, "k")
}

func TestRunScannerThrottled(t *testing.T) {
	c := newCluster(t, 1, 4)
	s := newTestStore(t, c, Options{})
	for i := range 5 {
		mustPut(t, s, "k"+string(rune('a'+i)), randBytes(200<<10, uint64(i)), PutOptions{})
	}
	ctx, cancel := context.WithCancel(ctxT(t))
	done := make(chan error, 1)
	go func() { done <- s.RunScanner(ctx, time.Hour, 4<<20) }()
	deadline := time.Now().Add(20 * time.Second)
	for s.HealStatus().LastScanEnded.IsZero() {
		if time.Now().After(deadline) {
			t.Fatalf("scan did not finish: %+v", s.HealStatus())
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	if st := s.HealStatus(); st.ObjectsScanned != 5 || st.ObjectsHealed != 0 {
		t.Fatalf("status %+v", st)
	}
}
