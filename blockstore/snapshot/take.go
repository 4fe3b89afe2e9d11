package snapshot

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/banyancloud/banyan/blockstore/replica"
)

// Source is a frozen, point-in-time view of a volume (volume.View).
type Source interface {
	Size() int64
	ReadExtent(ctx context.Context, n int64) ([]byte, error)
}

// Stats says what Take did.
type Stats struct {
	Extents     int64 // extents of the volume
	Uploaded    int64 // extents stored as new objects
	Reused      int64 // extents shared with the parent
	Zero        int64 // extents of zeros, not stored
	StoredBytes int64 // bytes uploaded
}

// TakeOptions describe the snapshot Take makes.
type TakeOptions struct {
	SnapshotID string
	VolumeID   string
	Attempt    uint64
	// Parent is the volume's previous snapshot: extents with the same sum are shared.
	Parent *Manifest
	// Workers upload at once (default 4).
	Workers int
	// Progress, if set, is called after each extent with how many are done (one call
	// at a time).
	Progress func(done, total int64)
}

// Take reads every extent of src and stores the snapshot: the extents that are not
// zeros and differ from the parent's are uploaded, then the manifest. It returns the
// manifest written.
func Take(ctx context.Context, src Source, st Store, o TakeOptions) (*Manifest, Stats, error) {
	if o.Workers <= 0 {
		o.Workers = 4
	}
	size := src.Size()
	total := replica.Extents(size)
	m := &Manifest{Format: manifestFormat, SnapshotID: o.SnapshotID, VolumeID: o.VolumeID, Size: size,
		ExtentSize: replica.ExtentSize, Extents: make([]Extent, total)}
	st0 := Stats{Extents: total}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	type job struct {
		n    int64
		data []byte
	}
	jobs := make(chan job, o.Workers)
	var (
		mu     sync.Mutex
		done   int64
		errOut error
		wg     sync.WaitGroup
	)
	fail := func(err error) {
		mu.Lock()
		if errOut == nil {
			errOut = err
		}
		mu.Unlock()
		cancel()
	}
	finished := func(f func(*Stats)) {
		mu.Lock()
		defer mu.Unlock()
		f(&st0)
		done++
		if o.Progress != nil {
			o.Progress(done, total)
		}
	}
	for range o.Workers {
		wg.Go(func() {
			for j := range jobs {
				key := extentKey(o.SnapshotID, o.Attempt, j.n)
				if err := st.Put(ctx, key, j.data); err != nil {
					fail(fmt.Errorf("uploading extent %d: %w", j.n, err))
					continue
				}
				m.Extents[j.n].Key = key
				finished(func(s *Stats) { s.Uploaded++; s.StoredBytes += int64(len(j.data)) })
			}
		})
	}
	for n := int64(0); n < total && ctx.Err() == nil; n++ {
		data, err := src.ReadExtent(ctx, n)
		if err != nil {
			fail(fmt.Errorf("reading extent %d: %w", n, err))
			break
		}
		if allZero(data) {
			// Zeros need no hash of their own: Reader never fetches them.
			m.Extents[n].Sum = zeroSum(int64(len(data)))
			finished(func(s *Stats) { s.Zero++ })
			continue
		}
		sum := sha256.Sum256(data)
		m.Extents[n].Sum = sum
		switch {
		case o.Parent != nil && n < int64(len(o.Parent.Extents)) && !o.Parent.Extents[n].Zero() && o.Parent.Extents[n].Sum == sum &&
			replica.ExtentLen(o.Parent.Size, n) == int64(len(data)):
			m.Extents[n].Key = o.Parent.Extents[n].Key
			finished(func(s *Stats) { s.Reused++ })
		default:
			select {
			case jobs <- job{n, data}:
			case <-ctx.Done():
			}
		}
	}
	close(jobs)
	wg.Wait()
	if errOut == nil && ctx.Err() != nil {
		errOut = ctx.Err()
	}
	if errOut != nil {
		return nil, st0, errOut
	}
	b, err := m.Encode()
	if err != nil {
		return nil, st0, err
	}
	if err := st.Put(ctx, ManifestKey(o.SnapshotID), b); err != nil {
		return nil, st0, fmt.Errorf("storing the manifest: %w", err)
	}
	return m, st0, nil
}

var fullZeroSum = sha256.Sum256(make([]byte, replica.ExtentSize))

// zeroSum is the SHA-256 of n zero bytes.
func zeroSum(n int64) [32]byte {
	if n == replica.ExtentSize {
		return fullZeroSum
	}
	return sha256.Sum256(make([]byte, n))
}

func allZero(b []byte) bool {
	for len(b) >= 8 {
		if b[0]|b[1]|b[2]|b[3]|b[4]|b[5]|b[6]|b[7] != 0 {
			return false
		}
		b = b[8:]
	}
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// LoadManifest reads a snapshot's manifest.
func LoadManifest(ctx context.Context, st Store, snapshotID string) (*Manifest, error) {
	b, err := st.Get(ctx, ManifestKey(snapshotID))
	if err != nil {
		return nil, err
	}
	m, err := DecodeManifest(b)
	if err != nil {
		return nil, err
	}
	if m.SnapshotID != snapshotID {
		return nil, fmt.Errorf("%w: manifest of %s holds %s's", ErrCorrupt, snapshotID, m.SnapshotID)
	}
	return m, nil
}

// Copy stores a manifest for a copy of src named id: it shares every object of src.
func Copy(ctx context.Context, st Store, src *Manifest, id string) (*Manifest, error) {
	m := *src
	m.SnapshotID = id
	m.Extents = slices.Clone(src.Extents)
	b, err := m.Encode()
	if err != nil {
		return nil, err
	}
	return &m, st.Put(ctx, ManifestKey(id), b)
}

// Delete removes a snapshot's objects that no other snapshot names: the extents of its
// manifest (m, nil when it never completed) that none of others holds, whatever is
// left under its own prefix, and the manifest last. It returns how many extent objects
// it deleted.
func Delete(ctx context.Context, st Store, id string, m *Manifest, others []*Manifest) (int, error) {
	keep := Refs{}
	for _, o := range others {
		keep.Add(o)
	}
	var doomed []string
	if m != nil {
		doomed = Unreferenced(m, others)
	}
	left, err := st.List(ctx, ExtentPrefix(id))
	if err != nil {
		return 0, err
	}
	for _, k := range left {
		if keep[k] == 0 && !slices.Contains(doomed, k) {
			doomed = append(doomed, k)
		}
	}
	var errs []error
	n := 0
	for _, k := range doomed {
		if err := st.Delete(ctx, k); err != nil {
			errs = append(errs, err)
			continue
		}
		n++
	}
	if err := errors.Join(errs...); err != nil {
		return n, err
	}
	return n, st.Delete(ctx, ManifestKey(id))
}

// Reader serves a snapshot's extents to a volume created from it (volume.FillSource).
type Reader struct {
	st Store
	m  *Manifest
}

// NewReader returns a Reader of the snapshot m describes.
func NewReader(st Store, m *Manifest) *Reader { return &Reader{st: st, m: m} }

// Extents is the number of extents of the snapshot.
func (r *Reader) Extents() int64 { return int64(len(r.m.Extents)) }

// ReadExtent returns extent n, nil for zeros (and for extents past the snapshot's end,
// which a larger volume reads as zeros). The bytes are checked against their sum.
func (r *Reader) ReadExtent(ctx context.Context, n int64) ([]byte, error) {
	if n < 0 || n >= int64(len(r.m.Extents)) {
		return nil, nil
	}
	e := r.m.Extents[n]
	if e.Zero() {
		return nil, nil
	}
	b, err := r.st.Get(ctx, e.Key)
	if err != nil {
		return nil, fmt.Errorf("extent %d of snapshot %s (%s): %w", n, r.m.SnapshotID, e.Key, err)
	}
	if int64(len(b)) != replica.ExtentLen(r.m.Size, n) || sha256.Sum256(b) != e.Sum {
		return nil, fmt.Errorf("%w: extent %d of snapshot %s (%s) does not match its sum", ErrCorrupt, n, r.m.SnapshotID, e.Key)
	}
	return b, nil
}
