package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
)

// TestProcessS3WithRealClients drives S3 with aws-cli and boto3 through a follower and
// the leader of a 3-node cluster with 2 disks per node.
func TestProcessS3WithRealClients(t *testing.T) {
	if testing.Short() {
		t.Skip("process-level test")
	}
	needAWSCLI(t)
	procs := startClusterDisks(t, 3, 2)
	env := adminEnv(procs[0])
	leader, follower := "http://"+procs[0].ip+":8773", "http://"+procs[2].ip+":8773"
	must := func(endpoint string, args ...string) string {
		t.Helper()
		out, errOut, ok := awsCLI(t, env, endpoint, quiet(args)...)
		if !ok {
			t.Fatalf("aws %s: %s", strings.Join(args, " "), errOut)
		}
		return out
	}
	mustAPI := func(endpoint string, args ...string) string {
		t.Helper()
		out, errOut, ok := awsCLI(t, env, endpoint, args...)
		if !ok {
			t.Fatalf("aws %s: %s", strings.Join(args, " "), errOut)
		}
		return out
	}
	must(follower, "s3", "mb", "s3://photos")

	// Sync a folder up through the follower and down through the leader.
	up, down := t.TempDir(), t.TempDir()
	for i, size := range []int{0, 1, 4096, 200 << 10, 3 << 20} {
		dir := filepath.Join(up, fmt.Sprintf("d%d", i%2))
		os.MkdirAll(dir, 0o755)
		b := make([]byte, size)
		rand.Read(b)
		os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%d.bin", i)), b, 0o644)
	}
	must(follower, "s3", "sync", up, "s3://photos/album")
	must(leader, "s3", "sync", "s3://photos/album", down)
	if a, b := treeHash(t, up), treeHash(t, down); a != b {
		t.Fatal("folder synced down differs from the one synced up")
	}

	// A 200 MiB multipart upload and download.
	big := filepath.Join(t.TempDir(), "big.bin")
	f, _ := os.Create(big)
	io.CopyN(f, rand.Reader, 200<<20)
	f.Close()
	start := time.Now()
	must(follower, "s3", "cp", big, "s3://photos/big.bin")
	t.Logf("aws s3 cp of 200 MiB took %s", time.Since(start))
	back := big + ".back"
	must(leader, "s3", "cp", "s3://photos/big.bin", back)
	if fileHash(t, big) != fileHash(t, back) {
		t.Fatal("200 MiB object came back different")
	}
	var head struct{ ETag string }
	json.Unmarshal([]byte(mustAPI(leader, "s3api", "head-object", "--bucket", "photos", "--key", "big.bin")), &head)
	if !strings.Contains(head.ETag, "-") {
		t.Fatalf("multipart ETag %q", head.ETag)
	}

	// Ranges.
	rng := filepath.Join(t.TempDir(), "range")
	mustAPI(follower, "s3api", "get-object", "--bucket", "photos", "--key", "big.bin", "--range", "bytes=1000-1999", rng)
	want := make([]byte, 1000)
	bf, _ := os.Open(big)
	bf.ReadAt(want, 1000)
	bf.Close()
	if got, _ := os.ReadFile(rng); !bytes.Equal(got, want) {
		t.Fatal("range read differs")
	}

	// Versioning.
	mustAPI(leader, "s3api", "put-bucket-versioning", "--bucket", "photos", "--versioning-configuration", "Status=Enabled")
	v1 := filepath.Join(t.TempDir(), "v")
	os.WriteFile(v1, []byte("one"), 0o644)
	var put1, put2 struct{ VersionId string }
	json.Unmarshal([]byte(mustAPI(follower, "s3api", "put-object", "--bucket", "photos", "--key", "note", "--body", v1)), &put1)
	os.WriteFile(v1, []byte("two"), 0o644)
	json.Unmarshal([]byte(mustAPI(leader, "s3api", "put-object", "--bucket", "photos", "--key", "note", "--body", v1)), &put2)
	if put1.VersionId == "" || put1.VersionId == put2.VersionId {
		t.Fatalf("version IDs %q %q", put1.VersionId, put2.VersionId)
	}
	mustAPI(follower, "s3api", "delete-object", "--bucket", "photos", "--key", "note")
	var versions struct{ Versions, DeleteMarkers []struct{ VersionId string } }
	json.Unmarshal([]byte(mustAPI(leader, "s3api", "list-object-versions", "--bucket", "photos", "--prefix", "note")), &versions)
	if len(versions.Versions) != 2 || len(versions.DeleteMarkers) != 1 {
		t.Fatalf("versions after delete: %+v", versions)
	}
	old := filepath.Join(t.TempDir(), "old")
	mustAPI(follower, "s3api", "get-object", "--bucket", "photos", "--key", "note", "--version-id", put1.VersionId, old)
	if b, _ := os.ReadFile(old); string(b) != "one" {
		t.Fatalf("first version reads %q", b)
	}

	// A presigned URL fetched with curl, and anonymous GET only once a bucket policy allows it.
	url := strings.TrimSpace(must(leader, "s3", "presign", "s3://photos/album/d0/f2.bin", "--expires-in", "300"))
	if out, err := exec.Command("curl", "-sf", "-o", "/dev/null", "-w", "%{http_code}", url).Output(); err != nil || string(out) != "200" {
		t.Fatalf("presigned GET with curl: %s %v", out, err)
	}
	anon := "http://" + procs[1].ip + ":8773/photos/album/d0/f2.bin"
	if code := httpStatus(t, anon); code != 403 {
		t.Fatalf("anonymous GET without a policy: %d", code)
	}
	policy := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::photos/album/*"}]}`
	mustAPI(leader, "s3api", "put-bucket-policy", "--bucket", "photos", "--policy", policy)
	if code := httpStatus(t, anon); code != 200 {
		t.Fatalf("anonymous GET with a public-read policy: %d", code)
	}
	if code := httpStatus(t, "http://"+procs[1].ip+":8773/photos/big.bin"); code != 403 {
		t.Fatalf("anonymous GET outside the policy: %d", code)
	}

	// boto3 through a follower.
	script := `
import boto3, sys
c = boto3.client("s3", endpoint_url=sys.argv[1])
c.put_object(Bucket="photos", Key="boto/x", Body=b"hello boto")
print(c.get_object(Bucket="photos", Key="boto/x")["Body"].read().decode())
print(len(c.list_objects_v2(Bucket="photos", Prefix="album/", Delimiter="/")["CommonPrefixes"]))
`
	cmd := exec.Command("python3", "-c", script, follower)
	cmd.Env = append(cleanEnv(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil || strings.Fields(string(out))[0] != "hello" || strings.Fields(string(out))[2] != "2" {
		t.Fatalf("boto3: %v\n%s", err, out)
	}

	// Any region by default: aws-cli configured for another region works as it is.
	if _, errOut, ok := awsCLI(t, env, follower, "--region", "us-west-2", "s3", "ls", "s3://photos/album/"); !ok {
		t.Fatalf("aws --region us-west-2 s3 ls: %s", errOut)
	}
	// Strict (s3.strict_region): a request signed for another region is told which one to
	// sign for, as AWS tells it (an SDK that does not follow gets the error), and botocore
	// signs again for it on its own.
	if out, err := exec.Command(banyanBin, "setting", "set", "s3.strict_region", "true", "--data-dir", procs[0].dataDir).CombinedOutput(); err != nil {
		t.Fatalf("banyan setting set s3.strict_region: %v %s", err, out)
	}
	id, secret := adminKeys(t, procs[0])
	west := s3.New(s3.Options{Region: "us-west-2", BaseEndpoint: aws.String(follower), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(id, secret, "")})
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := west.ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: aws.String("photos")})
		var re *awshttp.ResponseError
		if errors.As(err, &re) && re.HTTPStatusCode() == 400 && re.Response.Header.Get("x-amz-bucket-region") == "us-east-1" &&
			strings.Contains(err.Error(), "AuthorizationHeaderMalformed") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a request signed for us-west-2 with strict regions: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if out, errOut, ok := awsCLI(t, env, follower, "--region", "us-west-2", "s3", "ls", "s3://photos/album/"); !ok || !strings.Contains(out, "d0/") {
		t.Fatalf("aws --region us-west-2 s3 ls with strict regions: %s %s", out, errOut)
	}
}

func httpStatus(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func fileHash(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	io.Copy(h, f)
	return hex.EncodeToString(h.Sum(nil))
}

// shardFiles lists the shard files under a node's disk folders with their hashes.
func shardFiles(t *testing.T, p *proc) map[string]string {
	t.Helper()
	out := map[string]string{}
	disks, _ := filepath.Glob(p.dataDir + "-disk*")
	for _, d := range disks {
		filepath.WalkDir(d, func(path string, e fs.DirEntry, err error) error {
			if err == nil && !e.IsDir() && strings.HasPrefix(e.Name(), "part.") && !strings.Contains(path, ".banyan.sys") {
				out[path] = fileHash(t, path)
			}
			return nil
		})
	}
	return out
}

// TestProcessS3SurvivesBoxLoss: a box dies and every object still reads back and new
// writes succeed; it returns and healing restores full redundancy (proved by losing
// another box afterwards); a corrupted shard and a wiped disk are repaired.
func TestProcessS3SurvivesBoxLoss(t *testing.T) {
	if testing.Short() {
		t.Skip("process-level test")
	}
	needAWSCLI(t)
	procs := startClusterDisks(t, 3, 2)
	env := adminEnv(procs[0])
	ep := func(i int) string { return "http://" + procs[i].ip + ":8773" }
	must := func(endpoint string, args ...string) string {
		t.Helper()
		out, errOut, ok := awsCLI(t, env, endpoint, quiet(args)...)
		if !ok {
			for _, p := range procs {
				p.dumpLog()
			}
			t.Fatalf("aws %s: %s", strings.Join(args, " "), errOut)
		}
		return out
	}
	// heal runs `banyan heal` until a pass leaves nothing degraded: a box that has
	// just come back may not answer node RPC for a moment after gossip saw it.
	heal := func() {
		t.Helper()
		var out string
		for try := 0; try < 20; try++ {
			var code int
			code, out = run(t, "heal", "--data-dir", procs[0].dataDir)
			if code != 0 {
				for _, p := range procs {
					p.dumpLog()
				}
				t.Fatalf("heal: %s", out)
			}
			if strings.Contains(out, " 0 left degraded") {
				t.Logf("heal: %s", strings.TrimSpace(out))
				return
			}
			time.Sleep(250 * time.Millisecond)
		}
		t.Fatalf("heal leaves objects degraded with every box up: %s", out)
	}
	must(ep(0), "s3", "mb", "s3://vault")
	src := t.TempDir()
	for i, size := range []int{100, 50 << 10, 2 << 20, 3<<20 + 7} {
		b := make([]byte, size)
		rand.Read(b)
		os.WriteFile(filepath.Join(src, fmt.Sprintf("before%d", i)), b, 0o644)
	}
	must(ep(1), "s3", "sync", src, "s3://vault/")
	checkAll := func(endpoint string) {
		t.Helper()
		dst := t.TempDir()
		must(endpoint, "s3", "sync", "s3://vault/", dst)
		if a, b := treeHash(t, src), treeHash(t, dst); a != b {
			t.Fatalf("objects read back through %s differ from what was written", endpoint)
		}
	}

	// Box 3 dies: everything still reads, and writes go on.
	procs[2].kill()
	checkAll(ep(0))
	b := make([]byte, 1<<20)
	rand.Read(b)
	os.WriteFile(filepath.Join(src, "during"), b, 0o644)
	must(ep(1), "s3", "cp", filepath.Join(src, "during"), "s3://vault/during")
	checkAll(ep(1))

	// It comes back; healing rebuilds what it missed. Then box 2 dies: with full
	// redundancy restored, nothing is lost.
	procs[2] = startProc(t, procs[2].ip, procs[2].dataDir, procs[2].args...)
	waitServing(t, procs[2])
	waitFor(t, 30*time.Second, "box 3 alive again", func() error {
		st, err := status(procs[0].rpcAddr())
		if err != nil {
			return err
		}
		for _, m := range st.Members {
			if m.Status != "alive" {
				return fmt.Errorf("%s is %s", m.Name, m.Status)
			}
		}
		return nil
	})
	heal()
	procs[1].kill()
	checkAll(ep(0))
	procs[1] = startProc(t, procs[1].ip, procs[1].dataDir, procs[1].args...)
	waitServing(t, procs[1])
	waitFor(t, 30*time.Second, "box 2 alive again", func() error {
		st, err := status(procs[0].rpcAddr())
		if err != nil {
			return err
		}
		for _, m := range st.Members {
			if m.Status != "alive" {
				return fmt.Errorf("%s is %s", m.Name, m.Status)
			}
		}
		return nil
	})
	heal()

	// Corrupt one shard file: reads still return the right bytes, and heal repairs it.
	shards := shardFiles(t, procs[0])
	if len(shards) == 0 {
		t.Fatal("no shard files on box 1")
	}
	var victim string
	for path := range shards {
		victim = path
		break
	}
	data, _ := os.ReadFile(victim)
	for i := 40; i < len(data) && i < 4000; i += 97 {
		data[i] ^= 0xff
	}
	os.WriteFile(victim, data, 0o644)
	checkAll(ep(2))
	heal()
	healed := shardFiles(t, procs[0])
	if !sameHashes(shards, healed) {
		t.Fatal("the corrupted shard was not restored")
	}

	// Wipe a whole disk folder: heal rebuilds its shards.
	disk := procs[1].dataDir + "-disk0"
	before := shardFiles(t, procs[1])
	entries, _ := os.ReadDir(disk)
	for _, e := range entries {
		if e.Name() != ".banyan.sys" {
			os.RemoveAll(filepath.Join(disk, e.Name()))
		}
	}
	checkAll(ep(1))
	heal()
	if after := shardFiles(t, procs[1]); !sameHashes(before, after) {
		t.Fatalf("wiped disk not rebuilt: %d shard files before, %d after", len(before), len(after))
	}
}

// sameHashes compares two sets of shard files by content (a heal may write a file under
// a new data directory name).
func sameHashes(a, b map[string]string) bool {
	list := func(m map[string]string) []string {
		var out []string
		for _, h := range m {
			out = append(out, h)
		}
		sort.Strings(out)
		return out
	}
	x, y := list(a), list(b)
	if len(x) != len(y) {
		return false
	}
	for i := range x {
		if x[i] != y[i] {
			return false
		}
	}
	return true
}

// quiet keeps aws s3 transfer commands from printing progress.
func quiet(args []string) []string {
	if len(args) > 1 && args[0] == "s3" && (args[1] == "cp" || args[1] == "sync" || args[1] == "mv" || args[1] == "rm") {
		return append(args, "--only-show-errors")
	}
	return args
}

// waitServing waits until a (re)started box answers the AWS API.
func waitServing(t *testing.T, p *proc) {
	t.Helper()
	waitFor(t, 30*time.Second, p.ip+" serves the API", func() error {
		resp, err := http.Get("http://" + p.ip + ":8773/")
		if err != nil {
			return err
		}
		resp.Body.Close()
		return nil
	})
}

// TestProcessS3ConditionalWritesAcrossNodes: PUTs with If-None-Match: * of one key, sent
// at the same moment through every node, succeed exactly once.
func TestProcessS3ConditionalWritesAcrossNodes(t *testing.T) {
	if testing.Short() {
		t.Skip("process-level test")
	}
	procs := startClusterDisks(t, 3, 1)
	id, secret := adminKeys(t, procs[0])
	clients := make([]*s3.Client, len(procs))
	for i, p := range procs {
		clients[i] = s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String("http://" + p.ip + ":8773"), UsePathStyle: true,
			Credentials: credentials.NewStaticCredentialsProvider(id, secret, "")})
	}
	ctx := context.Background()
	if _, err := clients[0].CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("race")}); err != nil {
		t.Fatal(err)
	}
	for round := 0; round < 10; round++ {
		key := aws.String(fmt.Sprintf("k%d", round))
		var wg sync.WaitGroup
		var mu sync.Mutex
		won, lost := 0, 0
		for i, c := range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("race"), Key: key, IfNoneMatch: aws.String("*"),
					Body: strings.NewReader(fmt.Sprintf("writer %d", i))})
				mu.Lock()
				defer mu.Unlock()
				var ae smithy.APIError
				switch {
				case err == nil:
					won++
				case errors.As(err, &ae) && (ae.ErrorCode() == "PreconditionFailed" || ae.ErrorCode() == "ConditionalRequestConflict"):
					lost++
				default:
					t.Errorf("round %d writer %d: %v", round, i, err)
				}
			}()
		}
		wg.Wait()
		if won != 1 || lost != len(clients)-1 {
			t.Fatalf("round %d: %d writes won and %d lost; exactly one must win", round, won, lost)
		}
	}
}
