package node

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/banyancloud/banyan/blockstore/replica"
	"github.com/banyancloud/banyan/blockstore/snapshot"
	"github.com/banyancloud/banyan/cluster/state"
	"github.com/banyancloud/banyan/objectstore"
)

// memSnapshotStore is the snapshot bucket as a map.
type memSnapshotStore struct {
	mu   sync.Mutex
	objs map[string][]byte
}

func (s *memSnapshotStore) Put(_ context.Context, key string, data []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.objs[key] = bytes.Clone(data)
	return nil
}

func (s *memSnapshotStore) Get(_ context.Context, key string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.objs[key]
	if !ok {
		return nil, snapshot.ErrNotFound
	}
	return bytes.Clone(b), nil
}

func (s *memSnapshotStore) Delete(_ context.Context, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.objs, key)
	return nil
}

func (s *memSnapshotStore) List(_ context.Context, prefix string) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, k := range slices.Sorted(maps.Keys(s.objs)) {
		if strings.HasPrefix(k, prefix) {
			out = append(out, k)
		}
	}
	return out, nil
}

// s3Objects are the customers' objects the importer reads; gate, when set for a key,
// holds its reader after the first MiB until closed.
type s3Objects struct {
	objs map[string][]byte
	gate map[string]chan struct{}
}

func (o *s3Objects) GetObject(ctx context.Context, bucket, key string, _ objectstore.GetOptions) (objectstore.ObjectInfo, io.ReadCloser, error) {
	b, ok := o.objs[bucket+"/"+key]
	if !ok {
		return objectstore.ObjectInfo{}, nil, objectstore.ErrObjectNotFound
	}
	var r io.Reader = bytes.NewReader(b)
	if g := o.gate[bucket+"/"+key]; g != nil {
		r = io.MultiReader(bytes.NewReader(b[:1<<20]), &gatedReader{ctx: ctx, gate: g, r: bytes.NewReader(b[1<<20:])})
	}
	return objectstore.ObjectInfo{Bucket: bucket, Key: key, Size: int64(len(b))}, io.NopCloser(r), nil
}

type gatedReader struct {
	ctx  context.Context
	gate chan struct{}
	r    io.Reader
}

func (g *gatedReader) Read(p []byte) (int, error) {
	select {
	case <-g.gate:
	case <-g.ctx.Done():
		return 0, g.ctx.Err()
	}
	return g.r.Read(p)
}

type importFixture struct {
	t     *testing.T
	cl    localCluster
	s3    *s3Objects
	store *memSnapshotStore
	n     int
}

func newImportFixture(t *testing.T) *importFixture {
	f := &importFixture{t: t, cl: localCluster{Local: state.NewLocal(), name: "box1"},
		s3: &s3Objects{objs: map[string][]byte{}, gate: map[string]chan struct{}{}}, store: &memSnapshotStore{objs: map[string][]byte{}}}
	return f
}

// start runs the importer until the test ends.
func (f *importFixture) start() *importFixture {
	si := newSnapshotImporter(f.cl, f.s3, f.store, func(context.Context) error { return nil }, f.t.TempDir(),
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	si.progressEvery = 10 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { si.run(ctx); close(done) }()
	f.t.Cleanup(func() { cancel(); <-done })
	return f
}

// submit records a task as the front end does.
func (f *importFixture) submit(key, format string) *state.ImportSnapshotTask {
	f.t.Helper()
	f.n++
	task := state.ImportSnapshotTask{ID: fmt.Sprintf("import-snap-%017x", f.n), Account: "111", Bucket: "disks", Key: key, Format: format,
		DiskImageSize: int64(len(f.s3.objs["disks/"+key])), SnapshotID: fmt.Sprintf("snap-%017x", f.n), Created: time.Now()}
	if _, err := f.cl.Apply(context.Background(), &state.CreateImportSnapshotTask{Task: task}, nil); err != nil {
		f.t.Fatal(err)
	}
	return &task
}

// wait returns the task once it is completed or deleted.
func (f *importFixture) wait(id string) *state.ImportSnapshotTask {
	f.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		t, err := f.cl.State().ImportSnapshotTask(id)
		if err != nil {
			f.t.Fatal(err)
		}
		if t.Status == state.TaskCompleted || t.Status == state.TaskDeleted {
			return t
		}
		time.Sleep(5 * time.Millisecond)
	}
	f.t.Fatalf("task %s did not finish", id)
	return nil
}

// readBack is the first n bytes of the snapshot, checked against its manifest's sums;
// every extent past them must be stored as zeros.
func (f *importFixture) readBack(snapID string, n int) ([]byte, *snapshot.Manifest) {
	f.t.Helper()
	m, err := snapshot.LoadManifest(context.Background(), f.store, snapID)
	if err != nil {
		f.t.Fatal(err)
	}
	r := snapshot.NewReader(f.store, m)
	out := make([]byte, replica.Extents(int64(n))*replica.ExtentSize)
	for e := int64(0); e < r.Extents(); e++ {
		if e*replica.ExtentSize >= int64(len(out)) {
			if !m.Extents[e].Zero() {
				f.t.Fatalf("extent %d, past the image, is stored", e)
			}
			continue
		}
		b, err := r.ReadExtent(context.Background(), e)
		if err != nil {
			f.t.Fatal(err)
		}
		copy(out[e*replica.ExtentSize:], b)
	}
	if !bytes.Equal(out[n:], make([]byte, len(out)-n)) {
		f.t.Fatal("the image's last extent is not padded with zeros")
	}
	return out[:n], m
}

// testDisk is a disk of size bytes (more than 3 extents) with data in its first 4 MiB,
// none in the next 8 MiB, and data again from there to its end.
func testDisk(size int) []byte {
	d := make([]byte, size)
	rand.Read(d[:replica.ExtentSize])
	rand.Read(d[3*replica.ExtentSize:])
	return d
}

// TestImportRawSnapshot: a raw image whose size is not a multiple of 4 MiB streams into
// a snapshot of whole GiB: only its extents with data are stored, the rest reads back as
// zeros, the record is completed with vol-ffffffff and the size in GiB rounded up.
func TestImportRawSnapshot(t *testing.T) {
	f := newImportFixture(t).start()
	disk := testDisk(3*replica.ExtentSize + 3*512)
	f.s3.objs["disks/disk.raw"] = disk
	task := f.submit("disk.raw", "RAW")
	got := f.wait(task.ID)
	if got.Status != state.TaskCompleted || got.Progress != 100 || got.Node != "box1" || got.Attempt != 1 {
		t.Fatalf("task %+v", got)
	}
	s, err := f.cl.State().Snapshot(task.SnapshotID)
	if err != nil {
		t.Fatal(err)
	}
	if s.State != state.SnapshotCompleted || s.VolumeID != "vol-ffffffff" || s.VolumeSizeGiB != 1 || s.Account != "111" ||
		s.Extents != 256 || s.Uploaded != 2 || s.Zero != 254 || s.StoredBytes != 2*replica.ExtentSize {
		t.Fatalf("snapshot %+v: want 256 extents, 2 stored", s)
	}
	back, m := f.readBack(task.SnapshotID, len(disk))
	if m.VolumeID != "vol-ffffffff" || m.Size != 1<<30 {
		t.Fatalf("manifest of %s, %d bytes", m.VolumeID, m.Size)
	}
	if !bytes.Equal(back, disk) {
		t.Fatal("the snapshot does not read back as the image followed by zeros")
	}
	if keys, _ := f.store.List(context.Background(), "extents/"); len(keys) != 2 {
		t.Fatalf("extent objects %v, want the two with data", keys)
	}
}

// TestImportConvertedSnapshots: VMDK (both single-file kinds), VHD (dynamic and fixed)
// and qcow2 images made by the real qemu-img from one disk import to that disk's bytes.
func TestImportConvertedSnapshots(t *testing.T) {
	if _, err := exec.LookPath("qemu-img"); err != nil {
		t.Skip("qemu-img is not installed")
	}
	f := newImportFixture(t).start()
	dir := t.TempDir()
	disk := testDisk(5 * replica.ExtentSize)
	rawPath := filepath.Join(dir, "disk.raw")
	if err := os.WriteFile(rawPath, disk, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, format, qemu, opts string }{
		{"sparse.vmdk", "VMDK", "vmdk", "subformat=monolithicSparse"},
		{"stream.vmdk", "VMDK", "vmdk", "subformat=streamOptimized"},
		{"dynamic.vhd", "VHD", "vpc", "subformat=dynamic,force_size=on"},
		{"fixed.vhd", "VHD", "vpc", "subformat=fixed,force_size=on"},
		{"disk.qcow2", "QCOW2", "qcow2", "cluster_size=65536"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, tc.name)
			if out, err := exec.Command("qemu-img", "convert", "-f", "raw", "-O", tc.qemu, "-o", tc.opts, rawPath, p).CombinedOutput(); err != nil {
				t.Fatalf("qemu-img convert: %v %s", err, out)
			}
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			f.s3.objs["disks/"+tc.name] = b
			task := f.submit(tc.name, tc.format)
			if got := f.wait(task.ID); got.Status != state.TaskCompleted {
				t.Fatalf("task %+v", got)
			}
			if back, _ := f.readBack(task.SnapshotID, len(disk)); !bytes.Equal(back, disk) {
				t.Fatal("the snapshot's bytes are not the disk's")
			}
		})
	}
}

// TestImportSnapshotRefusesBadImages: objects that are not disk images of the format
// given, images that would make qemu-img read other files of the box, and a missing
// object fail the task (deleted, with a ClientError saying why) and leave no extents.
func TestImportSnapshotRefusesBadImages(t *testing.T) {
	f := newImportFixture(t).start()
	dir := t.TempDir()
	text := []byte(strings.Repeat("this is not a disk\n", 1000))
	f.s3.objs["disks/notes.txt"] = text
	f.s3.objs["disks/odd.raw"] = make([]byte, 1000)
	descriptor := "# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\ncreateType=\"monolithicFlat\"\n" +
		"RW 8 FLAT \"/etc/passwd\" 0\nddb.virtualHWVersion = \"4\"\n"
	f.s3.objs["disks/descriptor.vmdk"] = []byte(descriptor)
	f.s3.objs["disks/descriptor-as.raw"] = append([]byte(descriptor), make([]byte, 512-len(descriptor)%512)...)
	cases := []struct{ key, format, want string }{
		{"notes.txt", "VMDK", "not a single-file VMDK"},
		{"notes.txt", "VHD", "is not a VHD image"},
		{"notes.txt", "QCOW2", "is not a QCOW2 image"},
		{"odd.raw", "RAW", "whole number of 512-byte sectors"},
		{"descriptor.vmdk", "VMDK", "not a single-file VMDK"},
		{"descriptor-as.raw", "RAW", "is a vmdk image, not raw"},
		{"missing.raw", "RAW", "cannot read s3://disks/missing.raw"},
	}
	if _, err := exec.LookPath("qemu-img"); err == nil {
		img := func(args ...string) []byte {
			t.Helper()
			if out, err := exec.Command("qemu-img", args...).CombinedOutput(); err != nil {
				t.Fatalf("qemu-img %v: %v %s", args, err, out)
			}
			b, err := os.ReadFile(args[len(args)-2])
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
		base := filepath.Join(dir, "base.qcow2")
		img("create", "-f", "qcow2", base, "8M")
		f.s3.objs["disks/backed.qcow2"] = img("create", "-f", "qcow2", "-b", base, "-F", "qcow2", filepath.Join(dir, "backed.qcow2"), "8M")
		f.s3.objs["disks/datafile.qcow2"] = img("create", "-f", "qcow2", "-o", "data_file="+filepath.Join(dir, "data.img"), filepath.Join(dir, "datafile.qcow2"), "8M")
		f.s3.objs["disks/a.qcow2"] = img("create", "-f", "qcow2", filepath.Join(dir, "a.qcow2"), "8M")
		cases = append(cases,
			struct{ key, format, want string }{"backed.qcow2", "QCOW2", "backing file"},
			struct{ key, format, want string }{"datafile.qcow2", "QCOW2", "external data file"},
			struct{ key, format, want string }{"a.qcow2", "RAW", "is a qcow2 image, not raw"},
			struct{ key, format, want string }{"a.qcow2", "VHD", "is not a VHD image"},
		)
	}
	for _, tc := range cases {
		task := f.submit(tc.key, tc.format)
		got := f.wait(task.ID)
		if got.Status != state.TaskDeleted || !strings.HasPrefix(got.StatusMessage, "ClientError: ") || !strings.Contains(got.StatusMessage, tc.want) {
			t.Errorf("%s as %s: %s %q, want deleted with a ClientError saying %q", tc.key, tc.format, got.Status, got.StatusMessage, tc.want)
		}
		if _, err := f.cl.State().Snapshot(task.SnapshotID); err == nil {
			t.Errorf("%s as %s registered a snapshot", tc.key, tc.format)
		}
	}
	if len(f.store.objs) != 0 {
		t.Fatalf("refused imports left objects: %v", slices.Collect(maps.Keys(f.store.objs)))
	}
}

// TestImportSnapshotCancel: a cancel stops a running import and removes every extent it
// uploaded; no snapshot is registered.
func TestImportSnapshotCancel(t *testing.T) {
	f := newImportFixture(t).start()
	f.s3.objs["disks/big.raw"] = testDisk(6 * replica.ExtentSize)
	gate := make(chan struct{})
	f.s3.gate["disks/big.raw"] = gate
	task := f.submit("big.raw", "RAW")
	// Wait until it is running (claimed), then cancel it.
	deadline := time.Now().Add(10 * time.Second)
	for {
		cur, _ := f.cl.State().ImportSnapshotTask(task.ID)
		if cur.Attempt == 1 && cur.Progress >= 5 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the import did not start: %+v", cur)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if _, err := f.cl.Apply(context.Background(), &state.CancelImportSnapshotTask{Account: "111", ID: task.ID}, nil); err != nil {
		t.Fatal(err)
	}
	got := f.wait(task.ID)
	if got.Status != state.TaskDeleted || got.StatusMessage != "Cancelled by the user" {
		t.Fatalf("cancelled task %+v", got)
	}
	if keys, _ := f.store.List(context.Background(), snapshot.ExtentPrefix(task.SnapshotID)); len(keys) != 0 {
		t.Fatalf("a cancelled import left %v", keys)
	}
	if _, err := f.cl.State().Snapshot(task.SnapshotID); err == nil {
		t.Fatal("a cancelled import registered its snapshot")
	}
}

// TestImportSnapshotRestartsFormerLeadersTask: a task a former leader had claimed is
// claimed again by the new leader's importer as a new attempt and completed, with its
// extents under the new attempt.
func TestImportSnapshotRestartsFormerLeadersTask(t *testing.T) {
	f := newImportFixture(t)
	f.s3.objs["disks/small.raw"] = testDisk(4 * replica.ExtentSize)
	task := f.submit("small.raw", "RAW")
	if _, err := f.cl.Apply(context.Background(), &state.ClaimImportSnapshotTask{ID: task.ID, Node: "box0"}, nil); err != nil {
		t.Fatal(err)
	}
	f.start()
	got := f.wait(task.ID)
	if got.Status != state.TaskCompleted || got.Node != "box1" || got.Attempt != 2 {
		t.Fatalf("restarted task %+v, want completed by box1 as attempt 2", got)
	}
	keys, _ := f.store.List(context.Background(), snapshot.ExtentPrefix(task.SnapshotID))
	if len(keys) != 2 {
		t.Fatalf("extents %v, want 2", keys)
	}
	for _, k := range keys {
		if !strings.HasPrefix(k, snapshot.ExtentPrefix(task.SnapshotID)+"2/") {
			t.Fatalf("extent %s is not of attempt 2", k)
		}
	}
}
