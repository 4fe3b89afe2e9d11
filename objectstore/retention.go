package objectstore

import (
	"context"
	"errors"
	"time"

	"github.com/banyancloud/banyan/objectstore/disk"
)

// S3 Object Lock as the data plane keeps it: a version's retention (mode and
// retain-until date) and legal hold live in its Sys metadata on every disk of
// its set, next to its tags, so they travel with the shards (heals, moves) and
// never go through Raft. Whether a bucket has object lock, and its default
// retention, is the bucket record's (the S3 front end's) business; this layer
// enforces the lock of each version whatever the caller: deleting a version
// by ID (DeleteObject, lifecycle) and changing its retention are refused with
// ErrObjectLocked under the object's lock, so no concurrent change slips
// between the check and the write.

// Object lock modes, as S3 names them.
const (
	LockGovernance = "GOVERNANCE"
	LockCompliance = "COMPLIANCE"
)

// Legal hold states, as S3 names them.
const (
	LegalHoldOn  = "ON"
	LegalHoldOff = "OFF"
)

// Keys of disk.Version.Sys for object lock.
const (
	sysLockMode  = "lock:mode"
	sysLockUntil = "lock:until"
	sysLockHold  = "lock:hold"
)

// ErrObjectLocked is a delete of a version, or a change of its retention,
// that its retention or legal hold forbids (S3's AccessDenied).
var ErrObjectLocked = errors.New("objectstore: the object version is protected by object lock")

// Retention is a version's object lock retention: Mode LockGovernance or
// LockCompliance until RetainUntil. The zero value is no retention.
type Retention struct {
	Mode        string    `json:",omitempty"`
	RetainUntil time.Time `json:",omitzero"`
}

// IsZero reports whether r sets no retention.
func (r Retention) IsZero() bool { return r.Mode == "" }

// Active reports whether r protects its version at now.
func (r Retention) Active(now time.Time) bool {
	return r.Mode != "" && now.Before(r.RetainUntil)
}

// CheckDelete says whether a version with info's lock may be removed at now:
// ErrObjectLocked while its legal hold is on, while COMPLIANCE retention is in
// force, and while GOVERNANCE retention is unless bypassGovernance (the caller
// sent x-amz-bypass-governance-retention and may s3:BypassGovernanceRetention).
func CheckDelete(info ObjectInfo, bypassGovernance bool, now time.Time) error {
	if info.LegalHold == LegalHoldOn {
		return ErrObjectLocked
	}
	r := info.Retention
	if !r.Active(now) {
		return nil
	}
	if r.Mode == LockGovernance && bypassGovernance {
		return nil
	}
	return ErrObjectLocked
}

// CheckRetentionChange says whether a version's retention cur may become next
// at now. Retention that is no longer in force may be changed freely; COMPLIANCE
// in force may only be extended (same mode, a date no earlier); GOVERNANCE in
// force may be extended or turned into COMPLIANCE, and shortened, removed or
// otherwise weakened only with bypassGovernance.
func CheckRetentionChange(cur, next Retention, bypassGovernance bool, now time.Time) error {
	if !cur.Active(now) {
		return nil
	}
	stricter := !next.IsZero() && !next.RetainUntil.Before(cur.RetainUntil)
	switch cur.Mode {
	case LockCompliance:
		if stricter && next.Mode == LockCompliance {
			return nil
		}
	case LockGovernance:
		if stricter || bypassGovernance {
			return nil
		}
	}
	return ErrObjectLocked
}

// setRetention writes r into a version's Sys (the zero value removes it).
func setRetention(v *disk.Version, r Retention) {
	delete(v.Sys, sysLockMode)
	delete(v.Sys, sysLockUntil)
	if r.IsZero() {
		return
	}
	if v.Sys == nil {
		v.Sys = map[string]string{}
	}
	v.Sys[sysLockMode] = r.Mode
	v.Sys[sysLockUntil] = r.RetainUntil.UTC().Format(time.RFC3339Nano)
}

// setLegalHold writes a legal hold state into a version's Sys ("" removes it).
func setLegalHold(v *disk.Version, status string) {
	if status == "" {
		delete(v.Sys, sysLockHold)
		return
	}
	if v.Sys == nil {
		v.Sys = map[string]string{}
	}
	v.Sys[sysLockHold] = status
}

// lockInfo reads a version's object lock from its Sys into oi.
func lockInfo(oi *ObjectInfo, sys map[string]string) {
	if mode := sys[sysLockMode]; mode != "" {
		until, _ := time.Parse(time.RFC3339Nano, sys[sysLockUntil])
		oi.Retention = Retention{Mode: mode, RetainUntil: until}
	}
	oi.LegalHold = sys[sysLockHold]
}

// PutObjectRetention implements ObjectLayer: it replaces a version's retention
// in place when CheckRetentionChange allows it, else ErrObjectLocked.
func (s *Store) PutObjectRetention(ctx context.Context, bucket, key, versionID string, r Retention, bypassGovernance bool) (ObjectInfo, error) {
	check := func(cur ObjectInfo) error {
		return CheckRetentionChange(cur.Retention, r, bypassGovernance, time.Now())
	}
	return s.updateVersionIf(ctx, bucket, key, versionID, "setting the retention of", check,
		func(v *disk.Version) { setRetention(v, r) })
}

// PutObjectLegalHold implements ObjectLayer: it sets a version's legal hold
// (LegalHoldOn or LegalHoldOff) in place.
func (s *Store) PutObjectLegalHold(ctx context.Context, bucket, key, versionID, status string) (ObjectInfo, error) {
	return s.updateVersionIf(ctx, bucket, key, versionID, "setting the legal hold of", nil,
		func(v *disk.Version) { setLegalHold(v, status) })
}
