package objectstore

import (
	"bytes"
	"errors"
	"sync"
	"testing"

	"github.com/banyancloud/banyan/objectstore/disk"
	"github.com/banyancloud/banyan/objectstore/erasure"
	"github.com/banyancloud/banyan/objectstore/placement"
)

// testSchemes is a SchemeOverrides the tests change as they go.
type testSchemes struct {
	mu      sync.Mutex
	buckets map[string]erasure.Scheme
	classes map[placement.StorageClass]erasure.Scheme
	err     error
}

func newTestSchemes() *testSchemes {
	return &testSchemes{buckets: map[string]erasure.Scheme{}, classes: map[placement.StorageClass]erasure.Scheme{}}
}

func (o *testSchemes) BucketScheme(bucket string) (erasure.Scheme, bool, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	s, ok := o.buckets[bucket]
	return s, ok, o.err
}

func (o *testSchemes) ClassScheme(c placement.StorageClass) (erasure.Scheme, bool, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	s, ok := o.classes[c]
	return s, ok, o.err
}

func (o *testSchemes) setBucket(bucket, s string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if s == "" {
		delete(o.buckets, bucket)
		return
	}
	o.buckets[bucket] = mustScheme(s)
}

func (o *testSchemes) setClass(c placement.StorageClass, s string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if s == "" {
		delete(o.classes, c)
		return
	}
	o.classes[c] = mustScheme(s)
}

func mustScheme(s string) erasure.Scheme {
	sc, err := placement.ParseScheme(s)
	if err != nil {
		panic(err)
	}
	return sc
}

// recorded returns the scheme bucket "b"/key's latest version records, its
// set and how many disks hold it. (Disks outside the set may still hold an
// overwritten version of another scheme until the healer drops it.)
func recorded(t *testing.T, c *testCluster, key string) (erasure.Scheme, []string, int) {
	t.Helper()
	var latest *disk.Version
	holders := 0
	for _, id := range c.ids {
		m, err := c.locals[id].ReadMetadata(ctxT(t), "b", key)
		if errors.Is(err, disk.ErrFileNotFound) {
			continue
		}
		if err != nil {
			t.Fatalf("%s on %s: %v", key, id, err)
		}
		v := m.Versions[0]
		switch {
		case latest == nil || v.ModTime.After(latest.ModTime):
			latest, holders = &v, 1
		case versionKey(&v) == versionKey(latest):
			holders++
		}
	}
	if latest == nil {
		t.Fatalf("%s: on no disk", key)
	}
	e := latest.Erasure
	return erasure.Scheme{Data: e.Data, Parity: e.Parity}, e.Disks, holders
}

// checkScheme puts key with class and checks it was written with want on
// want.Total() disks and reads back.
func checkScheme(t *testing.T, c *testCluster, s *Store, key, class string, size int, want string) {
	t.Helper()
	data := randBytes(size, uint64(len(key)*size+1))
	mustPut(t, s, key, data, PutOptions{StorageClass: class})
	sc, set, holders := recorded(t, c, key)
	w := mustScheme(want)
	if sc.Data != w.Data || sc.Parity != w.Parity || len(set) != w.Total() || holders != w.Total() {
		t.Fatalf("%s (%s, %d bytes): written %d+%d on %d disks, %d hold it; want %s on %d", key, class, size,
			sc.Data, sc.Parity, len(set), holders, want, w.Total())
	}
	if got, _ := mustGet(t, s, key, GetOptions{}); !bytes.Equal(got, data) {
		t.Fatalf("%s came back different", key)
	}
}

func TestSchemeOverridePrecedence(t *testing.T) {
	c := newCluster(t, 3, 2) // automatic: 4+2
	o := newTestSchemes()
	s := newTestStore(t, c, Options{Schemes: o})
	const big = 300 << 10 // streamed to shard files, not inline

	checkScheme(t, c, s, "auto-small", "", 10, "4+2")
	checkScheme(t, c, s, "auto-big", "STANDARD", big, "4+2")

	// A bucket override applies to every class.
	o.setBucket("b", "2+1")
	checkScheme(t, c, s, "bucket-small", "", 10, "2+1")
	checkScheme(t, c, s, "bucket-big", "STANDARD", big, "2+1")
	checkScheme(t, c, s, "bucket-ia", "STANDARD_IA", big, "2+1")
	checkScheme(t, c, s, "bucket-rr", "REDUCED_REDUNDANCY", big, "2+1")

	// A class setting applies where the bucket has none, and only to its class.
	o.setBucket("b", "")
	o.setClass(placement.ReducedRedundancy, "2+1")
	checkScheme(t, c, s, "class-rr-small", "REDUCED_REDUNDANCY", 10, "2+1")
	checkScheme(t, c, s, "class-rr-big", "REDUCED_REDUNDANCY", big, "2+1")
	checkScheme(t, c, s, "class-std", "STANDARD", big, "4+2")
	o.setClass(placement.Standard, "2+2")
	checkScheme(t, c, s, "class-std2", "", big, "2+2")
	checkScheme(t, c, s, "class-glacier", "GLACIER", 10, "2+2")
	checkScheme(t, c, s, "class-rr2", "REDUCED_REDUNDANCY", 10, "2+1")

	// The bucket's override beats the class's.
	o.setBucket("b", "3+3")
	checkScheme(t, c, s, "both-rr", "REDUCED_REDUNDANCY", 10, "3+3") // 5+1 would put 2 shards on a box
	checkScheme(t, c, s, "both-std", "", big, "3+3")

	// Every object written under every setting still reads back and lists,
	// whatever the overrides are now.
	for _, bucketScheme := range []string{"", "2+1"} {
		o.setBucket("b", bucketScheme)
		o.setClass(placement.Standard, "")
		res, err := s.ListObjects(ctxT(t), "b", ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Objects) != 14 {
			t.Fatalf("bucket override %q: listed %d objects, want 14", bucketScheme, len(res.Objects))
		}
		for _, oi := range res.Objects {
			mustGet(t, s, oi.Key, GetOptions{})
		}
	}
}

// An override that does not fit fails writes, with a reason, rather than
// storing objects with less redundancy; reads go on.
func TestSchemeOverrideThatDoesNotFit(t *testing.T) {
	c := newCluster(t, 3, 2)
	o := newTestSchemes()
	s := newTestStore(t, c, Options{Schemes: o})
	o.setBucket("b", "4+4") // 8 disks
	_, err := s.PutObject(ctxT(t), "b", "k", bytes.NewReader([]byte("x")), PutOptions{Size: 1})
	if !errors.Is(err, ErrWriteQuorum) || !errors.Is(err, placement.ErrDoesNotFit) {
		t.Fatalf("4+4 on 6 disks: %v; want ErrWriteQuorum and ErrDoesNotFit", err)
	}

	o.setBucket("b", "2+1")
	checkScheme(t, c, s, "k", "", 1000, "2+1")
	// A box is removed for good: 2+1 on two boxes would lose objects with
	// a box, so writes fail rather than fall back to something else.
	var box0 []string
	for _, id := range c.ids {
		if c.node[id] == "box0" {
			box0 = append(box0, id)
		}
	}
	c.retire(t, placement.Removed, box0...)
	if _, err := s.PutObject(ctxT(t), "b", "k2", bytes.NewReader([]byte("x")), PutOptions{Size: 1}); !errors.Is(err, placement.ErrDoesNotFit) {
		t.Fatalf("2+1 on 2 boxes: %v; want ErrDoesNotFit", err)
	}
	mustGet(t, s, "k", GetOptions{})

	// A stored value that cannot be read fails writes too.
	c.retire(t, placement.Online, box0...)
	o.err = errors.New("bad value")
	if _, err := s.PutObject(ctxT(t), "b", "k3", bytes.NewReader([]byte("x")), PutOptions{Size: 1}); !errors.Is(err, ErrWriteQuorum) {
		t.Fatalf("unreadable override: %v; want ErrWriteQuorum", err)
	}
}

// Lookups of a narrow override ask enough disks that "not found" is only
// believed when one of its holders must have answered.
func TestSchemeOverrideLookups(t *testing.T) {
	c := newCluster(t, 3, 2)
	o := newTestSchemes()
	s := newTestStore(t, c, Options{Schemes: o})
	topo := c.Topology()
	for _, tc := range []struct {
		bucket, std, rr string
		size, tolerance int
	}{
		{"", "", "", 6, 2},       // automatic 4+2
		{"4+2", "", "", 6, 2},    // the same, set
		{"2+1", "", "", 5, 1},    // 3 disks, but 4 answers are needed: ask 5
		{"2+2", "", "", 6, 2},    // 4 disks, write quorum 3
		{"", "", "2+1", 5, 1},    // STANDARD 4+2 with REDUCED_REDUNDANCY 2+1
		{"", "2+1", "", 5, 1},    // STANDARD 2+1, REDUCED_REDUNDANCY its split, 2+1
		{"1+1", "", "", 5, 1},    // write quorum 2
		{"", "1+2", "1+2", 5, 1}, // write quorum 2: 4 answers must include a holder
		{"", "3+3", "", 7, 3},    // Candidates stops at the 6 disks there are
	} {
		o.setBucket("b", tc.bucket)
		o.setClass(placement.Standard, tc.std)
		o.setClass(placement.ReducedRedundancy, tc.rr)
		n, tol, err := s.lookupSize(topo, "b")
		if err != nil || n != tc.size || tol != tc.tolerance {
			t.Errorf("bucket %q, STANDARD %q, REDUCED_REDUNDANCY %q: lookups ask %d disks and tolerate %d (%v); want %d and %d",
				tc.bucket, tc.std, tc.rr, n, tol, err, tc.size, tc.tolerance)
		}
	}

	o.setBucket("b", "2+1")
	o.setClass(placement.Standard, "")
	o.setClass(placement.ReducedRedundancy, "")
	checkScheme(t, c, s, "k", "", 1000, "2+1")
	_, set, _ := recorded(t, c, "k")
	// One disk of the set down: still read.
	c.set(set[0], disk.Broken{DiskID: set[0]})
	mustGet(t, s, "k", GetOptions{})
	// Two down: the third may not have the object (a write needs only 2),
	// so the answer is "cannot tell", never "not found".
	c.set(set[1], disk.Broken{DiskID: set[1]})
	if _, _, err := s.GetObject(ctxT(t), "b", "k", GetOptions{}); !errors.Is(err, ErrReadQuorum) {
		t.Fatalf("2+1 object with 2 of its disks down: %v; want ErrReadQuorum", err)
	}
	c.mend()
	if _, _, err := s.GetObject(ctxT(t), "b", "nothing", GetOptions{}); !errors.Is(err, ErrObjectNotFound) {
		t.Fatalf("missing key: %v; want ErrObjectNotFound", err)
	}
}

// Objects written before an override keep their scheme and are found, read,
// overwritten and deleted under it.
func TestSchemeOverrideKeepsOldObjects(t *testing.T) {
	c := newCluster(t, 3, 2)
	o := newTestSchemes()
	s := newTestStore(t, c, Options{Schemes: o})
	checkScheme(t, c, s, "old", "", 300<<10, "4+2")
	o.setBucket("b", "2+1")
	if sc, _, _ := recorded(t, c, "old"); sc.Data != 4 || sc.Parity != 2 {
		t.Fatalf("old object now records %v", sc)
	}
	mustGet(t, s, "old", GetOptions{})
	checkScheme(t, c, s, "old", "", 1000, "2+1")
	if _, err := s.DeleteObject(ctxT(t), "b", "old", DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.GetObject(ctxT(t), "b", "old", GetOptions{}); !errors.Is(err, ErrObjectNotFound) {
		t.Fatalf("deleted: %v", err)
	}
}
