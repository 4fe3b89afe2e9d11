package nbd

import (
	"context"
	"errors"
)

// Backend is one export's storage. The server calls it concurrently from many goroutines
// (several requests of one connection, and several connections), always within
// [0, Size()), and never with a zero length. The context is cancelled when the server
// closes the session. Buffers belong to the server and are reused once a call returns:
// a Backend must not keep p, and WriteAt must not change it (it may be shared zeroes).
type Backend interface {
	// Size is the export's length in bytes. The server reads it once per connection,
	// when the client chooses the export.
	Size() int64
	// ReadAt fills p from off.
	ReadAt(ctx context.Context, p []byte, off int64) error
	// WriteAt stores p at off. With fua set it returns only once p is durable.
	WriteAt(ctx context.Context, p []byte, off int64, fua bool) error
	// Flush returns once everything acknowledged so far (every WriteAt, Trim and
	// WriteZeroes that returned) is durable.
	Flush(ctx context.Context) error
}

// Trimmer is a Backend that can discard ranges (NBD_CMD_TRIM). The server advertises
// NBD_FLAG_SEND_TRIM only for a Backend that implements it. Trim is a hint: doing
// nothing is correct, and a client must not assume anything about a trimmed range's
// contents until it writes it again.
type Trimmer interface {
	Trim(ctx context.Context, off, length int64) error
}

// Zeroer is a Backend that can zero ranges without being sent the zeroes
// (NBD_CMD_WRITE_ZEROES). The range must read back as zeroes and stay allocated (the
// server passes on NBD_CMD_FLAG_NO_HOLE by always asking for it); with fua set,
// WriteZeroes returns only once the zeroes are durable. For a Backend without it, the
// server writes zeroes through WriteAt.
type Zeroer interface {
	WriteZeroes(ctx context.Context, off, length int64, fua bool) error
}

// Properties describe an export beyond its size.
type Properties struct {
	// ReadOnly refuses writes, trims and zeroes with EPERM and tells the client
	// (NBD_FLAG_READ_ONLY).
	ReadOnly bool
	// MultiConn says the export may be served over several connections at once: a
	// Flush, or a write with fua, makes durable and visible what every connection
	// had acknowledged (NBD_FLAG_CAN_MULTI_CONN). Leave it false for a Backend with a
	// per-connection cache or ordering.
	MultiConn bool
	// Description is shown to people listing the exports (NBD_INFO_DESCRIPTION).
	Description string
}

// Describer is a Backend that reports Properties; a Backend without it is writable,
// single-connection and undescribed.
type Describer interface {
	Properties() Properties
}

// ErrUnknownExport is what Server.Lookup returns (possibly wrapped) for a name it does
// not serve; the client is told NBD_REP_ERR_UNKNOWN.
var ErrUnknownExport = errors.New("nbd: no such export")

// ErrServerClosed is returned by Server.Serve after Shutdown or Close.
var ErrServerClosed = errors.New("nbd: server closed")

func propertiesOf(b Backend) Properties {
	if d, ok := b.(Describer); ok {
		return d.Properties()
	}
	return Properties{}
}
