package erasure

import (
	"errors"
	"fmt"
	"strings"
)

var (
	// ErrInvalidScheme: the Scheme cannot describe a layout (see Scheme.Validate).
	ErrInvalidScheme = errors.New("erasure: invalid scheme")
	// ErrInvalidArgument: the call's arguments disagree with the Scheme or the
	// object (wrong number of shards, range outside the object, bad quorum).
	ErrInvalidArgument = errors.New("erasure: invalid argument")
	// ErrShardOffline: the caller passed nil for this shard's reader or writer.
	ErrShardOffline = errors.New("erasure: shard offline")
	// ErrBitrot: a shard block's bytes do not match its stored hash. The disk
	// returned wrong bytes without an I/O error; the shard needs healing.
	ErrBitrot = errors.New("erasure: bitrot: shard block does not match its hash")
	// ErrShardSize: a shard file is shorter or longer than the object's
	// Scheme.ShardFileSize, e.g. a torn write or the wrong object version.
	ErrShardSize = errors.New("erasure: shard file has the wrong size")
	// ErrQuorum matches every *QuorumError, for callers that only need to
	// know that too few disks answered.
	ErrQuorum = errors.New("erasure: quorum not reached")
)

// QuorumError says that fewer than Need shards could be written or read.
// errors.Is(err, ErrQuorum) is true for it, and errors.Is/As also see the
// per-shard errors in Errs.
type QuorumError struct {
	Op   string  // "write", "read" or "heal"
	Need int     // shards that had to succeed
	Have int     // shards that did
	Errs []error // indexed by shard; nil for shards that were fine or unused
}

func (e *QuorumError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "erasure: %s quorum not reached: %d of %d shards needed succeeded", e.Op, e.Have, e.Need)
	sep := " ("
	for i, err := range e.Errs {
		if err != nil {
			fmt.Fprintf(&b, "%sshard %d: %v", sep, i, err)
			sep = "; "
		}
	}
	if sep != " (" {
		b.WriteString(")")
	}
	b.WriteString("; bring the failed disks back or heal them before retrying")
	return b.String()
}

// Is makes errors.Is(err, ErrQuorum) true.
func (e *QuorumError) Is(target error) bool { return target == ErrQuorum }

// Unwrap exposes the per-shard causes to errors.Is and errors.As.
func (e *QuorumError) Unwrap() []error {
	var errs []error
	for _, err := range e.Errs {
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// ShardError is why one shard was dropped: an I/O error from its disk,
// ErrBitrot, ErrShardSize or ErrShardOffline.
type ShardError struct {
	Shard int   // index in the erasure set
	Block int64 // block being read or written; -1 when not block-specific
	Err   error
}

func (e *ShardError) Error() string {
	if e.Block < 0 {
		return fmt.Sprintf("erasure: shard %d: %v", e.Shard, e.Err)
	}
	return fmt.Sprintf("erasure: shard %d, block %d: %v", e.Shard, e.Block, e.Err)
}

func (e *ShardError) Unwrap() error { return e.Err }
