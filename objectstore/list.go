package objectstore

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/banyancloud/banyan/objectstore/disk"
)

// Listing. Every key lives on its erasure set, and sets overlap, so a
// bucket is listed by walking it on every disk at once and merging the
// walks by key (each disk's Walk is already in key order). For each key
// the merge collects the metadata of the disks that have it and agrees on
// its versions exactly as a GET does (quorum.go), so a listing shows
// precisely the acknowledged writes: a key found on too few disks is an
// unfinished or rolled-back write and is skipped. Memory is one
// metadata header per disk in flight, whatever the bucket's size.

const maxListKeys = 1000

// walkItem is one key from one disk's walk.
type walkItem struct {
	key  string
	meta *disk.ObjectMeta // nil: corrupt on that disk
}

type walkStream struct {
	id   string
	ch   chan walkItem
	cur  walkItem
	err  error // valid once ch is closed
	done bool
}

// merger merges the walks of several disks by key.
type merger struct {
	streams []*walkStream
	h       streamHeap
	cancel  context.CancelFunc
	down    map[string]bool // disks whose walk failed
}

type streamHeap []*walkStream

func (h streamHeap) Len() int           { return len(h) }
func (h streamHeap) Less(i, j int) bool { return h[i].cur.key < h[j].cur.key }
func (h streamHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *streamHeap) Push(x any)        { *h = append(*h, x.(*walkStream)) }
func (h *streamHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// newMerger starts a walk of volume on every disk of ids.
func (s *Store) newMerger(ctx context.Context, volume, prefix, startAfter string, ids []string) *merger {
	ctx, cancel := context.WithCancel(ctx)
	m := &merger{cancel: cancel, down: map[string]bool{}}
	for _, id := range ids {
		// A small buffer: a page of a few keys must not make every disk
		// read dozens of metadata headers ahead that nobody will use.
		ws := &walkStream{id: id, ch: make(chan walkItem, 4)}
		m.streams = append(m.streams, ws)
		d := s.disks.Disk(id)
		if d == nil {
			ws.err = errNoDisk
			close(ws.ch)
			continue
		}
		go func() {
			defer close(ws.ch)
			err := d.Walk(ctx, volume, prefix, startAfter, func(key string, meta *disk.ObjectMeta) error {
				select {
				case ws.ch <- walkItem{key, meta}:
					return nil
				case <-ctx.Done():
					return ctx.Err()
				}
			})
			if errors.Is(err, disk.ErrVolumeNotFound) {
				err = nil // an empty or replaced disk: nothing to list there
			}
			ws.err = err
		}()
	}
	for _, ws := range m.streams {
		m.advance(ws)
	}
	return m
}

// advance moves ws to its next key and back into the heap, or notes why it
// ended.
func (m *merger) advance(ws *walkStream) {
	it, ok := <-ws.ch
	if !ok {
		ws.done = true
		if ws.err != nil {
			m.down[ws.id] = true
		}
		return
	}
	ws.cur = it
	heap.Push(&m.h, ws)
}

// next returns the next key and the metadata each disk has for it (nil
// where a disk lacks it), in the order of m.streams.
func (m *merger) next() (string, []*disk.ObjectMeta, bool) {
	if m.h.Len() == 0 {
		return "", nil, false
	}
	key := m.h[0].cur.key
	metas := make([]*disk.ObjectMeta, len(m.streams))
	var adv []*walkStream
	for m.h.Len() > 0 && m.h[0].cur.key == key {
		ws := heap.Pop(&m.h).(*walkStream)
		for i, x := range m.streams {
			if x == ws {
				metas[i] = ws.cur.meta
			}
		}
		adv = append(adv, ws)
	}
	for _, ws := range adv {
		m.advance(ws)
	}
	return key, metas, true
}

// ids names the disks in the order of next's metas.
func (m *merger) ids() []string {
	out := make([]string, len(m.streams))
	for i, ws := range m.streams {
		out[i] = ws.id
	}
	return out
}

func (m *merger) close() {
	m.cancel()
	for _, ws := range m.streams {
		for range ws.ch {
		}
	}
}

// check fails when so many walks of volume failed that an acknowledged
// key could be missing from the listing.
func (s *Store) checkWalks(m *merger, volume, what string) error {
	failed := 0
	var errs []error
	for _, ws := range m.streams {
		if m.down[ws.id] {
			failed++
			errs = append(errs, fmt.Errorf("disk %s: %w", ws.id, ws.err))
		}
	}
	if failed == 0 {
		return nil
	}
	topo := s.disks.Topology()
	allowed := 0
	if topo != nil {
		if _, tolerance, err := s.lookupSize(topo, volume); err == nil {
			allowed = tolerance
		}
	}
	if failed > allowed {
		return fmt.Errorf("%w: %s: %d disks could not be listed: %w", ErrReadQuorum, what, failed, errors.Join(errs...))
	}
	return nil
}

// keyIter yields the keys of a listing with their agreed versions.
type keyIter struct {
	s      *Store
	ctx    context.Context
	volume string
	prefix string
	m      *merger
	err    error
	// skipped counts keys passed over inside the current common prefix.
	skipped int
}

func (s *Store) listKeys(ctx context.Context, volume, prefix, startAfter string) *keyIter {
	return &keyIter{s: s, ctx: ctx, volume: volume, prefix: prefix, m: s.newMerger(ctx, volume, prefix, startAfter, s.allDisks())}
}

// skipPrefixAfter is how many keys inside an already listed common prefix
// are passed over before the walks are restarted after it: restarting
// costs a walk setup on every disk, reading on costs a metadata header per
// key per disk, and a prefix can hold millions of keys.
const skipPrefixAfter = 32

// skip notes a key passed over inside common prefix cp, and restarts the
// walks after cp once that is cheaper than reading on.
func (it *keyIter) skip(cp string) {
	if it.skipped++; it.skipped < skipPrefixAfter {
		return
	}
	it.skipped = 0
	it.m.close()
	// Every key starting with cp sorts before cp+"\xff": no byte of
	// UTF-8 is 0xff.
	it.m = it.s.newMerger(it.ctx, it.volume, it.prefix, cp+"\xff", it.s.allDisks())
}

// rolledUp starts a new common prefix.
func (it *keyIter) rolledUp() { it.skipped = 0 }

// next returns the next key with at least one agreed version.
func (it *keyIter) next() (string, []disk.Version, bool) {
	for {
		key, metas, ok := it.m.next()
		if !ok {
			it.err = it.s.checkWalks(it.m, it.volume, "listing")
			return "", nil, false
		}
		vs, hs, stale := agree(metas, it.m.ids(), it.m.down)
		if stale && len(it.m.down) == 0 && it.volume != multipartVolume {
			// Some disk disagrees (a missed write, a rolled-back one):
			// let the healer look. With disks down every key looks like
			// this and nothing could be healed, so nothing is queued.
			it.s.queueHeal(it.volume, key)
		}
		if len(vs) == 0 {
			continue
		}
		if it.volume != multipartVolume && undecided(&vs[0], len(hs[0])) {
			// Listed, a copy a delete missed would be a deleted key shown;
			// left out, an object written to a bare quorum whose other
			// holders are down would be missing: neither is an answer.
			it.err = fmt.Errorf("%w: listing: %s is on only %d disks and others of its set did not answer: it may be a copy a delete or an overwrite missed",
				ErrReadQuorum, key, len(hs[0]))
			return "", nil, false
		}
		return key, vs, true
	}
}

func (it *keyIter) close() { it.m.close() }

// startAfter is where the walks of a listing resume after marker. A marker
// that is a common prefix (the last entry of the previous page) resumes
// after every key it rolled up.
func startAfter(marker, prefix, delimiter string) string {
	if marker < prefix {
		return ""
	}
	if strings.HasPrefix(marker, prefix) {
		if cp, ok := commonPrefix(marker, prefix, delimiter); ok && cp == marker {
			return marker + "\xff"
		}
	}
	return marker
}

func clampMax(n int) int {
	if n <= 0 || n > maxListKeys {
		return maxListKeys
	}
	return n
}

// commonPrefix returns the common prefix key rolls up into, if any.
func commonPrefix(key, prefix, delimiter string) (string, bool) {
	if delimiter == "" {
		return "", false
	}
	if i := strings.Index(key[len(prefix):], delimiter); i >= 0 {
		return key[:len(prefix)+i+len(delimiter)], true
	}
	return "", false
}

// ListObjects implements ObjectLayer. MaxKeys outside 1..1000 means 1000.
func (s *Store) ListObjects(ctx context.Context, bucket string, opts ListOptions) (ListResult, error) {
	max := clampMax(opts.MaxKeys)
	var res ListResult
	it := s.listKeys(ctx, bucket, opts.Prefix, startAfter(opts.Marker, opts.Prefix, opts.Delimiter))
	defer it.close()
	n := 0
	lastCP := ""
	for {
		key, vs, ok := it.next()
		if !ok {
			break
		}
		if key <= opts.Marker {
			continue
		}
		if lastCP != "" && strings.HasPrefix(key, lastCP) {
			it.skip(lastCP) // already rolled up
			continue
		}
		if vs[0].IsDeleteMarker {
			continue
		}
		cp, isCP := commonPrefix(key, opts.Prefix, opts.Delimiter)
		if isCP && cp == opts.Marker {
			continue
		}
		if n == max {
			res.IsTruncated = true
			break
		}
		n++
		if isCP {
			lastCP = cp
			it.rolledUp()
			res.CommonPrefixes = append(res.CommonPrefixes, cp)
			res.NextMarker = cp
			continue
		}
		v := vs[0]
		res.Objects = append(res.Objects, objectInfo(bucket, key, &v, true))
		res.NextMarker = key
	}
	if it.err != nil {
		return ListResult{}, it.err
	}
	if err := ctx.Err(); err != nil {
		return ListResult{}, err
	}
	if !res.IsTruncated {
		res.NextMarker = ""
	}
	return res, nil
}

// bucketEmpty reports whether a bucket has no agreed version (object or
// delete marker). Unfinished multipart uploads do not count: as in AWS, they
// go with the bucket.
func (s *Store) bucketEmpty(ctx context.Context, bucket string) (bool, error) {
	it := s.listKeys(ctx, bucket, "", "")
	_, _, found := it.next()
	it.close()
	if it.err != nil {
		return false, it.err
	}
	return !found, nil
}
