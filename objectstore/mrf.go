package objectstore

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/banyancloud/banyan/objectstore/disk"
	"github.com/banyancloud/banyan/objectstore/placement"
)

// Prompt repair of degraded writes (MinIO's "most recently failed" queue).
// A write that commits at write quorum but misses some disks of its set (a
// disk or box down or failing) is queued here with the disks it missed. A
// worker looks every mrfInterval whether those disks answer again (a handle
// at all, then Info) and, for the entries whose disks do, heals the key and
// checks that the disks now hold the version; what is repaired leaves the
// queue, what is still away stays, and a repair that fails is retried with
// backoff. The queue is in memory, per node and bounded: what it drops (when
// full, or after mrfMaxFailures failed repairs) or loses in a restart is left
// to the scanner. One entry per key: healing a key heals all its versions.
//
// A version delete that misses disks is queued too, and its repair is not a
// heal: the healer keeps a version no quorum agrees on while it is younger
// than commitGrace (it may be a commit in flight), and a version deleted
// right after its write is that young. Left on the disks that missed the
// delete, such a copy counts toward the version's read quorum whenever other
// disks of its set cannot be asked (agree lowers the threshold for them), so
// a listing through a node that cannot reach those disks shows a key whose
// delete was acknowledged. The repair therefore removes exactly the deleted
// version (same ID, time, data dir and ETag) from each disk that missed the
// delete as soon as it answers, with any older version of the same ID (what
// it had replaced, if the disk missed that overwrite too): the delete was
// acknowledged, so neither may be seen again, whatever its age.
//
// The worker runs when the store has heal workers (Options.HealWorkers >= 0)
// and stops with them in Close.

// mrfMax bounds the keys waiting for repair.
const mrfMax = 10000

var (
	// mrfInterval is how often the worker looks at the queue.
	mrfInterval = time.Second
	// mrfMaxBackoff caps the wait after failed repairs of one key.
	mrfMaxBackoff = time.Minute
	// mrfMaxFailures is how many failed repairs (with the disks answering)
	// a key gets before it is left to the scanner.
	mrfMaxFailures = 10
	// mrfProbeTimeout bounds the Info call asking whether a disk is back.
	mrfProbeTimeout = 2 * time.Second
)

// mrfEntry is a key waiting for disks that missed a write of it.
type mrfEntry struct {
	bucket, key string
	version     string    // versionKey of the last degraded write
	missed      []string  // disks that have yet to get it
	gone        []mrfGone // versions deleted at write quorum that some disks still hold
	gen         int       // bumped by every write queued for the key
	failures    int       // failed repairs since the last write
	next        time.Time
}

// mrfGone is a version deleted at write quorum and the disks that still hold
// it.
type mrfGone struct {
	version string    // versionKey of the deleted version
	id      string    // its VersionID on the disks ("" for the null version)
	modTime time.Time // its ModTime
	missed  []string
}

// waiting lists the disks the entry waits for, writes and deletes.
func (e *mrfEntry) waiting() []string {
	out := slices.Clone(e.missed)
	for _, g := range e.gone {
		for _, id := range g.missed {
			if !slices.Contains(out, id) {
				out = append(out, id)
			}
		}
	}
	return out
}

func (e *mrfEntry) clone() mrfEntry {
	c := *e
	c.missed = slices.Clone(e.missed)
	c.gone = slices.Clone(e.gone)
	for i := range c.gone {
		c.gone[i].missed = slices.Clone(e.gone[i].missed)
	}
	return c
}

type mrfQueue struct {
	mu       sync.Mutex
	entries  map[string]*mrfEntry // by bucket "\x00" key
	nudge    chan struct{}
	start    sync.Once
	repaired atomic.Int64
	dropped  atomic.Int64
}

func (q *mrfQueue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.entries)
}

// nudgeCh is the channel RepairNow signals; q.mu is not held.
func (q *mrfQueue) nudgeCh() chan struct{} {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.nudge == nil {
		q.nudge = make(chan struct{}, 1)
	}
	return q.nudge
}

// queueRepair records that version v of bucket/key was committed without
// the disks missed. It never blocks; a full queue drops the request.
func (s *Store) queueRepair(bucket, key string, v *disk.Version, missed []string) {
	s.queueMRF(bucket, key, missed, func(e *mrfEntry) {
		e.version = versionKey(v)
		for _, id := range missed {
			if !slices.Contains(e.missed, id) {
				e.missed = append(e.missed, id)
			}
		}
	})
}

// queueMissedDelete records that version v of bucket/key was deleted at
// write quorum while the disks missed still hold it.
func (s *Store) queueMissedDelete(bucket, key string, v *disk.Version, missed []string) {
	k := versionKey(v)
	s.queueMRF(bucket, key, missed, func(e *mrfEntry) {
		i := slices.IndexFunc(e.gone, func(g mrfGone) bool { return g.version == k })
		if i < 0 {
			e.gone = append(e.gone, mrfGone{version: k, id: v.VersionID, modTime: v.ModTime})
			i = len(e.gone) - 1
		}
		for _, id := range missed {
			if !slices.Contains(e.gone[i].missed, id) {
				e.gone[i].missed = append(e.gone[i].missed, id)
			}
		}
	})
}

// queueMRF adds to bucket/key's entry with add; it never blocks, and a full
// queue drops the request.
func (s *Store) queueMRF(bucket, key string, missed []string, add func(e *mrfEntry)) {
	if s.closed.Load() || len(missed) == 0 {
		return
	}
	q := &s.healStats.mrf
	name := bucket + "\x00" + key
	q.mu.Lock()
	defer q.mu.Unlock()
	e := q.entries[name]
	if e == nil {
		if len(q.entries) >= mrfMax {
			q.dropped.Add(1)
			return
		}
		if q.entries == nil {
			q.entries = map[string]*mrfEntry{}
		}
		e = &mrfEntry{bucket: bucket, key: key}
		q.entries[name] = e
	}
	add(e)
	e.gen++
	e.failures, e.next = 0, time.Time{}
}

// RepairNow makes the repair worker look at its queue now rather than at its
// next tick (say, when a box is seen coming back).
func (s *Store) RepairNow() {
	select {
	case s.healStats.mrf.nudgeCh() <- struct{}{}:
	default:
	}
}

// startRepairs starts the repair worker once; the heal workers call it, so
// that it runs exactly when they do and Close waits for it with them.
func (s *Store) startRepairs() {
	s.healStats.mrf.start.Do(func() {
		s.healWG.Add(1)
		go s.repairWorker()
	})
}

func (s *Store) repairWorker() {
	defer s.healWG.Done()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-s.healStop:
			cancel()
		case <-ctx.Done():
		}
	}()
	nudge := s.healStats.mrf.nudgeCh()
	t := time.NewTicker(mrfInterval)
	defer t.Stop()
	for {
		select {
		case <-s.healStop:
			return
		case <-t.C:
		case <-nudge:
		}
		s.repairPass(ctx)
	}
}

// repairPass repairs the due entries whose missed disks answer again.
func (s *Store) repairPass(ctx context.Context) {
	q := &s.healStats.mrf
	now := time.Now()
	topo := s.disks.Topology()
	var due []mrfEntry
	probe := map[string]bool{}
	q.mu.Lock()
	for name, e := range q.entries {
		if topo != nil {
			// A disk gone from the map gets nothing back: the healer moves
			// the versions it held to their new sets.
			gone := func(id string) bool {
				d := topo.Disk(id)
				return d.ID == "" || d.State == placement.Removed
			}
			e.missed = slices.DeleteFunc(e.missed, gone)
			for i := range e.gone {
				e.gone[i].missed = slices.DeleteFunc(e.gone[i].missed, gone)
			}
			e.gone = slices.DeleteFunc(e.gone, func(g mrfGone) bool { return len(g.missed) == 0 })
		}
		waiting := e.waiting()
		if len(waiting) == 0 {
			delete(q.entries, name)
			q.dropped.Add(1)
			continue
		}
		if e.next.After(now) {
			continue
		}
		due = append(due, e.clone())
		for _, id := range waiting {
			probe[id] = true
		}
	}
	q.mu.Unlock()
	if len(due) == 0 {
		return
	}
	up := s.answering(ctx, probe)
	// Deleted versions first, for every entry: a copy left behind is what a
	// read can mistake for the object (see the top of this file), while a
	// write that missed disks is on a write quorum already and only lacks
	// redundancy, and its heal (rebuilding shard files) is the slow part of a
	// pass after a box was away. Dropping them first also keeps the heal
	// from taking a leftover copy for a version to rebuild.
	dropped := make([][][]string, len(due))
	dropFailed := make([]bool, len(due))
	for i := range due {
		e := &due[i]
		if ctx.Err() != nil {
			return
		}
		if !slices.ContainsFunc(e.gone, func(g mrfGone) bool { return slices.ContainsFunc(g.missed, func(id string) bool { return up[id] }) }) {
			continue
		}
		hctx, cancel := context.WithTimeout(ctx, time.Minute)
		dropped[i], dropFailed[i] = s.dropDeleted(hctx, e, up)
		cancel()
	}
	for i := range due {
		e := &due[i]
		if ctx.Err() != nil {
			return
		}
		var back []string
		for _, id := range e.missed {
			if up[id] {
				back = append(back, id)
			}
		}
		if len(back) == 0 && dropped[i] == nil && !dropFailed[i] {
			continue // still away: looked at again next pass
		}
		hctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
		s.HealObject(hctx, e.bucket, e.key)
		done := s.repairedOn(hctx, e, back)
		cancel()
		if ctx.Err() != nil {
			return
		}
		q.finish(e, done, dropped[i], len(done) < len(back) || dropFailed[i])
	}
}

// dropDeleted removes e's deleted versions from the disks that missed their
// delete and answer now (up), under the object's lock. It returns, per
// entry of e.gone, the disks that no longer hold that version, and whether
// some answering disk failed to drop it.
func (s *Store) dropDeleted(ctx context.Context, e *mrfEntry, up map[string]bool) (dropped [][]string, failed bool) {
	dropped = make([][]string, len(e.gone))
	if len(e.gone) == 0 {
		return dropped, false
	}
	unlock, err := s.lockObject(ctx, e.bucket, e.key)
	if err != nil {
		return dropped, true
	}
	defer unlock()
	for i, g := range e.gone {
		for _, id := range g.missed {
			if !up[id] {
				continue
			}
			d := s.disks.Disk(id)
			if d == nil {
				continue
			}
			m, err := d.ReadMetadata(ctx, e.bucket, e.key)
			if err != nil && !notThere(err) {
				failed = true
				continue
			}
			// That very version, or an older one with its ID: a disk that
			// missed the delete may have missed the overwrite of the null
			// version that the deleted version was, too, and the version
			// it still holds was replaced at write quorum. Never a newer
			// one: a later write of the same ID.
			if v, ok := m.FindVersion(g.id); ok && (versionKey(&v) == g.version || v.ModTime.Before(g.modTime)) {
				if err := d.DeleteVersion(ctx, e.bucket, e.key, g.id); err != nil && !notThere(err) {
					failed = true
					continue
				}
			}
			dropped[i] = append(dropped[i], id)
		}
	}
	return dropped, failed
}

// answering reports which of ids have a handle that answers Info.
func (s *Store) answering(ctx context.Context, ids map[string]bool) map[string]bool {
	list := make([]string, 0, len(ids))
	for id := range ids {
		list = append(list, id)
	}
	ok := make([]bool, len(list))
	parallel(len(list), func(i int) {
		d := s.disks.Disk(list[i])
		if d == nil {
			return
		}
		pctx, cancel := context.WithTimeout(ctx, mrfProbeTimeout)
		defer cancel()
		_, err := d.Info(pctx)
		ok[i] = err == nil
	})
	up := make(map[string]bool, len(list))
	for i, id := range list {
		up[id] = ok[i]
	}
	return up
}

// repairedOn returns the disks of back that now hold e's version, or all of
// them when the version is no longer agreed on (overwritten, deleted, moved):
// there is then nothing of it left to bring back.
func (s *Store) repairedOn(ctx context.Context, e *mrfEntry, back []string) []string {
	if len(back) == 0 {
		return nil
	}
	st, err := s.readObject(ctx, e.bucket, e.key)
	if err != nil {
		return nil
	}
	i := slices.IndexFunc(st.versions, func(v disk.Version) bool { return versionKey(&v) == e.version })
	if i < 0 {
		return back
	}
	var done []string
	for _, h := range st.holders[i] {
		if id := st.disks[h].id; slices.Contains(back, id) {
			done = append(done, id)
		}
	}
	return done
}

// finish records the outcome of repairing e: the disks done no longer wait;
// failed (some disk answered but did not get the version) backs the entry
// off. An entry a newer write updated meanwhile is left for the next pass.
func (q *mrfQueue) finish(e *mrfEntry, done []string, dropped [][]string, failed bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	name := e.bucket + "\x00" + e.key
	cur := q.entries[name]
	if cur == nil || cur.gen != e.gen {
		return
	}
	cur.missed = slices.DeleteFunc(cur.missed, func(id string) bool { return slices.Contains(done, id) })
	for i := range cur.gone {
		if i < len(dropped) {
			cur.gone[i].missed = slices.DeleteFunc(cur.gone[i].missed, func(id string) bool { return slices.Contains(dropped[i], id) })
		}
	}
	cur.gone = slices.DeleteFunc(cur.gone, func(g mrfGone) bool { return len(g.missed) == 0 })
	if len(cur.waiting()) == 0 {
		delete(q.entries, name)
		q.repaired.Add(1)
		return
	}
	if !failed {
		return
	}
	cur.failures++
	if cur.failures > mrfMaxFailures {
		delete(q.entries, name)
		q.dropped.Add(1)
		return
	}
	cur.next = time.Now().Add(min(mrfInterval<<cur.failures, mrfMaxBackoff))
}
