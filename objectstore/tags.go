package objectstore

import (
	"context"

	"github.com/banyancloud/banyan/objectstore/disk"
)

// PutObjectTags implements ObjectLayer. Tags live in the version's
// metadata on every disk of its set, so each disk's metadata file is
// rewritten with the version's new tags (its own shard index and inline
// shard kept).
func (s *Store) PutObjectTags(ctx context.Context, bucket, key, versionID string, tags map[string]string) (ObjectInfo, error) {
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
	want := versionKey(&v)
	errs := s.each(v.Erasure.Disks, func(d disk.Disk) error {
		m, err := d.ReadMetadata(ctx, bucket, key)
		if err != nil {
			return err
		}
		for j := range m.Versions {
			if versionKey(&m.Versions[j]) == want {
				setTags(&m.Versions[j], tags)
				return d.WriteMetadata(ctx, bucket, key, m)
			}
		}
		return disk.ErrVersionNotFound
	})
	if err := s.quorumErr(errs, v.Erasure.Scheme().WriteQuorum(), ErrWriteQuorum, "tagging "+bucket+"/"+key); err != nil {
		return ObjectInfo{}, err
	}
	setTags(&v, tags)
	return objectInfo(bucket, key, &v, i == 0), nil
}
