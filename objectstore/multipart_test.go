package objectstore

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"testing"
)

func TestMultipart(t *testing.T) {
	c := newCluster(t, 3, 2)
	s := newTestStore(t, c, Options{})
	ctx := ctxT(t)
	id, err := s.NewMultipartUpload(ctx, "b", "big/obj", PutOptions{ContentType: "a/b", Metadata: map[string]string{"m": "v"}})
	if err != nil {
		t.Fatal(err)
	}
	sizes := []int{minPartSize, minPartSize + 1, 1234}
	parts := make([][]byte, len(sizes))
	infos := make([]PartInfo, len(sizes))
	// Upload out of order, and part 2 twice (the second one counts).
	for _, i := range []int{2, 0, 1} {
		parts[i] = randBytes(sizes[i], uint64(i+100))
		if i == 1 {
			if _, err := s.PutObjectPart(ctx, "b", "big/obj", id, i+1, bytes.NewReader(randBytes(100, 1)), PartOptions{Size: 100}); err != nil {
				t.Fatal(err)
			}
		}
		pi, err := s.PutObjectPart(ctx, "b", "big/obj", id, i+1, bytes.NewReader(parts[i]), PartOptions{Size: int64(len(parts[i]))})
		if err != nil {
			t.Fatal(err)
		}
		infos[i] = pi
	}
	// An extra part that Complete leaves out.
	if _, err := s.PutObjectPart(ctx, "b", "big/obj", id, 9, bytes.NewReader([]byte("extra")), PartOptions{Size: 5}); err != nil {
		t.Fatal(err)
	}
	lp, err := s.ListParts(ctx, "b", "big/obj", id, 0, 2)
	if err != nil || len(lp.Parts) != 2 || !lp.IsTruncated || lp.NextPartNumberMarker != 2 || lp.Parts[1].ETag != infos[1].ETag {
		t.Fatalf("list parts: %+v %v", lp, err)
	}
	lp, err = s.ListParts(ctx, "b", "big/obj", id, 2, 10)
	if err != nil || len(lp.Parts) != 2 || lp.IsTruncated || lp.Parts[0].Number != 3 || lp.Parts[1].Number != 9 {
		t.Fatalf("list parts page 2: %+v %v", lp, err)
	}
	lu, err := s.ListMultipartUploads(ctx, "b", ListUploadsOptions{})
	if err != nil || len(lu.Uploads) != 1 || lu.Uploads[0].UploadID != id || lu.Uploads[0].Key != "big/obj" {
		t.Fatalf("list uploads: %+v %v", lu, err)
	}
	cps := func(nums ...int) []CompletePart {
		var out []CompletePart
		for _, n := range nums {
			out = append(out, CompletePart{Number: n, ETag: `"` + infos[n-1].ETag + `"`})
		}
		return out
	}
	if _, err := s.CompleteMultipartUpload(ctx, "b", "big/obj", id, cps(2, 1, 3), PutOptions{}); !errors.Is(err, ErrInvalidPartOrder) {
		t.Fatalf("out of order: %v", err)
	}
	bad := cps(1, 2, 3)
	bad[1].ETag = "0123"
	if _, err := s.CompleteMultipartUpload(ctx, "b", "big/obj", id, bad, PutOptions{}); !errors.Is(err, ErrInvalidPart) {
		t.Fatalf("wrong etag: %v", err)
	}
	if _, err := s.CompleteMultipartUpload(ctx, "b", "big/obj", id, append(cps(1), CompletePart{Number: 4, ETag: "x"}), PutOptions{}); !errors.Is(err, ErrInvalidPart) {
		t.Fatalf("missing part: %v", err)
	}
	if _, err := s.CompleteMultipartUpload(ctx, "b", "big/obj", id, cps(1, 3, 2)[:0], PutOptions{}); !errors.Is(err, ErrInvalidPart) {
		t.Fatalf("no parts: %v", err)
	}
	tooSmall := []CompletePart{{Number: 3, ETag: infos[2].ETag}, {Number: 9, ETag: hexMD5([]byte("extra"))}}
	if _, err := s.CompleteMultipartUpload(ctx, "b", "big/obj", id, tooSmall, PutOptions{}); !errors.Is(err, ErrEntityTooSmall) {
		t.Fatalf("too small: %v", err)
	}

	oi, err := s.CompleteMultipartUpload(ctx, "b", "big/obj", id, cps(1, 2, 3), PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	h := md5.New()
	var whole []byte
	for i, p := range parts {
		raw, _ := hex.DecodeString(infos[i].ETag)
		h.Write(raw)
		whole = append(whole, p...)
	}
	wantETag := hex.EncodeToString(h.Sum(nil)) + "-3"
	if oi.ETag != wantETag || oi.Size != int64(len(whole)) || len(oi.Parts) != 3 {
		t.Fatalf("completed: %+v, want etag %s", oi, wantETag)
	}
	got, gi := mustGet(t, s, "big/obj", GetOptions{})
	if !bytes.Equal(got, whole) || gi.ContentType != "a/b" || gi.Metadata["m"] != "v" {
		t.Fatalf("multipart object: %d bytes, info %+v", len(got), gi)
	}
	// Ranges across part boundaries and part reads.
	r := Range{minPartSize - 10, minPartSize + 10}
	if got, _ := mustGet(t, s, "big/obj", GetOptions{Range: &r}); !bytes.Equal(got, whole[r.Start:r.End+1]) {
		t.Fatal("range across parts")
	}
	for i, p := range parts {
		if got, _ := mustGet(t, s, "big/obj", GetOptions{PartNumber: i + 1}); !bytes.Equal(got, p) {
			t.Fatalf("part %d", i+1)
		}
	}
	if _, err := s.ListParts(ctx, "b", "big/obj", id, 0, 0); !errors.Is(err, ErrUploadNotFound) {
		t.Fatalf("upload after complete: %v", err)
	}
	lu, _ = s.ListMultipartUploads(ctx, "b", ListUploadsOptions{})
	if len(lu.Uploads) != 0 {
		t.Fatalf("uploads left: %+v", lu)
	}
	// The unlisted part's shard file did not end up in the object.
	for _, l := range c.locals {
		if ents := dirEntries(t, l.Path()+"/.banyan.sys/tmp"); len(ents) != 0 {
			t.Fatalf("staging left: %v", ents)
		}
	}
}

func TestMultipartAbortAndUnknown(t *testing.T) {
	c := newCluster(t, 1, 4)
	s := newTestStore(t, c, Options{})
	ctx := ctxT(t)
	if _, err := s.PutObjectPart(ctx, "b", "k", "11111111-2222-4333-8444-555555555555", 1, bytes.NewReader(nil), PartOptions{}); !errors.Is(err, ErrUploadNotFound) {
		t.Fatalf("unknown upload: %v", err)
	}
	if _, err := s.PutObjectPart(ctx, "b", "k", "../../etc", 1, bytes.NewReader(nil), PartOptions{}); !errors.Is(err, ErrUploadNotFound) {
		t.Fatalf("bad upload id: %v", err)
	}
	var ids []string
	for i := range 5 {
		id, err := s.NewMultipartUpload(ctx, "b", fmt.Sprintf("dir/k%d", i%3), PutOptions{})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
		if _, err := s.PutObjectPart(ctx, "b", fmt.Sprintf("dir/k%d", i%3), id, 1, bytes.NewReader([]byte("abc")), PartOptions{Size: 3}); err != nil {
			t.Fatal(err)
		}
	}
	var seen []string
	km, um := "", ""
	for {
		lu, err := s.ListMultipartUploads(ctx, "b", ListUploadsOptions{MaxUploads: 2, KeyMarker: km, UploadIDMarker: um, Prefix: "dir/"})
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range lu.Uploads {
			seen = append(seen, u.Key+"/"+u.UploadID)
		}
		if !lu.IsTruncated {
			break
		}
		km, um = lu.NextKeyMarker, lu.NextUploadIDMarker
	}
	if len(seen) != 5 {
		t.Fatalf("paged uploads: %q", seen)
	}
	if err := s.DeleteBucket(ctx, "b"); !errors.Is(err, ErrBucketNotEmpty) {
		t.Fatalf("bucket with uploads: %v", err)
	}
	for i, id := range ids {
		if err := s.AbortMultipartUpload(ctx, "b", fmt.Sprintf("dir/k%d", i%3), id); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.AbortMultipartUpload(ctx, "b", "dir/k0", ids[0]); !errors.Is(err, ErrUploadNotFound) {
		t.Fatalf("second abort: %v", err)
	}
	if err := s.DeleteBucket(ctx, "b"); err != nil {
		t.Fatal(err)
	}
}

func hexMD5(b []byte) string {
	s := md5.Sum(b)
	return hex.EncodeToString(s[:])
}

func TestMultipartChecksum(t *testing.T) {
	c := newCluster(t, 1, 1)
	s := newTestStore(t, c, Options{})
	ctx := ctxT(t)
	id, err := s.NewMultipartUpload(ctx, "b", "k", PutOptions{ChecksumAlgorithm: "CRC32C"})
	if err != nil {
		t.Fatal(err)
	}
	var cps []CompletePart
	for i, n := range []int{minPartSize, 10} {
		pi, err := s.PutObjectPart(ctx, "b", "k", id, i+1, bytes.NewReader(randBytes(n, uint64(i))), PartOptions{Size: int64(n)})
		if err != nil || pi.Checksums["CRC32C"] == "" {
			t.Fatalf("part %d: %+v %v", i+1, pi, err)
		}
		cps = append(cps, CompletePart{Number: i + 1, ETag: pi.ETag, Checksums: pi.Checksums})
	}
	bad := append([]CompletePart(nil), cps...)
	bad[0].Checksums = map[string]string{"CRC32C": "AAAAAA=="}
	if _, err := s.CompleteMultipartUpload(ctx, "b", "k", id, bad, PutOptions{}); !errors.Is(err, ErrInvalidPart) {
		t.Fatalf("wrong part checksum: %v", err)
	}
	oi, err := s.CompleteMultipartUpload(ctx, "b", "k", id, cps, PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if sum := oi.Checksums["CRC32C"]; len(sum) < 3 || sum[len(sum)-2:] != "-2" {
		t.Fatalf("composite checksum %q", sum)
	}
}
