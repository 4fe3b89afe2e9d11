package objectstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/banyancloud/banyan/objectstore/disk"
	"github.com/banyancloud/banyan/objectstore/erasure"
	"github.com/banyancloud/banyan/objectstore/placement"
)

// DefaultInlineLimit is the object size below which an object's shards are
// kept inside its metadata file instead of in shard files: one file per
// disk instead of two, and one read for a GET.
const DefaultInlineLimit = 128 << 10

// Options tune a Store. The zero value is usable.
type Options struct {
	// InlineLimit: objects smaller than this are stored inline in their
	// metadata (default DefaultInlineLimit; negative disables inlining).
	InlineLimit int64
	// BlockSize overrides the erasure block size of new objects
	// (default erasure.DefaultBlockSize).
	BlockSize int64
	// Logger receives heal and rollback problems (default slog.Default()).
	Logger *slog.Logger
	// HealQueue bounds the objects waiting for heal-on-read (default 1024);
	// when it is full, further requests are dropped and left to the scanner.
	HealQueue int
	// HealWorkers is the number of goroutines draining the heal queue
	// (default 1; negative: none, requests only queue).
	HealWorkers int
	// Locker, when set, is taken (after this node's own lock) around every
	// commit, version delete, tag rewrite and heal of a key, so that a
	// conditional write's check and commit are atomic against writes
	// through every node, not only this one. It costs a lock round trip
	// per write; the node wiring can supply a lock over the erasure set's
	// nodes. Without one, see the package doc for the gap.
	Locker Locker
	// Schemes, when set, says which scheme overrides the operator has set
	// (per bucket, per storage class). New objects get the bucket's, else
	// their class's, else the automatic scheme (placement.Topology.
	// SchemeWith); objects already written keep the scheme they record.
	// Without it every new object gets the automatic scheme.
	Schemes SchemeOverrides
}

// SchemeOverrides is where a Store learns the operator's scheme overrides
// (the banyan server reads them from the replicated state). ok is false
// where there is none; an error (a stored value that does not parse)
// fails the writes it concerns.
type SchemeOverrides interface {
	// BucketScheme is bucket's own override.
	BucketScheme(bucket string) (s erasure.Scheme, ok bool, err error)
	// ClassScheme is the override set for storage class c (STANDARD or
	// REDUCED_REDUNDANCY; every other class is stored like STANDARD).
	ClassScheme(c placement.StorageClass) (s erasure.Scheme, ok bool, err error)
}

// Locker is a cluster-wide lock by name.
type Locker interface {
	Lock(ctx context.Context, name string) (unlock func(), err error)
}

// Disks is the store's view of the cluster's disks: the current disk map
// prepared for placement, and a handle on each disk by its ID (local or
// remote). Disk returns nil for a disk this node cannot reach at all; the
// store treats it as offline.
type Disks interface {
	Topology() *placement.Topology
	Disk(id string) disk.Disk
}

// Rebalancing is implemented by a Disks whose disk map changed and whose
// healer has not yet moved every object: Older returns the map versions
// still being rebalanced away from, newest first, so that objects written
// under them are found (placement.Topology.Candidates).
type Rebalancing interface {
	Older() []*placement.Topology
}

// Store is the erasure-set engine: ObjectLayer over the disks of Disks.
// It keeps no state of its own beyond per-key locks, the heal queue and
// counters; everything durable is on the disks.
type Store struct {
	disks Disks
	opts  Options
	log   *slog.Logger
	locks keyLocks

	healCh    chan healRequest
	healStop  chan struct{}
	healWG    sync.WaitGroup
	healStats healCounters
	closed    atomic.Bool

	clockMu   sync.Mutex
	lastClock time.Time
}

// now is the ModTime of a new version: the wall clock, but strictly later
// than every version this node committed before and than after (the
// latest version it saw, when it looked). Versions are ordered by ModTime
// on every disk, so two quick writes through one node must never tie or
// run backwards when the clock steps. Writes through different nodes are
// ordered by their clocks (NTP keeps them close; see the package doc).
func (s *Store) now(after time.Time) time.Time {
	s.clockMu.Lock()
	defer s.clockMu.Unlock()
	t := time.Now().UTC().Round(0)
	if !t.After(s.lastClock) {
		t = s.lastClock.Add(time.Nanosecond)
	}
	if !t.After(after) {
		t = after.Add(time.Nanosecond)
	}
	s.lastClock = t
	return t
}

var _ ObjectLayer = (*Store)(nil)

// New returns a Store over disks and starts its heal-on-read workers; Close
// stops them.
func New(disks Disks, opts Options) *Store {
	if opts.InlineLimit == 0 {
		opts.InlineLimit = DefaultInlineLimit
	}
	if opts.BlockSize <= 0 {
		opts.BlockSize = erasure.DefaultBlockSize
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.HealQueue <= 0 {
		opts.HealQueue = 1024
	}
	if opts.HealWorkers == 0 {
		opts.HealWorkers = 1
	}
	s := &Store{
		disks:    disks,
		opts:     opts,
		log:      opts.Logger,
		healCh:   make(chan healRequest, opts.HealQueue),
		healStop: make(chan struct{}),
	}
	for range max(opts.HealWorkers, 0) {
		s.healWG.Add(1)
		go s.healWorker()
	}
	return s
}

// Close stops the heal workers. Requests in flight are not interrupted.
func (s *Store) Close() error {
	if s.closed.CompareAndSwap(false, true) {
		close(s.healStop)
		s.healWG.Wait()
	}
	return nil
}

// schemeFor is the scheme of new objects of class in bucket on topo: the
// bucket's override, else the class's, else the automatic one (see
// Options.Schemes). An override that does not fit topo fails the write
// with ErrWriteQuorum wrapping the *placement.FitError that says why.
func (s *Store) schemeFor(topo *placement.Topology, bucket, class string) (erasure.Scheme, error) {
	c, err := placement.ParseStorageClass(class)
	if err != nil {
		c = placement.Standard
	}
	o, err := s.overrides(bucket)
	if err != nil {
		return erasure.Scheme{}, fmt.Errorf("%w: %w", ErrWriteQuorum, err)
	}
	sc, _, err := topo.SchemeWith(o, c)
	if err != nil {
		if o.Any() {
			err = fmt.Errorf("the scheme override set for %s (or its storage class %s) cannot be used: %w", bucket, c, err)
		}
		return erasure.Scheme{}, fmt.Errorf("%w: %w", ErrWriteQuorum, err)
	}
	sc.BlockSize = s.opts.BlockSize
	return sc, nil
}

// overrides collects the scheme overrides that bear on new objects of
// bucket.
func (s *Store) overrides(bucket string) (placement.Overrides, error) {
	var o placement.Overrides
	if s.opts.Schemes == nil {
		return o, nil
	}
	get := func(dst *erasure.Scheme, what string, sc erasure.Scheme, ok bool, err error) error {
		if err != nil {
			return fmt.Errorf("objectstore: reading the scheme override of %s: %w", what, err)
		}
		if ok {
			*dst = sc
		}
		return nil
	}
	sc, ok, err := s.opts.Schemes.BucketScheme(bucket)
	if err := get(&o.Bucket, "bucket "+bucket, sc, ok, err); err != nil {
		return o, err
	}
	for _, c := range []placement.StorageClass{placement.Standard, placement.ReducedRedundancy} {
		dst := &o.Standard
		if c == placement.ReducedRedundancy {
			dst = &o.ReducedRedundancy
		}
		sc, ok, err := s.opts.Schemes.ClassScheme(c)
		if err := get(dst, "storage class "+string(c), sc, ok, err); err != nil {
			return o, err
		}
	}
	return o, nil
}

// erasureSet is where one version lives: its scheme and its disks in shard
// order (nil where this node has no handle on the disk).
type erasureSet struct {
	scheme erasure.Scheme
	ids    []string
	disks  []disk.Disk
}

// placeNew picks the scheme and disks of a new version of bucket/key.
func (s *Store) placeNew(bucket, key, class string) (erasureSet, error) {
	topo := s.disks.Topology()
	if topo == nil {
		return erasureSet{}, fmt.Errorf("%w: no disk map", ErrWriteQuorum)
	}
	sc, err := s.schemeFor(topo, bucket, class)
	if err != nil {
		return erasureSet{}, err
	}
	pl, err := topo.Place(sc, bucket, key)
	if err != nil {
		return erasureSet{}, fmt.Errorf("%w: %w", ErrWriteQuorum, err)
	}
	set := erasureSet{scheme: sc, ids: make([]string, len(pl)), disks: make([]disk.Disk, len(pl))}
	for i, d := range pl {
		set.ids[i] = d.ID
		set.disks[i] = s.disks.Disk(d.ID)
	}
	return set, nil
}

// setOf is the erasure set a version records.
func (s *Store) setOf(v *disk.Version) erasureSet {
	set := erasureSet{scheme: v.Erasure.Scheme(), ids: v.Erasure.Disks, disks: make([]disk.Disk, len(v.Erasure.Disks))}
	for i, id := range v.Erasure.Disks {
		set.disks[i] = s.disks.Disk(id)
	}
	return set
}

// shardOf is the shard index the i-th disk of a version's set holds.
func shardOf(e *disk.ErasureInfo, i int) int {
	if i < len(e.Distribution) {
		return e.Distribution[i]
	}
	return i
}

// lookupDisks lists the disks that may hold the metadata of bucket/key,
// most likely first (placement.Topology.Candidates), as many of the key's
// ordering as lookupSize says.
func (s *Store) lookupDisks(bucket, key string) ([]string, error) {
	topo := s.disks.Topology()
	if topo == nil {
		return nil, fmt.Errorf("%w: no disk map", ErrReadQuorum)
	}
	n, _, err := s.lookupSize(topo, bucket)
	if err != nil {
		// No scheme fits the disks that take writes (every disk draining,
		// say): the objects are still where they were, so ask every disk
		// that may hold them.
		if ids := s.allDisks(); len(ids) > 0 {
			return ids, nil
		}
		return nil, fmt.Errorf("%w: %w", ErrReadQuorum, err)
	}
	var older []*placement.Topology
	if r, ok := s.disks.(Rebalancing); ok {
		older = r.Older()
	}
	var ids []string
	for _, d := range topo.Candidates(n, bucket, key, older...) {
		ids = append(ids, d.ID)
	}
	return ids, nil
}

// lookupSize is how many disks of a key's ordering in bucket a lookup
// asks, and how many of them may fail to answer while a listing is still
// believed. Without overrides it is the automatic scheme's set size and
// parity, as before overrides existed.
//
// Every set is a prefix of the key's ordering, so asking the widest set
// any new object of the bucket may get (of any class, or automatic, as
// objects written before an override was set are) finds them all in one
// round. But readQuorumDefault, the answers a lookup needs before "not
// there" is believed, is the automatic scheme's Data whatever the bucket
// (it cannot know it), so the size is also capped: an object of scheme S
// is on at least S.WriteQuorum() of its disks, and at most size-Data
// candidates may stay silent, which must leave one holder, so size is at
// most Data+WriteQuorum-1 for every S. A narrow override (2+1 under an
// automatic 4+2) is thus asked on more disks than its set, so that as many
// may be down as its own parity allows. A set wider than the cap is found
// by its first disks and then asked in full (readObject follows the sets
// versions record); placement.Topology.CheckOverride refuses overrides
// that would break the bound.
func (s *Store) lookupSize(topo *placement.Topology, bucket string) (size, tolerance int, err error) {
	auto, _, err := topo.ChooseScheme()
	if err != nil {
		return 0, 0, err
	}
	o, err := s.overrides(bucket)
	if err != nil || !o.Any() {
		// A lookup must not fail on an override it cannot read: the
		// automatic size is what it was sized to before overrides.
		return auto.Total(), auto.Parity, nil
	}
	widest, capped := auto.Total(), auto.Data+auto.WriteQuorum()-1
	parity := auto.Parity
	if std, _, err := topo.SchemeWith(o, placement.Standard); err == nil {
		parity = std.Parity
	} else if o.Bucket != (erasure.Scheme{}) {
		parity = o.Bucket.Parity
	} else if o.Standard != (erasure.Scheme{}) {
		parity = o.Standard.Parity
	}
	consider := func(sc erasure.Scheme) {
		if sc.Validate() != nil {
			return
		}
		widest = max(widest, sc.Total())
		capped = min(capped, auto.Data+sc.WriteQuorum()-1)
	}
	for _, c := range []placement.StorageClass{placement.Standard, placement.ReducedRedundancy} {
		sc, _, err := topo.SchemeWith(o, c)
		if err == nil {
			consider(sc)
		}
	}
	// Overrides that no longer fit the map take no new objects but may
	// hold old ones.
	consider(o.Bucket)
	consider(o.Standard)
	consider(o.ReducedRedundancy)
	size = min(max(widest, auto.Data+parity), capped)
	return size, min(parity, size-auto.Data), nil
}

// allDisks lists every disk of the map that may hold data (all but Removed
// ones). Candidates with a set size larger than the map returns them all.
func (s *Store) allDisks() []string {
	topo := s.disks.Topology()
	if topo == nil {
		return nil
	}
	var older []*placement.Topology
	if r, ok := s.disks.(Rebalancing); ok {
		older = r.Older()
	}
	var ids []string
	for _, d := range topo.Candidates(math.MaxInt32, "", "", older...) {
		ids = append(ids, d.ID)
	}
	return ids
}

// readQuorumDefault is how many of a key's lookup disks must answer before
// "not there" can be believed: the automatic scheme's read quorum, for
// every bucket. lookupSize sizes each bucket's lookups so that this is
// enough for the schemes its objects may have.
func (s *Store) readQuorumDefault() int {
	topo := s.disks.Topology()
	if topo == nil {
		return 1
	}
	sc, _, err := topo.ChooseScheme()
	if err != nil {
		return 1
	}
	return sc.ReadQuorum()
}

// MakeBucket creates the bucket's volume on every disk. A disk that is down
// gets it from the healer (or the next write that needs it).
func (s *Store) MakeBucket(ctx context.Context, bucket string) error {
	ids := s.allDisks()
	errs := s.each(ids, func(d disk.Disk) error {
		err := d.MakeVolume(ctx, bucket)
		if errors.Is(err, disk.ErrVolumeExists) {
			return nil
		}
		return err
	})
	return s.quorumErr(errs, len(ids)/2+1, ErrWriteQuorum, "creating bucket "+bucket)
}

// DeleteBucket removes the bucket's volume from every disk once no object
// version remains; the bucket's unfinished multipart uploads are aborted
// first (AWS deletes them with the bucket).
func (s *Store) DeleteBucket(ctx context.Context, bucket string) error {
	empty, err := s.bucketEmpty(ctx, bucket)
	if err != nil {
		return err
	}
	if !empty {
		return ErrBucketNotEmpty
	}
	for {
		page, err := s.ListMultipartUploads(ctx, bucket, ListUploadsOptions{MaxUploads: 1000})
		if err != nil {
			return err
		}
		for _, u := range page.Uploads {
			if err := s.AbortMultipartUpload(ctx, bucket, u.Key, u.UploadID); err != nil && !errors.Is(err, ErrUploadNotFound) {
				return fmt.Errorf("aborting upload %s of %s/%s before deleting the bucket: %w", u.UploadID, bucket, u.Key, err)
			}
		}
		if len(page.Uploads) == 0 {
			break
		}
	}
	ids := s.allDisks()
	errs := s.each(ids, func(d disk.Disk) error {
		err := d.DeleteVolume(ctx, bucket, true)
		if errors.Is(err, disk.ErrVolumeNotFound) {
			return nil
		}
		return err
	})
	return s.quorumErr(errs, len(ids)/2+1, ErrWriteQuorum, "deleting bucket "+bucket)
}

// errNoDisk is a set member this node has no handle on.
var errNoDisk = fmt.Errorf("%w: no handle on the disk", disk.ErrDiskOffline)

// each runs fn on the disks with ids in parallel and returns their errors.
func (s *Store) each(ids []string, fn func(d disk.Disk) error) []error {
	errs := make([]error, len(ids))
	var wg sync.WaitGroup
	for i, id := range ids {
		d := s.disks.Disk(id)
		if d == nil {
			errs[i] = errNoDisk
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = fn(d)
		}()
	}
	wg.Wait()
	return errs
}

// parallel runs fn(i) for i in [0, n) concurrently.
func parallel(n int, fn func(i int)) {
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn(i)
		}()
	}
	wg.Wait()
}

// newUUID returns a random version 4 UUID (version IDs, data directories,
// staging names).
func newUUID() string { return disk.NewUUID() }
