package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/klauspost/reedsolomon"

	"github.com/banyancloud/banyan/objectstore/placement"
)

// benchS3 measures S3 PUT/GET against the raw disk and reedsolomon's own speed, on one
// node with four disk folders and on three nodes with two each.
func benchS3(args []string) error {
	fs := flag.NewFlagSet("s3", flag.ContinueOnError)
	dir := fs.String("dir", "", "folder for data dirs and the disk probe (default: a temporary folder)")
	bin := fs.String("banyan", "", "banyan binary (default: built from this checkout)")
	objects := fs.Int("objects", 8, "64 MiB objects per PUT/GET run")
	dur := fs.Duration("duration", 5*time.Second, "how long the 4 KiB runs last")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cleanup, err := workDir(dir, bin, "banyan-bench-s3")
	if err != nil {
		return err
	}
	defer cleanup()
	// The best of three probes: a shared disk is noisy, and the aims are fractions of
	// what the disk can do, so the disk gets the benefit of the doubt.
	var wbw, rbw float64
	for range 3 {
		w, r, err := rawDisk(*dir, 512<<20)
		if err != nil {
			return fmt.Errorf("raw disk probe: %w", err)
		}
		wbw, rbw = max(wbw, w), max(rbw, r)
	}
	fmt.Printf("S3 on this machine, data in %s\n\n", *dir)
	fmt.Printf("%-52s %10.0f MiB/s\n", "raw disk: sequential write, O_DIRECT, 4 MiB (best of 3)", wbw)
	fmt.Printf("%-52s %10.0f MiB/s\n", "raw disk: sequential read, O_DIRECT, 4 MiB (best of 3)", rbw)

	for _, setup := range []struct {
		name         string
		nodes, disks int
	}{{"1 node, 4 disk folders", 1, 4}, {"3 nodes, 2 disk folders each", 3, 2}} {
		m := placement.Map{}
		for n := 0; n < setup.nodes; n++ {
			for d := 0; d < setup.disks; d++ {
				m.Disks = append(m.Disks, placement.Disk{ID: fmt.Sprintf("%d-%d", n, d), Node: fmt.Sprint(n)})
			}
		}
		scheme, _, err := placement.ChooseScheme(m)
		if err != nil {
			return err
		}
		fmt.Printf("\n%s: scheme %d+%d\n", setup.name, scheme.Data, scheme.Parity)
		fmt.Printf("%-52s %10.0f MiB/s\n", "reedsolomon encode, 1 MiB blocks (its own speed)", rsSpeed(scheme.Data, scheme.Parity))
		procs, endpoint, creds, err := startS3Servers(*bin, filepath.Join(*dir, strings.ReplaceAll(setup.name, " ", "-")), setup.nodes, setup.disks)
		if err != nil {
			stopAll(procs)
			return err
		}
		err = s3Runs(endpoint, creds, *objects, *dur, scheme.Data, scheme.Parity, wbw, rbw)
		stopAll(procs)
		if err != nil {
			return err
		}
	}
	return nil
}

func stopAll(procs []*exec.Cmd) {
	for _, p := range procs {
		p.Process.Signal(syscall.SIGKILL)
		p.Wait()
	}
}

func startS3Servers(bin, dir string, nodes, disks int) ([]*exec.Cmd, string, [2]string, error) {
	var procs []*exec.Cmd
	ipOf := func(i int) string { return fmt.Sprintf("127.0.4.%d", i) }
	start := func(i int, extra ...string) error {
		dd := filepath.Join(dir, fmt.Sprintf("n%d", i))
		args := []string{"server", "--bind", ipOf(i), "--data-dir", dd, "--compute", "off"}
		for d := 0; d < disks; d++ {
			args = append(args, "--disk", filepath.Join(dir, fmt.Sprintf("n%d-disk%d", i, d)))
		}
		os.MkdirAll(dir, 0o755)
		logf, err := os.Create(dd + ".log")
		if err != nil {
			return err
		}
		cmd := exec.Command(bin, append(args, extra...)...)
		cmd.Stdout, cmd.Stderr = logf, logf
		if err := cmd.Start(); err != nil {
			return err
		}
		procs = append(procs, cmd)
		return nil
	}
	var creds [2]string
	if err := start(1); err != nil {
		return procs, "", creds, err
	}
	var tok []byte
	if err := waitUntil(30*time.Second, func() (err error) {
		tok, err = os.ReadFile(filepath.Join(dir, "n1", "join-token"))
		return
	}); err != nil {
		return procs, "", creds, fmt.Errorf("first server did not start (see %s/n1.log): %w", dir, err)
	}
	for i := 2; i <= nodes; i++ {
		if err := start(i, "--join", ipOf(1), "--token", strings.TrimSpace(string(tok))); err != nil {
			return procs, "", creds, err
		}
	}
	var b []byte
	if err := waitUntil(30*time.Second, func() (err error) {
		b, err = os.ReadFile(filepath.Join(dir, "n1", "aws", "credentials"))
		return
	}); err != nil {
		return procs, "", creds, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "aws_access_key_id = "); ok {
			creds[0] = v
		}
		if v, ok := strings.CutPrefix(line, "aws_secret_access_key = "); ok {
			creds[1] = v
		}
	}
	// All nodes must have registered their disks before the scheme matches the table.
	endpoint := "http://" + ipOf(1) + ":8773"
	err := waitUntil(30*time.Second, func() error {
		c := s3Client(endpoint, creds)
		_, err := c.ListBuckets(context.Background(), &s3.ListBucketsInput{})
		return err
	})
	time.Sleep(time.Duration(nodes) * time.Second)
	return procs, endpoint, creds, err
}

func s3Client(endpoint string, creds [2]string) *s3.Client {
	return s3.New(s3.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(endpoint), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(creds[0], creds[1], ""),
		HTTPClient:  &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}},
	})
}

func s3Runs(endpoint string, creds [2]string, objects int, dur time.Duration, k, m int, wbw, rbw float64) error {
	ctx := context.Background()
	c := s3Client(endpoint, creds)
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("bench")}); err != nil {
		return err
	}
	body := make([]byte, 64<<20)
	rand.Read(body)
	putAll := func(unsigned bool) error {
		for i := 0; i < objects; i++ {
			_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bench"), Key: aws.String(fmt.Sprintf("big%d", i)),
				Body: bytes.NewReader(body), ContentLength: aws.Int64(int64(len(body)))}, func(o *s3.Options) {
				if unsigned {
					o.APIOptions = append(o.APIOptions, v4.SwapComputePayloadSHA256ForUnsignedPayloadMiddleware)
				}
			})
			if err != nil {
				return err
			}
		}
		return nil
	}
	start := time.Now()
	if err := putAll(false); err != nil {
		return err
	}
	put := float64(objects*64) / time.Since(start).Seconds()
	start = time.Now()
	if err := putAll(true); err != nil {
		return err
	}
	putUnsigned := float64(objects*64) / time.Since(start).Seconds()
	start = time.Now()
	if err := multipartPut(ctx, c, "bench", "multipart", body, objects); err != nil {
		return err
	}
	putMultipart := float64(objects*64) / time.Since(start).Seconds()
	// A downloader writes what it reads to a file in large pieces; io.Discard's own
	// ReadFrom would read the socket 8 KiB at a time and measure the client instead.
	buf := make([]byte, 1<<20)
	getAll := func() (float64, error) {
		start := time.Now()
		for i := 0; i < objects; i++ {
			out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bench"), Key: aws.String(fmt.Sprintf("big%d", i))})
			if err != nil {
				return 0, err
			}
			if _, err := io.CopyBuffer(struct{ io.Writer }{io.Discard}, out.Body, buf); err != nil {
				return 0, err
			}
			out.Body.Close()
		}
		return float64(objects*64) / time.Since(start).Seconds(), nil
	}
	// Large shard files are written with O_DIRECT, so the first read comes from the
	// disk; the second finds them in the page cache.
	get, err := getAll()
	if err != nil {
		return err
	}
	getWarm, err := getAll()
	if err != nil {
		return err
	}
	withParity := func(v float64) float64 { return v * float64(k+m) / float64(k) }
	fmt.Printf("%-52s %10.0f MiB/s  (%.0f MiB/s with parity: %.0f%% of raw write)\n", "PUT 64 MiB objects, 1 client, signed payload", put, withParity(put), 100*withParity(put)/wbw)
	fmt.Printf("%-52s %10.0f MiB/s  (%.0f MiB/s with parity: %.0f%% of raw write)\n", "PUT 64 MiB objects, 1 client, UNSIGNED-PAYLOAD", putUnsigned, withParity(putUnsigned), 100*withParity(putUnsigned)/wbw)
	fmt.Printf("%-52s %10.0f MiB/s  (%.0f MiB/s with parity: %.0f%% of raw write)\n", "PUT 64 MiB multipart, 8 MiB parts, 4 at a time", putMultipart, withParity(putMultipart), 100*withParity(putMultipart)/wbw)
	fmt.Printf("%-52s %10.0f MiB/s  (%.0f%% of raw read)\n", "GET 64 MiB objects, 1 client, shards from disk", get, 100*get/rbw)
	fmt.Printf("%-52s %10.0f MiB/s  (%.0f%% of raw read)\n", "GET 64 MiB objects, 1 client, again (page cache)", getWarm, 100*getWarm/rbw)

	small := make([]byte, 4096)
	rand.Read(small)
	written := make([]int, 16) // keys each PUT worker wrote, so GETs ask only for those
	for _, op := range []string{"PUT", "GET"} {
		var mu sync.Mutex
		var lat []time.Duration
		deadline := time.Now().Add(dur)
		var wg sync.WaitGroup
		var firstErr error
		for w := 0; w < 16; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; time.Now().Before(deadline); i++ {
					n := i % 200
					if op == "GET" {
						n = i % max(1, min(200, written[w]))
					}
					key := aws.String(fmt.Sprintf("small/%d/%d", w, n))
					t0 := time.Now()
					var err error
					if op == "PUT" {
						_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bench"), Key: key, Body: bytes.NewReader(small), ContentLength: aws.Int64(4096)})
					} else {
						var out *s3.GetObjectOutput
						if out, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bench"), Key: key}); err == nil {
							io.Copy(io.Discard, out.Body)
							out.Body.Close()
						}
					}
					if err != nil {
						mu.Lock()
						if firstErr == nil {
							firstErr = err
						}
						mu.Unlock()
						return
					}
					mu.Lock()
					lat = append(lat, time.Since(t0))
					if op == "PUT" && i < 200 {
						written[w] = i + 1
					}
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if firstErr != nil {
			return firstErr
		}
		s := summarize(lat)
		fmt.Printf("%-52s %10.0f ops/s  p50 %.2f ms  p99 %.2f ms\n", op+" 4 KiB objects, 16 clients", float64(len(lat))/dur.Seconds(), ms(s.p50), ms(s.p99))
	}
	return nil
}

// multipartPut uploads body n times as multipart uploads of 8 MiB parts, four parts in
// flight, as aws-cli's transfer manager does (it would use ten threads; two cores do not
// gain from more).
func multipartPut(ctx context.Context, c *s3.Client, bucket, prefix string, body []byte, n int) error {
	const partSize = 8 << 20
	for i := 0; i < n; i++ {
		key := aws.String(fmt.Sprintf("%s%d", prefix, i))
		up, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(bucket), Key: key})
		if err != nil {
			return err
		}
		parts := make([]types.CompletedPart, (len(body)+partSize-1)/partSize)
		errs := make(chan error, len(parts))
		sem := make(chan struct{}, 4)
		for p := range parts {
			sem <- struct{}{}
			go func() {
				defer func() { <-sem }()
				chunk := body[p*partSize : min(len(body), (p+1)*partSize)]
				out, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String(bucket), Key: key, UploadId: up.UploadId,
					PartNumber: aws.Int32(int32(p + 1)), Body: bytes.NewReader(chunk), ContentLength: aws.Int64(int64(len(chunk)))})
				if err == nil {
					parts[p] = types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(int32(p + 1))}
				}
				errs <- err
			}()
		}
		for range parts {
			if err := <-errs; err != nil {
				return err
			}
		}
		if _, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String(bucket), Key: key, UploadId: up.UploadId,
			MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}}); err != nil {
			return err
		}
	}
	return nil
}

// rawDisk writes then reads size bytes with O_DIRECT in 4 MiB blocks: the disk's own
// sequential bandwidth, without the page cache.
func rawDisk(dir string, size int) (write, read float64, err error) {
	path := filepath.Join(dir, "odirect-probe")
	defer os.Remove(path)
	buf := alignedBlock(4 << 20)
	rand.Read(buf)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC|syscall.O_DIRECT, 0o600)
	if err != nil {
		return 0, 0, err
	}
	start := time.Now()
	for off := 0; off < size; off += len(buf) {
		if _, err := f.Write(buf); err != nil {
			f.Close()
			return 0, 0, err
		}
	}
	f.Sync()
	write = float64(size>>20) / time.Since(start).Seconds()
	f.Close()
	f, err = os.OpenFile(path, os.O_RDONLY|syscall.O_DIRECT, 0)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	start = time.Now()
	for {
		n, err := f.Read(buf)
		if n == 0 || err != nil {
			break
		}
	}
	read = float64(size>>20) / time.Since(start).Seconds()
	return write, read, nil
}

func alignedBlock(n int) []byte {
	b := make([]byte, n+4096)
	off := int(uintptr(unsafe.Pointer(&b[0])) & 4095)
	if off != 0 {
		off = 4096 - off
	}
	return b[off : off+n]
}

// rsSpeed is reedsolomon's encode throughput in MiB/s of data for k+m on 1 MiB blocks.
func rsSpeed(k, m int) float64 {
	if m == 0 {
		return 0
	}
	enc, err := reedsolomon.New(k, m)
	if err != nil {
		return 0
	}
	shards := make([][]byte, k+m)
	for i := range shards {
		shards[i] = make([]byte, (1<<20)/k)
		rand.Read(shards[i])
	}
	n := 0
	start := time.Now()
	for time.Since(start) < 500*time.Millisecond {
		enc.Encode(shards)
		n++
	}
	return float64(n) / time.Since(start).Seconds()
}
