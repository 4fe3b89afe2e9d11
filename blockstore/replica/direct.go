package replica

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Large aligned writes go to the data file through a second descriptor opened with
// O_DIRECT: the bytes go from the caller's buffer to the device without a copy into the
// page cache, which is most of the CPU a copy's large writes cost on a busy box (and
// keeps a guest's bulk writes from being throttled in dirty-page writeback). The kernel
// keeps the two descriptors coherent: a direct write first writes back and then drops
// cached pages of its range. Durability is unchanged: FUA and Flush still fdatasync.
// Writes that are small or unaligned (offset, length or buffer address), and every write
// to a filesystem that refuses O_DIRECT (tmpfs), take the page cache.
const (
	directAlign = 4096
	// directMin is the smallest write sent with O_DIRECT: below it the buffered
	// path costs little and answers sooner.
	directMin = 128 << 10
)

// directFile is a copy's O_DIRECT descriptor, opened on first use.
type directFile struct {
	once   sync.Once
	f      *os.File     // nil: not supported here, or not opened
	writes atomic.Int64 // writes done with O_DIRECT (for tests)
}

// get opens the descriptor on first use, as the file of of (through /proc, so a file
// renamed since it was opened is still the one); nil when the filesystem refuses
// O_DIRECT.
func (d *directFile) get(of *os.File) *os.File {
	d.once.Do(func() {
		f, err := os.OpenFile(fmt.Sprintf("/proc/self/fd/%d", of.Fd()), os.O_WRONLY|unix.O_DIRECT, 0)
		if err == nil {
			d.f = f
		}
	})
	return d.f
}

func (d *directFile) close() {
	d.once.Do(func() {}) // never opened after this
	if d.f != nil {
		d.f.Close()
	}
}

// directOK: off, len(p) and p's address fit O_DIRECT's alignment, and p is large
// enough to be worth it.
func directOK(off int64, p []byte) bool {
	return len(p) >= directMin && off%directAlign == 0 && len(p)%directAlign == 0 &&
		uintptr(unsafe.Pointer(&p[0]))%directAlign == 0
}

// writeAt writes p at off, with O_DIRECT when it can. A direct write the filesystem
// refuses (EINVAL) is done again through the page cache.
func (v *vol) writeAt(p []byte, off int64) error {
	if directOK(off, p) {
		if f := v.direct.get(v.f); f != nil {
			_, err := f.WriteAt(p, off)
			if !errors.Is(err, unix.EINVAL) {
				v.direct.writes.Add(1)
				return err
			}
		}
	}
	_, err := v.f.WriteAt(p, off)
	return err
}
