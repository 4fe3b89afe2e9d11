package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestProcessS3ObjectLock drives S3 Object Lock with aws-cli and boto3 on a 3-node
// cluster: a bucket created with object lock, its default retention, locked version
// deletes refused (as DeleteObjects entries too), GOVERNANCE bypassed by the admin but
// not by a user denied s3:BypassGovernanceRetention, COMPLIANCE never, legal hold on
// and off.
func TestProcessS3ObjectLock(t *testing.T) {
	if testing.Short() {
		t.Skip("process-level test")
	}
	needAWSCLI(t)
	procs := startClusterDisks(t, 3, 1)
	admin := adminEnv(procs[0])
	leader, follower := "http://"+procs[0].ip+":8773", "http://"+procs[2].ip+":8773"
	must := func(env []string, endpoint string, args ...string) string {
		t.Helper()
		out, errOut, ok := awsCLI(t, env, endpoint, args...)
		if !ok {
			t.Fatalf("aws %s: %s", strings.Join(args, " "), errOut)
		}
		return out
	}
	fails := func(env []string, endpoint, code string, args ...string) {
		t.Helper()
		_, errOut, ok := awsCLI(t, env, endpoint, args...)
		if ok || !strings.Contains(errOut, code) {
			t.Fatalf("aws %s: ok=%v %q, want %s", strings.Join(args, " "), ok, errOut, code)
		}
	}
	body := filepath.Join(t.TempDir(), "body")
	os.WriteFile(body, []byte("evidence"), 0o644)
	putObject := func(endpoint, key string, extra ...string) string {
		t.Helper()
		var out struct{ VersionId string }
		json.Unmarshal([]byte(must(admin, endpoint, append([]string{"s3api", "put-object", "--bucket", "vault", "--key", key, "--body", body}, extra...)...)), &out)
		if out.VersionId == "" {
			t.Fatalf("put-object %s: no version ID", key)
		}
		return out.VersionId
	}
	deleteVersion := func(key, version string, extra ...string) []string {
		return append([]string{"s3api", "delete-object", "--bucket", "vault", "--key", key, "--version-id", version}, extra...)
	}

	// A bucket created with object lock is versioned for good.
	must(admin, follower, "s3api", "create-bucket", "--bucket", "vault", "--object-lock-enabled-for-bucket")
	var ver struct{ Status string }
	json.Unmarshal([]byte(must(admin, leader, "s3api", "get-bucket-versioning", "--bucket", "vault")), &ver)
	if ver.Status != "Enabled" {
		t.Fatalf("versioning of an object lock bucket: %q", ver.Status)
	}
	fails(admin, leader, "InvalidBucketState", "s3api", "put-bucket-versioning", "--bucket", "vault", "--versioning-configuration", "Status=Suspended")
	must(admin, leader, "s3", "mb", "s3://plain")
	fails(admin, follower, "ObjectLockConfigurationNotFoundError", "s3api", "get-object-lock-configuration", "--bucket", "plain")
	fails(admin, follower, "InvalidRequest", "s3api", "put-object", "--bucket", "plain", "--key", "k", "--body", body, "--object-lock-legal-hold-status", "ON")

	// Default retention: GOVERNANCE for a day.
	must(admin, follower, "s3api", "put-object-lock-configuration", "--bucket", "vault", "--object-lock-configuration",
		`{"ObjectLockEnabled":"Enabled","Rule":{"DefaultRetention":{"Mode":"GOVERNANCE","Days":1}}}`)
	var cfg struct {
		ObjectLockConfiguration struct {
			ObjectLockEnabled string
			Rule              struct {
				DefaultRetention struct {
					Mode string
					Days int
				}
			}
		}
	}
	json.Unmarshal([]byte(must(admin, leader, "s3api", "get-object-lock-configuration", "--bucket", "vault")), &cfg)
	if c := cfg.ObjectLockConfiguration; c.ObjectLockEnabled != "Enabled" || c.Rule.DefaultRetention.Mode != "GOVERNANCE" || c.Rule.DefaultRetention.Days != 1 {
		t.Fatalf("object lock configuration: %+v", c)
	}
	fails(admin, leader, "MalformedXML", "s3api", "put-object-lock-configuration", "--bucket", "vault", "--object-lock-configuration",
		`{"ObjectLockEnabled":"Enabled","Rule":{"DefaultRetention":{"Mode":"GOVERNANCE","Days":1,"Years":1}}}`)

	gov := putObject(follower, "gov")
	var head struct {
		ObjectLockMode, ObjectLockRetainUntilDate, ObjectLockLegalHoldStatus string
	}
	json.Unmarshal([]byte(must(admin, leader, "s3api", "head-object", "--bucket", "vault", "--key", "gov")), &head)
	until, err := time.Parse(time.RFC3339, head.ObjectLockRetainUntilDate)
	if head.ObjectLockMode != "GOVERNANCE" || err != nil || until.Sub(time.Now().Add(24*time.Hour)).Abs() > 5*time.Minute {
		t.Fatalf("default retention on HEAD: %+v %v", head, err)
	}

	// A locked version is not deleted, by DeleteObject or DeleteObjects; a delete
	// without a version ID only adds a marker.
	fails(admin, leader, "AccessDenied", deleteVersion("gov", gov)...)
	out := must(admin, follower, "s3api", "delete-objects", "--bucket", "vault", "--delete", `{"Objects":[{"Key":"gov","VersionId":"`+gov+`"}]}`)
	if !strings.Contains(out, "AccessDenied") {
		t.Fatalf("delete-objects of a locked version: %s", out)
	}
	var dm struct{ DeleteMarker bool }
	json.Unmarshal([]byte(must(admin, follower, "s3api", "delete-object", "--bucket", "vault", "--key", "gov")), &dm)
	if !dm.DeleteMarker {
		t.Fatal("a delete without a version ID did not add a delete marker")
	}

	// An IAM user allowed everything but the bypass cannot bypass; boto3 for this one.
	must(admin, leader, "iam", "create-user", "--user-name", "operator")
	must(admin, leader, "iam", "put-user-policy", "--user-name", "operator", "--policy-name", "p", "--policy-document",
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"},{"Effect":"Deny","Action":"s3:BypassGovernanceRetention","Resource":"*"}]}`)
	var key struct {
		AccessKey struct{ AccessKeyId, SecretAccessKey string }
	}
	json.Unmarshal([]byte(must(admin, leader, "iam", "create-access-key", "--user-name", "operator")), &key)
	operator := []string{"AWS_CONFIG_FILE=" + filepath.Join(procs[0].dataDir, "aws", "config"), "AWS_SHARED_CREDENTIALS_FILE=/dev/null",
		"AWS_ACCESS_KEY_ID=" + key.AccessKey.AccessKeyId, "AWS_SECRET_ACCESS_KEY=" + key.AccessKey.SecretAccessKey}
	script := `
import boto3, botocore, sys
c = boto3.client("s3", endpoint_url=sys.argv[1])
try:
    c.delete_object(Bucket="vault", Key="gov", VersionId=sys.argv[2], BypassGovernanceRetention=True)
    print("deleted")
except botocore.exceptions.ClientError as e:
    print(e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"])
`
	waitFor(t, 10*time.Second, "the operator's key on the follower", func() error {
		_, _, ok := awsCLI(t, operator, follower, "sts", "get-caller-identity")
		if !ok {
			return os.ErrNotExist
		}
		return nil
	})
	cmd := exec.Command("python3", "-c", script, follower, gov)
	cmd.Env = append(cleanEnv(), operator...)
	if b, err := cmd.CombinedOutput(); err != nil || strings.TrimSpace(string(b)) != "AccessDenied 403" {
		t.Fatalf("boto3 bypass by a user denied s3:BypassGovernanceRetention: %v %s", err, b)
	}
	// The admin may bypass GOVERNANCE.
	must(admin, leader, deleteVersion("gov", gov, "--bypass-governance-retention")...)
	fails(admin, follower, "(404)", "s3api", "head-object", "--bucket", "vault", "--key", "gov", "--version-id", gov)

	// COMPLIANCE: not deleted even with the bypass, not shortened; extended it may be.
	soon := time.Now().Add(time.Hour).UTC()
	comp := putObject(leader, "comp", "--object-lock-mode", "COMPLIANCE", "--object-lock-retain-until-date", soon.Format(time.RFC3339))
	fails(admin, follower, "AccessDenied", deleteVersion("comp", comp, "--bypass-governance-retention")...)
	fails(admin, follower, "AccessDenied", "s3api", "put-object-retention", "--bucket", "vault", "--key", "comp", "--version-id", comp,
		"--bypass-governance-retention", "--retention", `{"Mode":"COMPLIANCE","RetainUntilDate":"`+soon.Add(-time.Minute).Format(time.RFC3339)+`"}`)
	must(admin, follower, "s3api", "put-object-retention", "--bucket", "vault", "--key", "comp", "--version-id", comp,
		"--retention", `{"Mode":"COMPLIANCE","RetainUntilDate":"`+soon.Add(time.Hour).Format(time.RFC3339)+`"}`)
	var ret struct {
		Retention struct{ Mode, RetainUntilDate string }
	}
	json.Unmarshal([]byte(must(admin, leader, "s3api", "get-object-retention", "--bucket", "vault", "--key", "comp", "--version-id", comp)), &ret)
	if got, _ := time.Parse(time.RFC3339, ret.Retention.RetainUntilDate); ret.Retention.Mode != "COMPLIANCE" || got.Sub(soon.Add(time.Hour)).Abs() > time.Second {
		t.Fatalf("get-object-retention after extending: %+v", ret)
	}

	// Legal hold: it refuses even the bypass while ON.
	held := putObject(follower, "held", "--object-lock-legal-hold-status", "ON")
	var lh struct{ LegalHold struct{ Status string } }
	json.Unmarshal([]byte(must(admin, leader, "s3api", "get-object-legal-hold", "--bucket", "vault", "--key", "held", "--version-id", held)), &lh)
	if lh.LegalHold.Status != "ON" {
		t.Fatalf("legal hold: %+v", lh)
	}
	fails(admin, leader, "AccessDenied", deleteVersion("held", held, "--bypass-governance-retention")...)
	must(admin, leader, "s3api", "put-object-legal-hold", "--bucket", "vault", "--key", "held", "--version-id", held, "--legal-hold", "Status=OFF")
	json.Unmarshal([]byte(must(admin, follower, "s3api", "get-object-legal-hold", "--bucket", "vault", "--key", "held", "--version-id", held)), &lh)
	if lh.LegalHold.Status != "OFF" {
		t.Fatalf("legal hold after OFF: %+v", lh)
	}
	// Still under the default GOVERNANCE retention: only the bypass removes it now.
	fails(admin, leader, "AccessDenied", deleteVersion("held", held)...)
	must(admin, leader, deleteVersion("held", held, "--bypass-governance-retention")...)
}
