package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// TestProcessSchemeOverrides: `banyan bucket scheme` and the scheme.CLASS settings change
// the scheme of new objects (counted as shard files on the boxes' disks), refuse what does
// not fit the disk map, and show in `banyan status`.
func TestProcessSchemeOverrides(t *testing.T) {
	if testing.Short() {
		t.Skip("process-level test")
	}
	procs := startClusterDisks(t, 3, 2) // 6 disks on 3 boxes: automatic 4+2
	dd := procs[0].dataDir
	var id, secret string
	b, _ := os.ReadFile(filepath.Join(dd, "aws", "credentials"))
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "aws_access_key_id = "); ok {
			id = v
		}
		if v, ok := strings.CutPrefix(line, "aws_secret_access_key = "); ok {
			secret = v
		}
	}
	client := func(p *proc) *s3.Client {
		return s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String("http://" + p.ip + ":8773"), UsePathStyle: true,
			Credentials: credentials.NewStaticCredentialsProvider(id, secret, "")})
	}
	ctx := context.Background()
	for _, bucket := range []string{"narrow", "plain"} {
		if _, err := client(procs[1]).CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
			t.Fatal(err)
		}
	}
	banyan := func(wantOK bool, args ...string) string {
		t.Helper()
		code, out := run(t, append(args, "--data-dir", dd)...)
		if (code == 0) != wantOK {
			t.Fatalf("banyan %s: exit %d: %s", strings.Join(args, " "), code, out)
		}
		if wantOK && len(args) >= 3 {
			// A change goes through Raft: wait until every box has applied it before
			// writing through another one.
			waitApplied(t, procs)
		}
		return out
	}
	// put writes a 300 KiB object (shard files, not inline) through one box, reads it
	// back through another, and returns how many disks took a shard file of it.
	put := func(bucket, key string, class types.StorageClass) int {
		t.Helper()
		body := make([]byte, 300<<10)
		rand.Read(body)
		if _, err := client(procs[2]).PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key),
			Body: bytes.NewReader(body), StorageClass: class}); err != nil {
			t.Fatalf("put %s/%s: %v", bucket, key, err)
		}
		got, err := client(procs[0]).GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
		if err != nil {
			t.Fatalf("get %s/%s: %v", bucket, key, err)
		}
		back, _ := io.ReadAll(got.Body)
		got.Body.Close()
		if !bytes.Equal(back, body) {
			t.Fatalf("%s/%s came back different", bucket, key)
		}
		sep := string(filepath.Separator)
		n := 0
		for _, p := range procs {
			for path := range shardFiles(t, p) {
				if strings.Contains(path, sep+bucket+sep+key+sep) {
					n++
				}
			}
		}
		return n
	}

	if out := banyan(true, "bucket", "scheme", "narrow"); !strings.HasPrefix(out, "auto\n") || !strings.Contains(out, "STANDARD 4+2") {
		t.Fatalf("scheme of a new bucket: %q", out)
	}
	if n := put("narrow", "before", ""); n != 6 {
		t.Fatalf("automatic 4+2 object on %d disks", n)
	}
	banyan(true, "bucket", "scheme", "narrow", "2+1")
	if out := banyan(true, "bucket", "scheme", "narrow"); !strings.HasPrefix(out, "2+1\n") {
		t.Fatalf("scheme after setting 2+1: %q", out)
	}
	if n := put("narrow", "after", ""); n != 3 {
		t.Fatalf("object of a 2+1 bucket on %d disks", n)
	}
	if n := put("plain", "std", ""); n != 6 {
		t.Fatalf("object of a bucket without an override on %d disks", n)
	}
	// Refusals: a scheme wider than the map, one that puts two shards of an object on a
	// box with one parity shard, a bucket that does not exist, bad syntax.
	if out := banyan(false, "bucket", "scheme", "narrow", "4+4"); !strings.Contains(out, "does not fit") || !strings.Contains(out, "needs 8 disks") {
		t.Fatalf("4+4 on 6 disks: %q", out)
	}
	if out := banyan(false, "bucket", "scheme", "narrow", "5+1"); !strings.Contains(out, "does not fit") {
		t.Fatalf("5+1 on 3 boxes: %q", out)
	}
	if out := banyan(false, "bucket", "scheme", "nosuch", "2+1"); !strings.Contains(out, `no bucket named "nosuch"`) {
		t.Fatalf("missing bucket: %q", out)
	}
	if out := banyan(false, "bucket", "scheme", "narrow", "two"); !strings.Contains(out, "data+parity") {
		t.Fatalf("bad syntax: %q", out)
	}
	if out := banyan(true, "bucket", "scheme", "narrow"); !strings.HasPrefix(out, "2+1\n") {
		t.Fatalf("a refused scheme changed the bucket: %q", out)
	}

	// A storage class's setting applies to buckets without an override of their own.
	banyan(true, "setting", "set", "scheme.REDUCED_REDUNDANCY", "2+1")
	if out := banyan(false, "setting", "set", "scheme.STANDARD", "4+4"); !strings.Contains(out, "does not fit") {
		t.Fatalf("4+4 as a class setting: %q", out)
	}
	if out := banyan(false, "setting", "set", "scheme.GLACIER", "2+1"); !strings.Contains(out, "scheme.STANDARD") {
		t.Fatalf("a class without a scheme of its own: %q", out)
	}
	if n := put("plain", "rr", types.StorageClassReducedRedundancy); n != 3 {
		t.Fatalf("REDUCED_REDUNDANCY object with scheme.REDUCED_REDUNDANCY=2+1 on %d disks", n)
	}
	if n := put("plain", "std2", types.StorageClassStandard); n != 6 {
		t.Fatalf("STANDARD object on %d disks", n)
	}
	out := banyan(true, "status")
	for _, want := range []string{"STANDARD 4+2 (automatic)", "REDUCED_REDUNDANCY 2+1 (setting scheme.REDUCED_REDUNDANCY)", "buckets with a scheme override: 1"} {
		if !strings.Contains(out, want) {
			t.Fatalf("banyan status lacks %q:\n%s", want, out)
		}
	}

	// Back to automatic: new objects get 4+2 again; the old ones still read.
	banyan(true, "bucket", "scheme", "narrow", "auto")
	banyan(true, "setting", "set", "scheme.REDUCED_REDUNDANCY", "auto")
	if n := put("narrow", "again", types.StorageClassReducedRedundancy); n != 6 {
		t.Fatalf("object after going back to auto on %d disks", n)
	}
	for _, key := range []string{"before", "after"} {
		if _, err := client(procs[1]).HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("narrow"), Key: aws.String(key)}); err != nil {
			t.Fatalf("head %s: %v", key, err)
		}
	}
	if out := banyan(true, "status"); !strings.Contains(out, "buckets with a scheme override: 0") {
		t.Fatalf("banyan status after clearing:\n%s", out)
	}
}
