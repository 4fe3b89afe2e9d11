package objectstore

import (
	"errors"
	"testing"
)

func TestVersioningEnabled(t *testing.T) {
	c := newCluster(t, 3, 2)
	s := newTestStore(t, c, Options{})
	v1 := mustPut(t, s, "k", []byte("one"), PutOptions{Versioning: VersioningEnabled})
	v2 := mustPut(t, s, "k", []byte("two"), PutOptions{Versioning: VersioningEnabled})
	if v1.VersionID == NullVersionID || v1.VersionID == v2.VersionID {
		t.Fatalf("version IDs %q %q", v1.VersionID, v2.VersionID)
	}
	if got, _ := mustGet(t, s, "k", GetOptions{}); string(got) != "two" {
		t.Fatalf("latest: %q", got)
	}
	if got, _ := mustGet(t, s, "k", GetOptions{VersionID: v1.VersionID}); string(got) != "one" {
		t.Fatalf("v1: %q", got)
	}
	dm, err := s.DeleteObject(ctxT(t), "b", "k", DeleteOptions{Versioning: VersioningEnabled})
	if err != nil || !dm.DeleteMarker || dm.VersionID == NullVersionID {
		t.Fatalf("delete marker: %+v %v", dm, err)
	}
	oi, _, err := s.GetObject(ctxT(t), "b", "k", GetOptions{})
	if !errors.Is(err, ErrObjectNotFound) || !oi.DeleteMarker {
		t.Fatalf("get after delete: %+v %v", oi, err)
	}
	if _, err := s.HeadObject(ctxT(t), "b", "k", GetOptions{VersionID: dm.VersionID}); !errors.Is(err, ErrMethodNotAllowed) {
		t.Fatalf("head of marker by id: %v", err)
	}
	if got, _ := mustGet(t, s, "k", GetOptions{VersionID: v2.VersionID}); string(got) != "two" {
		t.Fatalf("v2 after marker: %q", got)
	}
	lv, err := s.ListObjectVersions(ctxT(t), "b", ListVersionsOptions{})
	if err != nil || len(lv.Versions) != 3 || !lv.Versions[0].DeleteMarker || !lv.Versions[0].IsLatest || lv.Versions[2].VersionID != v1.VersionID {
		t.Fatalf("versions: %+v %v", lv, err)
	}
	lo, err := s.ListObjects(ctxT(t), "b", ListOptions{})
	if err != nil || len(lo.Objects) != 0 {
		t.Fatalf("list with marker latest: %+v %v", lo, err)
	}
	// Removing the marker brings v2 back.
	if _, err := s.DeleteObject(ctxT(t), "b", "k", DeleteOptions{VersionID: dm.VersionID, Versioning: VersioningEnabled}); err != nil {
		t.Fatal(err)
	}
	if got, _ := mustGet(t, s, "k", GetOptions{}); string(got) != "two" {
		t.Fatalf("after removing marker: %q", got)
	}
	if _, err := s.DeleteObject(ctxT(t), "b", "k", DeleteOptions{VersionID: v2.VersionID}); err != nil {
		t.Fatal(err)
	}
	if got, _ := mustGet(t, s, "k", GetOptions{}); string(got) != "one" {
		t.Fatalf("after removing v2: %q", got)
	}
	if _, _, err := s.GetObject(ctxT(t), "b", "k", GetOptions{VersionID: v2.VersionID}); !errors.Is(err, ErrVersionNotFound) {
		t.Fatalf("removed version: %v", err)
	}
}

func TestVersioningSuspendedAndNone(t *testing.T) {
	c := newCluster(t, 1, 4)
	s := newTestStore(t, c, Options{})
	v1 := mustPut(t, s, "k", []byte("one"), PutOptions{Versioning: VersioningEnabled})
	n1 := mustPut(t, s, "k", []byte("null1"), PutOptions{Versioning: VersioningSuspended})
	n2 := mustPut(t, s, "k", []byte("null2"), PutOptions{Versioning: VersioningSuspended})
	if n1.VersionID != NullVersionID || n2.VersionID != NullVersionID {
		t.Fatal(n1.VersionID, n2.VersionID)
	}
	lv, _ := s.ListObjectVersions(ctxT(t), "b", ListVersionsOptions{})
	if len(lv.Versions) != 2 {
		t.Fatalf("suspended overwrite should replace the null version: %+v", lv.Versions)
	}
	dm, err := s.DeleteObject(ctxT(t), "b", "k", DeleteOptions{Versioning: VersioningSuspended})
	if err != nil || !dm.DeleteMarker || dm.VersionID != NullVersionID {
		t.Fatalf("suspended delete: %+v %v", dm, err)
	}
	lv, _ = s.ListObjectVersions(ctxT(t), "b", ListVersionsOptions{})
	if len(lv.Versions) != 2 || !lv.Versions[0].DeleteMarker || lv.Versions[1].VersionID != v1.VersionID {
		t.Fatalf("after suspended delete: %+v", lv.Versions)
	}
	// Never versioned: a delete removes the object.
	mustPut(t, s, "plain", []byte("x"), PutOptions{})
	mustPut(t, s, "plain", []byte("y"), PutOptions{})
	if _, err := s.DeleteObject(ctxT(t), "b", "plain", DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.HeadObject(ctxT(t), "b", "plain", GetOptions{}); !errors.Is(err, ErrObjectNotFound) {
		t.Fatalf("after plain delete: %v", err)
	}
	if _, err := s.DeleteObject(ctxT(t), "b", "never-there", DeleteOptions{}); err != nil {
		t.Fatalf("delete of a missing key: %v", err)
	}
	if err := s.DeleteBucket(ctxT(t), "b"); !errors.Is(err, ErrBucketNotEmpty) {
		t.Fatalf("delete non-empty bucket: %v", err)
	}
	for _, v := range []string{v1.VersionID, NullVersionID} {
		if _, err := s.DeleteObject(ctxT(t), "b", "k", DeleteOptions{VersionID: v}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.DeleteBucket(ctxT(t), "b"); err != nil {
		t.Fatalf("delete emptied bucket: %v", err)
	}
}

func TestPutObjectTags(t *testing.T) {
	c := newCluster(t, 1, 4)
	s := newTestStore(t, c, Options{})
	data := randBytes(300<<10, 1)
	mustPut(t, s, "k", data, PutOptions{Tags: map[string]string{"a": "1"}})
	if _, err := s.PutObjectTags(ctxT(t), "b", "k", "", map[string]string{"b": "2"}); err != nil {
		t.Fatal(err)
	}
	got, oi := mustGet(t, s, "k", GetOptions{})
	if len(oi.Tags) != 1 || oi.Tags["b"] != "2" || len(got) != len(data) {
		t.Fatalf("tags %v", oi.Tags)
	}
}
