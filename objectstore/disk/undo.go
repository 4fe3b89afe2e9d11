package disk

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// Taking a change back. A write is acknowledged only once a write quorum of
// its set committed it; one that misses the quorum is taken back from the
// disks that did commit it. For a new version that is removing it, but a
// RenameData that replaced a version with the same VersionID (an overwrite
// of the null version, a delete marker in a suspended bucket, a heal or a
// move) and a DeleteVersion have taken a version away, and removing what
// they added would leave the disk with neither: an acknowledged object
// whose overwrite or delete failed would then be on fewer disks than its
// read quorum, gone. So these changes keep what they take away until the
// layer above has decided:
//
//   - before committing, the object's metadata file as it was is
//     hard-linked into a kept entry, .banyan.sys/kept/<name>, named after
//     the object and the change (keptName); a change that cannot make its
//     entry fails without changing anything;
//   - the commit itself is unchanged: one rename of the metadata file;
//   - after it, the data directories no version references any more move
//     into the entry instead of the trash.
//
// UndoRenameData and UndoDeleteVersion put the data directories back into
// the object, fsync it, then rename the kept metadata file over the current
// one and fsync again. A crash at any point therefore leaves the object as
// the change left it or as it was before, never without both: before the
// rename the kept data are orphans beside the new state (swept by the next
// write), after it the new version's data are. The kept file is the very
// inode that was the metadata file, fsynced when it was written.
//
// A kept entry goes when the object next changes on this disk (the layer
// above changes a key only under its lock, and decides each change before
// the next: the earlier one is settled), and at the latest KeptFor after it
// was made (after the disk was opened, for entries of an earlier run), so a
// replaced version's space comes back at most that late. The layer above
// does not take a change back later than UndoWindow after it started.

// KeptFor is how long a change keeps what it took away, at most.
const KeptFor = 5 * time.Minute

// UndoWindow is how long after starting a change the layer above may still
// take it back: well inside KeptFor.
const UndoWindow = KeptFor / 2

// keptFor is KeptFor, shortened by tests.
var keptFor = KeptFor

// keptMetaName is the metadata file in a kept entry.
const keptMetaName = "meta"

// Kinds of changes, part of a kept entry's name.
const (
	changeRename = "r"
	changeDelete = "d"
)

// keptItem is a kept entry waiting to expire.
type keptItem struct {
	obj, name string
	deadline  time.Time
}

// keptName names the kept entry of a change of bucket/object by what the
// change is: the version v committed (changeRename) or removed
// (changeDelete). The layer above passes the same version to undo it.
func keptName(bucket, object, change string, v *Version) string {
	h := sha256.New()
	for _, s := range []string{bucket, object, change, v.VersionID, strconv.FormatInt(v.ModTime.UnixNano(), 10), v.DataDir, v.ETag, strconv.FormatBool(v.IsDeleteMarker)} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// sameVersion reports whether a and b are the same version (not merely the
// same VersionID).
func sameVersion(a, b *Version) bool {
	return a.VersionID == b.VersionID && a.ModTime.Equal(b.ModTime) && a.DataDir == b.DataDir &&
		a.ETag == b.ETag && a.IsDeleteMarker == b.IsDeleteMarker
}

func objKey(bucket, object string) string { return bucket + "\x00" + object }

// openKept prepares the kept area: entries an earlier run left get a full
// KeptFor from now, the undo of a change across a restart of this disk's
// box being as legitimate as any.
func (l *Local) openKept() error {
	if err := mkdirSync(l.kept, l.sys); err != nil {
		return err
	}
	ents, err := os.ReadDir(l.kept)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(keptFor)
	for _, e := range ents {
		l.keptQ = append(l.keptQ, keptItem{name: e.Name(), deadline: deadline})
	}
	return nil
}

// keepAside makes the kept entry of a change of the object at dir, which
// takes away a version: the metadata file as it is now is linked into it.
// Callers hold the object's lock and commit the change next.
func (l *Local) keepAside(bucket, object, dir, change string, v *Version) (string, error) {
	name := keptName(bucket, object, change, v)
	keep := filepath.Join(l.kept, name)
	// The same change made again (a heal re-committing a version): the
	// entry of the first one describes an older state.
	if err := l.discard(keep); err != nil {
		return "", fsError(err, ErrDiskNotFound)
	}
	if err := os.Mkdir(keep, 0o755); err != nil {
		return "", fmt.Errorf("keeping the replaced version: %w", fsError(err, ErrDiskNotFound))
	}
	src, dst := filepath.Join(dir, metaName), filepath.Join(keep, keptMetaName)
	if err := os.Link(src, dst); err != nil {
		// A filesystem without hard links: a copy does as well.
		b, rerr := readWholeFile(src, maxMetaSize)
		if rerr == nil {
			rerr = writeFileSync(dst, b)
		}
		if rerr != nil {
			l.discard(keep)
			return "", fmt.Errorf("keeping the replaced version: %w", fsError(errors.Join(err, rerr), ErrDiskNotFound))
		}
	}
	l.keptMu.Lock()
	l.keptBy[objKey(bucket, object)] = name
	l.keptQ = append(l.keptQ, keptItem{obj: objKey(bucket, object), name: name, deadline: time.Now().Add(keptFor)})
	l.keptMu.Unlock()
	return keep, nil
}

// releaseKept drops what the object's last change on this disk kept: a new
// change of the object means the last one is decided. Callers hold the
// object's lock.
func (l *Local) releaseKept(bucket, object string) {
	l.keptMu.Lock()
	name, ok := l.keptBy[objKey(bucket, object)]
	delete(l.keptBy, objKey(bucket, object))
	l.keptMu.Unlock()
	if ok {
		l.discard(filepath.Join(l.kept, name))
	}
}

// dropKept removes the kept entry keep, a change that failed or was undone.
func (l *Local) dropKept(bucket, object, keep string) {
	l.keptMu.Lock()
	if l.keptBy[objKey(bucket, object)] == filepath.Base(keep) {
		delete(l.keptBy, objKey(bucket, object))
	}
	l.keptMu.Unlock()
	l.discard(keep)
}

// expireKept moves the kept entries older than KeptFor to the trash; the
// emptier calls it before each pass.
func (l *Local) expireKept() {
	now := time.Now()
	var due []string
	l.keptMu.Lock()
	n := 0
	for n < len(l.keptQ) && !l.keptQ[n].deadline.After(now) {
		it := l.keptQ[n]
		if it.obj != "" && l.keptBy[it.obj] == it.name {
			delete(l.keptBy, it.obj)
		}
		due = append(due, it.name)
		n++
	}
	l.keptQ = l.keptQ[n:]
	l.keptMu.Unlock()
	for _, name := range due {
		if err := os.Rename(filepath.Join(l.kept, name), l.trashPath()); err != nil && !errors.Is(err, fs.ErrNotExist) {
			os.RemoveAll(filepath.Join(l.kept, name))
		}
	}
}

// keptTick is how often the emptier looks for expired kept entries.
func keptTick() time.Duration { return min(max(keptFor/10, 10*time.Millisecond), 30*time.Second) }

// undoRenameData implements Disk.UndoRenameData (presence.go checks the
// disk around it).
func (l *Local) undoRenameData(ctx context.Context, bucket, object string, v Version) error {
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
	cur, err := readMetaFile(filepath.Join(dir, metaName))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%s/%s: %w", bucket, object, l.notFound(bucket, err))
	case err != nil:
		return fmt.Errorf("%s/%s: %w", bucket, object, fsError(err, ErrFileNotFound))
	}
	if got, ok := cur.FindVersion(v.VersionID); !ok || !sameVersion(&got, &v) {
		// It never landed here, or was replaced since.
		return fmt.Errorf("%s/%s version %q: not the version committed: %w", bucket, object, v.VersionID, ErrVersionNotFound)
	}
	keep := filepath.Join(l.kept, keptName(bucket, object, changeRename, &v))
	old, err := readMetaFile(filepath.Join(keep, keptMetaName))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		// v replaced nothing here (its commit would have kept what it
		// did replace, or failed): taking it back is removing it.
		cur.RemoveVersion(v.VersionID)
		if len(cur.Versions) == 0 {
			if err := l.deleteNode(bucket, dir, ""); err != nil {
				return fmt.Errorf("%s/%s: %w", bucket, object, err)
			}
			return nil
		}
		data, err := encodeMeta(cur)
		if err != nil {
			return err
		}
		if err := l.commitMeta(bucket, dir, rel, data); err != nil {
			return fmt.Errorf("%s/%s: %w", bucket, object, err)
		}
		l.sweep(dir, cur, "")
		return nil
	case err != nil:
		return fmt.Errorf("%s/%s: kept metadata: %w", bucket, object, fsError(err, ErrFileNotFound))
	}
	return l.restoreKept(bucket, object, dir, rel, keep, old)
}

// undoDeleteVersion implements Disk.UndoDeleteVersion (presence.go checks
// the disk around it).
func (l *Local) undoDeleteVersion(ctx context.Context, bucket, object string, v Version) error {
	dir, rel, err := l.node(bucket, object)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := l.checkVolume(bucket); err != nil {
		return err
	}
	mu := l.stripe(bucket, object)
	mu.Lock()
	defer mu.Unlock()
	keep := filepath.Join(l.kept, keptName(bucket, object, changeDelete, &v))
	old, err := readMetaFile(filepath.Join(keep, keptMetaName))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%s/%s version %q: no delete of it to take back: %w", bucket, object, v.VersionID, ErrVersionNotFound)
	case err != nil:
		return fmt.Errorf("%s/%s: kept metadata: %w", bucket, object, fsError(err, ErrFileNotFound))
	}
	cur, err := readMetaFile(filepath.Join(dir, metaName))
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return fmt.Errorf("%s/%s: %w", bucket, object, fsError(err, ErrFileNotFound))
	default:
		if got, ok := cur.FindVersion(v.VersionID); ok {
			if sameVersion(&got, &v) {
				l.dropKept(bucket, object, keep) // back already
				return nil
			}
			return fmt.Errorf("%s/%s version %q: written again since its delete: %w", bucket, object, v.VersionID, ErrVersionNotFound)
		}
	}
	return l.restoreKept(bucket, object, dir, rel, keep, old)
}

// restoreKept puts the object back as the kept entry keep recorded it
// (old): data first, invisible until the metadata file naming it is
// renamed back, in one step. Callers hold the object's lock.
func (l *Local) restoreKept(bucket, object, dir, rel, keep string, old *ObjectMeta) error {
	moved := false
	for i := range old.Versions {
		id := old.Versions[i].DataDir
		if id == "" {
			continue
		}
		dst := filepath.Join(dir, dataDirPrefix+id)
		if _, err := os.Stat(dst); err == nil {
			continue // never moved out (shared, or left behind)
		}
		src := filepath.Join(keep, dataDirPrefix+id)
		if err := l.inNode(bucket, rel, func() error { return os.Rename(src, dst) }); err != nil {
			return fmt.Errorf("%s/%s: bringing back data dir %s of version %q: %w", bucket, object, id, old.Versions[i].VersionID, fsError(err, ErrFileNotFound))
		}
		moved = true
	}
	if moved {
		if err := fsyncDir(dir); err != nil {
			return fsError(err, ErrFileNotFound)
		}
	}
	if l.crashed("undo:data-back") {
		return errCrashed
	}
	src, dst := filepath.Join(keep, keptMetaName), filepath.Join(dir, metaName)
	if err := l.inNode(bucket, rel, func() error { return os.Rename(src, dst) }); err != nil {
		return fmt.Errorf("%s/%s: bringing back the metadata: %w", bucket, object, fsError(err, ErrFileNotFound))
	}
	if err := fsyncDir(dir); err != nil {
		return fsError(err, ErrFileNotFound)
	}
	if l.crashed("undo:committed") {
		return errCrashed
	}
	l.sweep(dir, old, "")
	l.dropKept(bucket, object, keep)
	return nil
}
