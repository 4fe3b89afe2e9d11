package s3

import (
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/banyancloud/banyan/api/protocol/restxml"
	"github.com/banyancloud/banyan/objectstore"
)

// copySource is the object an x-amz-copy-source header names.
type copySource struct {
	bucket, key, versionID string
}

func parseCopySource(h string) (copySource, error) {
	src := strings.TrimPrefix(h, "/")
	path, query, _ := strings.Cut(src, "?")
	path, err := url.PathUnescape(path)
	bad := errInvalidArgument.WithMessage("Copy Source must mention the source bucket and key: sourcebucket/sourcekey")
	if err != nil {
		return copySource{}, bad
	}
	bucket, key, ok := strings.Cut(path, "/")
	if !ok || bucket == "" || key == "" {
		return copySource{}, bad
	}
	cs := copySource{bucket: bucket, key: key}
	if query != "" {
		v, err := url.ParseQuery(query)
		if err != nil {
			return copySource{}, bad
		}
		cs.versionID = v.Get("versionId")
		if _, has := v["versionId"]; has && cs.versionID == "" {
			return copySource{}, errInvalidArgument.WithMessage("Version id cannot be the empty string")
		}
	}
	if len(cs.key) > maxKeyBytes {
		return copySource{}, errKeyTooLong
	}
	return cs, nil
}

// openCopySource authorizes the read of the copy source, opens it (rng limits it) and
// checks the x-amz-copy-source-if-* conditions; the caller closes the reader.
func (q *request) openCopySource(rng *objectstore.Range) (copySource, objectstore.ObjectInfo, io.ReadCloser, error) {
	cs, err := parseCopySource(q.r.Header.Get("x-amz-copy-source"))
	if err != nil {
		return cs, objectstore.ObjectInfo{}, nil, err
	}
	sb, err := q.f.loadBucket(cs.bucket)
	if err != nil {
		return cs, objectstore.ObjectInfo{}, nil, err
	}
	action := "s3:GetObject"
	if cs.versionID != "" {
		action = "s3:GetObjectVersion"
	}
	if err := q.authorize(sb, action, objectARN(cs.bucket, cs.key), nil); err != nil {
		return cs, objectstore.ObjectInfo{}, nil, err
	}
	ck, err := q.customerKeyFrom(copySSECPrefix) // the source's SSE-C key (sse.go)
	if err != nil {
		return cs, objectstore.ObjectInfo{}, nil, err
	}
	info, rc, err := q.f.openObject(q.r.Context(), cs.bucket, cs.key, objectstore.GetOptions{VersionID: cs.versionID, Range: rng}, ck, false)
	if err != nil {
		if cs.versionID != "" && err == objectstore.ErrMethodNotAllowed {
			err = errInvalidRequest.WithMessage("The source of a copy request may not specifically refer to a delete marker by version id.")
		}
		return cs, info, nil, err
	}
	if err := checkConditions(q.r.Header, "x-amz-copy-source-", info); err != nil {
		rc.Close()
		return cs, info, nil, err
	}
	return cs, info, rc, nil
}

func (q *request) copyObject() error {
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
	directive := strings.ToUpper(q.r.Header.Get("x-amz-metadata-directive"))
	if directive != "" && directive != "COPY" && directive != "REPLACE" {
		return errInvalidArgument.WithMessage("Unknown metadata directive.")
	}
	tagDirective := strings.ToUpper(q.r.Header.Get("x-amz-tagging-directive"))
	if tagDirective != "" && tagDirective != "COPY" && tagDirective != "REPLACE" {
		return errInvalidArgument.WithMessage("Unknown tagging directive.")
	}
	cs, info, rc, err := q.openCopySource(nil)
	if err != nil {
		return err
	}
	defer rc.Close()
	if cs.bucket == b.Name && cs.key == q.key && (cs.versionID == "" || cs.versionID == info.VersionID) &&
		directive != "REPLACE" && q.r.Header.Get("x-amz-storage-class") == "" && !q.isSSERequest() {
		return errInvalidRequest.WithMessage("This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.")
	}
	if info.Size > maxPutSize {
		return errInvalidRequest.WithMessage("The specified copy source is larger than the maximum allowable size for a copy source: 5368709120")
	}
	opts, err := q.putOptions(b.Versioning)
	if err != nil {
		return err
	}
	if directive != "REPLACE" {
		opts.ContentType, opts.Metadata, opts.StorageClass = info.ContentType, info.Metadata, info.StorageClass
		acl := opts.Headers[aclHeader]
		opts.Headers = map[string]string{}
		for k, v := range info.Headers {
			if k != aclHeader && !stripSSE(k) {
				opts.Headers[k] = v
			}
		}
		if acl != "" {
			opts.Headers[aclHeader] = acl
		}
	}
	if tagDirective != "REPLACE" {
		opts.Tags = info.Tags
	}
	opts.Size = info.Size
	if a := q.r.Header.Get("x-amz-checksum-algorithm"); a != "" {
		opts.ChecksumAlgorithm = strings.ToUpper(a)
	} else {
		for algo := range info.Checksums {
			opts.ChecksumAlgorithm = algo
		}
	}
	// The copy is a new version: its lock comes from this request or the bucket's
	// default, never from the source.
	if err := q.applyObjectLock(b, &opts, true); err != nil {
		return err
	}
	// The destination's encryption is the request's or its bucket's, never the source's.
	enc, err := q.encryptNew(b, &opts, true)
	if err != nil {
		return err
	}
	// The source streams into the destination: no copy is ever held in memory.
	out, err := q.f.objects.PutObject(q.r.Context(), b.Name, q.key, rc, opts)
	if err != nil {
		return err
	}
	h := q.w.Header()
	enc.setResponse(h)
	if versioned(b.Versioning) {
		setVersionHeader(h, out.VersionID)
	}
	if cs.versionID != "" || (info.VersionID != "" && info.VersionID != objectstore.NullVersionID) {
		h.Set("x-amz-copy-source-version-id", info.VersionID)
	}
	res := CopyObjectResult{ETag: ptr(quoteETag(out.ETag)), LastModified: ptr(out.ModTime.UTC())}
	return restxml.WriteXML(q.w, http.StatusOK, "CopyObjectResult", &res)
}
