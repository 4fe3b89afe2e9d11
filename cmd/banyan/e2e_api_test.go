package main

// Process-level tests of the AWS front door with the real aws-cli and boto3 as clients,
// through the leader and through followers.

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// awsCLI runs the installed aws-cli v1 against endpoint with the given credentials
// files; it returns stdout, stderr and whether it succeeded.
func awsCLI(t *testing.T, env []string, endpoint string, args ...string) (string, string, bool) {
	t.Helper()
	cmd := exec.Command("aws", append([]string{"--endpoint-url", endpoint, "--output", "json"}, args...)...)
	cmd.Env = append(cleanEnv(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	return out.String(), errb.String(), err == nil
}

func needAWSCLI(t *testing.T) {
	if _, err := exec.LookPath("aws"); err != nil {
		t.Skip("aws-cli not installed")
	}
}

func adminEnv(p *proc) []string {
	return []string{
		"AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(p.dataDir, "aws", "credentials"),
		"AWS_CONFIG_FILE=" + filepath.Join(p.dataDir, "aws", "config"),
	}
}

// adminKeys is the admin's root access key from a founding node's aws-cli files.
func adminKeys(t *testing.T, p *proc) (id, secret string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(p.dataDir, "aws", "credentials"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "aws_access_key_id = "); ok {
			id = v
		}
		if v, ok := strings.CutPrefix(line, "aws_secret_access_key = "); ok {
			secret = v
		}
	}
	return id, secret
}

// cleanEnv is the environment without any AWS_ variable of the developer's.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") {
			env = append(env, kv)
		}
	}
	return env
}

func TestProcessAPIThroughEveryNode(t *testing.T) {
	if testing.Short() {
		t.Skip("process-level test")
	}
	needAWSCLI(t)
	procs := startCluster(t, 3)
	env := adminEnv(procs[0])

	var account string
	for _, p := range procs {
		endpoint := "http://" + p.ip + ":8773"
		out, errOut, ok := awsCLI(t, env, endpoint, "sts", "get-caller-identity")
		if !ok {
			t.Fatalf("get-caller-identity via %s: %s", p.ip, errOut)
		}
		var id struct{ Account, Arn string }
		json.Unmarshal([]byte(out), &id)
		if id.Arn != "arn:aws:iam::"+id.Account+":root" {
			t.Fatalf("via %s: %s", p.ip, out)
		}
		if account != "" && id.Account != account {
			t.Fatalf("nodes disagree on the admin account: %s vs %s", account, id.Account)
		}
		account = id.Account
	}

	// HTTPS on 8443 with the cluster CA's certificate.
	if out, errOut, ok := awsCLI(t, env, "https://"+procs[1].ip+":8443", "--ca-bundle", filepath.Join(procs[0].dataDir, "tls", "ca.pem"), "sts", "get-caller-identity"); !ok || !strings.Contains(out, account) {
		t.Fatalf("HTTPS: %s %s", out, errOut)
	}
	// A request signed for another region is refused.
	if _, errOut, ok := awsCLI(t, env, "http://"+procs[1].ip+":8773", "--region", "eu-west-3", "sts", "get-caller-identity"); ok || !strings.Contains(errOut, "SignatureDoesNotMatch") {
		t.Fatalf("wrong region: ok=%v %s", ok, errOut)
	}

	// Temporary credentials minted on one node work on every other.
	out, errOut, ok := awsCLI(t, env, "http://"+procs[1].ip+":8773", "sts", "get-session-token")
	if !ok {
		t.Fatalf("get-session-token: %s", errOut)
	}
	var st struct {
		Credentials struct{ AccessKeyId, SecretAccessKey, SessionToken string }
	}
	json.Unmarshal([]byte(out), &st)
	tmp := []string{"AWS_CONFIG_FILE=" + filepath.Join(procs[0].dataDir, "aws", "config"), "AWS_SHARED_CREDENTIALS_FILE=/dev/null",
		"AWS_ACCESS_KEY_ID=" + st.Credentials.AccessKeyId, "AWS_SECRET_ACCESS_KEY=" + st.Credentials.SecretAccessKey,
		"AWS_SESSION_TOKEN=" + st.Credentials.SessionToken}
	for _, p := range procs {
		if out, errOut, ok := awsCLI(t, tmp, "http://"+p.ip+":8773", "sts", "get-caller-identity"); !ok || !strings.Contains(out, account) {
			t.Fatalf("session credentials via %s: %s %s", p.ip, out, errOut)
		}
	}

	// Bad credentials get AWS's codes.
	cases := []struct {
		name string
		env  []string
		want string
	}{
		{"wrong secret", append(tmp[:3:3], "AWS_ACCESS_KEY_ID="+st.Credentials.AccessKeyId, "AWS_SECRET_ACCESS_KEY=wrong", "AWS_SESSION_TOKEN="+st.Credentials.SessionToken), "SignatureDoesNotMatch"},
		{"unknown key", append(tmp[:3:3], "AWS_ACCESS_KEY_ID=AKIAAAAAAAAAAAAAAAAA", "AWS_SECRET_ACCESS_KEY=x"), "InvalidClientTokenId"},
		{"forged session token", append(tmp[:3:3], "AWS_ACCESS_KEY_ID="+st.Credentials.AccessKeyId, "AWS_SECRET_ACCESS_KEY="+st.Credentials.SecretAccessKey, "AWS_SESSION_TOKEN=Zm9yZ2Vk"), "InvalidClientTokenId"},
	}
	for _, tc := range cases {
		_, errOut, ok := awsCLI(t, tc.env, "http://"+procs[2].ip+":8773", "sts", "get-caller-identity")
		if ok || !strings.Contains(errOut, tc.want) {
			t.Errorf("%s: ok=%v, stderr %q, want %s", tc.name, ok, errOut, tc.want)
		}
	}

	// boto3, through a follower.
	script := `
import boto3, sys
c = boto3.client("sts", endpoint_url=sys.argv[1])
print(c.get_caller_identity()["Account"])
try:
    c.assume_role(RoleArn="arn:aws:iam::%s:role/nope" % sys.argv[2], RoleSessionName="s1")
except c.exceptions.ClientError as e:
    print(e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"])
`
	cmd := exec.Command("python3", "-c", script, "http://"+procs[2].ip+":8773", account)
	cmd.Env = append(cleanEnv(), env...)
	b, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("boto3: %v\n%s", err, b)
	}
	lines := strings.Fields(string(b))
	if len(lines) != 3 || lines[0] != account || lines[1] != "AccessDenied" || lines[2] != "403" {
		t.Fatalf("boto3 output: %s", b)
	}
}
