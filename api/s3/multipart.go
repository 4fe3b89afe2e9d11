package s3

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/banyancloud/banyan/api/protocol/restxml"
	"github.com/banyancloud/banyan/objectstore"
)

const maxParts = 10000

func (q *request) createMultipartUpload() error {
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
	opts, err := q.putOptions(b.Versioning)
	if err != nil {
		return err
	}
	if a := q.r.Header.Get("x-amz-checksum-algorithm"); a != "" {
		if _, ok := checksumAlgorithms[strings.ToUpper(a)]; !ok {
			return errInvalidRequest.WithMessage("Checksum algorithm provided is unsupported. Please try again with any of the valid types: [CRC32, CRC32C, CRC64NVME, SHA1, SHA256]")
		}
		opts.ChecksumAlgorithm = strings.ToUpper(a)
	}
	if err := q.applyObjectLock(b, &opts, false); err != nil {
		return err
	}
	enc, err := q.encryptNew(b, &opts, false) // each part is sealed as it comes (sse.go)
	if err != nil {
		return err
	}
	id, err := q.f.objects.NewMultipartUpload(q.r.Context(), b.Name, q.key, opts)
	if err != nil {
		return err
	}
	enc.setResponse(q.w.Header())
	if opts.ChecksumAlgorithm != "" {
		q.w.Header().Set("x-amz-checksum-algorithm", opts.ChecksumAlgorithm)
	}
	out := CreateMultipartUploadOutput{Bucket: ptr(b.Name), Key: ptr(q.key), UploadId: ptr(id)}
	return restxml.WriteXML(q.w, http.StatusOK, "InitiateMultipartUploadResult", &out)
}

// partNumber reads partNumber for UploadPart and UploadPartCopy.
func (q *request) partNumber() (int, error) {
	n, err := strconv.Atoi(q.q.Get("partNumber"))
	if err != nil || n < 1 || n > maxParts {
		return 0, errInvalidArgument.WithMessage("Part number must be an integer between 1 and 10000, inclusive")
	}
	return n, nil
}

func (q *request) uploadPart() error {
	b, err := q.loadBucket()
	if err != nil {
		return err
	}
	if err := q.authorize(b, "s3:PutObject", objectARN(b.Name, q.key), nil); err != nil {
		return err
	}
	n, err := q.partNumber()
	if err != nil {
		return err
	}
	size, err := bodySize(q.r)
	if err != nil {
		return err
	}
	if size > maxPutSize {
		return errEntityTooLarge
	}
	opts := objectstore.PartOptions{Size: size}
	if opts.MD5, err = contentMD5(q.r.Header); err != nil {
		return err
	}
	if opts.ChecksumAlgorithm, opts.ChecksumValue, err = checksumRequest(q.r.Header); err != nil {
		return err
	}
	enc, err := q.uploadEncryption(b.Name, q.q.Get("uploadId"))
	if err != nil {
		return err
	}
	if enc != nil {
		opts.Sealer = enc.sealer(n)
	}
	part, err := q.f.objects.PutObjectPart(q.r.Context(), b.Name, q.key, q.q.Get("uploadId"), n, q.body(size), opts)
	if err != nil {
		return err
	}
	enc.setResponse(q.w.Header())
	q.w.Header().Set("ETag", quoteETag(part.ETag))
	setChecksumHeaders(q.w.Header(), part.Checksums)
	q.w.WriteHeader(http.StatusOK)
	return nil
}

// parseCopyRange reads x-amz-copy-source-range, which unlike Range must be one
// complete "bytes=first-last" inside the source.
func parseCopyRange(s string) (*objectstore.Range, error) {
	if s == "" {
		return nil, nil
	}
	bad := errInvalidArgument.WithMessage("The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy")
	spec, ok := strings.CutPrefix(s, "bytes=")
	if !ok {
		return nil, bad
	}
	a, z, ok := strings.Cut(spec, "-")
	first, err1 := strconv.ParseInt(a, 10, 64)
	last, err2 := strconv.ParseInt(z, 10, 64)
	if !ok || err1 != nil || err2 != nil || first < 0 || last < first {
		return nil, bad
	}
	return &objectstore.Range{Start: first, End: last}, nil
}

func (q *request) uploadPartCopy() error {
	b, err := q.loadBucket()
	if err != nil {
		return err
	}
	if err := q.authorize(b, "s3:PutObject", objectARN(b.Name, q.key), q.writeContext("")); err != nil {
		return err
	}
	n, err := q.partNumber()
	if err != nil {
		return err
	}
	rng, err := parseCopyRange(q.r.Header.Get("x-amz-copy-source-range"))
	if err != nil {
		return err
	}
	_, info, rc, err := q.openCopySource(rng)
	if err != nil {
		return err
	}
	defer rc.Close()
	size := info.Size
	if rng != nil {
		if rng.End >= info.Size {
			return errInvalidRange.WithMessage("Range specified is not valid for source object of size: %d", info.Size)
		}
		size = rng.End - rng.Start + 1
	}
	if size > maxPutSize {
		return errInvalidRequest.WithMessage("The specified copy source is larger than the maximum allowable size for a copy source: 5368709120")
	}
	enc, err := q.uploadEncryption(b.Name, q.q.Get("uploadId"))
	if err != nil {
		return err
	}
	popts := objectstore.PartOptions{Size: size}
	if enc != nil {
		popts.Sealer = enc.sealer(n)
	}
	part, err := q.f.objects.PutObjectPart(q.r.Context(), b.Name, q.key, q.q.Get("uploadId"), n, rc, popts)
	if err != nil {
		return err
	}
	enc.setResponse(q.w.Header())
	if info.VersionID != "" && info.VersionID != objectstore.NullVersionID {
		q.w.Header().Set("x-amz-copy-source-version-id", info.VersionID)
	}
	out := CopyPartResult{ETag: ptr(quoteETag(part.ETag)), LastModified: ptr(part.ModTime.UTC())}
	return restxml.WriteXML(q.w, http.StatusOK, "CopyPartResult", &out)
}

func (q *request) completeMultipartUpload() error {
	b, err := q.loadBucket()
	if err != nil {
		return err
	}
	if err := q.authorize(b, "s3:PutObject", objectARN(b.Name, q.key), nil); err != nil {
		return err
	}
	var doc CompletedMultipartUpload
	if err := restxml.ReadXML(q.r, 0, &doc); err != nil {
		return err
	}
	if len(doc.Parts) == 0 {
		return errMalformedXML
	}
	if len(doc.Parts) > maxParts {
		return errInvalidArgument.WithMessage("Part number must be an integer between 1 and 10000, inclusive")
	}
	parts := make([]objectstore.CompletePart, 0, len(doc.Parts))
	for _, p := range doc.Parts {
		if p.PartNumber == nil || p.ETag == nil {
			return errMalformedXML
		}
		cp := objectstore.CompletePart{Number: int(*p.PartNumber), ETag: unquoteETag(*p.ETag)}
		for algo, v := range map[string]*string{"CRC32": p.ChecksumCRC32, "CRC32C": p.ChecksumCRC32C,
			"SHA1": p.ChecksumSHA1, "SHA256": p.ChecksumSHA256, "CRC64NVME": p.ChecksumCRC64NVME} {
			if v != nil {
				if cp.Checksums == nil {
					cp.Checksums = map[string]string{}
				}
				cp.Checksums[algo] = *v
			}
		}
		parts = append(parts, cp)
	}
	opts := objectstore.PutOptions{Versioning: b.Versioning,
		IfMatch: unquoteList(q.r.Header.Get("If-Match")), IfNoneMatch: q.r.Header.Get("If-None-Match"),
		Retention: defaultRetentionNow(b)}
	info, err := q.f.objects.CompleteMultipartUpload(q.r.Context(), b.Name, q.key, q.q.Get("uploadId"), parts, opts)
	if err != nil {
		return err
	}
	if versioned(b.Versioning) {
		setVersionHeader(q.w.Header(), info.VersionID)
	}
	if rec := storedSSE(info.Headers); rec != nil && rec.Algorithm != sseC {
		setSSEResponse(q.w.Header(), rec, nil)
	}
	out := CompleteMultipartUploadOutput{Location: ptr(q.location()), Bucket: ptr(b.Name), Key: ptr(q.key),
		ETag: ptr(quoteETag(info.ETag))}
	return restxml.WriteXML(q.w, http.StatusOK, "CompleteMultipartUploadResult", &out)
}

// location is the object's URL as the client addressed the service.
func (q *request) location() string {
	scheme := "http"
	if q.r.TLS != nil {
		scheme = "https"
	}
	return fmt.Sprintf("%s://%s/%s/%s", scheme, q.r.Host, q.bucket, q.key)
}

func (q *request) abortMultipartUpload() error {
	b, err := q.loadBucket()
	if err != nil {
		return err
	}
	if err := q.authorize(b, "s3:AbortMultipartUpload", objectARN(b.Name, q.key), nil); err != nil {
		return err
	}
	if err := q.f.objects.AbortMultipartUpload(q.r.Context(), b.Name, q.key, q.q.Get("uploadId")); err != nil {
		return err
	}
	q.w.WriteHeader(http.StatusNoContent)
	return nil
}

func (q *request) listMultipartUploads() error {
	b, p, err := q.startListing("s3:ListBucketMultipartUploads", "max-uploads")
	if err != nil {
		return err
	}
	keyMarker, idMarker := q.q.Get("key-marker"), q.q.Get("upload-id-marker")
	var res objectstore.ListUploadsResult
	if p.maxKeys > 0 {
		res, err = q.f.objects.ListMultipartUploads(q.r.Context(), b.Name, objectstore.ListUploadsOptions{
			Prefix: p.prefix, Delimiter: p.delimiter, KeyMarker: keyMarker, UploadIDMarker: idMarker, MaxUploads: p.maxKeys})
		if err != nil {
			return err
		}
	}
	owner := ownerOf(b)
	out := ListMultipartUploadsOutput{Bucket: ptr(b.Name), KeyMarker: p.enc(keyMarker), UploadIdMarker: ptr(idMarker),
		Prefix: p.enc(p.prefix), Delimiter: p.encOpt(p.delimiter), MaxUploads: ptr(int32(p.maxKeys)),
		IsTruncated: ptr(res.IsTruncated), CommonPrefixes: p.prefixes(res.CommonPrefixes), EncodingType: p.encodingType()}
	if res.IsTruncated {
		out.NextKeyMarker, out.NextUploadIdMarker = p.enc(res.NextKeyMarker), ptr(res.NextUploadIDMarker)
	}
	for _, u := range res.Uploads {
		sc := u.StorageClass
		if sc == "" {
			sc = "STANDARD"
		}
		out.Uploads = append(out.Uploads, MultipartUpload{UploadId: ptr(u.UploadID), Key: p.enc(u.Key),
			Initiated: ptr(u.Initiated.UTC()), StorageClass: ptr(sc), Owner: owner,
			Initiator: &Initiator{ID: owner.ID, DisplayName: owner.DisplayName}})
	}
	return restxml.WriteXML(q.w, http.StatusOK, "ListMultipartUploadsResult", &out)
}

func (q *request) listParts() error {
	b, err := q.loadBucket()
	if err != nil {
		return err
	}
	if err := q.authorize(b, "s3:ListMultipartUploadParts", objectARN(b.Name, q.key), nil); err != nil {
		return err
	}
	maxP := 1000
	if s := q.q.Get("max-parts"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return errInvalidArgument.WithMessage("Provided max-parts not an integer or within integer range")
		}
		maxP = min(n, 1000)
	}
	marker := 0
	if s := q.q.Get("part-number-marker"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return errInvalidArgument.WithMessage("Provided part-number-marker not an integer or within integer range")
		}
		marker = n
	}
	res, err := q.f.objects.ListParts(q.r.Context(), b.Name, q.key, q.q.Get("uploadId"), marker, maxP)
	if err != nil {
		return err
	}
	owner := ownerOf(b)
	sc := res.Upload.StorageClass
	if sc == "" {
		sc = "STANDARD"
	}
	out := ListPartsOutput{Bucket: ptr(b.Name), Key: ptr(q.key), UploadId: ptr(q.q.Get("uploadId")),
		PartNumberMarker: ptr(int32(marker)), MaxParts: ptr(int32(maxP)), IsTruncated: ptr(res.IsTruncated),
		Owner: owner, Initiator: &Initiator{ID: owner.ID, DisplayName: owner.DisplayName}, StorageClass: ptr(sc)}
	if res.IsTruncated {
		out.NextPartNumberMarker = ptr(int32(res.NextPartNumberMarker))
	}
	encrypted := storedSSE(res.Upload.Opts.Headers) != nil
	for _, p := range res.Parts {
		size := p.Size
		if encrypted { // sse.go: the stored size is the sealed one
			size = plainSize(objectstore.ObjectInfo{Size: p.Size, Headers: res.Upload.Opts.Headers})
		}
		out.Parts = append(out.Parts, Part{PartNumber: ptr(int32(p.Number)), LastModified: ptr(p.ModTime.UTC()),
			ETag: ptr(quoteETag(p.ETag)), Size: ptr(size)})
	}
	return restxml.WriteXML(q.w, http.StatusOK, "ListPartsResult", &out)
}
