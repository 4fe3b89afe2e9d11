package nbd

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync/atomic"
)

// FileBackend is a Backend over a regular file or a block device: pread and pwrite,
// fdatasync for Flush and FUA, hole punching for Trim and fallocate's zero range for
// WriteZeroes where the filesystem has them. All connections share the file's page cache,
// so it is safe for several connections at once (Properties.MultiConn).
type FileBackend struct {
	f        *os.File
	size     int64
	readOnly bool

	// What the filesystem turned out not to support, so it is not asked again.
	noPunch     atomic.Bool
	noZeroRange atomic.Bool
}

var (
	_ Backend   = (*FileBackend)(nil)
	_ Trimmer   = (*FileBackend)(nil)
	_ Zeroer    = (*FileBackend)(nil)
	_ Describer = (*FileBackend)(nil)
)

// NewFileBackend serves f, whose size (a block device's too) is taken now. The
// FileBackend owns f from here on: Close closes it.
func NewFileBackend(f *os.File, readOnly bool) (*FileBackend, error) {
	size, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return nil, fmt.Errorf("nbd: size of %s: %w", f.Name(), err)
	}
	return &FileBackend{f: f, size: size, readOnly: readOnly}, nil
}

// OpenFileBackend opens path (which must exist) and serves it.
func OpenFileBackend(path string, readOnly bool) (*FileBackend, error) {
	flag := os.O_RDWR
	if readOnly {
		flag = os.O_RDONLY
	}
	f, err := os.OpenFile(path, flag, 0)
	if err != nil {
		return nil, err
	}
	b, err := NewFileBackend(f, readOnly)
	if err != nil {
		f.Close()
		return nil, err
	}
	return b, nil
}

// Size implements Backend.
func (b *FileBackend) Size() int64 { return b.size }

// Properties implements Describer.
func (b *FileBackend) Properties() Properties {
	return Properties{ReadOnly: b.readOnly, MultiConn: true}
}

// ReadAt implements Backend. Bytes past the end of a file that shrank read as zeroes.
func (b *FileBackend) ReadAt(_ context.Context, p []byte, off int64) error {
	n, err := b.f.ReadAt(p, off)
	if err == io.EOF {
		clear(p[n:])
		err = nil
	}
	return err
}

// WriteAt implements Backend.
func (b *FileBackend) WriteAt(_ context.Context, p []byte, off int64, fua bool) error {
	if b.readOnly {
		return EPERM
	}
	if _, err := b.f.WriteAt(p, off); err != nil {
		return err
	}
	if fua {
		return b.sync()
	}
	return nil
}

// Flush implements Backend.
func (b *FileBackend) Flush(context.Context) error {
	if b.readOnly {
		return nil
	}
	return b.sync()
}

// Trim implements Trimmer by punching a hole; on a filesystem that cannot, it does
// nothing, which a trim allows.
func (b *FileBackend) Trim(_ context.Context, off, length int64) error {
	if b.readOnly {
		return EPERM
	}
	if b.noPunch.Load() {
		return nil
	}
	err := punchHole(b.f, off, length)
	if isUnsupported(err) {
		b.noPunch.Store(true)
		return nil
	}
	return err
}

// WriteZeroes implements Zeroer: fallocate's zero range, which leaves the range
// allocated, else zeroes written.
func (b *FileBackend) WriteZeroes(_ context.Context, off, length int64, fua bool) error {
	if b.readOnly {
		return EPERM
	}
	var err error = errUnsupported
	if !b.noZeroRange.Load() {
		err = zeroRange(b.f, off, length)
		if isUnsupported(err) {
			b.noZeroRange.Store(true)
		}
	}
	if isUnsupported(err) {
		err = b.writeZeroes(off, length)
	}
	if err == nil && fua {
		err = b.sync()
	}
	return err
}

func (b *FileBackend) writeZeroes(off, length int64) error {
	z := zeroChunk()
	for length > 0 {
		n := min(length, int64(len(z)))
		if _, err := b.f.WriteAt(z[:n], off); err != nil {
			return err
		}
		off += n
		length -= n
	}
	return nil
}

// Close closes the file. It does not flush: a client that wants durability flushes.
func (b *FileBackend) Close() error { return b.f.Close() }
