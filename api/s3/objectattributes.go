package s3

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/banyancloud/banyan/api/protocol/restxml"
	"github.com/banyancloud/banyan/cluster/state"
	"github.com/banyancloud/banyan/objectstore"
)

// GetObjectAttributes (GET /BUCKET/KEY?attributes) answers what HeadObject and ListParts
// would, from the version's metadata alone: no shard is opened.
//
// As S3 answers it:
//   - x-amz-object-attributes names what to return, as one comma-separated header or
//     several (aws-sdk-go-v2 sends one header per name); none, or a name that is not
//     ETag, Checksum, ObjectParts, StorageClass or ObjectSize, is 400 InvalidArgument.
//   - The body holds only what was asked for, in the model's order. The ETag element is
//     unquoted (unlike the header and listings); StorageClass is STANDARD for standard
//     objects, unlike HeadObject's header.
//   - Checksum: the version's checksum without a multipart object's "-N" suffix, with
//     ChecksumType COMPOSITE for a multipart object's checksum of part checksums and
//     FULL_OBJECT otherwise; absent when the object has none.
//   - ObjectParts: only for multipart objects. PartsCount always; the page of parts
//     (x-amz-part-number-marker, x-amz-max-parts, at most 1000) only when the object has a
//     COMPOSITE checksum, as S3 lists part elements only for objects uploaded with an
//     additional checksum. The object store keeps each part's number and size, not its
//     checksum, so the part elements carry none unless the store gives them.
//   - Last-Modified and (in a bucket that has had versioning) x-amz-version-id headers;
//     a delete marker is 404 NoSuchKey (405 MethodNotAllowed when named by versionId)
//     with x-amz-delete-marker: true, as GET answers.
//   - Permissions: s3:GetObject and s3:GetObjectAttributes, or with a versionId
//     s3:GetObjectVersion and s3:GetObjectVersionAttributes (a READ grant gives both,
//     acl.go); a missing key without s3:ListBucket is AccessDenied.
//   - SSE-C objects need their key, as HEAD does; sizes are the plaintext's (sse.go).

// objectAttributeNames are the values x-amz-object-attributes may list.
var objectAttributeNames = map[string]bool{"ETag": true, "Checksum": true, "ObjectParts": true,
	"StorageClass": true, "ObjectSize": true}

var errInvalidAttributeName = errInvalidArgument.WithMessage("Invalid attribute name specified.")

// maxAttributeParts is the largest page of parts GetObjectAttributes answers, its default
// as ListParts'.
const maxAttributeParts = 1000

// objectAttributes reads x-amz-object-attributes.
func (q *request) objectAttributes() (map[string]bool, error) {
	want := map[string]bool{}
	for _, v := range q.r.Header.Values("x-amz-object-attributes") {
		for _, name := range strings.Split(v, ",") {
			name = strings.TrimSpace(name)
			if name == "" {
				continue
			}
			if !objectAttributeNames[name] {
				return nil, errInvalidAttributeName
			}
			want[name] = true
		}
	}
	if len(want) == 0 {
		return nil, errInvalidAttributeName
	}
	return want, nil
}

// headerCount reads a non-negative integer header (x-amz-max-parts,
// x-amz-part-number-marker); def when it is absent.
func headerCount(h http.Header, name string, def int) (int, error) {
	s := strings.TrimSpace(h.Get(name))
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, errInvalidArgument.WithMessage("Provided %s not an integer or within integer range", name)
	}
	return n, nil
}

func (q *request) getObjectAttributes() error {
	if err := q.checkKey(); err != nil {
		return err
	}
	want, err := q.objectAttributes()
	if err != nil {
		return err
	}
	maxP, err := headerCount(q.r.Header, "x-amz-max-parts", maxAttributeParts)
	if err != nil {
		return err
	}
	maxP = min(maxP, maxAttributeParts)
	marker, err := headerCount(q.r.Header, "x-amz-part-number-marker", 0)
	if err != nil {
		return err
	}
	b, err := q.loadBucket()
	if err != nil {
		return err
	}
	versionID := q.q.Get("versionId")
	actions := []string{"s3:GetObject", "s3:GetObjectAttributes"}
	if versionID != "" {
		actions = []string{"s3:GetObjectVersion", "s3:GetObjectVersionAttributes"}
	}
	for _, action := range actions {
		if err := q.authorizeObjectRead(b, action, versionID); err != nil {
			return err
		}
	}
	ck, err := q.readKey() // SSE-C
	if err != nil {
		return err
	}
	// Metadata only (HeadObject), checked against the SSE-C key and in plaintext sizes.
	info, _, err := q.f.openObject(q.r.Context(), b.Name, q.key, objectstore.GetOptions{VersionID: versionID}, ck, true)
	if err != nil {
		return q.attributesReadError(b, info, err)
	}
	h := q.w.Header()
	if err := checkConditions(q.r.Header, "", info); err != nil {
		if errors.Is(err, errNotModified) {
			h.Set("ETag", quoteETag(info.ETag))
			h.Set("Last-Modified", httpTime(info.ModTime))
		}
		return err
	}
	h.Set("Last-Modified", httpTime(info.ModTime))
	if versioned(b.Versioning) || (info.VersionID != "" && info.VersionID != objectstore.NullVersionID) {
		setVersionHeader(h, info.VersionID)
	}
	var out GetObjectAttributesOutput
	sum, composite := attributesChecksum(info.Checksums)
	if want["ETag"] {
		out.ETag = ptr(unquoteETag(info.ETag))
	}
	if want["Checksum"] {
		out.Checksum = sum
	}
	if want["ObjectParts"] && len(info.Parts) > 0 {
		out.ObjectParts = attributesParts(info.Parts, composite, marker, maxP)
	}
	if want["StorageClass"] {
		sc := info.StorageClass
		if sc == "" {
			sc = "STANDARD"
		}
		out.StorageClass = ptr(sc)
	}
	if want["ObjectSize"] {
		out.ObjectSize = ptr(info.Size)
	}
	return restxml.WriteXML(q.w, http.StatusOK, "GetObjectAttributesResponse", &out)
}

// attributesReadError is the answer to a failed metadata read, as GET's: a missing key is
// AccessDenied to a caller who may not list the bucket, and a delete marker says so.
func (q *request) attributesReadError(b *state.Bucket, info objectstore.ObjectInfo, err error) error {
	if errors.Is(err, objectstore.ErrObjectNotFound) && !info.DeleteMarker &&
		q.authorize(b, "s3:ListBucket", bucketARN(b.Name), nil) != nil {
		return errAccessDenied
	}
	if info.DeleteMarker {
		h := q.w.Header()
		h.Set("x-amz-delete-marker", "true")
		setVersionHeader(h, info.VersionID)
		if errors.Is(err, objectstore.ErrMethodNotAllowed) {
			h.Set("Allow", "DELETE")
		}
	}
	return err
}

// attributesChecksum is the Checksum element for a version's checksums (nil when it has
// none) and whether it is a multipart object's checksum of its parts' checksums, which
// the object store writes with a "-N" suffix that this element leaves out.
func attributesChecksum(sums map[string]string) (*Checksum, bool) {
	var c Checksum
	found, composite := false, false
	for algo, v := range sums {
		value, _, multipart := strings.Cut(v, "-") // base64 has no '-'
		if field := checksumField(&c, algo); field != nil {
			*field = ptr(value)
			found = true
			composite = composite || multipart
		}
	}
	if !found {
		return nil, false
	}
	c.ChecksumType = ptr("FULL_OBJECT")
	if composite {
		c.ChecksumType = ptr("COMPOSITE")
	}
	return &c, composite
}

// checksumField is the member of c for an algorithm; nil for one S3 does not name.
func checksumField(c *Checksum, algo string) **string {
	switch strings.ToUpper(algo) {
	case "CRC32":
		return &c.ChecksumCRC32
	case "CRC32C":
		return &c.ChecksumCRC32C
	case "CRC64NVME":
		return &c.ChecksumCRC64NVME
	case "SHA1":
		return &c.ChecksumSHA1
	case "SHA256":
		return &c.ChecksumSHA256
	}
	return nil
}

// attributesParts is the ObjectParts element of a multipart object: its part count and,
// for an object with a composite checksum, the page of parts after marker.
func attributesParts(parts []objectstore.PartInfo, composite bool, marker, maxP int) *GetObjectAttributesParts {
	out := &GetObjectAttributesParts{TotalPartsCount: ptr(int32(len(parts)))}
	if !composite {
		return out
	}
	next, truncated := 0, false
	for _, p := range parts {
		if p.Number <= marker {
			continue
		}
		if len(out.Parts) == maxP {
			truncated = true
			break
		}
		part := ObjectPart{PartNumber: ptr(int32(p.Number)), Size: ptr(p.Size)}
		var c Checksum
		for algo, v := range p.Checksums {
			if field := checksumField(&c, algo); field != nil {
				*field = ptr(v)
			}
		}
		part.ChecksumCRC32, part.ChecksumCRC32C, part.ChecksumCRC64NVME = c.ChecksumCRC32, c.ChecksumCRC32C, c.ChecksumCRC64NVME
		part.ChecksumSHA1, part.ChecksumSHA256 = c.ChecksumSHA1, c.ChecksumSHA256
		out.Parts = append(out.Parts, part)
		next = p.Number
	}
	out.PartNumberMarker = ptr(int32(marker))
	out.NextPartNumberMarker = ptr(int32(next))
	out.MaxParts = ptr(int32(maxP))
	out.IsTruncated = ptr(truncated)
	return out
}
