package objectstore

import (
	"os"

	"golang.org/x/sys/unix"

	"github.com/banyancloud/banyan/objectstore/disk"
)

// A GET reads each shard file frame by frame (a few hundred KiB at a time,
// in parallel over the set). Left to itself the kernel's readahead turns
// that into requests of about the same size, and a disk that is fast only
// for large requests (most virtual and network disks, and RAID) then
// serves the object at a fraction of its bandwidth. readAhead asks for
// the next window of the file while the current one is being read
// (posix_fadvise WILLNEED: one large asynchronous read into the page
// cache, no memory of ours), so the frames are found in the cache.

// readAheadWindow is how far ahead of the decoder a local shard file is
// requested.
const readAheadWindow = 4 << 20

type readAhead struct {
	disk.ReadAtCloser
	fd   int
	size int64
	next int64 // start of the next window to request
}

// withReadAhead wraps a local shard file; other readers (remote disks,
// which stream their own windows) are returned as they are.
func withReadAhead(f disk.ReadAtCloser, size int64) disk.ReadAtCloser {
	osf, ok := f.(*os.File)
	if !ok || size <= readAheadWindow {
		return f
	}
	return &readAhead{ReadAtCloser: f, fd: int(osf.Fd()), size: size}
}

func (r *readAhead) ReadAt(p []byte, off int64) (int, error) {
	if end := off + int64(len(p)); end > r.next-readAheadWindow/2 && r.next < r.size {
		// Request [max(next, off), +window) once the reader is half way
		// through what was requested before.
		from := max(r.next, off)
		_ = unix.Fadvise(r.fd, from, readAheadWindow, unix.FADV_WILLNEED)
		r.next = from + readAheadWindow
	}
	return r.ReadAtCloser.ReadAt(p, off)
}
