package disk

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// node returns the directory of an object's node and its path relative to
// the bucket directory.
func (l *Local) node(bucket, object string) (dir, rel string, err error) {
	if err := validVolume(bucket); err != nil {
		return "", "", err
	}
	if err := validObject(object); err != nil {
		return "", "", err
	}
	rel = keyPath(object)
	dir = l.bucketDir(bucket) + string(filepath.Separator) + rel
	// Room for /.data-<uuid>/part.<n> below the node.
	if len(dir)+64 > maxPathLen {
		return "", "", fmt.Errorf("%w: object name %.40q... encodes to a %d-byte path", ErrFileNameTooLong, object, len(dir))
	}
	return dir, rel, nil
}

// readMetaFile reads and checks a whole metadata file. Errors satisfying
// fs.ErrNotExist mean there is none.
func readMetaFile(path string) (*ObjectMeta, error) {
	b, err := readWholeFile(path, maxMetaSize)
	if errors.Is(err, errTooLarge) {
		return nil, fmt.Errorf("%w: metadata file larger than %d bytes", ErrFileCorrupt, maxMetaSize)
	}
	if err != nil {
		return nil, err
	}
	return decodeMeta(b)
}

// inNode runs fn, the first rename into the node at bucket/rel, after making
// sure the node directory exists. A concurrent delete of a neighbouring key
// may remove the node (or a parent) while it is still empty, between the
// mkdir and fn; fn then fails with a not-exist error and both are redone.
// Once fn has put something in the node, rmdir can no longer remove it.
func (l *Local) inNode(bucket, rel string, fn func() error) error {
	const attempts = 8
	for i := 0; ; i++ {
		err := mkdirUnder(l.bucketDir(bucket), rel)
		if err == nil {
			err = fn()
		}
		if err == nil || !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		if verr := l.checkVolume(bucket); verr != nil {
			return verr
		}
		if i == attempts-1 {
			return err
		}
	}
}

// commitMeta makes data the node's metadata file: written and fsynced in
// the staging area, renamed over .meta, and the node fsynced. Readers see
// the old file or the new one, never a mix.
func (l *Local) commitMeta(bucket, dir, rel string, data []byte) error {
	tmp := filepath.Join(l.tmp, ".meta-"+newUUID())
	if err := writeFileSync(tmp, data); err != nil {
		return fsError(err, ErrDiskNotFound)
	}
	if l.crashed("meta:staged") {
		return errCrashed
	}
	dst := filepath.Join(dir, metaName)
	if err := l.inNode(bucket, rel, func() error { return os.Rename(tmp, dst) }); err != nil {
		os.Remove(tmp)
		return fsError(err, ErrFileNotFound)
	}
	return fsError(fsyncDir(dir), ErrFileNotFound)
}

// sweep removes the node's data directories that no version of meta (nil:
// none) references: the replaced or deleted version's data, and orphans a
// crash left between moving data in and committing the metadata. With keep
// (a kept entry, undo.go) they move there rather than to the trash, and one
// that cannot is left in place: an undo looks for it in the node too.
// Callers hold the object's lock, so no data dir is in flight.
func (l *Local) sweep(dir string, meta *ObjectMeta, keep string) {
	d, err := os.Open(dir)
	if err != nil {
		return
	}
	names, _ := d.Readdirnames(-1)
	d.Close()
	for _, name := range names {
		id, ok := strings.CutPrefix(name, dataDirPrefix)
		if !ok || !isUUID(id) || meta.References(id) {
			continue
		}
		if keep != "" {
			os.Rename(filepath.Join(dir, name), filepath.Join(keep, name))
			continue
		}
		l.discard(filepath.Join(dir, name))
	}
}

// readMetadata implements Disk.ReadMetadata (presence.go checks the disk around it).
func (l *Local) readMetadata(ctx context.Context, bucket, object string) (*ObjectMeta, error) {
	dir, _, err := l.node(bucket, object)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m, err := readMetaFile(filepath.Join(dir, metaName))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s/%s: %w", bucket, object, l.notFound(bucket, err))
	}
	if err != nil {
		return nil, fmt.Errorf("%s/%s: %w", bucket, object, fsError(err, ErrFileNotFound))
	}
	return m, nil
}

// writeMetadata implements Disk.WriteMetadata (presence.go checks the disk around it).
func (l *Local) writeMetadata(ctx context.Context, bucket, object string, meta *ObjectMeta) error {
	dir, rel, err := l.node(bucket, object)
	if err != nil {
		return err
	}
	if err := meta.Validate(); err != nil {
		return err
	}
	data, err := encodeMeta(meta)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	mu := l.stripe(bucket, object)
	mu.Lock()
	defer mu.Unlock()
	l.releaseKept(bucket, object)
	if err := l.commitMeta(bucket, dir, rel, data); err != nil {
		return fmt.Errorf("%s/%s: %w", bucket, object, err)
	}
	l.sweep(dir, meta, "")
	return nil
}

// deleteObject implements Disk.DeleteObject (presence.go checks the disk around it).
func (l *Local) deleteObject(ctx context.Context, bucket, object string) error {
	dir, _, err := l.node(bucket, object)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	mu := l.stripe(bucket, object)
	mu.Lock()
	defer mu.Unlock()
	l.releaseKept(bucket, object)
	if err := l.deleteNode(bucket, dir, ""); err != nil {
		return fmt.Errorf("%s/%s: %w", bucket, object, err)
	}
	return nil
}

// deleteNode removes an object's metadata, then its data (into keep, if
// set, see sweep), then the node and its parents if that left them empty.
// The metadata goes first, in one rename, so the object disappears
// atomically; a crash after that leaves only unreferenced data, swept by
// the next write of the key.
func (l *Local) deleteNode(bucket, dir, keep string) error {
	t := l.trashPath()
	if err := os.Rename(filepath.Join(dir, metaName), t); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return l.notFound(bucket, err)
		}
		return fsError(err, ErrFileNotFound)
	}
	if err := fsyncDir(dir); err != nil {
		return fsError(err, ErrFileNotFound)
	}
	if l.crashed("deleteobject:meta-trashed") {
		return errCrashed
	}
	os.Remove(t)
	l.sweep(dir, nil, keep)
	removeEmptyParents(dir, l.bucketDir(bucket))
	return nil
}

// deleteVersion implements Disk.DeleteVersion (presence.go checks the disk around it).
func (l *Local) deleteVersion(ctx context.Context, bucket, object, versionID string) error {
	dir, rel, err := l.node(bucket, object)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	mu := l.stripe(bucket, object)
	mu.Lock()
	defer mu.Unlock()
	m, err := readMetaFile(filepath.Join(dir, metaName))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%s/%s: %w", bucket, object, l.notFound(bucket, err))
	case err != nil:
		return fmt.Errorf("%s/%s: %w", bucket, object, fsError(err, ErrFileNotFound))
	}
	removed, ok := m.RemoveVersion(versionID)
	if !ok {
		return fmt.Errorf("%s/%s version %q: %w", bucket, object, versionID, ErrVersionNotFound)
	}
	l.releaseKept(bucket, object)
	// Until the layer above knows the delete reached its quorum, it may
	// take it back (UndoDeleteVersion).
	keep, err := l.keepAside(bucket, object, dir, changeDelete, &removed)
	if err != nil {
		return fmt.Errorf("%s/%s: %w", bucket, object, err)
	}
	if l.crashed("deleteversion:kept") {
		return errCrashed
	}
	if len(m.Versions) == 0 {
		if err := l.deleteNode(bucket, dir, keep); err != nil {
			l.dropKept(bucket, object, keep)
			return fmt.Errorf("%s/%s: %w", bucket, object, err)
		}
		return nil
	}
	data, err := encodeMeta(m)
	if err == nil {
		err = l.commitMeta(bucket, dir, rel, data)
	}
	if err != nil {
		l.dropKept(bucket, object, keep)
		return fmt.Errorf("%s/%s: %w", bucket, object, err)
	}
	if l.crashed("deleteversion:committed") {
		return errCrashed
	}
	l.sweep(dir, m, keep)
	return nil
}
