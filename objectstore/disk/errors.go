package disk

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"syscall"

	"github.com/banyancloud/banyan/objectstore/erasure"
)

// Sentinel errors. Every error a Disk returns that the layer above must act
// on matches one of them under errors.Is, locally and after the RPC hop
// (the wire carries their codes, see errorCodes).
var (
	// ErrDiskNotFound: no disk with that ID is served there (pulled, or the
	// wrong box).
	ErrDiskNotFound = errors.New("disk: disk not found")
	// ErrDiskOffline: the disk's box did not answer (network, timeout, box
	// down). Treat it like a missing disk for this request.
	ErrDiskOffline = errors.New("disk: disk offline")
	// ErrFaultyDisk: the disk answered with an I/O error; its data is suspect.
	ErrFaultyDisk = errors.New("disk: I/O error")
	// ErrDiskFull: no space left on the disk.
	ErrDiskFull = errors.New("disk: disk full")
	// ErrDiskAccessDenied: permission denied or read-only filesystem.
	ErrDiskAccessDenied = errors.New("disk: access denied")
	// ErrForeignDisk: the path holds files but no Banyan stamp; it is not
	// used, so that a mistyped path never gets formatted.
	ErrForeignDisk = errors.New("disk: path holds files but is not a Banyan disk")

	ErrVolumeNotFound = errors.New("disk: bucket not found")
	ErrVolumeExists   = errors.New("disk: bucket already exists")
	ErrVolumeNotEmpty = errors.New("disk: bucket not empty")

	ErrFileNotFound    = errors.New("disk: object or file not found")
	ErrVersionNotFound = errors.New("disk: version not found")
	// ErrFileCorrupt: a metadata file or shard file failed its checks; the
	// copy on this disk needs healing from the others.
	ErrFileCorrupt = errors.New("disk: file corrupt")
	// ErrFormatUnsupported: a file was written by a newer Banyan. It is not
	// corrupt and must not be healed over; upgrade this box.
	ErrFormatUnsupported = errors.New("disk: file format newer than this binary supports")
	// ErrFileNameTooLong: the encoded key does not fit the filesystem's
	// path limit.
	ErrFileNameTooLong = errors.New("disk: file name too long")
	// ErrInvalidArgument: a name, path or metadata value the disk refuses.
	ErrInvalidArgument = errors.New("disk: invalid argument")
	// ErrSizeMismatch: CreateFile's reader gave more or fewer bytes than
	// the declared size.
	ErrSizeMismatch = errors.New("disk: stream length differs from the declared size")
)

// errorCodes gives every sentinel the code it travels under. Codes are part
// of the wire protocol: never reuse or rename one. An error can carry several
// codes (ErrFileCorrupt and erasure.ErrBitrot, ErrDiskOffline and
// context.DeadlineExceeded).
var errorCodes = []struct {
	code string
	err  error
}{
	{"DiskNotFound", ErrDiskNotFound},
	{"DiskOffline", ErrDiskOffline},
	{"FaultyDisk", ErrFaultyDisk},
	{"DiskFull", ErrDiskFull},
	{"DiskAccessDenied", ErrDiskAccessDenied},
	{"ForeignDisk", ErrForeignDisk},
	{"VolumeNotFound", ErrVolumeNotFound},
	{"VolumeExists", ErrVolumeExists},
	{"VolumeNotEmpty", ErrVolumeNotEmpty},
	{"FileNotFound", ErrFileNotFound},
	{"VersionNotFound", ErrVersionNotFound},
	{"FileCorrupt", ErrFileCorrupt},
	{"FormatUnsupported", ErrFormatUnsupported},
	{"FileNameTooLong", ErrFileNameTooLong},
	{"InvalidArgument", ErrInvalidArgument},
	{"SizeMismatch", ErrSizeMismatch},
	{"Bitrot", erasure.ErrBitrot},
	{"ShardSize", erasure.ErrShardSize},
	{"Canceled", context.Canceled},
	{"DeadlineExceeded", context.DeadlineExceeded},
}

// codesOf lists the codes of every sentinel err matches.
func codesOf(err error) []string {
	var codes []string
	for _, c := range errorCodes {
		if errors.Is(err, c.err) {
			codes = append(codes, c.code)
		}
	}
	return codes
}

// remoteError is an error that crossed the RPC hop: the remote message, and
// the sentinels its codes name so that errors.Is sees them.
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
		// An error with no known code is still this disk failing the
		// request; the quorum layer must not mistake it for "not found".
		e.sentinels = []error{ErrFaultyDisk}
	}
	return e
}

// fsError classifies an error from the filesystem: the sentinel it means for
// the caller, wrapped around the original so the path and errno stay in the
// message. notFound is what a missing path means in this call.
func fsError(err error, notFound error) error {
	if err == nil {
		return nil
	}
	var errno syscall.Errno
	switch {
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.ENOTDIR):
		return fmt.Errorf("%w: %w", notFound, err)
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT):
		return fmt.Errorf("%w: %w", ErrDiskFull, err)
	case errors.Is(err, syscall.EACCES), errors.Is(err, syscall.EPERM), errors.Is(err, syscall.EROFS):
		return fmt.Errorf("%w: %w", ErrDiskAccessDenied, err)
	case errors.Is(err, syscall.ENAMETOOLONG):
		return fmt.Errorf("%w: %w", ErrFileNameTooLong, err)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	case errors.As(err, &errno), errors.As(err, new(*fs.PathError)):
		// EIO, EUCLEAN (ext4/xfs corruption), ESTALE, ...: the disk is
		// unreliable.
		return fmt.Errorf("%w: %w", ErrFaultyDisk, err)
	}
	return err
}
