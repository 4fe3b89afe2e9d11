package s3

import (
	"bytes"
	"crypto/md5"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdks3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/banyancloud/banyan/objectstore"
	"github.com/banyancloud/banyan/objectstore/disk"
	"github.com/banyancloud/banyan/objectstore/placement"
)

// sseEnv is a TLS test env over the real erasure-coded store (3 boxes x 2 disks in
// temporary directories, whose files the tests read) with SSE-S3 configured.
func sseEnv(t *testing.T, useTLS bool) (*testEnv, []string) {
	t.Helper()
	e := startEnv(t, useTLS)
	d := &sseDisks{disks: map[string]disk.Disk{}}
	var m placement.Map
	m.Version = 1
	var dirs []string
	for b := range 3 {
		for range 2 {
			dir := t.TempDir()
			l, err := disk.OpenLocal(dir)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { l.Close() })
			d.disks[l.ID()] = l
			dirs = append(dirs, dir)
			m.Disks = append(m.Disks, placement.Disk{ID: l.ID(), Node: fmt.Sprintf("box%d", b)})
		}
	}
	topo, err := placement.New(m)
	if err != nil {
		t.Fatal(err)
	}
	d.topo = topo
	s := objectstore.New(d, objectstore.Options{HealWorkers: -1})
	t.Cleanup(func() { s.Close() })
	e.objects, e.front.objects = s, s
	e.front.SSEKey = bytes.Repeat([]byte{7}, 32)
	return e, dirs
}

type sseDisks struct {
	topo  *placement.Topology
	disks map[string]disk.Disk
}

func (d *sseDisks) Topology() *placement.Topology { return d.topo }
func (d *sseDisks) Disk(id string) disk.Disk      { return d.disks[id] }

// onDisk reports whether needle appears in any file of the disk folders.
func onDisk(t *testing.T, dirs []string, needle []byte) bool {
	t.Helper()
	found := false
	for _, dir := range dirs {
		filepath.WalkDir(dir, func(path string, de fs.DirEntry, err error) error {
			if err != nil || de.IsDir() || found {
				return nil
			}
			b, _ := os.ReadFile(path)
			found = found || bytes.Contains(b, needle)
			return nil
		})
	}
	return found
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func md5hex(b []byte) string { s := md5.Sum(b); return hex.EncodeToString(s[:]) }

type ssecKey struct{ key, md5 string }

func newSSECKey() ssecKey {
	k := randomBytes(32)
	s := md5.Sum(k)
	return ssecKey{base64.StdEncoding.EncodeToString(k), base64.StdEncoding.EncodeToString(s[:])}
}

func (e *testEnv) getRange(t *testing.T, bucket, key, rng string, k *ssecKey) ([]byte, error) {
	in := &sdks3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}
	if rng != "" {
		in.Range = aws.String(rng)
	}
	if k != nil {
		in.SSECustomerAlgorithm, in.SSECustomerKey, in.SSECustomerKeyMD5 = aws.String("AES256"), aws.String(k.key), aws.String(k.md5)
	}
	out, err := e.rootClient().GetObject(ctx, in)
	if err != nil {
		return nil, err
	}
	defer out.Body.Close()
	return io.ReadAll(out.Body)
}

// SSE-S3 is every new object's default: the plaintext never reaches the disks, the ETag
// is still the MD5, sizes are the plaintext's, and ranged reads decrypt only what they touch.
func TestSSES3ByDefault(t *testing.T) {
	e, dirs := sseEnv(t, false)
	c := e.rootClient()
	if _, err := c.CreateBucket(ctx, &sdks3.CreateBucketInput{Bucket: aws.String("enc")}); err != nil {
		t.Fatal(err)
	}
	small := []byte("the plaintext of a small object, stored inline: " + hex.EncodeToString(randomBytes(16)))
	big := randomBytes(3*64<<10 + 12345) // > the inline limit, several packages
	for key, body := range map[string][]byte{"small": small, "big": big} {
		out, err := c.PutObject(ctx, &sdks3.PutObjectInput{Bucket: aws.String("enc"), Key: aws.String(key), Body: bytes.NewReader(body)})
		if err != nil {
			t.Fatal(err)
		}
		if out.ServerSideEncryption != types.ServerSideEncryptionAes256 {
			t.Fatalf("PUT %s: x-amz-server-side-encryption %q", key, out.ServerSideEncryption)
		}
		if got := strings.Trim(aws.ToString(out.ETag), `"`); got != md5hex(body) {
			t.Fatalf("PUT %s: ETag %s, want the MD5 %s", key, got, md5hex(body))
		}
		h, err := c.HeadObject(ctx, &sdks3.HeadObjectInput{Bucket: aws.String("enc"), Key: aws.String(key)})
		if err != nil || h.ServerSideEncryption != types.ServerSideEncryptionAes256 || aws.ToInt64(h.ContentLength) != int64(len(body)) {
			t.Fatalf("HEAD %s: %v %+v", key, err, h)
		}
		got, err := e.getRange(t, "enc", key, "", nil)
		if err != nil || !bytes.Equal(got, body) {
			t.Fatalf("GET %s: %v, equal %v", key, err, bytes.Equal(got, body))
		}
	}
	if onDisk(t, dirs, small[:40]) || onDisk(t, dirs, big[64<<10:64<<10+64]) {
		t.Fatal("plaintext found in the disk folders")
	}
	for _, r := range [][2]int{{0, 0}, {65535, 65536}, {65530, 2*65536 + 10}, {len(big) - 5, len(big) - 1}, {100, len(big) - 1}} {
		got, err := e.getRange(t, "enc", "big", fmt.Sprintf("bytes=%d-%d", r[0], r[1]), nil)
		if err != nil || !bytes.Equal(got, big[r[0]:r[1]+1]) {
			t.Fatalf("range %v: %v", r, err)
		}
	}
	if got, err := e.getRange(t, "enc", "big", "bytes=-7", nil); err != nil || !bytes.Equal(got, big[len(big)-7:]) {
		t.Fatalf("suffix range: %v", err)
	}
	_, err := e.getRange(t, "enc", "big", fmt.Sprintf("bytes=%d-", len(big)), nil)
	wantCode(t, err, "InvalidRange", 416)
	list, err := c.ListObjectsV2(ctx, &sdks3.ListObjectsV2Input{Bucket: aws.String("enc")})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range list.Contents {
		if want := map[string]int{"big": len(big), "small": len(small)}[aws.ToString(o.Key)]; aws.ToInt64(o.Size) != int64(want) {
			t.Fatalf("listed %s with %d bytes, want %d", aws.ToString(o.Key), aws.ToInt64(o.Size), want)
		}
	}
	// A copy is encrypted under a key of its own, and shows the source's MD5.
	cp, err := c.CopyObject(ctx, &sdks3.CopyObjectInput{Bucket: aws.String("enc"), Key: aws.String("copy"), CopySource: aws.String("enc/big")})
	if err != nil || cp.ServerSideEncryption != types.ServerSideEncryptionAes256 || strings.Trim(aws.ToString(cp.CopyObjectResult.ETag), `"`) != md5hex(big) {
		t.Fatalf("copy: %v %+v", err, cp)
	}
	if got, err := e.getRange(t, "enc", "copy", "bytes=70000-70100", nil); err != nil || !bytes.Equal(got, big[70000:70101]) {
		t.Fatalf("copy range: %v", err)
	}
	// SSE-KMS is answered honestly: the only KMS key is the managed aws/s3 one (TestSSEKMS).
	_, err = c.PutObject(ctx, &sdks3.PutObjectInput{Bucket: aws.String("enc"), Key: aws.String("kms"), Body: bytes.NewReader(small),
		ServerSideEncryption: types.ServerSideEncryptionAwsKms, SSEKMSKeyId: aws.String("arn:aws:kms:us-east-1:111122223333:key/x")})
	wantCode(t, err, "KMS.NotFoundException", 400)
	_, err = c.PutObject(ctx, &sdks3.PutObjectInput{Bucket: aws.String("enc"), Key: aws.String("x"), Body: bytes.NewReader(small),
		ServerSideEncryption: "rot13"})
	wantCode(t, err, "InvalidArgument", 400)
	// SSE-C needs TLS, as on AWS.
	k := newSSECKey()
	_, err = c.PutObject(ctx, &sdks3.PutObjectInput{Bucket: aws.String("enc"), Key: aws.String("c"), Body: bytes.NewReader(small),
		SSECustomerAlgorithm: aws.String("AES256"), SSECustomerKey: aws.String(k.key), SSECustomerKeyMD5: aws.String(k.md5)})
	wantCode(t, err, "InvalidRequest", 400)
}

func TestSSEC(t *testing.T) {
	e, dirs := sseEnv(t, true)
	c := e.rootClient()
	if _, err := c.CreateBucket(ctx, &sdks3.CreateBucketInput{Bucket: aws.String("enc")}); err != nil {
		t.Fatal(err)
	}
	k, other := newSSECKey(), newSSECKey()
	body := randomBytes(200 << 10)
	out, err := c.PutObject(ctx, &sdks3.PutObjectInput{Bucket: aws.String("enc"), Key: aws.String("c"), Body: bytes.NewReader(body),
		SSECustomerAlgorithm: aws.String("AES256"), SSECustomerKey: aws.String(k.key), SSECustomerKeyMD5: aws.String(k.md5)})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(out.SSECustomerAlgorithm) != "AES256" || aws.ToString(out.SSECustomerKeyMD5) != k.md5 || out.ServerSideEncryption != "" {
		t.Fatalf("PUT response: %+v", out)
	}
	if strings.Trim(aws.ToString(out.ETag), `"`) == md5hex(body) {
		t.Fatal("an SSE-C object shows the MD5 of its plaintext")
	}
	if onDisk(t, dirs, body[1000:1064]) {
		t.Fatal("plaintext found in the disk folders")
	}
	_, err = c.HeadObject(ctx, &sdks3.HeadObjectInput{Bucket: aws.String("enc"), Key: aws.String("c")})
	wantCode(t, err, "BadRequest", 400) // HEAD has no body: the SDK names it by status
	_, err = e.getRange(t, "enc", "c", "", nil)
	wantCode(t, err, "InvalidRequest", 400)
	_, err = e.getRange(t, "enc", "c", "", &other)
	wantCode(t, err, "AccessDenied", 403)
	got, err := e.getRange(t, "enc", "c", "bytes=65000-140000", &k)
	if err != nil || !bytes.Equal(got, body[65000:140001]) {
		t.Fatalf("ranged GET with the key: %v", err)
	}
	h, err := c.HeadObject(ctx, &sdks3.HeadObjectInput{Bucket: aws.String("enc"), Key: aws.String("c"),
		SSECustomerAlgorithm: aws.String("AES256"), SSECustomerKey: aws.String(k.key), SSECustomerKeyMD5: aws.String(k.md5)})
	if err != nil || aws.ToInt64(h.ContentLength) != int64(len(body)) || aws.ToString(h.SSECustomerKeyMD5) != k.md5 {
		t.Fatalf("HEAD with the key: %v %+v", err, h)
	}
	// A wrong MD5 of the key, a short key.
	bad := ssecKey{k.key, other.md5}
	_, err = e.getRange(t, "enc", "c", "", &bad)
	wantCode(t, err, "InvalidArgument", 400)
	// Copy out of SSE-C into SSE-S3 needs the source's key.
	_, err = c.CopyObject(ctx, &sdks3.CopyObjectInput{Bucket: aws.String("enc"), Key: aws.String("plain"), CopySource: aws.String("enc/c")})
	wantCode(t, err, "InvalidRequest", 400)
	cp, err := c.CopyObject(ctx, &sdks3.CopyObjectInput{Bucket: aws.String("enc"), Key: aws.String("s3"), CopySource: aws.String("enc/c"),
		CopySourceSSECustomerAlgorithm: aws.String("AES256"), CopySourceSSECustomerKey: aws.String(k.key), CopySourceSSECustomerKeyMD5: aws.String(k.md5)})
	if err != nil || cp.ServerSideEncryption != types.ServerSideEncryptionAes256 {
		t.Fatalf("copy to SSE-S3: %v", err)
	}
	if got, err := e.getRange(t, "enc", "s3", "", nil); err != nil || !bytes.Equal(got, body) {
		t.Fatalf("GET of the copy: %v", err)
	}
	// SSE-C parameters on an object that is not SSE-C.
	_, err = e.getRange(t, "enc", "s3", "", &k)
	wantCode(t, err, "InvalidRequest", 400)
	// Rotate the key in place: a copy onto itself with new encryption is legal.
	if _, err := c.CopyObject(ctx, &sdks3.CopyObjectInput{Bucket: aws.String("enc"), Key: aws.String("c"), CopySource: aws.String("enc/c"),
		CopySourceSSECustomerAlgorithm: aws.String("AES256"), CopySourceSSECustomerKey: aws.String(k.key), CopySourceSSECustomerKeyMD5: aws.String(k.md5),
		SSECustomerAlgorithm: aws.String("AES256"), SSECustomerKey: aws.String(other.key), SSECustomerKeyMD5: aws.String(other.md5)}); err != nil {
		t.Fatalf("key rotation: %v", err)
	}
	if got, err := e.getRange(t, "enc", "c", "bytes=10-20", &other); err != nil || !bytes.Equal(got, body[10:21]) {
		t.Fatalf("GET after rotation: %v", err)
	}
	_, err = e.getRange(t, "enc", "c", "", &k)
	wantCode(t, err, "AccessDenied", 403)
}

func TestSSEMultipart(t *testing.T) {
	e, _ := sseEnv(t, true)
	c := e.rootClient()
	if _, err := c.CreateBucket(ctx, &sdks3.CreateBucketInput{Bucket: aws.String("enc")}); err != nil {
		t.Fatal(err)
	}
	k := newSSECKey()
	parts := [][]byte{randomBytes(5<<20 + 7), randomBytes(100 << 10)}
	for _, withKey := range []bool{false, true} {
		in := &sdks3.CreateMultipartUploadInput{Bucket: aws.String("enc"), Key: aws.String("mp")}
		if withKey {
			in.SSECustomerAlgorithm, in.SSECustomerKey, in.SSECustomerKeyMD5 = aws.String("AES256"), aws.String(k.key), aws.String(k.md5)
		}
		up, err := c.CreateMultipartUpload(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		if !withKey && up.ServerSideEncryption != types.ServerSideEncryptionAes256 {
			t.Fatalf("CreateMultipartUpload: %q", up.ServerSideEncryption)
		}
		var done []types.CompletedPart
		for i, p := range parts {
			pin := &sdks3.UploadPartInput{Bucket: aws.String("enc"), Key: aws.String("mp"), UploadId: up.UploadId,
				PartNumber: aws.Int32(int32(i + 1)), Body: bytes.NewReader(p)}
			if withKey {
				// The upload's key is required (a small body: an early answer to a
				// large one resets the connection before the client reads it).
				pin.Body = bytes.NewReader(parts[1])
				_, err := c.UploadPart(ctx, pin)
				wantCode(t, err, "InvalidRequest", 400)
				pin.Body = bytes.NewReader(p)
				pin.SSECustomerAlgorithm, pin.SSECustomerKey, pin.SSECustomerKeyMD5 = aws.String("AES256"), aws.String(k.key), aws.String(k.md5)
			}
			out, err := c.UploadPart(ctx, pin)
			if err != nil {
				t.Fatal(err)
			}
			if !withKey && strings.Trim(aws.ToString(out.ETag), `"`) != md5hex(p) {
				t.Fatalf("SSE-S3 part ETag is not its MD5")
			}
			done = append(done, types.CompletedPart{PartNumber: aws.Int32(int32(i + 1)), ETag: out.ETag})
		}
		lp, err := c.ListParts(ctx, &sdks3.ListPartsInput{Bucket: aws.String("enc"), Key: aws.String("mp"), UploadId: up.UploadId})
		if err != nil || len(lp.Parts) != 2 || aws.ToInt64(lp.Parts[0].Size) != int64(len(parts[0])) || aws.ToInt64(lp.Parts[1].Size) != int64(len(parts[1])) {
			t.Fatalf("ListParts: %v %+v", err, lp)
		}
		cm, err := c.CompleteMultipartUpload(ctx, &sdks3.CompleteMultipartUploadInput{Bucket: aws.String("enc"), Key: aws.String("mp"), UploadId: up.UploadId,
			MultipartUpload: &types.CompletedMultipartUpload{Parts: done}})
		if err != nil {
			t.Fatal(err)
		}
		if !withKey && cm.ServerSideEncryption != types.ServerSideEncryptionAes256 {
			t.Fatalf("Complete: %q", cm.ServerSideEncryption)
		}
		all := append(append([]byte{}, parts[0]...), parts[1]...)
		var kp *ssecKey
		if withKey {
			kp = &k
		}
		b := len(parts[0])
		if got, err := e.getRange(t, "enc", "mp", fmt.Sprintf("bytes=%d-%d", b-100, b+70000), kp); err != nil || !bytes.Equal(got, all[b-100:b+70001]) {
			t.Fatalf("range across the parts (key %v): %v", withKey, err)
		}
		if got, err := e.getRange(t, "enc", "mp", "", kp); err != nil || !bytes.Equal(got, all) {
			t.Fatalf("whole multipart object (key %v): %v", withKey, err)
		}
		gin := &sdks3.GetObjectInput{Bucket: aws.String("enc"), Key: aws.String("mp"), PartNumber: aws.Int32(2)}
		if withKey {
			gin.SSECustomerAlgorithm, gin.SSECustomerKey, gin.SSECustomerKeyMD5 = aws.String("AES256"), aws.String(k.key), aws.String(k.md5)
		}
		g, err := c.GetObject(ctx, gin)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(g.Body)
		g.Body.Close()
		if !bytes.Equal(got, parts[1]) || aws.ToInt64(g.ContentLength) != int64(len(parts[1])) {
			t.Fatalf("part 2: %d bytes", len(got))
		}
	}
}

func TestBucketEncryption(t *testing.T) {
	e, _ := sseEnv(t, true)
	c := e.rootClient()
	if _, err := c.CreateBucket(ctx, &sdks3.CreateBucketInput{Bucket: aws.String("enc")}); err != nil {
		t.Fatal(err)
	}
	get := func() *types.ServerSideEncryptionRule {
		t.Helper()
		out, err := c.GetBucketEncryption(ctx, &sdks3.GetBucketEncryptionInput{Bucket: aws.String("enc")})
		if err != nil || out.ServerSideEncryptionConfiguration == nil || len(out.ServerSideEncryptionConfiguration.Rules) != 1 {
			t.Fatalf("GetBucketEncryption: %v", err)
		}
		return &out.ServerSideEncryptionConfiguration.Rules[0]
	}
	if r := get(); r.ApplyServerSideEncryptionByDefault.SSEAlgorithm != types.ServerSideEncryptionAes256 {
		t.Fatalf("default: %+v", r)
	}
	put := func(rule types.ServerSideEncryptionRule) error {
		_, err := c.PutBucketEncryption(ctx, &sdks3.PutBucketEncryptionInput{Bucket: aws.String("enc"),
			ServerSideEncryptionConfiguration: &types.ServerSideEncryptionConfiguration{Rules: []types.ServerSideEncryptionRule{rule}}})
		return err
	}
	wantCode(t, put(types.ServerSideEncryptionRule{ApplyServerSideEncryptionByDefault: &types.ServerSideEncryptionByDefault{
		SSEAlgorithm: types.ServerSideEncryptionAwsKms, KMSMasterKeyID: aws.String("arn:aws:kms:us-east-1:111122223333:key/x")}}), "KMS.NotFoundException", 400)
	wantCode(t, put(types.ServerSideEncryptionRule{ApplyServerSideEncryptionByDefault: &types.ServerSideEncryptionByDefault{SSEAlgorithm: "DES"}}), "MalformedXML", 400)
	if err := put(types.ServerSideEncryptionRule{ApplyServerSideEncryptionByDefault: &types.ServerSideEncryptionByDefault{SSEAlgorithm: types.ServerSideEncryptionAes256},
		BucketKeyEnabled: aws.Bool(true), BlockedEncryptionTypes: &types.BlockedEncryptionTypes{EncryptionType: []types.EncryptionType{types.EncryptionTypeSseC}}}); err != nil {
		t.Fatal(err)
	}
	if r := get(); !aws.ToBool(r.BucketKeyEnabled) || r.BlockedEncryptionTypes == nil || len(r.BlockedEncryptionTypes.EncryptionType) != 1 {
		t.Fatalf("stored: %+v", r)
	}
	k := newSSECKey()
	_, err := c.PutObject(ctx, &sdks3.PutObjectInput{Bucket: aws.String("enc"), Key: aws.String("c"), Body: strings.NewReader("x"),
		SSECustomerAlgorithm: aws.String("AES256"), SSECustomerKey: aws.String(k.key), SSECustomerKeyMD5: aws.String(k.md5)})
	wantCode(t, err, "AccessDenied", 403)
	if _, err := c.DeleteBucketEncryption(ctx, &sdks3.DeleteBucketEncryptionInput{Bucket: aws.String("enc")}); err != nil {
		t.Fatal(err)
	}
	if r := get(); r.BlockedEncryptionTypes != nil || r.ApplyServerSideEncryptionByDefault.SSEAlgorithm != types.ServerSideEncryptionAes256 {
		t.Fatalf("after delete: %+v", r)
	}
	// Without a key for SSE-S3 there is no default encryption, and Banyan says so.
	e.front.SSEKey = nil
	_, err = c.GetBucketEncryption(ctx, &sdks3.GetBucketEncryptionInput{Bucket: aws.String("enc")})
	wantCode(t, err, "ServerSideEncryptionConfigurationNotFoundError", 404)
}

// TestSSEKMS: aws:kms with the account's managed key (no key ID, its alias, or its ARN)
// encrypts on disk, answers the key's ARN on PUT, HEAD and GET, an ETag that is not the
// MD5, ranges; a bucket default of aws:kms applies to plain PUTs and multipart uploads,
// and a copy to SSE-S3 reads back; another key or dual-layer is KMS.NotFoundException.
func TestSSEKMS(t *testing.T) {
	e, dirs := sseEnv(t, false)
	c := e.rootClient()
	if _, err := c.CreateBucket(ctx, &sdks3.CreateBucketInput{Bucket: aws.String("kms")}); err != nil {
		t.Fatal(err)
	}
	body := randomBytes(2*64<<10 + 999)
	var arn string
	for i, keyID := range []*string{nil, aws.String("alias/aws/s3"), nil} {
		if i == 2 {
			keyID = aws.String(arn)
		}
		key := fmt.Sprintf("obj%d", i)
		out, err := c.PutObject(ctx, &sdks3.PutObjectInput{Bucket: aws.String("kms"), Key: aws.String(key), Body: bytes.NewReader(body),
			ServerSideEncryption: types.ServerSideEncryptionAwsKms, SSEKMSKeyId: keyID, BucketKeyEnabled: aws.Bool(i == 1)})
		if err != nil {
			t.Fatalf("PUT aws:kms with key %v: %v", aws.ToString(keyID), err)
		}
		if arn == "" {
			arn = aws.ToString(out.SSEKMSKeyId)
		}
		if out.ServerSideEncryption != types.ServerSideEncryptionAwsKms || aws.ToString(out.SSEKMSKeyId) != arn ||
			!strings.HasPrefix(arn, "arn:aws:kms:us-east-1:") || !strings.Contains(arn, ":key/") || aws.ToBool(out.BucketKeyEnabled) != (i == 1) {
			t.Fatalf("PUT %d: %+v", i, out)
		}
		if strings.Trim(aws.ToString(out.ETag), `"`) == md5hex(body) {
			t.Fatal("an SSE-KMS object's ETag is the MD5 of its body")
		}
		h, err := c.HeadObject(ctx, &sdks3.HeadObjectInput{Bucket: aws.String("kms"), Key: aws.String(key)})
		if err != nil || h.ServerSideEncryption != types.ServerSideEncryptionAwsKms || aws.ToString(h.SSEKMSKeyId) != arn || aws.ToInt64(h.ContentLength) != int64(len(body)) {
			t.Fatalf("HEAD %s: %v %+v", key, err, h)
		}
		if got, err := e.getRange(t, "kms", key, "", nil); err != nil || !bytes.Equal(got, body) {
			t.Fatalf("GET %s: %v", key, err)
		}
	}
	if onDisk(t, dirs, body[64<<10:64<<10+64]) {
		t.Fatal("plaintext found in the disk folders")
	}
	if got, err := e.getRange(t, "kms", "obj0", "bytes=65530-70000", nil); err != nil || !bytes.Equal(got, body[65530:70001]) {
		t.Fatalf("range: %v", err)
	}
	for _, bad := range []types.ServerSideEncryption{types.ServerSideEncryptionAwsKmsDsse} {
		_, err := c.PutObject(ctx, &sdks3.PutObjectInput{Bucket: aws.String("kms"), Key: aws.String("x"), Body: bytes.NewReader(body), ServerSideEncryption: bad})
		wantCode(t, err, "KMS.NotFoundException", 400)
	}
	_, err := c.PutObject(ctx, &sdks3.PutObjectInput{Bucket: aws.String("kms"), Key: aws.String("x"), Body: bytes.NewReader(body),
		ServerSideEncryption: types.ServerSideEncryptionAwsKms, SSEKMSKeyId: aws.String("alias/mine")})
	wantCode(t, err, "KMS.NotFoundException", 400)

	// The bucket default: aws:kms with the managed key.
	if _, err := c.PutBucketEncryption(ctx, &sdks3.PutBucketEncryptionInput{Bucket: aws.String("kms"),
		ServerSideEncryptionConfiguration: &types.ServerSideEncryptionConfiguration{Rules: []types.ServerSideEncryptionRule{{
			ApplyServerSideEncryptionByDefault: &types.ServerSideEncryptionByDefault{SSEAlgorithm: types.ServerSideEncryptionAwsKms}}}}}); err != nil {
		t.Fatal(err)
	}
	ge, err := c.GetBucketEncryption(ctx, &sdks3.GetBucketEncryptionInput{Bucket: aws.String("kms")})
	if err != nil || ge.ServerSideEncryptionConfiguration.Rules[0].ApplyServerSideEncryptionByDefault.SSEAlgorithm != types.ServerSideEncryptionAwsKms ||
		aws.ToString(ge.ServerSideEncryptionConfiguration.Rules[0].ApplyServerSideEncryptionByDefault.KMSMasterKeyID) != arn {
		t.Fatalf("GetBucketEncryption: %v %+v", err, ge)
	}
	out, err := c.PutObject(ctx, &sdks3.PutObjectInput{Bucket: aws.String("kms"), Key: aws.String("plain-put"), Body: bytes.NewReader(body)})
	if err != nil || out.ServerSideEncryption != types.ServerSideEncryptionAwsKms || aws.ToString(out.SSEKMSKeyId) != arn {
		t.Fatalf("a PUT under an aws:kms default: %v %+v", err, out)
	}
	up, err := c.CreateMultipartUpload(ctx, &sdks3.CreateMultipartUploadInput{Bucket: aws.String("kms"), Key: aws.String("mp")})
	if err != nil || up.ServerSideEncryption != types.ServerSideEncryptionAwsKms {
		t.Fatalf("CreateMultipartUpload under an aws:kms default: %v %+v", err, up)
	}
	part := randomBytes(5 << 20)
	pu, err := c.UploadPart(ctx, &sdks3.UploadPartInput{Bucket: aws.String("kms"), Key: aws.String("mp"), UploadId: up.UploadId, PartNumber: aws.Int32(1), Body: bytes.NewReader(part)})
	if err != nil {
		t.Fatal(err)
	}
	done, err := c.CompleteMultipartUpload(ctx, &sdks3.CompleteMultipartUploadInput{Bucket: aws.String("kms"), Key: aws.String("mp"), UploadId: up.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{{ETag: pu.ETag, PartNumber: aws.Int32(1)}}}})
	if err != nil || done.ServerSideEncryption != types.ServerSideEncryptionAwsKms || aws.ToString(done.SSEKMSKeyId) != arn {
		t.Fatalf("CompleteMultipartUpload: %v %+v", err, done)
	}
	if got, err := e.getRange(t, "kms", "mp", "", nil); err != nil || !bytes.Equal(got, part) {
		t.Fatalf("GET of the multipart object: %v", err)
	}
	// A copy to SSE-S3.
	cp, err := c.CopyObject(ctx, &sdks3.CopyObjectInput{Bucket: aws.String("kms"), Key: aws.String("copy"), CopySource: aws.String("kms/obj0"),
		ServerSideEncryption: types.ServerSideEncryptionAes256})
	if err != nil || cp.ServerSideEncryption != types.ServerSideEncryptionAes256 {
		t.Fatalf("copy to SSE-S3: %v %+v", err, cp)
	}
	if got, err := e.getRange(t, "kms", "copy", "", nil); err != nil || !bytes.Equal(got, body) {
		t.Fatalf("GET of the copy: %v", err)
	}
}
