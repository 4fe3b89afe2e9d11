package iam

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestAWSCLI drives the installed aws-cli v1 (Python botocore: its own query encoding,
// signing and XML parsing) against the front door.
func TestAWSCLI(t *testing.T) {
	if _, err := exec.LookPath("aws"); err != nil {
		t.Skip("aws-cli not installed")
	}
	e := newEnv(t)
	_, acct := e.account("tenant-a")
	dir := t.TempDir()
	env := []string{
		"AWS_ACCESS_KEY_ID=" + acct.AccessKeyID, "AWS_SECRET_ACCESS_KEY=" + acct.SecretAccessKey,
		"AWS_DEFAULT_REGION=us-east-1", "AWS_CONFIG_FILE=" + dir + "/config", "AWS_SHARED_CREDENTIALS_FILE=" + dir + "/credentials",
		"AWS_MAX_ATTEMPTS=1", "AWS_EC2_METADATA_DISABLED=true", "PYTHONWARNINGS=ignore",
	}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") {
			env = append(env, kv)
		}
	}
	aws := func(args ...string) (string, error) {
		cmd := exec.Command("aws", append([]string{"--endpoint-url", e.url, "--output", "text"}, args...)...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := aws("iam", "create-user", "--user-name", "cli-user", "--path", "/cli/")
	if err != nil || !strings.Contains(out, "arn:aws:iam::"+acct.AccountID+":user/cli/cli-user") {
		t.Fatalf("create-user: %v\n%s", err, out)
	}
	out, err = aws("iam", "list-users", "--query", "Users[].UserName")
	if err != nil || strings.TrimSpace(out) != "cli-user" {
		t.Fatalf("list-users: %v\n%s", err, out)
	}
	out, err = aws("iam", "create-access-key", "--user-name", "cli-user", "--query", "AccessKey.[AccessKeyId,SecretAccessKey,Status]")
	fields := strings.Fields(out)
	if err != nil || len(fields) != 3 || !strings.HasPrefix(fields[0], "AKIA") || len(fields[1]) != 40 || fields[2] != "Active" {
		t.Fatalf("create-access-key: %v\n%s", err, out)
	}
	// aws-cli decodes the URL-encoded documents it gets back.
	doc := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:Get*","Resource":"*"}]}`
	if out, err = aws("iam", "put-user-policy", "--user-name", "cli-user", "--policy-name", "p", "--policy-document", doc); err != nil {
		t.Fatalf("put-user-policy: %v\n%s", err, out)
	}
	out, err = aws("iam", "get-user-policy", "--user-name", "cli-user", "--policy-name", "p", "--output", "json", "--query", "PolicyDocument.Statement[0].Action")
	if err != nil || strings.TrimSpace(out) != `"iam:Get*"` {
		t.Fatalf("get-user-policy: %v\n%s", err, out)
	}
	out, err = aws("iam", "get-user", "--user-name", "nobody")
	if err == nil || !strings.Contains(out, "NoSuchEntity") || !strings.Contains(out, "The user with name nobody cannot be found.") {
		t.Fatalf("get-user of nobody: %v\n%s", err, out)
	}
}
