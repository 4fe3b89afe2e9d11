package disk

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// validVolume accepts bucket names that are safe as one directory name and
// cannot collide with .banyan.sys or lost+found.
func validVolume(bucket string) error {
	if bucket == "" || len(bucket) > 255 || bucket[0] == '.' {
		return fmt.Errorf("%w: bucket name %q", ErrInvalidArgument, bucket)
	}
	for i := 0; i < len(bucket); i++ {
		c := bucket[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '-' || c == '_') {
			return fmt.Errorf("%w: bucket name %q", ErrInvalidArgument, bucket)
		}
	}
	return nil
}

func (l *Local) bucketDir(bucket string) string { return l.root + string(filepath.Separator) + bucket }

// checkVolume returns ErrVolumeNotFound if the bucket is missing. Writes and
// lookups that fail with "not found" call it to tell a missing bucket from a
// missing object.
func (l *Local) checkVolume(bucket string) error {
	st, err := os.Stat(l.bucketDir(bucket))
	if err != nil {
		return fmt.Errorf("bucket %s: %w", bucket, fsError(err, ErrVolumeNotFound))
	}
	if !st.IsDir() {
		return fmt.Errorf("bucket %s: %w: not a directory", bucket, ErrVolumeNotFound)
	}
	return nil
}

// notFound turns a missing path under bucket into ErrVolumeNotFound or
// ErrFileNotFound, whichever is true.
func (l *Local) notFound(bucket string, err error) error {
	if verr := l.checkVolume(bucket); verr != nil {
		return verr
	}
	return fsError(err, ErrFileNotFound)
}

// makeVolume implements Disk.MakeVolume (presence.go checks the disk around it).
func (l *Local) makeVolume(ctx context.Context, bucket string) error {
	if err := validVolume(bucket); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	// A disk unmounted under us leaves an empty directory of the root
	// filesystem at its path: never create buckets there.
	if _, err := os.Stat(filepath.Join(l.sys, formatName)); err != nil {
		return fmt.Errorf("disk %s lost its %s (unmounted?): %w", l.root, formatName, fsError(err, ErrDiskNotFound))
	}
	if err := os.Mkdir(l.bucketDir(bucket), 0o755); err != nil {
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("bucket %s: %w", bucket, ErrVolumeExists)
		}
		return fsError(err, ErrDiskNotFound)
	}
	return fsError(fsyncDir(l.root), ErrDiskNotFound)
}

// deleteVolume implements Disk.DeleteVolume (presence.go checks the disk
// around it). A bucket counts as empty when it holds no
// object, even if a crash left empty directories or unreferenced data in it.
func (l *Local) deleteVolume(ctx context.Context, bucket string, force bool) error {
	if err := validVolume(bucket); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	dir := l.bucketDir(bucket)
	if !force {
		err := os.Remove(dir)
		switch {
		case err == nil:
			return fsError(fsyncDir(l.root), ErrDiskNotFound)
		case errors.Is(err, syscall.ENOTEMPTY) || errors.Is(err, syscall.EEXIST):
			empty := true
			werr := l.walk(ctx, bucket, "", "", func(string, *ObjectMeta) error {
				empty = false
				return StopWalk
			})
			if werr != nil {
				return werr
			}
			if !empty {
				return fmt.Errorf("bucket %s: %w", bucket, ErrVolumeNotEmpty)
			}
		default:
			return fmt.Errorf("bucket %s: %w", bucket, fsError(err, ErrVolumeNotFound))
		}
	}
	// One rename takes the bucket and all its objects away atomically; the
	// slow recursive delete then happens in the trash.
	t := l.trashPath()
	if err := os.Rename(dir, t); err != nil {
		return fmt.Errorf("bucket %s: %w", bucket, fsError(err, ErrVolumeNotFound))
	}
	if err := fsyncDir(l.root); err != nil {
		return fsError(err, ErrDiskNotFound)
	}
	if l.crashed("deletevolume:trashed") {
		return errCrashed
	}
	return fsError(os.RemoveAll(t), ErrDiskNotFound)
}

// statVolume implements Disk.StatVolume (presence.go checks the disk around it).
func (l *Local) statVolume(ctx context.Context, bucket string) (VolumeInfo, error) {
	if err := validVolume(bucket); err != nil {
		return VolumeInfo{}, err
	}
	if err := ctx.Err(); err != nil {
		return VolumeInfo{}, err
	}
	if err := l.checkVolume(bucket); err != nil {
		return VolumeInfo{}, err
	}
	return VolumeInfo{Name: bucket}, nil
}

// listVolumes implements Disk.ListVolumes (presence.go checks the disk around it).
func (l *Local) listVolumes(ctx context.Context) ([]VolumeInfo, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	ents, err := os.ReadDir(l.root) // sorted by name
	if err != nil {
		return nil, fsError(err, ErrDiskNotFound)
	}
	vols := []VolumeInfo{}
	for _, e := range ents {
		if e.IsDir() && validVolume(e.Name()) == nil {
			vols = append(vols, VolumeInfo{Name: e.Name()})
		}
	}
	return vols, nil
}
