//go:build !linux

package nbd

import (
	"errors"
	"os"
)

var errUnsupported = errors.New("nbd: not supported on this platform")

func punchHole(*os.File, int64, int64) error { return errUnsupported }

func zeroRange(*os.File, int64, int64) error { return errUnsupported }

func isUnsupported(err error) bool { return errors.Is(err, errUnsupported) }

func (b *FileBackend) sync() error { return b.f.Sync() }
