package objectstore

import (
	"context"

	"github.com/banyancloud/banyan/objectstore/disk"
)

// PutObjectTags implements ObjectLayer.
func (s *Store) PutObjectTags(ctx context.Context, bucket, key, versionID string, tags map[string]string) (ObjectInfo, error) {
	return s.updateVersion(ctx, bucket, key, versionID, "tagging", func(v *disk.Version) { setTags(v, tags) })
}

// PutObjectHeader implements ObjectLayer.
func (s *Store) PutObjectHeader(ctx context.Context, bucket, key, versionID, name, value string) (ObjectInfo, error) {
	return s.updateVersion(ctx, bucket, key, versionID, "updating", func(v *disk.Version) {
		if v.Sys == nil {
			v.Sys = map[string]string{}
		}
		v.Sys[sysHeader+name] = value
	})
}

// updateVersion changes a version's descriptive metadata in place (no new
// version, no data rewritten). It lives in the version's metadata on every
// disk of its set, so each disk's metadata file is rewritten with the
// change applied (its own shard index and inline shard kept).
func (s *Store) updateVersion(ctx context.Context, bucket, key, versionID, what string, update func(v *disk.Version)) (ObjectInfo, error) {
	return s.updateVersionIf(ctx, bucket, key, versionID, what, nil, update)
}

// updateVersionIf is updateVersion that first asks check (when not nil) about
// the version as its read quorum agrees on it, under the object's lock; an
// error from check is returned and nothing is written.
func (s *Store) updateVersionIf(ctx context.Context, bucket, key, versionID, what string, check func(ObjectInfo) error, update func(v *disk.Version)) (ObjectInfo, error) {
	unlock, err := s.lockObject(ctx, bucket, key)
	if err != nil {
		return ObjectInfo{}, err
	}
	defer unlock()
	st, err := s.readObject(ctx, bucket, key)
	if err != nil {
		return ObjectInfo{}, err
	}
	i := 0
	if versionID != "" {
		if i = st.find(toDiskVersionID(versionID)); i < 0 {
			return ObjectInfo{}, ErrVersionNotFound
		}
	} else if len(st.versions) == 0 {
		return ObjectInfo{}, ErrObjectNotFound
	}
	v := st.versions[i]
	if v.IsDeleteMarker {
		oi := objectInfo(bucket, key, &v, i == 0)
		if versionID != "" {
			return oi, ErrMethodNotAllowed
		}
		return oi, ErrObjectNotFound
	}
	if check != nil {
		if err := check(objectInfo(bucket, key, &v, i == 0)); err != nil {
			return ObjectInfo{}, err
		}
	}
	want := versionKey(&v)
	errs := s.each(v.Erasure.Disks, func(d disk.Disk) error {
		m, err := d.ReadMetadata(ctx, bucket, key)
		if err != nil {
			return err
		}
		for j := range m.Versions {
			if versionKey(&m.Versions[j]) == want {
				update(&m.Versions[j])
				return d.WriteMetadata(ctx, bucket, key, m)
			}
		}
		return disk.ErrVersionNotFound
	})
	if err := s.quorumErr(errs, v.Erasure.Scheme().WriteQuorum(), ErrWriteQuorum, what+" "+bucket+"/"+key); err != nil {
		return ObjectInfo{}, err
	}
	update(&v)
	return objectInfo(bucket, key, &v, i == 0), nil
}
