package disk

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// patternReader yields n bytes of a repeating pattern without holding them.
type patternReader struct{ left int64 }

var pattern = randBytes(99, 64<<10)

func (p *patternReader) Read(b []byte) (int, error) {
	if p.left == 0 {
		return 0, io.EOF
	}
	n := int(min(int64(len(b)), p.left))
	for i := 0; i < n; i += copy(b[i:n], pattern) {
	}
	p.left -= int64(n)
	return n, nil
}

// TestRemoteCreateFileMemoryIsBounded streams 256 MiB through the RPC pair
// into a Local and samples the heap meanwhile: it must stay far below the
// file's size.
func TestRemoteCreateFileMemoryIsBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 256 MiB")
	}
	l := mustOpenLocal(t)
	r := mustRemote(t, l)
	mustMakeVolume(t, r, "b")
	const size = 256 << 20
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapAlloc
	var peak atomic.Uint64
	stop, sampled := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(sampled)
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapAlloc > peak.Load() {
				peak.Store(ms.HeapAlloc)
			}
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	err := r.CreateFile(bg, "b", "big/part.1", size, &patternReader{left: size})
	close(stop)
	<-sampled
	must(t, err)
	st, err := os.Stat(filepath.Join(l.tmp, "big", "part.1"))
	must(t, err)
	if st.Size() != size {
		t.Fatalf("staged %d bytes, want %d", st.Size(), size)
	}
	grew := int64(peak.Load()) - int64(base)
	t.Logf("heap grew by at most %.1f MiB while streaming %d MiB", float64(grew)/(1<<20), size>>20)
	if grew > 32<<20 {
		t.Fatalf("heap grew by %d MiB streaming a %d MiB file", grew>>20, size>>20)
	}
}

func TestRemoteErrorsKeepTheirSentinels(t *testing.T) {
	l := mustOpenLocal(t)
	f := &Faulty{Disk: l}
	r := mustRemote(t, f)
	for _, c := range errorCodes {
		f.Set("ReadMetadata", fmt.Errorf("wrapped twice: %w", fmt.Errorf("once: %w", c.err)), 0)
		_, err := r.ReadMetadata(bg, "b", "k")
		if !errors.Is(err, c.err) {
			t.Errorf("%s: after the hop: %v", c.code, err)
		}
		if c.err != ErrFaultyDisk && errors.Is(err, ErrFaultyDisk) {
			t.Errorf("%s: also matches ErrFaultyDisk", c.code)
		}
	}
	// Several sentinels at once survive together.
	f.Set("ReadMetadata", fmt.Errorf("%w: %w", ErrFileCorrupt, ErrDiskFull), 0)
	_, err := r.ReadMetadata(bg, "b", "k")
	if !errors.Is(err, ErrFileCorrupt) || !errors.Is(err, ErrDiskFull) {
		t.Fatalf("two sentinels: %v", err)
	}
	// An error without a sentinel is still a disk failure, not "not found".
	f.Set("ReadMetadata", errors.New("something odd"), 0)
	_, err = r.ReadMetadata(bg, "b", "k")
	if !errors.Is(err, ErrFaultyDisk) || errors.Is(err, ErrFileNotFound) || !strings.Contains(err.Error(), "something odd") {
		t.Fatalf("uncoded error: %v", err)
	}
}

func TestRemoteUnreachableAndUnknown(t *testing.T) {
	l := mustOpenLocal(t)
	srv := serve(t, l)
	unknown := NewRemote(srv.Client(), srv.URL, newUUID())
	if _, err := unknown.Info(bg); !errors.Is(err, ErrDiskNotFound) {
		t.Fatalf("unknown disk: %v", err)
	}
	// Something that is not a disk server.
	other := httptest.NewServer(http.NotFoundHandler())
	defer other.Close()
	if err := NewRemote(other.Client(), other.URL, l.ID()).MakeVolume(bg, "b"); !errors.Is(err, ErrDiskOffline) {
		t.Fatalf("not a disk server: %v", err)
	}
	srv.Close()
	r := NewRemote(srv.Client(), srv.URL, l.ID())
	if _, err := r.Info(bg); !errors.Is(err, ErrDiskOffline) {
		t.Fatalf("server down: %v", err)
	}
	if err := r.Walk(bg, "b", "", "", func(string, *ObjectMeta) error { return nil }); !errors.Is(err, ErrDiskOffline) {
		t.Fatalf("walk with server down: %v", err)
	}
}

// slowDisk blocks ReadMetadata until its ctx ends and reports whether the
// server gave that ctx a deadline.
type slowDisk struct {
	Disk
	hadDeadline chan bool
}

func (s slowDisk) ReadMetadata(ctx context.Context, bucket, object string) (*ObjectMeta, error) {
	_, ok := ctx.Deadline()
	s.hadDeadline <- ok
	<-ctx.Done()
	return nil, ctx.Err()
}

func TestRemoteDeadline(t *testing.T) {
	l := mustOpenLocal(t)
	s := slowDisk{Disk: l, hadDeadline: make(chan bool, 1)}
	r := mustRemote(t, s)
	ctx, cancel := context.WithTimeout(bg, 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := r.ReadMetadata(ctx, "b", "k")
	// Whichever side's deadline fires first, the caller sees it.
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("slow disk: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("returned after %v", d)
	}
	if !<-s.hadDeadline {
		t.Fatal("the server's ctx had no deadline")
	}
}

// TestRemoteCreateFileRejectedEarly: the server refuses before reading a
// large body; the client must get the refusal's code, not a broken pipe.
func TestRemoteCreateFileRejectedEarly(t *testing.T) {
	l := mustOpenLocal(t)
	f := &Faulty{Disk: l}
	r := mustRemote(t, f)
	mustMakeVolume(t, r, "b")
	const size = 32 << 20
	if err := r.CreateFile(bg, "nob", "up/part.1", size, &patternReader{left: size}); !errors.Is(err, ErrVolumeNotFound) {
		t.Fatalf("missing bucket: %v", err)
	}
	f.Set("CreateFile", ErrDiskFull, 0)
	if err := r.CreateFile(bg, "b", "up/part.1", size, &patternReader{left: size}); !errors.Is(err, ErrDiskFull) {
		t.Fatalf("disk full: %v", err)
	}
}

// countingHandler counts requests per operation.
type countingHandler struct {
	h     http.Handler
	reads atomic.Int64
}

func (c *countingHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasSuffix(r.URL.Path, "/"+opReadFile) {
		c.reads.Add(1)
	}
	c.h.ServeHTTP(w, r)
}

func TestRemoteSequentialReadsShareRequests(t *testing.T) {
	l := mustOpenLocal(t)
	mustMakeVolume(t, l, "b")
	data := randBytes(7, 10<<20)
	v := putData(t, l, "b", "big", version("", 0), data)
	ch := &countingHandler{h: NewHandler(map[string]Disk{l.ID(): l})}
	srv := httptest.NewServer(ch)
	defer srv.Close()
	r := NewRemote(srv.Client(), srv.URL, l.ID())
	if got := readShardData(t, r, "b", "big", v); !bytes.Equal(got, data) {
		t.Fatal("data differs")
	}
	size := testScheme.ShardFileSize(v.Size)
	if n, max := ch.reads.Load(), size/readWindow+2; n > max {
		t.Fatalf("%d ranged GETs for a sequential read of %d bytes, want at most %d", n, size, max)
	}
}

func TestRemoteReadFaults(t *testing.T) {
	l := mustOpenLocal(t)
	mustMakeVolume(t, l, "b")
	v := putData(t, l, "b", "k", version("", 0), randBytes(8, 50_000))
	f := &Faulty{Disk: l}
	r := mustRemote(t, f)
	rf, _, err := r.OpenFile(bg, "b", "k", v.DataDir, 1)
	must(t, err)
	defer rf.Close()
	f.Set("ReadAt", ErrFaultyDisk, 0)
	if _, err := rf.ReadAt(make([]byte, 100), 0); !errors.Is(err, ErrFaultyDisk) {
		t.Fatalf("faulty read: %v", err)
	}
	f.Heal()
	if _, err := rf.ReadAt(make([]byte, 100), 0); err != nil {
		t.Fatalf("read after heal: %v", err)
	}
	must(t, rf.Close())
	if _, err := rf.ReadAt(make([]byte, 1), 0); err == nil {
		t.Fatal("read after Close")
	}
}

// stoppableDisk reports when its Walk returns.
type stoppableDisk struct {
	Disk
	walked chan error
}

func (s stoppableDisk) Walk(ctx context.Context, bucket, prefix, startAfter string, fn func(string, *ObjectMeta) error) error {
	err := s.Disk.Walk(ctx, bucket, prefix, startAfter, fn)
	s.walked <- err
	return err
}

func TestRemoteWalkStopsTheServer(t *testing.T) {
	l := mustOpenLocal(t)
	mustMakeVolume(t, l, "b")
	// Enough metadata to fill the connection's buffers, so the server is
	// still walking when the client stops.
	for i := range 600 {
		putInline(t, l, "b", fmt.Sprintf("k%05d", i), Version{ModTime: clock, UserMeta: map[string]string{"pad": strings.Repeat("p", 8000)}}, nil)
	}
	s := stoppableDisk{Disk: l, walked: make(chan error, 1)}
	r := mustRemote(t, s)
	n := 0
	must(t, r.Walk(bg, "b", "", "", func(string, *ObjectMeta) error {
		if n++; n == 10 {
			return StopWalk
		}
		return nil
	}))
	select {
	case err := <-s.walked:
		if err == nil {
			t.Fatal("the server walked to the end after the client stopped")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the server's walk did not stop")
	}
}
