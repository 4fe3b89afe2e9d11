package s3

import (
	"crypto/md5"
	"encoding/base64"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/banyancloud/banyan/objectstore"
)

// S3's size limits.
const (
	maxKeyBytes      = 1024
	maxPutSize       = 5 << 30 // single PUT, copy source and part
	maxMetadataBytes = 2 << 10 // user metadata, names and values together
	maxObjectTags    = 10
)

// storedHeaders are the standard headers kept with an object and returned on GET.
var storedHeaders = []string{"Content-Encoding", "Content-Disposition", "Content-Language", "Cache-Control", "Expires"}

// checksumAlgorithms maps S3's algorithm names to their header suffix and digest size.
var checksumAlgorithms = map[string]int{"CRC32": 4, "CRC32C": 4, "SHA1": 20, "SHA256": 32, "CRC64NVME": 8}

func quoteETag(etag string) string {
	if etag == "" || strings.HasPrefix(etag, `"`) {
		return etag
	}
	return `"` + etag + `"`
}

func unquoteETag(etag string) string {
	etag = strings.TrimSpace(etag)
	etag = strings.TrimPrefix(etag, "W/")
	return strings.Trim(etag, `"`)
}

func httpTime(t time.Time) string { return t.UTC().Format(http.TimeFormat) }

func setVersionHeader(h http.Header, versionID string) {
	if versionID != "" {
		h.Set("x-amz-version-id", versionID)
	}
}

func getOptionsVersion(versionID string) objectstore.GetOptions {
	return objectstore.GetOptions{VersionID: versionID}
}

// versioned reports whether S3 shows version IDs for a bucket: once versioning was ever
// enabled (Enabled or Suspended).
func versioned(state string) bool { return state != "" }

// setObjectHeaders writes the headers GET and HEAD answer for an object version.
func setObjectHeaders(h http.Header, info objectstore.ObjectInfo, bucketVersioning string, checksums bool) {
	h.Set("ETag", quoteETag(info.ETag))
	h.Set("Last-Modified", httpTime(info.ModTime))
	h.Set("Accept-Ranges", "bytes")
	ct := info.ContentType
	if ct == "" {
		ct = "binary/octet-stream"
	}
	h.Set("Content-Type", ct)
	for k, v := range info.Headers {
		if k == aclHeader || stripSSE(k) {
			continue
		}
		h.Set(k, v)
	}
	for k, v := range info.Metadata {
		h["X-Amz-Meta-"+k] = []string{v}
	}
	if versioned(bucketVersioning) || (info.VersionID != "" && info.VersionID != objectstore.NullVersionID) {
		setVersionHeader(h, info.VersionID)
	}
	if n := len(info.Tags); n > 0 {
		h.Set("x-amz-tagging-count", strconv.Itoa(n))
	}
	if info.StorageClass != "" && info.StorageClass != "STANDARD" {
		h.Set("x-amz-storage-class", info.StorageClass)
	}
	if checksums {
		setChecksumHeaders(h, info.Checksums)
	}
	setObjectLockHeaders(h, info)
}

func setChecksumHeaders(h http.Header, sums map[string]string) {
	for algo, v := range sums {
		h.Set("x-amz-checksum-"+strings.ToLower(algo), v)
	}
}

// storageClasses are the classes S3 accepts on a write; Banyan stores every object the
// same way and only reports the class back.
var storageClasses = map[string]bool{"STANDARD": true, "REDUCED_REDUNDANCY": true, "STANDARD_IA": true,
	"ONEZONE_IA": true, "INTELLIGENT_TIERING": true, "GLACIER": true, "DEEP_ARCHIVE": true, "OUTPOSTS": true,
	"GLACIER_IR": true, "SNOW": true, "EXPRESS_ONEZONE": true}

// responseOverrides are GET's response-* query parameters and the headers they replace.
var responseOverrides = map[string]string{
	"response-content-type":        "Content-Type",
	"response-content-language":    "Content-Language",
	"response-expires":             "Expires",
	"response-cache-control":       "Cache-Control",
	"response-content-disposition": "Content-Disposition",
	"response-content-encoding":    "Content-Encoding",
}

// putOptions gathers what a PUT (or CreateMultipartUpload) says about the new object.
func (q *request) putOptions(versioning string) (objectstore.PutOptions, error) {
	h := q.r.Header
	opts := objectstore.PutOptions{ContentType: h.Get("Content-Type"), Versioning: versioning,
		StorageClass: h.Get("x-amz-storage-class")}
	if sc := opts.StorageClass; sc != "" && !storageClasses[sc] {
		return opts, errInvalidStorageClass
	}
	size := 0
	for k, vs := range h {
		if name, ok := cutPrefixFold(k, "x-amz-meta-"); ok && len(vs) > 0 {
			if opts.Metadata == nil {
				opts.Metadata = map[string]string{}
			}
			opts.Metadata[strings.ToLower(name)] = vs[0]
			size += len(name) + len(vs[0])
		}
	}
	if size > maxMetadataBytes {
		return opts, errMetadataTooLarge
	}
	for _, k := range storedHeaders {
		v := h.Get(k)
		if k == "Content-Encoding" {
			v = stripAWSChunked(v)
		}
		if v != "" {
			if opts.Headers == nil {
				opts.Headers = map[string]string{}
			}
			opts.Headers[k] = v
		}
	}
	acl, err := q.cannedACL()
	if err != nil {
		return opts, err
	}
	if acl != "" {
		if opts.Headers == nil {
			opts.Headers = map[string]string{}
		}
		opts.Headers[aclHeader] = acl
	}
	if t := h.Get("x-amz-tagging"); t != "" {
		tags, err := parseTagQuery(t)
		if err != nil {
			return opts, err
		}
		opts.Tags = tags
	}
	return opts, nil
}

func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) < len(prefix) || !strings.EqualFold(s[:len(prefix)], prefix) {
		return "", false
	}
	return s[len(prefix):], true
}

func stripAWSChunked(enc string) string {
	var keep []string
	for _, p := range strings.Split(enc, ",") {
		p = strings.TrimSpace(p)
		if p != "" && !strings.EqualFold(p, "aws-chunked") {
			keep = append(keep, p)
		}
	}
	return strings.Join(keep, ",")
}

// parseTagQuery reads x-amz-tagging (URL query form, "k1=v1&k2=v2").
func parseTagQuery(s string) (map[string]string, error) {
	vals, err := url.ParseQuery(s)
	if err != nil {
		return nil, errInvalidArgument.WithMessage("The header 'x-amz-tagging' shall be encoded as UTF-8 then URLEncoded URL query parameters without tag name duplicates.")
	}
	tags := map[string]string{}
	for k, v := range vals {
		if len(v) != 1 {
			return nil, errInvalidTag.WithMessage("Cannot provide multiple Tags with the same key")
		}
		tags[k] = v[0]
	}
	return tags, validateTags(tags, maxObjectTags)
}

// contentMD5 parses Content-MD5: InvalidDigest unless it is base64 of 16 bytes.
func contentMD5(h http.Header) ([]byte, error) {
	vs, ok := h["Content-Md5"]
	if !ok {
		return nil, nil
	}
	sum, err := base64.StdEncoding.DecodeString(strings.TrimSpace(vs[0]))
	if err != nil || len(sum) != md5.Size {
		return nil, errInvalidDigest
	}
	return sum, nil
}

// checksumRequest reads the flexible checksum a body comes with: an x-amz-checksum-ALGO
// header (value to check), or an algorithm named by x-amz-sdk-checksum-algorithm or by
// x-amz-trailer, whose value the verifier checks as the trailer arrives.
func checksumRequest(h http.Header) (algo, value string, err error) {
	for k, vs := range h {
		name, ok := cutPrefixFold(k, "x-amz-checksum-")
		if !ok || strings.EqualFold(name, "type") || strings.EqualFold(name, "algorithm") || strings.EqualFold(name, "mode") {
			continue
		}
		a := strings.ToUpper(name)
		size, known := checksumAlgorithms[a]
		if !known {
			continue
		}
		if algo != "" {
			return "", "", errInvalidRequest.WithMessage("Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.")
		}
		raw, derr := base64.StdEncoding.DecodeString(vs[0])
		if derr != nil || len(raw) != size {
			return "", "", errInvalidRequest.WithMessage("Value for x-amz-checksum-%s header is invalid.", strings.ToLower(a))
		}
		algo, value = a, vs[0]
	}
	if algo != "" {
		return algo, value, nil
	}
	if t := h.Get("x-amz-trailer"); t != "" {
		if name, ok := cutPrefixFold(strings.TrimSpace(t), "x-amz-checksum-"); ok {
			if _, known := checksumAlgorithms[strings.ToUpper(name)]; known {
				return strings.ToUpper(name), "", nil
			}
		}
	}
	if a := strings.ToUpper(h.Get("x-amz-sdk-checksum-algorithm")); a != "" {
		if _, known := checksumAlgorithms[a]; !known {
			return "", "", errInvalidRequest.WithMessage("Checksum algorithm provided is unsupported. Please try again with any of the valid types: [CRC32, CRC32C, CRC64NVME, SHA1, SHA256]")
		}
		return a, "", nil
	}
	return "", "", nil
}

// bodySize is the number of bytes the body carries: Content-Length, or for aws-chunked
// uploads the decoded length (the verifier sets ContentLength to it; a request that did
// not pass the verifier still has x-amz-decoded-content-length).
func bodySize(r *http.Request) (int64, error) {
	if d := r.Header.Get("x-amz-decoded-content-length"); d != "" && r.ContentLength < 0 {
		n, err := strconv.ParseInt(d, 10, 64)
		if err != nil || n < 0 {
			return 0, errMissingContentLength
		}
		return n, nil
	}
	if r.ContentLength < 0 {
		return 0, errMissingContentLength
	}
	return r.ContentLength, nil
}

func sortedKeys[M ~map[string]V, V any](m M) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
