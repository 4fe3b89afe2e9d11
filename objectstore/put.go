package objectstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"time"

	"github.com/banyancloud/banyan/objectstore/disk"
	"github.com/banyancloud/banyan/objectstore/erasure"
)

// PutObject implements ObjectLayer.
func (s *Store) PutObject(ctx context.Context, bucket, key string, r io.Reader, opts PutOptions) (ObjectInfo, error) {
	set, err := s.placeNew(bucket, key, opts.StorageClass)
	if err != nil {
		return ObjectInfo{}, err
	}
	v := newVersion(opts)
	c := &commitReq{bucket: bucket, key: key, set: set, opts: opts}
	if stored := sealedSize(opts); stored >= 0 && stored < s.opts.InlineLimit {
		err = s.stageInline(ctx, c, &v, r, opts)
	} else {
		err = s.stageStream(ctx, c, &v, r, opts.Size, opts.MD5, opts.ChecksumAlgorithm, opts.ChecksumValue, opts.Sealer)
		if err == nil {
			v.Parts = []disk.Part{{Number: 1, Size: v.Size, ETag: v.ETag}}
		}
	}
	if err != nil {
		return ObjectInfo{}, err
	}
	c.v = v
	committed, err := s.commit(ctx, c)
	if err != nil {
		return ObjectInfo{}, err
	}
	return objectInfo(bucket, key, &committed, true), nil
}

// stageInline reads a small body into memory and erasure-codes it into one
// inline shard per disk; nothing touches the disks until commit.
func (s *Store) stageInline(ctx context.Context, c *commitReq, v *disk.Version, r io.Reader, opts PutOptions) error {
	body := make([]byte, opts.Size)
	if n, err := io.ReadFull(r, body); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return fmt.Errorf("%w: %d of %d bytes", ErrIncompleteBody, n, opts.Size)
		}
		return fmt.Errorf("objectstore: reading the body: %w", err)
	}
	dig, err := newDigester(opts.ChecksumAlgorithm)
	if err != nil {
		return err
	}
	dig.Write(body)
	if v.ETag, v.Checksums, err = dig.finish(opts.MD5, opts.ChecksumValue); err != nil {
		return err
	}
	if opts.Sealer != nil {
		v.ETag = opts.Sealer.ETag(v.ETag)
		if body, err = io.ReadAll(opts.Sealer.Seal(bytes.NewReader(body), opts.Size)); err != nil {
			return err
		}
	}
	v.Size = int64(len(body))
	c.inline, err = encodeInline(ctx, body, c.set.scheme)
	return err
}

// encodeInline erasure-codes a small object into its shards, hashes
// included, exactly as the shard files would hold them.
func encodeInline(ctx context.Context, body []byte, sc erasure.Scheme) ([][]byte, error) {
	bufs := make([]*bytes.Buffer, sc.Total())
	ws := make([]io.Writer, sc.Total())
	for i := range bufs {
		bufs[i] = bytes.NewBuffer(make([]byte, 0, sc.ShardFileSize(int64(len(body)))))
		ws[i] = bufs[i]
	}
	if _, err := erasure.Encode(ctx, bytes.NewReader(body), ws, sc, sc.Total()); err != nil {
		return nil, err
	}
	out := make([][]byte, len(bufs))
	for i, b := range bufs {
		out[i] = b.Bytes()
	}
	return out, nil
}

// stageStream streams the body through the digests and the erasure coder
// into a staged shard file part.1 on every disk of the set, in parallel,
// with bounded memory. On success c.staged names the staging directory
// and c.ok the disks that hold a complete shard; on failure nothing is
// left behind.
func (s *Store) stageStream(ctx context.Context, c *commitReq, v *disk.Version, r io.Reader, size int64, wantMD5 []byte, algo, wantSum string, sealer Sealer) error {
	dig, err := newDigester(algo)
	if err != nil {
		return err
	}
	staged := newUUID()
	src, size, sink := sealBody(r, size, dig, sealer)
	body := newSplitBody(src, size, sink)
	ok, n, err := s.writeShards(ctx, c.set, c.bucket, staged+"/part.1", size, body)
	berr := body.Close()
	if err == nil && berr != nil {
		err = berr
	}
	if err == nil {
		v.ETag, v.Checksums, err = dig.finish(wantMD5, wantSum)
		v.ETag = sealedETag(sealer, v.ETag)
	}
	if err != nil {
		s.dropStaged(c.set, staged)
		if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
			// The caller went away; that, not the disks, is why.
			err = fmt.Errorf("%w: %w", cerr, err)
		}
		return err
	}
	v.Size = n
	v.DataDir = newUUID()
	c.staged, c.ok = staged, ok
	return nil
}

// writeShards erasure-codes src into tmpPath on each disk of set through
// one pipe per disk. It returns which disks took the whole shard file and
// the object bytes written, or ErrWriteQuorum (or the body's own error).
func (s *Store) writeShards(ctx context.Context, set erasureSet, bucket, tmpPath string, size int64, src io.Reader) ([]bool, int64, error) {
	sc := set.scheme
	n := sc.Total()
	fileSize := int64(-1)
	if size >= 0 {
		fileSize = sc.ShardFileSize(size)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	pws := make([]*io.PipeWriter, n)
	dst := make([]io.Writer, n)
	done := make([]chan error, n)
	for i, d := range set.disks {
		if d == nil {
			continue
		}
		pr, pw := io.Pipe()
		pws[i], dst[i], done[i] = pw, pw, make(chan error, 1)
		go func() {
			err := d.CreateFile(ctx, bucket, tmpPath, fileSize, pr)
			if err == nil {
				pr.Close()
			} else {
				// Unblock the encoder: it drops this disk on the next write.
				pr.CloseWithError(err)
			}
			done[i] <- err
		}()
	}
	written, encErr := erasure.Encode(ctx, src, dst, sc, sc.WriteQuorum())
	for i, pw := range pws {
		if pw == nil {
			continue
		}
		if dst[i] != nil && encErr == nil {
			pw.Close()
		} else {
			pw.CloseWithError(errors.Join(errShardAbandoned, encErr))
		}
	}
	ok := make([]bool, n)
	errs := make([]error, n)
	good := 0
	for i := range n {
		if done[i] == nil {
			errs[i] = errNoDisk
			continue
		}
		errs[i] = <-done[i]
		if errs[i] == nil && dst[i] != nil {
			ok[i] = true
			good++
		}
	}
	if encErr != nil {
		// The body's own failure (short, unreadable) is the caller's
		// error; only a disk failure is a quorum error.
		if !errors.Is(encErr, erasure.ErrQuorum) {
			return nil, 0, encErr
		}
		return nil, 0, fmt.Errorf("%w: %w", ErrWriteQuorum, encErr)
	}
	if good < sc.WriteQuorum() {
		return nil, 0, fmt.Errorf("%w: staging %d of %d shards succeeded, need %d: %w", ErrWriteQuorum, good, n, sc.WriteQuorum(), errors.Join(errs...))
	}
	if size >= 0 && written != size {
		return nil, 0, fmt.Errorf("%w: %d of %d bytes", ErrIncompleteBody, written, size)
	}
	return ok, written, nil
}

var errShardAbandoned = errors.New("objectstore: shard write abandoned")

// dropStaged removes a staging directory from every disk of set.
func (s *Store) dropStaged(set erasureSet, staged string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s.each(set.ids, func(d disk.Disk) error { return d.DeleteTmp(ctx, staged) })
}

// commitReq is a version ready to be made visible.
type commitReq struct {
	bucket, key string
	set         erasureSet
	v           disk.Version
	staged      string   // staging dir with the shard files; "" for inline or markers
	ok          []bool   // disks holding complete staged files (nil: all)
	inline      [][]byte // per shard, for inline versions
	opts        PutOptions
	// keepID keeps c.v.VersionID instead of choosing it from versioning.
	keepID bool
	// keepStaged leaves the staged files alone when the commit fails (a
	// multipart upload stays usable after a failed precondition).
	keepStaged bool
}

// commit makes c.v visible on a write quorum of its set: the version ID is
// chosen, conditions are checked against the latest agreed version, and
// RenameData runs on every disk in parallel, all under this node's lock of
// the key. If the quorum is missed the version is removed again from the
// disks that took it.
func (s *Store) commit(ctx context.Context, c *commitReq) (disk.Version, error) {
	unlock, err := s.lockObject(ctx, c.bucket, c.key)
	if err != nil {
		s.dropStagedIf(c)
		return disk.Version{}, err
	}
	defer unlock()
	var latest time.Time
	if c.opts.IfMatch != "" || c.opts.IfNoneMatch != "" {
		st, err := s.readObject(ctx, c.bucket, c.key)
		if err != nil {
			s.dropStagedIf(c)
			return disk.Version{}, err
		}
		if err := checkConditions(st, c.opts); err != nil {
			s.dropStagedIf(c)
			return disk.Version{}, err
		}
		if len(st.versions) > 0 {
			latest = st.versions[0].ModTime
		}
	}
	v := c.v
	if !c.keepID {
		v.VersionID = ""
		if c.opts.Versioning == VersioningEnabled {
			v.VersionID = newUUID()
		}
	}
	v.ModTime = s.now(latest)
	v.Erasure = disk.ErasureInfo{
		Data: c.set.scheme.Data, Parity: c.set.scheme.Parity, BlockSize: c.set.scheme.BlockSize,
		Disks: c.set.ids, Distribution: identity(len(c.set.ids)),
	}
	n := len(c.set.ids)
	errs := make([]error, n)
	started := time.Now()
	parallel(n, func(i int) {
		d := c.set.disks[i]
		if d == nil {
			errs[i] = errNoDisk
			return
		}
		if c.staged != "" && c.ok != nil && !c.ok[i] {
			errs[i] = errShardAbandoned
			return
		}
		dv := v
		dv.Erasure.Index = i
		if c.inline != nil {
			dv.Inline = c.inline[i]
		}
		errs[i] = d.RenameData(ctx, c.staged, c.bucket, c.key, dv)
	})
	if err := s.quorumErr(errs, c.set.scheme.WriteQuorum(), ErrWriteQuorum, "committing "+c.bucket+"/"+c.key); err != nil {
		s.rollback(c, &v, errs, started)
		return disk.Version{}, err
	}
	if countErrs(errs) > 0 {
		// The disks that missed the commit get the version from the
		// healer; their staged files are of no use to it.
		var missed []string
		for i, err := range errs {
			if err == nil {
				continue
			}
			missed = append(missed, c.set.ids[i])
			if c.staged != "" && c.set.disks[i] != nil {
				c.set.disks[i].DeleteTmp(context.WithoutCancel(ctx), c.staged)
			}
		}
		s.queueHeal(c.bucket, c.key)
		if c.bucket != multipartVolume {
			// Repaired as soon as those disks answer again (mrf.go).
			s.queueRepair(c.bucket, c.key, &v, missed)
		}
	}
	v.Inline = nil
	return v, nil
}

func countErrs(errs []error) int {
	n := 0
	for _, err := range errs {
		if err != nil {
			n++
		}
	}
	return n
}

func (s *Store) dropStagedIf(c *commitReq) {
	if c.staged != "" && !c.keepStaged {
		s.dropStaged(c.set, c.staged)
	}
}

// rollback takes a version that missed its write quorum back from the
// disks that committed it, and removes the staged files from the others.
// Taking back is not deleting: a commit that replaced a version with the
// same ID (the null version, an overwrite) replaced it on those disks, and
// UndoRenameData puts that one back, so the failed write leaves the object
// as it was rather than on fewer disks than its read quorum.
func (s *Store) rollback(c *commitReq, v *disk.Version, errs []error, started time.Time) {
	s.undoChange(c.bucket, c.key, v, c.set.disks, errs, started, "rolling back a version that missed its write quorum",
		func(ctx context.Context, d disk.Disk) error { return d.UndoRenameData(ctx, c.bucket, c.key, *v) },
		func(ctx context.Context, d disk.Disk) {
			if c.staged != "" && !c.keepStaged {
				d.DeleteTmp(ctx, c.staged)
			}
		})
}

// undoChange runs undo on the disks whose change succeeded (errs[i] nil)
// and other, if set, on the rest. The disks keep what a change took away
// for disk.KeptFor only, so a change is not taken back later than
// disk.UndoWindow after it started: a disk that is then left with it is
// the healer's, which is far better than taking back a version with what
// the disk no longer has.
func (s *Store) undoChange(bucket, key string, v *disk.Version, disks []disk.Disk, errs []error, started time.Time, what string,
	undo func(context.Context, disk.Disk) error, other func(context.Context, disk.Disk)) {
	late := time.Since(started) > disk.UndoWindow
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var left atomic.Bool
	parallel(len(errs), func(i int) {
		d := disks[i]
		switch {
		case d == nil:
		case errs[i] != nil:
			if other != nil {
				other(ctx, d)
			}
		case late:
			left.Store(true)
			s.log.Warn("objectstore: "+what+": too late to take it back", "bucket", bucket, "key", key, "version", v.VersionID, "disk", d.ID(), "after", time.Since(started))
		default:
			if err := undo(ctx, d); err != nil && !notThere(err) {
				left.Store(true)
				s.log.Warn("objectstore: "+what, "bucket", bucket, "key", key, "version", v.VersionID, "disk", d.ID(), "err", err)
			}
		}
	})
	if left.Load() {
		s.queueHeal(bucket, key)
	}
}

func identity(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

// checkConditions applies If-Match / If-None-Match to the latest version.
func checkConditions(st *objectState, opts PutOptions) error {
	live := len(st.versions) > 0 && !st.versions[0].IsDeleteMarker
	etag := ""
	if live {
		etag = st.versions[0].ETag
	}
	if inm := opts.IfNoneMatch; inm != "" && live {
		if inm == "*" || etagMatches(inm, etag) {
			return ErrPreconditionFailed
		}
	}
	if im := opts.IfMatch; im != "" {
		if !live {
			return ErrObjectNotFound
		}
		if im != "*" && !etagMatches(im, etag) {
			return ErrPreconditionFailed
		}
	}
	return nil
}

// etagMatches compares a client's ETag list ("a", "b") to ours.
func etagMatches(list, etag string) bool {
	for e := range strings.SplitSeq(list, ",") {
		e = strings.TrimSpace(e)
		e = strings.TrimPrefix(e, "W/")
		if strings.Trim(e, `"`) == etag {
			return true
		}
	}
	return false
}
