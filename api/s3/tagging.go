package s3

import (
	"net/http"
	"unicode/utf8"

	"github.com/banyancloud/banyan/api/protocol/restxml"
	"github.com/banyancloud/banyan/cluster/state"
)

const maxBucketTags = 50

// validateTags applies S3's tag rules (the same for buckets and objects, but the count).
func validateTags(tags map[string]string, limit int) error {
	if len(tags) > limit {
		if limit == maxObjectTags {
			return errInvalidTag.WithMessage("Object tags cannot be greater than %d", limit)
		}
		return errInvalidTag.WithMessage("Bucket tag count cannot be greater than %d", limit)
	}
	for k, v := range tags {
		if k == "" || utf8.RuneCountInString(k) > 128 {
			return errInvalidTag.WithMessage("The TagKey you have provided is invalid")
		}
		if utf8.RuneCountInString(v) > 256 {
			return errInvalidTag.WithMessage("The TagValue you have provided is invalid")
		}
	}
	return nil
}

// readTagging reads a Tagging document into a map, refusing duplicate keys.
func (q *request) readTagging(limit int) (map[string]string, error) {
	var doc Tagging
	if err := restxml.ReadXML(q.r, 0, &doc); err != nil {
		return nil, err
	}
	tags := map[string]string{}
	for _, t := range doc.TagSet {
		if _, dup := tags[t.Key]; dup {
			return nil, errInvalidTag.WithMessage("Cannot provide multiple Tags with the same key")
		}
		tags[t.Key] = t.Value
	}
	return tags, validateTags(tags, limit)
}

func writeTagging(q *request, tags map[string]string) error {
	out := Tagging{TagSet: []Tag{}}
	for _, k := range sortedKeys(tags) {
		out.TagSet = append(out.TagSet, Tag{Key: k, Value: tags[k]})
	}
	return restxml.WriteXML(q.w, http.StatusOK, "Tagging", &out)
}

func (q *request) putBucketTagging() error {
	b, err := q.loadBucket()
	if err != nil {
		return err
	}
	if err := q.authorize(b, "s3:PutBucketTagging", bucketARN(b.Name), nil); err != nil {
		return err
	}
	tags, err := q.readTagging(maxBucketTags)
	if err != nil {
		return err
	}
	err = q.updateBucket(func(b *state.Bucket) error {
		b.Tags = nil
		for _, k := range sortedKeys(tags) {
			b.Tags = append(b.Tags, state.Tag{Key: k, Value: tags[k]})
		}
		return nil
	})
	if err != nil {
		return err
	}
	q.w.WriteHeader(http.StatusNoContent)
	return nil
}

func (q *request) getBucketTagging() error {
	b, err := q.loadBucket()
	if err != nil {
		return err
	}
	if err := q.authorize(b, "s3:GetBucketTagging", bucketARN(b.Name), nil); err != nil {
		return err
	}
	if len(b.Tags) == 0 {
		return errNoSuchTagSet
	}
	tags := map[string]string{}
	for _, t := range b.Tags {
		tags[t.Key] = t.Value
	}
	return writeTagging(q, tags)
}

func (q *request) deleteBucketTagging() error {
	b, err := q.loadBucket()
	if err != nil {
		return err
	}
	// S3 has no DeleteBucketTagging action: PutBucketTagging governs it.
	if err := q.authorize(b, "s3:PutBucketTagging", bucketARN(b.Name), nil); err != nil {
		return err
	}
	if err := q.updateBucket(func(b *state.Bucket) error { b.Tags = nil; return nil }); err != nil {
		return err
	}
	q.w.WriteHeader(http.StatusNoContent)
	return nil
}

func (q *request) objectTaggingAction(base string) string {
	if q.q.Get("versionId") != "" {
		return "s3:" + base + "ObjectVersionTagging"
	}
	return "s3:" + base + "ObjectTagging"
}

func (q *request) putObjectTagging() error {
	b, err := q.loadBucket()
	if err != nil {
		return err
	}
	if err := q.authorize(b, q.objectTaggingAction("Put"), objectARN(b.Name, q.key), nil); err != nil {
		return err
	}
	tags, err := q.readTagging(maxObjectTags)
	if err != nil {
		return err
	}
	info, err := q.f.objects.PutObjectTags(q.r.Context(), b.Name, q.key, q.q.Get("versionId"), tags)
	if err != nil {
		return err
	}
	if versioned(b.Versioning) {
		setVersionHeader(q.w.Header(), info.VersionID)
	}
	q.w.WriteHeader(http.StatusOK)
	return nil
}

func (q *request) getObjectTagging() error {
	b, err := q.loadBucket()
	if err != nil {
		return err
	}
	if err := q.authorize(b, q.objectTaggingAction("Get"), objectARN(b.Name, q.key), nil); err != nil {
		return err
	}
	info, err := q.f.objects.HeadObject(q.r.Context(), b.Name, q.key, getOptionsVersion(q.q.Get("versionId")))
	if err != nil {
		return err
	}
	if versioned(b.Versioning) {
		setVersionHeader(q.w.Header(), info.VersionID)
	}
	return writeTagging(q, info.Tags)
}

func (q *request) deleteObjectTagging() error {
	b, err := q.loadBucket()
	if err != nil {
		return err
	}
	if err := q.authorize(b, q.objectTaggingAction("Delete"), objectARN(b.Name, q.key), nil); err != nil {
		return err
	}
	info, err := q.f.objects.PutObjectTags(q.r.Context(), b.Name, q.key, q.q.Get("versionId"), nil)
	if err != nil {
		return err
	}
	if versioned(b.Versioning) {
		setVersionHeader(q.w.Header(), info.VersionID)
	}
	q.w.WriteHeader(http.StatusNoContent)
	return nil
}
