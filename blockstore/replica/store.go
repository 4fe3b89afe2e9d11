package replica

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// Store is the copies of volumes held in one folder (DATA-DIR/volumes) on
// this box. It implements Holder; all methods are safe for concurrent use.
type Store struct {
	dir  string
	lock *os.File

	// admin serializes Create and Delete, which do file work outside mu.
	admin sync.Mutex

	mu     sync.Mutex
	vols   map[string]*vol
	broken map[string]error // volumes whose metadata is unreadable
	closed bool
}

var _ Holder = (*Store)(nil)

// vol is one open copy.
type vol struct {
	// mu is held shared by every I/O admitted under the recorded epoch and
	// exclusively to change the metadata, so a new epoch is recorded only
	// once the I/O admitted under the old one has finished.
	mu       sync.RWMutex
	m        meta
	f        *os.File
	direct   directFile // f's O_DIRECT twin for large writes (direct.go)
	metaPath string
	deleted  bool
}

// Open opens (creating it if needed) the store in dir and takes its lock,
// so two processes never serve the same copies. Garbage of interrupted
// updates is removed; a volume whose metadata is unreadable is not served
// (its calls fail with ErrCorrupt) until it is deleted.
func Open(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fsError("creating the volumes folder", err)
	}
	lock, err := os.OpenFile(filepath.Join(dir, "LOCK"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fsError("opening the store lock", err)
	}
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		lock.Close()
		return nil, fmt.Errorf("%w: %s is in use by another process (flock: %v)", ErrUnavailable, dir, err)
	}
	s := &Store{dir: dir, lock: lock, vols: map[string]*vol{}, broken: map[string]error{}}
	if err := s.load(); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func (s *Store) load() error {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return fsError("listing the volumes folder", err)
	}
	have := map[string]bool{}
	for _, e := range entries {
		if id, ok := strings.CutSuffix(e.Name(), ".meta"); ok {
			have[id] = true
		}
	}
	for _, e := range entries {
		name := e.Name()
		switch {
		case strings.HasSuffix(name, ".tmp"), strings.HasSuffix(name, ".img.new"):
			os.Remove(filepath.Join(s.dir, name))
		case strings.HasSuffix(name, ".img") && !have[strings.TrimSuffix(name, ".img")]:
			// An interrupted Create or Delete.
			os.Remove(filepath.Join(s.dir, name))
		case strings.HasSuffix(name, ".meta"):
			id := strings.TrimSuffix(name, ".meta")
			if ValidID(id) != nil {
				continue
			}
			v, err := s.openVol(id)
			if err != nil {
				s.broken[id] = fmt.Errorf("volume %s: %w", id, err)
				continue
			}
			s.vols[id] = v
		}
	}
	return nil
}

func (s *Store) openVol(id string) (*vol, error) {
	mp := s.path(id, ".meta")
	m, err := readMeta(mp)
	if err != nil {
		if !errors.Is(err, ErrCorrupt) {
			err = fsError("reading metadata", err)
		}
		return nil, err
	}
	if m.ID != id {
		return nil, fmt.Errorf("%w: %s holds the metadata of %q", ErrCorrupt, mp, m.ID)
	}
	f, err := os.OpenFile(s.path(id, ".img"), os.O_RDWR, 0)
	if err != nil {
		return nil, fsError("opening the data file", err)
	}
	st, err := f.Stat()
	if err == nil && st.Size() < m.Size {
		// A Grow whose metadata was written but whose file was not, or a
		// truncated file: the missing tail reads as zeros.
		err = f.Truncate(m.Size)
	}
	if err != nil {
		f.Close()
		return nil, fsError("sizing the data file", err)
	}
	return &vol{m: *m, f: f, metaPath: mp}, nil
}

func (s *Store) path(id, ext string) string { return filepath.Join(s.dir, id+ext) }

// Dir is the folder the store lives in.
func (s *Store) Dir() string { return s.dir }

// Close waits for calls in progress, closes every copy and releases the
// lock. Later calls fail with ErrUnavailable.
func (s *Store) Close() error {
	s.mu.Lock()
	vols := s.vols
	s.closed, s.vols = true, map[string]*vol{}
	s.mu.Unlock()
	for _, v := range vols {
		v.mu.Lock()
		v.deleted = true
		v.f.Close()
		v.direct.close()
		v.mu.Unlock()
	}
	return s.lock.Close()
}

// get finds an open copy.
func (s *Store) get(ctx context.Context, id string) (*vol, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := ValidID(id); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, fmt.Errorf("%w: the volume store is closed", ErrUnavailable)
	}
	if err := s.broken[id]; err != nil {
		return nil, err
	}
	v := s.vols[id]
	if v == nil {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	return v, nil
}

// Create implements Holder. size must be a positive multiple of 512 bytes
// and at most MaxSize.
func (s *Store) Create(ctx context.Context, id string, size int64) error {
	if err := ValidID(id); err != nil {
		return err
	}
	if size <= 0 || size > MaxSize || size%512 != 0 {
		return fmt.Errorf("%w: volume size %d is not a positive multiple of 512 up to %d", ErrInvalidArgument, size, int64(MaxSize))
	}
	s.admin.Lock()
	defer s.admin.Unlock()
	s.mu.Lock()
	closed, exists, broken := s.closed, s.vols[id] != nil, s.broken[id]
	s.mu.Unlock()
	switch {
	case closed:
		return fmt.Errorf("%w: the volume store is closed", ErrUnavailable)
	case broken != nil:
		return broken
	case exists:
		return fmt.Errorf("%w: %s", ErrExists, id)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	tmp := s.path(id, ".img.new")
	os.Remove(tmp)
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fsError("creating the data file", err)
	}
	err = f.Truncate(size)
	if err == nil {
		err = f.Sync()
	}
	if err == nil {
		err = os.Rename(tmp, s.path(id, ".img"))
	}
	if err != nil {
		f.Close()
		os.Remove(tmp)
		return fsError("creating the data file", err)
	}
	m := meta{ID: id, Size: size, ExtentSize: ExtentSize}
	// writeMeta fsyncs the folder, which makes the .img rename durable too.
	if err := writeMeta(s.path(id, ".meta"), &m); err != nil {
		f.Close()
		os.Remove(s.path(id, ".img"))
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		f.Close()
		return fmt.Errorf("%w: the volume store is closed", ErrUnavailable)
	}
	s.vols[id] = &vol{m: m, f: f, metaPath: s.path(id, ".meta")}
	return nil
}

// Delete implements Holder. It waits for calls in progress on the copy.
func (s *Store) Delete(ctx context.Context, id string) error {
	if err := ValidID(id); err != nil {
		return err
	}
	s.admin.Lock()
	defer s.admin.Unlock()
	s.mu.Lock()
	v, broken, closed := s.vols[id], s.broken[id], s.closed
	s.mu.Unlock()
	switch {
	case closed:
		return fmt.Errorf("%w: the volume store is closed", ErrUnavailable)
	case v == nil && broken == nil:
		return fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	if v != nil {
		v.mu.Lock()
		defer v.mu.Unlock()
		v.deleted = true
	}
	// The metadata goes first: without it the .img is garbage to Open.
	if err := os.Remove(s.path(id, ".meta")); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fsError("deleting the metadata", err)
	}
	if err := fsyncDir(s.dir); err != nil {
		return fsError("syncing the volumes folder", err)
	}
	if v != nil {
		v.f.Close()
		v.direct.close()
	}
	os.Remove(s.path(id, ".img"))
	s.mu.Lock()
	delete(s.vols, id)
	delete(s.broken, id)
	s.mu.Unlock()
	return nil
}

// Info implements Holder.
func (s *Store) Info(ctx context.Context, id string) (Info, error) {
	v, err := s.get(ctx, id)
	if err != nil {
		return Info{}, err
	}
	v.mu.RLock()
	defer v.mu.RUnlock()
	if v.deleted {
		return Info{}, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	return v.info(), nil
}

func (v *vol) info() Info {
	return Info{ID: v.m.ID, Size: v.m.Size, Epoch: v.m.Epoch, ExtentSize: v.m.ExtentSize}
}

// List implements Holder, in ID order. Volumes with unreadable metadata
// are left out (their calls answer ErrCorrupt).
func (s *Store) List(ctx context.Context) ([]Info, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, fmt.Errorf("%w: the volume store is closed", ErrUnavailable)
	}
	vols := slices.Collect(maps.Values(s.vols))
	s.mu.Unlock()
	out := make([]Info, 0, len(vols))
	for _, v := range vols {
		v.mu.RLock()
		if !v.deleted {
			out = append(out, v.info())
		}
		v.mu.RUnlock()
	}
	slices.SortFunc(out, func(a, b Info) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}
