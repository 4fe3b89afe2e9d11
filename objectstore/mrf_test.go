package objectstore

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/banyancloud/banyan/objectstore/disk"
)

// onDisk reports whether local disk id has version oi of key, shard files
// verified.
func onDisk(t *testing.T, c *testCluster, id, key string, oi ObjectInfo) bool {
	t.Helper()
	m, err := c.locals[id].ReadMetadata(ctxT(t), "b", key)
	if err != nil {
		return false
	}
	v, ok := m.FindVersion(toDiskVersionID(oi.VersionID))
	if !ok || !v.ModTime.Equal(oi.ModTime) {
		return false
	}
	for _, p := range v.Parts {
		if v.DataDir == "" {
			break
		}
		if err := c.locals[id].VerifyFile(ctxT(t), "b", key, v.DataDir, p.Number, v.Erasure.Scheme(), p.Size); err != nil {
			return false
		}
	}
	return true
}

// Writes that miss a failing disk are queued and repaired by themselves once
// the disk answers again: no HealObject, no scan.
func TestMRFRepairsWhenDiskReturns(t *testing.T) {
	c := newCluster(t, 3, 2) // 4+2 over all six disks
	s := newTestStore(t, c, Options{BlockSize: 64 << 10, HealWorkers: 1})
	sick := c.ids[1]
	f := c.faulty(sick)
	f.Set("*", disk.ErrFaultyDisk, 0)

	big := randBytes(300<<10+9, 21)
	written := map[string]ObjectInfo{
		"big":   mustPut(t, s, "big", big, PutOptions{}),
		"small": mustPut(t, s, "small", []byte("inline"), PutOptions{}),
	}
	mustPut(t, s, "gone", []byte("x"), PutOptions{Versioning: VersioningEnabled})
	marker, err := s.DeleteObject(ctxT(t), "b", "gone", DeleteOptions{Versioning: VersioningEnabled})
	if err != nil {
		t.Fatal(err)
	}
	written["gone"] = marker
	for k, oi := range written {
		if onDisk(t, c, sick, k, oi) {
			t.Fatalf("%s reached the failing disk", k)
		}
	}
	if st := s.HealStatus(); st.MRFQueued != 3 {
		t.Fatalf("queued %d, want 3: %+v", st.MRFQueued, st)
	}
	// While the disk keeps failing the entries stay.
	time.Sleep(2 * mrfInterval)
	if st := s.HealStatus(); st.MRFQueued != 3 || st.MRFRepaired != 0 {
		t.Fatalf("disk still away: %+v", st)
	}

	f.Heal()
	deadline := time.Now().Add(5 * time.Second)
	for {
		missing := ""
		for k, oi := range written {
			if !onDisk(t, c, sick, k, oi) {
				missing = k
			}
		}
		if missing == "" && s.HealStatus().MRFQueued == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%q not repaired on the returning disk: %+v", missing, s.HealStatus())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if st := s.HealStatus(); st.MRFRepaired != 3 || st.MRFDropped != 0 {
		t.Fatalf("status %+v", st)
	}
	if got, _ := mustGet(t, s, "big", GetOptions{}); !bytes.Equal(got, big) {
		t.Fatal("read after repair")
	}

	// Close stops the worker.
	stopped := make(chan struct{})
	go func() { s.Close(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not stop the repair worker")
	}
}

// A box whose disks have no handle (the node wiring gives none for a dead
// box) gets what it missed when it comes back.
func TestMRFRepairsWhenBoxReturns(t *testing.T) {
	c := newCluster(t, 3, 2)
	s := newTestStore(t, c, Options{BlockSize: 64 << 10, HealWorkers: 1})
	var down []string
	for _, id := range c.ids {
		if c.node[id] == "box2" {
			down = append(down, id)
			c.set(id, nil)
		}
	}
	data := randBytes(200<<10, 22)
	oi := mustPut(t, s, "k", data, PutOptions{})
	if st := s.HealStatus(); st.MRFQueued != 1 {
		t.Fatalf("status %+v", st)
	}
	time.Sleep(2 * mrfInterval)
	if onDisk(t, c, down[0], "k", oi) || s.HealStatus().MRFQueued != 1 {
		t.Fatalf("repaired while the box was down: %+v", s.HealStatus())
	}
	c.mend()
	deadline := time.Now().Add(5 * time.Second)
	for !onDisk(t, c, down[0], "k", oi) || !onDisk(t, c, down[1], "k", oi) || s.HealStatus().MRFQueued != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("not repaired on the returning box: %+v", s.HealStatus())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if st := s.HealStatus(); st.MRFRepaired != 1 {
		t.Fatalf("status %+v", st)
	}
}

// A healthy write queues nothing; a store without heal workers runs no
// repairs (tests and tools heal by hand).
func TestMRFQuiet(t *testing.T) {
	c := newCluster(t, 1, 4)
	s := newTestStore(t, c, Options{BlockSize: 64 << 10, HealWorkers: 1})
	mustPut(t, s, "k", randBytes(100<<10, 23), PutOptions{})
	if st := s.HealStatus(); st.MRFQueued != 0 {
		t.Fatalf("healthy write queued: %+v", st)
	}

	s2 := newTestStore(t, c, Options{BlockSize: 64 << 10}) // HealWorkers -1
	f := c.faulty(c.ids[3])
	f.Set("*", disk.ErrFaultyDisk, 0)
	oi := mustPut(t, s2, "k2", randBytes(100<<10, 24), PutOptions{})
	f.Heal()
	time.Sleep(2 * mrfInterval)
	if onDisk(t, c, c.ids[3], "k2", oi) {
		t.Fatal("repaired without heal workers")
	}
	if st := s2.HealStatus(); st.MRFQueued != 1 {
		t.Fatalf("status %+v", st)
	}
}

// A version delete that misses a failing disk is queued like a write: once
// the disk answers again, the version it still holds is dropped there.
func TestMRFRepairsMissedDelete(t *testing.T) {
	c := newCluster(t, 3, 2)
	s := newTestStore(t, c, Options{BlockSize: 64 << 10, HealWorkers: 1})
	oi := mustPut(t, s, "k", randBytes(200<<10, 25), PutOptions{})
	// Older than the healer's grace for unfinished writes, as the version
	// a delete removes usually is: the copy left behind is then not taken
	// for a commit in flight.
	for _, id := range c.ids {
		m, err := c.locals[id].ReadMetadata(ctxT(t), "b", "k")
		if err != nil {
			t.Fatal(err)
		}
		m.Versions[0].ModTime = m.Versions[0].ModTime.Add(-2 * commitGrace)
		if err := c.locals[id].WriteMetadata(ctxT(t), "b", "k", m); err != nil {
			t.Fatal(err)
		}
	}
	oi.ModTime = oi.ModTime.Add(-2 * commitGrace)
	sick := c.ids[4]
	f := c.faulty(sick)
	f.Set("*", disk.ErrFaultyDisk, 0)
	if _, err := s.DeleteObject(ctxT(t), "b", "k", DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if !onDisk(t, c, sick, "k", oi) {
		t.Fatal("the failing disk lost the version")
	}
	if st := s.HealStatus(); st.MRFQueued != 1 {
		t.Fatalf("missed delete not queued: %+v", st)
	}
	time.Sleep(2 * mrfInterval)
	if st := s.HealStatus(); st.MRFQueued != 1 || !onDisk(t, c, sick, "k", oi) {
		t.Fatalf("disk still away: %+v", st)
	}

	f.Heal()
	deadline := time.Now().Add(5 * time.Second)
	for onDisk(t, c, sick, "k", oi) || s.HealStatus().MRFQueued != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("deleted version not dropped on the returning disk: %+v", s.HealStatus())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if st := s.HealStatus(); st.MRFRepaired != 1 || st.MRFDropped != 0 {
		t.Fatalf("status %+v", st)
	}
	if _, _, err := s.GetObject(ctxT(t), "b", "k", GetOptions{}); !errors.Is(err, ErrObjectNotFound) {
		t.Fatalf("after the repair: %v", err)
	}
}

// A delete that misses a box, of a version written a moment before (as the
// soak's clients do: well inside the healer's grace for unfinished writes),
// must leave nothing behind once the box answers again: the copy the box
// kept counts toward the version's quorum whenever other disks of the set
// are down, and a listing through a node that cannot reach them would show
// the key deleted through another node (the chaos soak's list-after-delete
// anomaly).
func TestMRFDropsYoungMissedDelete(t *testing.T) {
	c := newCluster(t, 3, 2) // 4+2: a delete reaches its quorum of 4 without a box
	s := newTestStore(t, c, Options{BlockSize: 64 << 10, HealWorkers: 1})
	for _, size := range []int{100, 200 << 10} { // inline and with shard files
		key := fmt.Sprintf("k%d", size)
		oi := mustPut(t, s, key, randBytes(size, uint64(size)), PutOptions{})
		var away, other []string
		for _, id := range c.ids {
			switch c.node[id] {
			case "box2":
				away = append(away, id)
			case "box1":
				other = append(other, id)
			}
		}
		for _, id := range away {
			c.set(id, nil) // box2 cut off from this node
		}
		if _, err := s.DeleteObject(ctxT(t), "b", key, DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		if !onDisk(t, c, away[0], key, oi) {
			t.Fatal("the away box lost the version")
		}
		c.mend()
		deadline := time.Now().Add(5 * time.Second)
		for s.HealStatus().MRFQueued != 0 {
			if time.Now().After(deadline) {
				t.Fatalf("missed delete not repaired: %+v", s.HealStatus())
			}
			time.Sleep(50 * time.Millisecond)
		}
		for _, id := range away {
			if onDisk(t, c, id, key, oi) {
				t.Errorf("%s: disk %s of the returning box still holds the deleted version", key, id)
			}
		}
		// Now another box is away: the listing (and a GET) must still see
		// the key as deleted.
		for _, id := range other {
			c.set(id, nil)
		}
		res, err := s.ListObjects(ctxT(t), "b", ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range res.Objects {
			if o.Key == key {
				t.Errorf("%s listed after its acknowledged delete", key)
			}
		}
		if _, _, err := s.GetObject(ctxT(t), "b", key, GetOptions{}); !errors.Is(err, ErrObjectNotFound) {
			t.Errorf("%s: GET after its acknowledged delete: %v", key, err)
		}
		c.mend()
	}
}

// A box that missed both an overwrite of the null version and the delete of the
// version that replaced it holds the first version: the repair drops that too, since
// it was replaced at write quorum. (The soak read back a zero-byte object deleted 20 s
// earlier this way, through a node that could not reach a third box.)
func TestMRFDropsWhatTheDeletedVersionReplaced(t *testing.T) {
	c := newCluster(t, 3, 2)
	s := newTestStore(t, c, Options{BlockSize: 64 << 10, HealWorkers: 1})
	away, other := c.boxDisks("box2"), c.boxDisks("box1")
	first := mustPut(t, s, "k", nil, PutOptions{})
	for _, id := range away {
		c.set(id, nil)
	}
	mustPut(t, s, "k", []byte("second"), PutOptions{})
	if _, err := s.DeleteObject(ctxT(t), "b", "k", DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	c.mend()
	deadline := time.Now().Add(5 * time.Second)
	for s.HealStatus().MRFQueued != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("not repaired: %+v", s.HealStatus())
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, id := range away {
		if onDisk(t, c, id, "k", first) {
			t.Errorf("disk %s of the returning box still holds the overwritten version", id)
		}
	}
	for _, id := range other {
		c.set(id, nil)
	}
	if _, _, err := s.GetObject(ctxT(t), "b", "k", GetOptions{}); !errors.Is(err, ErrObjectNotFound) {
		t.Errorf("GET after the acknowledged overwrite and delete: %v", err)
	}
}

// An empty object decodes from no shards, but a GET still needs a read quorum of its
// set to hold the version: here the only copy left is on the box that missed its
// delete (no repair worker runs), and another box is away, so agree accepts it from
// fewer disks. The answer is ErrReadQuorum, not the deleted object.
func TestGetEmptyLeftoverNeedsQuorum(t *testing.T) {
	c := newCluster(t, 3, 2)
	s := newTestStore(t, c, Options{BlockSize: 64 << 10}) // no heal workers: no repair
	mustPut(t, s, "k", nil, PutOptions{})
	for _, id := range c.boxDisks("box2") {
		c.set(id, nil)
	}
	if _, err := s.DeleteObject(ctxT(t), "b", "k", DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	c.mend()
	for _, id := range c.boxDisks("box1") {
		c.set(id, nil)
	}
	_, rc, err := s.GetObject(ctxT(t), "b", "k", GetOptions{})
	if err == nil {
		rc.Close()
	}
	if !errors.Is(err, ErrReadQuorum) && !errors.Is(err, ErrObjectNotFound) {
		t.Fatalf("GET of a deleted empty object from its leftover copy: %v", err)
	}
}
