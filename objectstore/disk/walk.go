package disk

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
)

// Walk lists a bucket in key order by a best-first traversal of the node
// tree. Every key below a node starts with the node's key, so the node's key
// is a lower bound for its whole subtree. A heap holds the frontier: objects
// waiting to be reported and nodes waiting to be opened, ordered by those
// bounds. Popping the smallest entry and, for a node, pushing its children
// reports objects in exact byte order, even where the directory structure
// does not sort like the keys ("a-b" sorts between "a" and "a/b").
//
// walkBatch bounds how many children of one directory are on the frontier
// at once: a directory with more is read again, for the next batch, when
// the previous batch's bound is reached. Memory is thus bounded by the
// depth of the tree times walkBatch, even for a bucket of millions of keys
// without a "/"; such a directory costs one extra read per walkBatch keys.
var walkBatch = 8192

type walkEntry struct {
	key  string // heap order: a lower bound of every key the entry yields
	node string // the key of the node whose directory is dir
	dir  string
	// kind orders entries with equal keys: the object at a node comes
	// before anything below it.
	kind   walkKind
	atRoot bool // dir is the bucket directory itself
}

type walkKind uint8

const (
	walkObject walkKind = iota // report the object whose metadata is dir/.meta
	walkNode                   // open dir: push its object and first children
	walkResume                 // open dir again: push the children after key
)

type walkHeap []walkEntry

func (h walkHeap) Len() int { return len(h) }
func (h walkHeap) Less(i, j int) bool {
	if h[i].key != h[j].key {
		return h[i].key < h[j].key
	}
	return h[i].kind < h[j].kind
}
func (h walkHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *walkHeap) Push(x any)   { *h = append(*h, x.(walkEntry)) }
func (h *walkHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}

type walker struct {
	ctx        context.Context
	bucketDir  string
	prefix     string
	startAfter string
	frontier   walkHeap
	direntBuf  []byte
}

// walk implements Disk.Walk (presence.go checks the disk around it).
func (l *Local) walk(ctx context.Context, bucket, prefix, startAfter string, fn func(object string, meta *ObjectMeta) error) error {
	if err := validVolume(bucket); err != nil {
		return err
	}
	if err := l.checkVolume(bucket); err != nil {
		return err
	}
	w := &walker{ctx: ctx, bucketDir: l.bucketDir(bucket), prefix: prefix, startAfter: startAfter, direntBuf: make([]byte, 32<<10)}
	// Start at the deepest node every matching key passes through: the
	// key up to the prefix's last "/". "photos/2024/" starts in the node
	// of "photos/2024" and never reads the rest of the bucket.
	start := walkEntry{dir: w.bucketDir, kind: walkNode, atRoot: true}
	switch i := strings.LastIndexByte(prefix, '/'); {
	case i == 0:
		// A prefix starting with "/": the node of the empty first
		// component, which keyPath cannot name (no key is empty).
		start = walkEntry{dir: w.bucketDir + string(filepath.Separator) + emptyName, kind: walkNode}
	case i > 0 && validObject(prefix[:i]) == nil && len(w.bucketDir)+len(keyPath(prefix[:i])) < maxPathLen:
		start = walkEntry{key: prefix[:i], node: prefix[:i], dir: w.bucketDir + string(filepath.Separator) + keyPath(prefix[:i]), kind: walkNode}
	}
	w.frontier = walkHeap{start}
	err := w.run(fn)
	if errors.Is(err, StopWalk) {
		return nil
	}
	return err
}

func (w *walker) run(fn func(string, *ObjectMeta) error) error {
	for w.frontier.Len() > 0 {
		if err := w.ctx.Err(); err != nil {
			return err
		}
		e := heap.Pop(&w.frontier).(walkEntry)
		if e.key > w.prefix && !strings.HasPrefix(e.key, w.prefix) {
			// Everything left sorts after every key with the prefix.
			return nil
		}
		switch e.kind {
		case walkObject:
			meta, err := readMetaHeader(filepath.Join(e.dir, metaName))
			if errors.Is(err, fs.ErrNotExist) {
				continue // deleted since its node was read
			}
			if err != nil && !errors.Is(err, ErrFileCorrupt) && !errors.Is(err, ErrFormatUnsupported) {
				return fmt.Errorf("walking %s: %w", e.key, fsError(err, ErrFileNotFound))
			}
			if err := fn(e.key, meta); err != nil {
				return err
			}
		case walkNode, walkResume:
			if err := w.open(e); err != nil {
				return err
			}
		}
	}
	return nil
}

// wantNode reports whether the subtree of the node with key k (keys
// starting with k) can hold a key to report.
func (w *walker) wantNode(k string) bool {
	if !strings.HasPrefix(k, w.prefix) && !strings.HasPrefix(w.prefix, k) {
		return false
	}
	return k > w.startAfter || strings.HasPrefix(w.startAfter, k)
}

func (w *walker) wantObject(k string) bool {
	return strings.HasPrefix(k, w.prefix) && k > w.startAfter
}

// open reads a node's directory and pushes its object (the first time) and
// the walkBatch smallest wanted children; for a resume, only children
// after e.key.
func (w *walker) open(e walkEntry) error {
	var (
		batch    = make(childHeap, 0, min(walkBatch, 64))
		hasMeta  bool
		overflow bool
	)
	err := readDirNames(e.dir, w.direntBuf, func(names []string) error {
		for _, name := range names {
			if name == metaName {
				hasMeta = true
				continue
			}
			frag, component, ok := decodeName(name)
			if !ok || (!component && e.atRoot) {
				continue
			}
			k := childKey(e.node, e.atRoot, frag, component)
			if e.kind == walkResume && k <= e.key || !w.wantNode(k) {
				continue
			}
			if len(batch) < walkBatch {
				heap.Push(&batch, walkEntry{key: k, node: k, dir: e.dir + string(filepath.Separator) + name, kind: walkNode})
				continue
			}
			overflow = true
			if k < batch[0].key {
				batch[0] = walkEntry{key: k, node: k, dir: e.dir + string(filepath.Separator) + name, kind: walkNode}
				heap.Fix(&batch, 0)
			}
		}
		return w.ctx.Err()
	})
	if errors.Is(err, fs.ErrNotExist) {
		return nil // removed since its parent was read
	}
	if err != nil {
		if ctxErr := w.ctx.Err(); ctxErr != nil {
			return ctxErr
		}
		return fmt.Errorf("walking %s: %w", e.dir, fsError(err, ErrFileNotFound))
	}
	if e.kind == walkNode && hasMeta && !e.atRoot && w.wantObject(e.node) && w.canonical(e) {
		heap.Push(&w.frontier, walkEntry{key: e.node, node: e.node, dir: e.dir, kind: walkObject})
	}
	if overflow {
		// batch[0] is the largest child pushed; every child not pushed
		// sorts after it, so its key bounds the rest of the directory.
		heap.Push(&w.frontier, walkEntry{key: batch[0].key, node: e.node, dir: e.dir, kind: walkResume, atRoot: e.atRoot})
	}
	for _, c := range batch {
		heap.Push(&w.frontier, c)
	}
	return nil
}

// canonical reports whether the node is where keyPath puts its key, so that
// a hand-made directory that decodes to an existing key is not reported
// twice.
func (w *walker) canonical(e walkEntry) bool {
	return validObject(e.node) == nil && e.dir == w.bucketDir+string(filepath.Separator)+keyPath(e.node)
}

// childHeap is a max-heap on key: the batch of smallest children, with the
// largest on top to be evicted.
type childHeap []walkEntry

func (h childHeap) Len() int           { return len(h) }
func (h childHeap) Less(i, j int) bool { return h[i].key > h[j].key }
func (h childHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *childHeap) Push(x any)        { *h = append(*h, x.(walkEntry)) }
func (h *childHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}

// readMetaHeader reads only the header of a metadata file: what a listing
// needs, without the inline data of every version. Metadata files are
// replaced by rename, never changed in place, so two reads of one path
// see the same file unless a writer replaced it in between, which the
// checksums catch.
func readMetaHeader(path string) (*ObjectMeta, error) {
	buf, size, err := readSmallFile(path, make([]byte, 4096))
	if err != nil {
		return nil, err
	}
	end, err := headerSpan(buf, size)
	if err != nil {
		return nil, err
	}
	if end > int64(len(buf)) {
		whole := make([]byte, end)
		n, err := readFileAt(path, whole, 0)
		if err != nil {
			return nil, err
		}
		if int64(n) < end {
			return nil, fmt.Errorf("%w: metadata file shrank while being read", ErrFileCorrupt)
		}
		buf = whole
	}
	h, err := decodeHeader(buf[:end])
	if err != nil {
		return nil, err
	}
	return h.meta(), nil
}
