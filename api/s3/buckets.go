package s3

import (
	"bytes"
	"errors"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/banyancloud/banyan/api/protocol"
	"github.com/banyancloud/banyan/api/protocol/restxml"
	"github.com/banyancloud/banyan/cluster/state"
)

func ptr[T any](v T) *T { return &v }

// deref is *p, or the zero value for nil.
func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// readBody reads a small request body (XML, JSON policy) through the verifier's reader.
func readBody(r *http.Request, limit int64) ([]byte, error) {
	return protocol.ReadBody(r, limit)
}

// validBucketName applies S3's naming rules for general purpose buckets.
func validBucketName(name string) bool {
	if len(name) < 3 || len(name) > 63 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '-') {
			return false
		}
	}
	first, last := name[0], name[len(name)-1]
	if first == '.' || first == '-' || last == '.' || last == '-' {
		return false
	}
	if strings.Contains(name, "..") || strings.Contains(name, ".-") || strings.Contains(name, "-.") {
		return false
	}
	if _, err := netip.ParseAddr(name); err == nil {
		return false
	}
	for _, p := range []string{"xn--", "sthree-", "amzn-s3-demo-"} {
		if strings.HasPrefix(name, p) {
			return false
		}
	}
	for _, s := range []string{"-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"} {
		if strings.HasSuffix(name, s) {
			return false
		}
	}
	return true
}

func (q *request) listBuckets() error {
	if err := q.call.Authorize("s3:ListAllMyBuckets", "*"); err != nil {
		return err
	}
	if err := q.catchUp(); err != nil {
		return err
	}
	acct := q.call.Caller.AccountID
	bs, err := q.f.cluster.State().Buckets(acct)
	if err != nil {
		return err
	}
	prefix := q.q.Get("prefix")
	limit := 10000
	if s := q.q.Get("max-buckets"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 10000 {
			return errInvalidArgument.WithMessage("Argument max-buckets must be an integer between 1 and 10000")
		}
		limit = n
	}
	after := ""
	if tok, ok := q.q["continuation-token"]; ok {
		if after, err = decodeToken(tok[0]); err != nil {
			return err
		}
	}
	out := ListBucketsOutput{Owner: &Owner{ID: ptr(acct), DisplayName: ptr(acct)}, Buckets: []Bucket{}}
	for _, b := range bs {
		if !strings.HasPrefix(b.Name, prefix) || b.Name <= after {
			continue
		}
		if len(out.Buckets) == limit {
			out.ContinuationToken = ptr(encodeToken(*out.Buckets[limit-1].Name))
			break
		}
		out.Buckets = append(out.Buckets, Bucket{Name: ptr(b.Name), CreationDate: ptr(b.CreatedAt.UTC()), BucketRegion: ptr(b.Region)})
	}
	if prefix != "" {
		out.Prefix = ptr(prefix)
	}
	return restxml.WriteXML(q.w, http.StatusOK, "ListAllMyBucketsResult", &out)
}

func (q *request) createBucket() error {
	if !validBucketName(q.bucket) {
		return errInvalidBucketName.WithMessage("The specified bucket is not valid: %s", q.bucket)
	}
	acl, err := q.cannedACL()
	if err != nil {
		return err
	}
	if err := q.call.AuthorizeCheck(identityCheck("s3:CreateBucket", bucketARN(q.bucket), q.call.Caller.AccountID, aclContext(acl))); err != nil {
		return err
	}
	objectLock, err := q.objectLockEnabledHeader()
	if err != nil {
		return err
	}
	ownership, err := q.objectOwnershipHeader(acl)
	if err != nil {
		return err
	}
	var cfg CreateBucketConfiguration
	body, err := readBody(q.r, restxml.DefaultMaxXMLBytes)
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(body)) > 0 {
		if err := restxml.Unmarshal(body, &cfg); err != nil {
			return err
		}
	}
	// A client configured for another region (aws --region us-west-2) names that region
	// as the constraint: the cluster's one region serves it, as S3 answers for any region.
	if loc := cfg.LocationConstraint; loc != nil && *loc != q.f.region && *loc != q.call.Region && !(*loc == "" && q.f.region == "us-east-1") {
		if *loc == "" {
			return errIllegalLocation
		}
		return errInvalidLocation.WithMessage("The %s location constraint is incompatible for the region specific endpoint this request was sent to.", *loc)
	}
	if cfg.LocationConstraint == nil && q.f.region != "us-east-1" && q.f.region != "" && q.call.Region != "us-east-1" {
		// S3 insists on a matching constraint outside us-east-1.
		return errIllegalLocation
	}
	// Whether the name is taken is decided by the FSM (PutBucket with ExpectIndex 0), not
	// by this box's replica, which may not have applied a delete or a create acknowledged
	// through another box a moment ago.
	b := state.Bucket{Name: q.bucket, Owner: q.call.Caller.AccountID, Region: q.f.region,
		CreatedAt: time.Now().UTC(), ACL: acl, Ownership: ownership}
	for _, t := range cfg.Tags {
		b.Tags = append(b.Tags, state.Tag{Key: t.Key, Value: t.Value})
	}
	if objectLock {
		// Object lock needs versioning, which can then never be suspended.
		b.Versioning = "Enabled"
		b.ObjectLock = objectLockConfig{}.encode()
	}
	if _, err := q.f.cluster.Apply(q.r.Context(), &state.PutBucket{Bucket: b}, nil); err != nil {
		if errors.Is(err, state.ErrAlreadyExists) {
			// Apply returns once this replica has applied the refused command, so it
			// holds the record that refused it (unless deleted since).
			if existing, rerr := q.f.cluster.State().Bucket(q.bucket); rerr == nil {
				return q.alreadyExists(existing)
			}
			return errBucketAlreadyExists
		}
		return err
	}
	if err := q.f.objects.MakeBucket(q.r.Context(), q.bucket); err != nil {
		// The record without its data would be a bucket that fails every write: undo it.
		_, _ = q.f.cluster.Apply(q.r.Context(), &state.DeleteBucket{Name: q.bucket, ExpectIndex: state.AnyIndex}, nil)
		return err
	}
	q.w.Header().Set("Location", "/"+q.bucket)
	q.w.WriteHeader(http.StatusOK)
	return nil
}

func (q *request) alreadyExists(b *state.Bucket) error {
	if b.Owner == q.call.Caller.AccountID {
		return errBucketAlreadyOwnedByYou
	}
	return errBucketAlreadyExists
}

func (q *request) deleteBucket() error {
	// The record this delete authorizes against and removes is the current one, not
	// what this box's replica last applied.
	if err := q.catchUp(); err != nil {
		return err
	}
	b, err := q.loadBucket()
	if err != nil {
		return err
	}
	if err := q.authorize(b, "s3:DeleteBucket", bucketARN(b.Name), nil); err != nil {
		return err
	}
	// Data first: a bucket whose record is gone but whose objects remain could never be
	// emptied through the API.
	if err := q.f.objects.DeleteBucket(q.r.Context(), b.Name); err != nil {
		return err
	}
	if _, err := q.f.cluster.Apply(q.r.Context(), &state.DeleteBucket{Name: b.Name, ExpectIndex: state.AnyIndex}, nil); err != nil {
		if errors.Is(err, state.ErrNotFound) {
			// A concurrent delete removed the record first and answered 204: only
			// one of them may.
			return errNoSuchBucket
		}
		return err
	}
	q.f.dropStalePolicies(b.Name, "")
	q.w.WriteHeader(http.StatusNoContent)
	return nil
}

func (q *request) headBucket() error {
	// HeadBucket is how clients ask whether a bucket exists (before creating it, after
	// deleting it): answered as of the call, not as of this box's replica.
	if err := q.catchUp(); err != nil {
		return err
	}
	b, err := q.loadBucket()
	if err != nil {
		return err
	}
	if err := q.authorize(b, "s3:ListBucket", bucketARN(b.Name), nil); err != nil {
		return err
	}
	q.w.Header().Set("x-amz-bucket-region", b.Region)
	q.w.WriteHeader(http.StatusOK)
	return nil
}

func (q *request) getBucketLocation() error {
	if err := q.catchUp(); err != nil {
		return err
	}
	b, err := q.loadBucket()
	if err != nil {
		return err
	}
	if err := q.authorize(b, "s3:GetBucketLocation", bucketARN(b.Name), nil); err != nil {
		return err
	}
	loc := b.Region
	if loc == "us-east-1" {
		loc = "" // S3 reports us-east-1 as an empty constraint
	}
	body := []byte(`<?xml version="1.0" encoding="UTF-8"?>` + "\n" + `<LocationConstraint xmlns="http://s3.amazonaws.com/doc/2006-03-01/">` + loc + `</LocationConstraint>`)
	q.w.Header().Set("Content-Type", "application/xml")
	q.w.WriteHeader(http.StatusOK)
	_, err = q.w.Write(body)
	return err
}

// updateBucket changes the bucket record with compare-and-set, re-reading and retrying
// when another node changed it in between.
func (q *request) updateBucket(change func(*state.Bucket) error) error {
	for attempt := 0; ; attempt++ {
		cur, err := q.f.loadBucket(q.bucket)
		if err != nil {
			return err
		}
		b := *cur
		b.Tags = append([]state.Tag(nil), cur.Tags...)
		if err := change(&b); err != nil {
			return err
		}
		_, err = q.f.cluster.Apply(q.r.Context(), &state.PutBucket{Bucket: b, ExpectIndex: cur.ModifyIndex}, nil)
		if errors.Is(err, state.ErrConflict) && attempt < 10 {
			continue
		}
		if errors.Is(err, state.ErrNotFound) {
			return errNoSuchBucket
		}
		return err
	}
}
