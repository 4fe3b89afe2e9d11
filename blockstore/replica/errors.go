package replica

import (
	"context"
	"errors"
	"fmt"
	"syscall"
)

// Sentinel errors. Every error a Holder returns that the caller acts on
// matches one of them under errors.Is, locally and after the RPC hop.
var (
	// ErrNotFound: this box holds no copy of the volume.
	ErrNotFound = errors.New("replica: volume not found")
	// ErrExists: Create of a volume this box already holds.
	ErrExists = errors.New("replica: volume already exists")
	// ErrStaleEpoch: the caller's epoch is older than one this copy has
	// seen; another primary has taken over and the caller must stop.
	ErrStaleEpoch = errors.New("replica: stale epoch: another primary has taken over this volume")
	// ErrOutOfRange: an offset or length outside the volume.
	ErrOutOfRange = errors.New("replica: range outside the volume")
	// ErrInvalidArgument: a malformed volume ID, size, message or request.
	ErrInvalidArgument = errors.New("replica: invalid argument")
	// ErrCorrupt: the volume's metadata file failed its checks.
	ErrCorrupt = errors.New("replica: metadata corrupt")
	// ErrNoSpace: the filesystem under the store is full.
	ErrNoSpace = errors.New("replica: no space left")
	// ErrIO: the filesystem failed the operation.
	ErrIO = errors.New("replica: I/O error")
	// ErrUnavailable: the box holding the copy did not answer (network,
	// timeout, box down, or a store that was closed).
	ErrUnavailable = errors.New("replica: unavailable")
)

// errorCodes names every sentinel on the wire. Codes are protocol: never
// rename or reuse one.
var errorCodes = []struct {
	code string
	err  error
}{
	{"NotFound", ErrNotFound},
	{"Exists", ErrExists},
	{"StaleEpoch", ErrStaleEpoch},
	{"OutOfRange", ErrOutOfRange},
	{"InvalidArgument", ErrInvalidArgument},
	{"Corrupt", ErrCorrupt},
	{"NoSpace", ErrNoSpace},
	{"IO", ErrIO},
	{"Unavailable", ErrUnavailable},
	{"Canceled", context.Canceled},
	{"DeadlineExceeded", context.DeadlineExceeded},
}

func codesOf(err error) []string {
	var codes []string
	for _, c := range errorCodes {
		if errors.Is(err, c.err) {
			codes = append(codes, c.code)
		}
	}
	return codes
}

// remoteError is an error that crossed the RPC hop: the far side's message
// and the sentinels its codes name.
type remoteError struct {
	msg       string
	sentinels []error
}

func (e *remoteError) Error() string   { return e.msg }
func (e *remoteError) Unwrap() []error { return e.sentinels }

func errorFromCodes(codes []string, msg string) error {
	e := &remoteError{msg: msg}
	for _, code := range codes {
		for _, c := range errorCodes {
			if c.code == code {
				e.sentinels = append(e.sentinels, c.err)
			}
		}
	}
	if len(e.sentinels) == 0 {
		// Still the far copy failing the request, never "not found".
		e.sentinels = []error{ErrIO}
	}
	return e
}

// fsError classifies a filesystem error under a sentinel, keeping the cause.
func fsError(op string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT):
		return fmt.Errorf("%w: %s: %w", ErrNoSpace, op, err)
	}
	return fmt.Errorf("%w: %s: %w", ErrIO, op, err)
}

// errorf is fmt.Errorf with a sentinel first.
func errorf(sentinel error, format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{sentinel}, args...)...)
}
