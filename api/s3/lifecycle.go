package s3

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/banyancloud/banyan/api/protocol/restxml"
	"github.com/banyancloud/banyan/cluster/state"
	"github.com/banyancloud/banyan/objectstore"
)

const maxLifecycleRules = 1000

func decodeLifecycle(b *state.Bucket) []LifecycleRule {
	if len(b.Lifecycle) == 0 {
		return nil
	}
	var rules []LifecycleRule
	if json.Unmarshal(b.Lifecycle, &rules) != nil {
		return nil
	}
	return rules
}

func positive(v *int32) bool { return v != nil && *v > 0 }

func validateLifecycle(cfg *BucketLifecycleConfiguration) error {
	if len(cfg.Rules) == 0 || len(cfg.Rules) > maxLifecycleRules {
		return errMalformedXML
	}
	ids := map[string]bool{}
	for _, r := range cfg.Rules {
		if r.ID != nil {
			if len(*r.ID) > 255 {
				return errInvalidArgument.WithMessage("ID length should not exceed allowed limit of 255")
			}
			if ids[*r.ID] {
				return errInvalidArgument.WithMessage("Rule ID must be unique. Found same ID for more than one rule")
			}
			ids[*r.ID] = true
		}
		if r.Status != "Enabled" && r.Status != "Disabled" {
			return errMalformedXML
		}
		if r.Prefix != nil && r.Filter != nil {
			return errMalformedXML
		}
		if r.Expiration == nil && r.NoncurrentVersionExpiration == nil && r.AbortIncompleteMultipartUpload == nil &&
			len(r.Transitions) == 0 && len(r.NoncurrentVersionTransitions) == 0 {
			return errInvalidRequest.WithMessage("At least one action needs to be specified in a rule")
		}
		if e := r.Expiration; e != nil {
			n := 0
			if e.Days != nil {
				n++
				if *e.Days <= 0 {
					return errInvalidArgument.WithMessage("'Days' for Expiration action must be a positive integer")
				}
			}
			if e.Date != nil {
				n++
				if !e.Date.UTC().Equal(e.Date.UTC().Truncate(24 * time.Hour)) {
					return errInvalidArgument.WithMessage("'Date' must be at midnight GMT")
				}
			}
			if e.ExpiredObjectDeleteMarker != nil {
				n++
			}
			if n != 1 {
				return errMalformedXML
			}
		}
		if nv := r.NoncurrentVersionExpiration; nv != nil && !positive(nv.NoncurrentDays) {
			return errInvalidArgument.WithMessage("'NoncurrentDays' for NoncurrentVersionExpiration action must be a positive integer")
		}
		if a := r.AbortIncompleteMultipartUpload; a != nil {
			if !positive(a.DaysAfterInitiation) {
				return errInvalidArgument.WithMessage("'DaysAfterInitiation' for AbortIncompleteMultipartUpload action must be a positive integer")
			}
			if f := r.Filter; f != nil && (f.Tag != nil || (f.And != nil && len(f.And.Tags) > 0)) {
				return errInvalidRequest.WithMessage("AbortIncompleteMultipartUpload cannot be specified with Tags.")
			}
		}
	}
	return nil
}

func (q *request) putBucketLifecycle() error {
	b, err := q.loadBucket()
	if err != nil {
		return err
	}
	if err := q.authorize(b, "s3:PutLifecycleConfiguration", bucketARN(b.Name), nil); err != nil {
		return err
	}
	var cfg BucketLifecycleConfiguration
	if err := restxml.ReadXML(q.r, 0, &cfg); err != nil {
		return err
	}
	if err := validateLifecycle(&cfg); err != nil {
		return err
	}
	enc, _ := json.Marshal(cfg.Rules)
	return q.updateBucket(func(b *state.Bucket) error { b.Lifecycle = enc; return nil })
}

func (q *request) getBucketLifecycle() error {
	b, err := q.loadBucket()
	if err != nil {
		return err
	}
	if err := q.authorize(b, "s3:GetLifecycleConfiguration", bucketARN(b.Name), nil); err != nil {
		return err
	}
	rules := decodeLifecycle(b)
	if rules == nil {
		return errNoSuchLifecycle
	}
	return restxml.WriteXML(q.w, http.StatusOK, "LifecycleConfiguration", &BucketLifecycleConfiguration{Rules: rules})
}

func (q *request) deleteBucketLifecycle() error {
	b, err := q.loadBucket()
	if err != nil {
		return err
	}
	// S3 has no DeleteLifecycleConfiguration action: PutLifecycleConfiguration governs it.
	if err := q.authorize(b, "s3:PutLifecycleConfiguration", bucketARN(b.Name), nil); err != nil {
		return err
	}
	if err := q.updateBucket(func(b *state.Bucket) error { b.Lifecycle = nil; return nil }); err != nil {
		return err
	}
	q.w.WriteHeader(http.StatusNoContent)
	return nil
}

// ruleFilter is a lifecycle rule's object selection.
type ruleFilter struct {
	prefix           string
	tags             map[string]string
	minSize, maxSize *int64 // exclusive bounds
}

func filterOf(r *LifecycleRule) ruleFilter {
	var f ruleFilter
	if r.Prefix != nil {
		f.prefix = *r.Prefix
	}
	if fl := r.Filter; fl != nil {
		if fl.Prefix != nil {
			f.prefix = *fl.Prefix
		}
		if fl.Tag != nil {
			f.tags = map[string]string{fl.Tag.Key: fl.Tag.Value}
		}
		f.minSize, f.maxSize = fl.ObjectSizeGreaterThan, fl.ObjectSizeLessThan
		if a := fl.And; a != nil {
			if a.Prefix != nil {
				f.prefix = *a.Prefix
			}
			for _, t := range a.Tags {
				if f.tags == nil {
					f.tags = map[string]string{}
				}
				f.tags[t.Key] = t.Value
			}
			if a.ObjectSizeGreaterThan != nil {
				f.minSize = a.ObjectSizeGreaterThan
			}
			if a.ObjectSizeLessThan != nil {
				f.maxSize = a.ObjectSizeLessThan
			}
		}
	}
	return f
}

// matches reports whether an object version is selected; tags are fetched only when
// the rule filters on them, since listings need not carry them.
func (f *Frontend) matches(ctx context.Context, rf ruleFilter, bucket string, o objectstore.ObjectInfo) bool {
	if !strings.HasPrefix(o.Key, rf.prefix) {
		return false
	}
	if size := plainSize(o); rf.minSize != nil && size <= *rf.minSize || rf.maxSize != nil && size >= *rf.maxSize {
		return false
	}
	if len(rf.tags) == 0 {
		return true
	}
	tags := o.Tags
	if tags == nil && !o.DeleteMarker {
		info, err := f.objects.HeadObject(ctx, bucket, o.Key, objectstore.GetOptions{VersionID: o.VersionID})
		if err != nil {
			return false
		}
		tags = info.Tags
	}
	for k, v := range rf.tags {
		if tags[k] != v {
			return false
		}
	}
	return true
}

// expiresAt is when an object written at mod expires after days: S3 rounds up to the
// next midnight UTC.
func expiresAt(mod time.Time, days int32) time.Time {
	t := mod.UTC().Add(time.Duration(days) * 24 * time.Hour)
	d := t.Truncate(24 * time.Hour)
	if d.Before(t) {
		d = d.Add(24 * time.Hour)
	}
	return d
}

// RunLifecycle carries out every bucket's enabled lifecycle rules as of now: expiring
// current versions (a delete marker on versioned buckets), removing noncurrent versions
// and expired delete markers, and aborting stale multipart uploads. It works through
// the object layer's listings, so it is safe to run on any one node; the caller runs it
// periodically on the leader. Errors of one bucket do not stop the others.
func (f *Frontend) RunLifecycle(ctx context.Context, now time.Time) error {
	buckets, err := f.cluster.State().Buckets("")
	if err != nil {
		return err
	}
	var errs []error
	for _, b := range buckets {
		for _, r := range decodeLifecycle(b) {
			if r.Status != "Enabled" {
				continue
			}
			if err := f.runRule(ctx, b, &r, now); err != nil {
				errs = append(errs, fmt.Errorf("lifecycle of bucket %s: %w", b.Name, err))
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
		}
	}
	return errors.Join(errs...)
}

func (f *Frontend) runRule(ctx context.Context, b *state.Bucket, r *LifecycleRule, now time.Time) error {
	rf := filterOf(r)
	if r.Expiration != nil || r.NoncurrentVersionExpiration != nil {
		var err error
		if versioned(b.Versioning) {
			err = f.expireVersions(ctx, b, r, rf, now)
		} else {
			err = f.expireObjects(ctx, b, r, rf, now)
		}
		if err != nil {
			return err
		}
	}
	if a := r.AbortIncompleteMultipartUpload; a != nil && positive(a.DaysAfterInitiation) {
		return f.abortStaleUploads(ctx, b, rf.prefix, *a.DaysAfterInitiation, now)
	}
	return nil
}

func expired(e *LifecycleExpiration, mod, now time.Time) bool {
	switch {
	case e == nil:
		return false
	case e.Days != nil:
		return !now.Before(expiresAt(mod, *e.Days))
	case e.Date != nil:
		return !now.Before(*e.Date)
	}
	return false
}

func (f *Frontend) expireObjects(ctx context.Context, b *state.Bucket, r *LifecycleRule, rf ruleFilter, now time.Time) error {
	if r.Expiration == nil || (r.Expiration.Days == nil && r.Expiration.Date == nil) {
		return nil
	}
	marker := ""
	for {
		res, err := f.objects.ListObjects(ctx, b.Name, objectstore.ListOptions{Prefix: rf.prefix, Marker: marker, MaxKeys: 1000})
		if err != nil {
			return err
		}
		for _, o := range res.Objects {
			if expired(r.Expiration, o.ModTime, now) && f.matches(ctx, rf, b.Name, o) {
				if _, err := f.objects.DeleteObject(ctx, b.Name, o.Key, objectstore.DeleteOptions{}); err != nil && !errors.Is(err, objectstore.ErrObjectNotFound) {
					return err
				}
			}
		}
		if !res.IsTruncated || len(res.Objects) == 0 {
			return nil
		}
		marker = res.Objects[len(res.Objects)-1].Key
	}
}

// expireVersions walks every version, newest first within a key. A noncurrent version
// became noncurrent when the next newer version was written, which is what
// NoncurrentDays counts from.
func (f *Frontend) expireVersions(ctx context.Context, b *state.Bucket, r *LifecycleRule, rf ruleFilter, now time.Time) error {
	var (
		curKey       string
		newerMod     time.Time
		noncurrentN  int
		versionsSeen int
		latestMarker *objectstore.ObjectInfo
	)
	// A delete marker that is the only version left of its key is an expired object
	// delete marker; it is removed once the walk has passed the key.
	flushMarker := func() error {
		if latestMarker != nil && versionsSeen == 1 && r.Expiration != nil &&
			r.Expiration.ExpiredObjectDeleteMarker != nil && *r.Expiration.ExpiredObjectDeleteMarker {
			_, err := f.objects.DeleteObject(ctx, b.Name, latestMarker.Key, objectstore.DeleteOptions{VersionID: latestMarker.VersionID, Versioning: b.Versioning})
			if err != nil && !errors.Is(err, objectstore.ErrVersionNotFound) && !errors.Is(err, objectstore.ErrObjectNotFound) {
				return err
			}
		}
		latestMarker = nil
		return nil
	}
	opts := objectstore.ListVersionsOptions{Prefix: rf.prefix, MaxKeys: 1000}
	for {
		res, err := f.objects.ListObjectVersions(ctx, b.Name, opts)
		if err != nil {
			return err
		}
		for _, v := range res.Versions {
			if v.Key != curKey {
				if err := flushMarker(); err != nil {
					return err
				}
				curKey, noncurrentN, versionsSeen = v.Key, 0, 0
			}
			versionsSeen++
			if v.IsLatest {
				if v.DeleteMarker {
					vv := v
					latestMarker = &vv
				} else if expired(r.Expiration, v.ModTime, now) && f.matches(ctx, rf, b.Name, v) {
					if _, err := f.objects.DeleteObject(ctx, b.Name, v.Key, objectstore.DeleteOptions{Versioning: b.Versioning}); err != nil {
						return err
					}
				}
				newerMod = v.ModTime
				continue
			}
			since := newerMod
			newerMod = v.ModTime
			nv := r.NoncurrentVersionExpiration
			if nv == nil {
				continue
			}
			noncurrentN++
			if nv.NewerNoncurrentVersions != nil && noncurrentN <= int(*nv.NewerNoncurrentVersions) {
				continue
			}
			if positive(nv.NoncurrentDays) && !now.Before(expiresAt(since, *nv.NoncurrentDays)) && f.matches(ctx, rf, b.Name, v) {
				_, err := f.objects.DeleteObject(ctx, b.Name, v.Key, objectstore.DeleteOptions{VersionID: v.VersionID, Versioning: b.Versioning})
				if isObjectLocked(err) {
					// Object lock outranks lifecycle: the version stays until its
					// retention ends and its legal hold is off.
					continue
				}
				if err != nil && !errors.Is(err, objectstore.ErrVersionNotFound) {
					return err
				}
				versionsSeen--
			}
		}
		if !res.IsTruncated {
			return flushMarker()
		}
		opts.KeyMarker, opts.VersionIDMarker = res.NextKeyMarker, res.NextVersionIDMarker
	}
}

func (f *Frontend) abortStaleUploads(ctx context.Context, b *state.Bucket, prefix string, days int32, now time.Time) error {
	opts := objectstore.ListUploadsOptions{Prefix: prefix, MaxUploads: 1000}
	for {
		res, err := f.objects.ListMultipartUploads(ctx, b.Name, opts)
		if err != nil {
			return err
		}
		for _, u := range res.Uploads {
			if !now.Before(expiresAt(u.Initiated, days)) {
				if err := f.objects.AbortMultipartUpload(ctx, b.Name, u.Key, u.UploadID); err != nil && !errors.Is(err, objectstore.ErrUploadNotFound) {
					return err
				}
			}
		}
		if !res.IsTruncated {
			return nil
		}
		opts.KeyMarker, opts.UploadIDMarker = res.NextKeyMarker, res.NextUploadIDMarker
	}
}
