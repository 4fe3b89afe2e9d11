package s3

import (
	"net/http"

	"github.com/banyancloud/banyan/api/protocol/restxml"
	"github.com/banyancloud/banyan/cluster/state"
	"github.com/banyancloud/banyan/objectstore"
)

func (q *request) getBucketVersioning() error {
	b, err := q.loadBucket()
	if err != nil {
		return err
	}
	if err := q.authorize(b, "s3:GetBucketVersioning", bucketARN(b.Name), nil); err != nil {
		return err
	}
	var out VersioningConfiguration
	if b.Versioning != "" {
		out.Status = ptr(b.Versioning)
	}
	return restxml.WriteXML(q.w, http.StatusOK, "VersioningConfiguration", &out)
}

// putBucketVersioning records the new state in the bucket record; the object layer
// learns it with every write (PutOptions.Versioning), so there is nothing else to tell.
func (q *request) putBucketVersioning() error {
	b, err := q.loadBucket()
	if err != nil {
		return err
	}
	if err := q.authorize(b, "s3:PutBucketVersioning", bucketARN(b.Name), nil); err != nil {
		return err
	}
	var cfg VersioningConfiguration
	if err := restxml.ReadXML(q.r, 0, &cfg); err != nil {
		return err
	}
	if cfg.MFADelete != nil && *cfg.MFADelete == "Enabled" {
		return errNotImplemented.WithMessage("MFA Delete is not supported.")
	}
	status := ""
	if cfg.Status != nil {
		status = *cfg.Status
	}
	switch status {
	case objectstore.VersioningEnabled, objectstore.VersioningSuspended:
	case "":
		// S3 leaves the state as it is when the document names none.
		q.w.WriteHeader(http.StatusOK)
		return nil
	default:
		return errMalformedXML
	}
	return q.updateBucket(func(b *state.Bucket) error {
		if _, locked := lockConfig(b); locked && status != objectstore.VersioningEnabled {
			return errInvalidBucketState.WithMessage("An Object Lock configuration is present on this bucket, so the versioning state cannot be changed.")
		}
		b.Versioning = status
		return nil
	})
}
