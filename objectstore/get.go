package objectstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/banyancloud/banyan/objectstore/disk"
	"github.com/banyancloud/banyan/objectstore/erasure"
)

// HeadObject implements ObjectLayer.
func (s *Store) HeadObject(ctx context.Context, bucket, key string, opts GetOptions) (ObjectInfo, error) {
	_, _, oi, err := s.lookupVersion(ctx, bucket, key, opts.VersionID)
	return oi, err
}

// lookupVersion finds the version a GET or HEAD asks for. A delete marker
// is returned with its info and ErrObjectNotFound (latest) or
// ErrMethodNotAllowed (asked for by ID), so the front end can set
// x-amz-delete-marker.
func (s *Store) lookupVersion(ctx context.Context, bucket, key, versionID string) (*objectState, int, ObjectInfo, error) {
	st, err := s.readObject(ctx, bucket, key)
	if err != nil {
		return nil, -1, ObjectInfo{}, err
	}
	if st.stale {
		s.queueHeal(bucket, key)
	}
	i := 0
	if versionID != "" {
		if i = st.find(toDiskVersionID(versionID)); i < 0 {
			return nil, -1, ObjectInfo{}, ErrVersionNotFound
		}
	} else if len(st.versions) == 0 {
		return nil, -1, ObjectInfo{}, ErrObjectNotFound
	}
	v := &st.versions[i]
	if undecided(v, len(st.holders[i])) {
		return nil, -1, ObjectInfo{}, fmt.Errorf("%w: %s/%s: version %s is on only %d disks and others of its set did not answer: it may be a copy a delete or an overwrite missed",
			ErrReadQuorum, bucket, key, fromDiskVersionID(v.VersionID), len(st.holders[i]))
	}
	oi := objectInfo(bucket, key, v, i == 0)
	if v.IsDeleteMarker {
		if versionID != "" {
			return st, i, oi, ErrMethodNotAllowed
		}
		return st, i, oi, ErrObjectNotFound
	}
	return st, i, oi, nil
}

// GetObject implements ObjectLayer. Before it returns, the shards of the
// first part the request reads are opened on a read quorum of disks (and
// the first frame each of them must serve is read), so that an object too
// few disks can serve fails here, before the front end sends a status
// line, instead of breaking off mid-body. The other shards are opened only
// when the decoder needs them: one lost mid-stream is replaced from parity
// on the fly while Data shards remain.
//
// The returned reader decodes into its caller's writer (WriteTo) or in a
// goroutine into a pipe (Read): one block is being read from the disks
// while the previous one is written out, and memory stays at the erasure
// decoder's two stripes.
//
// With PartNumber the reader yields only that part (the n-th part of a
// multipart object, whose size and offset the front end finds in
// ObjectInfo.Parts; part 1 of any other object is the whole object); a
// part that does not exist is ErrInvalidRange.
func (s *Store) GetObject(ctx context.Context, bucket, key string, opts GetOptions) (ObjectInfo, io.ReadCloser, error) {
	st, i, oi, err := s.lookupVersion(ctx, bucket, key, opts.VersionID)
	if err != nil {
		return oi, nil, err
	}
	v := st.versions[i]
	off, length, err := readRange(&v, opts)
	if err != nil {
		return oi, nil, err
	}
	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	var first *partShards
	// Nothing to read (an empty object) decodes from no shard at all, but the
	// version must still be one a read quorum of its set vouches for, as a
	// version with bytes must be to decode: agree also accepts a version from
	// fewer disks when others of its set cannot be asked, and that may be a
	// copy left behind on disks that missed a delete or an overwrite. So an
	// empty version needs Data holders like an inline one (else
	// ErrReadQuorum, 503), and is never served from a leftover copy.
	if v.HasInline() || length == 0 {
		err = checkInline(st, i)
	} else {
		first, err = s.openFirstPart(ctx, st, i, off, length)
	}
	if err != nil {
		cancel()
		if cerr := parent.Err(); cerr != nil {
			// The caller went away; that, not the disks, is why.
			return oi, nil, cerr
		}
		if first != nil && first.missing {
			s.queueHeal(bucket, key)
		}
		return oi, nil, err
	}
	rc := &objectReader{ctx: ctx, cancel: cancel, done: make(chan struct{}), first: first}
	rc.decode = func(w io.Writer) error { return s.decodeRangeFrom(ctx, st, i, w, off, length, first) }
	return oi, rc, nil
}

// checkInline fails with ErrReadQuorum when fewer than Data disks gave
// version i's inline shard (or, for a version with no bytes to read, its
// metadata).
func checkInline(st *objectState, i int) error {
	v := &st.versions[i]
	sc := v.Erasure.Scheme()
	have := map[int]bool{}
	for _, h := range st.holders[i] {
		if hv, ok := st.holderVersion(i, h); ok && hv.Erasure.Index >= 0 && hv.Erasure.Index < sc.Total() {
			have[hv.Erasure.Index] = true
		}
	}
	if len(have) < sc.Data {
		return fmt.Errorf("%w: %s/%s: %d of %d inline shards, need %d", ErrReadQuorum, st.bucket, st.key, len(have), sc.Total(), sc.Data)
	}
	return nil
}

// openFirstPart opens the shards of the first part that [off, off+length)
// of version i reads, on a read quorum of disks, and reads the frame of
// the range's first block from those the decoder will read first. It fails
// with ErrReadQuorum when fewer than Data shards can be opened; the
// returned partShards then only reports missing.
func (s *Store) openFirstPart(ctx context.Context, st *objectState, i int, off, length int64) (*partShards, error) {
	v := &st.versions[i]
	set := s.setOf(v)
	holds := holdersOf(st, i)
	var partStart int64
	for _, part := range v.Parts {
		if off < partStart+part.Size {
			ps := s.newPartShards(ctx, st.bucket, st.key, v, set, part, holds)
			if err := ps.prepare(ctx, off-partStart, min(off+length, partStart+part.Size)-off); err != nil {
				ps.close()
				return ps, err
			}
			return ps, nil
		}
		partStart += part.Size
	}
	return nil, nil
}

func holdersOf(st *objectState, i int) map[string]bool {
	holds := map[string]bool{}
	for _, h := range st.holders[i] {
		holds[st.disks[h].id] = true
	}
	return holds
}

// objectReader is GetObject's reader. Decoding starts at the first Read or
// WriteTo. WriteTo (what io.Copy uses) decodes straight into the
// destination on the caller's goroutine: each block goes out in one large
// write from the decoder's own buffers. Read decodes in a goroutine into
// a pipe instead. Close stops the decoder either way, and closes the
// shard files GetObject opened if decoding never started.
type objectReader struct {
	ctx     context.Context
	cancel  context.CancelFunc
	decode  func(w io.Writer) error
	first   *partShards // opened by GetObject; the decoder closes it
	started bool
	pr      *io.PipeReader
	done    chan struct{}
	once    sync.Once
}

func (r *objectReader) Read(p []byte) (int, error) {
	if !r.started {
		r.started = true
		pr, pw := io.Pipe()
		r.pr = pr
		go func() {
			defer close(r.done)
			pw.CloseWithError(r.decode(pw))
		}()
	}
	return r.pr.Read(p)
}

// WriteTo implements io.WriterTo.
func (r *objectReader) WriteTo(w io.Writer) (int64, error) {
	if r.started {
		// Already reading through the pipe: go on from there.
		return io.Copy(w, struct{ io.Reader }{r})
	}
	r.started = true
	defer close(r.done)
	cw := &countingWriter{w: w}
	err := r.decode(cw)
	return cw.n, err
}

func (r *objectReader) Close() error {
	r.once.Do(func() {
		r.cancel()
		if !r.started {
			r.started = true
			close(r.done)
			r.first.close()
			return
		}
		if r.pr != nil {
			r.pr.CloseWithError(errReaderClosed)
		}
		<-r.done
		r.first.close()
	})
	return nil
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

var errReaderClosed = errors.New("objectstore: object reader closed")

// readRange turns the request's Range or PartNumber into [off, off+length).
func readRange(v *disk.Version, opts GetOptions) (off, length int64, err error) {
	size := v.Size
	if p := opts.PartNumber; p > 0 {
		if len(v.Parts) <= 1 {
			if p != 1 {
				return 0, 0, ErrInvalidRange
			}
			return 0, size, nil
		}
		if p > len(v.Parts) {
			return 0, 0, ErrInvalidRange
		}
		for _, part := range v.Parts[:p-1] {
			off += part.Size
		}
		return off, v.Parts[p-1].Size, nil
	}
	r := opts.Range
	if r == nil {
		return 0, size, nil
	}
	if r.Start < 0 {
		n := -r.Start
		if size == 0 || n == 0 {
			return 0, 0, ErrInvalidRange
		}
		n = min(n, size)
		return size - n, n, nil
	}
	if r.Start >= size {
		return 0, 0, ErrInvalidRange
	}
	end := r.End
	if end >= 0 && end < r.Start {
		// RFC 9110: an invalid range is ignored.
		return 0, size, nil
	}
	if end < 0 || end >= size {
		end = size - 1
	}
	return r.Start, end - r.Start + 1, nil
}

// decodeRange writes bytes [off, off+length) of version i to w, part by
// part, and queues the object for healing when a shard was missing or bad.
func (s *Store) decodeRange(ctx context.Context, st *objectState, i int, w io.Writer, off, length int64) error {
	return s.decodeRangeFrom(ctx, st, i, w, off, length, nil)
}

// decodeRangeFrom is decodeRange with the shards of the range's first part
// already opened (GetObject's openFirstPart; nil: none). It closes them.
func (s *Store) decodeRangeFrom(ctx context.Context, st *objectState, i int, w io.Writer, off, length int64, first *partShards) error {
	defer first.close()
	v := &st.versions[i]
	sc := v.Erasure.Scheme()
	needHeal := false
	defer func() {
		if needHeal {
			s.queueHeal(st.bucket, st.key)
		}
	}()
	if v.HasInline() {
		src := make([]erasure.ShardReader, sc.Total())
		for _, h := range st.holders[i] {
			hv, ok := st.holderVersion(i, h)
			if !ok {
				continue
			}
			if idx := hv.Erasure.Index; idx >= 0 && idx < len(src) {
				src[idx] = bytes.NewReader(hv.Inline)
			}
		}
		needHeal = countNil(src) > 0
		res, err := erasure.Decode(ctx, w, src, sc, v.Size, off, length)
		needHeal = needHeal || len(res.BadShards) > 0
		return readErr(err)
	}
	holds := holdersOf(st, i)
	set := s.setOf(v)
	var partStart int64
	for _, part := range v.Parts {
		pOff, pEnd := max(off, partStart), min(off+length, partStart+part.Size)
		if pOff < pEnd {
			ps := first
			if ps == nil || ps.part != part.Number {
				ps = s.newPartShards(ctx, st.bucket, st.key, v, set, part, holds)
			}
			first = nil
			res, err := erasure.Decode(ctx, w, ps.sources(), sc, part.Size, pOff-partStart, pEnd-pOff)
			ps.close()
			needHeal = needHeal || ps.missing || len(res.BadShards) > 0
			if err != nil {
				return readErr(err)
			}
		}
		partStart += part.Size
	}
	return nil
}

// partShards are the shard files of one part of a version, indexed by
// shard. Each is opened on its first read, so the decoder opens parity
// shards only when a data shard fails; prepare opens a read quorum up
// front.
type partShards struct {
	scheme erasure.Scheme
	part   int   // part number
	size   int64 // object bytes of the part
	files  []*shardFile
	// missing: a disk that should hold a shard is away, does not hold the
	// version or failed while being prepared.
	missing bool
}

func (s *Store) newPartShards(ctx context.Context, bucket, key string, v *disk.Version, set erasureSet, part disk.Part, holds map[string]bool) *partShards {
	sc := v.Erasure.Scheme()
	ps := &partShards{scheme: sc, part: part.Number, size: part.Size, files: make([]*shardFile, sc.Total())}
	want := sc.ShardFileSize(part.Size)
	for j, id := range set.ids {
		shard := shardOf(&v.Erasure, j)
		d := set.disks[j]
		if d == nil || !holds[id] || shard < 0 || shard >= len(ps.files) {
			ps.missing = true
			continue
		}
		ps.files[shard] = &shardFile{ctx: ctx, d: d, bucket: bucket, key: key, dataDir: v.DataDir, part: part.Number, want: want}
	}
	if len(set.ids) < len(ps.files) {
		ps.missing = true
	}
	return ps
}

// sources is what erasure.Decode reads: nil for the shards that are not
// there.
func (ps *partShards) sources() []erasure.ShardReader {
	src := make([]erasure.ShardReader, len(ps.files))
	for j, f := range ps.files {
		if f != nil {
			src[j] = f
		}
	}
	return src
}

func (ps *partShards) close() {
	if ps == nil {
		return
	}
	for _, f := range ps.files {
		if f != nil {
			f.close()
		}
	}
}

// prepare opens Data shards of the part for a read of [off, off+length)
// of it (offsets in the part) and reads the frame of the range's first
// block from each shard the decoder will read for that block: the data
// shards the block's range covers, or, once one of them failed, every
// opened shard (the block is then rebuilt from any Data of them). A shard
// that fails is dropped and the next one is tried: data shards first,
// then parity, as the decoder picks them. The frames read are kept and
// handed to the decoder's first read, so nothing is read twice. Fewer than
// Data usable shards is ErrReadQuorum.
func (ps *partShards) prepare(ctx context.Context, off, length int64) error {
	sc := ps.scheme
	b := off / sc.BlockSize
	n := min(sc.BlockSize, ps.size-b*sc.BlockSize)
	sl := (n + int64(sc.Data) - 1) / int64(sc.Data)
	frameOff, frameLen := b*sc.FrameSize(), erasure.HashSize+int(sl)
	lo, hi := off-b*sc.BlockSize, min(off+length-b*sc.BlockSize, n)
	needed := make([]bool, len(ps.files))
	var order []int
	for j := lo / sl; j <= (hi-1)/sl && j < int64(sc.Data); j++ {
		needed[j] = true
		order = append(order, int(j))
	}
	for j := range ps.files {
		if !needed[j] {
			order = append(order, j)
		}
	}

	opened := make([]bool, len(ps.files))
	probed := make([]bool, len(ps.files))
	errs := make([]error, len(ps.files))
	rebuild := false // a needed shard failed: every opened one is read
	next := 0
	for {
		// Open (and read the frame of) the shards in idx, in parallel;
		// drop those that fail.
		run := func(idx []int) {
			parallel(len(idx), func(k int) {
				j := idx[k]
				probe := rebuild || needed[j]
				errs[j] = ps.files[j].prime(probe, frameOff, frameLen)
				opened[j], probed[j] = true, probe
			})
			for _, j := range idx {
				if errs[j] != nil {
					ps.files[j].close()
					ps.files[j] = nil
					ps.missing = true
					rebuild = rebuild || needed[j]
				}
			}
		}
		if rebuild {
			var idx []int
			for j, f := range ps.files {
				if f != nil && opened[j] && !probed[j] {
					idx = append(idx, j)
				}
			}
			if len(idx) > 0 {
				run(idx)
				continue
			}
		}
		good := 0
		for j, f := range ps.files {
			if f != nil && opened[j] {
				good++
			}
		}
		if good >= sc.Data {
			return nil
		}
		var wave []int
		for ; next < len(order) && good+len(wave) < sc.Data; next++ {
			if j := order[next]; ps.files[j] != nil {
				wave = append(wave, j)
			}
		}
		if len(wave) == 0 {
			err := fmt.Errorf("%w: part %d: %d of %d shards readable, need %d", ErrReadQuorum, ps.part, good, sc.Total(), sc.Data)
			if jerr := errors.Join(errs...); jerr != nil {
				err = fmt.Errorf("%w: %w", err, jerr)
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		run(wave)
	}
}

// shardFile is one shard file of a part, opened on first use. The frame
// prepare read is served to the first ReadAt that asks for exactly it.
type shardFile struct {
	ctx                  context.Context
	d                    disk.Disk
	bucket, key, dataDir string
	part                 int
	want                 int64 // the file's length

	mu       sync.Mutex
	tried    bool
	f        disk.ReadAtCloser
	err      error
	frameOff int64
	frame    []byte
}

// open opens the file once; f.mu is held.
func (f *shardFile) open() (disk.ReadAtCloser, error) {
	if !f.tried {
		f.tried = true
		r, size, err := f.d.OpenFile(f.ctx, f.bucket, f.key, f.dataDir, f.part)
		switch {
		case err != nil:
			f.err = fmt.Errorf("disk %s: %w", f.d.ID(), err)
		case size != f.want:
			r.Close()
			f.err = fmt.Errorf("disk %s: %w: %d bytes, want %d", f.d.ID(), erasure.ErrShardSize, size, f.want)
		default:
			f.f = withReadAhead(r, size)
		}
	}
	return f.f, f.err
}

// prime opens the file and, with probe, reads the frame [off, off+n).
func (f *shardFile) prime(probe bool, off int64, n int) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, err := f.open()
	if err != nil || !probe || f.frame != nil {
		return err
	}
	buf := make([]byte, n)
	if m, err := r.ReadAt(buf, off); m != n {
		if err == nil || err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return fmt.Errorf("disk %s: reading at %d: %w", f.d.ID(), off, err)
	}
	f.frame, f.frameOff = buf, off
	return nil
}

func (f *shardFile) ReadAt(p []byte, off int64) (int, error) {
	f.mu.Lock()
	if f.frame != nil && off == f.frameOff && len(p) == len(f.frame) {
		n := copy(p, f.frame)
		f.frame = nil
		f.mu.Unlock()
		return n, nil
	}
	f.frame = nil
	r, err := f.open()
	f.mu.Unlock()
	if err != nil {
		return 0, err
	}
	return r.ReadAt(p, off)
}

func (f *shardFile) close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.f != nil {
		f.f.Close()
		f.f = nil
	}
	if f.err == nil {
		f.err = errReaderClosed
	}
	f.tried, f.frame = true, nil
}

// readErr maps a decoder failure for the reader of GetObject.
func readErr(err error) error {
	if err != nil && errors.Is(err, erasure.ErrQuorum) {
		return fmt.Errorf("%w: %w", ErrReadQuorum, err)
	}
	return err
}

func countNil(src []erasure.ShardReader) int {
	n := 0
	for _, r := range src {
		if r == nil {
			n++
		}
	}
	return n
}

func closeAll(files []disk.ReadAtCloser) {
	for _, f := range files {
		if f != nil {
			f.Close()
		}
	}
}

// openShards opens part's shard file on every disk of the set that holds
// the version, indexed by shard. missing is true when a disk that should
// hold a shard could not open it.
func (s *Store) openShards(ctx context.Context, bucket, key string, v *disk.Version, set erasureSet, part int, holds map[string]bool) ([]disk.ReadAtCloser, bool) {
	files := make([]disk.ReadAtCloser, v.Erasure.Scheme().Total())
	var mu sync.Mutex
	missing := false
	parallel(len(set.ids), func(j int) {
		shard := shardOf(&v.Erasure, j)
		d := set.disks[j]
		if d == nil || !holds[set.ids[j]] || shard >= len(files) {
			mu.Lock()
			missing = true
			mu.Unlock()
			return
		}
		f, size, err := d.OpenFile(ctx, bucket, key, v.DataDir, part)
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			missing = true
			return
		}
		files[shard] = withReadAhead(f, size)
	})
	return files, missing
}
