package s3

import (
	"bytes"
	"io"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdks3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/banyancloud/banyan/objectstore"
)

// A server-side reader of a customer's object (the image importer) gets the plaintext of
// an SSE-S3 object and its plaintext size through PlainObjects, where the object store
// alone hands out the stored ciphertext; an unencrypted object reads the same either way.
func TestPlainObjectsDecrypts(t *testing.T) {
	e, _ := sseEnv(t, false)
	c := e.rootClient()
	if _, err := c.CreateBucket(ctx, &sdks3.CreateBucketInput{Bucket: aws.String("img")}); err != nil {
		t.Fatal(err)
	}
	body := randomBytes(200 << 10)
	if _, err := c.PutObject(ctx, &sdks3.PutObjectInput{Bucket: aws.String("img"), Key: aws.String("disk.qcow2"), Body: bytes.NewReader(body)}); err != nil {
		t.Fatal(err)
	}
	read := func(l objectstore.ObjectLayer, bucket, key string) ([]byte, objectstore.ObjectInfo) {
		t.Helper()
		info, rc, err := l.GetObject(ctx, bucket, key, objectstore.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		b, err := io.ReadAll(rc)
		if err != nil {
			t.Fatal(err)
		}
		return b, info
	}
	if raw, _ := read(e.objects, "img", "disk.qcow2"); bytes.Equal(raw, body) {
		t.Fatal("the object store handed out the plaintext: the object is not encrypted, the test shows nothing")
	}
	plain := PlainObjects(e.objects, e.front.SSEKey)
	got, info := read(plain, "img", "disk.qcow2")
	if !bytes.Equal(got, body) || info.Size != int64(len(body)) {
		t.Fatalf("through PlainObjects: equal %v, size %d of %d", bytes.Equal(got, body), info.Size, len(body))
	}
	if h, err := plain.HeadObject(ctx, "img", "disk.qcow2", objectstore.GetOptions{}); err != nil || h.Size != int64(len(body)) {
		t.Fatalf("HEAD through PlainObjects: %v size %d", err, h.Size)
	}
	// A system object written by the server itself, unencrypted, reads unchanged.
	if err := e.objects.MakeBucket(ctx, "_sys"); err != nil {
		t.Fatal(err)
	}
	sys := []byte("written by the server, not encrypted")
	if _, err := e.objects.PutObject(ctx, "_sys", "k", bytes.NewReader(sys), objectstore.PutOptions{Size: int64(len(sys))}); err != nil {
		t.Fatal(err)
	}
	if got, _ := read(plain, "_sys", "k"); !bytes.Equal(got, sys) {
		t.Fatalf("an unencrypted object through PlainObjects: %q", got)
	}
}
