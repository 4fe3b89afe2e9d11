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
	oi := objectInfo(bucket, key, v, i == 0)
	if v.IsDeleteMarker {
		if versionID != "" {
			return st, i, oi, ErrMethodNotAllowed
		}
		return st, i, oi, ErrObjectNotFound
	}
	return st, i, oi, nil
}

// GetObject implements ObjectLayer. The returned reader decodes in a
// goroutine into a pipe: one block is being read from the disks while the
// previous one is being written to the caller, and memory stays at the
// erasure decoder's two stripes.
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
	ctx, cancel := context.WithCancel(ctx)
	rc := &objectReader{ctx: ctx, cancel: cancel, done: make(chan struct{})}
	rc.decode = func(w io.Writer) error { return s.decodeRange(ctx, st, i, w, off, length) }
	return oi, rc, nil
}

// objectReader is GetObject's reader. Decoding starts at the first Read or
// WriteTo. WriteTo (what io.Copy uses) decodes straight into the
// destination on the caller's goroutine: each block goes out in one large
// write from the decoder's own buffers. Read decodes in a goroutine into
// a pipe instead. Close stops the decoder either way.
type objectReader struct {
	ctx     context.Context
	cancel  context.CancelFunc
	decode  func(w io.Writer) error
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
			return
		}
		if r.pr != nil {
			r.pr.CloseWithError(errReaderClosed)
		}
		<-r.done
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
	holds := map[string]bool{}
	for _, h := range st.holders[i] {
		holds[st.disks[h].id] = true
	}
	set := s.setOf(v)
	var partStart int64
	for _, part := range v.Parts {
		pOff, pEnd := max(off, partStart), min(off+length, partStart+part.Size)
		if pOff < pEnd {
			files, missing := s.openShards(ctx, st.bucket, st.key, v, set, part.Number, holds)
			needHeal = needHeal || missing
			src := make([]erasure.ShardReader, len(files))
			for j, f := range files {
				if f != nil {
					src[j] = f
				}
			}
			res, err := erasure.Decode(ctx, w, src, sc, part.Size, pOff-partStart, pEnd-pOff)
			closeAll(files)
			needHeal = needHeal || len(res.BadShards) > 0
			if err != nil {
				return readErr(err)
			}
		}
		partStart += part.Size
	}
	return nil
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
