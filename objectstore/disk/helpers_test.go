package disk

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/banyancloud/banyan/objectstore/erasure"
)

// mustOpenLocal opens a fresh disk in a temporary directory, closed when
// the test ends.
func mustOpenLocal(t testing.TB) *Local {
	t.Helper()
	return mustOpenLocalAt(t, t.TempDir())
}

func mustOpenLocalAt(t testing.TB, dir string) *Local {
	t.Helper()
	l, err := OpenLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// serve puts disks behind an httptest server running NewHandler.
func serve(t testing.TB, disks ...Disk) *httptest.Server {
	t.Helper()
	m := map[string]Disk{}
	for _, d := range disks {
		m[d.ID()] = d
	}
	srv := httptest.NewServer(NewHandler(m))
	t.Cleanup(srv.Close)
	return srv
}

func mustRemote(t testing.TB, d Disk) *Remote {
	t.Helper()
	srv := serve(t, d)
	return NewRemote(srv.Client(), srv.URL, d.ID())
}

// forEachDisk runs a test against a Local and against a Remote in front of
// a Local: the client/server pair must behave exactly like the disk. The
// test also gets the Local underneath, to look at or damage its files.
func forEachDisk(t *testing.T, fn func(t *testing.T, d Disk, l *Local)) {
	t.Run("local", func(t *testing.T) {
		l := mustOpenLocal(t)
		fn(t, l, l)
	})
	t.Run("remote", func(t *testing.T) {
		l := mustOpenLocal(t)
		fn(t, mustRemote(t, l), l)
	})
}

var bg = context.Background()

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func mustMakeVolume(t testing.TB, d Disk, bucket string) {
	t.Helper()
	must(t, d.MakeVolume(bg, bucket))
}

func randBytes(seed uint64, n int) []byte {
	b := make([]byte, n)
	rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8)}).Read(b)
	return b
}

// testScheme mirrors nothing (1+0) with small blocks, so a shard file is
// just the object framed with hashes and tests cross many blocks cheaply.
var testScheme = erasure.Scheme{Data: 1, Parity: 0, BlockSize: 4096}

// shardFile encodes data as the single shard of testScheme.
func shardFile(t testing.TB, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	if _, err := erasure.Encode(bg, bytes.NewReader(data), []io.Writer{&buf}, testScheme, 1); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

var clock = time.Date(2025, 3, 1, 12, 0, 0, 123456789, time.UTC)

// version builds a version at clock+tick seconds.
func version(id string, tick int) Version {
	return Version{
		VersionID:   id,
		ModTime:     clock.Add(time.Duration(tick) * time.Second),
		ETag:        "etag-" + id + "-" + strconv.Itoa(tick),
		ContentType: "application/octet-stream",
		UserMeta:    map[string]string{"owner": "test"},
		Erasure: ErasureInfo{
			Data: testScheme.Data, Parity: testScheme.Parity, BlockSize: testScheme.BlockSize,
			Index: 0, Disks: []string{"d0"}, Distribution: []int{0},
		},
	}
}

// putData stages data as part 1 of a new data dir and commits v with it.
func putData(t testing.TB, d Disk, bucket, object string, v Version, data []byte) Version {
	t.Helper()
	shard := shardFile(t, data)
	up := newUUID()
	must(t, d.CreateFile(bg, bucket, up+"/part.1", int64(len(shard)), bytes.NewReader(shard)))
	v.DataDir = newUUID()
	v.Size = int64(len(data))
	v.Parts = []Part{{Number: 1, Size: int64(len(data)), ETag: v.ETag}}
	must(t, d.RenameData(bg, up, bucket, object, v))
	return v
}

// putInline commits v with data inline.
func putInline(t testing.TB, d Disk, bucket, object string, v Version, data []byte) Version {
	t.Helper()
	v.Inline = data
	v.Size = int64(len(data))
	must(t, d.RenameData(bg, "", bucket, object, v))
	return v
}

// readShardData decodes the object bytes of part 1 of v from d.
func readShardData(t testing.TB, d Disk, bucket, object string, v Version) []byte {
	t.Helper()
	f, size, err := d.OpenFile(bg, bucket, object, v.DataDir, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if want := testScheme.ShardFileSize(v.Size); size != want {
		t.Fatalf("shard file of %d bytes, want %d", size, want)
	}
	var out bytes.Buffer
	if _, err := erasure.Decode(bg, &out, []erasure.ShardReader{f}, testScheme, v.Size, 0, v.Size); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// listAll walks and returns the keys reported.
func listAll(t testing.TB, d Disk, bucket, prefix, startAfter string) []string {
	t.Helper()
	keys := []string{}
	must(t, d.Walk(bg, bucket, prefix, startAfter, func(k string, _ *ObjectMeta) error {
		keys = append(keys, k)
		return nil
	}))
	return keys
}

func equalMeta(t testing.TB, got, want *ObjectMeta) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("metadata differs\n got: %+v\nwant: %+v", got, want)
	}
}

// dirEntries lists a directory's names, for checks of what is on disk.
func dirEntries(t testing.TB, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

func nodeDir(l *Local, bucket, object string) string {
	return filepath.Join(l.bucketDir(bucket), keyPath(object))
}

// eventually waits up to 5 s for cond to hold.
func eventually(t testing.TB, cond func() bool, format string, args ...any) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf(format, args...)
		}
	}
}

// waitTrashEmpty waits (up to 10 s) for the background emptier to clear
// the disk's trash.
func waitTrashEmpty(t *testing.T, l *Local) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ents := dirEntries(t, l.trash)
		if len(ents) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("trash keeps %v", ents)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
