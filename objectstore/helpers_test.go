package objectstore

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/banyancloud/banyan/objectstore/disk"
	"github.com/banyancloud/banyan/objectstore/placement"
)

// testCluster is a Disks over real local disks in temporary directories,
// spread over named boxes. Disks can be swapped for fault-injecting
// wrappers while the store runs.
type testCluster struct {
	mu     sync.Mutex
	topo   *placement.Topology
	disks  map[string]disk.Disk
	locals map[string]*disk.Local
	ids    []string // in box-major order
	node   map[string]string
}

func (c *testCluster) Topology() *placement.Topology {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.topo
}

func (c *testCluster) Disk(id string) disk.Disk {
	c.mu.Lock()
	defer c.mu.Unlock()
	if d, ok := c.disks[id]; ok {
		return d
	}
	return nil
}

// set replaces the disk with id (a Faulty, a Broken, or the local again).
func (c *testCluster) set(id string, d disk.Disk) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.disks[id] = d
}

// faulty wraps disk id in a Faulty and returns it.
func (c *testCluster) faulty(id string) *disk.Faulty {
	f := &disk.Faulty{Disk: c.locals[id]}
	c.set(id, f)
	return f
}

// breakBox makes every disk of node fail every call.
func (c *testCluster) breakBox(node string) {
	for _, id := range c.ids {
		if c.node[id] == node {
			c.set(id, disk.Broken{DiskID: id})
		}
	}
}

func (c *testCluster) mend() {
	for _, id := range c.ids {
		c.set(id, c.locals[id])
	}
}

// newCluster opens boxes × perBox local disks.
func newCluster(t testing.TB, boxes, perBox int) *testCluster {
	t.Helper()
	c := &testCluster{disks: map[string]disk.Disk{}, locals: map[string]*disk.Local{}, node: map[string]string{}}
	var m placement.Map
	m.Version = 1
	for b := range boxes {
		for range perBox {
			l, err := disk.OpenLocal(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { l.Close() })
			node := fmt.Sprintf("box%d", b)
			c.disks[l.ID()], c.locals[l.ID()], c.node[l.ID()] = l, l, node
			c.ids = append(c.ids, l.ID())
			m.Disks = append(m.Disks, placement.Disk{ID: l.ID(), Node: node})
		}
	}
	topo, err := placement.New(m)
	if err != nil {
		t.Fatal(err)
	}
	c.topo = topo
	return c
}

// newTestStore returns a store over c with a bucket "b" made.
func newTestStore(t testing.TB, c *testCluster, opts Options) *Store {
	t.Helper()
	if opts.HealWorkers == 0 {
		opts.HealWorkers = -1 // tests heal explicitly
	}
	s := New(c, opts)
	t.Cleanup(func() { s.Close() })
	if err := s.MakeBucket(context.Background(), "b"); err != nil {
		t.Fatal(err)
	}
	return s
}

func randBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		v := r.Uint64()
		for j := range 8 {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	for i := n - n%8; i < n; i++ {
		b[i] = byte(r.Uint32())
	}
	return b
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func mustPut(t testing.TB, s *Store, key string, data []byte, opts PutOptions) ObjectInfo {
	t.Helper()
	opts.Size = int64(len(data))
	oi, err := s.PutObject(ctxT(t), "b", key, bytes.NewReader(data), opts)
	if err != nil {
		t.Fatalf("put %s (%d bytes): %v", key, len(data), err)
	}
	return oi
}

func mustGet(t testing.TB, s *Store, key string, opts GetOptions) ([]byte, ObjectInfo) {
	t.Helper()
	oi, rc, err := s.GetObject(ctxT(t), "b", key, opts)
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("get %s: reading: %v", key, err)
	}
	return b, oi
}

// layouts are the cluster shapes every basic test runs on.
var layouts = []struct {
	name          string
	boxes, perBox int
}{
	{"1disk", 1, 1},
	{"1box4disks", 1, 4},
	{"3boxes2disks", 3, 2},
}

func forLayouts(t *testing.T, fn func(t *testing.T, c *testCluster)) {
	for _, l := range layouts {
		t.Run(l.name, func(t *testing.T) { fn(t, newCluster(t, l.boxes, l.perBox)) })
	}
}

func dirEntries(t testing.TB, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// inParallel runs fn(0..n-1) on a few goroutines (the disks fsync, so
// writes overlap well even on two cores).
func inParallel(t testing.TB, n int, fn func(i int)) {
	t.Helper()
	next := make(chan int)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				fn(i)
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
}

// remoteBox serves node's disks over node RPC (disk.NewHandler on an
// httptest server) and makes the store reach them through disk.Remote.
func (c *testCluster) remoteBox(t testing.TB, node string) {
	t.Helper()
	m := map[string]disk.Disk{}
	for _, id := range c.ids {
		if c.node[id] == node {
			m[id] = c.locals[id]
		}
	}
	srv := httptest.NewServer(disk.NewHandler(m))
	t.Cleanup(srv.Close)
	for id := range m {
		c.set(id, disk.NewRemote(srv.Client(), srv.URL, id))
	}
}

// boxDisks lists the disks of node.
func (c *testCluster) boxDisks(node string) []string {
	var ids []string
	for _, id := range c.ids {
		if c.node[id] == node {
			ids = append(ids, id)
		}
	}
	return ids
}

// away leaves node's disks without a handle, as the node wiring does for a box it
// cannot reach.
func (c *testCluster) away(node string) {
	for _, id := range c.boxDisks(node) {
		c.set(id, nil)
	}
}
