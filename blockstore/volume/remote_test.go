package volume

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/banyancloud/banyan/blockstore/replica"
	"golang.org/x/sys/unix"
)

// switchable serves h until it is turned off, then answers like a box
// whose RPC is gone (a bare 503, which Remote reads as ErrUnavailable).
type switchable struct {
	h   http.Handler
	off atomic.Bool
}

func (s *switchable) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.off.Load() {
		http.Error(w, "down", http.StatusServiceUnavailable)
		return
	}
	s.h.ServeHTTP(w, r)
}

// twoBoxes is a volume with a local copy and one on "box b" behind a real
// HTTP server on loopback (NewHandler + Remote).
func twoBoxes(t *testing.T, size int64) (*Volume, *replica.Store, *replica.Store, *switchable) {
	t.Helper()
	local, err := replica.Open(filepath.Join(t.TempDir(), "volumes"))
	must(t, err)
	t.Cleanup(func() { local.Close() })
	far, err := replica.Open(filepath.Join(t.TempDir(), "volumes"))
	must(t, err)
	t.Cleanup(func() { far.Close() })
	sw := &switchable{h: replica.NewHandler(far)}
	srv := httptest.NewServer(sw)
	t.Cleanup(srv.Close)
	remote := replica.NewRemote(srv.Client(), srv.URL)
	must(t, local.Create(bg, volID, size))
	must(t, remote.Create(bg, volID, size))
	v, err := Open(bg, Config{
		ID: volID, Epoch: 1, Logger: testLogger, CallTimeout: 5 * time.Second,
		Replicas: []Replica{{Name: "a", Holder: local, Local: true}, {Name: "b", Holder: remote}},
	})
	must(t, err)
	return v, local, far, sw
}

func TestVolumeOverHTTP(t *testing.T) {
	v, local, far, sw := twoBoxes(t, 8*replica.ExtentSize)
	must(t, v.WriteAt(bg, []byte("both boxes"), 4096, true))
	sw.off.Store(true)
	must(t, v.WriteAt(bg, []byte("only local"), 3*replica.ExtentSize, true))
	if st := status(v, "b"); st.State != Out || st.DirtyExtents != 1 {
		t.Fatalf("b behind a dead server: %+v", st)
	}
	sw.off.Store(false)
	stats, err := v.Resync(bg, "b")
	must(t, err)
	if stats.Copied != 1 {
		t.Fatalf("resync over HTTP: %+v", stats)
	}
	a, err := replica.AllSums(bg, local, volID)
	must(t, err)
	b, err := replica.AllSums(bg, far, volID)
	must(t, err)
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("extent %d differs after resync over HTTP", i)
		}
	}
	// Fencing crosses the wire as a code.
	must(t, far.Flush(bg, volID, 9))
	wantErr(t, v.WriteAt(bg, []byte("x"), 0, false), ErrFenced, "write after a takeover seen over HTTP")
}

// TestWriteLatencyAndThroughput logs (never asserts) what a write costs
// through a 2-copy volume (local + Remote over loopback HTTP) beside raw
// pwrite (+fdatasync) of the same sizes on the same filesystem.
func TestWriteLatencyAndThroughput(t *testing.T) {
	if testing.Short() {
		t.Skip("measurement")
	}
	const size = 512 << 20
	v, _, _, _ := twoBoxes(t, size)
	raw, err := os.OpenFile(filepath.Join(t.TempDir(), "raw.img"), os.O_RDWR|os.O_CREATE, 0o600)
	must(t, err)
	defer raw.Close()
	must(t, raw.Truncate(size))

	small, big := make([]byte, 4096), make([]byte, 1<<20)
	for i := range big {
		big[i] = byte(i*7 + 1)
	}
	copy(small, big)
	const n4k, nFUA, n1m = 2000, 200, 256
	perOp := func(n int, fn func(i int)) time.Duration {
		start := time.Now()
		for i := range n {
			fn(i)
		}
		return time.Since(start) / time.Duration(n)
	}
	off4k := func(i int) int64 { return int64(i) * 4096 % size }
	volLat := perOp(n4k, func(i int) { must(t, v.WriteAt(bg, small, off4k(i), false)) })
	rawLat := perOp(n4k, func(i int) {
		_, err := raw.WriteAt(small, off4k(i))
		must(t, err)
	})
	volFUA := perOp(nFUA, func(i int) { must(t, v.WriteAt(bg, small, off4k(i), true)) })
	rawFUA := perOp(nFUA, func(i int) {
		_, err := raw.WriteAt(small, off4k(i))
		must(t, err)
		must(t, unix.Fdatasync(int(raw.Fd())))
	})
	mbps := func(d time.Duration) float64 { return float64(n1m) / d.Seconds() }
	start := time.Now()
	for i := range n1m {
		must(t, v.WriteAt(bg, big, int64(i)<<20, false))
	}
	must(t, v.Flush(bg))
	volBig := time.Since(start)
	start = time.Now()
	for i := range n1m {
		_, err := raw.WriteAt(big, int64(i)<<20)
		must(t, err)
	}
	must(t, raw.Sync())
	rawBig := time.Since(start)

	t.Logf("%-34s %12s %12s", "", "volume(2)", "raw local")
	t.Logf("%-34s %12v %12v", "4 KiB write latency", volLat, rawLat)
	t.Logf("%-34s %12v %12v", "4 KiB FUA write latency", volFUA, rawFUA)
	t.Logf("%-34s %9.0f MB/s %7.0f MB/s", "1 MiB writes x256 + flush", mbps(volBig), mbps(rawBig))
}
