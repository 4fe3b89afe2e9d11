package objectstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/banyancloud/banyan/objectstore/disk"
	"github.com/banyancloud/banyan/objectstore/erasure"
)

// Healing brings every disk of an object's set back to the agreed state:
// missing or outdated metadata is rewritten, missing or corrupt shard
// files are rebuilt from the healthy ones (erasure.Heal streams into
// CreateFile and RenameData commits under the same data dir), and
// versions the set does not agree on (rolled-back writes) are dropped.
// Work arrives from reads that met a bad or missing shard (a bounded
// queue; when full, the scanner will find the object anyway) and from the
// background scanner, which walks every bucket at a throttled rate.

// HealResult says what HealObject did.
type HealResult struct {
	MetadataWritten int   // disk metadata files rewritten or removed
	ShardsRebuilt   int   // shard files (or inline shards) rebuilt
	Bytes           int64 // shard bytes written
	// ShardsAway counts the shards of agreed versions that are missing or bad
	// on a disk that cannot be reached now (its box is down): left for later.
	ShardsAway int
}

// Healed reports whether anything was repaired.
func (r HealResult) Healed() bool { return r.MetadataWritten > 0 || r.ShardsRebuilt > 0 }

// HealStatus is the healer's counters, for `banyan status` and metrics.
type HealStatus struct {
	Queued         int   // objects waiting in the heal-on-read queue
	Dropped        int64 // heal requests dropped because the queue was full
	ObjectsHealed  int64 // objects that needed and got a repair
	BytesHealed    int64 // shard bytes written by repairs
	Failures       int64 // heal attempts that failed
	ObjectsScanned int64 // objects looked at by the scanner, all scans
	// VersionsMoved counts versions moved off Draining or Removed disks (or
	// re-encoded because their scheme no longer fits the map).
	VersionsMoved int64
	// VersionsLeftToMove is how many versions the last completed scan found
	// on retiring disks and could not move (0: a drained disk holds nothing).
	VersionsLeftToMove int64
	// ObjectsLeftDegraded is how many objects the last completed scan left
	// short of shards because disks that should hold them were away.
	ObjectsLeftDegraded int64
	LastScanStarted     time.Time // zero before the first scan
	LastScanEnded       time.Time // zero until a scan completes
	// MRFQueued is how many objects wait for disks that missed a write of
	// them (mrf.go); MRFRepaired counts the objects repaired once those
	// disks answered again, MRFDropped those left to the scanner (queue
	// full, repairs failing, disks removed).
	MRFQueued   int
	MRFRepaired int64
	MRFDropped  int64
}

type healRequest struct{ bucket, key string }

type healCounters struct {
	dropped, healed, bytes, failures, scanned atomic.Int64
	relocated                                 atomic.Int64
	unmoved                                   atomic.Int64 // this scan's versions that failed to move
	unmovedLastScan                           int64        // under mu
	degraded                                  atomic.Int64 // this scan's objects left short of shards on away disks
	degradedLastScan                          int64        // under mu
	mu                                        sync.Mutex
	scanStart, scanEnd                        time.Time
	pending                                   sync.Map // bucket/key -> struct{}
	mrf                                       mrfQueue // writes that missed disks
}

// HealStatus returns the healer's counters.
func (s *Store) HealStatus() HealStatus {
	c := &s.healStats
	c.mu.Lock()
	defer c.mu.Unlock()
	return HealStatus{
		Queued: len(s.healCh), Dropped: c.dropped.Load(), ObjectsHealed: c.healed.Load(),
		BytesHealed: c.bytes.Load(), Failures: c.failures.Load(), ObjectsScanned: c.scanned.Load(),
		VersionsMoved: c.relocated.Load(), VersionsLeftToMove: c.unmovedLastScan, ObjectsLeftDegraded: c.degradedLastScan,
		LastScanStarted: c.scanStart, LastScanEnded: c.scanEnd,
		MRFQueued: c.mrf.len(), MRFRepaired: c.mrf.repaired.Load(), MRFDropped: c.mrf.dropped.Load(),
	}
}

// queueHeal asks the heal workers to look at bucket/key; it never blocks.
func (s *Store) queueHeal(bucket, key string) {
	if s.closed.Load() {
		return
	}
	name := bucket + "/" + key
	if _, dup := s.healStats.pending.LoadOrStore(name, struct{}{}); dup {
		return
	}
	select {
	case s.healCh <- healRequest{bucket, key}:
	default:
		s.healStats.pending.Delete(name)
		s.healStats.dropped.Add(1)
	}
}

func (s *Store) healWorker() {
	defer s.healWG.Done()
	s.startRepairs()
	for {
		select {
		case <-s.healStop:
			return
		case r := <-s.healCh:
			s.healStats.pending.Delete(r.bucket + "/" + r.key)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
			if _, err := s.HealObject(ctx, r.bucket, r.key); err != nil {
				s.log.Warn("heal of a degraded object failed; the scanner retries it", "bucket", r.bucket, "key", r.key, "err", err)
			}
			cancel()
		}
	}
}

// HealObject repairs bucket/key on its erasure set: every shard file of
// every agreed version is verified end to end, and whatever is missing,
// corrupt or outdated on a disk is rebuilt from the others.
func (s *Store) HealObject(ctx context.Context, bucket, key string) (HealResult, error) {
	res, err := s.healObject(ctx, bucket, key, nil)
	if err != nil {
		s.healStats.failures.Add(1)
	} else if res.Healed() {
		s.healStats.healed.Add(1)
	}
	s.healStats.bytes.Add(res.Bytes)
	return res, err
}

func (s *Store) healObject(ctx context.Context, bucket, key string, lim *limiter) (HealResult, error) {
	var res HealResult
	unlock, err := s.lockObject(ctx, bucket, key)
	if err != nil {
		return res, err
	}
	defer unlock()
	ids, err := s.lookupDisks(bucket, key)
	if err != nil {
		return res, err
	}
	st, err := s.readObjectFrom(ctx, bucket, key, ids, s.readQuorumDefault())
	if err != nil {
		return res, err
	}
	// Read the disks the versions record too, if the map has moved on.
	if more := st.unasked(); len(more) > 0 {
		ids = append(ids, more...)
		if st, err = s.readObjectFrom(ctx, bucket, key, ids, s.readQuorumDefault()); err != nil {
			return res, err
		}
	}
	pos := map[string]int{}
	for i, dm := range st.disks {
		pos[dm.id] = i
	}
	var errs []error
	topo := s.disks.Topology()
	var move []int
	for i := range st.versions {
		v := &st.versions[i]
		if lim != nil {
			if err := lim.wait(ctx, v.Size); err != nil {
				return res, err
			}
		}
		if topo != nil && needsRelocation(topo, v) {
			// Rebuilt on its new set instead (below), from what is readable.
			move = append(move, i)
			continue
		}
		if err := s.healVersion(ctx, st, i, pos, &res); err != nil {
			errs = append(errs, err)
		}
	}
	// Drop what the set does not agree on from every disk that has it.
	for j, dm := range st.disks {
		if dm.down {
			continue
		}
		d := s.disks.Disk(dm.id)
		if d == nil {
			continue
		}
		m, err := d.ReadMetadata(ctx, bucket, key)
		if err != nil {
			continue
		}
		keep := &disk.ObjectMeta{}
		for _, v := range m.Versions {
			// A version younger than commitGrace may be a commit in
			// flight from another node that has not reached its quorum
			// yet: leave it for a later pass.
			if containsVersion(st.versions, versionKey(&v)) || time.Since(v.ModTime) < commitGrace {
				keep.Versions = append(keep.Versions, v)
			}
		}
		if len(keep.Versions) == len(m.Versions) {
			continue
		}
		if len(keep.Versions) == 0 {
			err = d.DeleteObject(ctx, bucket, key)
		} else {
			err = d.WriteMetadata(ctx, bucket, key, keep)
		}
		if err != nil && !notThere(err) {
			errs = append(errs, fmt.Errorf("disk %s: %w", st.disks[j].id, err))
			continue
		}
		res.MetadataWritten++
	}
	for _, i := range move {
		if err := s.relocateVersion(ctx, topo, st, i, &res); err != nil {
			s.healStats.unmoved.Add(1)
			errs = append(errs, fmt.Errorf("moving %s/%s off retiring disks: %w", bucket, key, err))
		}
	}
	return res, errors.Join(errs...)
}

// commitGrace is how old a version must be before the healer may drop it
// as an unfinished write.
const commitGrace = 5 * time.Minute

func containsVersion(vs []disk.Version, k string) bool {
	for i := range vs {
		if versionKey(&vs[i]) == k {
			return true
		}
	}
	return false
}

// healVersion rebuilds version i on the disks of its set that lack it or
// hold a bad copy.
func (s *Store) healVersion(ctx context.Context, st *objectState, i int, pos map[string]int, res *HealResult) error {
	v := st.versions[i]
	set := s.setOf(&v)
	sc := v.Erasure.Scheme()
	n := len(set.ids)
	holder := make([]bool, n) // set position holds the version in its metadata
	good := make([]bool, n)   // ... and its data verifies
	own := make([]disk.Version, n)
	why := make([]string, n) // why a position is no source, for the error
	parallel(n, func(j int) {
		p, ok := pos[set.ids[j]]
		switch {
		case set.disks[j] == nil:
			why[j] = "box down"
			return
		case !ok:
			why[j] = "not asked"
			return
		case st.disks[p].down:
			why[j] = "metadata unreadable"
			return
		}
		hv, ok := st.holderVersion(i, p)
		if !ok {
			why[j] = "lacks the version"
			return
		}
		holder[j], own[j] = true, hv
		switch {
		case v.IsDeleteMarker:
			good[j] = true
		case v.HasInline():
			good[j] = erasure.VerifyShard(bytes.NewReader(hv.Inline), int64(len(hv.Inline)), sc, v.Size) == nil
		default:
			good[j] = true
			for _, part := range v.Parts {
				if err := set.disks[j].VerifyFile(ctx, st.bucket, st.key, v.DataDir, part.Number, sc, part.Size); err != nil {
					good[j], why[j] = false, err.Error()
					return
				}
			}
		}
	})
	var targets []int
	for j := range n {
		if good[j] {
			continue
		}
		if p, ok := pos[set.ids[j]]; set.disks[j] == nil || !ok || st.disks[p].down {
			res.ShardsAway++ // cannot be healed now
			continue
		}
		targets = append(targets, j)
	}
	if len(targets) == 0 {
		return nil
	}
	for _, j := range targets {
		if err := set.disks[j].MakeVolume(ctx, st.bucket); err != nil && !errors.Is(err, disk.ErrVolumeExists) {
			return fmt.Errorf("disk %s: %w", set.ids[j], err)
		}
	}
	switch {
	case v.IsDeleteMarker:
		return s.healCommit(ctx, st, v, set, targets, "", nil, res)
	case v.HasInline():
		src := make([]erasure.ShardReader, sc.Total())
		for j := range n {
			if good[j] {
				src[shardOf(&v.Erasure, j)] = bytes.NewReader(own[j].Inline)
			}
		}
		var body bytes.Buffer
		if _, err := erasure.Decode(ctx, &body, src, sc, v.Size, 0, v.Size); err != nil {
			return readErr(err)
		}
		inline, err := encodeInline(ctx, body.Bytes(), sc)
		if err != nil {
			return err
		}
		return s.healCommit(ctx, st, v, set, targets, "", inline, res)
	}
	staged := newUUID()
	ok := make([]bool, n)
	for _, j := range targets {
		ok[j] = true
	}
	for _, part := range v.Parts {
		if err := s.healPart(ctx, st, &v, set, part, good, ok, staged, res); err != nil {
			s.dropStaged(set, staged)
			var reasons []string
			for j := range n {
				if why[j] != "" {
					reasons = append(reasons, fmt.Sprintf("disk %s: %s", set.ids[j], why[j]))
				}
			}
			return fmt.Errorf("%w (no source: %s)", err, strings.Join(reasons, "; "))
		}
	}
	var live []int
	for _, j := range targets {
		if ok[j] {
			live = append(live, j)
		}
	}
	err := s.healCommit(ctx, st, v, set, live, staged, nil, res)
	s.dropStaged(set, staged)
	return err
}

// healPart rebuilds one part's shard file on the targets into staging.
func (s *Store) healPart(ctx context.Context, st *objectState, v *disk.Version, set erasureSet, part disk.Part, good, ok []bool, staged string, res *HealResult) error {
	sc := v.Erasure.Scheme()
	n := len(set.ids)
	holds := map[string]bool{}
	for j := range n {
		if good[j] {
			holds[set.ids[j]] = true
		}
	}
	files, _ := s.openShards(ctx, st.bucket, st.key, v, set, part.Number, holds)
	defer closeAll(files)
	src := make([]erasure.ShardReader, sc.Total())
	for j, f := range files {
		if f != nil {
			src[j] = f
		}
	}
	dst := make([]io.Writer, sc.Total())
	pws := make([]*io.PipeWriter, n)
	done := make([]chan error, n)
	size := sc.ShardFileSize(part.Size)
	for j := range n {
		if !ok[j] {
			continue
		}
		pr, pw := io.Pipe()
		pws[j], dst[shardOf(&v.Erasure, j)], done[j] = pw, pw, make(chan error, 1)
		d := set.disks[j]
		go func() {
			err := d.CreateFile(ctx, st.bucket, fmt.Sprintf("%s/part.%d", staged, part.Number), size, pr)
			pr.CloseWithError(errors.Join(err, errShardAbandoned))
			done[j] <- err
		}()
	}
	_, herr := erasure.Heal(ctx, src, dst, sc, part.Size)
	for _, pw := range pws {
		if pw == nil {
			continue
		}
		if herr == nil {
			pw.Close()
		} else {
			pw.CloseWithError(herr)
		}
	}
	for j := range n {
		if done[j] == nil {
			continue
		}
		if err := <-done[j]; err != nil {
			ok[j] = false
			continue
		}
		res.ShardsRebuilt++
		res.Bytes += size
	}
	var qe *erasure.QuorumError
	if errors.As(herr, &qe) && qe.Op == "read" {
		return readErr(herr)
	}
	return nil
}

// healCommit writes version v onto the disks at set positions targets.
func (s *Store) healCommit(ctx context.Context, st *objectState, v disk.Version, set erasureSet, targets []int, staged string, inline [][]byte, res *HealResult) error {
	var errs []error
	for _, j := range targets {
		dv := v
		dv.Erasure.Index = shardOf(&v.Erasure, j)
		dv.Inline = nil
		if inline != nil {
			dv.Inline = inline[dv.Erasure.Index]
			res.Bytes += int64(len(dv.Inline))
			res.ShardsRebuilt++
		}
		if err := set.disks[j].RenameData(ctx, staged, st.bucket, st.key, dv); err != nil {
			errs = append(errs, fmt.Errorf("disk %s: %w", set.ids[j], err))
			continue
		}
		res.MetadataWritten++
	}
	return errors.Join(errs...)
}

// limiter is a token bucket on bytes per second for the scanner, so that
// verification and rebuilding leave the disks to user traffic.
type limiter struct {
	rate   float64 // bytes per second; <= 0: unlimited
	tokens float64
	last   time.Time
}

func (l *limiter) wait(ctx context.Context, n int64) error {
	if l == nil || l.rate <= 0 {
		return nil
	}
	now := time.Now()
	if l.last.IsZero() {
		l.last, l.tokens = now, l.rate
	}
	l.tokens = min(l.tokens+now.Sub(l.last).Seconds()*l.rate, l.rate)
	l.last = now
	l.tokens -= float64(n)
	if l.tokens >= 0 {
		return nil
	}
	d := time.Duration(-l.tokens / l.rate * float64(time.Second))
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// RunScanner walks every bucket on every disk each interval and heals
// every object it finds, verifying shard files end to end, at most
// bytesPerSec bytes of objects per second (<= 0: unthrottled). It returns
// when ctx ends.
//
// A change of the disk map (a disk drained or removed, a box added) starts
// the next scan at once instead of at the end of the interval, so that
// versions leave retiring disks promptly.
func (s *Store) RunScanner(ctx context.Context, interval time.Duration, bytesPerSec int64) error {
	lim := &limiter{rate: float64(bytesPerSec)}
	for {
		version := s.mapVersion()
		if _, err := s.scan(ctx, lim); err != nil && ctx.Err() != nil {
			return ctx.Err()
		}
		next := time.NewTimer(interval)
		poll := time.NewTicker(mapPoll)
	wait:
		for {
			select {
			case <-ctx.Done():
				next.Stop()
				poll.Stop()
				return ctx.Err()
			case <-next.C:
				break wait
			case <-poll.C:
				if s.mapVersion() != version {
					break wait
				}
			}
		}
		next.Stop()
		poll.Stop()
	}
}

// mapPoll is how often the scanner looks for a new disk map between scans.
var mapPoll = 5 * time.Second

func (s *Store) mapVersion() uint64 {
	if topo := s.disks.Topology(); topo != nil {
		return topo.Version()
	}
	return 0
}

// ScanReport is what one scan did.
type ScanReport struct {
	Scanned  int64 // objects looked at
	Healed   int64 // objects that needed and got a repair
	Bytes    int64 // shard bytes written
	Failed   int64 // objects whose heal failed
	Degraded int64 // objects left short of shards because disks that should hold them are away
}

// ScanOnce runs one unthrottled scan of every bucket and returns what it
// did and the heal failures it met.
func (s *Store) ScanOnce(ctx context.Context) (ScanReport, error) { return s.scan(ctx, nil) }

func (s *Store) scan(ctx context.Context, lim *limiter) (ScanReport, error) {
	var rep ScanReport
	s.healStats.mu.Lock()
	s.healStats.scanStart = time.Now()
	s.healStats.mu.Unlock()
	s.healStats.unmoved.Store(0)
	s.healStats.degraded.Store(0)
	buckets := map[string]bool{}
	for _, id := range s.allDisks() {
		d := s.disks.Disk(id)
		if d == nil {
			continue
		}
		vols, err := d.ListVolumes(ctx)
		if err != nil {
			continue
		}
		for _, v := range vols {
			if v.Name != multipartVolume {
				buckets[v.Name] = true
			}
		}
	}
	var errs []error
	for b := range buckets {
		m := s.newMerger(ctx, b, "", "", s.allDisks())
		for {
			key, _, ok := m.next()
			if !ok {
				break
			}
			s.healStats.scanned.Add(1)
			rep.Scanned++
			res, err := s.healObject(ctx, b, key, lim)
			if err != nil {
				s.healStats.failures.Add(1)
				rep.Failed++
				errs = append(errs, err)
			} else if res.Healed() {
				s.healStats.healed.Add(1)
				rep.Healed++
			}
			if res.ShardsAway > 0 {
				s.healStats.degraded.Add(1)
				rep.Degraded++
			}
			s.healStats.bytes.Add(res.Bytes)
			rep.Bytes += res.Bytes
			if ctx.Err() != nil {
				break
			}
		}
		m.close()
	}
	if err := s.sweepOrphanParts(ctx); err != nil {
		errs = append(errs, err)
	}
	if ctx.Err() == nil {
		s.healStats.mu.Lock()
		s.healStats.scanEnd = time.Now()
		s.healStats.unmovedLastScan = s.healStats.unmoved.Load()
		s.healStats.degradedLastScan = s.healStats.degraded.Load()
		s.healStats.mu.Unlock()
	}
	return rep, errors.Join(errs...)
}
