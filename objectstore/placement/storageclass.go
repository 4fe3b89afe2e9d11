package placement

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/banyancloud/banyan/objectstore/erasure"
)

// StorageClass is an S3 storage class (x-amz-storage-class), as AWS spells it.
type StorageClass string

const (
	Standard           StorageClass = "STANDARD"
	ReducedRedundancy  StorageClass = "REDUCED_REDUNDANCY"
	StandardIA         StorageClass = "STANDARD_IA"
	OneZoneIA          StorageClass = "ONEZONE_IA"
	IntelligentTiering StorageClass = "INTELLIGENT_TIERING"
	Glacier            StorageClass = "GLACIER"
	DeepArchive        StorageClass = "DEEP_ARCHIVE"
	GlacierIR          StorageClass = "GLACIER_IR"
)

var storageClasses = map[StorageClass]bool{
	Standard: true, ReducedRedundancy: true, StandardIA: true, OneZoneIA: true,
	IntelligentTiering: true, Glacier: true, DeepArchive: true, GlacierIR: true,
}

// ParseStorageClass checks an x-amz-storage-class value; empty means
// STANDARD. It accepts the classes AWS accepts on a general purpose bucket
// (not EXPRESS_ONEZONE, OUTPOSTS, SNOW or the FSx classes). Every class but
// REDUCED_REDUNDANCY is stored like STANDARD: the name is kept for listings,
// the bytes get the bucket's scheme.
func ParseStorageClass(s string) (StorageClass, error) {
	if s == "" {
		return Standard, nil
	}
	c := StorageClass(s)
	if !storageClasses[c] {
		return "", fmt.Errorf("%w: %q; use STANDARD, REDUCED_REDUNDANCY, STANDARD_IA, ONEZONE_IA, INTELLIGENT_TIERING, GLACIER, GLACIER_IR or DEEP_ARCHIVE", ErrInvalidStorageClass, s)
	}
	return c, nil
}

// ParseScheme reads a scheme override as an operator writes it: "k+m", or
// "k+m/blocksize" as erasure.Scheme.String renders it. The block size
// defaults to erasure.DefaultBlockSize. It only checks the syntax and
// erasure's limits; CheckScheme says whether the scheme fits a map.
func ParseScheme(s string) (erasure.Scheme, error) {
	bad := func(why string) (erasure.Scheme, error) {
		return erasure.Scheme{}, fmt.Errorf("%w: %q: %s; write it as data+parity, e.g. 4+2, optionally /blocksize", erasure.ErrInvalidScheme, s, why)
	}
	shards, block, hasBlock := strings.Cut(s, "/")
	ks, ms, ok := strings.Cut(shards, "+")
	if !ok {
		return bad("no '+'")
	}
	k, err := strconv.Atoi(ks)
	if err != nil {
		return bad("data count is not a number")
	}
	m, err := strconv.Atoi(ms)
	if err != nil {
		return bad("parity count is not a number")
	}
	out := erasure.Scheme{Data: k, Parity: m, BlockSize: erasure.DefaultBlockSize}
	if hasBlock {
		if out.BlockSize, err = strconv.ParseInt(block, 10, 64); err != nil {
			return bad("block size is not a number")
		}
	}
	if err := out.Validate(); err != nil {
		return erasure.Scheme{}, err
	}
	return out, nil
}

// SchemeFor picks the scheme of a new object of class c in a bucket whose
// override is bucket (the zero Scheme for none) on m.
func SchemeFor(m Map, bucket erasure.Scheme, c StorageClass) (erasure.Scheme, Tolerance, error) {
	t, err := New(m)
	if err != nil {
		return erasure.Scheme{}, Tolerance{}, err
	}
	return t.SchemeFor(bucket, c)
}

// SchemeFor picks the scheme of a new object: the bucket's override when it
// has one (checked with CheckOverride, so an override that no longer fits
// fails with a *FitError rather than weakening silently), else ChooseScheme. For
// REDUCED_REDUNDANCY the same set is split with one parity shard, (n-1)+1,
// when that still fits (it does when every box holds at most one shard);
// otherwise the object gets the full scheme. The set size does not change
// with the class, so the bucket alone tells readers how many disks to ask.
func (t *Topology) SchemeFor(bucket erasure.Scheme, c StorageClass) (erasure.Scheme, Tolerance, error) {
	s := bucket
	var tol Tolerance
	var err error
	if s == (erasure.Scheme{}) {
		s, tol, err = t.ChooseScheme()
	} else {
		tol, err = t.CheckOverride(s)
	}
	if err != nil {
		return erasure.Scheme{}, Tolerance{}, err
	}
	if c == ReducedRedundancy && s.Parity > 1 {
		rr := erasure.Scheme{Data: s.Total() - 1, Parity: 1, BlockSize: s.BlockSize}
		if rt, err := t.CheckScheme(rr); err == nil {
			return rr, rt, nil
		}
	}
	return s, tol, nil
}

// Overrides are the scheme overrides an operator has set that bear on new
// objects of one bucket. The zero Scheme means none.
type Overrides struct {
	Bucket            erasure.Scheme // the bucket's own
	Standard          erasure.Scheme // set for STANDARD, and so for every class stored like it
	ReducedRedundancy erasure.Scheme // set for REDUCED_REDUNDANCY
}

// Any reports whether o holds an override.
func (o Overrides) Any() bool { return o != Overrides{} }

// SchemeWith picks the scheme of a new object of class c under the
// overrides o: the bucket's override, else the one set for c, else
// ChooseScheme. The bucket's override and STANDARD's are taken as the
// bucket's scheme, which SchemeFor splits (n-1)+1 for REDUCED_REDUNDANCY;
// an override set for REDUCED_REDUNDANCY itself is used as it is. Every
// override is checked with CheckOverride: one that no longer fits fails
// with a *FitError rather than weakening silently.
func (t *Topology) SchemeWith(o Overrides, c StorageClass) (erasure.Scheme, Tolerance, error) {
	switch {
	case o.Bucket != (erasure.Scheme{}):
		return t.SchemeFor(o.Bucket, c)
	case c == ReducedRedundancy && o.ReducedRedundancy != (erasure.Scheme{}):
		tol, err := t.CheckOverride(o.ReducedRedundancy)
		if err != nil {
			return erasure.Scheme{}, Tolerance{}, err
		}
		return o.ReducedRedundancy, tol, nil
	}
	return t.SchemeFor(o.Standard, c)
}

// CheckOverride is CheckScheme for a scheme an operator chose, with one
// more condition, which the automatic choice always meets. A reader of the
// object store believes a key's lookup once as many of its candidate disks
// answered as the automatic scheme has data shards, and a written object
// is on at least WriteQuorum of its n disks: the n-WriteQuorum that may
// lack it must be fewer than that, or a lookup could hear only from disks
// without an object that exists.
func (t *Topology) CheckOverride(s erasure.Scheme) (Tolerance, error) {
	tol, err := t.CheckScheme(s)
	if err != nil {
		return Tolerance{}, err
	}
	auto, _, err := t.ChooseScheme()
	if err != nil {
		return Tolerance{}, err
	}
	if lack := s.Total() - s.WriteQuorum(); lack >= auto.Data {
		return Tolerance{}, &FitError{Scheme: s, Boxes: len(t.write.boxes), Disks: len(t.write.disks), PerBox: tol.PerBox,
			Reason: fmt.Sprintf("a written object may be missing from %d of its %d disks, and reads trust a lookup once %d disks answer (the data shards of the automatic scheme %d+%d); use fewer parity shards or a narrower set",
				lack, s.Total(), auto.Data, auto.Data, auto.Parity)}
	}
	return tol, nil
}

// FormatScheme renders s as an operator writes an override, "k+m".
func FormatScheme(s erasure.Scheme) string { return fmt.Sprintf("%d+%d", s.Data, s.Parity) }
