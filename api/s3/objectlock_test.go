package s3

import (
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdks3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/banyancloud/banyan/objectstore"
)

func lockBucket(t *testing.T, c *sdks3.Client, name string) {
	t.Helper()
	if _, err := c.CreateBucket(ctx, &sdks3.CreateBucketInput{Bucket: aws.String(name), ObjectLockEnabledForBucket: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
}

func putLocked(t *testing.T, c *sdks3.Client, in *sdks3.PutObjectInput) string {
	t.Helper()
	if in.Body == nil {
		in.Body = strings.NewReader("locked")
	}
	out, err := c.PutObject(ctx, in)
	if err != nil {
		t.Fatalf("put %s: %v", *in.Key, err)
	}
	return aws.ToString(out.VersionId)
}

func deleteVersion(c *sdks3.Client, bucket, key, version string, bypass bool) error {
	in := &sdks3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), VersionId: aws.String(version)}
	if bypass {
		in.BypassGovernanceRetention = aws.Bool(true)
	}
	_, err := c.DeleteObject(ctx, in)
	return err
}

func TestObjectLockBucketConfiguration(t *testing.T) {
	e := newEnv(t)
	c := e.rootClient()
	lockBucket(t, c, "locked")
	v, err := c.GetBucketVersioning(ctx, &sdks3.GetBucketVersioningInput{Bucket: aws.String("locked")})
	if err != nil || v.Status != types.BucketVersioningStatusEnabled {
		t.Fatalf("versioning of an object lock bucket: %v %+v", err, v)
	}
	_, err = c.PutBucketVersioning(ctx, &sdks3.PutBucketVersioningInput{Bucket: aws.String("locked"),
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusSuspended}})
	wantCode(t, err, "InvalidBucketState", 409)
	cfg, err := c.GetObjectLockConfiguration(ctx, &sdks3.GetObjectLockConfigurationInput{Bucket: aws.String("locked")})
	if err != nil || cfg.ObjectLockConfiguration.ObjectLockEnabled != types.ObjectLockEnabledEnabled || cfg.ObjectLockConfiguration.Rule != nil {
		t.Fatalf("configuration of a new lock bucket: %v %+v", err, cfg)
	}

	putCfg := func(bucket string, rule *types.ObjectLockRule) error {
		_, err := c.PutObjectLockConfiguration(ctx, &sdks3.PutObjectLockConfigurationInput{Bucket: aws.String(bucket),
			ObjectLockConfiguration: &types.ObjectLockConfiguration{ObjectLockEnabled: types.ObjectLockEnabledEnabled, Rule: rule}})
		return err
	}
	rule := func(mode types.ObjectLockRetentionMode, days, years *int32) *types.ObjectLockRule {
		return &types.ObjectLockRule{DefaultRetention: &types.DefaultRetention{Mode: mode, Days: days, Years: years}}
	}
	wantCode(t, putCfg("locked", rule("COMPLIANCE", aws.Int32(1), aws.Int32(1))), "MalformedXML", 400)
	wantCode(t, putCfg("locked", rule("COMPLIANCE", nil, nil)), "MalformedXML", 400)
	wantCode(t, putCfg("locked", rule("FOREVER", aws.Int32(1), nil)), "MalformedXML", 400)
	wantCode(t, putCfg("locked", rule("GOVERNANCE", aws.Int32(0), nil)), "InvalidArgument", 400)
	wantCode(t, putCfg("locked", rule("GOVERNANCE", nil, aws.Int32(101))), "InvalidArgument", 400)
	if err := putCfg("locked", rule("GOVERNANCE", nil, aws.Int32(2))); err != nil {
		t.Fatal(err)
	}
	cfg, err = c.GetObjectLockConfiguration(ctx, &sdks3.GetObjectLockConfigurationInput{Bucket: aws.String("locked")})
	if err != nil || cfg.ObjectLockConfiguration.Rule == nil || cfg.ObjectLockConfiguration.Rule.DefaultRetention.Mode != "GOVERNANCE" ||
		aws.ToInt32(cfg.ObjectLockConfiguration.Rule.DefaultRetention.Years) != 2 || cfg.ObjectLockConfiguration.Rule.DefaultRetention.Days != nil {
		t.Fatalf("configuration with a default: %v %+v", err, cfg.ObjectLockConfiguration)
	}

	// A bucket without object lock: none to get, no lock headers, and it can be turned
	// on only once versioning is Enabled.
	mustBucket(t, c, "plain")
	_, err = c.GetObjectLockConfiguration(ctx, &sdks3.GetObjectLockConfigurationInput{Bucket: aws.String("plain")})
	wantCode(t, err, "ObjectLockConfigurationNotFoundError", 404)
	_, err = c.PutObject(ctx, &sdks3.PutObjectInput{Bucket: aws.String("plain"), Key: aws.String("k"), Body: strings.NewReader("x"),
		ObjectLockLegalHoldStatus: types.ObjectLockLegalHoldStatusOn})
	wantCode(t, err, "InvalidRequest", 400)
	put(t, c, "plain", "k", "x")
	_, err = c.GetObjectRetention(ctx, &sdks3.GetObjectRetentionInput{Bucket: aws.String("plain"), Key: aws.String("k")})
	wantCode(t, err, "InvalidRequest", 400)
	wantCode(t, putCfg("plain", nil), "InvalidBucketState", 409)
	if _, err := c.PutBucketVersioning(ctx, &sdks3.PutBucketVersioningInput{Bucket: aws.String("plain"),
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}}); err != nil {
		t.Fatal(err)
	}
	if err := putCfg("plain", rule("COMPLIANCE", aws.Int32(1), nil)); err != nil {
		t.Fatalf("enabling object lock on a versioned bucket: %v", err)
	}
	head, err := c.HeadObject(ctx, &sdks3.HeadObjectInput{Bucket: aws.String("plain"), Key: aws.String("k")})
	if err != nil || head.ObjectLockMode != "" {
		t.Fatalf("an older object got a retention: %v %+v", err, head.ObjectLockMode)
	}
}

func TestObjectLockRetentionAndDeletes(t *testing.T) {
	e := newEnv(t)
	c := e.rootClient()
	lockBucket(t, c, "vault")
	bucket := aws.String("vault")

	// Headers: both mode and date, a date in the future.
	_, err := c.PutObject(ctx, &sdks3.PutObjectInput{Bucket: bucket, Key: aws.String("k"), Body: strings.NewReader("x"),
		ObjectLockMode: types.ObjectLockModeGovernance})
	wantCode(t, err, "InvalidArgument", 400)
	_, err = c.PutObject(ctx, &sdks3.PutObjectInput{Bucket: bucket, Key: aws.String("k"), Body: strings.NewReader("x"),
		ObjectLockMode: types.ObjectLockModeGovernance, ObjectLockRetainUntilDate: aws.Time(time.Now().Add(-time.Hour))})
	wantCode(t, err, "InvalidArgument", 400)

	// No lock: nothing to get, and a version delete goes through.
	free := putLocked(t, c, &sdks3.PutObjectInput{Bucket: bucket, Key: aws.String("free")})
	_, err = c.GetObjectRetention(ctx, &sdks3.GetObjectRetentionInput{Bucket: bucket, Key: aws.String("free")})
	wantCode(t, err, "NoSuchObjectLockConfiguration", 404)
	_, err = c.GetObjectLegalHold(ctx, &sdks3.GetObjectLegalHoldInput{Bucket: bucket, Key: aws.String("free")})
	wantCode(t, err, "NoSuchObjectLockConfiguration", 404)
	if err := deleteVersion(c, "vault", "free", free, false); err != nil {
		t.Fatalf("deleting an unlocked version: %v", err)
	}

	// GOVERNANCE: refused, a plain delete adds a marker, the bypass removes it.
	until := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	gov := putLocked(t, c, &sdks3.PutObjectInput{Bucket: bucket, Key: aws.String("gov"),
		ObjectLockMode: types.ObjectLockModeGovernance, ObjectLockRetainUntilDate: aws.Time(until)})
	head, err := c.HeadObject(ctx, &sdks3.HeadObjectInput{Bucket: bucket, Key: aws.String("gov")})
	if err != nil || head.ObjectLockMode != types.ObjectLockModeGovernance || !aws.ToTime(head.ObjectLockRetainUntilDate).Equal(until) {
		t.Fatalf("HEAD lock headers: %v %q %v", err, head.ObjectLockMode, head.ObjectLockRetainUntilDate)
	}
	r, err := c.GetObjectRetention(ctx, &sdks3.GetObjectRetentionInput{Bucket: bucket, Key: aws.String("gov"), VersionId: aws.String(gov)})
	if err != nil || r.Retention.Mode != types.ObjectLockRetentionModeGovernance || !aws.ToTime(r.Retention.RetainUntilDate).Equal(until) {
		t.Fatalf("GetObjectRetention: %v %+v", err, r)
	}
	wantCode(t, deleteVersion(c, "vault", "gov", gov, false), "AccessDenied", 403)
	dm, err := c.DeleteObject(ctx, &sdks3.DeleteObjectInput{Bucket: bucket, Key: aws.String("gov")})
	if err != nil || !aws.ToBool(dm.DeleteMarker) {
		t.Fatalf("a delete without a version ID: %v %+v", err, dm)
	}
	dout, err := c.DeleteObjects(ctx, &sdks3.DeleteObjectsInput{Bucket: bucket, Delete: &types.Delete{Objects: []types.ObjectIdentifier{
		{Key: aws.String("gov"), VersionId: aws.String(gov)}}}})
	if err != nil || len(dout.Errors) != 1 || aws.ToString(dout.Errors[0].Code) != "AccessDenied" {
		t.Fatalf("DeleteObjects of a locked version: %v %+v", err, dout)
	}
	// Shortening GOVERNANCE needs the bypass; extending does not.
	setRetention := func(key, version string, mode types.ObjectLockRetentionMode, until time.Time, bypass bool) error {
		in := &sdks3.PutObjectRetentionInput{Bucket: bucket, Key: aws.String(key), VersionId: aws.String(version),
			Retention: &types.ObjectLockRetention{Mode: mode, RetainUntilDate: aws.Time(until)}}
		if bypass {
			in.BypassGovernanceRetention = aws.Bool(true)
		}
		_, err := c.PutObjectRetention(ctx, in)
		return err
	}
	wantCode(t, setRetention("gov", gov, "GOVERNANCE", until.Add(-time.Minute), false), "AccessDenied", 403)
	if err := setRetention("gov", gov, "GOVERNANCE", until.Add(time.Hour), false); err != nil {
		t.Fatalf("extending governance: %v", err)
	}
	if err := setRetention("gov", gov, "GOVERNANCE", until.Add(-time.Minute), true); err != nil {
		t.Fatalf("shortening governance with the bypass: %v", err)
	}
	wantCode(t, setRetention("gov", gov, "GOVERNANCE", time.Now().Add(-time.Minute), true), "InvalidArgument", 400)

	// A user who may do anything but bypass governance cannot.
	id, secret := e.newUser("operator", `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Action":"s3:*","Resource":"*"},
		{"Effect":"Deny","Action":"s3:BypassGovernanceRetention","Resource":"*"}]}`)
	wantCode(t, deleteVersion(e.client(id, secret), "vault", "gov", gov, true), "AccessDenied", 403)
	if err := deleteVersion(c, "vault", "gov", gov, true); err != nil {
		t.Fatalf("admin bypassing governance: %v", err)
	}

	// COMPLIANCE: nobody deletes or shortens it, extending is allowed.
	comp := putLocked(t, c, &sdks3.PutObjectInput{Bucket: bucket, Key: aws.String("comp"),
		ObjectLockMode: types.ObjectLockModeCompliance, ObjectLockRetainUntilDate: aws.Time(until)})
	wantCode(t, deleteVersion(c, "vault", "comp", comp, true), "AccessDenied", 403)
	wantCode(t, setRetention("comp", comp, "COMPLIANCE", until.Add(-time.Minute), true), "AccessDenied", 403)
	wantCode(t, setRetention("comp", comp, "GOVERNANCE", until.Add(time.Hour), true), "AccessDenied", 403)
	if err := setRetention("comp", comp, "COMPLIANCE", until.Add(time.Hour), false); err != nil {
		t.Fatalf("extending compliance: %v", err)
	}

	// Legal hold: refuses even the bypass until it is OFF.
	held := putLocked(t, c, &sdks3.PutObjectInput{Bucket: bucket, Key: aws.String("held"), ObjectLockLegalHoldStatus: types.ObjectLockLegalHoldStatusOn})
	lh, err := c.GetObjectLegalHold(ctx, &sdks3.GetObjectLegalHoldInput{Bucket: bucket, Key: aws.String("held"), VersionId: aws.String(held)})
	if err != nil || lh.LegalHold.Status != types.ObjectLockLegalHoldStatusOn {
		t.Fatalf("GetObjectLegalHold: %v %+v", err, lh)
	}
	wantCode(t, deleteVersion(c, "vault", "held", held, true), "AccessDenied", 403)
	if _, err := c.PutObjectLegalHold(ctx, &sdks3.PutObjectLegalHoldInput{Bucket: bucket, Key: aws.String("held"), VersionId: aws.String(held),
		LegalHold: &types.ObjectLockLegalHold{Status: types.ObjectLockLegalHoldStatusOff}}); err != nil {
		t.Fatal(err)
	}
	if err := deleteVersion(c, "vault", "held", held, false); err != nil {
		t.Fatalf("delete after the legal hold is off: %v", err)
	}
}

func TestObjectLockDefaultRetention(t *testing.T) {
	e := newEnv(t)
	c := e.rootClient()
	lockBucket(t, c, "dflt")
	bucket := aws.String("dflt")
	if _, err := c.PutObjectLockConfiguration(ctx, &sdks3.PutObjectLockConfigurationInput{Bucket: bucket,
		ObjectLockConfiguration: &types.ObjectLockConfiguration{ObjectLockEnabled: types.ObjectLockEnabledEnabled,
			Rule: &types.ObjectLockRule{DefaultRetention: &types.DefaultRetention{Mode: types.ObjectLockRetentionModeCompliance, Days: aws.Int32(3)}}}}); err != nil {
		t.Fatal(err)
	}
	want := time.Now().AddDate(0, 0, 3)
	near := func(got *time.Time) bool { return got != nil && got.Sub(want).Abs() < time.Minute }

	v := putLocked(t, c, &sdks3.PutObjectInput{Bucket: bucket, Key: aws.String("k")})
	o, body := get(t, c, &sdks3.GetObjectInput{Bucket: bucket, Key: aws.String("k")})
	if body != "locked" || o.ObjectLockMode != types.ObjectLockModeCompliance || !near(o.ObjectLockRetainUntilDate) {
		t.Fatalf("default retention on GET: %q %v", o.ObjectLockMode, o.ObjectLockRetainUntilDate)
	}
	wantCode(t, deleteVersion(c, "dflt", "k", v, true), "AccessDenied", 403)

	// An explicit retention wins over the default.
	until := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	putLocked(t, c, &sdks3.PutObjectInput{Bucket: bucket, Key: aws.String("g"),
		ObjectLockMode: types.ObjectLockModeGovernance, ObjectLockRetainUntilDate: aws.Time(until)})
	h, err := c.HeadObject(ctx, &sdks3.HeadObjectInput{Bucket: bucket, Key: aws.String("g")})
	if err != nil || h.ObjectLockMode != types.ObjectLockModeGovernance || !aws.ToTime(h.ObjectLockRetainUntilDate).Equal(until) {
		t.Fatalf("explicit retention: %v %q", err, h.ObjectLockMode)
	}

	// Copies and multipart uploads get the default too, not the source's lock.
	if _, err := c.CopyObject(ctx, &sdks3.CopyObjectInput{Bucket: bucket, Key: aws.String("copy"), CopySource: aws.String("dflt/g")}); err != nil {
		t.Fatal(err)
	}
	h, err = c.HeadObject(ctx, &sdks3.HeadObjectInput{Bucket: bucket, Key: aws.String("copy")})
	if err != nil || h.ObjectLockMode != types.ObjectLockModeCompliance || !near(h.ObjectLockRetainUntilDate) {
		t.Fatalf("copy: %v %q %v", err, h.ObjectLockMode, h.ObjectLockRetainUntilDate)
	}
	up, err := c.CreateMultipartUpload(ctx, &sdks3.CreateMultipartUploadInput{Bucket: bucket, Key: aws.String("mp"),
		ObjectLockLegalHoldStatus: types.ObjectLockLegalHoldStatusOn})
	if err != nil {
		t.Fatal(err)
	}
	part, err := c.UploadPart(ctx, &sdks3.UploadPartInput{Bucket: bucket, Key: aws.String("mp"), UploadId: up.UploadId,
		PartNumber: aws.Int32(1), Body: strings.NewReader("part")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CompleteMultipartUpload(ctx, &sdks3.CompleteMultipartUploadInput{Bucket: bucket, Key: aws.String("mp"), UploadId: up.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{{PartNumber: aws.Int32(1), ETag: part.ETag}}}}); err != nil {
		t.Fatal(err)
	}
	h, err = c.HeadObject(ctx, &sdks3.HeadObjectInput{Bucket: bucket, Key: aws.String("mp")})
	if err != nil || h.ObjectLockMode != types.ObjectLockModeCompliance || !near(h.ObjectLockRetainUntilDate) || h.ObjectLockLegalHoldStatus != types.ObjectLockLegalHoldStatusOn {
		t.Fatalf("multipart: %v %q %v %q", err, h.ObjectLockMode, h.ObjectLockRetainUntilDate, h.ObjectLockLegalHoldStatus)
	}
}

// Lifecycle expiration leaves locked versions alone and removes the others.
func TestLifecycleKeepsLockedVersions(t *testing.T) {
	e := newEnv(t)
	c := e.rootClient()
	lockBucket(t, c, "lclock")
	bucket := aws.String("lclock")
	locked := putLocked(t, c, &sdks3.PutObjectInput{Bucket: bucket, Key: aws.String("k"),
		ObjectLockMode: types.ObjectLockModeGovernance, ObjectLockRetainUntilDate: aws.Time(time.Now().Add(24 * time.Hour))})
	free := putLocked(t, c, &sdks3.PutObjectInput{Bucket: bucket, Key: aws.String("k")})
	latest := putLocked(t, c, &sdks3.PutObjectInput{Bucket: bucket, Key: aws.String("k")})
	if _, err := c.PutBucketLifecycleConfiguration(ctx, &sdks3.PutBucketLifecycleConfigurationInput{Bucket: bucket,
		LifecycleConfiguration: &types.BucketLifecycleConfiguration{Rules: []types.LifecycleRule{{ID: aws.String("nc"),
			Status: types.ExpirationStatusEnabled, Filter: &types.LifecycleRuleFilter{Prefix: aws.String("")},
			NoncurrentVersionExpiration: &types.NoncurrentVersionExpiration{NoncurrentDays: aws.Int32(1)}}}}}); err != nil {
		t.Fatal(err)
	}
	if err := e.front.RunLifecycle(ctx, time.Now().Add(72*time.Hour)); err != nil {
		t.Fatalf("lifecycle over a locked version: %v", err)
	}
	v, _ := e.objects.ListObjectVersions(ctx, "lclock", objectstore.ListVersionsOptions{MaxKeys: 100})
	var left []string
	for _, x := range v.Versions {
		left = append(left, x.VersionID)
	}
	if len(left) != 2 || left[0] != latest || left[1] != locked {
		t.Fatalf("versions left %v; want the latest %s and the locked %s (not %s)", left, latest, locked, free)
	}
}
