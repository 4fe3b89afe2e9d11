package nbd

import (
	"errors"
	"os"
	"syscall"
)

// fallocate(2) modes, from linux/falloc.h (the syscall package lacks them).
const (
	fallocKeepSize  = 0x01
	fallocPunchHole = 0x02
	fallocZeroRange = 0x10
)

var errUnsupported error = syscall.EOPNOTSUPP

func punchHole(f *os.File, off, length int64) error {
	return fallocate(f, fallocPunchHole|fallocKeepSize, off, length)
}

func zeroRange(f *os.File, off, length int64) error {
	return fallocate(f, fallocZeroRange|fallocKeepSize, off, length)
}

func fallocate(f *os.File, mode uint32, off, length int64) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) {
		for {
			ferr = syscall.Fallocate(int(fd), mode, off, length)
			if ferr != syscall.EINTR {
				return
			}
		}
	}); err != nil {
		return err
	}
	if ferr != nil {
		return os.NewSyscallError("fallocate", ferr)
	}
	return nil
}

// isUnsupported says whether err means the filesystem (or device) lacks the operation.
func isUnsupported(err error) bool {
	return errors.Is(err, syscall.EOPNOTSUPP) || errors.Is(err, syscall.ENOSYS)
}

// sync makes the file's data durable: fdatasync, which skips metadata that does not
// matter to reading the data back.
func (b *FileBackend) sync() error {
	rc, err := b.f.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		for {
			serr = syscall.Fdatasync(int(fd))
			if serr != syscall.EINTR {
				return
			}
		}
	}); err != nil {
		return err
	}
	if serr != nil {
		return os.NewSyscallError("fdatasync", serr)
	}
	return nil
}
