package s3

import (
	"context"
	"time"

	"github.com/banyancloud/banyan/objectstore"
)

// Object lock in the memObjects double, with the store's own rules
// (objectstore.CheckDelete, objectstore.CheckRetentionChange).

func (m *memObjects) checkDelete(vs []*memVersion, opts objectstore.DeleteOptions) error {
	for _, v := range vs {
		if v.info.VersionID == opts.VersionID {
			return objectstore.CheckDelete(v.info, opts.BypassGovernance, time.Now())
		}
	}
	return nil
}

func (m *memObjects) PutObjectRetention(_ context.Context, bucket, key, versionID string, r objectstore.Retention, bypass bool) (objectstore.ObjectInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, err := m.find(bucket, key, versionID)
	if err != nil {
		return objectstore.ObjectInfo{}, err
	}
	if err := objectstore.CheckRetentionChange(v.info.Retention, r, bypass, time.Now()); err != nil {
		return objectstore.ObjectInfo{}, err
	}
	v.info.Retention = r
	return v.info, nil
}

func (m *memObjects) PutObjectLegalHold(_ context.Context, bucket, key, versionID, status string) (objectstore.ObjectInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, err := m.find(bucket, key, versionID)
	if err != nil {
		return objectstore.ObjectInfo{}, err
	}
	v.info.LegalHold = status
	return v.info, nil
}
