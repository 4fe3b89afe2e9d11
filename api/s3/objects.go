package s3

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/banyancloud/banyan/objectstore"
)

func (q *request) checkKey() error {
	if len(q.key) > maxKeyBytes {
		return errKeyTooLong
	}
	return nil
}

// exactBody hands the object layer exactly size bytes and then reads the request body
// to its end: the verifier checks the last chunk signature and the trailer checksum only
// at EOF, so stopping at size bytes would commit a body whose tail was never checked.
type exactBody struct {
	r    io.Reader
	left int64
}

func (e *exactBody) Read(p []byte) (int, error) {
	if e.left <= 0 {
		var one [1]byte
		n, err := e.r.Read(one[:])
		for n == 0 && err == nil {
			n, err = e.r.Read(one[:])
		}
		if n > 0 {
			return 0, errIncompleteBody.WithMessage("The request body is longer than its declared length.")
		}
		return 0, err
	}
	if int64(len(p)) > e.left {
		p = p[:e.left]
	}
	n, err := e.r.Read(p)
	e.left -= int64(n)
	if err == io.EOF && e.left > 0 {
		return n, errIncompleteBody
	}
	if err == io.EOF {
		err = nil
	}
	return n, err
}

func (q *request) body(size int64) io.Reader {
	if q.r.Body == nil {
		return &exactBody{r: strings.NewReader(""), left: size}
	}
	return &exactBody{r: q.r.Body, left: size}
}

func (q *request) putObject() error {
	if err := q.checkKey(); err != nil {
		return err
	}
	b, err := q.loadBucket()
	if err != nil {
		return err
	}
	acl, err := q.cannedACL()
	if err != nil {
		return err
	}
	if err := q.authorize(b, "s3:PutObject", objectARN(b.Name, q.key), q.writeContext(acl)); err != nil {
		return err
	}
	if err := allowACL(b, acl); err != nil { // Object Ownership, Block Public Access
		return err
	}
	size, err := bodySize(q.r)
	if err != nil {
		return err
	}
	if size > maxPutSize {
		return errEntityTooLarge
	}
	opts, err := q.putOptions(b.Versioning)
	if err != nil {
		return err
	}
	opts.Size = size
	if opts.MD5, err = contentMD5(q.r.Header); err != nil {
		return err
	}
	if opts.ChecksumAlgorithm, opts.ChecksumValue, err = checksumRequest(q.r.Header); err != nil {
		return err
	}
	opts.IfMatch = unquoteList(q.r.Header.Get("If-Match"))
	opts.IfNoneMatch = q.r.Header.Get("If-None-Match")
	if opts.IfNoneMatch != "" && opts.IfNoneMatch != "*" {
		return errNotImplemented.WithMessage("If-None-Match on PUT supports only *.")
	}
	if err := q.applyObjectLock(b, &opts, true); err != nil {
		return err
	}
	enc, err := q.encryptNew(b, &opts, true) // sse.go
	if err != nil {
		return err
	}
	info, err := q.f.objects.PutObject(q.r.Context(), b.Name, q.key, q.body(size), opts)
	if err != nil {
		return err
	}
	h := q.w.Header()
	h.Set("ETag", quoteETag(info.ETag))
	enc.setResponse(h)
	if versioned(b.Versioning) {
		setVersionHeader(h, info.VersionID)
	}
	setChecksumHeaders(h, info.Checksums)
	q.w.WriteHeader(http.StatusOK)
	return nil
}

func unquoteList(s string) string {
	if s == "" || s == "*" {
		return s
	}
	return unquoteETag(s)
}

func (q *request) getObject() error  { return q.readObject(false) }
func (q *request) headObject() error { return q.readObject(true) }

// readObject serves GET and HEAD of an object.
func (q *request) readObject(head bool) error {
	if err := q.checkKey(); err != nil {
		return err
	}
	b, err := q.loadBucket()
	if err != nil {
		return err
	}
	versionID := q.q.Get("versionId")
	action := "s3:GetObject"
	if versionID != "" {
		action = "s3:GetObjectVersion"
	}
	if err := q.authorizeObjectRead(b, action, versionID); err != nil {
		return err
	}
	for k := range responseOverrides {
		if q.has(k) && q.isAnonymous() {
			return errInvalidRequest.WithMessage("Request specific response headers cannot be used for anonymous GET requests.")
		}
	}
	opts := objectstore.GetOptions{VersionID: versionID, Range: parseRange(q.r.Header.Get("Range"))}
	if pn := q.q.Get("partNumber"); pn != "" {
		n, err := strconv.Atoi(pn)
		if err != nil || n < 1 || n > 10000 {
			return errInvalidArgument.WithMessage("Part number must be an integer between 1 and 10000, inclusive")
		}
		if opts.Range != nil {
			return errInvalidRequest.WithMessage("Cannot specify both Range header and partNumber query parameter")
		}
		opts.PartNumber = n
	}
	ck, err := q.readKey() // SSE-C
	if err != nil {
		return err
	}
	var info objectstore.ObjectInfo
	var rc io.ReadCloser
	if head {
		hopts := opts
		hopts.Range = nil
		info, _, err = q.f.openObject(q.r.Context(), b.Name, q.key, hopts, ck, true)
	} else {
		// GetObject opens a read quorum of the shards before it returns, so too few
		// disks is an error here (SlowDown), before the status line, not a body that
		// breaks off. openObject decrypts (sse.go).
		info, rc, err = q.f.openObject(q.r.Context(), b.Name, q.key, opts, ck, false)
		if errors.Is(err, objectstore.ErrReadQuorum) && info.Key != "" {
			// The version was found but its data cannot be read: a conditional GET
			// that answers 304 or 412 needs no data.
			if cerr := checkConditions(q.r.Header, "", info); cerr != nil {
				err = cerr
				if errors.Is(cerr, errNotModified) {
					q.w.Header().Set("ETag", quoteETag(info.ETag))
					q.w.Header().Set("Last-Modified", httpTime(info.ModTime))
				}
			}
		}
	}
	if err != nil {
		if errors.Is(err, objectstore.ErrObjectNotFound) && !info.DeleteMarker &&
			q.authorize(b, "s3:ListBucket", bucketARN(b.Name), nil) != nil {
			// As S3: without ListBucket a missing key is AccessDenied, so that reads
			// do not reveal which keys exist.
			return errAccessDenied
		}
		if info.DeleteMarker {
			q.w.Header().Set("x-amz-delete-marker", "true")
			setVersionHeader(q.w.Header(), info.VersionID)
			if errors.Is(err, objectstore.ErrMethodNotAllowed) {
				q.w.Header().Set("Allow", "DELETE")
			}
		}
		return err
	}
	if rc != nil {
		defer rc.Close()
	}
	h := q.w.Header()
	if err := checkConditions(q.r.Header, "", info); err != nil {
		if errors.Is(err, errNotModified) {
			h.Set("ETag", quoteETag(info.ETag))
			h.Set("Last-Modified", httpTime(info.ModTime))
		}
		return err
	}
	setObjectHeaders(h, info, b.Versioning, strings.EqualFold(q.r.Header.Get("x-amz-checksum-mode"), "ENABLED"))
	setReadResponse(h, info, ck)
	for param, header := range responseOverrides {
		if v := q.q.Get(param); v != "" {
			h.Set(header, v)
		}
	}
	status := http.StatusOK
	length := info.Size
	if start, end, total, ok := servedRange(opts, info); ok {
		if head && opts.Range != nil && start >= total {
			return errInvalidRange
		}
		h.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", start, end, total))
		length = end - start + 1
		status = http.StatusPartialContent
	}
	if opts.PartNumber > 0 && len(info.Parts) > 0 {
		h.Set("x-amz-mp-parts-count", strconv.Itoa(len(info.Parts)))
	}
	h.Set("Content-Length", strconv.FormatInt(length, 10))
	q.w.WriteHeader(status)
	if head {
		return nil
	}
	if _, err := io.Copy(q.w, rc); err != nil {
		return err
	}
	return nil
}

// parseRange reads a single byte range. Anything else (no range, several ranges,
// syntax S3 does not honour) means the whole object, as S3 answers.
func parseRange(s string) *objectstore.Range {
	spec, ok := strings.CutPrefix(strings.TrimSpace(s), "bytes=")
	if !ok || strings.Contains(spec, ",") {
		return nil
	}
	first, last, ok := strings.Cut(strings.TrimSpace(spec), "-")
	if !ok {
		return nil
	}
	if first == "" {
		n, err := strconv.ParseInt(last, 10, 64)
		if err != nil || n <= 0 {
			return nil
		}
		return &objectstore.Range{Start: -n, End: -1}
	}
	start, err := strconv.ParseInt(first, 10, 64)
	if err != nil || start < 0 {
		return nil
	}
	if last == "" {
		return &objectstore.Range{Start: start, End: -1}
	}
	end, err := strconv.ParseInt(last, 10, 64)
	if err != nil || end < start {
		return nil
	}
	return &objectstore.Range{Start: start, End: end}
}

// servedRange returns the bytes a ranged or part GET answers, with the object's size.
func servedRange(opts objectstore.GetOptions, info objectstore.ObjectInfo) (start, end, total int64, ok bool) {
	total = info.Size
	switch {
	case opts.PartNumber > 0 && len(info.Parts) > 0:
		var off int64
		for _, p := range info.Parts {
			if p.Number == opts.PartNumber {
				return off, off + p.Size - 1, total, true
			}
			off += p.Size
		}
		return 0, 0, total, false
	case opts.Range == nil:
		return 0, 0, total, false
	}
	r := *opts.Range
	switch {
	case r.Start < 0:
		start = max(total+r.Start, 0)
		end = total - 1
	default:
		start = r.Start
		end = r.End
		if end < 0 || end >= total {
			end = total - 1
		}
	}
	return start, end, total, true
}

func (q *request) deleteObject() error {
	if err := q.checkKey(); err != nil {
		return err
	}
	b, err := q.loadBucket()
	if err != nil {
		return err
	}
	versionID := q.q.Get("versionId")
	action := "s3:DeleteObject"
	if versionID != "" {
		action = "s3:DeleteObjectVersion"
	}
	if err := q.authorize(b, action, objectARN(b.Name, q.key), nil); err != nil {
		return err
	}
	info, err := q.f.objects.DeleteObject(q.r.Context(), b.Name, q.key, objectstore.DeleteOptions{VersionID: versionID, Versioning: b.Versioning,
		BypassGovernance: versionID != "" && q.bypassGovernance(b, q.key)})
	if err != nil && !errors.Is(err, objectstore.ErrObjectNotFound) && !errors.Is(err, objectstore.ErrVersionNotFound) {
		return err
	}
	h := q.w.Header()
	if err == nil {
		if info.DeleteMarker {
			h.Set("x-amz-delete-marker", "true")
		}
		if versioned(b.Versioning) || versionID != "" {
			setVersionHeader(h, info.VersionID)
		}
	}
	q.w.WriteHeader(http.StatusNoContent)
	return nil
}
