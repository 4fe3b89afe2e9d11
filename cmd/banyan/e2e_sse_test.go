package main

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

// TestProcessS3Encryption drives server-side encryption with aws-sdk-go-v2 against a
// 3-box cluster of real banyan processes: SSE-S3 by default (PUT and multipart through
// one box, read back through another, ranges included), SSE-C over HTTPS (8443, the
// cluster CA) and refused over HTTP, the wrong or a missing key refused, and no
// plaintext anywhere in the boxes' disk folders.
func TestProcessS3Encryption(t *testing.T) {
	if testing.Short() {
		t.Skip("process-level test")
	}
	procs := startClusterDisks(t, 3, 1)
	var id, secret string
	b, _ := os.ReadFile(filepath.Join(procs[0].dataDir, "aws", "credentials"))
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "aws_access_key_id = "); ok {
			id = v
		}
		if v, ok := strings.CutPrefix(line, "aws_secret_access_key = "); ok {
			secret = v
		}
	}
	caPEM, err := os.ReadFile(filepath.Join(procs[0].dataDir, "tls", "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	httpsClient := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	client := func(endpoint string, hc *http.Client) *s3.Client {
		o := s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(endpoint), UsePathStyle: true,
			Credentials: credentials.NewStaticCredentialsProvider(id, secret, ""), RetryMaxAttempts: 1}
		if hc != nil {
			o.HTTPClient = hc
		}
		return s3.New(o)
	}
	plain0, plain1 := client("http://"+procs[0].ip+":8773", nil), client("http://"+procs[1].ip+":8773", nil)
	tls1, tls2 := client("https://"+procs[1].ip+":8443", httpsClient), client("https://"+procs[2].ip+":8443", httpsClient)
	ctx := context.Background()
	code := func(err error) string {
		var ae smithy.APIError
		if errors.As(err, &ae) {
			return ae.ErrorCode()
		}
		return "no API error: " + sseErrText(err)
	}
	get := func(c *s3.Client, key, rng string, k []string) ([]byte, *s3.GetObjectOutput, error) {
		in := &s3.GetObjectInput{Bucket: aws.String("vault"), Key: aws.String(key)}
		if rng != "" {
			in.Range = aws.String(rng)
		}
		if k != nil {
			in.SSECustomerAlgorithm, in.SSECustomerKey, in.SSECustomerKeyMD5 = aws.String("AES256"), aws.String(k[0]), aws.String(k[1])
		}
		out, err := c.GetObject(ctx, in)
		if err != nil {
			return nil, nil, err
		}
		defer out.Body.Close()
		body, err := io.ReadAll(out.Body)
		return body, out, err
	}
	if _, err := plain0.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("vault")}); err != nil {
		t.Fatal(err)
	}
	enc, err := plain1.GetBucketEncryption(ctx, &s3.GetBucketEncryptionInput{Bucket: aws.String("vault")})
	if err != nil || enc.ServerSideEncryptionConfiguration.Rules[0].ApplyServerSideEncryptionByDefault.SSEAlgorithm != types.ServerSideEncryptionAes256 {
		t.Fatalf("GetBucketEncryption: %v", err)
	}

	// A recognizable plaintext: a marker line repeated over several packages.
	marker := []byte("BANYAN-SSE-PLAINTEXT-MARKER-" + hex.EncodeToString(sseRandom(8)) + "\n")
	body := bytes.Repeat(marker, 300<<10/len(marker))
	small := append([]byte("small inline "), marker...)
	for key, data := range map[string][]byte{"big": body, "small": small} {
		out, err := plain0.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("vault"), Key: aws.String(key), Body: bytes.NewReader(data)})
		if err != nil {
			t.Fatal(err)
		}
		if sum := md5.Sum(data); out.ServerSideEncryption != types.ServerSideEncryptionAes256 || strings.Trim(aws.ToString(out.ETag), `"`) != hex.EncodeToString(sum[:]) {
			t.Fatalf("PUT %s: %q %s", key, out.ServerSideEncryption, aws.ToString(out.ETag))
		}
		got, gout, err := get(plain1, key, "", nil)
		if err != nil || !bytes.Equal(got, data) || gout.ServerSideEncryption != types.ServerSideEncryptionAes256 {
			t.Fatalf("GET %s through another box: %v", key, err)
		}
	}
	if got, _, err := get(plain1, "big", "bytes=65530-200000", nil); err != nil || !bytes.Equal(got, body[65530:200001]) {
		t.Fatalf("ranged GET: %v", err)
	}

	// Multipart, SSE-S3, through the second box; read through the first.
	parts := [][]byte{bytes.Repeat(marker, (5<<20)/len(marker)+1), bytes.Repeat(marker, 1000)}
	up, err := plain1.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("vault"), Key: aws.String("mp")})
	if err != nil || up.ServerSideEncryption != types.ServerSideEncryptionAes256 {
		t.Fatalf("CreateMultipartUpload: %v", err)
	}
	var done []types.CompletedPart
	for i, p := range parts {
		out, err := plain1.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("vault"), Key: aws.String("mp"), UploadId: up.UploadId,
			PartNumber: aws.Int32(int32(i + 1)), Body: bytes.NewReader(p)})
		if err != nil {
			t.Fatal(err)
		}
		done = append(done, types.CompletedPart{PartNumber: aws.Int32(int32(i + 1)), ETag: out.ETag})
	}
	if _, err := plain1.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String("vault"), Key: aws.String("mp"),
		UploadId: up.UploadId, MultipartUpload: &types.CompletedMultipartUpload{Parts: done}}); err != nil {
		t.Fatal(err)
	}
	all := append(append([]byte{}, parts[0]...), parts[1]...)
	n0 := len(parts[0])
	if got, _, err := get(plain0, "mp", fmt.Sprintf("bytes=%d-%d", n0-10, n0+100), nil); err != nil || !bytes.Equal(got, all[n0-10:n0+101]) {
		t.Fatalf("range across parts: %v", err)
	}
	if got, _, err := get(plain0, "mp", "", nil); err != nil || !bytes.Equal(got, all) {
		t.Fatalf("whole multipart object: %v", err)
	}

	// SSE-C: only over TLS; the key is needed to read, a wrong one is refused.
	raw := sseRandom(32)
	sum := md5.Sum(raw)
	key := []string{base64.StdEncoding.EncodeToString(raw), base64.StdEncoding.EncodeToString(sum[:])}
	rawOther := sseRandom(32)
	sumOther := md5.Sum(rawOther)
	other := []string{base64.StdEncoding.EncodeToString(rawOther), base64.StdEncoding.EncodeToString(sumOther[:])}
	putC := func(c *s3.Client) error {
		_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("vault"), Key: aws.String("customer"), Body: bytes.NewReader(body),
			SSECustomerAlgorithm: aws.String("AES256"), SSECustomerKey: aws.String(key[0]), SSECustomerKeyMD5: aws.String(key[1])})
		return err
	}
	if err := putC(plain0); code(err) != "InvalidRequest" {
		t.Fatalf("SSE-C over HTTP: %v", err)
	}
	if err := putC(tls2); err != nil {
		t.Fatalf("SSE-C over HTTPS: %v", err)
	}
	if _, _, err := get(tls1, "customer", "", nil); code(err) != "InvalidRequest" {
		t.Fatalf("GET of an SSE-C object without its key: %v", err)
	}
	if _, _, err := get(tls1, "customer", "", other); code(err) != "AccessDenied" {
		t.Fatalf("GET with another key: %v", err)
	}
	got, gout, err := get(tls1, "customer", "bytes=1000-99999", key)
	if err != nil || !bytes.Equal(got, body[1000:100000]) || aws.ToString(gout.SSECustomerKeyMD5) != key[1] {
		t.Fatalf("ranged GET with the key: %v", err)
	}

	// Nothing of the plaintext is in any file of any box's disk folder.
	files := 0
	for _, p := range procs {
		dirs, _ := filepath.Glob(p.dataDir + "-disk*")
		for _, d := range dirs {
			filepath.WalkDir(d, func(path string, e fs.DirEntry, err error) error {
				if err != nil || e.IsDir() {
					return nil
				}
				files++
				b, _ := os.ReadFile(path)
				if bytes.Contains(b, marker[:24]) {
					t.Errorf("plaintext found in %s", path)
				}
				return nil
			})
		}
	}
	if files == 0 {
		t.Fatal("no files in the disk folders: the check above proved nothing")
	}
}

func sseRandom(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func sseErrText(err error) string {
	if err == nil {
		return "nil"
	}
	return err.Error()
}
