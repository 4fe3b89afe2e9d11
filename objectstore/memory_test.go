package objectstore

import (
	"bytes"
	"crypto/md5"
	"io"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

// genReader yields n pseudo-random bytes without holding them.
type genReader struct {
	n, off int64
	block  []byte
}

func newGenReader(n int64) *genReader { return &genReader{n: n, block: randBytes(1<<20+3, 42)} }

func (g *genReader) Read(p []byte) (int, error) {
	if g.off >= g.n {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), g.n-g.off)]
	for i := 0; i < len(p); {
		k := copy(p[i:], g.block[(g.off+int64(i))%int64(len(g.block)):])
		i += k
	}
	g.off += int64(len(p))
	return len(p), nil
}

// peakHeap samples the heap while fn runs and returns the peak above the
// heap in use before it.
func peakHeap(fn func()) uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapInuse
	var peak atomic.Uint64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				if ms.HeapInuse > base && ms.HeapInuse-base > peak.Load() {
					peak.Store(ms.HeapInuse - base)
				}
			}
		}
	}()
	fn()
	close(stop)
	<-done
	return peak.Load()
}

func TestBoundedMemoryLargeObject(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 512 MiB to disk")
	}
	const size = 256 << 20
	c := newCluster(t, 1, 4)
	s := newTestStore(t, c, Options{})
	want := md5.New()
	io.Copy(want, newGenReader(size))
	var put, get time.Duration
	peak := peakHeap(func() {
		start := time.Now()
		oi, err := s.PutObject(ctxT(t), "b", "big", newGenReader(size), PutOptions{Size: size})
		if err != nil {
			t.Fatal(err)
		}
		put = time.Since(start)
		if oi.Size != size {
			t.Fatalf("size %d", oi.Size)
		}
		start = time.Now()
		_, rc, err := s.GetObject(ctxT(t), "b", "big", GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		got := md5.New()
		n, err := io.Copy(got, rc)
		rc.Close()
		get = time.Since(start)
		if err != nil || n != size || !bytes.Equal(got.Sum(nil), want.Sum(nil)) {
			t.Fatalf("read back %d bytes: %v", n, err)
		}
	})
	t.Logf("256 MiB on 4 disks (2+2): PUT %v (%.0f MiB/s), GET %v (%.0f MiB/s), peak heap +%d MiB",
		put, 256/put.Seconds(), get, 256/get.Seconds(), peak>>20)
	if peak > 96<<20 {
		t.Fatalf("peak heap grew by %d MiB for a 256 MiB object", peak>>20)
	}
}

func benchCluster(b *testing.B) *Store {
	c := newCluster(b, 1, 4)
	return newTestStore(b, c, Options{})
}

func BenchmarkPut64MiB(b *testing.B) {
	const size = 64 << 20
	s := benchCluster(b)
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.PutObject(b.Context(), "b", "obj", newGenReader(size), PutOptions{Size: size}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkGet64MiB(b *testing.B) {
	const size = 64 << 20
	s := benchCluster(b)
	if _, err := s.PutObject(b.Context(), "b", "obj", newGenReader(size), PutOptions{Size: size}); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		_, rc, err := s.GetObject(b.Context(), "b", "obj", GetOptions{})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.Copy(io.Discard, rc); err != nil {
			b.Fatal(err)
		}
		rc.Close()
	}
}

// BenchmarkMD5 is the ceiling MD5 puts on a single PUT stream when it is
// not overlapped with encoding.
func BenchmarkMD5(b *testing.B) {
	buf := randBytes(1<<20, 1)
	h := md5.New()
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		h.Write(buf)
	}
}
