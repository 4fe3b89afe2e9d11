package disk

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/banyancloud/banyan/objectstore/erasure"
)

// validTmpPath accepts staging paths made of plain name components, so that
// a path from the network cannot leave the staging area or collide with the
// disk's own staging files (which start with ".").
func validTmpPath(p string) error {
	if p == "" || len(p) > 1024 {
		return fmt.Errorf("%w: staging path %q", ErrInvalidArgument, p)
	}
	for comp := range strings.SplitSeq(p, "/") {
		if comp == "" || comp[0] == '.' || len(comp) > 255 {
			return fmt.Errorf("%w: staging path %q", ErrInvalidArgument, p)
		}
		for i := 0; i < len(comp); i++ {
			c := comp[i]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '-' || c == '_') {
				return fmt.Errorf("%w: staging path %q", ErrInvalidArgument, p)
			}
		}
	}
	return nil
}

// stagingPath maps a staging path to where it lives: a kept one
// (UploadsPrefix) in l.uploads, with exactly depth components after the
// prefix (1: a directory, 2: a file in one; 0: either), anything else in
// l.tmp.
func (l *Local) stagingPath(p string, depth int) (path string, kept bool, err error) {
	if err := validTmpPath(p); err != nil {
		return "", false, err
	}
	rest, kept := strings.CutPrefix(p, UploadsPrefix)
	if !kept {
		return filepath.Join(l.tmp, p), false, nil
	}
	if n := strings.Count(rest, "/") + 1; n > 2 || depth != 0 && n != depth {
		return "", false, fmt.Errorf("%w: kept staging path %q must name a directory below %s, or a file in one, as the call requires", ErrInvalidArgument, p, UploadsPrefix)
	}
	return filepath.Join(l.uploads, rest), true, nil
}

// copyBufSize is the chunk CreateFile moves per read and write: big enough
// for sequential disk throughput, small enough that many concurrent uploads
// do not add up to much memory.
const copyBufSize = 1 << 20

var copyBufs = sync.Pool{New: func() any { b := make([]byte, copyBufSize); return &b }}

// createFile implements Disk.CreateFile (presence.go checks the disk around it).
func (l *Local) createFile(ctx context.Context, bucket, tmpPath string, size int64, r io.Reader) error {
	if err := validVolume(bucket); err != nil {
		return err
	}
	dst, kept, err := l.stagingPath(tmpPath, 2)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := l.checkVolume(bucket); err != nil {
		return err
	}
	path := dst
	if kept {
		// Written in the area cleared at open and renamed into place once
		// fsynced: a crash can leave a partial file only where it is
		// never taken for a part.
		path = filepath.Join(l.tmp, newUUID())
	} else if dir, _ := filepath.Split(tmpPath); dir != "" {
		if err := mkdirBelow(l.tmp, strings.TrimSuffix(dir, "/"), false); err != nil {
			return fmt.Errorf("staging %s: %w", tmpPath, fsError(err, ErrDiskNotFound))
		}
	}
	var f *os.File
	direct := false
	if size >= directMin {
		f, direct, err = openDirect(path)
	}
	if !direct && err == nil {
		f, err = os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	}
	if err != nil {
		return fsError(err, ErrDiskNotFound)
	}
	if err = l.reserve(f, size); err == nil {
		if direct {
			err = l.fillDirect(ctx, f, size, r)
		} else {
			err = l.fill(ctx, f, size, r)
		}
	}
	if err == nil && l.crashed("createfile:written") {
		f.Close()
		return errCrashed
	}
	if err == nil {
		err = fsError(f.Sync(), ErrDiskNotFound)
	}
	if cerr := f.Close(); err == nil {
		err = fsError(cerr, ErrDiskNotFound)
	}
	if err == nil && kept {
		if l.crashed("createfile:synced") {
			return errCrashed
		}
		err = l.keepFile(path, dst)
	}
	if err != nil {
		os.Remove(path)
		return fmt.Errorf("staging %s: %w", tmpPath, err)
	}
	return nil
}

// keepFile moves a complete, fsynced file into the kept staging area and
// makes the move durable before CreateFile returns: the caller records the
// part next, and a record must never outlive a crash that its file does
// not.
func (l *Local) keepFile(src, dst string) error {
	dir := filepath.Dir(dst)
	if err := mkdirBelow(l.uploads, filepath.Base(dir), true); err != nil {
		return fsError(err, ErrDiskNotFound)
	}
	// A DeleteTmp of the directory may run between the mkdir and the
	// rename: then the rename fails, and the file is not kept.
	if err := os.Rename(src, dst); err != nil {
		return fsError(err, ErrDiskNotFound)
	}
	return fsError(fsyncDir(dir), ErrDiskNotFound)
}

// writebackChunk is how much of a shard file may be dirty in the page cache
// before fill asks the kernel to start writing it out. Without it the whole
// file waits for the final fsync, and the disk idles while the stream is
// coming in and the stream idles while the disk catches up; with it the
// disk writes as the data arrives and the fsync finds little left to do.
const writebackChunk = 4 << 20

// startWriteback starts asynchronous writeback of [off, off+n) of f
// (sync_file_range SYNC_FILE_RANGE_WRITE): a hint, not a durability
// point, so its error is ignored; the fsync at the end still decides.
func startWriteback(f *os.File, off, n int64) {
	_ = unix.SyncFileRange(int(f.Fd()), off, n, unix.SYNC_FILE_RANGE_WRITE)
}

// reserve allocates size bytes for f: a full disk fails before any byte is
// sent, and the file stays contiguous. Filesystems without fallocate just
// write.
func (l *Local) reserve(f *os.File, size int64) error {
	if size > 0 {
		err := syscall.Fallocate(int(f.Fd()), 0, 0, size)
		if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
			return fmt.Errorf("%w: reserving %d bytes: %w", ErrDiskFull, size, err)
		}
	}
	return nil
}

// fill copies the stream into f through the page cache.
func (l *Local) fill(ctx context.Context, f *os.File, size int64, r io.Reader) error {
	bp := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(bp)
	buf := *bp
	src := &exactReader{r: r, left: size}
	var written, flushed int64
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		n, rerr := fillBuf(src, buf)
		if n > 0 {
			if _, err := f.Write(buf[:n]); err != nil {
				return fsError(err, ErrDiskNotFound)
			}
			written += int64(n)
			if written-flushed >= writebackChunk {
				startWriteback(f, flushed, written-flushed)
				flushed = written
			}
		}
		if rerr == io.EOF {
			return nil
		}
		if rerr != nil {
			return rerr
		}
	}
}

// fillBuf reads until buf is full or r fails. Unlike io.ReadFull it passes
// r's error on unchanged: only r's io.EOF is the end of the stream, while a
// connection cut mid-body (io.ErrUnexpectedEOF) must fail the file.
func fillBuf(r io.Reader, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// exactReader passes r through and fails with ErrSizeMismatch unless it
// holds exactly left bytes (any number when left < 0).
type exactReader struct {
	r    io.Reader
	left int64
}

func (e *exactReader) Read(p []byte) (int, error) {
	switch {
	case e.left < 0:
		return e.r.Read(p)
	case e.left == 0:
		var one [1]byte
		n, err := io.ReadFull(e.r, one[:])
		if n > 0 {
			return 0, fmt.Errorf("%w: stream is longer than declared", ErrSizeMismatch)
		}
		if err == io.EOF {
			return 0, io.EOF
		}
		return 0, err
	}
	if int64(len(p)) > e.left {
		p = p[:e.left]
	}
	n, err := e.r.Read(p)
	e.left -= int64(n)
	if err == io.EOF && e.left > 0 {
		return n, fmt.Errorf("%w: stream ended %d bytes short", ErrSizeMismatch, e.left)
	}
	return n, err
}

// deleteTmp implements Disk.DeleteTmp (presence.go checks the disk around
// it). A kept path is moved to the trash in one
// rename, so a crash never leaves a directory with some of its parts gone
// (which would look like an upload whose parts are all there). The rename
// is not fsynced: a directory that comes back after a crash is swept by
// the layer above like any other of a finished upload.
func (l *Local) deleteTmp(ctx context.Context, tmpPath string) error {
	path, kept, err := l.stagingPath(tmpPath, 0)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if kept {
		return fsError(l.discard(path), ErrFileNotFound)
	}
	return fsError(os.RemoveAll(path), ErrFileNotFound)
}

// listStagedUploads implements Disk.ListStagedUploads (presence.go checks
// the disk around it). The area is one directory, read
// whole for each page: it holds the uploads in progress on this disk, a
// number the layer above keeps down by sweeping.
func (l *Local) listStagedUploads(ctx context.Context, startAfter string, max int) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if max <= 0 || max > maxStagedList {
		max = maxStagedList
	}
	f, err := os.Open(l.uploads)
	if err != nil {
		return nil, fsError(err, ErrDiskNotFound)
	}
	names, err := f.Readdirnames(-1)
	f.Close()
	if err != nil {
		return nil, fsError(err, ErrDiskNotFound)
	}
	slices.Sort(names)
	i, _ := slices.BinarySearch(names, startAfter)
	var out []string
	for _, n := range names[i:] {
		if n > startAfter && validTmpPath(n) == nil {
			out = append(out, n)
			if len(out) == max {
				break
			}
		}
	}
	return out, nil
}

// renameData implements Disk.RenameData (presence.go checks the disk around
// it). The order of steps is what makes it crash
// safe: the data directory moves into the node first (invisible: no
// metadata references it), then the metadata file naming it replaces the
// old one in one rename. Dying before that leaves the old state plus an
// orphan the next write sweeps; dying after leaves the new state plus the
// replaced version's data, swept the same way. A commit that replaces a
// version keeps it aside first (undo.go), so that UndoRenameData can bring
// it back until the layer above has decided.
func (l *Local) renameData(ctx context.Context, srcTmpPath, bucket, object string, v Version) error {
	dir, rel, err := l.node(bucket, object)
	if err != nil {
		return err
	}
	if err := v.validate(); err != nil {
		return err
	}
	var src string
	switch {
	case v.DataDir == "" && srcTmpPath != "":
		return fmt.Errorf("%w: version %q has no data dir but staged data %q was given", ErrInvalidArgument, v.VersionID, srcTmpPath)
	case v.DataDir != "" && srcTmpPath == "":
		// Metadata-only: checked under the lock below.
	case v.DataDir != "":
		if src, _, err = l.stagingPath(srcTmpPath, 1); err != nil {
			return err
		}
		st, err := os.Stat(src)
		if err != nil {
			return fmt.Errorf("staged data %s: %w", srcTmpPath, fsError(err, ErrFileNotFound))
		}
		if !st.IsDir() {
			return fmt.Errorf("%w: staged data %s is a file, not a directory of parts", ErrInvalidArgument, srcTmpPath)
		}
		// The part files' names must be durable before the directory
		// holding them is renamed into the object.
		if err := fsyncDir(src); err != nil {
			return fsError(err, ErrFileNotFound)
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}

	mu := l.stripe(bucket, object)
	mu.Lock()
	defer mu.Unlock()
	if v.DataDir != "" && src == "" {
		// A metadata-only update needs the data it names to be here, and
		// to stay: deletes of this object wait for the lock.
		if _, err := os.Stat(filepath.Join(dir, dataDirPrefix+v.DataDir)); err != nil {
			return fmt.Errorf("%s/%s: data dir %s of version %q: %w", bucket, object, v.DataDir, v.VersionID, l.notFound(bucket, err))
		}
	}
	meta, err := readMetaFile(filepath.Join(dir, metaName))
	switch {
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, ErrFileCorrupt):
		// A corrupt file's versions are lost on this disk anyway; the new
		// version still lands, and heal restores the others.
		meta = &ObjectMeta{}
	case err != nil:
		return fmt.Errorf("%s/%s: %w", bucket, object, fsError(err, ErrFileNotFound))
	}
	_, replacing := meta.AddVersion(v)
	data, err := encodeMeta(meta)
	if err != nil {
		return err
	}
	l.releaseKept(bucket, object)
	if src != "" {
		dst := filepath.Join(dir, dataDirPrefix+v.DataDir)
		err := l.inNode(bucket, rel, func() error {
			err := os.Rename(src, dst)
			if errors.Is(err, syscall.ENOTEMPTY) || errors.Is(err, syscall.EEXIST) {
				// Healing rewrites a version's data under the same
				// DataDir: the bad copy goes first.
				if err := l.discard(dst); err != nil {
					return err
				}
				err = os.Rename(src, dst)
			}
			return err
		})
		if err != nil {
			return fmt.Errorf("%s/%s: moving staged data in: %w", bucket, object, fsError(err, ErrFileNotFound))
		}
		if err := fsyncDir(dir); err != nil {
			return fsError(err, ErrFileNotFound)
		}
		if l.crashed("renamedata:data-moved") {
			return errCrashed
		}
	}
	var keep string
	if replacing {
		// Until the layer above knows this commit reached its quorum, it
		// may take it back (UndoRenameData): the version replaced must
		// still be there to come back.
		if keep, err = l.keepAside(bucket, object, dir, changeRename, &v); err != nil {
			return fmt.Errorf("%s/%s: %w", bucket, object, err)
		}
		if l.crashed("renamedata:kept") {
			return errCrashed
		}
	}
	if err := l.commitMeta(bucket, dir, rel, data); err != nil {
		if keep != "" {
			l.dropKept(bucket, object, keep)
		}
		return fmt.Errorf("%s/%s: %w", bucket, object, err)
	}
	if l.crashed("renamedata:committed") {
		return errCrashed
	}
	l.sweep(dir, meta, keep)
	return nil
}

// shardPath is where part of the version with dataDir keeps its shard file.
func (l *Local) shardPath(bucket, object, dataDir string, part int) (string, error) {
	dir, _, err := l.node(bucket, object)
	if err != nil {
		return "", err
	}
	if !isUUID(dataDir) || part < 1 {
		return "", fmt.Errorf("%w: data dir %q part %d", ErrInvalidArgument, dataDir, part)
	}
	return filepath.Join(dir, dataDirPrefix+dataDir, partPrefix+strconv.Itoa(part)), nil
}

// openFile implements Disk.OpenFile (presence.go checks the disk around
// it). The *os.File itself is the ReadAtCloser:
// pread is safe from many goroutines.
func (l *Local) openFile(ctx context.Context, bucket, object, dataDir string, part int) (ReadAtCloser, int64, error) {
	path, err := l.shardPath(bucket, object, dataDir, part)
	if err != nil {
		return nil, 0, err
	}
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, 0, fmt.Errorf("%s/%s part %d: %w", bucket, object, part, l.notFound(bucket, err))
		}
		return nil, 0, fsError(err, ErrFileNotFound)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, fsError(err, ErrFileNotFound)
	}
	return f, st.Size(), nil
}

// verifyFile implements Disk.VerifyFile (presence.go checks the disk around it).
func (l *Local) verifyFile(ctx context.Context, bucket, object, dataDir string, part int, scheme erasure.Scheme, partSize int64) error {
	f, size, err := l.openFile(ctx, bucket, object, dataDir, part)
	if err != nil {
		return err
	}
	defer f.Close()
	return verifyShard(ctx, f, size, scheme, partSize)
}

// verifyShard runs erasure.VerifyShardContext and sorts its failures into
// this package's sentinels.
func verifyShard(ctx context.Context, r io.ReaderAt, size int64, scheme erasure.Scheme, partSize int64) error {
	err := erasure.VerifyShardContext(ctx, r, size, scheme, partSize)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, erasure.ErrBitrot), errors.Is(err, erasure.ErrShardSize), errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("%w: %w", ErrFileCorrupt, err)
	case errors.Is(err, erasure.ErrInvalidScheme), errors.Is(err, erasure.ErrInvalidArgument):
		return fmt.Errorf("%w: %w", ErrInvalidArgument, err)
	}
	return fsError(err, ErrFileNotFound)
}
