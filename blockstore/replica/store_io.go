package replica

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"sync"

	"github.com/minio/highwayhash"
	"golang.org/x/sys/unix"
)

// admit runs fn with the copy's lock held shared, under epoch: a stale
// epoch is refused, a newer one recorded durably first.
func (s *Store) admit(ctx context.Context, id string, epoch uint64, fn func(v *vol) error) error {
	v, err := s.get(ctx, id)
	if err != nil {
		return err
	}
	for {
		v.mu.RLock()
		if v.deleted {
			v.mu.RUnlock()
			return fmt.Errorf("%w: %s", ErrNotFound, id)
		}
		if epoch < v.m.Epoch {
			rec := v.m.Epoch
			v.mu.RUnlock()
			return fmt.Errorf("%w: %s: epoch %d, this copy has seen %d", ErrStaleEpoch, id, epoch, rec)
		}
		if epoch == v.m.Epoch {
			defer v.mu.RUnlock()
			return fn(v)
		}
		v.mu.RUnlock()
		if err := s.update(ctx, id, epoch, func(*meta) (bool, error) { return false, nil }); err != nil {
			return err
		}
	}
}

// update changes the copy's metadata under its exclusive lock and epoch:
// fn edits a copy of it and says whether it changed; the file is rewritten
// if it did or if epoch is newer than the recorded one.
func (s *Store) update(ctx context.Context, id string, epoch uint64, fn func(m *meta) (bool, error)) error {
	v, err := s.get(ctx, id)
	if err != nil {
		return err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.deleted {
		return fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	if epoch < v.m.Epoch {
		return fmt.Errorf("%w: %s: epoch %d, this copy has seen %d", ErrStaleEpoch, id, epoch, v.m.Epoch)
	}
	m := v.m
	m.Dirty = maps.Clone(v.m.Dirty)
	changed, err := fn(&m)
	if err != nil {
		return err
	}
	if !changed && epoch == v.m.Epoch {
		return nil
	}
	m.Epoch = epoch
	if err := writeMeta(v.metaPath, &m); err != nil {
		return err
	}
	v.m = m
	return nil
}

func fdatasync(v *vol) error {
	return fsError("syncing the data file", unix.Fdatasync(int(v.f.Fd())))
}

// Write implements Holder. len(p) is at most MaxIO.
func (s *Store) Write(ctx context.Context, id string, epoch uint64, off int64, p []byte, fua bool) error {
	if len(p) > MaxIO {
		return fmt.Errorf("%w: write of %d bytes, at most %d at once", ErrInvalidArgument, len(p), MaxIO)
	}
	return s.admit(ctx, id, epoch, func(v *vol) error {
		if err := checkRange(v.m.Size, off, int64(len(p))); err != nil {
			return err
		}
		if err := v.writeAt(p, off); err != nil {
			return fsError("writing", err)
		}
		if fua {
			return fdatasync(v)
		}
		return nil
	})
}

// Zero implements Holder.
func (s *Store) Zero(ctx context.Context, id string, epoch uint64, off, length int64, fua bool) error {
	return s.admit(ctx, id, epoch, func(v *vol) error {
		if err := checkRange(v.m.Size, off, length); err != nil {
			return err
		}
		if err := zeroRange(v, off, length); err != nil {
			return err
		}
		if fua {
			return fdatasync(v)
		}
		return nil
	})
}

var zeros = make([]byte, 1<<20)

// zeroRange punches a hole (the blocks are freed and read as zeros), or
// writes zeros where the filesystem cannot punch.
func zeroRange(v *vol, off, length int64) error {
	if length == 0 {
		return nil
	}
	err := unix.Fallocate(int(v.f.Fd()), unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, off, length)
	if err == nil {
		return nil
	}
	if !errors.Is(err, unix.EOPNOTSUPP) && !errors.Is(err, unix.ENOSYS) {
		return fsError("punching a hole", err)
	}
	for length > 0 {
		n := min(length, int64(len(zeros)))
		if _, err := v.f.WriteAt(zeros[:n], off); err != nil {
			return fsError("writing zeros", err)
		}
		off, length = off+n, length-n
	}
	return nil
}

// Read implements Holder.
func (s *Store) Read(ctx context.Context, id string, off int64, p []byte) error {
	v, err := s.get(ctx, id)
	if err != nil {
		return err
	}
	v.mu.RLock()
	defer v.mu.RUnlock()
	if v.deleted {
		return fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	if err := checkRange(v.m.Size, off, int64(len(p))); err != nil {
		return err
	}
	return readFull(v, p, off)
}

func readFull(v *vol, p []byte, off int64) error {
	n, err := v.f.ReadAt(p, off)
	if errors.Is(err, io.EOF) {
		// Past the file's end (never, as Open sizes it): zeros.
		clear(p[n:])
		err = nil
	}
	return fsError("reading", err)
}

// Flush implements Holder.
func (s *Store) Flush(ctx context.Context, id string, epoch uint64) error {
	return s.admit(ctx, id, epoch, fdatasync)
}

// Grow implements Holder.
func (s *Store) Grow(ctx context.Context, id string, epoch uint64, newSize int64) error {
	if newSize <= 0 || newSize > MaxSize || newSize%512 != 0 {
		return fmt.Errorf("%w: volume size %d is not a positive multiple of 512 up to %d", ErrInvalidArgument, newSize, int64(MaxSize))
	}
	v, err := s.get(ctx, id)
	if err != nil {
		return err
	}
	return s.update(ctx, id, epoch, func(m *meta) (bool, error) {
		switch {
		case newSize < m.Size:
			return false, fmt.Errorf("%w: %s cannot shrink from %d to %d bytes", ErrInvalidArgument, id, m.Size, newSize)
		case newSize == m.Size:
			return false, nil
		}
		// The file first: metadata saying "bigger" over a short file is
		// repaired at Open, the reverse would hide data.
		if err := v.f.Truncate(newSize); err != nil {
			return false, fsError("growing the data file", err)
		}
		if err := v.f.Sync(); err != nil {
			return false, fsError("syncing the data file", err)
		}
		m.Size = newSize
		return true, nil
	})
}

// hashKey keys ExtentSums' HighwayHash. Fixed: sums are compared across boxes.
var hashKey = []byte("banyan blockstore extent sums v1")

var (
	extentBufs = sync.Pool{New: func() any { b := make([]byte, ExtentSize); return &b }}
	zeroSums   sync.Map // extent length -> Sum of that many zeros
)

func zeroSum(n int64) Sum {
	if s, ok := zeroSums.Load(n); ok {
		return s.(Sum)
	}
	s := Sum(highwayhash.Sum128(make([]byte, n), hashKey))
	zeroSums.Store(n, s)
	return s
}

// ExtentSums implements Holder. count is at most MaxSums.
func (s *Store) ExtentSums(ctx context.Context, id string, first, count int64) ([]Sum, error) {
	if first < 0 || count < 0 || count > MaxSums {
		return nil, fmt.Errorf("%w: sums of [%d, +%d): first must be >= 0 and count 0 to %d", ErrInvalidArgument, first, count, MaxSums)
	}
	v, err := s.get(ctx, id)
	if err != nil {
		return nil, err
	}
	v.mu.RLock()
	defer v.mu.RUnlock()
	if v.deleted {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	size := v.m.Size
	last := min(first+count, Extents(size))
	bp := extentBufs.Get().(*[]byte)
	defer extentBufs.Put(bp)
	var sums []Sum
	for e := first; e < last; e++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		off, n := e*ExtentSize, ExtentLen(size, e)
		if hole(v, off, n) {
			sums = append(sums, zeroSum(n))
			continue
		}
		buf := (*bp)[:n]
		if err := readFull(v, buf, off); err != nil {
			return nil, err
		}
		sums = append(sums, highwayhash.Sum128(buf, hashKey))
	}
	return sums, nil
}

// hole reports whether [off, off+n) holds no data at all (a hole of the
// sparse file), so it reads as zeros without being read.
func hole(v *vol, off, n int64) bool {
	next, err := unix.Seek(int(v.f.Fd()), off, unix.SEEK_DATA)
	if errors.Is(err, unix.ENXIO) {
		return true // no data at or after off
	}
	return err == nil && next >= off+n
}

// ReadExtent implements Holder.
func (s *Store) ReadExtent(ctx context.Context, id string, n int64) ([]byte, error) {
	v, err := s.get(ctx, id)
	if err != nil {
		return nil, err
	}
	v.mu.RLock()
	defer v.mu.RUnlock()
	if v.deleted {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	if n < 0 || n >= Extents(v.m.Size) {
		return nil, fmt.Errorf("%w: extent %d of a volume of %d extents", ErrOutOfRange, n, Extents(v.m.Size))
	}
	buf := make([]byte, ExtentLen(v.m.Size, n))
	if hole(v, n*ExtentSize, int64(len(buf))) {
		return buf, nil
	}
	return buf, readFull(v, buf, n*ExtentSize)
}

// WriteExtent implements Holder. An all-zero extent is stored as a hole.
func (s *Store) WriteExtent(ctx context.Context, id string, epoch uint64, n int64, data []byte) error {
	return s.admit(ctx, id, epoch, func(v *vol) error {
		if n < 0 || n >= Extents(v.m.Size) {
			return fmt.Errorf("%w: extent %d of a volume of %d extents", ErrOutOfRange, n, Extents(v.m.Size))
		}
		if want := ExtentLen(v.m.Size, n); int64(len(data)) != want {
			return fmt.Errorf("%w: extent %d is %d bytes, got %d", ErrInvalidArgument, n, want, len(data))
		}
		if allZero(data) {
			return zeroRange(v, n*ExtentSize, int64(len(data)))
		}
		if err := v.writeAt(data, n*ExtentSize); err != nil {
			return fsError("writing", err)
		}
		return nil
	})
}

func allZero(b []byte) bool {
	for len(b) > 0 {
		n := min(len(b), len(zeros))
		if !slices.Equal(b[:n], zeros[:n]) {
			return false
		}
		b = b[n:]
	}
	return true
}

// MarkDirty implements Holder.
func (s *Store) MarkDirty(ctx context.Context, id string, epoch uint64, peer string, extents []Run) error {
	return s.editDirty(ctx, id, epoch, peer, extents, true)
}

// ClearDirty implements Holder.
func (s *Store) ClearDirty(ctx context.Context, id string, epoch uint64, peer string, extents []Run) error {
	return s.editDirty(ctx, id, epoch, peer, extents, false)
}

func (s *Store) editDirty(ctx context.Context, id string, epoch uint64, peer string, extents []Run, add bool) error {
	if err := validPeer(peer); err != nil {
		return err
	}
	return s.update(ctx, id, epoch, func(m *meta) (bool, error) {
		limit := Extents(m.Size)
		if err := checkRuns(extents, limit); err != nil {
			return false, err
		}
		set, err := SetOf(m.Dirty[peer], limit)
		if err != nil {
			return false, err
		}
		before := set.Len()
		for _, r := range extents {
			if add {
				set.Add(r)
			} else {
				set.Remove(r)
			}
		}
		if set.Len() == before {
			// Same count after only adds or only removes: same set.
			return false, nil
		}
		if m.Dirty == nil {
			m.Dirty = map[string][]Run{}
		}
		if set.Len() == 0 {
			delete(m.Dirty, peer)
		} else {
			m.Dirty[peer] = set.Runs()
		}
		return true, nil
	})
}

// Dirty implements Holder.
func (s *Store) Dirty(ctx context.Context, id string) (map[string][]Run, error) {
	v, err := s.get(ctx, id)
	if err != nil {
		return nil, err
	}
	v.mu.RLock()
	defer v.mu.RUnlock()
	if v.deleted {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	out := make(map[string][]Run, len(v.m.Dirty))
	for p, runs := range v.m.Dirty {
		out[p] = slices.Clone(runs)
	}
	return out, nil
}
