package objectstore

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
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
//     bucket can have): "u/<bucket>/<hash of key>/<upload ID>" holds the
//     upload (key, options, initiation time) and "p/<upload ID>/<part>"
//     one record per uploaded part (size, ETag, checksums). Records are
//     small inline versions, written and agreed on like objects, so
//     ListParts and ListMultipartUploads are quorum listings. A disk has a
//     part's record only if it also took the part's shard file, which is
//     what lets Complete know, per disk, whether it holds every part.
//   - the shard files, staged by CreateFile as "<upload ID>/part.N" in
//     each disk's staging area as the parts arrive, erasure-coded once.
//     Complete commits the version by RenameData of the directory
//     "<upload ID>", so no part is read or re-encoded again.
//
// Limitation: a disk clears its staging area when it is opened, so a box
// that restarts loses its shards of uploads in progress. Complete then
// commits on the disks that still hold every part (a write quorum is
// needed) and the healer rebuilds the rest; if too many boxes restarted
// the upload must be started again.

// multipartVolume holds upload and part records on every disk.
const multipartVolume = "_banyan-multipart"

// minPartSize is S3's lower bound for every part but the last.
const minPartSize = 5 << 20

func uploadPrefix(bucket string) string { return "u/" + bucket + "/" }

func uploadRecordKey(bucket, key, uploadID string) string {
	h := sha256.Sum256([]byte(bucket + "/" + key))
	return uploadPrefix(bucket) + hex.EncodeToString(h[:16]) + "/" + uploadID
}

func partPrefix(uploadID string) string { return "p/" + uploadID + "/" }

func partRecordKey(uploadID string, n int) string {
	return fmt.Sprintf("%s%05d", partPrefix(uploadID), n)
}

const (
	sysMPKey    = "mp:key"
	sysMPOpts   = "mp:opts"
	sysMPUpload = "mp:upload" // on a part record: its upload record's key
)

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
	id := newUUID()
	c := &commitReq{
		bucket: multipartVolume, key: uploadRecordKey(bucket, key, id), set: set, keepID: true,
		v: disk.Version{Sys: map[string]string{sysMPKey: key, sysMPOpts: string(js)}},
	}
	if c.inline, err = encodeInline(ctx, nil, set.scheme); err != nil {
		return "", err
	}
	if _, err := s.commit(ctx, c); err != nil {
		return "", err
	}
	return id, nil
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
	st, err := s.readObjectFrom(ctx, multipartVolume, uploadRecordKey(bucket, key, uploadID), ids, s.readQuorumDefault())
	if err != nil {
		return nil, err
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
	set := u.set
	rk := partRecordKey(uploadID, partNumber)
	body := newSplitBody(r, opts.Size, dig)
	ok, n, err := s.writeShards(ctx, set, bucket, fmt.Sprintf("%s/part.%d", uploadID, partNumber), opts.Size, body)
	berr := body.Close()
	if err == nil && berr != nil {
		err = berr
	}
	var v disk.Version
	if err == nil {
		v.ETag, v.Checksums, err = dig.finish(opts.MD5, opts.ChecksumValue)
	}
	if err != nil {
		// A failed re-upload has overwritten the part's earlier shard
		// files on some disks: the earlier record must go too.
		s.each(set.ids, func(d disk.Disk) error { return d.DeleteVersion(context.WithoutCancel(ctx), multipartVolume, rk, "") })
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
			return d.DeleteTmp(context.WithoutCancel(ctx), fmt.Sprintf("%s/part.%d", uploadID, partNumber))
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
			s.each(u.set.ids, func(d disk.Disk) error { return d.DeleteTmp(ctx, fmt.Sprintf("%s/part.%d", uploadID, num)) })
		}
	}
	opts.StorageClass = u.info.Opts.StorageClass
	c := &commitReq{bucket: bucket, key: key, set: u.set, v: v, staged: uploadID, ok: diskOK, opts: opts, keepStaged: true}
	committed, err := s.commit(ctx, c)
	if err != nil {
		return ObjectInfo{}, err
	}
	s.dropUploadRecords(context.WithoutCancel(ctx), u, have)
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

// dropUploadRecords removes an upload's part and upload records.
func (s *Store) dropUploadRecords(ctx context.Context, u *upload, parts map[int]partState) {
	for num := range parts {
		rk := partRecordKey(u.info.UploadID, num)
		s.each(u.set.ids, func(d disk.Disk) error { return d.DeleteObject(ctx, multipartVolume, rk) })
	}
	rk := uploadRecordKey(u.bucket, u.info.Key, u.info.UploadID)
	s.each(u.set.ids, func(d disk.Disk) error { return d.DeleteObject(ctx, multipartVolume, rk) })
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
	s.each(u.set.ids, func(d disk.Disk) error { return d.DeleteTmp(ctx, uploadID) })
	s.dropUploadRecords(ctx, u, have)
	return nil
}

// ListMultipartUploads implements ObjectLayer. Upload records are keyed
// by a hash of the object key, so the uploads of a bucket are gathered and
// sorted by key in memory: memory follows the uploads in progress in the
// bucket, not its objects.
func (s *Store) ListMultipartUploads(ctx context.Context, bucket string, opts ListUploadsOptions) (ListUploadsResult, error) {
	max := clampMax(opts.MaxUploads)
	var all []UploadInfo
	it := s.listKeys(ctx, multipartVolume, uploadPrefix(bucket), "")
	for {
		rk, vs, ok := it.next()
		if !ok {
			break
		}
		info := uploadInfo(&vs[0], rk[strings.LastIndexByte(rk, '/')+1:])
		if strings.HasPrefix(info.Key, opts.Prefix) {
			all = append(all, info)
		}
	}
	it.close()
	if it.err != nil {
		return ListUploadsResult{}, it.err
	}
	slices.SortFunc(all, func(a, b UploadInfo) int {
		if c := strings.Compare(a.Key, b.Key); c != 0 {
			return c
		}
		if c := a.Initiated.Compare(b.Initiated); c != 0 {
			return c
		}
		return strings.Compare(a.UploadID, b.UploadID)
	})
	var res ListUploadsResult
	n := 0
	lastCP := ""
	for _, info := range all {
		if opts.KeyMarker != "" {
			if info.Key < opts.KeyMarker {
				continue
			}
			if info.Key == opts.KeyMarker {
				if opts.UploadIDMarker == "" {
					continue
				}
				// Uploads of the marker key after the marker upload.
				if !afterUpload(all, info, opts.UploadIDMarker) {
					continue
				}
			}
		}
		cp, isCP := commonPrefix(info.Key, opts.Prefix, opts.Delimiter)
		if isCP && cp == lastCP {
			continue
		}
		if isCP && cp == opts.KeyMarker {
			continue
		}
		if n == max {
			res.IsTruncated = true
			break
		}
		n++
		if isCP {
			lastCP = cp
			res.CommonPrefixes = append(res.CommonPrefixes, cp)
			res.NextKeyMarker, res.NextUploadIDMarker = cp, ""
			continue
		}
		res.Uploads = append(res.Uploads, info)
		res.NextKeyMarker, res.NextUploadIDMarker = info.Key, info.UploadID
	}
	if !res.IsTruncated {
		res.NextKeyMarker, res.NextUploadIDMarker = "", ""
	}
	return res, nil
}

// afterUpload reports whether info sorts after the upload markerID of the
// same key in all.
func afterUpload(all []UploadInfo, info UploadInfo, markerID string) bool {
	mi := slices.IndexFunc(all, func(x UploadInfo) bool { return x.Key == info.Key && x.UploadID == markerID })
	ii := slices.IndexFunc(all, func(x UploadInfo) bool { return x.Key == info.Key && x.UploadID == info.UploadID })
	return mi >= 0 && ii > mi
}

// sweepOrphanParts removes part records whose upload is gone (a part that
// finished streaming just as its upload was completed or aborted on
// another node). It runs with the scanner.
func (s *Store) sweepOrphanParts(ctx context.Context) error {
	it := s.listKeys(ctx, multipartVolume, "p/", "")
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
		st, err := s.readObjectFrom(ctx, multipartVolume, up, v.Erasure.Disks, v.Erasure.Data)
		if err != nil || len(st.versions) > 0 {
			continue
		}
		s.each(v.Erasure.Disks, func(d disk.Disk) error { return d.DeleteObject(ctx, multipartVolume, rk) })
	}
}
