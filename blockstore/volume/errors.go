package volume

import "errors"

var (
	// ErrFenced: a newer primary has taken over this volume (a copy answered
	// replica.ErrStaleEpoch). Every later call fails with it; the volume
	// must be closed and never written again from here. NBD should answer
	// EIO.
	ErrFenced = errors.New("volume: fenced: a newer primary has taken over this volume")
	// ErrNoReplica: no copy in sync could serve the call (EIO to a guest).
	ErrNoReplica = errors.New("volume: no copy in sync could serve the request")
	// ErrClosed: the volume was closed.
	ErrClosed = errors.New("volume: closed")
	// ErrOutOfRange: an offset or length outside the volume.
	ErrOutOfRange = errors.New("volume: range outside the volume")
	// ErrInvalidConfig: Open's Config is unusable.
	ErrInvalidConfig = errors.New("volume: invalid config")

	// errDown: Config.Live says the copy's box is down; it is not called.
	errDown = errors.New("volume: the copy's box is down")
)
