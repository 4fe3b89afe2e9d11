package objectstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/banyancloud/banyan/objectstore/disk"
	"github.com/banyancloud/banyan/objectstore/placement"
)

// retire sets the state of disks in c's map to st and bumps its version, as
// `banyan disk drain` / `remove` do through Raft.
func (c *testCluster) retire(t testing.TB, st placement.DiskState, ids ...string) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	m := placement.Map{Version: c.topo.Version() + 1}
	for _, id := range c.ids {
		d := placement.Disk{ID: id, Node: c.node[id], State: c.topo.Disk(id).State}
		if contains(ids, id) {
			d.State = st
		}
		m.Disks = append(m.Disks, d)
	}
	topo, err := placement.New(m)
	if err != nil {
		t.Fatal(err)
	}
	c.topo = topo
}

// holdsAnything reports whether disk d still has metadata of any object in
// bucket "b".
func holdsAnything(t testing.TB, d disk.Disk) []string {
	t.Helper()
	var keys []string
	err := d.Walk(context.Background(), "b", "", "", func(k string, _ *disk.ObjectMeta) error {
		keys = append(keys, k)
		return nil
	})
	if err != nil && !errors.Is(err, disk.ErrVolumeNotFound) {
		t.Fatal(err)
	}
	return keys
}

type relocObj struct {
	key  string
	data []byte
}

// putRelocationSet writes objects of every kind: inline, several blocks,
// multipart, and versions with a delete marker on top.
func putRelocationSet(t *testing.T, s *Store) []relocObj {
	t.Helper()
	var objs []relocObj
	for i := range 12 {
		size := []int{0, 100, 200 << 10, 3<<20 + 17}[i%4]
		o := relocObj{fmt.Sprintf("obj/%02d", i), randBytes(size, uint64(i))}
		mustPut(t, s, o.key, o.data, PutOptions{})
		objs = append(objs, o)
	}
	ctx := ctxT(t)
	id, err := s.NewMultipartUpload(ctx, "b", "multi", PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var parts []CompletePart
	var whole []byte
	for n := 1; n <= 2; n++ {
		p := randBytes([]int{0, 5 << 20, 1 << 20}[n], uint64(100+n))
		pi, err := s.PutObjectPart(ctx, "b", "multi", id, n, bytes.NewReader(p), PartOptions{Size: int64(len(p))})
		if err != nil {
			t.Fatal(err)
		}
		parts = append(parts, CompletePart{Number: n, ETag: pi.ETag})
		whole = append(whole, p...)
	}
	if _, err := s.CompleteMultipartUpload(ctx, "b", "multi", id, parts, PutOptions{}); err != nil {
		t.Fatal(err)
	}
	objs = append(objs, relocObj{"multi", whole})
	old := randBytes(300<<10, 7)
	mustPut(t, s, "versioned", old, PutOptions{Versioning: VersioningEnabled})
	if _, err := s.DeleteObject(ctx, "b", "versioned", DeleteOptions{Versioning: VersioningEnabled}); err != nil {
		t.Fatal(err)
	}
	return objs
}

func checkRelocationSet(t *testing.T, s *Store, objs []relocObj) {
	t.Helper()
	for _, o := range objs {
		if got, _ := mustGet(t, s, o.key, GetOptions{}); !bytes.Equal(got, o.data) {
			t.Fatalf("%s: read back %d bytes that differ from the %d written", o.key, len(got), len(o.data))
		}
	}
	vs, err := s.ListObjectVersions(ctxT(t), "b", ListVersionsOptions{Prefix: "versioned", MaxKeys: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(vs.Versions) != 2 || !vs.Versions[0].DeleteMarker || vs.Versions[1].DeleteMarker {
		t.Fatalf("versions of the versioned key: %+v", vs.Versions)
	}
	if got, _ := mustGet(t, s, "versioned", GetOptions{VersionID: vs.Versions[1].VersionID}); !bytes.Equal(got, randBytes(300<<10, 7)) {
		t.Fatal("the old version of the versioned key differs")
	}
}

// Draining a disk moves every version off it: afterwards it holds nothing,
// every object (and version, and delete marker) reads back, and removing
// the drained disk for good loses nothing.
func TestDrainMovesEverythingOff(t *testing.T) {
	c := newCluster(t, 3, 2)
	s := newTestStore(t, c, Options{})
	objs := putRelocationSet(t, s)
	victim := c.ids[1]
	if len(holdsAnything(t, c.locals[victim])) == 0 {
		t.Fatal("test setup: the disk to drain holds nothing")
	}

	// 5 disks left for new shards: 4+2 no longer fits, so versions are
	// re-encoded with the scheme new writes get.
	c.retire(t, placement.Draining, victim)
	checkRelocationSet(t, s, objs) // still readable before any move
	if _, err := s.ScanOnce(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if left := holdsAnything(t, c.locals[victim]); len(left) != 0 {
		t.Fatalf("drained disk still holds %v", left)
	}
	if st := s.HealStatus(); st.VersionsMoved == 0 || st.VersionsLeftToMove != 0 {
		t.Fatalf("after the drain's scan: %+v", st)
	}
	checkRelocationSet(t, s, objs)

	// A second scan has nothing left to move.
	before := s.HealStatus().VersionsMoved
	if _, err := s.ScanOnce(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if after := s.HealStatus().VersionsMoved; after != before {
		t.Fatalf("second scan moved %d more versions", after-before)
	}

	// The disk goes away for good.
	c.retire(t, placement.Removed, victim)
	c.set(victim, nil)
	checkRelocationSet(t, s, objs)
	mustPut(t, s, "after", []byte("written after the drain"), PutOptions{})
}

// Removing a whole box for good (it is dead and will not return) rebuilds
// its shards on the disks that are left, from the other shards.
func TestRemovedBoxIsRebuiltElsewhere(t *testing.T) {
	c := newCluster(t, 4, 2)
	s := newTestStore(t, c, Options{})
	objs := putRelocationSet(t, s)
	var gone []string
	for _, id := range c.ids {
		if c.node[id] == "box3" {
			gone = append(gone, id)
			c.set(id, nil) // the box is dead
		}
	}
	c.retire(t, placement.Removed, gone...)
	if _, err := s.ScanOnce(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	// Every version now lives on the boxes that are left, with full
	// redundancy: any one more box may fail.
	c.breakBox("box0")
	checkRelocationSet(t, s, objs)
	c.mend()
	for _, id := range gone {
		c.set(id, nil)
	}
}

// The background scanner does not wait out its interval when the disk map
// changes: a drain starts moving objects within a poll.
func TestScannerStartsOnMapChange(t *testing.T) {
	defer func(p time.Duration) { mapPoll = p }(mapPoll)
	mapPoll = 20 * time.Millisecond
	c := newCluster(t, 3, 2)
	s := newTestStore(t, c, Options{})
	objs := putRelocationSet(t, s)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.RunScanner(ctx, time.Hour, 0) }()
	defer func() { cancel(); <-done }()
	waitUntil(t, 10*time.Second, "the first scan", func() bool { return !s.HealStatus().LastScanEnded.IsZero() })

	victim := c.ids[2]
	c.retire(t, placement.Draining, victim)
	waitUntil(t, 30*time.Second, "the drained disk to empty", func() bool { return len(holdsAnything(t, c.locals[victim])) == 0 })
	checkRelocationSet(t, s, objs)
}

func waitUntil(t *testing.T, d time.Duration, what string, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A drain that cannot be carried out (no disk left to take the versions)
// moves nothing, loses nothing, and says how much is left.
func TestDrainWithNowhereToGo(t *testing.T) {
	c := newCluster(t, 1, 2)
	s := newTestStore(t, c, Options{})
	for i := range 3 {
		mustPut(t, s, fmt.Sprintf("k%d", i), randBytes(200<<10, uint64(i)), PutOptions{})
	}
	c.retire(t, placement.Draining, c.ids...)
	if _, err := s.ScanOnce(ctxT(t)); err == nil {
		t.Fatal("a scan that could not move anything reported no error")
	}
	if st := s.HealStatus(); st.VersionsLeftToMove != 3 || st.VersionsMoved != 0 {
		t.Fatalf("after an impossible drain: %+v", st)
	}
	for i := range 3 {
		if got, _ := mustGet(t, s, fmt.Sprintf("k%d", i), GetOptions{}); !bytes.Equal(got, randBytes(200<<10, uint64(i))) {
			t.Fatalf("k%d changed", i)
		}
	}
}

// An upload begun before a drain changed the map takes parts after it,
// completes and reads back.
func TestUploadAcrossADrain(t *testing.T) {
	c := newCluster(t, 3, 2)
	s := newTestStore(t, c, Options{})
	ctx := ctxT(t)
	id, err := s.NewMultipartUpload(ctx, "b", "up", PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var whole []byte
	var parts []CompletePart
	put := func(n int) {
		p := randBytes(5<<20+n, uint64(n))
		pi, err := s.PutObjectPart(ctx, "b", "up", id, n, bytes.NewReader(p), PartOptions{Size: int64(len(p))})
		if err != nil {
			t.Fatalf("part %d: %v", n, err)
		}
		parts = append(parts, CompletePart{Number: n, ETag: pi.ETag})
		whole = append(whole, p...)
	}
	put(1)
	c.retire(t, placement.Draining, c.ids[0], c.ids[2])
	put(2)
	if _, err := s.CompleteMultipartUpload(ctx, "b", "up", id, parts, PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if got, _ := mustGet(t, s, "up", GetOptions{}); !bytes.Equal(got, whole) {
		t.Fatal("the object differs from its parts")
	}
}
