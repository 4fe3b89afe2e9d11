package disk

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/banyancloud/banyan/objectstore/erasure"
)

// A Local works on paths below its root, so whatever directory is at the
// root path is what it reads and writes. When the disk's folder goes away
// (renamed or deleted, the filesystem unmounted, the path now an empty
// directory of the root filesystem, another disk mounted there) every
// lookup would fail with "no such file", and the disk would answer "no
// such object" for every key. The layer above counts that as a disk that
// answered and lacks the object, not as a disk it could not ask: an object
// acknowledged on a write quorum that includes this disk then falls short
// of its read quorum and reads as absent, and the healer drops it from the
// other disks as an unfinished write.
//
// So every call first checks that the directory at the root path is still
// the one the disk was opened on (its device and inode, one stat), and a
// call that finds something missing checks again, looking for format.json
// too, before it answers "not found". A directory that is not the one
// opened is taken only if it carries this disk's format.json (the same
// disk, moved back or remounted); it is then remembered. Otherwise the
// call fails with ErrDiskNotFound, which the layer above treats as a disk
// it could not ask, and nothing is created at the path. The disk serves
// again as soon as its folder is back.

// rootID identifies a directory: its device and inode.
type rootID struct{ dev, ino uint64 }

func statRoot(path string) (rootID, error) {
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		return rootID{}, err
	}
	return rootID{dev: uint64(st.Dev), ino: st.Ino}, nil
}

// recordRoot remembers the directory at the root path as this disk's.
func (l *Local) recordRoot() error {
	id, err := statRoot(l.root)
	if err != nil {
		return err
	}
	l.rootAt.Store(&id)
	return nil
}

// present returns nil when the directory at the root path is this disk,
// else ErrDiskNotFound saying why. thorough also requires format.json
// to be there when the directory is the one opened (a caller about to
// answer "not found" wants to be sure; every other caller pays one stat).
func (l *Local) present(thorough bool) error {
	cur, err := statRoot(l.root)
	if err != nil {
		return l.unavailable(fmt.Sprintf("its folder is gone: %v", err))
	}
	if at := l.rootAt.Load(); at != nil && *at == cur {
		if !thorough {
			return nil
		}
		if _, err := os.Stat(filepath.Join(l.sys, formatName)); err != nil {
			return l.unavailable(fmt.Sprintf("%s/%s is gone: %v", sysDir, formatName, err))
		}
		return nil
	}
	// Another directory is at the path: this disk moved back, or
	// something else.
	f, err := readFormat(l.sys)
	switch {
	case err != nil:
		return l.unavailable(fmt.Sprintf("the folder at its path is not the disk opened there and has no readable %s: %v", formatName, err))
	case f.ID != l.id:
		return l.unavailable(fmt.Sprintf("the folder at its path is disk %s", f.ID))
	}
	if again, err := statRoot(l.root); err != nil || again != cur {
		return l.unavailable("the folder at its path is changing")
	}
	l.rootAt.Store(&cur)
	return nil
}

func (l *Local) unavailable(why string) error {
	return fmt.Errorf("%w: disk %s at %s: %s", ErrDiskNotFound, l.id, l.root, why)
}

// vouch passes err on, unless it says something is missing and the reason
// is that the disk itself is not there: then that is the answer.
func (l *Local) vouch(err error) error {
	if err == nil || errors.Is(err, ErrDiskNotFound) {
		return err
	}
	if !errors.Is(err, ErrFileNotFound) && !errors.Is(err, ErrVolumeNotFound) && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if perr := l.present(true); perr != nil {
		return fmt.Errorf("%w (answering %v)", perr, err)
	}
	return err
}

// The Disk methods of Local: the presence check around the work.

// MakeVolume implements Disk.
func (l *Local) MakeVolume(ctx context.Context, bucket string) error {
	if err := l.present(false); err != nil {
		return err
	}
	return l.vouch(l.makeVolume(ctx, bucket))
}

// DeleteVolume implements Disk.
func (l *Local) DeleteVolume(ctx context.Context, bucket string, force bool) error {
	if err := l.present(false); err != nil {
		return err
	}
	return l.vouch(l.deleteVolume(ctx, bucket, force))
}

// StatVolume implements Disk.
func (l *Local) StatVolume(ctx context.Context, bucket string) (VolumeInfo, error) {
	if err := l.present(false); err != nil {
		return VolumeInfo{}, err
	}
	v, err := l.statVolume(ctx, bucket)
	return v, l.vouch(err)
}

// ListVolumes implements Disk.
func (l *Local) ListVolumes(ctx context.Context) ([]VolumeInfo, error) {
	if err := l.present(false); err != nil {
		return nil, err
	}
	vs, err := l.listVolumes(ctx)
	if err == nil {
		// An empty list from a folder that went away meanwhile is not
		// this disk's answer.
		err = l.present(true)
	}
	if err != nil {
		return nil, l.vouch(err)
	}
	return vs, nil
}

// ReadMetadata implements Disk.
func (l *Local) ReadMetadata(ctx context.Context, bucket, object string) (*ObjectMeta, error) {
	if err := l.present(false); err != nil {
		return nil, err
	}
	m, err := l.readMetadata(ctx, bucket, object)
	if err != nil {
		return nil, l.vouch(err)
	}
	return m, nil
}

// WriteMetadata implements Disk.
func (l *Local) WriteMetadata(ctx context.Context, bucket, object string, meta *ObjectMeta) error {
	if err := l.present(false); err != nil {
		return err
	}
	return l.vouch(l.writeMetadata(ctx, bucket, object, meta))
}

// DeleteObject implements Disk.
func (l *Local) DeleteObject(ctx context.Context, bucket, object string) error {
	if err := l.present(false); err != nil {
		return err
	}
	return l.vouch(l.deleteObject(ctx, bucket, object))
}

// DeleteVersion implements Disk.
func (l *Local) DeleteVersion(ctx context.Context, bucket, object, versionID string) error {
	if err := l.present(false); err != nil {
		return err
	}
	return l.vouch(l.deleteVersion(ctx, bucket, object, versionID))
}

// CreateFile implements Disk.
func (l *Local) CreateFile(ctx context.Context, bucket, tmpPath string, size int64, r io.Reader) error {
	if err := l.present(false); err != nil {
		return err
	}
	return l.vouch(l.createFile(ctx, bucket, tmpPath, size, r))
}

// DeleteTmp implements Disk.
func (l *Local) DeleteTmp(ctx context.Context, tmpPath string) error {
	if err := l.present(false); err != nil {
		return err
	}
	return l.vouch(l.deleteTmp(ctx, tmpPath))
}

// ListStagedUploads implements Disk.
func (l *Local) ListStagedUploads(ctx context.Context, startAfter string, max int) ([]string, error) {
	if err := l.present(false); err != nil {
		return nil, err
	}
	names, err := l.listStagedUploads(ctx, startAfter, max)
	if err != nil {
		return nil, l.vouch(err)
	}
	return names, nil
}

// RenameData implements Disk.
func (l *Local) RenameData(ctx context.Context, srcTmpPath, bucket, object string, v Version) error {
	if err := l.present(false); err != nil {
		return err
	}
	return l.vouch(l.renameData(ctx, srcTmpPath, bucket, object, v))
}

// UndoRenameData implements Disk.
func (l *Local) UndoRenameData(ctx context.Context, bucket, object string, v Version) error {
	if err := l.present(false); err != nil {
		return err
	}
	return l.vouch(l.undoRenameData(ctx, bucket, object, v))
}

// UndoDeleteVersion implements Disk.
func (l *Local) UndoDeleteVersion(ctx context.Context, bucket, object string, v Version) error {
	if err := l.present(false); err != nil {
		return err
	}
	return l.vouch(l.undoDeleteVersion(ctx, bucket, object, v))
}

// OpenFile implements Disk.
func (l *Local) OpenFile(ctx context.Context, bucket, object, dataDir string, part int) (ReadAtCloser, int64, error) {
	if err := l.present(false); err != nil {
		return nil, 0, err
	}
	f, size, err := l.openFile(ctx, bucket, object, dataDir, part)
	if err != nil {
		return nil, 0, l.vouch(err)
	}
	return f, size, nil
}

// VerifyFile implements Disk.
func (l *Local) VerifyFile(ctx context.Context, bucket, object, dataDir string, part int, scheme erasure.Scheme, partSize int64) error {
	if err := l.present(false); err != nil {
		return err
	}
	return l.vouch(l.verifyFile(ctx, bucket, object, dataDir, part, scheme, partSize))
}

// Walk implements Disk. A walk skips directories that vanish under it
// (keys deleted meanwhile), so one whose disk's folder went away part way
// would end early as if complete: it is checked again at the end.
func (l *Local) Walk(ctx context.Context, bucket, prefix, startAfter string, fn func(object string, meta *ObjectMeta) error) error {
	if err := l.present(false); err != nil {
		return err
	}
	err := l.walk(ctx, bucket, prefix, startAfter, fn)
	if err == nil {
		err = l.present(true)
	}
	return l.vouch(err)
}
