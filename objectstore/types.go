package objectstore

import (
	"context"
	"errors"
	"io"
	"time"
)

// ObjectLayer is what the S3 front end needs from the object store. Every method is safe
// to call from any node for any object: the store finds the object's erasure set itself.
// Bucket existence and configuration are the front end's (they live in Raft); it calls
// MakeBucket after recording a bucket and DeleteBucket before removing the record.
type ObjectLayer interface {
	MakeBucket(ctx context.Context, bucket string) error
	// DeleteBucket removes the bucket's data: ErrBucketNotEmpty if any object version or
	// multipart upload remains.
	DeleteBucket(ctx context.Context, bucket string) error

	// PutObject streams exactly opts.Size bytes from r into a new object version. Nothing
	// is visible until every byte is written to a write quorum and checked (size,
	// Content-MD5, checksum): a failed or short body leaves no trace.
	PutObject(ctx context.Context, bucket, key string, r io.Reader, opts PutOptions) (ObjectInfo, error)
	// GetObject returns the version's info and a reader of the requested range. The
	// reader streams (bounded memory) and reconstructs missing or corrupt shards on the
	// fly; the caller must Close it.
	GetObject(ctx context.Context, bucket, key string, opts GetOptions) (ObjectInfo, io.ReadCloser, error)
	// HeadObject returns a version's info.
	HeadObject(ctx context.Context, bucket, key string, opts GetOptions) (ObjectInfo, error)
	// DeleteObject deletes as S3 does under the bucket's versioning state: without a
	// version ID on a versioned bucket it adds a delete marker (returned with
	// DeleteMarker set); with one it removes that version.
	DeleteObject(ctx context.Context, bucket, key string, opts DeleteOptions) (ObjectInfo, error)
	// PutObjectTags replaces the tags of a version (PutObjectTagging, DeleteObjectTagging).
	PutObjectTags(ctx context.Context, bucket, key, versionID string, tags map[string]string) (ObjectInfo, error)
	// PutObjectHeader sets one stored header of a version (ObjectInfo.Headers)
	// in place, without making a new version (PutObjectAcl's canned ACL).
	PutObjectHeader(ctx context.Context, bucket, key, versionID, name, value string) (ObjectInfo, error)
	// PutObjectRetention replaces a version's object lock retention (the zero
	// Retention removes it): ErrObjectLocked when CheckRetentionChange forbids it.
	PutObjectRetention(ctx context.Context, bucket, key, versionID string, r Retention, bypassGovernance bool) (ObjectInfo, error)
	// PutObjectLegalHold sets a version's legal hold, LegalHoldOn or LegalHoldOff.
	PutObjectLegalHold(ctx context.Context, bucket, key, versionID, status string) (ObjectInfo, error)

	// ListObjects lists the latest versions that are not delete markers, in key order,
	// strongly consistent with every acknowledged write.
	ListObjects(ctx context.Context, bucket string, opts ListOptions) (ListResult, error)
	// ListObjectVersions lists every version and delete marker.
	ListObjectVersions(ctx context.Context, bucket string, opts ListVersionsOptions) (ListVersionsResult, error)

	NewMultipartUpload(ctx context.Context, bucket, key string, opts PutOptions) (uploadID string, err error)
	PutObjectPart(ctx context.Context, bucket, key, uploadID string, partNumber int, r io.Reader, opts PartOptions) (PartInfo, error)
	ListParts(ctx context.Context, bucket, key, uploadID string, partMarker, maxParts int) (ListPartsResult, error)
	ListMultipartUploads(ctx context.Context, bucket string, opts ListUploadsOptions) (ListUploadsResult, error)
	AbortMultipartUpload(ctx context.Context, bucket, key, uploadID string) error
	CompleteMultipartUpload(ctx context.Context, bucket, key, uploadID string, parts []CompletePart, opts PutOptions) (ObjectInfo, error)
}

// Versioning states of a bucket, as S3 names them ("" = never enabled).
const (
	VersioningEnabled   = "Enabled"
	VersioningSuspended = "Suspended"
)

// NullVersionID is the version ID S3 shows for objects written while versioning was
// never enabled or suspended.
const NullVersionID = "null"

// ObjectInfo describes one object version.
type ObjectInfo struct {
	Bucket, Key  string
	VersionID    string // NullVersionID for unversioned writes
	IsLatest     bool
	DeleteMarker bool
	Size         int64
	ETag         string // without quotes: hex MD5, or md5-of-md5s "-N" for multipart
	ModTime      time.Time
	ContentType  string
	// Metadata is the user metadata (x-amz-meta-NAME), keyed by lower-case NAME.
	Metadata map[string]string
	// Headers are the standard headers stored with the object and returned on GET:
	// Content-Encoding, Content-Disposition, Content-Language, Cache-Control, Expires.
	Headers map[string]string
	// Checksums holds the object's flexible checksums by algorithm (CRC32, CRC32C,
	// SHA1, SHA256, CRC64NVME), base64 as S3 shows them.
	Checksums    map[string]string
	Tags         map[string]string
	StorageClass string
	Parts        []PartInfo // for multipart objects
	// Retention and LegalHold are the version's object lock (retention.go);
	// LegalHold is "" when never set.
	Retention Retention
	LegalHold string
}

// PutOptions describe a new object (or multipart upload).
type PutOptions struct {
	Size         int64 // exact byte count of the body
	ContentType  string
	Metadata     map[string]string
	Headers      map[string]string
	Tags         map[string]string
	StorageClass string
	Versioning   string // the bucket's versioning state at the time of the call
	// Conditional writes, checked atomically against the current latest version:
	// IfNoneMatch "*" fails with ErrPreconditionFailed if the object exists; IfMatch an
	// ETag fails unless the latest version has it.
	IfMatch, IfNoneMatch string
	// MD5 is the Content-MD5 the client sent (nil: none); a mismatch is ErrBadDigest.
	MD5 []byte
	// ChecksumAlgorithm names a flexible checksum to compute and store;
	// ChecksumValue, if set, is the client's value (base64) that must match
	// (ErrChecksumMismatch).
	ChecksumAlgorithm, ChecksumValue string
	// Retention and LegalHold are the new version's object lock. For a
	// multipart upload, those given to NewMultipartUpload win; a Retention
	// given to CompleteMultipartUpload (the bucket's default) applies when it
	// had none.
	Retention Retention
	LegalHold string
	// Sealer, when set, encrypts the body at rest (sse.go); for a multipart upload
	// each part brings its own (PartOptions.Sealer).
	Sealer Sealer `json:"-"`
}

// GetOptions select a version and a byte range.
type GetOptions struct {
	VersionID  string // "" = latest
	Range      *Range
	PartNumber int // > 0: just that part of a multipart object
}

// Range is an HTTP byte range. Start < 0 means the last -Start bytes (suffix range);
// End < 0 means to the end.
type Range struct {
	Start, End int64
}

// DeleteOptions select what DeleteObject removes.
type DeleteOptions struct {
	VersionID  string
	Versioning string
	// BypassGovernance lets a delete by VersionID remove a version under
	// GOVERNANCE retention (CheckDelete); the caller has checked the right to.
	BypassGovernance bool
}

// ListOptions page through ListObjects.
type ListOptions struct {
	Prefix, Delimiter string
	Marker            string // list keys after this one (exclusive)
	MaxKeys           int
}

// ListResult is one page of ListObjects. NextMarker is the last key or common prefix
// returned when IsTruncated.
type ListResult struct {
	Objects        []ObjectInfo
	CommonPrefixes []string
	IsTruncated    bool
	NextMarker     string
}

// ListVersionsOptions page through ListObjectVersions.
type ListVersionsOptions struct {
	Prefix, Delimiter          string
	KeyMarker, VersionIDMarker string
	MaxKeys                    int
}

// ListVersionsResult is one page of versions (newest first within a key).
type ListVersionsResult struct {
	Versions                           []ObjectInfo
	CommonPrefixes                     []string
	IsTruncated                        bool
	NextKeyMarker, NextVersionIDMarker string
}

// PartOptions describe one uploaded part.
type PartOptions struct {
	Size                             int64
	MD5                              []byte
	ChecksumAlgorithm, ChecksumValue string
	Sealer                           Sealer // encrypts the part at rest (sse.go)
}

// PartInfo is an uploaded part.
type PartInfo struct {
	Number    int
	Size      int64
	ETag      string
	ModTime   time.Time
	Checksums map[string]string
}

// CompletePart is one entry of a CompleteMultipartUpload request.
type CompletePart struct {
	Number    int
	ETag      string
	Checksums map[string]string
}

// ListPartsResult is one page of parts.
type ListPartsResult struct {
	Parts                []PartInfo
	IsTruncated          bool
	NextPartNumberMarker int
	Upload               UploadInfo
}

// UploadInfo is a multipart upload in progress.
type UploadInfo struct {
	Key, UploadID string
	Initiated     time.Time
	StorageClass  string
	Opts          PutOptions // as given to NewMultipartUpload
}

// ListUploadsOptions page through ListMultipartUploads.
type ListUploadsOptions struct {
	Prefix, Delimiter         string
	KeyMarker, UploadIDMarker string
	MaxUploads                int
}

// ListUploadsResult is one page of uploads.
type ListUploadsResult struct {
	Uploads                           []UploadInfo
	CommonPrefixes                    []string
	IsTruncated                       bool
	NextKeyMarker, NextUploadIDMarker string
}

// Errors. The S3 front end maps each to its AWS code in one table.
var (
	ErrBucketNotEmpty     = errors.New("objectstore: bucket not empty")
	ErrObjectNotFound     = errors.New("objectstore: no such key")
	ErrVersionNotFound    = errors.New("objectstore: no such version")
	ErrMethodNotAllowed   = errors.New("objectstore: the version is a delete marker")
	ErrPreconditionFailed = errors.New("objectstore: precondition failed")
	ErrInvalidRange       = errors.New("objectstore: the requested range is not satisfiable")
	ErrBadDigest          = errors.New("objectstore: Content-MD5 does not match the body")
	ErrChecksumMismatch   = errors.New("objectstore: checksum does not match the body")
	ErrIncompleteBody     = errors.New("objectstore: the body is shorter than its declared size")
	ErrUploadNotFound     = errors.New("objectstore: no such upload")
	ErrInvalidPart        = errors.New("objectstore: a listed part was not uploaded or its ETag differs")
	ErrInvalidPartOrder   = errors.New("objectstore: parts are not in ascending order")
	ErrEntityTooSmall     = errors.New("objectstore: a part other than the last is smaller than 5 MiB")
	ErrReadQuorum         = errors.New("objectstore: not enough disks answered to read")
	ErrWriteQuorum        = errors.New("objectstore: not enough disks answered to write")
	ErrSlowDown           = errors.New("objectstore: too many concurrent requests")
)
