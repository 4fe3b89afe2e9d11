package objectstore

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/banyancloud/banyan/objectstore/disk"
)

// shardHolders returns the disks of key's latest version in shard order.
func shardHolders(t *testing.T, c *testCluster, key string) []string {
	t.Helper()
	m, err := c.locals[c.ids[0]].ReadMetadata(ctxT(t), "b", key)
	if err != nil {
		t.Fatal(err)
	}
	e := m.Versions[0].Erasure
	out := make([]string, len(e.Disks))
	for j, id := range e.Disks {
		out[shardOf(&e, j)] = id
	}
	return out
}

// readBoth reads key once through Read (io.ReadAll) and once through
// WriteTo (io.Copy), as the S3 front end does, calling arm before each.
func readBoth(t *testing.T, s *Store, key string, arm func()) (viaRead, viaWriteTo []byte, errRead, errWriteTo error) {
	t.Helper()
	for k := range 2 {
		arm()
		_, rc, err := s.GetObject(ctxT(t), "b", key, GetOptions{})
		if err != nil {
			t.Fatalf("get %s: %v", key, err)
		}
		var b []byte
		if k == 0 {
			b, err = io.ReadAll(struct{ io.Reader }{rc})
			viaRead, errRead = b, err
		} else {
			var buf bytes.Buffer
			_, err = io.Copy(&buf, rc)
			viaWriteTo, errWriteTo = buf.Bytes(), err
		}
		rc.Close()
	}
	return
}

// More failing disks than parity: GetObject says so before returning a
// reader, whether the shard files fail to open or their first frame fails
// to read; with exactly parity failing the object reads whole.
func TestGetReadQuorumBeforeBody(t *testing.T) {
	c := newCluster(t, 1, 4) // 2+2
	s := newTestStore(t, c, Options{BlockSize: 64 << 10})
	data := randBytes(300<<10+3, 11)
	mustPut(t, s, "k", data, PutOptions{})
	mustPut(t, s, "small", []byte("inline"), PutOptions{})
	holders := shardHolders(t, c, "k")
	if len(holders) != 4 {
		t.Fatalf("set of %d disks", len(holders))
	}

	for _, method := range []string{"OpenFile", "ReadAt"} {
		c.mend()
		for _, id := range holders[:2] {
			c.faulty(id).Set(method, disk.ErrFaultyDisk, 0)
		}
		if got, _ := mustGet(t, s, "k", GetOptions{}); !bytes.Equal(got, data) {
			t.Fatalf("%s failing on 2 of 4 disks: wrong body", method)
		}
		c.faulty(holders[2]).Set(method, disk.ErrFaultyDisk, 0)
		oi, rc, err := s.GetObject(ctxT(t), "b", "k", GetOptions{})
		if !errors.Is(err, ErrReadQuorum) || rc != nil {
			t.Fatalf("%s failing on 3 of 4 disks: %v (reader %v); want ErrReadQuorum and no reader", method, err, rc)
		}
		if oi.Size != int64(len(data)) {
			t.Fatalf("info with the quorum error: %+v", oi)
		}
		// A range further in is checked the same way.
		if _, _, err := s.GetObject(ctxT(t), "b", "k", GetOptions{Range: &Range{Start: 200 << 10, End: -1}}); !errors.Is(err, ErrReadQuorum) {
			t.Fatalf("%s: ranged get: %v", method, err)
		}
		// Inline objects need no shard file.
		if got, _ := mustGet(t, s, "small", GetOptions{}); string(got) != "inline" {
			t.Fatalf("%s: inline object read %q", method, got)
		}
	}
	c.mend()
	if got, _ := mustGet(t, s, "k", GetOptions{}); !bytes.Equal(got, data) {
		t.Fatal("read after the disks mended")
	}
}

// A healthy read opens only the data shards; parity shard files are
// opened when a data shard fails.
func TestGetOpensParityLazily(t *testing.T) {
	c := newCluster(t, 3, 2) // 4+2
	s := newTestStore(t, c, Options{BlockSize: 64 << 10})
	data := randBytes(1<<20+77, 12)
	mustPut(t, s, "k", data, PutOptions{})
	holders := shardHolders(t, c, "k")
	fs := make([]*disk.Faulty, len(holders))
	for j, id := range holders {
		fs[j] = c.faulty(id)
	}
	if got, _ := mustGet(t, s, "k", GetOptions{}); !bytes.Equal(got, data) {
		t.Fatal("healthy read")
	}
	for j, f := range fs {
		if n, want := f.Calls("OpenFile"), btoi(j < 4); n != want {
			t.Errorf("healthy read: shard %d opened %d times, want %d", j, n, want)
		}
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Shards whose reads fail part way through the body are replaced by the
// other shards on the fly: the body is whole while Data shards remain,
// and breaks off with ErrReadQuorum only when fewer do.
func TestGetShardFailsMidStream(t *testing.T) {
	c := newCluster(t, 3, 2) // 4+2
	s := newTestStore(t, c, Options{BlockSize: 64 << 10})
	data := randBytes(1<<20+77, 13) // 17 blocks of 64 KiB
	mustPut(t, s, "k", data, PutOptions{})
	holders := shardHolders(t, c, "k")

	type fault struct{ shard, after int }
	arm := func(fs ...fault) func() {
		return func() {
			c.mend()
			for _, f := range fs {
				c.faulty(holders[f.shard]).Set("ReadAt", disk.ErrFaultyDisk, f.after)
			}
		}
	}

	// Data shard 0 fails after 3 frames.
	r, w, er, ew := readBoth(t, s, "k", arm(fault{0, 3}))
	if er != nil || ew != nil || !bytes.Equal(r, data) || !bytes.Equal(w, data) {
		t.Fatalf("one shard failing mid-stream: %v %v, %d/%d bytes", er, ew, len(r), len(w))
	}

	// Then data shard 2 after 8 frames too: the 4 shards left still carry
	// the object.
	r, w, er, ew = readBoth(t, s, "k", arm(fault{0, 3}, fault{2, 8}))
	if er != nil || ew != nil || !bytes.Equal(r, data) || !bytes.Equal(w, data) {
		t.Fatalf("two shards failing mid-stream: %v %v, %d/%d bytes", er, ew, len(r), len(w))
	}

	// And a parity shard the decoder opened for them: the body breaks off,
	// with the quorum error.
	r, w, er, ew = readBoth(t, s, "k", arm(fault{0, 3}, fault{2, 8}, fault{4, 2}))
	if !errors.Is(er, ErrReadQuorum) || !errors.Is(ew, ErrReadQuorum) {
		t.Fatalf("three shards failing mid-stream: %v / %v; want ErrReadQuorum", er, ew)
	}
	if len(r) == 0 || len(r) >= len(data) || !bytes.Equal(r, data[:len(r)]) || !bytes.Equal(w, data[:len(w)]) {
		t.Fatalf("broken-off body: %d and %d bytes of %d, or wrong", len(r), len(w), len(data))
	}
	c.mend()
}
