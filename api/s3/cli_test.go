package s3

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// cliEnv writes an aws-cli/boto3 configuration for the test server: SigV4 for S3 and
// path-style addressing, as Banyan's generated config does.
func (e *testEnv) cliEnv(t *testing.T) []string {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config")
	os.WriteFile(cfg, []byte("[default]\nregion = us-east-1\ns3 =\n    signature_version = s3v4\n    addressing_style = path\n"), 0o600)
	env := []string{"AWS_CONFIG_FILE=" + cfg, "AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(dir, "none"),
		"AWS_ACCESS_KEY_ID=" + e.root.AccessKeyID, "AWS_SECRET_ACCESS_KEY=" + e.root.SecretAccessKey,
		"AWS_DEFAULT_REGION=us-east-1", "AWS_EC2_METADATA_DISABLED=true", "HOME=" + dir, "PATH=" + os.Getenv("PATH")}
	return env
}

func TestAWSCLI(t *testing.T) {
	if _, err := exec.LookPath("aws"); err != nil {
		t.Skip("aws-cli is not installed")
	}
	if testing.Short() {
		t.Skip("aws-cli runs take seconds")
	}
	e := newEnv(t)
	env := e.cliEnv(t)
	dir := t.TempDir()
	aws := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("aws", append([]string{"--endpoint-url", e.url}, args...)...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("aws %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	big := make([]byte, 20<<20+123)
	rand.Read(big)
	src := filepath.Join(dir, "big.bin")
	os.WriteFile(src, big, 0o600)

	aws("s3", "mb", "s3://clibucket")
	// 20 MiB goes up as a multipart upload (aws-cli's threshold is 8 MiB).
	aws("s3", "cp", src, "s3://clibucket/dir/big.bin")
	ls := aws("s3", "ls", "s3://clibucket/dir/")
	if !strings.Contains(ls, "big.bin") || !strings.Contains(ls, "20971643") {
		t.Fatalf("ls: %s", ls)
	}
	head := aws("s3api", "head-object", "--bucket", "clibucket", "--key", "dir/big.bin")
	if !strings.Contains(head, `-3\"`) {
		t.Fatalf("not a 3-part multipart ETag: %s", head)
	}
	var ga struct {
		ETag        string
		ObjectSize  int64
		ObjectParts struct{ TotalPartsCount int }
	}
	out := aws("s3api", "get-object-attributes", "--bucket", "clibucket", "--key", "dir/big.bin", "--object-attributes", "ETag", "ObjectSize", "ObjectParts")
	if err := json.Unmarshal([]byte(out), &ga); err != nil || ga.ObjectSize != 20971643 || ga.ObjectParts.TotalPartsCount != 3 ||
		!strings.HasSuffix(ga.ETag, "-3") || strings.Contains(ga.ETag, `"`) {
		t.Fatalf("get-object-attributes: %v %s", err, out)
	}
	dst := filepath.Join(dir, "back.bin")
	aws("s3", "cp", "s3://clibucket/dir/big.bin", dst)
	got, _ := os.ReadFile(dst)
	if !bytes.Equal(got, big) {
		t.Fatalf("downloaded %d bytes that differ from the upload", len(got))
	}
	aws("s3api", "get-object", "--bucket", "clibucket", "--key", "dir/big.bin", "--range", "bytes=0-9", filepath.Join(dir, "range"))
	if r, _ := os.ReadFile(filepath.Join(dir, "range")); !bytes.Equal(r, big[:10]) {
		t.Fatal("ranged get-object differs")
	}
	cmd := exec.Command("aws", "--endpoint-url", e.url, "s3api", "get-object", "--bucket", "clibucket", "--key", "nope", filepath.Join(dir, "nope"))
	cmd.Env = env
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "NoSuchKey") {
		t.Fatalf("get-object of a missing key: %v %s", err, out)
	}
	aws("s3", "rm", "--recursive", "s3://clibucket/")
	if ls := aws("s3", "ls", "s3://clibucket/"); strings.TrimSpace(ls) != "" {
		t.Fatalf("left after rm: %s", ls)
	}
	aws("s3", "rb", "s3://clibucket")
}

const boto3Script = `
import sys, io, boto3, botocore, urllib.request
from botocore.config import Config
s3 = boto3.client("s3", endpoint_url=sys.argv[1], config=Config(s3={"addressing_style": "path"}, signature_version="s3v4", retries={"max_attempts": 1}))
s3.create_bucket(Bucket="boto")
s3.put_object(Bucket="boto", Key="a/b.txt", Body=b"hello", Metadata={"x": "y"})
o = s3.get_object(Bucket="boto", Key="a/b.txt")
assert o["Body"].read() == b"hello" and o["Metadata"] == {"x": "y"}, o
data = b"z" * (9 << 20)
s3.upload_fileobj(io.BytesIO(data), "boto", "multi", Config=boto3.s3.transfer.TransferConfig(multipart_threshold=5 << 20, multipart_chunksize=5 << 20))
h = s3.head_object(Bucket="boto", Key="multi")
assert h["ContentLength"] == len(data) and h["ETag"].endswith('-2"'), h
a = s3.get_object_attributes(Bucket="boto", Key="multi", ObjectAttributes=["ETag", "ObjectSize", "ObjectParts", "StorageClass"])
assert a["ETag"] == h["ETag"].strip('"') and a["ObjectSize"] == len(data) and a["ObjectParts"]["TotalPartsCount"] == 2 and a["StorageClass"] == "STANDARD", a
try:
    s3.get_object_attributes(Bucket="boto", Key="multi", ObjectAttributes=["Bogus"])
    raise SystemExit("no error")
except botocore.exceptions.ClientError as e:
    assert e.response["Error"]["Code"] == "InvalidArgument", e.response
l = s3.list_objects_v2(Bucket="boto", Delimiter="/")
assert [p["Prefix"] for p in l["CommonPrefixes"]] == ["a/"] and [c["Key"] for c in l["Contents"]] == ["multi"], l
url = s3.generate_presigned_url("get_object", Params={"Bucket": "boto", "Key": "a/b.txt"}, ExpiresIn=60)
assert urllib.request.urlopen(url).read() == b"hello"
try:
    s3.get_object(Bucket="boto", Key="missing")
    raise SystemExit("no error")
except botocore.exceptions.ClientError as e:
    assert e.response["Error"]["Code"] == "NoSuchKey", e.response
r = s3.delete_objects(Bucket="boto", Delete={"Objects": [{"Key": "a/b.txt"}, {"Key": "multi"}]})
assert len(r["Deleted"]) == 2, r
s3.delete_bucket(Bucket="boto")
print("ok")
`

func TestBoto3(t *testing.T) {
	if err := exec.Command("python3", "-c", "import boto3").Run(); err != nil {
		t.Skip("boto3 is not installed")
	}
	if testing.Short() {
		t.Skip("boto3 runs take seconds")
	}
	e := newEnv(t)
	cmd := exec.Command("python3", "-c", boto3Script, e.url)
	cmd.Env = e.cliEnv(t)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "ok") {
		t.Fatalf("boto3: %v\n%s", err, out)
	}
}
