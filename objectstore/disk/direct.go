package disk

import (
	"context"
	"errors"
	"io"
	"os"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Large shard files are written with O_DIRECT: the data goes from our
// buffer to the device without being copied into the page cache, which on
// a busy box is about a fifth of the CPU a PUT costs (the kernel's copy and
// page bookkeeping for every byte of every shard). It also keeps freshly
// written shards from pushing hot metadata out of the cache. Direct writes
// need the file offset, the length and the buffer aligned to the device's
// block size; directAlign covers every common device. The unaligned tail
// of a file is written through the page cache after O_DIRECT is switched
// off, and filesystems that refuse O_DIRECT (tmpfs) get buffered writes.

const (
	directAlign = 4096
	// directMin is the smallest shard file written with O_DIRECT: below
	// it the buffered path's cost is small and its latency lower.
	directMin = 4 << 20
)

var directBufs = sync.Pool{New: func() any { b := alignedBuf(copyBufSize); return &b }}

// alignedBuf returns n bytes whose address is a multiple of directAlign.
func alignedBuf(n int) []byte {
	b := make([]byte, n+directAlign)
	off := int(uintptr(unsafe.Pointer(&b[0])) & (directAlign - 1))
	if off != 0 {
		off = directAlign - off
	}
	return b[off : off+n : off+n]
}

// openDirect opens path for writing with O_DIRECT, or reports false when
// the filesystem does not support it.
func openDirect(path string) (*os.File, bool, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|unix.O_DIRECT, 0o644)
	if errors.Is(err, unix.EINVAL) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return f, true, nil
}

// fillDirect copies the stream into f, which was opened with O_DIRECT.
// Two buffers alternate: one is being filled from the stream while the
// other is on its way to the device, so the encoder feeding the stream
// does not wait for the disk block by block.
func (l *Local) fillDirect(ctx context.Context, f *os.File, size int64, r io.Reader) error {
	src := &exactReader{r: r, left: size}
	type block struct {
		buf *[]byte
		n   int
	}
	todo := make(chan block, 1)
	free := make(chan *[]byte, 2)
	free <- directBufs.Get().(*[]byte)
	free <- directBufs.Get().(*[]byte)
	var werr error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		direct := true
		for b := range todo {
			if werr == nil {
				p := (*b.buf)[:b.n]
				if b.n%directAlign != 0 && direct {
					// The tail: no longer aligned, so through the page cache.
					if werr = setDirect(f, false); werr != nil {
						free <- b.buf
						continue
					}
					direct = false
				}
				if _, err := f.Write(p); err != nil {
					werr = fsError(err, ErrDiskNotFound)
				}
			}
			free <- b.buf
		}
	}()
	var err error
	for {
		if err = ctx.Err(); err != nil {
			break
		}
		buf := <-free
		n, rerr := fillBuf(src, *buf)
		if n > 0 {
			todo <- block{buf, n}
		} else {
			free <- buf
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			err = rerr
			break
		}
		if n < len(*buf) {
			// fillBuf stops short only at an error or the end.
			break
		}
	}
	close(todo)
	wg.Wait()
	close(free)
	for b := range free {
		directBufs.Put(b)
	}
	if err != nil {
		return err
	}
	return werr
}

// setDirect turns O_DIRECT on or off for f.
func setDirect(f *os.File, on bool) error {
	fd := int(f.Fd())
	flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
	if err != nil {
		return err
	}
	if on {
		flags |= unix.O_DIRECT
	} else {
		flags &^= unix.O_DIRECT
	}
	_, err = unix.FcntlInt(uintptr(fd), unix.F_SETFL, flags)
	return err
}
