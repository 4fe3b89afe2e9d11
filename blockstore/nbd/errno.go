package nbd

import (
	"context"
	"errors"
	"io/fs"
	"strconv"
	"syscall"
)

// Errno is an error value of the NBD protocol, the only errors a client sees. A Backend
// may return one (possibly wrapped) to choose what the client is told; other errors are
// mapped: the operating system's errno to its protocol counterpart, a cancelled context
// (the server is closing) to ESHUTDOWN, anything else to EIO.
type Errno uint32

// The protocol's error values (doc/proto.md, "Error values").
const (
	EPERM     Errno = 1   // operation not permitted: a write to a read-only export
	EIO       Errno = 5   // input/output error: the default for a failing backend
	ENOMEM    Errno = 12  // cannot allocate memory
	EINVAL    Errno = 22  // invalid argument: out of range, too long, misaligned, unknown
	ENOSPC    Errno = 28  // no space left on device, or a write beyond the export's end
	EOVERFLOW Errno = 75  // value too large
	ENOTSUP   Errno = 95  // operation not supported
	ESHUTDOWN Errno = 108 // the server is shutting down; the client should disconnect
)

var errnoText = map[Errno]string{
	EPERM:     "operation not permitted",
	EIO:       "input/output error",
	ENOMEM:    "cannot allocate memory",
	EINVAL:    "invalid argument",
	ENOSPC:    "no space left on device",
	EOVERFLOW: "value too large",
	ENOTSUP:   "operation not supported",
	ESHUTDOWN: "server is shutting down",
}

// Error implements error.
func (e Errno) Error() string {
	if s, ok := errnoText[e]; ok {
		return "nbd: " + s
	}
	return "nbd: error " + strconv.FormatUint(uint64(e), 10)
}

// errnoOf says what a client is told about a backend error. An Errno anywhere in the
// chain wins; then the operating system's errno; then context cancellation (the server
// is closing the session); everything else is EIO.
func errnoOf(err error) Errno {
	if err == nil {
		return 0
	}
	var e Errno
	if errors.As(err, &e) && e != 0 {
		return e
	}
	var se syscall.Errno
	if errors.As(err, &se) {
		switch se {
		case syscall.EPERM, syscall.EACCES, syscall.EROFS:
			return EPERM
		case syscall.ENOSPC, syscall.EDQUOT, syscall.EFBIG:
			return ENOSPC
		case syscall.EINVAL:
			return EINVAL
		case syscall.ENOMEM:
			return ENOMEM
		case syscall.EOVERFLOW:
			return EOVERFLOW
		case syscall.ESHUTDOWN:
			return ESHUTDOWN
		}
		return EIO
	}
	if errors.Is(err, fs.ErrPermission) {
		return EPERM
	}
	if errors.Is(err, context.Canceled) {
		return ESHUTDOWN
	}
	return EIO
}
