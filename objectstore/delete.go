package objectstore

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/banyancloud/banyan/objectstore/disk"
)

// DeleteObject implements ObjectLayer with S3's versioning rules:
//
//   - with a version ID: that version (object or delete marker) is
//     removed; a version that does not exist is not an error;
//   - versioning Enabled: a delete marker with a new version ID becomes
//     the latest version;
//   - versioning Suspended: a delete marker with the null version ID
//     replaces the null version;
//   - never versioned: the object (its null version) is removed.
func (s *Store) DeleteObject(ctx context.Context, bucket, key string, opts DeleteOptions) (ObjectInfo, error) {
	if opts.VersionID != "" || opts.Versioning == "" {
		return s.deleteVersion(ctx, bucket, key, toDiskVersionID(opts.VersionID), opts.BypassGovernance)
	}
	set, err := s.placeNew(bucket, key, "")
	if err != nil {
		return ObjectInfo{}, err
	}
	c := &commitReq{bucket: bucket, key: key, set: set, v: disk.Version{IsDeleteMarker: true}}
	c.opts.Versioning = opts.Versioning
	v, err := s.commit(ctx, c)
	if err != nil {
		return ObjectInfo{}, err
	}
	return objectInfo(bucket, key, &v, true), nil
}

// deleteVersion removes one version from every disk of its set, unless its
// object lock forbids it (CheckDelete, decided under the object's lock).
func (s *Store) deleteVersion(ctx context.Context, bucket, key, id string, bypassGovernance bool) (ObjectInfo, error) {
	unlock, err := s.lockObject(ctx, bucket, key)
	if err != nil {
		return ObjectInfo{}, err
	}
	defer unlock()
	st, err := s.readObject(ctx, bucket, key)
	if err != nil {
		return ObjectInfo{}, err
	}
	i := st.find(id)
	if i < 0 {
		// S3 answers a delete of a missing key or version with success.
		return ObjectInfo{Bucket: bucket, Key: key, VersionID: fromDiskVersionID(id)}, nil
	}
	v := st.versions[i]
	oi := objectInfo(bucket, key, &v, i == 0)
	if err := CheckDelete(oi, bypassGovernance, time.Now()); err != nil {
		return oi, err
	}
	// Ask every disk that was asked for the metadata, not only the set:
	// a stale copy left on a disk that missed a heal must go too.
	ids := make([]string, 0, len(st.disks))
	for _, dm := range st.disks {
		ids = append(ids, dm.id)
	}
	for _, id := range v.Erasure.Disks {
		if !contains(ids, id) {
			ids = append(ids, id)
		}
	}
	// deleted[i]: disk i removed the version (rather than not having it),
	// and can be asked to take that back.
	deleted := make([]error, len(ids))
	for i := range deleted {
		deleted[i] = errNoDisk
	}
	started := time.Now()
	errs := s.each(ids, func(d disk.Disk) error {
		err := d.DeleteVersion(ctx, bucket, key, id)
		if notThere(err) {
			return nil
		}
		if err == nil {
			deleted[slices.Index(ids, d.ID())] = nil
		}
		return err
	})
	need := max(v.Erasure.Data, len(v.Erasure.Disks)/2+1)
	if err := s.quorumErr(errs, need, ErrWriteQuorum, fmt.Sprintf("deleting %s/%s version %s", bucket, key, oi.VersionID)); err != nil {
		// Put it back where it went, or a failed delete leaves the
		// version on fewer disks than its read quorum: deleted after all,
		// or worse, unreadable.
		disks := make([]disk.Disk, len(ids))
		for i, id := range ids {
			disks[i] = s.disks.Disk(id)
		}
		s.undoChange(bucket, key, &v, disks, deleted, started, "taking back a delete that missed its write quorum",
			func(ctx context.Context, d disk.Disk) error { return d.UndoDeleteVersion(ctx, bucket, key, v) }, nil)
		return ObjectInfo{}, err
	}
	if countErrs(errs) > 0 {
		// The disks that missed the delete still hold the version: the
		// repair worker drops that very version there as soon as they
		// answer again, however young it is (mrf.go).
		var missed []string
		for i, err := range errs {
			if err != nil {
				missed = append(missed, ids[i])
			}
		}
		s.queueHeal(bucket, key)
		s.queueMissedDelete(bucket, key, &v, missed)
	}
	return oi, nil
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}
