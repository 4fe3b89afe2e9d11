package sigv4

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// cliEnv is the environment for aws-cli and boto3: the test key, no profile files, no
// retries (a failure should show at once) and no instance metadata lookups.
func cliEnv(t *testing.T) []string {
	dir := t.TempDir()
	env := []string{
		"AWS_ACCESS_KEY_ID=" + testKeyID,
		"AWS_SECRET_ACCESS_KEY=" + testSecret,
		"AWS_DEFAULT_REGION=us-east-1",
		"AWS_CONFIG_FILE=" + filepath.Join(dir, "config"),
		"AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(dir, "credentials"),
		"AWS_MAX_ATTEMPTS=1",
		"AWS_EC2_METADATA_DISABLED=true",
		"PYTHONWARNINGS=ignore",
	}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") {
			env = append(env, kv)
		}
	}
	return env
}

func run(t *testing.T, env []string, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = env
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s%s", name, strings.Join(args, " "), err, out.String(), stderr.String())
	}
	return out.String()
}

// TestAWSCLI runs the installed aws-cli v1 against the verifier and checks every request it
// sent verified and every body decoded to what was uploaded.
func TestAWSCLI(t *testing.T) {
	if _, err := exec.LookPath("aws"); err != nil {
		t.Skip("aws-cli not installed")
	}
	object := bytes.Repeat([]byte("aws-cli body\n"), 100_000) // 1.3 MB
	file := filepath.Join(t.TempDir(), "object.bin")
	if err := os.WriteFile(file, object, 0o644); err != nil {
		t.Fatal(err)
	}
	env := cliEnv(t)
	// Each aws invocation costs a second or two of Python start-up, so this is a short
	// list; boto3 below covers more operations through the same botocore.
	cases := []struct {
		name string
		tls  bool
		args []string
		body []byte
	}{
		{"s3api put-object http", false, []string{"s3api", "put-object", "--bucket", "bkt", "--key", "dir/a b+c~é.txt", "--body", file}, object},
		{"s3api put-object https", true, []string{"s3api", "put-object", "--bucket", "bkt", "--key", "dir/a b+c~é.txt", "--body", file}, object},
		{"sts get-caller-identity", false, []string{"sts", "get-caller-identity"}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			ts, rec := newRecorder(t, c.tls)
			args := append([]string{"--endpoint-url", ts.URL}, c.args...)
			if c.tls {
				args = append(args, "--no-verify-ssl")
			}
			run(t, env, "aws", args...)
			for _, s := range rec.all() {
				t.Logf("aws %s sends: %v", c.args[0]+" "+c.args[1], s)
				if s.err != nil {
					t.Fatalf("%v", s)
				}
				if c.body != nil && !bytes.Equal(s.body, c.body) {
					t.Fatalf("server decoded %d bytes, want %d", len(s.body), len(c.body))
				}
			}
		})
	}
	// aws-cli v1's "s3 presign" (like boto3's generate_presigned_url) signs with SigV2
	// unless the profile asks for s3v4; Banyan answers SigV2 with AWS's InvalidRequest
	// (see TestSigV2Refused), so the profile banyan writes must say s3v4.
	t.Run("s3 presign s3v4", func(t *testing.T) {
		t.Parallel()
		cfg := filepath.Join(t.TempDir(), "config")
		if err := os.WriteFile(cfg, []byte("[default]\ns3 =\n    signature_version = s3v4\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		ts, rec := newRecorder(t, false)
		u := strings.TrimSpace(run(t, append(slices.Clip(env), "AWS_CONFIG_FILE="+cfg), // the last value wins
			"aws", "--endpoint-url", ts.URL, "s3", "presign", "s3://bkt/a b+c.txt", "--expires-in", "600"))
		resp, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if s := rec.only(t); !s.res.Presigned {
			t.Fatalf("%v", s)
		}
	})
}

const boto3Script = `
import sys, io, urllib.request, ssl, boto3, botocore.config
plain, tls = sys.argv[1], sys.argv[2]
body = b"boto3 body\n" * 100000
def s3(url):
    return boto3.client("s3", endpoint_url=url, verify=False,
        config=botocore.config.Config(s3={"addressing_style": "path"}))
s3(plain).put_object(Bucket="bkt", Key="dir/a b+c~é.txt", Body=body)
s3(tls).put_object(Bucket="bkt", Key="dir/a b+c~é.txt", Body=body)
s3(tls).put_object(Bucket="bkt", Key="k", Body=body, ChecksumAlgorithm="SHA256")
s3(tls).upload_fileobj(io.BytesIO(body), "bkt", "fileobj")
s3(plain).list_objects_v2(Bucket="bkt", Prefix="a b/c+d~é=&?")
boto3.client("sts", endpoint_url=plain).get_caller_identity()
v4 = boto3.client("s3", endpoint_url=plain, config=botocore.config.Config(signature_version="s3v4", s3={"addressing_style": "path"}))
url = v4.generate_presigned_url("get_object", Params={"Bucket": "bkt", "Key": "a b+c.txt"}, ExpiresIn=600)
urllib.request.urlopen(url).read()
url = v4.generate_presigned_url("put_object", Params={"Bucket": "bkt", "Key": "up"}, ExpiresIn=600)
urllib.request.urlopen(urllib.request.Request(url, data=body, method="PUT")).read()
`

// TestBoto3 does the same with boto3 (the same botocore aws-cli uses, driven as a library).
func TestBoto3(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 not installed")
	}
	if err := exec.Command("python3", "-c", "import boto3").Run(); err != nil {
		t.Skip("boto3 not installed")
	}
	plain, recPlain := newRecorder(t, false)
	tls, recTLS := newRecorder(t, true)
	run(t, cliEnv(t), "python3", "-c", boto3Script, plain.URL, tls.URL)
	body := bytes.Repeat([]byte("boto3 body\n"), 100000)
	n := 0
	for _, s := range append(recPlain.all(), recTLS.all()...) {
		t.Logf("boto3 sends: %v", s)
		if s.err != nil {
			t.Fatalf("%v", s)
		}
		if s.method == http.MethodPut {
			n++
			if !bytes.Equal(s.body, body) {
				t.Fatalf("server decoded %d bytes, want %d", len(s.body), len(body))
			}
		}
	}
	if n != 5 {
		t.Fatalf("saw %d uploads, want 5", n)
	}
}
