package objectstore

import (
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/banyancloud/banyan/objectstore/disk"
)

// Multipart uploads live on the erasure set of the object they will
// become, outside Raft, in two places on each disk:
//
//   - the records, in the reserved volume multipartVolume (a name no S3
//     bucket can have). Records are small inline versions, written and
//     agreed on like objects, so ListParts and ListMultipartUploads are
//     quorum listings.
//     "u/<bucket>/<key>\x00\x01<upload ID>" is the upload (key, options,
//     initiation time). The key is written with each NUL as
//     "\x00\x02", so that "\x00\x01" sorts below anything that can follow
//     a key inside a longer one: a walk of "u/<bucket>/" yields the uploads
//     by key and, within a key, by upload ID, which is S3's order because
//     upload IDs begin with their initiation time (newUploadID). A listing
//     streams that walk, one page at a time.
//     "x/<upload ID>" is the upload's index: the name of its record. A
//     staging directory is known by its upload ID alone; the index is how
//     the sweep gets from it to the record.
//     "p/<upload ID>/<part>" is one record per uploaded part (size, ETag,
//     checksums). A disk has a part's record only if it also holds that
//     part's shard file, which is what lets Complete know, per disk,
//     whether it holds every part; a re-upload removes the part's record
//     from each disk before it replaces the file there.
//   - the shard files, staged by CreateFile as "uploads/<upload ID>/part.N"
//     (disk.UploadsPrefix) in each disk's kept staging area as the parts
//     arrive, erasure-coded once. Complete commits the version by
//     RenameData of the directory "uploads/<upload ID>", so no part is read
//     or re-encoded again.
//
// A box that restarts keeps its shards of the uploads in progress: the
// kept staging area survives a restart, and a crash leaves a part file
// either complete and fsynced or absent (the disk writes it under a
// temporary name and renames it into place), never half written under its
// name. A part's record is written only after its file is durable on that
// disk, so a record always describes the file beside it. A part that was
// streaming when the box died has no record on that disk and is not used
// there; Complete needs a write quorum of disks holding every listed part,
// as before, and the healer rebuilds the rest.
//
// The index is written before the upload record and removed after it;
// Complete and Abort remove the upload record first, then the part
// records, the staging directories and the index. Whatever a crash, a down
// disk or a part racing Complete leaves behind is found by
// sweepOrphanParts, which deletes a staging directory only when its
// upload's record is agreed, by a read quorum of the upload's set, not to
// exist.

// multipartVolume holds upload and part records on every disk.
const multipartVolume = "_banyan-multipart"

// minPartSize is S3's lower bound for every part but the last.
const minPartSize = 5 << 20

func uploadPrefix(bucket string) string { return "u/" + bucket + "/" }

// keyEnd ends the key inside an upload record's name; NULs of the key
// are written as "\x00\x02" (recordKeyPart), so it sorts below every
// continuation of the key.
const keyEnd = "\x00\x01"

// recordKeyPart is key as it appears in upload record names: byte order
// of the results is the byte order of the keys, also when one key is a
// prefix of another.
func recordKeyPart(key string) string { return strings.ReplaceAll(key, "\x00", "\x00\x02") }

func uploadRecordKey(bucket, key, uploadID string) string {
	return uploadPrefix(bucket) + recordKeyPart(key) + keyEnd + uploadID
}

// uploadIDOf is the upload ID at the end of an upload record's name.
func uploadIDOf(recordKey string) string {
	return recordKey[strings.LastIndex(recordKey, keyEnd)+len(keyEnd):]
}

func indexKey(uploadID string) string { return "x/" + uploadID }

func partPrefix(uploadID string) string { return "p/" + uploadID + "/" }

func partRecordKey(uploadID string, n int) string {
	return fmt.Sprintf("%s%05d", partPrefix(uploadID), n)
}

// stagingDir is where an upload's shard files wait on each disk;
// partPath is part n's file there.
func stagingDir(uploadID string) string { return disk.UploadsPrefix + uploadID }

func partPath(uploadID string, n int) string {
	return stagingDir(uploadID) + "/part." + strconv.Itoa(n)
}

const (
	sysMPKey    = "mp:key"
	sysMPOpts   = "mp:opts"
	sysMPUpload = "mp:upload" // on a part record and the index: the upload record's name
)

// newUploadID issues an upload ID in the form of a UUID (isUUIDish) whose
// first 8 bytes are t in Unix nanoseconds and whose other 8 are random.
// Byte order of IDs is then the order the uploads began: strictly for one
// node (t comes from Store.now), as far as clocks agree across nodes.
func newUploadID(t time.Time) string {
	var u [16]byte
	binary.BigEndian.PutUint64(u[:8], uint64(t.UnixNano()))
	rand.Read(u[8:])
	return disk.FormatUUID(u)
}

// upload is an upload's record as agreed by its set.
type upload struct {
	bucket string
	info   UploadInfo
	set    erasureSet
}

// NewMultipartUpload implements ObjectLayer.
func (s *Store) NewMultipartUpload(ctx context.Context, bucket, key string, opts PutOptions) (string, error) {
	set, err := s.placeNew(bucket, key, opts.StorageClass)
	if err != nil {
		return "", err
	}
	s.each(set.ids, func(d disk.Disk) error {
		err := d.MakeVolume(ctx, multipartVolume)
		if errors.Is(err, disk.ErrVolumeExists) {
			return nil
		}
		return err
	})
	stored := opts
	stored.MD5, stored.ChecksumValue = nil, ""
	js, err := json.Marshal(stored)
	if err != nil {
		return "", err
	}
	id := newUploadID(s.now(time.Time{}))
	rk := uploadRecordKey(bucket, key, id)
	// The index first: a record never exists without it.
	if err := s.putRecord(ctx, set, indexKey(id), map[string]string{sysMPUpload: rk}); err != nil {
		return "", err
	}
	if err := s.putRecord(ctx, set, rk, map[string]string{sysMPKey: key, sysMPOpts: string(js)}); err != nil {
		s.each(set.ids, func(d disk.Disk) error {
			return d.DeleteObject(context.WithoutCancel(ctx), multipartVolume, indexKey(id))
		})
		return "", err
	}
	return id, nil
}

// putRecord commits an inline record named name in multipartVolume on set.
func (s *Store) putRecord(ctx context.Context, set erasureSet, name string, sys map[string]string) error {
	c := &commitReq{bucket: multipartVolume, key: name, set: set, keepID: true, v: disk.Version{Sys: sys}}
	var err error
	if c.inline, err = encodeInline(ctx, nil, set.scheme); err != nil {
		return err
	}
	_, err = s.commit(ctx, c)
	return err
}

// readUpload finds an upload's record on the object's lookup disks.
func (s *Store) readUpload(ctx context.Context, bucket, key, uploadID string) (*upload, error) {
	if !isUUIDish(uploadID) {
		return nil, ErrUploadNotFound
	}
	ids, err := s.lookupDisks(bucket, key)
	if err != nil {
		return nil, err
	}
	name := uploadRecordKey(bucket, key, uploadID)
	st, err := s.readObjectFrom(ctx, multipartVolume, name, ids, s.readQuorumDefault())
	if err != nil {
		return nil, err
	}
	if more := st.unasked(); len(more) > 0 {
		// The record's set is not all among the candidates (the map or the
		// bucket's scheme moved since the upload began): ask its disks too.
		if st, err = s.readObjectFrom(ctx, multipartVolume, name, append(ids, more...), s.readQuorumDefault()); err != nil {
			return nil, err
		}
	}
	if len(st.versions) == 0 {
		return nil, ErrUploadNotFound
	}
	v := st.versions[0]
	u := &upload{bucket: bucket, set: s.setOf(&v)}
	u.info = uploadInfo(&v, uploadID)
	return u, nil
}

func uploadInfo(v *disk.Version, uploadID string) UploadInfo {
	info := UploadInfo{Key: v.Sys[sysMPKey], UploadID: uploadID, Initiated: v.ModTime}
	json.Unmarshal([]byte(v.Sys[sysMPOpts]), &info.Opts)
	info.StorageClass = info.Opts.StorageClass
	if info.StorageClass == "" {
		info.StorageClass = "STANDARD"
	}
	return info
}

// isUUIDish keeps client-supplied upload IDs to the form we issue, since
// they become staging paths and record keys.
func isUUIDish(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || c == '-') {
			return false
		}
	}
	return true
}

// PutObjectPart implements ObjectLayer. The part is erasure-coded into
// the upload's staging directory on each disk of the set, then its record
// is written to the disks that took it.
func (s *Store) PutObjectPart(ctx context.Context, bucket, key, uploadID string, partNumber int, r io.Reader, opts PartOptions) (PartInfo, error) {
	if partNumber < 1 || partNumber > 10000 {
		return PartInfo{}, ErrInvalidPart
	}
	u, err := s.readUpload(ctx, bucket, key, uploadID)
	if err != nil {
		return PartInfo{}, err
	}
	unlock := s.locks.lock("part:" + uploadID + "/" + strconv.Itoa(partNumber))
	defer unlock()
	algo := opts.ChecksumAlgorithm
	if algo == "" {
		algo = u.info.Opts.ChecksumAlgorithm
	}
	dig, err := newDigester(algo)
	if err != nil {
		return PartInfo{}, err
	}
	rk := partRecordKey(uploadID, partNumber)
	// A record must never describe a file that has since been replaced:
	// a re-upload removes the part's record from each disk before it
	// overwrites the file there, and leaves out a disk that cannot.
	set := u.set
	set.disks = slices.Clone(set.disks)
	for i, err := range s.each(set.ids, func(d disk.Disk) error { return d.DeleteObject(ctx, multipartVolume, rk) }) {
		if err != nil && !notThere(err) {
			set.disks[i] = nil
		}
	}
	src, size, sink := sealBody(r, opts.Size, dig, opts.Sealer)
	body := newSplitBody(src, size, sink)
	ok, n, err := s.writeShards(ctx, set, bucket, partPath(uploadID, partNumber), size, body)
	berr := body.Close()
	if err == nil && berr != nil {
		err = berr
	}
	var v disk.Version
	if err == nil {
		v.ETag, v.Checksums, err = dig.finish(opts.MD5, opts.ChecksumValue)
		v.ETag = sealedETag(opts.Sealer, v.ETag)
	}
	if err != nil {
		// Nothing to undo: the part's earlier record is gone, and the new
		// files are not recorded. They are overwritten by the next upload
		// of the part, or go with their directory.
		return PartInfo{}, err
	}
	v.Size = n
	v.ModTime = s.now(time.Time{})
	v.Erasure = disk.ErasureInfo{Data: set.scheme.Data, Parity: set.scheme.Parity, BlockSize: set.scheme.BlockSize, Disks: set.ids, Distribution: identity(len(set.ids))}
	v.Sys = map[string]string{sysMPUpload: uploadRecordKey(bucket, key, uploadID)}
	// Complete or Abort may have run while the part streamed in: a record
	// written now would outlive the upload.
	if _, err := s.readUpload(ctx, bucket, key, uploadID); err != nil {
		s.each(set.ids, func(d disk.Disk) error {
			return d.DeleteTmp(context.WithoutCancel(ctx), partPath(uploadID, partNumber))
		})
		return PartInfo{}, err
	}
	inline, err := encodeInline(ctx, nil, set.scheme)
	if err != nil {
		return PartInfo{}, err
	}
	errs := make([]error, len(set.ids))
	parallel(len(set.ids), func(i int) {
		d := set.disks[i]
		if d == nil {
			errs[i] = errNoDisk
			return
		}
		if !ok[i] {
			d.DeleteVersion(ctx, multipartVolume, rk, "")
			errs[i] = errShardAbandoned
			return
		}
		dv := v
		dv.Erasure.Index = i
		dv.Inline = inline[i]
		errs[i] = d.RenameData(ctx, "", multipartVolume, rk, dv)
	})
	if err := s.quorumErr(errs, set.scheme.WriteQuorum(), ErrWriteQuorum, "recording part "+strconv.Itoa(partNumber)); err != nil {
		s.each(set.ids, func(d disk.Disk) error { return d.DeleteVersion(context.WithoutCancel(ctx), multipartVolume, rk, "") })
		return PartInfo{}, err
	}
	return PartInfo{Number: partNumber, Size: n, ETag: v.ETag, ModTime: v.ModTime, Checksums: v.Checksums}, nil
}

// partState is one part as the set agrees on it, and which set disks
// hold exactly that record.
type partState struct {
	number int
	v      disk.Version
	on     []bool // by position in the set
}

// readParts lists the agreed parts of an upload after partMarker, calling
// fn for each in part order until it returns false.
func (s *Store) readParts(ctx context.Context, u *upload, partMarker int, fn func(p partState) bool) error {
	after := ""
	if partMarker > 0 {
		after = partRecordKey(u.info.UploadID, partMarker)
	}
	m := s.newMerger(ctx, multipartVolume, partPrefix(u.info.UploadID), after, u.set.ids)
	defer m.close()
	for {
		key, metas, ok := m.next()
		if !ok {
			break
		}
		vs, _, _ := agree(metas, m.ids(), m.down)
		if len(vs) == 0 {
			continue
		}
		num, err := strconv.Atoi(strings.TrimPrefix(key, partPrefix(u.info.UploadID)))
		if err != nil {
			continue
		}
		p := partState{number: num, v: vs[0], on: make([]bool, len(u.set.ids))}
		want := versionKey(&vs[0])
		for i, meta := range metas {
			if meta != nil && len(meta.Versions) > 0 && versionKey(&meta.Versions[0]) == want {
				p.on[i] = true
			}
		}
		if !fn(p) {
			break
		}
	}
	return s.checkWalksOf(m, u.set.scheme.Parity, "listing parts")
}

// checkWalksOf fails when more than allowed walks failed.
func (s *Store) checkWalksOf(m *merger, allowed int, what string) error {
	var errs []error
	for _, ws := range m.streams {
		if m.down[ws.id] {
			errs = append(errs, fmt.Errorf("disk %s: %w", ws.id, ws.err))
		}
	}
	if len(errs) > allowed {
		return fmt.Errorf("%w: %s: %w", ErrReadQuorum, what, errors.Join(errs...))
	}
	return nil
}

func partInfo(p partState) PartInfo {
	return PartInfo{Number: p.number, Size: p.v.Size, ETag: p.v.ETag, ModTime: p.v.ModTime, Checksums: p.v.Checksums}
}

// ListParts implements ObjectLayer.
func (s *Store) ListParts(ctx context.Context, bucket, key, uploadID string, partMarker, maxParts int) (ListPartsResult, error) {
	u, err := s.readUpload(ctx, bucket, key, uploadID)
	if err != nil {
		return ListPartsResult{}, err
	}
	maxParts = clampMax(maxParts)
	res := ListPartsResult{Upload: u.info}
	err = s.readParts(ctx, u, partMarker, func(p partState) bool {
		if len(res.Parts) == maxParts {
			res.IsTruncated = true
			return false
		}
		res.Parts = append(res.Parts, partInfo(p))
		res.NextPartNumberMarker = p.number
		return true
	})
	if err != nil {
		return ListPartsResult{}, err
	}
	if !res.IsTruncated {
		res.NextPartNumberMarker = 0
	}
	return res, nil
}

// CompleteMultipartUpload implements ObjectLayer.
func (s *Store) CompleteMultipartUpload(ctx context.Context, bucket, key, uploadID string, parts []CompletePart, opts PutOptions) (ObjectInfo, error) {
	u, err := s.readUpload(ctx, bucket, key, uploadID)
	if err != nil {
		return ObjectInfo{}, err
	}
	if len(parts) == 0 {
		return ObjectInfo{}, ErrInvalidPart
	}
	for i := 1; i < len(parts); i++ {
		if parts[i].Number <= parts[i-1].Number {
			return ObjectInfo{}, ErrInvalidPartOrder
		}
	}
	have := map[int]partState{}
	if err := s.readParts(ctx, u, 0, func(p partState) bool { have[p.number] = p; return true }); err != nil {
		return ObjectInfo{}, err
	}
	n := len(u.set.ids)
	diskOK := make([]bool, n)
	for i := range diskOK {
		diskOK[i] = true
	}
	etags := md5.New()
	v := newVersion(u.info.Opts)
	if u.info.Opts.Retention.IsZero() && !opts.Retention.IsZero() {
		setRetention(&v, opts.Retention)
	}
	for i, cp := range parts {
		p, ok := have[cp.Number]
		if !ok || strings.Trim(cp.ETag, `"`) != p.v.ETag {
			return ObjectInfo{}, fmt.Errorf("%w: part %d", ErrInvalidPart, cp.Number)
		}
		for algo, sum := range cp.Checksums {
			if p.v.Checksums[strings.ToUpper(algo)] != sum {
				return ObjectInfo{}, fmt.Errorf("%w: part %d: %s checksum differs", ErrInvalidPart, cp.Number, algo)
			}
		}
		if i < len(parts)-1 && p.v.Size < minPartSize {
			return ObjectInfo{}, fmt.Errorf("%w: part %d has %d bytes", ErrEntityTooSmall, cp.Number, p.v.Size)
		}
		raw, _ := hex.DecodeString(p.v.ETag)
		etags.Write(raw)
		v.Size += p.v.Size
		v.Parts = append(v.Parts, disk.Part{Number: cp.Number, Size: p.v.Size, ETag: p.v.ETag})
		for j := range diskOK {
			diskOK[j] = diskOK[j] && p.on[j]
		}
	}
	v.ETag = hex.EncodeToString(etags.Sum(nil)) + "-" + strconv.Itoa(len(parts))
	if sum := compositeChecksum(u.info.Opts.ChecksumAlgorithm, parts, have); sum != "" {
		v.Checksums = map[string]string{strings.ToUpper(u.info.Opts.ChecksumAlgorithm): sum}
	}
	v.DataDir = newUUID()
	// Parts uploaded but not listed must not end up in the object's data.
	for num := range have {
		if !slices.ContainsFunc(parts, func(cp CompletePart) bool { return cp.Number == num }) {
			s.each(u.set.ids, func(d disk.Disk) error { return d.DeleteTmp(ctx, partPath(uploadID, num)) })
		}
	}
	opts.StorageClass = u.info.Opts.StorageClass
	c := &commitReq{bucket: bucket, key: key, set: u.set, v: v, staged: stagingDir(uploadID), ok: diskOK, opts: opts, keepStaged: true}
	committed, err := s.commit(ctx, c)
	if err != nil {
		return ObjectInfo{}, err
	}
	s.dropUpload(context.WithoutCancel(ctx), u, have)
	return objectInfo(bucket, key, &committed, true), nil
}

// compositeChecksum is S3's checksum of a multipart object: the checksum
// of the parts' binary checksums, then "-N". Empty when the upload has no
// algorithm or a part lacks its checksum.
func compositeChecksum(algo string, parts []CompletePart, have map[int]partState) string {
	if algo == "" {
		return ""
	}
	h, err := newChecksum(algo)
	if err != nil {
		return ""
	}
	for _, cp := range parts {
		raw, err := base64.StdEncoding.DecodeString(have[cp.Number].v.Checksums[strings.ToUpper(algo)])
		if err != nil || len(raw) == 0 {
			return ""
		}
		h.Write(raw)
	}
	return base64.StdEncoding.EncodeToString(h.Sum(nil)) + "-" + strconv.Itoa(len(parts))
}

// dropUpload removes an upload: its record first, so that it is gone at
// once for every node (a part still streaming in finds that out and
// removes its own file), then its part records, its staging directories
// (on the disks that committed it they have already moved into the
// object) and last its index. Whatever a failure leaves is the sweep's.
func (s *Store) dropUpload(ctx context.Context, u *upload, parts map[int]partState) {
	id := u.info.UploadID
	rk := uploadRecordKey(u.bucket, u.info.Key, id)
	s.each(u.set.ids, func(d disk.Disk) error { return d.DeleteObject(ctx, multipartVolume, rk) })
	for num := range parts {
		pk := partRecordKey(id, num)
		s.each(u.set.ids, func(d disk.Disk) error { return d.DeleteObject(ctx, multipartVolume, pk) })
	}
	// A disk that misses the DeleteTmp (it is down) misses the index's
	// deletion too, and keeps its copy to lead the sweep to the record.
	s.each(u.set.ids, func(d disk.Disk) error { return d.DeleteTmp(ctx, stagingDir(id)) })
	s.each(u.set.ids, func(d disk.Disk) error { return d.DeleteObject(ctx, multipartVolume, indexKey(id)) })
}

// AbortMultipartUpload implements ObjectLayer.
func (s *Store) AbortMultipartUpload(ctx context.Context, bucket, key, uploadID string) error {
	u, err := s.readUpload(ctx, bucket, key, uploadID)
	if err != nil {
		return err
	}
	have := map[int]partState{}
	if err := s.readParts(ctx, u, 0, func(p partState) bool { have[p.number] = p; return true }); err != nil {
		return err
	}
	s.dropUpload(ctx, u, have)
	return nil
}

// ListMultipartUploads implements ObjectLayer. It streams the walk of the
// bucket's upload records, which yields them in S3's order (see the top of
// this file), and stops after the page: memory is the page and the walks'
// buffers, whatever the number of uploads.
func (s *Store) ListMultipartUploads(ctx context.Context, bucket string, opts ListUploadsOptions) (ListUploadsResult, error) {
	max := clampMax(opts.MaxUploads)
	it := s.listKeys(ctx, multipartVolume, uploadPrefix(bucket)+recordKeyPart(opts.Prefix), uploadsStartAfter(bucket, opts))
	defer it.close()
	var res ListUploadsResult
	n := 0
	lastCP := ""
	for {
		rk, vs, ok := it.next()
		if !ok {
			break
		}
		info := uploadInfo(&vs[0], uploadIDOf(rk))
		if !strings.HasPrefix(info.Key, opts.Prefix) {
			continue // not a record this layout writes
		}
		if lastCP != "" && strings.HasPrefix(info.Key, lastCP) {
			it.skip(uploadPrefix(bucket) + recordKeyPart(lastCP)) // already rolled up
			continue
		}
		cp, isCP := commonPrefix(info.Key, opts.Prefix, opts.Delimiter)
		if n == max {
			res.IsTruncated = true
			break
		}
		n++
		if isCP {
			lastCP = cp
			it.rolledUp()
			res.CommonPrefixes = append(res.CommonPrefixes, cp)
			res.NextKeyMarker, res.NextUploadIDMarker = cp, ""
			continue
		}
		res.Uploads = append(res.Uploads, info)
		res.NextKeyMarker, res.NextUploadIDMarker = info.Key, info.UploadID
	}
	if it.err != nil {
		return ListUploadsResult{}, it.err
	}
	if err := ctx.Err(); err != nil {
		return ListUploadsResult{}, err
	}
	if !res.IsTruncated {
		res.NextKeyMarker, res.NextUploadIDMarker = "", ""
	}
	return res, nil
}

// uploadsStartAfter is the record name a listing's walks resume after. As
// AWS has it, a key marker alone resumes after every upload of that key, a
// key marker with an upload ID marker resumes after that upload (with the
// key's uploads whose IDs sort after it), and a key marker that is a
// common prefix of the listing resumes after every key it rolled up. Keys
// that merely start with the marker sort after all of its uploads.
func uploadsStartAfter(bucket string, opts ListUploadsOptions) string {
	km := opts.KeyMarker
	if km == "" {
		return ""
	}
	base := uploadPrefix(bucket) + recordKeyPart(km)
	if strings.HasPrefix(km, opts.Prefix) {
		if cp, ok := commonPrefix(km, opts.Prefix, opts.Delimiter); ok && cp == km {
			return base + "\xff" // no byte of UTF-8 is 0xff
		}
	}
	if opts.UploadIDMarker != "" {
		return base + keyEnd + opts.UploadIDMarker
	}
	return base + keyEnd + "\xff"
}

// sweepOrphanParts removes what uploads that no longer exist (completed,
// aborted, expired) left behind: part records and staging directories of
// parts that finished streaming just as their upload went, and whatever a
// crash or a down disk kept Complete or Abort from removing. It runs with
// the scanner. Staging directories are swept before indexes, since the
// index is what leads from a directory to its upload.
func (s *Store) sweepOrphanParts(ctx context.Context) error {
	return errors.Join(s.sweepPartRecords(ctx), s.sweepStaged(ctx), s.sweepIndexes(ctx))
}

// sweepPartRecords removes part records whose upload record is gone. A
// record younger than commitGrace is left: its upload's record may be a
// commit in progress.
func (s *Store) sweepPartRecords(ctx context.Context) error {
	return s.sweepRecords(ctx, "p/", func(rk string, v *disk.Version) {
		s.each(v.Erasure.Disks, func(d disk.Disk) error { return d.DeleteObject(ctx, multipartVolume, rk) })
	})
}

// sweepIndexes removes indexes whose upload record is gone, as
// sweepPartRecords does part records.
func (s *Store) sweepIndexes(ctx context.Context) error {
	return s.sweepRecords(ctx, "x/", func(rk string, v *disk.Version) {
		s.each(v.Erasure.Disks, func(d disk.Disk) error { return d.DeleteObject(ctx, multipartVolume, rk) })
	})
}

// sweepRecords calls drop for each record under prefix older than
// commitGrace whose upload record (sysMPUpload) is agreed not to exist.
func (s *Store) sweepRecords(ctx context.Context, prefix string, drop func(rk string, v *disk.Version)) error {
	it := s.listKeys(ctx, multipartVolume, prefix, "")
	defer it.close()
	for {
		rk, vs, ok := it.next()
		if !ok {
			return it.err
		}
		v := vs[0]
		up := v.Sys[sysMPUpload]
		if up == "" || time.Since(v.ModTime) < commitGrace {
			continue
		}
		if s.uploadGone(ctx, up, v.Erasure.Disks, v.Erasure.Data) {
			drop(rk, &v)
		}
	}
}

// uploadGone reports whether the upload record named rk is agreed by at
// least need of the disks ids (its set) not to exist. Any doubt (too few
// disks answer) is "not gone".
func (s *Store) uploadGone(ctx context.Context, rk string, ids []string, need int) bool {
	st, err := s.readObjectFrom(ctx, multipartVolume, rk, ids, need)
	return err == nil && len(st.versions) == 0
}

// sweepStaged removes, on every disk, the staging directories of uploads
// that are gone. A directory is known by its upload ID; the index on the
// same disk names the upload's record and set (or, if that disk missed
// the index, any disk's copy does), and the directory goes only when that
// record is agreed not to exist, or when every disk answers that there is
// no index at all (an index is written before its upload's record and
// removed after it, so then there is no upload either).
func (s *Store) sweepStaged(ctx context.Context) error {
	var errs []error
	for _, id := range s.allDisks() {
		d := s.disks.Disk(id)
		if d == nil {
			continue
		}
		after := ""
		for {
			names, err := d.ListStagedUploads(ctx, after, 0)
			if err != nil {
				errs = append(errs, fmt.Errorf("disk %s: listing staged uploads: %w", id, err))
				break
			}
			for _, name := range names {
				if isUUIDish(name) && s.stagedOrphan(ctx, d, name) {
					d.DeleteTmp(ctx, stagingDir(name))
				}
			}
			if len(names) == 0 {
				break
			}
			after = names[len(names)-1]
		}
	}
	return errors.Join(errs...)
}

// stagedOrphan reports whether the staging directory of uploadID on d
// belongs to an upload that is agreed to be gone.
func (s *Store) stagedOrphan(ctx context.Context, d disk.Disk, uploadID string) bool {
	m, err := d.ReadMetadata(ctx, multipartVolume, indexKey(uploadID))
	if err != nil && !notThere(err) {
		return false
	}
	if err != nil || len(m.Versions) == 0 {
		// This disk missed the index (it was down when the upload
		// began): look for any disk's copy, and believe there is none
		// only if every disk says so.
		ids := s.allDisks()
		st, err := s.readObjectFrom(ctx, multipartVolume, indexKey(uploadID), ids, len(ids))
		if err != nil {
			return false
		}
		m = nil
		for _, dm := range st.disks {
			if dm.meta != nil && len(dm.meta.Versions) > 0 {
				m = dm.meta
				break
			}
		}
		if m == nil {
			return true
		}
	}
	v := m.Versions[0]
	return v.Sys[sysMPUpload] != "" && s.uploadGone(ctx, v.Sys[sysMPUpload], v.Erasure.Disks, v.Erasure.Data)
}
