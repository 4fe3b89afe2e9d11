package disk

import (
	"errors"
	"io/fs"
	"syscall"
)

// Listing opens two files per key (the node directory and its metadata
// file), so its cost is mostly syscalls. os.Open adds two more per file
// (fcntl for non-blocking mode and an attempt to register with the
// poller) that regular files and directories gain nothing from; the
// helpers here use the raw calls instead. Errors are *fs.PathError like the
// os package's, so errors.Is(err, fs.ErrNotExist) still works.

func sysOpen(path string, flags int) (int, error) {
	for {
		fd, err := syscall.Open(path, flags|syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
		if err == nil {
			return fd, nil
		}
		if !errors.Is(err, syscall.EINTR) {
			return -1, &fs.PathError{Op: "open", Path: path, Err: err}
		}
	}
}

// readDirNames calls fn with every entry name of dir (not "." or ".."),
// one getdents buffer at a time, in directory order; fn's error stops it.
func readDirNames(dir string, buf []byte, fn func(names []string) error) error {
	fd, err := sysOpen(dir, syscall.O_DIRECTORY)
	if err != nil {
		return err
	}
	defer syscall.Close(fd)
	var names []string
	for {
		n, err := syscall.ReadDirent(fd, buf)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil {
			return &fs.PathError{Op: "getdents", Path: dir, Err: err}
		}
		if n <= 0 {
			return nil
		}
		_, _, names = syscall.ParseDirent(buf[:n], -1, names[:0])
		if err := fn(names); err != nil {
			return err
		}
	}
}

// readSmallFile reads up to len(buf) bytes of path's start and returns
// them with the file's size. One read and no fstat when the file fits:
// on Linux a short read of a regular file means its end.
func readSmallFile(path string, buf []byte) ([]byte, int64, error) {
	fd, err := sysOpen(path, 0)
	if err != nil {
		return nil, 0, err
	}
	defer syscall.Close(fd)
	n, err := sysRead(fd, buf, 0)
	if err != nil {
		return nil, 0, &fs.PathError{Op: "read", Path: path, Err: err}
	}
	if n < len(buf) {
		return buf[:n], int64(n), nil
	}
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		return nil, 0, &fs.PathError{Op: "fstat", Path: path, Err: err}
	}
	return buf, st.Size, nil
}

// readFileAt fills buf from path at off; io.ErrUnexpectedEOF-like
// shortness is reported as n < len(buf).
func readFileAt(path string, buf []byte, off int64) (int, error) {
	fd, err := sysOpen(path, 0)
	if err != nil {
		return 0, err
	}
	defer syscall.Close(fd)
	total := 0
	for total < len(buf) {
		n, err := sysRead(fd, buf[total:], off+int64(total))
		if err != nil {
			return total, &fs.PathError{Op: "read", Path: path, Err: err}
		}
		if n == 0 {
			break
		}
		total += n
	}
	return total, nil
}

func sysRead(fd int, buf []byte, off int64) (int, error) {
	for {
		n, err := syscall.Pread(fd, buf, off)
		if !errors.Is(err, syscall.EINTR) {
			return max(n, 0), err
		}
	}
}

// readWholeFile reads path, refusing files over limit bytes with
// errTooLarge. A file under 8 KiB (most metadata) costs open, one read
// and close.
func readWholeFile(path string, limit int64) ([]byte, error) {
	fd, err := sysOpen(path, 0)
	if err != nil {
		return nil, err
	}
	defer syscall.Close(fd)
	buf := make([]byte, 8<<10)
	n, err := sysRead(fd, buf, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "read", Path: path, Err: err}
	}
	if n < len(buf) {
		return buf[:n], nil
	}
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		return nil, &fs.PathError{Op: "fstat", Path: path, Err: err}
	}
	if st.Size > limit {
		return nil, errTooLarge
	}
	whole := make([]byte, st.Size)
	copy(whole, buf)
	for total := n; total < len(whole); {
		m, err := sysRead(fd, whole[total:], int64(total))
		if err != nil {
			return nil, &fs.PathError{Op: "read", Path: path, Err: err}
		}
		if m == 0 {
			return whole[:total], nil // shrank: the checksum will say so
		}
		total += m
	}
	return whole, nil
}

var errTooLarge = errors.New("file too large")
