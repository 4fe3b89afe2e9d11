package replica

import (
	"path/filepath"
	"testing"
	"unsafe"
)

// alignedBytes is n random bytes at an address O_DIRECT accepts.
func alignedBytes(seed uint64, n int) []byte {
	b := make([]byte, n+directAlign)
	off := int(uintptr(unsafe.Pointer(&b[0])) % directAlign)
	if off != 0 {
		off = directAlign - off
	}
	b = b[off : off+n : off+n]
	copy(b, randBytes(seed, n))
	return b
}

// TestDirectWritesStayCoherent: large aligned writes go around the page cache, small
// ones through it, over the same ranges in turn, and every read (through the cache)
// sees the last write, in place and after a reopen; a misaligned large write takes the
// cache.
func TestDirectWritesStayCoherent(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "volumes")
	s := mustOpen(t, dir)
	must(t, s.Create(bg, "vol-d", 2*ExtentSize))
	want := make([]byte, 2*ExtentSize)
	write := func(off int64, p []byte, fua bool) {
		t.Helper()
		must(t, s.Write(bg, "vol-d", 1, off, p, fua))
		copy(want[off:], p)
		wantBytes(t, mustRead(t, s, "vol-d", 0, len(want)), want, "the volume after a write")
	}
	write(4096, randBytes(1, 8192), false)                                     // cached, dirty in the page cache
	write(0, alignedBytes(2, 1<<20), false)                                    // direct over it
	write(8192, randBytes(3, 100), true)                                       // cached inside the direct range
	write(ExtentSize, alignedBytes(4, 512<<10), true)                          // direct with FUA
	write(ExtentSize+1, alignedBytes(5, 256<<10)[:256<<10-directAlign], false) // unaligned offset and length: cached
	v, err := s.get(bg, "vol-d")
	must(t, err)
	if n := v.direct.writes.Load(); n == 0 && v.direct.f != nil {
		t.Fatal("no write went through the O_DIRECT descriptor")
	} else if v.direct.f == nil {
		t.Log("this filesystem refuses O_DIRECT: every write took the page cache")
	} else if n != 2 {
		t.Fatalf("%d direct writes, want the 2 large aligned ones", n)
	}
	must(t, s.Close())
	s = mustOpen(t, dir)
	wantBytes(t, mustRead(t, s, "vol-d", 0, len(want)), want, "the volume after a reopen")
}
