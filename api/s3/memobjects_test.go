package s3

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"hash"
	"hash/crc32"
	"hash/crc64"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/banyancloud/banyan/objectstore"
)

// memObjects is a test double for objectstore.ObjectLayer: every object version in
// memory, with the contract's semantics (versions and delete markers, ordered listing
// with prefix/delimiter/markers, multipart rules and ETags, checksums, atomic
// conditional writes). It stands in for the erasure-coded store in this package's unit
// tests only.
type memObjects struct {
	mu      sync.Mutex
	buckets map[string]*memBucket
	now     func() time.Time
	last    time.Time
}

type memBucket struct {
	versions map[string][]*memVersion // newest first
	uploads  map[string]*memUpload
}

type memVersion struct {
	info objectstore.ObjectInfo
	data []byte
}

type memUpload struct {
	info  objectstore.UploadInfo
	parts map[int]*memPart
}

type memPart struct {
	info objectstore.PartInfo
	data []byte
}

var _ objectstore.ObjectLayer = (*memObjects)(nil)

func newMemObjects() *memObjects { return &memObjects{buckets: map[string]*memBucket{}} }

// tick returns a strictly increasing time, so versions order by ModTime too.
func (m *memObjects) tick() time.Time {
	t := time.Now()
	if m.now != nil {
		t = m.now()
	}
	if !t.After(m.last) {
		t = m.last.Add(time.Millisecond)
	}
	m.last = t
	return t
}

func randomID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func (m *memObjects) bucket(name string) (*memBucket, error) {
	b, ok := m.buckets[name]
	if !ok {
		return nil, fmt.Errorf("memObjects: no bucket %s", name)
	}
	return b, nil
}

func (m *memObjects) MakeBucket(_ context.Context, bucket string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.buckets[bucket]; !ok {
		m.buckets[bucket] = &memBucket{versions: map[string][]*memVersion{}, uploads: map[string]*memUpload{}}
	}
	return nil
}

func (m *memObjects) DeleteBucket(_ context.Context, bucket string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, err := m.bucket(bucket)
	if err != nil {
		return nil
	}
	if len(b.versions) > 0 {
		return objectstore.ErrBucketNotEmpty
	}
	delete(m.buckets, bucket)
	return nil
}

func checksumHash(algo string) hash.Hash {
	switch algo {
	case "CRC32":
		return crc32.NewIEEE()
	case "CRC32C":
		return crc32.New(crc32.MakeTable(crc32.Castagnoli))
	case "SHA1":
		return sha1.New()
	case "SHA256":
		return sha256.New()
	case "CRC64NVME":
		return crc64.New(crc64.MakeTable(0x9a6c9329ac4bc9b5))
	}
	return nil
}

// readBody reads exactly size bytes and checks them, as the store does before a write
// becomes visible.
func readChecked(r io.Reader, size int64, md5sum []byte, algo, value string) ([]byte, map[string]string, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, nil, err
	}
	if size >= 0 && int64(len(data)) != size { // size < 0: until EOF, as the real store
		return nil, nil, objectstore.ErrIncompleteBody
	}
	sum := md5.Sum(data)
	if md5sum != nil && !bytes.Equal(md5sum, sum[:]) {
		return nil, nil, objectstore.ErrBadDigest
	}
	var sums map[string]string
	if h := checksumHash(algo); h != nil {
		h.Write(data)
		v := base64.StdEncoding.EncodeToString(h.Sum(nil))
		if value != "" && value != v {
			return nil, nil, objectstore.ErrChecksumMismatch
		}
		sums = map[string]string{algo: v}
	}
	return data, sums, nil
}

func latest(vs []*memVersion) *memVersion {
	if len(vs) == 0 {
		return nil
	}
	return vs[0]
}

func (m *memObjects) PutObject(_ context.Context, bucket, key string, r io.Reader, opts objectstore.PutOptions) (objectstore.ObjectInfo, error) {
	data, sums, err := readChecked(r, opts.Size, opts.MD5, opts.ChecksumAlgorithm, opts.ChecksumValue)
	if err != nil {
		return objectstore.ObjectInfo{}, err
	}
	sum := md5.Sum(data)
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.commit(bucket, key, data, hex.EncodeToString(sum[:]), sums, nil, opts)
}

func (m *memObjects) commit(bucket, key string, data []byte, etag string, sums map[string]string, parts []objectstore.PartInfo, opts objectstore.PutOptions) (objectstore.ObjectInfo, error) {
	b, err := m.bucket(bucket)
	if err != nil {
		return objectstore.ObjectInfo{}, err
	}
	cur := latest(b.versions[key])
	exists := cur != nil && !cur.info.DeleteMarker
	if opts.IfNoneMatch == "*" && exists {
		return objectstore.ObjectInfo{}, objectstore.ErrPreconditionFailed
	}
	if opts.IfMatch != "" && (!exists || cur.info.ETag != opts.IfMatch) {
		if !exists {
			return objectstore.ObjectInfo{}, objectstore.ErrObjectNotFound
		}
		return objectstore.ObjectInfo{}, objectstore.ErrPreconditionFailed
	}
	info := objectstore.ObjectInfo{Bucket: bucket, Key: key, Size: int64(len(data)), ETag: etag, ModTime: m.tick(),
		ContentType: opts.ContentType, Metadata: opts.Metadata, Headers: opts.Headers, Checksums: sums,
		Tags: opts.Tags, StorageClass: opts.StorageClass, Parts: parts,
		Retention: opts.Retention, LegalHold: opts.LegalHold}
	return m.addVersion(b, info, data, opts.Versioning), nil
}

// addVersion makes info the latest version under the bucket's versioning state: a new
// version ID when enabled, else it replaces the "null" version.
func (m *memObjects) addVersion(b *memBucket, info objectstore.ObjectInfo, data []byte, versioning string) objectstore.ObjectInfo {
	vs := b.versions[info.Key]
	if versioning == objectstore.VersioningEnabled {
		info.VersionID = randomID()
	} else {
		info.VersionID = objectstore.NullVersionID
		kept := vs[:0:0]
		for _, v := range vs {
			if v.info.VersionID != objectstore.NullVersionID {
				kept = append(kept, v)
			}
		}
		vs = kept
	}
	for _, v := range vs {
		v.info.IsLatest = false
	}
	info.IsLatest = true
	b.versions[info.Key] = append([]*memVersion{{info: info, data: data}}, vs...)
	return info
}

func (m *memObjects) find(bucket, key, versionID string) (*memVersion, error) {
	b, err := m.bucket(bucket)
	if err != nil {
		return nil, err
	}
	vs := b.versions[key]
	if versionID == "" {
		v := latest(vs)
		if v == nil {
			return nil, objectstore.ErrObjectNotFound
		}
		if v.info.DeleteMarker {
			return v, objectstore.ErrObjectNotFound
		}
		return v, nil
	}
	for _, v := range vs {
		if v.info.VersionID == versionID {
			if v.info.DeleteMarker {
				return v, objectstore.ErrMethodNotAllowed
			}
			return v, nil
		}
	}
	return nil, objectstore.ErrVersionNotFound
}

func (m *memObjects) HeadObject(_ context.Context, bucket, key string, opts objectstore.GetOptions) (objectstore.ObjectInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, err := m.find(bucket, key, opts.VersionID)
	if v == nil {
		return objectstore.ObjectInfo{}, err
	}
	if err == nil && opts.PartNumber > 0 {
		if _, _, perr := partRange(v.info, opts.PartNumber); perr != nil {
			return objectstore.ObjectInfo{}, perr
		}
	}
	return v.info, err
}

func partRange(info objectstore.ObjectInfo, n int) (start, end int64, err error) {
	if len(info.Parts) == 0 {
		if n == 1 {
			return 0, info.Size - 1, nil
		}
		return 0, 0, objectstore.ErrInvalidRange
	}
	var off int64
	for _, p := range info.Parts {
		if p.Number == n {
			return off, off + p.Size - 1, nil
		}
		off += p.Size
	}
	return 0, 0, objectstore.ErrInvalidRange
}

func (m *memObjects) GetObject(_ context.Context, bucket, key string, opts objectstore.GetOptions) (objectstore.ObjectInfo, io.ReadCloser, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, err := m.find(bucket, key, opts.VersionID)
	if err != nil {
		if v != nil {
			return v.info, nil, err
		}
		return objectstore.ObjectInfo{}, nil, err
	}
	size := int64(len(v.data))
	start, end := int64(0), size-1
	switch {
	case opts.PartNumber > 0:
		if start, end, err = partRange(v.info, opts.PartNumber); err != nil {
			return objectstore.ObjectInfo{}, nil, err
		}
	case opts.Range != nil:
		r := *opts.Range
		if r.Start < 0 {
			start = max(size+r.Start, 0)
		} else {
			start = r.Start
			if r.End >= 0 && r.End < end {
				end = r.End
			}
		}
		if start >= size {
			return objectstore.ObjectInfo{}, nil, objectstore.ErrInvalidRange
		}
	}
	return v.info, io.NopCloser(bytes.NewReader(v.data[start : end+1])), nil
}

func (m *memObjects) DeleteObject(_ context.Context, bucket, key string, opts objectstore.DeleteOptions) (objectstore.ObjectInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, err := m.bucket(bucket)
	if err != nil {
		return objectstore.ObjectInfo{}, err
	}
	vs := b.versions[key]
	remove := func(id string) (objectstore.ObjectInfo, bool) {
		for i, v := range vs {
			if v.info.VersionID == id {
				vs = append(vs[:i:i], vs[i+1:]...)
				if len(vs) > 0 {
					vs[0].info.IsLatest = true
					b.versions[key] = vs
				} else {
					delete(b.versions, key)
				}
				return v.info, true
			}
		}
		return objectstore.ObjectInfo{}, false
	}
	if opts.VersionID != "" {
		if err := m.checkDelete(vs, opts); err != nil {
			return objectstore.ObjectInfo{}, err
		}
		info, ok := remove(opts.VersionID)
		if !ok {
			return objectstore.ObjectInfo{}, objectstore.ErrVersionNotFound
		}
		return info, nil
	}
	switch opts.Versioning {
	case objectstore.VersioningEnabled, objectstore.VersioningSuspended:
		marker := objectstore.ObjectInfo{Bucket: bucket, Key: key, DeleteMarker: true, ModTime: m.tick()}
		return m.addVersion(b, marker, nil, opts.Versioning), nil
	}
	info, ok := remove(objectstore.NullVersionID)
	if !ok {
		return objectstore.ObjectInfo{}, objectstore.ErrObjectNotFound
	}
	return info, nil
}

func (m *memObjects) PutObjectTags(_ context.Context, bucket, key, versionID string, tags map[string]string) (objectstore.ObjectInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, err := m.find(bucket, key, versionID)
	if err != nil {
		return objectstore.ObjectInfo{}, err
	}
	v.info.Tags = tags
	return v.info, nil
}

func (m *memObjects) PutObjectHeader(_ context.Context, bucket, key, versionID, name, value string) (objectstore.ObjectInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, err := m.find(bucket, key, versionID)
	if err != nil {
		return objectstore.ObjectInfo{}, err
	}
	if v.info.Headers == nil {
		v.info.Headers = map[string]string{}
	}
	v.info.Headers[name] = value
	return v.info, nil
}

// walk lists entries (keys) in order after marker, folding keys into common prefixes
// by delimiter; emit returns false when the page is full.
func walk(keys []string, prefix, delimiter, marker string, emit func(key string, commonPrefix bool) bool) (truncated bool) {
	lastPrefix := ""
	for _, k := range keys {
		if !strings.HasPrefix(k, prefix) {
			continue
		}
		cp := ""
		if delimiter != "" {
			if i := strings.Index(k[len(prefix):], delimiter); i >= 0 {
				cp = k[:len(prefix)+i+len(delimiter)]
			}
		}
		if cp != "" {
			if cp == lastPrefix || cp <= marker {
				continue
			}
			lastPrefix = cp
			if !emit(cp, true) {
				return true
			}
			continue
		}
		if k <= marker {
			continue
		}
		if !emit(k, false) {
			return true
		}
	}
	return false
}

func (m *memObjects) sortedKeys(b *memBucket, visible func([]*memVersion) bool) []string {
	var keys []string
	for k, vs := range b.versions {
		if visible(vs) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}

func (m *memObjects) ListObjects(_ context.Context, bucket string, opts objectstore.ListOptions) (objectstore.ListResult, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, err := m.bucket(bucket)
	if err != nil {
		return objectstore.ListResult{}, err
	}
	keys := m.sortedKeys(b, func(vs []*memVersion) bool { return !vs[0].info.DeleteMarker })
	var res objectstore.ListResult
	n := 0
	full := false
	res.IsTruncated = walk(keys, opts.Prefix, opts.Delimiter, opts.Marker, func(k string, cp bool) bool {
		if full {
			return false
		}
		if cp {
			res.CommonPrefixes = append(res.CommonPrefixes, k)
		} else {
			res.Objects = append(res.Objects, b.versions[k][0].info)
		}
		res.NextMarker = k
		n++
		full = n >= opts.MaxKeys
		return true
	})
	if !res.IsTruncated {
		res.NextMarker = ""
	}
	return res, nil
}

func (m *memObjects) ListObjectVersions(_ context.Context, bucket string, opts objectstore.ListVersionsOptions) (objectstore.ListVersionsResult, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, err := m.bucket(bucket)
	if err != nil {
		return objectstore.ListVersionsResult{}, err
	}
	keys := m.sortedKeys(b, func([]*memVersion) bool { return true })
	var res objectstore.ListVersionsResult
	n := 0
	marker := opts.KeyMarker
	if opts.VersionIDMarker != "" && marker != "" {
		// Resume inside the marker key: list it from after that version first.
		vs := b.versions[marker]
		after := false
		for _, v := range vs {
			if after {
				if n >= opts.MaxKeys {
					res.IsTruncated = true
					return res, nil
				}
				res.Versions = append(res.Versions, v.info)
				res.NextKeyMarker, res.NextVersionIDMarker = v.info.Key, v.info.VersionID
				n++
			}
			after = after || v.info.VersionID == opts.VersionIDMarker
		}
	}
	res.IsTruncated = walk(keys, opts.Prefix, opts.Delimiter, marker, func(k string, cp bool) bool {
		if cp {
			if n >= opts.MaxKeys {
				return false
			}
			res.CommonPrefixes = append(res.CommonPrefixes, k)
			res.NextKeyMarker, res.NextVersionIDMarker = k, ""
			n++
			return true
		}
		for _, v := range b.versions[k] {
			if n >= opts.MaxKeys {
				return false
			}
			res.Versions = append(res.Versions, v.info)
			res.NextKeyMarker, res.NextVersionIDMarker = k, v.info.VersionID
			n++
		}
		return true
	})
	return res, nil
}

func (m *memObjects) NewMultipartUpload(_ context.Context, bucket, key string, opts objectstore.PutOptions) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, err := m.bucket(bucket)
	if err != nil {
		return "", err
	}
	id := randomID()
	b.uploads[id] = &memUpload{info: objectstore.UploadInfo{Key: key, UploadID: id, Initiated: m.tick(),
		StorageClass: opts.StorageClass, Opts: opts}, parts: map[int]*memPart{}}
	return id, nil
}

func (m *memObjects) upload(bucket, key, id string) (*memBucket, *memUpload, error) {
	b, err := m.bucket(bucket)
	if err != nil {
		return nil, nil, err
	}
	u, ok := b.uploads[id]
	if !ok || u.info.Key != key {
		return nil, nil, objectstore.ErrUploadNotFound
	}
	return b, u, nil
}

func (m *memObjects) PutObjectPart(_ context.Context, bucket, key, uploadID string, n int, r io.Reader, opts objectstore.PartOptions) (objectstore.PartInfo, error) {
	m.mu.Lock()
	_, u, err := m.upload(bucket, key, uploadID)
	m.mu.Unlock()
	if err != nil {
		return objectstore.PartInfo{}, err
	}
	algo := opts.ChecksumAlgorithm
	if algo == "" {
		algo = u.info.Opts.ChecksumAlgorithm
	}
	data, sums, err := readChecked(r, opts.Size, opts.MD5, algo, opts.ChecksumValue)
	if err != nil {
		return objectstore.PartInfo{}, err
	}
	sum := md5.Sum(data)
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, u, err = m.upload(bucket, key, uploadID); err != nil {
		return objectstore.PartInfo{}, err
	}
	p := objectstore.PartInfo{Number: n, Size: int64(len(data)), ETag: hex.EncodeToString(sum[:]), ModTime: m.tick(), Checksums: sums}
	u.parts[n] = &memPart{info: p, data: data}
	return p, nil
}

func (m *memObjects) ListParts(_ context.Context, bucket, key, uploadID string, marker, maxParts int) (objectstore.ListPartsResult, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, u, err := m.upload(bucket, key, uploadID)
	if err != nil {
		return objectstore.ListPartsResult{}, err
	}
	var nums []int
	for n := range u.parts {
		if n > marker {
			nums = append(nums, n)
		}
	}
	sort.Ints(nums)
	res := objectstore.ListPartsResult{Upload: u.info}
	for _, n := range nums {
		if len(res.Parts) >= maxParts {
			res.IsTruncated = true
			break
		}
		res.Parts = append(res.Parts, u.parts[n].info)
		res.NextPartNumberMarker = n
	}
	return res, nil
}

func (m *memObjects) ListMultipartUploads(_ context.Context, bucket string, opts objectstore.ListUploadsOptions) (objectstore.ListUploadsResult, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, err := m.bucket(bucket)
	if err != nil {
		return objectstore.ListUploadsResult{}, err
	}
	var ups []objectstore.UploadInfo
	for _, u := range b.uploads {
		if strings.HasPrefix(u.info.Key, opts.Prefix) {
			ups = append(ups, u.info)
		}
	}
	sort.Slice(ups, func(i, j int) bool {
		if ups[i].Key != ups[j].Key {
			return ups[i].Key < ups[j].Key
		}
		return ups[i].Initiated.Before(ups[j].Initiated)
	})
	var res objectstore.ListUploadsResult
	past := opts.KeyMarker == ""
	for _, u := range ups {
		if !past {
			if u.Key < opts.KeyMarker || u.Key == opts.KeyMarker && (opts.UploadIDMarker == "" || u.UploadID != opts.UploadIDMarker) {
				continue
			}
			past = true
			if u.UploadID == opts.UploadIDMarker {
				continue
			}
		}
		if len(res.Uploads) >= opts.MaxUploads {
			res.IsTruncated = true
			break
		}
		res.Uploads = append(res.Uploads, u)
		res.NextKeyMarker, res.NextUploadIDMarker = u.Key, u.UploadID
	}
	return res, nil
}

func (m *memObjects) AbortMultipartUpload(_ context.Context, bucket, key, uploadID string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, _, err := m.upload(bucket, key, uploadID)
	if err != nil {
		return err
	}
	delete(b.uploads, uploadID)
	return nil
}

const minPartSize = 5 << 20

func (m *memObjects) CompleteMultipartUpload(_ context.Context, bucket, key, uploadID string, parts []objectstore.CompletePart, opts objectstore.PutOptions) (objectstore.ObjectInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, u, err := m.upload(bucket, key, uploadID)
	if err != nil {
		return objectstore.ObjectInfo{}, err
	}
	var data, md5s []byte
	var infos []objectstore.PartInfo
	for i, p := range parts {
		if i > 0 && p.Number <= parts[i-1].Number {
			return objectstore.ObjectInfo{}, objectstore.ErrInvalidPartOrder
		}
	}
	for _, p := range parts {
		if up, ok := u.parts[p.Number]; !ok || up.info.ETag != p.ETag {
			return objectstore.ObjectInfo{}, objectstore.ErrInvalidPart
		}
	}
	for i, p := range parts {
		up, ok := u.parts[p.Number]
		if !ok || up.info.ETag != p.ETag {
			return objectstore.ObjectInfo{}, objectstore.ErrInvalidPart
		}
		if i < len(parts)-1 && up.info.Size < minPartSize {
			return objectstore.ObjectInfo{}, objectstore.ErrEntityTooSmall
		}
		raw, _ := hex.DecodeString(up.info.ETag)
		md5s = append(md5s, raw...)
		data = append(data, up.data...)
		// As the real store: a completed object keeps each part's number and size, not
		// its checksums.
		pi := up.info
		pi.Checksums = nil
		infos = append(infos, pi)
	}
	sum := md5.Sum(md5s)
	put := u.info.Opts
	put.Versioning, put.IfMatch, put.IfNoneMatch = opts.Versioning, opts.IfMatch, opts.IfNoneMatch
	if put.Retention.IsZero() {
		put.Retention = opts.Retention
	}
	info, err := m.commit(bucket, key, data, fmt.Sprintf("%x-%d", sum, len(parts)), compositeSum(u, parts), infos, put)
	if err != nil {
		return info, err
	}
	delete(b.uploads, uploadID)
	return info, nil
}

// compositeSum is the checksum the real store records for a completed upload: the
// upload's algorithm over its parts' binary checksums, then "-N"; nil when the upload
// has no algorithm or a part lacks its checksum.
func compositeSum(u *memUpload, parts []objectstore.CompletePart) map[string]string {
	algo := u.info.Opts.ChecksumAlgorithm
	h := checksumHash(algo)
	if h == nil {
		return nil
	}
	for _, p := range parts {
		raw, err := base64.StdEncoding.DecodeString(u.parts[p.Number].info.Checksums[algo])
		if err != nil || len(raw) == 0 {
			return nil
		}
		h.Write(raw)
	}
	return map[string]string{algo: fmt.Sprintf("%s-%d", base64.StdEncoding.EncodeToString(h.Sum(nil)), len(parts))}
}
