package disk

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Names inside the disk root and inside object nodes (see doc.go).
const (
	sysDir        = ".banyan.sys"
	lockName      = "LOCK"
	tmpName       = "tmp"
	uploadsName   = "uploads"
	trashName     = "trash"
	keptDirName   = "kept"
	metaName      = ".meta"
	dataDirPrefix = ".data-"
	partPrefix    = "part."
	// maxPathLen keeps full paths under Linux's PATH_MAX (4096) with room
	// for the data dir and part names below a node.
	maxPathLen = 4000
)

// Local is a Disk on a directory of this box, normally a filesystem's mount
// point. Operations on different objects share no lock; writes to the
// metadata of one object are serialized by a striped mutex, and reads take
// no lock at all (every file is replaced by rename, so a reader sees the old
// or the new file).
type Local struct {
	root    string // absolute
	sys     string
	tmp     string
	uploads string // kept staging (UploadsPrefix)
	trash   string
	kept    string // what changes took away, until decided (undo.go)
	id      string
	lock    *os.File // holds the flock on .banyan.sys/LOCK
	// rootAt is the directory at root that is this disk (see presence.go).
	rootAt atomic.Pointer[rootID]

	seed    maphash.Seed
	stripes [256]sync.Mutex

	keptMu sync.Mutex
	keptBy map[string]string // object ("bucket\x00key") -> its last change's kept entry
	keptQ  []keptItem        // every kept entry, by deadline

	bg        sync.WaitGroup // emptyTrash
	emptier   chan struct{}  // kicks emptyTrash; closed by Close
	closeOnce sync.Once

	// crash, when set by a test, is asked at each kill point and makes the
	// operation stop there as if the process had died: no cleanup runs.
	crash func(point string) bool
}

var _ Disk = (*Local)(nil)

// errCrashed is what an operation returns at a simulated kill point.
var errCrashed = errors.New("disk: simulated crash")

// crashed reports whether a test wants the process to "die" at point.
func (l *Local) crashed(point string) bool { return l.crash != nil && l.crash(point) }

// OpenLocal opens the disk at path, stamping it with a new format.json if
// it is empty (only lost+found may be there). It refuses a path that holds
// other files without a stamp (ErrForeignDisk), a stamp it cannot read
// (ErrFileCorrupt, ErrFormatUnsupported) and a disk another process has
// open. Staging and trash areas left by an earlier run are cleared; the
// kept staging area (UploadsPrefix) is not.
func OpenLocal(path string) (*Local, error) {
	root, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	st, err := os.Stat(root)
	switch {
	case err != nil:
		return nil, fmt.Errorf("disk %s: %w (a disk path must exist; is it mounted?)", root, fsError(err, ErrDiskNotFound))
	case !st.IsDir():
		return nil, fmt.Errorf("disk %s: %w: not a directory", root, ErrInvalidArgument)
	}
	l := &Local{
		root:    root,
		sys:     filepath.Join(root, sysDir),
		tmp:     filepath.Join(root, sysDir, tmpName),
		uploads: filepath.Join(root, sysDir, uploadsName),
		trash:   filepath.Join(root, sysDir, trashName),
		kept:    filepath.Join(root, sysDir, keptDirName),
		keptBy:  map[string]string{},
		seed:    maphash.MakeSeed(),
	}
	f, err := readFormat(l.sys)
	if errors.Is(err, fs.ErrNotExist) {
		err = checkBlank(root)
	}
	if err != nil {
		return nil, fmt.Errorf("disk %s: %w", root, err)
	}
	if err := mkdirSync(l.sys, root); err != nil {
		return nil, fmt.Errorf("disk %s: %w", root, fsError(err, ErrDiskNotFound))
	}
	if err := l.lockDisk(); err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			l.lock.Close()
		}
	}()
	if f == nil {
		// Under the lock, in case another process stamped it meanwhile.
		if f, err = readFormat(l.sys); errors.Is(err, fs.ErrNotExist) {
			f, err = stampFormat(l.sys, root)
		}
		if err != nil {
			return nil, fmt.Errorf("disk %s: %w", root, err)
		}
	}
	l.id = f.ID
	if err := l.recordRoot(); err != nil {
		return nil, fmt.Errorf("disk %s: %w", root, fsError(err, ErrDiskNotFound))
	}
	if err := l.resetStaging(); err != nil {
		return nil, fmt.Errorf("disk %s: preparing %s: %w", root, sysDir, fsError(err, ErrFaultyDisk))
	}
	ok = true
	return l, nil
}

// checkBlank accepts a directory to stamp only if nothing but a
// filesystem's lost+found (or our own half-made .banyan.sys) is in it.
func checkBlank(root string) error {
	ents, err := os.ReadDir(root)
	if err != nil {
		return fsError(err, ErrDiskNotFound)
	}
	for _, e := range ents {
		if e.Name() != "lost+found" && e.Name() != sysDir {
			return fmt.Errorf("%w: found %q and no %s/%s; point Banyan at an empty directory or mount point", ErrForeignDisk, e.Name(), sysDir, formatName)
		}
	}
	return nil
}

func mkdirSync(dir, parent string) error {
	err := os.Mkdir(dir, 0o755)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return err
	}
	return fsyncDir(parent)
}

// lockDisk takes an exclusive flock so that two servers (or two disks
// configured with the same path) never share a disk: each would wipe the
// other's staging area.
func (l *Local) lockDisk() error {
	f, err := os.OpenFile(filepath.Join(l.sys, lockName), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("disk %s: %w", l.root, fsError(err, ErrDiskNotFound))
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return fmt.Errorf("disk %s: %w: in use by another process or another configured disk", l.root, ErrInvalidArgument)
		}
		return fmt.Errorf("disk %s: locking: %w", l.root, err)
	}
	l.lock = f
	return nil
}

// resetStaging moves the previous run's staging area into the trash (one
// rename, so opening is fast whatever a crash left behind) and empties the
// trash in the background. The kept staging area stays as it is: nothing
// in it is partial (see CreateFile), and what is no longer wanted there is
// for the layer above to say.
func (l *Local) resetStaging() error {
	if err := mkdirSync(l.trash, l.sys); err != nil {
		return err
	}
	if err := mkdirSync(l.uploads, l.sys); err != nil {
		return err
	}
	if err := os.Rename(l.tmp, filepath.Join(l.trash, newUUID())); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := mkdirSync(l.tmp, l.sys); err != nil {
		return err
	}
	if err := l.openKept(); err != nil {
		return err
	}
	l.emptier = make(chan struct{}, 1)
	l.bg.Add(1)
	go l.emptyTrash()
	l.kickTrash()
	return nil
}

// emptyTrash deletes what is in the trash whenever kicked, one entry at a
// time, until Close. Deleting a large shard file takes milliseconds of the
// filesystem's time; doing it here keeps it off the write path of the PUT
// that replaced the object. It also moves kept entries (undo.go) to the
// trash once they expire, and never before.
func (l *Local) emptyTrash() {
	defer l.bg.Done()
	t := time.NewTicker(keptTick())
	defer t.Stop()
	for {
		select {
		case _, ok := <-l.emptier:
			if !ok {
				return
			}
		case <-t.C:
			l.keptMu.Lock()
			due := len(l.keptQ) > 0 && !l.keptQ[0].deadline.After(time.Now())
			l.keptMu.Unlock()
			if !due {
				continue
			}
		}
		l.expireKept()
		ents, _ := os.ReadDir(l.trash)
		for _, e := range ents {
			os.RemoveAll(filepath.Join(l.trash, e.Name()))
		}
	}
}

// kickTrash asks emptyTrash for a pass (at most one waits).
func (l *Local) kickTrash() {
	select {
	case l.emptier <- struct{}{}:
	default:
	}
}

// Close releases the disk for another process, after the trash pass under
// way has ended (what is left is deleted at the next open). The Local must not be used afterwards.
func (l *Local) Close() error {
	l.closeOnce.Do(func() {
		if l.emptier != nil {
			close(l.emptier)
		}
	})
	l.bg.Wait()
	return l.lock.Close()
}

// ID implements Disk.
func (l *Local) ID() string { return l.id }

// Path is the disk's root directory.
func (l *Local) Path() string { return l.root }

// Info implements Disk. The disk is checked as every call checks it (see
// presence.go), and the stamp is re-read, so that a disk whose folder went
// away, was unmounted under us (its path now an empty directory of the
// root filesystem) or swapped shows as unhealthy rather than as empty, and
// as healthy again once it is back.
func (l *Local) Info(ctx context.Context) (Info, error) {
	if err := ctx.Err(); err != nil {
		return Info{}, err
	}
	info := Info{ID: l.id, Path: l.root, Endpoint: l.root, Healthy: true}
	if err := l.present(true); err != nil {
		info.Healthy, info.Problem = false, err.Error()
		return info, nil
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(l.root, &st); err != nil {
		info.Healthy, info.Problem = false, fmt.Sprintf("statfs: %v", err)
		return info, nil
	}
	bs := uint64(st.Bsize)
	info.Total, info.Free, info.Used = st.Blocks*bs, st.Bavail*bs, (st.Blocks-st.Bfree)*bs
	switch f, err := readFormat(l.sys); {
	case err != nil:
		info.Healthy, info.Problem = false, fmt.Sprintf("reading %s: %v", formatName, err)
	case f.ID != l.id:
		info.Healthy, info.Problem = false, fmt.Sprintf("disk was replaced: %s now holds disk %s, opened as %s", l.root, f.ID, l.id)
	}
	return info, nil
}

// stripe is the lock of one object's metadata.
func (l *Local) stripe(bucket, object string) *sync.Mutex {
	var h maphash.Hash
	h.SetSeed(l.seed)
	h.WriteString(bucket)
	h.WriteByte(0)
	h.WriteString(object)
	return &l.stripes[h.Sum64()%uint64(len(l.stripes))]
}

// trashPath is a fresh name in the trash.
func (l *Local) trashPath() string { return filepath.Join(l.trash, newUUID()) }

// discard moves path to the trash (one rename: the path is gone at once and
// for good, even if the process dies while deleting) and leaves the
// deleting to emptyTrash.
func (l *Local) discard(path string) error {
	t := l.trashPath()
	if err := os.Rename(path, t); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	}
	l.kickTrash()
	return nil
}
