package s3

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/banyancloud/banyan/api/awserr"
	"github.com/banyancloud/banyan/api/protocol/restxml"
	"github.com/banyancloud/banyan/cluster/state"
	"github.com/banyancloud/banyan/objectstore"
)

// S3 Object Lock. Whether a bucket has it, and its default retention, is the bucket
// record's (state.Bucket.ObjectLock, through Raft); each version's retention and legal
// hold are the object store's, kept with the version's metadata, and the store enforces
// them on every delete by version ID and every retention change (objectstore
// CheckDelete, CheckRetentionChange), under the object's lock. This file turns S3's
// headers, documents and permissions into those calls.

var (
	errInvalidBucketState    = awserr.New("InvalidBucketState", http.StatusConflict, "The request is not valid with the current state of the bucket.")
	errNoObjectLockConfig    = awserr.New("ObjectLockConfigurationNotFoundError", http.StatusNotFound, "Object Lock configuration does not exist for this bucket")
	errNoObjectLockOnVersion = awserr.New("NoSuchObjectLockConfiguration", http.StatusNotFound, "The specified object does not have a ObjectLock configuration")
	errObjectLocked          = awserr.New("AccessDenied", http.StatusForbidden, "Access Denied because object protected by object lock.")
	errBucketWithoutLock     = errInvalidRequest.WithMessage("Bucket is missing Object Lock Configuration")
)

// Longest default retention S3 accepts.
const (
	maxRetentionDays  = 36500
	maxRetentionYears = 100
)

// objectLockConfig is how a bucket record keeps its object lock configuration: present
// (even as "{}") means object lock is enabled; Mode with Days or Years is the default
// retention of new versions.
type objectLockConfig struct {
	Mode  string `json:",omitempty"`
	Days  int32  `json:",omitempty"`
	Years int32  `json:",omitempty"`
}

// lockConfig returns the bucket's object lock configuration; false when it has none.
func lockConfig(b *state.Bucket) (objectLockConfig, bool) {
	var c objectLockConfig
	if b == nil || len(b.ObjectLock) == 0 {
		return c, false
	}
	_ = json.Unmarshal(b.ObjectLock, &c)
	return c, true
}

func (c objectLockConfig) encode() []byte {
	enc, _ := json.Marshal(c)
	return enc
}

// defaultRetention is the retention the bucket gives a version created at now without
// retention of its own (the zero Retention when none).
func defaultRetention(b *state.Bucket, now time.Time) objectstore.Retention {
	c, ok := lockConfig(b)
	if !ok || c.Mode == "" {
		return objectstore.Retention{}
	}
	now = now.UTC()
	until := now.AddDate(0, 0, int(c.Days))
	if c.Years > 0 {
		until = now.AddDate(int(c.Years), 0, 0)
	}
	return objectstore.Retention{Mode: c.Mode, RetainUntil: until}
}

// defaultRetentionNow is defaultRetention for a version created now.
func defaultRetentionNow(b *state.Bucket) objectstore.Retention {
	return defaultRetention(b, time.Now())
}

func validLockMode(m string) bool {
	return m == objectstore.LockGovernance || m == objectstore.LockCompliance
}

// objectLockEnabledHeader reads CreateBucket's x-amz-bucket-object-lock-enabled.
func (q *request) objectLockEnabledHeader() (bool, error) {
	v := strings.TrimSpace(q.r.Header.Get("x-amz-bucket-object-lock-enabled"))
	switch strings.ToLower(v) {
	case "":
		return false, nil
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, errInvalidArgument.WithMessage("x-amz-bucket-object-lock-enabled must be true or false")
}

// applyObjectLock fills the object lock of a new version (PutObject, CopyObject,
// CreateMultipartUpload) from the x-amz-object-lock-* headers, which need the bucket to
// have object lock and the caller to be allowed s3:PutObjectRetention and
// s3:PutObjectLegalHold, or else (withDefault) from the bucket's default retention. A
// multipart upload gets the default when it completes, as its object is created then.
func (q *request) applyObjectLock(b *state.Bucket, opts *objectstore.PutOptions, withDefault bool) error {
	h := q.r.Header
	mode, date, hold := h.Get("x-amz-object-lock-mode"), h.Get("x-amz-object-lock-retain-until-date"), h.Get("x-amz-object-lock-legal-hold")
	_, enabled := lockConfig(b)
	if mode == "" && date == "" && hold == "" {
		if enabled && withDefault {
			opts.Retention = defaultRetention(b, time.Now())
		}
		return nil
	}
	if !enabled {
		return errBucketWithoutLock
	}
	res := objectARN(b.Name, q.key)
	if mode != "" || date != "" {
		if mode == "" || date == "" {
			return errInvalidArgument.WithMessage("x-amz-object-lock-retain-until-date and x-amz-object-lock-mode must both be supplied")
		}
		if !validLockMode(mode) {
			return errInvalidArgument.WithMessage("Unknown wormMode directive.")
		}
		until, err := time.Parse(time.RFC3339, date)
		if err != nil {
			return errInvalidArgument.WithMessage("The retain until date must be provided in ISO 8601 format")
		}
		if !until.After(time.Now()) {
			return errInvalidArgument.WithMessage("The retain until date must be in the future!")
		}
		if err := q.authorize(b, "s3:PutObjectRetention", res, nil); err != nil {
			return err
		}
		opts.Retention = objectstore.Retention{Mode: mode, RetainUntil: until.UTC()}
	} else if withDefault {
		opts.Retention = defaultRetention(b, time.Now())
	}
	if hold != "" {
		if hold != objectstore.LegalHoldOn && hold != objectstore.LegalHoldOff {
			return errInvalidArgument.WithMessage("Legal Hold must be either of 'ON' or 'OFF'")
		}
		if err := q.authorize(b, "s3:PutObjectLegalHold", res, nil); err != nil {
			return err
		}
		opts.LegalHold = hold
	}
	return nil
}

// bypassGovernance reports whether the request asks to bypass GOVERNANCE retention
// (x-amz-bypass-governance-retention: true) and the caller may
// s3:BypassGovernanceRetention on key. A caller who may not simply does not bypass: the
// lock then refuses what it protects, and nothing else.
func (q *request) bypassGovernance(b *state.Bucket, key string) bool {
	if !strings.EqualFold(strings.TrimSpace(q.r.Header.Get("x-amz-bypass-governance-retention")), "true") {
		return false
	}
	return q.authorize(b, "s3:BypassGovernanceRetention", objectARN(b.Name, key), nil) == nil
}

// setObjectLockHeaders writes the x-amz-object-lock-* headers of GET and HEAD.
func setObjectLockHeaders(h http.Header, info objectstore.ObjectInfo) {
	if r := info.Retention; !r.IsZero() {
		h.Set("x-amz-object-lock-mode", r.Mode)
		h.Set("x-amz-object-lock-retain-until-date", lockTime(r.RetainUntil))
	}
	if info.LegalHold != "" {
		h.Set("x-amz-object-lock-legal-hold", info.LegalHold)
	}
}

func lockTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// readLockBody reads the small XML body of the object lock calls, which S3 accepts
// only with a Content-MD5 or a flexible checksum.
func (q *request) readLockBody(v any) error {
	body, err := readBody(q.r, restxml.DefaultMaxXMLBytes)
	if err != nil {
		return err
	}
	if err := checkBodyIntegrity(q.r.Header, body); err != nil {
		return err
	}
	return restxml.Unmarshal(body, v)
}

func (q *request) putObjectLockConfiguration() error {
	b, err := q.loadBucket()
	if err != nil {
		return err
	}
	if err := q.authorize(b, "s3:PutBucketObjectLockConfiguration", bucketARN(b.Name), nil); err != nil {
		return err
	}
	var cfg ObjectLockConfiguration
	if err := q.readLockBody(&cfg); err != nil {
		return err
	}
	if cfg.ObjectLockEnabled == nil || *cfg.ObjectLockEnabled != "Enabled" {
		return errMalformedXML
	}
	var c objectLockConfig
	if cfg.Rule != nil {
		d := cfg.Rule.DefaultRetention
		if d == nil || d.Mode == nil || !validLockMode(*d.Mode) || (d.Days == nil) == (d.Years == nil) {
			return errMalformedXML
		}
		c.Mode = *d.Mode
		switch {
		case d.Days != nil && *d.Days <= 0, d.Years != nil && *d.Years <= 0:
			return errInvalidArgument.WithMessage("Default retention period must be a positive integer value.")
		case d.Days != nil && *d.Days > maxRetentionDays, d.Years != nil && *d.Years > maxRetentionYears:
			return errInvalidArgument.WithMessage("Default retention period is too large.")
		case d.Days != nil:
			c.Days = *d.Days
		default:
			c.Years = *d.Years
		}
	}
	// A bucket created without object lock may have it turned on here once its
	// versioning is Enabled, as S3 allows today; the x-amz-bucket-object-lock-token
	// of the older S3 API is accepted and not needed.
	return q.updateBucket(func(b *state.Bucket) error {
		if _, enabled := lockConfig(b); !enabled && b.Versioning != objectstore.VersioningEnabled {
			return errInvalidBucketState.WithMessage("Versioning must be 'Enabled' on the bucket to apply a Object Lock configuration")
		}
		b.ObjectLock = c.encode()
		return nil
	})
}

func (q *request) getObjectLockConfiguration() error {
	b, err := q.loadBucket()
	if err != nil {
		return err
	}
	if err := q.authorize(b, "s3:GetBucketObjectLockConfiguration", bucketARN(b.Name), nil); err != nil {
		return err
	}
	c, ok := lockConfig(b)
	if !ok {
		return errNoObjectLockConfig
	}
	out := ObjectLockConfiguration{ObjectLockEnabled: ptr("Enabled")}
	if c.Mode != "" {
		d := &DefaultRetention{Mode: ptr(c.Mode)}
		if c.Years > 0 {
			d.Years = ptr(c.Years)
		} else {
			d.Days = ptr(c.Days)
		}
		out.Rule = &ObjectLockRule{DefaultRetention: d}
	}
	return restxml.WriteXML(q.w, http.StatusOK, "ObjectLockConfiguration", &out)
}

// lockedObject loads the bucket of an object lock call on a version and authorizes it.
func (q *request) lockedObject(action string) (*state.Bucket, string, error) {
	if err := q.checkKey(); err != nil {
		return nil, "", err
	}
	b, err := q.loadBucket()
	if err != nil {
		return nil, "", err
	}
	if err := q.authorize(b, action, objectARN(b.Name, q.key), nil); err != nil {
		return nil, "", err
	}
	if _, ok := lockConfig(b); !ok {
		return nil, "", errBucketWithoutLock
	}
	return b, q.q.Get("versionId"), nil
}

func (q *request) putObjectRetention() error {
	b, versionID, err := q.lockedObject("s3:PutObjectRetention")
	if err != nil {
		return err
	}
	var in ObjectLockRetention
	if err := q.readLockBody(&in); err != nil {
		return err
	}
	var r objectstore.Retention
	switch {
	case in.Mode == nil && in.RetainUntilDate == nil:
		// An empty Retention removes it (GOVERNANCE with the bypass only).
	case in.Mode == nil || in.RetainUntilDate == nil || !validLockMode(*in.Mode):
		return errMalformedXML
	case !in.RetainUntilDate.After(time.Now()):
		return errInvalidArgument.WithMessage("The retain until date must be in the future!")
	default:
		r = objectstore.Retention{Mode: *in.Mode, RetainUntil: in.RetainUntilDate.UTC()}
	}
	bypass := q.bypassGovernance(b, q.key)
	_, err = q.f.objects.PutObjectRetention(q.r.Context(), b.Name, q.key, versionID, r, bypass)
	if err != nil {
		return err
	}
	q.w.WriteHeader(http.StatusOK)
	return nil
}

func (q *request) getObjectRetention() error {
	b, versionID, err := q.lockedObject("s3:GetObjectRetention")
	if err != nil {
		return err
	}
	info, err := q.f.objects.HeadObject(q.r.Context(), b.Name, q.key, getOptionsVersion(versionID))
	if err != nil {
		return err
	}
	if info.Retention.IsZero() {
		return errNoObjectLockOnVersion
	}
	until := info.Retention.RetainUntil
	return restxml.WriteXML(q.w, http.StatusOK, "Retention",
		&ObjectLockRetention{Mode: ptr(info.Retention.Mode), RetainUntilDate: &until})
}

func (q *request) putObjectLegalHold() error {
	b, versionID, err := q.lockedObject("s3:PutObjectLegalHold")
	if err != nil {
		return err
	}
	var in ObjectLockLegalHold
	if err := q.readLockBody(&in); err != nil {
		return err
	}
	if in.Status == nil || (*in.Status != objectstore.LegalHoldOn && *in.Status != objectstore.LegalHoldOff) {
		return errMalformedXML
	}
	if _, err := q.f.objects.PutObjectLegalHold(q.r.Context(), b.Name, q.key, versionID, *in.Status); err != nil {
		return err
	}
	q.w.WriteHeader(http.StatusOK)
	return nil
}

func (q *request) getObjectLegalHold() error {
	b, versionID, err := q.lockedObject("s3:GetObjectLegalHold")
	if err != nil {
		return err
	}
	info, err := q.f.objects.HeadObject(q.r.Context(), b.Name, q.key, getOptionsVersion(versionID))
	if err != nil {
		return err
	}
	if info.LegalHold == "" {
		return errNoObjectLockOnVersion
	}
	return restxml.WriteXML(q.w, http.StatusOK, "LegalHold", &ObjectLockLegalHold{Status: ptr(info.LegalHold)})
}

// isObjectLocked reports whether err is a refusal by a version's object lock.
func isObjectLocked(err error) bool { return errors.Is(err, objectstore.ErrObjectLocked) }
