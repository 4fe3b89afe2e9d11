package s3

import (
	"bytes"
	"io"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdks3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// failAfter yields n bytes and then an error, as a broken client upload would.
type failAfter struct {
	r io.Reader
}

func (f *failAfter) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err == io.EOF {
		return n, io.ErrUnexpectedEOF
	}
	return n, err
}

// Over TLS the SDK streams an unseekable body as aws-chunked with a trailing checksum:
// the object is committed only once the verifier has checked the trailer.
func TestChunkedTrailer(t *testing.T) {
	e := newTLSEnv(t)
	c := e.rootClient()
	mustBucket(t, c, "chunk")
	body := bytes.Repeat([]byte("0123456789"), 100_000)
	_, err := c.PutObject(ctx, &sdks3.PutObjectInput{Bucket: aws.String("chunk"), Key: aws.String("k"),
		Body: io.MultiReader(bytes.NewReader(body)), ContentLength: aws.Int64(int64(len(body))), ChecksumAlgorithm: types.ChecksumAlgorithmCrc32c})
	if err != nil {
		t.Fatal(err)
	}
	h, err := c.HeadObject(ctx, &sdks3.HeadObjectInput{Bucket: aws.String("chunk"), Key: aws.String("k"), ChecksumMode: types.ChecksumModeEnabled})
	if err != nil || *h.ContentLength != int64(len(body)) || h.ChecksumCRC32C == nil {
		t.Fatalf("HeadObject: %v %+v", err, h)
	}
	_, got := get(t, c, &sdks3.GetObjectInput{Bucket: aws.String("chunk"), Key: aws.String("k")})
	if got != string(body) {
		t.Fatal("body differs")
	}
	// A body that breaks off leaves nothing behind.
	_, err = c.PutObject(ctx, &sdks3.PutObjectInput{Bucket: aws.String("chunk"), Key: aws.String("broken"),
		Body: &failAfter{strings.NewReader("partial")}, ContentLength: aws.Int64(100), ChecksumAlgorithm: types.ChecksumAlgorithmCrc32})
	if err == nil {
		t.Fatal("a broken upload succeeded")
	}
	if _, err := c.HeadObject(ctx, &sdks3.HeadObjectInput{Bucket: aws.String("chunk"), Key: aws.String("broken")}); err == nil {
		t.Fatal("a broken upload left an object")
	}
}
