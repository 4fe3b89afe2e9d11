package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestProcessIAMPolicies drives IAM and STS with the real aws-cli against a 3-node
// cluster: users are denied until a policy allows them, an explicit Deny wins, a
// condition on aws:SourceIp holds, assumed-role credentials work on every node, and one
// account cannot see another's users.
func TestProcessIAMPolicies(t *testing.T) {
	if testing.Short() {
		t.Skip("process-level test")
	}
	needAWSCLI(t)
	procs := startCluster(t, 3)
	admin := adminEnv(procs[0])
	leader, follower := "http://"+procs[0].ip+":8773", "http://"+procs[2].ip+":8773"
	conf := "AWS_CONFIG_FILE=" + filepath.Join(procs[0].dataDir, "aws", "config")

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

	must(admin, follower, "iam", "create-user", "--user-name", "alice")
	var key struct {
		AccessKey struct{ AccessKeyId, SecretAccessKey string }
	}
	json.Unmarshal([]byte(must(admin, leader, "iam", "create-access-key", "--user-name", "alice")), &key)
	alice := []string{conf, "AWS_SHARED_CREDENTIALS_FILE=/dev/null",
		"AWS_ACCESS_KEY_ID=" + key.AccessKey.AccessKeyId, "AWS_SECRET_ACCESS_KEY=" + key.AccessKey.SecretAccessKey}

	// The key written through the leader authenticates on a follower at once.
	must(alice, follower, "sts", "get-caller-identity")
	fails(alice, follower, "AccessDenied", "iam", "list-users")

	allow := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:List*","iam:Get*","sts:AssumeRole"],"Resource":"*"}]}`
	must(admin, follower, "iam", "put-user-policy", "--user-name", "alice", "--policy-name", "read", "--policy-document", allow)
	must(alice, follower, "iam", "list-users")

	deny := `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"iam:ListUsers","Resource":"*"}]}`
	must(admin, leader, "iam", "put-user-policy", "--user-name", "alice", "--policy-name", "no-list", "--policy-document", deny)
	fails(alice, follower, "AccessDenied", "iam", "list-users")
	must(alice, follower, "iam", "get-user")
	must(admin, leader, "iam", "delete-user-policy", "--user-name", "alice", "--policy-name", "no-list")

	// aws:SourceIp: allowed from 127.0.0.0/8 (where the test runs), denied from elsewhere.
	ipOK := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:ListGroups","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"127.0.0.0/8"}}}]}`
	ipNo := `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"iam:ListRoles","Resource":"*","Condition":{"NotIpAddress":{"aws:SourceIp":"10.9.9.0/24"}}}]}`
	must(admin, leader, "iam", "put-user-policy", "--user-name", "alice", "--policy-name", "ip", "--policy-document", ipOK)
	must(admin, leader, "iam", "put-user-policy", "--user-name", "alice", "--policy-name", "ipdeny", "--policy-document", ipNo)
	must(alice, follower, "iam", "list-groups")
	fails(alice, follower, "AccessDenied", "iam", "list-roles")

	// A role alice may assume; its session works on every node.
	var acct struct{ Account string }
	json.Unmarshal([]byte(must(admin, leader, "sts", "get-caller-identity")), &acct)
	trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + acct.Account + `:user/alice"},"Action":"sts:AssumeRole"}]}`
	must(admin, leader, "iam", "create-role", "--role-name", "reader", "--assume-role-policy-document", trust)
	must(admin, leader, "iam", "put-role-policy", "--role-name", "reader", "--policy-name", "p", "--policy-document",
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:ListUsers","Resource":"*"}]}`)
	var ar struct {
		Credentials     struct{ AccessKeyId, SecretAccessKey, SessionToken, Expiration string }
		AssumedRoleUser struct{ Arn string }
	}
	json.Unmarshal([]byte(must(alice, follower, "sts", "assume-role", "--role-arn", "arn:aws:iam::"+acct.Account+":role/reader", "--role-session-name", "s1")), &ar)
	exp, err := time.Parse(time.RFC3339, ar.Credentials.Expiration)
	if err != nil || time.Until(exp) < 50*time.Minute {
		t.Fatalf("session expiry %q", ar.Credentials.Expiration)
	}
	session := []string{conf, "AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_ACCESS_KEY_ID=" + ar.Credentials.AccessKeyId,
		"AWS_SECRET_ACCESS_KEY=" + ar.Credentials.SecretAccessKey, "AWS_SESSION_TOKEN=" + ar.Credentials.SessionToken}
	for _, p := range procs {
		out := must(session, "http://"+p.ip+":8773", "sts", "get-caller-identity")
		if !strings.Contains(out, "assumed-role/reader/s1") {
			t.Fatalf("session identity via %s: %s", p.ip, out)
		}
		must(session, "http://"+p.ip+":8773", "iam", "list-users")
	}
	fails(session, follower, "AccessDenied", "iam", "create-user", "--user-name", "mallory")

	// A second account sees none of the first's users and cannot touch them.
	code, out := run(t, "account", "create", "tenant2", "--data-dir", procs[1].dataDir)
	if code != 0 {
		t.Fatalf("account create: %s", out)
	}
	var id, secret string
	for _, line := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(line, "aws_access_key_id = "); ok {
			id = v
		}
		if v, ok := strings.CutPrefix(line, "aws_secret_access_key = "); ok {
			secret = v
		}
	}
	tenant := []string{conf, "AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_ACCESS_KEY_ID=" + id, "AWS_SECRET_ACCESS_KEY=" + secret}
	if users := must(tenant, follower, "iam", "list-users"); strings.Contains(users, "alice") {
		t.Fatalf("tenant2 sees alice: %s", users)
	}
	fails(tenant, follower, "NoSuchEntity", "iam", "get-user", "--user-name", "alice")
	fails(tenant, follower, "NoSuchEntity", "iam", "delete-user", "--user-name", "alice")
}
