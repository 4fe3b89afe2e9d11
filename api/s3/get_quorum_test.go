package s3

import (
	"bytes"
	"crypto/rand"
	"testing"

	"github.com/banyancloud/banyan/objectstore"
	"github.com/banyancloud/banyan/objectstore/disk"
	"github.com/banyancloud/banyan/objectstore/placement"
)

// faultyDisks is a Disks of local disks on one box, each behind a disk.Faulty.
type faultyDisks struct {
	topo   *placement.Topology
	faulty map[string]*disk.Faulty
}

func (d *faultyDisks) Topology() *placement.Topology { return d.topo }
func (d *faultyDisks) Disk(id string) disk.Disk {
	if f, ok := d.faulty[id]; ok {
		return f
	}
	return nil
}

func newFaultyStore(t *testing.T, n int) (*objectstore.Store, *faultyDisks) {
	t.Helper()
	d := &faultyDisks{faulty: map[string]*disk.Faulty{}}
	var m placement.Map
	m.Version = 1
	for range n {
		l, err := disk.OpenLocal(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		d.faulty[l.ID()] = &disk.Faulty{Disk: l}
		m.Disks = append(m.Disks, placement.Disk{ID: l.ID(), Node: "box0"})
	}
	topo, err := placement.New(m)
	if err != nil {
		t.Fatal(err)
	}
	d.topo = topo
	s := objectstore.New(d, objectstore.Options{HealWorkers: -1, BlockSize: 64 << 10})
	t.Cleanup(func() { s.Close() })
	return s, d
}

// A GET of an object whose shard files too few disks can open is answered 503
// SlowDown, a clean error document, before any byte of the body; a conditional GET
// that needs no data still gets its 304.
func TestGetReadQuorumIsSlowDown(t *testing.T) {
	e := newEnv(t)
	store, disks := newFaultyStore(t, 4) // 2+2
	e.front.objects = store
	mustBucket(t, e.rootClient(), "quorum")
	data := make([]byte, 300<<10)
	rand.Read(data)
	if resp, body := e.signed("PUT", "/quorum/k", bytes.NewReader(data), int64(len(data)), nil); resp.StatusCode != 200 {
		t.Fatalf("put: %d %s", resp.StatusCode, body)
	}
	resp, body := e.signed("GET", "/quorum/k", nil, 0, nil)
	if resp.StatusCode != 200 || !bytes.Equal(body, data) {
		t.Fatalf("healthy get: %d, %d bytes", resp.StatusCode, len(body))
	}
	etag := resp.Header.Get("ETag")

	n := 0
	for _, f := range disks.faulty {
		if n++; n <= 3 {
			f.Set("OpenFile", disk.ErrFaultyDisk, 0)
		}
	}
	resp, body = e.signed("GET", "/quorum/k", nil, 0, nil)
	if resp.StatusCode != 503 || errorCode(body) != "SlowDown" || !bytes.Contains(body, []byte("disks answered")) {
		t.Fatalf("get with 3 of 4 disks failing: %d %s", resp.StatusCode, body)
	}
	resp, body = e.signed("GET", "/quorum/k", nil, 0, map[string]string{"Range": "bytes=1000-2000"})
	if resp.StatusCode != 503 || errorCode(body) != "SlowDown" {
		t.Fatalf("ranged get with 3 of 4 disks failing: %d %s", resp.StatusCode, body)
	}
	resp, _ = e.signed("GET", "/quorum/k", nil, 0, map[string]string{"If-None-Match": etag})
	if resp.StatusCode != 304 {
		t.Fatalf("conditional get with 3 of 4 disks failing: %d", resp.StatusCode)
	}
	resp, _ = e.signed("HEAD", "/quorum/k", nil, 0, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("head with 3 of 4 disks failing: %d", resp.StatusCode)
	}
	for _, f := range disks.faulty {
		f.Heal()
	}
	resp, body = e.signed("GET", "/quorum/k", nil, 0, nil)
	if resp.StatusCode != 200 || !bytes.Equal(body, data) {
		t.Fatalf("get after the disks mended: %d, %d bytes", resp.StatusCode, len(body))
	}
}
