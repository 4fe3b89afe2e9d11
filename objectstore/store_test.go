package objectstore

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
)

func TestRoundTripSizes(t *testing.T) {
	forLayouts(t, func(t *testing.T, c *testCluster) {
		s := newTestStore(t, c, Options{BlockSize: 64 << 10})
		il := int(s.opts.InlineLimit)
		for i, n := range []int{0, 1, 7, il - 1, il, il + 1, 3<<20 + 13, 200<<10 + 1} {
			key := fmt.Sprintf("obj-%d", n)
			data := randBytes(n, uint64(i))
			sum := md5.Sum(data)
			oi := mustPut(t, s, key, data, PutOptions{ContentType: "x/y", Metadata: map[string]string{"a": "1"}, MD5: sum[:]})
			if oi.ETag != hex.EncodeToString(sum[:]) || oi.Size != int64(n) || oi.VersionID != NullVersionID {
				t.Fatalf("put %d: %+v", n, oi)
			}
			got, gi := mustGet(t, s, key, GetOptions{})
			if !bytes.Equal(got, data) {
				t.Fatalf("size %d: got %d bytes back, want the same %d", n, len(got), n)
			}
			if gi.ContentType != "x/y" || gi.Metadata["a"] != "1" || gi.ETag != oi.ETag {
				t.Fatalf("info %+v", gi)
			}
			hi, err := s.HeadObject(ctxT(t), "b", key, GetOptions{})
			if err != nil || hi.Size != int64(n) {
				t.Fatalf("head: %+v %v", hi, err)
			}
		}
	})
}

func TestRanges(t *testing.T) {
	c := newCluster(t, 1, 4)
	s := newTestStore(t, c, Options{BlockSize: 1000})
	for _, n := range []int{100, 5000 + 3} {
		data := randBytes(n, 9)
		key := fmt.Sprint("r", n)
		mustPut(t, s, key, data, PutOptions{})
		N := int64(n)
		cases := []struct {
			r          Range
			start, end int64
		}{
			{Range{0, 0}, 0, 1},
			{Range{0, -1}, 0, N},
			{Range{5, 49}, 5, 50},
			{Range{N - 1, N + 100}, N - 1, N},
			{Range{-10, 0}, N - 10, N},
			{Range{-N - 5, 0}, 0, N},
			{Range{999, 2001}, min(999, N), min(2002, N)},
		}
		for _, tc := range cases {
			if tc.r.Start >= N {
				continue
			}
			r := tc.r
			got, _ := mustGet(t, s, key, GetOptions{Range: &r})
			if !bytes.Equal(got, data[tc.start:tc.end]) {
				t.Fatalf("size %d range %+v: got %d bytes, want [%d,%d)", n, tc.r, len(got), tc.start, tc.end)
			}
		}
		for _, r := range []Range{{N, -1}, {N + 5, N + 10}} {
			if _, _, err := s.GetObject(ctxT(t), "b", key, GetOptions{Range: &r}); !errors.Is(err, ErrInvalidRange) {
				t.Fatalf("range %+v: %v, want ErrInvalidRange", r, err)
			}
		}
	}
	mustPut(t, s, "empty", nil, PutOptions{})
	r := Range{-1, 0}
	if _, _, err := s.GetObject(ctxT(t), "b", "empty", GetOptions{Range: &r}); !errors.Is(err, ErrInvalidRange) {
		t.Fatalf("suffix range on empty object: %v", err)
	}
}

func TestPutBadBodies(t *testing.T) {
	c := newCluster(t, 1, 4)
	s := newTestStore(t, c, Options{BlockSize: 64 << 10})
	for _, n := range []int{10, 1 << 20} {
		data := randBytes(n, 3)
		key := fmt.Sprint("bad", n)
		_, err := s.PutObject(ctxT(t), "b", key, bytes.NewReader(data[:n-1]), PutOptions{Size: int64(n)})
		if !errors.Is(err, ErrIncompleteBody) {
			t.Fatalf("short body: %v", err)
		}
		_, err = s.PutObject(ctxT(t), "b", key, bytes.NewReader(data), PutOptions{Size: int64(n), MD5: make([]byte, 16)})
		if !errors.Is(err, ErrBadDigest) {
			t.Fatalf("bad md5: %v", err)
		}
		_, err = s.PutObject(ctxT(t), "b", key, bytes.NewReader(data), PutOptions{Size: int64(n), ChecksumAlgorithm: "CRC32C", ChecksumValue: "AAAAAA=="})
		if !errors.Is(err, ErrChecksumMismatch) {
			t.Fatalf("bad checksum: %v", err)
		}
		if _, err := s.HeadObject(ctxT(t), "b", key, GetOptions{}); !errors.Is(err, ErrObjectNotFound) {
			t.Fatalf("after failed puts: %v", err)
		}
	}
	res, err := s.ListObjects(ctxT(t), "b", ListOptions{})
	if err != nil || len(res.Objects) != 0 {
		t.Fatalf("list after failed puts: %+v %v", res, err)
	}
	// Nothing staged is left behind.
	for _, l := range c.locals {
		ents := dirEntries(t, l.Path()+"/.banyan.sys/tmp")
		if len(ents) != 0 {
			t.Fatalf("staging not empty: %v", ents)
		}
	}
}

func TestChecksums(t *testing.T) {
	c := newCluster(t, 1, 1)
	s := newTestStore(t, c, Options{})
	data := []byte("123456789")
	want := map[string]string{
		"CRC32":     "y/Q5Jg==",
		"CRC32C":    "4waSgw==",
		"SHA1":      "98O8HYCOBHMq32eZZczDTKeuNEE=",
		"SHA256":    "FeKw08M4keuw8e9gnsQZQgwg4yDOlMZfvIwzEkSOsiU=",
		"CRC64NVME": "rosUhgp5mIg=",
	}
	for algo, sum := range want {
		oi := mustPut(t, s, "k"+algo, data, PutOptions{ChecksumAlgorithm: algo, ChecksumValue: sum})
		if oi.Checksums[algo] != sum {
			t.Fatalf("%s: %v", algo, oi.Checksums)
		}
	}
}

func TestConditionalPut(t *testing.T) {
	c := newCluster(t, 1, 4)
	s := newTestStore(t, c, Options{})
	oi := mustPut(t, s, "k", []byte("one"), PutOptions{IfNoneMatch: "*"})
	if _, err := s.PutObject(ctxT(t), "b", "k", strings.NewReader("two"), PutOptions{Size: 3, IfNoneMatch: "*"}); !errors.Is(err, ErrPreconditionFailed) {
		t.Fatalf("if-none-match on existing: %v", err)
	}
	if _, err := s.PutObject(ctxT(t), "b", "k", strings.NewReader("two"), PutOptions{Size: 3, IfMatch: "nope"}); !errors.Is(err, ErrPreconditionFailed) {
		t.Fatalf("if-match mismatch: %v", err)
	}
	mustPut(t, s, "k", []byte("two"), PutOptions{IfMatch: `"` + oi.ETag + `"`})
	if got, _ := mustGet(t, s, "k", GetOptions{}); string(got) != "two" {
		t.Fatalf("got %q", got)
	}
	// Concurrent If-None-Match on one node: exactly one wins.
	const n = 8
	errs := make(chan error, n)
	for i := range n {
		go func() {
			_, err := s.PutObject(ctxT(t), "b", "race", strings.NewReader("x"), PutOptions{Size: 1, IfNoneMatch: "*", Metadata: map[string]string{"i": fmt.Sprint(i)}})
			errs <- err
		}()
	}
	wins := 0
	for range n {
		if err := <-errs; err == nil {
			wins++
		} else if !errors.Is(err, ErrPreconditionFailed) {
			t.Fatal(err)
		}
	}
	if wins != 1 {
		t.Fatalf("%d concurrent If-None-Match puts succeeded", wins)
	}
}

func TestConcurrentWritesOfOneKey(t *testing.T) {
	c := newCluster(t, 3, 2)
	s := newTestStore(t, c, Options{BlockSize: 64 << 10})
	const n = 6
	bodies := make([][]byte, n)
	for i := range bodies {
		bodies[i] = randBytes(150<<10+i, uint64(i))
	}
	for _, versioning := range []string{"", VersioningEnabled} {
		inParallel(t, n, func(i int) {
			mustPut(t, s, "k"+versioning, bodies[i], PutOptions{Versioning: versioning})
		})
		got, _ := mustGet(t, s, "k"+versioning, GetOptions{})
		if !slices.ContainsFunc(bodies, func(b []byte) bool { return bytes.Equal(b, got) }) {
			t.Fatalf("versioning %q: the object is none of the bodies written", versioning)
		}
		st, err := s.readObject(ctxT(t), "b", "k"+versioning)
		if err != nil || st.stale {
			t.Fatalf("versioning %q: disks disagree after concurrent writes: %v", versioning, err)
		}
		want := 1
		if versioning != "" {
			want = n
		}
		if len(st.versions) != want {
			t.Fatalf("versioning %q: %d versions", versioning, len(st.versions))
		}
	}
}

func TestRemoteDisks(t *testing.T) {
	c := newCluster(t, 3, 2)
	c.remoteBox(t, "box1")
	c.remoteBox(t, "box2")
	s := newTestStore(t, c, Options{BlockSize: 64 << 10})
	for i, n := range []int{0, 5, 300 << 10, 2<<20 + 1} {
		data := randBytes(n, uint64(i))
		key := fmt.Sprint("remote/", n)
		mustPut(t, s, key, data, PutOptions{Versioning: VersioningEnabled})
		if got, _ := mustGet(t, s, key, GetOptions{}); !bytes.Equal(got, data) {
			t.Fatalf("%d bytes through remote disks", n)
		}
	}
	res, err := s.ListObjects(ctxT(t), "b", ListOptions{Prefix: "remote/"})
	if err != nil || len(res.Objects) != 4 {
		t.Fatalf("list: %+v %v", res, err)
	}
	if _, err := s.DeleteObject(ctxT(t), "b", "remote/5", DeleteOptions{Versioning: VersioningEnabled}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.HealObject(ctxT(t), "b", "remote/0"); err != nil {
		t.Fatal(err)
	}
}

// sharedLocker stands in for a cluster lock service shared by two nodes.
type sharedLocker struct{ k keyLocks }

func (l *sharedLocker) Lock(_ context.Context, name string) (func(), error) {
	return l.k.lock(name), nil
}

func TestConditionalPutAcrossNodesWithLocker(t *testing.T) {
	c := newCluster(t, 3, 2)
	lk := &sharedLocker{}
	nodes := []*Store{newTestStore(t, c, Options{Locker: lk}), newTestStore(t, c, Options{Locker: lk})}
	for round := range 5 {
		key := fmt.Sprint("race", round)
		errs := make(chan error, 8)
		for i := range 8 {
			go func() {
				_, err := nodes[i%2].PutObject(ctxT(t), "b", key, strings.NewReader("x"), PutOptions{Size: 1, IfNoneMatch: "*"})
				errs <- err
			}()
		}
		wins := 0
		for range 8 {
			if err := <-errs; err == nil {
				wins++
			} else if !errors.Is(err, ErrPreconditionFailed) {
				t.Fatal(err)
			}
		}
		if wins != 1 {
			t.Fatalf("round %d: %d If-None-Match puts through two nodes succeeded", round, wins)
		}
	}
}

func TestStorageClassScheme(t *testing.T) {
	c := newCluster(t, 1, 4)
	s := newTestStore(t, c, Options{BlockSize: 64 << 10})
	data := randBytes(500<<10, 1)
	oi := mustPut(t, s, "rr", data, PutOptions{StorageClass: "REDUCED_REDUNDANCY"})
	if oi.StorageClass != "REDUCED_REDUNDANCY" {
		t.Fatalf("class %q", oi.StorageClass)
	}
	st, err := s.readObject(ctxT(t), "b", "rr")
	if err != nil {
		t.Fatal(err)
	}
	if e := st.versions[0].Erasure; e.Data != 3 || e.Parity != 1 {
		t.Fatalf("REDUCED_REDUNDANCY on 4 disks stored as %d+%d, want 3+1", e.Data, e.Parity)
	}
	if got, _ := mustGet(t, s, "rr", GetOptions{}); !bytes.Equal(got, data) {
		t.Fatal("round trip")
	}
	res, err := s.ListObjects(ctxT(t), "b", ListOptions{})
	if err != nil || len(res.Objects) != 1 || res.Objects[0].StorageClass != "REDUCED_REDUNDANCY" {
		t.Fatalf("list %+v %v", res, err)
	}
}

// GetObject's reader serves io.Copy through WriteTo (decoding straight into the
// destination) and plain reads through a pipe; mixing them, and closing before or after
// reading, must give the same bytes and leave nothing running.
func TestObjectReaderPaths(t *testing.T) {
	c := newCluster(t, 3, 2)
	s := newTestStore(t, c, Options{})
	data := randBytes(5<<20+777, 42)
	mustPut(t, s, "k", data, PutOptions{})
	open := func() io.ReadCloser {
		_, rc, err := s.GetObject(ctxT(t), "b", "k", GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return rc
	}
	rc := open()
	var out bytes.Buffer
	if n, err := rc.(io.WriterTo).WriteTo(&out); err != nil || n != int64(len(data)) || !bytes.Equal(out.Bytes(), data) {
		t.Fatalf("WriteTo: %d bytes, %v", n, err)
	}
	rc.Close()

	rc = open()
	head := make([]byte, 1000)
	if _, err := io.ReadFull(rc, head); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if _, err := io.Copy(&out, rc); err != nil {
		t.Fatal(err)
	}
	if got := append(head, out.Bytes()...); !bytes.Equal(got, data) {
		t.Fatal("Read then WriteTo gave different bytes")
	}
	rc.Close()

	open().Close() // never read
	rc = open()
	io.ReadFull(rc, head)
	rc.Close() // closed mid-stream
}
