package objectstore

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/banyancloud/banyan/objectstore/disk"
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
	if err := s.AbortMultipartUpload(ctx, "b", "dir/k0", ids[0]); err != nil {
		t.Fatal(err)
	}
	if err := s.AbortMultipartUpload(ctx, "b", "dir/k0", ids[0]); !errors.Is(err, ErrUploadNotFound) {
		t.Fatalf("second abort: %v", err)
	}
	// A bucket whose only content is unfinished uploads is empty to DeleteBucket, as
	// in AWS: the uploads go with it, parts and all.
	if err := s.DeleteBucket(ctx, "b"); err != nil {
		t.Fatalf("bucket with only uploads: %v", err)
	}
	if err := s.MakeBucket(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	if lu, err := s.ListMultipartUploads(ctx, "b", ListUploadsOptions{MaxUploads: 100}); err != nil || len(lu.Uploads) != 0 {
		t.Fatalf("uploads of the deleted bucket came back with its name: %+v %v", lu.Uploads, err)
	}
	for i, id := range ids[1:] {
		if err := s.AbortMultipartUpload(ctx, "b", fmt.Sprintf("dir/k%d", (i+1)%3), id); !errors.Is(err, ErrUploadNotFound) {
			t.Fatalf("an upload survived its bucket's deletion: %v", err)
		}
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

// restart closes every disk and opens its directory again, as when every
// box restarts, and puts the new Locals in the cluster.
func (c *testCluster) restart(t *testing.T) {
	t.Helper()
	for _, id := range c.ids {
		old := c.locals[id]
		old.Close()
		l, err := disk.OpenLocal(old.Path())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		c.mu.Lock()
		c.locals[id], c.disks[id] = l, l
		c.mu.Unlock()
	}
}

// stagedOn lists the kept staging directories of disk id.
func (c *testCluster) stagedOn(t *testing.T, id string) []string {
	t.Helper()
	names, err := c.locals[id].ListStagedUploads(context.Background(), "", 0)
	if err != nil {
		t.Fatal(err)
	}
	return names
}

// Parts uploaded before the boxes restart are still there after, and the
// object completed from them reads back byte for byte, also with some
// disks reached over node RPC.
func TestMultipartSurvivesRestart(t *testing.T) {
	c := newCluster(t, 3, 2)
	s := newTestStore(t, c, Options{})
	ctx := ctxT(t)
	id, err := s.NewMultipartUpload(ctx, "b", "big/obj", PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sizes := []int{minPartSize, minPartSize + 3, 777}
	parts := make([][]byte, len(sizes))
	var cps []CompletePart
	put := func(i int) {
		parts[i] = randBytes(sizes[i], uint64(i+7))
		pi, err := s.PutObjectPart(ctx, "b", "big/obj", id, i+1, bytes.NewReader(parts[i]), PartOptions{Size: int64(sizes[i])})
		if err != nil {
			t.Fatalf("part %d: %v", i+1, err)
		}
		cps = append(cps, CompletePart{Number: i + 1, ETag: pi.ETag})
	}
	put(0)
	put(1)
	c.restart(t)
	for _, did := range c.ids {
		if got := c.stagedOn(t, did); !slices.Equal(got, []string{id}) {
			t.Fatalf("disk %s keeps %q after restart", did, got)
		}
	}
	c.remoteBox(t, "box1")
	put(2)
	lp, err := s.ListParts(ctx, "b", "big/obj", id, 0, 0)
	if err != nil || len(lp.Parts) != 3 {
		t.Fatalf("parts after restart: %+v %v", lp, err)
	}
	// The sweep leaves an upload in progress alone.
	if err := s.sweepOrphanParts(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CompleteMultipartUpload(ctx, "b", "big/obj", id, cps, PutOptions{}); err != nil {
		t.Fatal(err)
	}
	got, _ := mustGet(t, s, "big/obj", GetOptions{})
	if want := slices.Concat(parts...); !bytes.Equal(got, want) {
		t.Fatalf("object of %d bytes differs from its %d bytes of parts", len(got), len(want))
	}
	for _, did := range c.ids {
		if got := c.stagedOn(t, did); len(got) != 0 {
			t.Fatalf("disk %s keeps %q after complete", did, got)
		}
	}
}

// What a down disk kept Abort from removing is swept once the upload is
// gone, and never while it exists.
func TestMultipartSweepsOrphanStaging(t *testing.T) {
	c := newCluster(t, 1, 4)
	s := newTestStore(t, c, Options{})
	ctx := ctxT(t)
	live, err := s.NewMultipartUpload(ctx, "b", "live", PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	gone, err := s.NewMultipartUpload(ctx, "b", "gone", PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []struct{ key, id string }{{"live", live}, {"gone", gone}} {
		if _, err := s.PutObjectPart(ctx, "b", u.key, u.id, 1, bytes.NewReader([]byte("abc")), PartOptions{Size: 3}); err != nil {
			t.Fatal(err)
		}
	}
	down := c.ids[0]
	c.set(down, disk.Broken{DiskID: down})
	if err := s.AbortMultipartUpload(ctx, "b", "gone", gone); err != nil {
		t.Fatal(err)
	}
	c.mend()
	if got := c.stagedOn(t, down); !slices.Equal(got, []string{live, gone}) && !slices.Equal(got, []string{gone, live}) {
		t.Fatalf("down disk keeps %q", got)
	}
	// The down disk also missed the index's deletion; losing that copy
	// too leaves the sweep to ask every disk.
	for _, drop := range []bool{false, true} {
		if drop {
			if err := c.locals[down].DeleteObject(ctx, multipartVolume, indexKey(gone)); err != nil {
				t.Fatal(err)
			}
			// Put the orphan back.
			if err := c.locals[down].CreateFile(ctx, "b", partPath(gone, 1), 1, bytes.NewReader([]byte("x"))); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.sweepOrphanParts(ctx); err != nil {
			t.Fatal(err)
		}
		for _, id := range c.ids {
			if got := c.stagedOn(t, id); !slices.Equal(got, []string{live}) {
				t.Fatalf("disk %s keeps %q after the sweep (drop index %v)", id, got, drop)
			}
		}
	}
	oi, err := s.CompleteMultipartUpload(ctx, "b", "live", live, []CompletePart{{Number: 1, ETag: hexMD5([]byte("abc"))}}, PutOptions{})
	if err != nil || oi.Size != 3 {
		t.Fatalf("complete after sweep: %+v %v", oi, err)
	}
}

// ListMultipartUploads pages through more uploads than a page in S3's
// order, with prefixes, delimiters and both markers.
func TestListMultipartUploadsPaging(t *testing.T) {
	c := newCluster(t, 1, 4)
	s := newTestStore(t, c, Options{})
	ctx := ctxT(t)
	c.remoteBox(t, "box0") // markers past a key ("\xff") cross node RPC
	keys := []string{"a", "a\x00b", "a/1", "a/2", "a/sub/x", "a-b", "b", "b/1", "c/d/e", "c/d/f", "z"}
	type up struct{ key, id string }
	var all []up
	for round := range 3 {
		for _, k := range keys {
			if round > 0 && k[0] != 'a' {
				continue // several uploads for some keys only
			}
			id, err := s.NewMultipartUpload(ctx, "b", k, PutOptions{})
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, up{k, id})
		}
	}
	// S3's order: by key, then in the order the uploads began.
	slices.SortStableFunc(all, func(a, b up) int { return strings.Compare(a.key, b.key) })

	// want is the listing as a flat sequence of entries, uploads as
	// "key|id", common prefixes as "cp:prefix".
	want := func(prefix, delim string) []string {
		var out []string
		for _, u := range all {
			if !strings.HasPrefix(u.key, prefix) {
				continue
			}
			if cp, ok := commonPrefix(u.key, prefix, delim); ok {
				if len(out) == 0 || out[len(out)-1] != "cp:"+cp {
					out = append(out, "cp:"+cp)
				}
				continue
			}
			out = append(out, u.key+"|"+u.id)
		}
		return out
	}
	// list pages through from the markers with pages of max entries.
	list := func(opts ListUploadsOptions) []string {
		var out []string
		for {
			res, err := s.ListMultipartUploads(ctx, "b", opts)
			if err != nil {
				t.Fatal(err)
			}
			if n := len(res.Uploads) + len(res.CommonPrefixes); n > opts.MaxUploads || res.IsTruncated && n != opts.MaxUploads {
				t.Fatalf("page of %d entries for max %d, truncated %v", n, opts.MaxUploads, res.IsTruncated)
			}
			// Uploads and prefixes of one page, merged in order.
			var page []string
			for _, u := range res.Uploads {
				page = append(page, u.Key+"|"+u.UploadID)
			}
			for _, cp := range res.CommonPrefixes {
				page = append(page, "cp:"+cp)
			}
			keyOf := func(e string) string {
				if cp, ok := strings.CutPrefix(e, "cp:"); ok {
					return cp
				}
				return e[:strings.LastIndexByte(e, '|')]
			}
			slices.SortStableFunc(page, func(a, b string) int { return strings.Compare(keyOf(a), keyOf(b)) })
			out = append(out, page...)
			if !res.IsTruncated {
				if res.NextKeyMarker != "" || res.NextUploadIDMarker != "" {
					t.Fatalf("last page has markers %q %q", res.NextKeyMarker, res.NextUploadIDMarker)
				}
				return out
			}
			opts.KeyMarker, opts.UploadIDMarker = res.NextKeyMarker, res.NextUploadIDMarker
		}
	}
	for _, tc := range []struct{ prefix, delim string }{{"", ""}, {"", "/"}, {"a", "/"}, {"a/", "/"}, {"c/", "/"}, {"a/", ""}, {"nothing", ""}} {
		for _, max := range []int{1, 2, 3, 1000} {
			got := list(ListUploadsOptions{Prefix: tc.prefix, Delimiter: tc.delim, MaxUploads: max})
			if w := want(tc.prefix, tc.delim); !slices.Equal(got, w) {
				t.Fatalf("prefix %q delimiter %q max %d:\n got %q\nwant %q", tc.prefix, tc.delim, max, got, w)
			}
		}
	}
	// A key marker alone resumes after every upload of that key (keys
	// that start with it come next); with an upload ID marker, after
	// that upload.
	var as []up
	for _, u := range all {
		if u.key == "a" {
			as = append(as, u)
		}
	}
	got := list(ListUploadsOptions{KeyMarker: "a", MaxUploads: 2})
	if w := want("", ""); !slices.Equal(got, w[len(as):]) {
		t.Fatalf("after key marker a:\n got %q\nwant %q", got, w[len(as):])
	}
	got = list(ListUploadsOptions{KeyMarker: "a", UploadIDMarker: as[0].id, MaxUploads: 2})
	if w := want("", ""); !slices.Equal(got, w[1:]) {
		t.Fatalf("after upload marker:\n got %q\nwant %q", got, w[1:])
	}
	// A key marker that is a common prefix resumes after what it rolled up.
	got = list(ListUploadsOptions{Delimiter: "/", KeyMarker: "a/", MaxUploads: 2})
	w := want("", "/")
	if i := slices.Index(w, "cp:a/"); !slices.Equal(got, w[i+1:]) {
		t.Fatalf("after common prefix marker:\n got %q\nwant %q", got, w[i+1:])
	}
}
