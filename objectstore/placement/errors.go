package placement

import (
	"errors"
	"fmt"
	"strings"

	"github.com/banyancloud/banyan/objectstore/erasure"
)

var (
	// ErrInvalidMap: the disk map breaks an invariant the cluster state
	// should have kept (empty or repeated IDs, unknown states).
	ErrInvalidMap = errors.New("placement: invalid disk map")
	// ErrNoDisks: the map has no disk that takes new shards.
	ErrNoDisks = errors.New("placement: no disk takes new shards; add a disk or bring a draining one back")
	// ErrDoesNotFit matches every *FitError.
	ErrDoesNotFit = errors.New("placement: scheme does not fit the disk map")
	// ErrInvalidStorageClass: the storage class is not one S3 accepts for a
	// general purpose bucket (the S3 front end answers InvalidStorageClass).
	ErrInvalidStorageClass = errors.New("placement: invalid storage class")
)

// FitError says why a scheme cannot be placed on a map without breaking the
// rule that losing any one box (or, on a single box, any one disk) loses no
// object. errors.Is(err, ErrDoesNotFit) is true for it.
type FitError struct {
	Scheme erasure.Scheme
	Boxes  int // boxes of the map with disks that take new shards
	Disks  int // disks of the map that take new shards
	PerBox int // shards the scheme would put on the fullest box; 0 if it does not fit at all
	Reason string
}

func (e *FitError) Error() string {
	return fmt.Sprintf("placement: scheme %d+%d does not fit the disk map (%s on %s): %s",
		e.Scheme.Data, e.Scheme.Parity, plural(e.Disks, "disk"), plural(e.Boxes, "box"), e.Reason)
}

// plural renders "1 disk", "2 disks", "2 boxes".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	if strings.HasSuffix(noun, "x") {
		return fmt.Sprintf("%d %ses", n, noun)
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// Is makes errors.Is(err, ErrDoesNotFit) true.
func (e *FitError) Is(target error) bool { return target == ErrDoesNotFit }
