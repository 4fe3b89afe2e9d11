package objectstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/banyancloud/banyan/objectstore/disk"
)

// Acknowledged writes must never read as absent. These tests take one
// disk's folder away under a workload, as a fault-injection run did with
// `mv /data/n2/disk1 /data/n2/disk1.away; sleep 5; mv back`, and check
// every acknowledged key during the fault, after it, after healing every
// key and after a scan.
//
// A 4+2 object is acknowledged on 4 disks when 2 disks of its set missed
// the write (a box down or unreachable at the time): such objects, made
// with a box broken before the fault, are read through the whole test. If
// a disk whose folder is gone answers "no such object" rather than "disk
// not available", it counts as a disk that answered and lacks the object,
// and an object acknowledged on 4 disks, one of them that disk, is found
// on 3 and reads as absent (and the healer, once the version is older than
// its grace period, deletes it from the other 3).

// ackedModel is what clients were told: for each key the bytes of the last
// acknowledged write (nil: an acknowledged delete), or unsure after an
// operation that failed (then either outcome is allowed until the next
// acknowledged one).
type ackedModel struct {
	mu     sync.Mutex
	data   map[string][]byte
	unsure map[string]bool
	when   map[string]time.Time
}

func newAckedModel() *ackedModel {
	return &ackedModel{data: map[string][]byte{}, unsure: map[string]bool{}, when: map[string]time.Time{}}
}

func (m *ackedModel) set(key string, data []byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.data[key], m.unsure[key], m.when[key] = data, false, time.Now()
}

func (m *ackedModel) fail(key string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.unsure[key] = true
}

func (m *ackedModel) get(key string) (data []byte, known bool, when time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, ok := m.data[key]
	return m.data[key], ok && !m.unsure[key], m.when[key]
}

func (m *ackedModel) keys() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var ks []string
	for k := range m.data {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// checkAcked reads key and compares it with the model: "" when it agrees,
// else what is wrong. An error other than "no such key" (quorum not
// reached: the client is told to retry) is no violation.
func checkAcked(ctx context.Context, s *Store, m *ackedModel, key string) string {
	want, known, when := m.get(key)
	if !known {
		return ""
	}
	_, rc, err := s.GetObject(ctx, "b", key, GetOptions{})
	switch {
	case want == nil && errors.Is(err, ErrObjectNotFound):
		return ""
	case want == nil && err == nil:
		rc.Close()
		return fmt.Sprintf("%s: deleted %s ago but still readable", key, time.Since(when).Round(time.Millisecond))
	case errors.Is(err, ErrObjectNotFound):
		return fmt.Sprintf("%s: %d bytes acknowledged %s ago, now no such key", key, len(want), time.Since(when).Round(time.Millisecond))
	case err != nil:
		return ""
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		return ""
	}
	if !bytes.Equal(got, want) {
		return fmt.Sprintf("%s: read %d bytes that differ from the %d acknowledged", key, len(got), len(want))
	}
	return ""
}

// checkListed lists prefix and reports acknowledged keys of the model
// under it that the listing lacks ("" when none, or when the listing
// failed).
func checkListed(ctx context.Context, s *Store, m *ackedModel, prefix string) string {
	res, err := s.ListObjects(ctx, "b", ListOptions{Prefix: prefix})
	if err != nil {
		return ""
	}
	var missing []string
	for _, k := range m.keys() {
		if !strings.HasPrefix(k, prefix) {
			continue
		}
		if want, known, _ := m.get(k); known && want != nil && !slices.ContainsFunc(res.Objects, func(o ObjectInfo) bool { return o.Key == k }) {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		return fmt.Sprintf("listing %q lacks acknowledged keys %q", prefix, missing)
	}
	return ""
}

// putDegraded writes n objects while box0 is down, so that each is
// acknowledged on exactly the 4 disks of box1 and box2, and records them
// under "deg/" in m.
func putDegraded(t *testing.T, c *testCluster, s *Store, m *ackedModel, n int) {
	t.Helper()
	c.breakBox("box0")
	for i := range n {
		size := []int{1, 5 << 10, 100 << 10}[i%3]
		data := randBytes(size, uint64(1000+i))
		key := fmt.Sprintf("deg/%d", i)
		mustPut(t, s, key, data, PutOptions{})
		m.set(key, data)
	}
	c.mend()
}

// ackedWorkload runs six clients doing PUT, GET and DELETE (unversioned
// bucket: a PUT overwrites the null version) of their own keys through
// the stores at random, and reading the keys already in m, while fault
// runs; then it checks every key of m after the fault, after healing each
// and after a scan. It returns the violations seen.
func ackedWorkload(t *testing.T, c *testCluster, stores []*Store, m *ackedModel, dur time.Duration, fault func(stop <-chan struct{})) []string {
	t.Helper()
	const workers, keysPer = 6, 6
	var (
		vmu        sync.Mutex
		violations []string
	)
	report := func(when, v string) {
		if v != "" {
			vmu.Lock()
			violations = append(violations, when+": "+v)
			vmu.Unlock()
		}
	}
	fixed := m.keys()
	ctx := ctxT(t)
	stop := make(chan struct{})
	faultDone := make(chan struct{})
	go func() {
		defer close(faultDone)
		fault(stop)
	}()
	var ops atomic.Int64
	var wg sync.WaitGroup
	deadline := time.Now().Add(dur)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 7))
			for i := 0; time.Now().Before(deadline); i++ {
				ops.Add(1)
				s := stores[r.IntN(len(stores))]
				key := fmt.Sprintf("w%d/k%d", w, r.IntN(keysPer))
				switch x := r.IntN(20); {
				case x < 8:
					size := []int{0, 10, 3 << 10, 40 << 10, 200 << 10}[r.IntN(5)]
					data := randBytes(size, uint64(w)<<32|uint64(i))
					if _, err := s.PutObject(ctx, "b", key, bytes.NewReader(data), PutOptions{Size: int64(size)}); err != nil {
						m.fail(key)
						continue
					}
					m.set(key, data)
				case x < 10:
					if _, err := s.DeleteObject(ctx, "b", key, DeleteOptions{}); err != nil {
						m.fail(key)
						continue
					}
					m.set(key, nil)
				case x < 14:
					report("during the fault", checkAcked(ctx, s, m, key))
				case x < 19 && len(fixed) > 0:
					report("during the fault", checkAcked(ctx, s, m, fixed[r.IntN(len(fixed))]))
				default:
					report("during the fault", checkListed(ctx, s, m, "deg/"))
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	<-faultDone
	t.Logf("%d operations during the fault", ops.Load())
	s := stores[0]
	check := func(when string) {
		for _, k := range m.keys() {
			report(when, checkAcked(ctx, s, m, k))
		}
		report(when, checkListed(ctx, s, m, ""))
	}
	check("after the fault")
	for _, k := range m.keys() {
		s.HealObject(ctx, "b", k)
	}
	check("after healing")
	s.ScanOnce(ctx)
	check("after a scan")
	return violations
}

func failViolations(t *testing.T, violations []string) {
	t.Helper()
	for i, v := range violations {
		if i == 10 {
			t.Errorf("... and %d more", len(violations)-i)
			break
		}
		t.Error(v)
	}
}

// sleepOrStop waits d, or less when stop is closed; it reports whether
// stop was closed.
func sleepOrStop(stop <-chan struct{}, d time.Duration) bool {
	select {
	case <-stop:
		return true
	case <-time.After(d):
		return false
	}
}

// twoNodes is two stores over one cluster with a shared cluster lock, as
// two boxes' front ends are.
func twoNodes(t *testing.T, c *testCluster) []*Store {
	lk := &sharedLocker{}
	opts := Options{BlockSize: 32 << 10, InlineLimit: 16 << 10, HealWorkers: 1, Locker: lk}
	return []*Store{newTestStore(t, c, opts), newTestStore(t, c, opts)}
}

// TestAckedSurvivesDiskFolderRenamedAway: one disk's folder is renamed
// away and back again and again under a workload.
func TestAckedSurvivesDiskFolderRenamedAway(t *testing.T) {
	c := newCluster(t, 3, 2)
	stores := twoNodes(t, c)
	m := newAckedModel()
	putDegraded(t, c, stores[0], m, 12)
	victim := c.locals[c.ids[2]].Path() // box1: holds every degraded object
	r := rand.New(rand.NewPCG(3, 4))
	failViolations(t, ackedWorkload(t, c, stores, m, 3*time.Second, func(stop <-chan struct{}) {
		for {
			if err := os.Rename(victim, victim+".away"); err != nil {
				t.Errorf("rename away: %v", err)
				return
			}
			stopped := sleepOrStop(stop, time.Duration(100+r.IntN(400))*time.Millisecond)
			if err := os.Rename(victim+".away", victim); err != nil {
				t.Errorf("rename back: %v", err)
				return
			}
			if stopped || sleepOrStop(stop, time.Duration(r.IntN(200))*time.Millisecond) {
				return
			}
		}
	}))
}

// TestAckedSurvivesDiskFolderRecreated: while one disk's folder is away,
// something creates an empty folder at its path, so that `mv disk.away
// disk` moves the disk inside it: the path now holds no disk at all. The
// disk must count as unavailable (not as a disk without objects), create
// nothing there, and serve again once the folder is put back.
func TestAckedSurvivesDiskFolderRecreated(t *testing.T) {
	c := newCluster(t, 3, 2)
	stores := twoNodes(t, c)
	m := newAckedModel()
	putDegraded(t, c, stores[0], m, 12)
	id := c.ids[2]
	l := c.locals[id]
	victim := l.Path()
	inside := filepath.Join(victim, filepath.Base(victim)+".away")
	failViolations(t, ackedWorkload(t, c, stores, m, 2*time.Second, func(stop <-chan struct{}) {
		if err := os.Rename(victim, victim+".away"); err != nil {
			t.Errorf("rename away: %v", err)
			return
		}
		if err := os.Mkdir(victim, 0o755); err != nil {
			t.Errorf("recreate: %v", err)
			return
		}
		// What mv does when its target is a directory.
		if err := os.Rename(victim+".away", inside); err != nil {
			t.Errorf("mv back: %v", err)
			return
		}
		<-stop
	}))
	info, err := l.Info(ctxT(t))
	if err != nil || info.Healthy {
		t.Errorf("a disk whose folder holds no disk: Info %+v, %v; want unhealthy", info, err)
	}
	if names := dirEntries(t, victim); !slices.Equal(names, []string{filepath.Base(inside)}) {
		t.Errorf("the folder at the disk's path holds %q: the disk created entries in a folder that is not it", names)
	}
	if _, err := l.ReadMetadata(ctxT(t), "b", "deg/0"); !errors.Is(err, disk.ErrDiskNotFound) {
		t.Errorf("ReadMetadata on a disk whose folder is gone: %v, want ErrDiskNotFound", err)
	}
	// The operator puts the folder back: the disk serves again, no restart.
	if err := os.Rename(inside, victim+".away"); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(victim); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(victim+".away", victim); err != nil {
		t.Fatal(err)
	}
	if info, err := l.Info(ctxT(t)); err != nil || !info.Healthy {
		t.Errorf("disk back in place: Info %+v, %v; want healthy", info, err)
	}
	mustPut(t, stores[0], "after", []byte("back"), PutOptions{})
	if meta, err := l.ReadMetadata(ctxT(t), "b", "after"); err != nil || len(meta.Versions) != 1 {
		t.Errorf("a write after the disk came back did not reach it: %v", err)
	}
	for _, k := range m.keys() {
		stores[0].HealObject(ctxT(t), "b", k)
	}
	for _, k := range m.keys() {
		if v := checkAcked(ctxT(t), stores[0], m, k); v != "" {
			t.Error("after putting the folder back and healing: " + v)
		}
	}
}

// TestAckedSurvivesDiskAccessDenied: `chmod 000` of a disk folder (which
// does not stop root, so the permission error is injected) under the same
// workload.
func TestAckedSurvivesDiskAccessDenied(t *testing.T) {
	c := newCluster(t, 3, 2)
	stores := twoNodes(t, c)
	m := newAckedModel()
	putDegraded(t, c, stores[0], m, 12)
	f := c.faulty(c.ids[2])
	failViolations(t, ackedWorkload(t, c, stores, m, 2*time.Second, func(stop <-chan struct{}) {
		for {
			f.Set("*", fmt.Errorf("%w: permission denied", disk.ErrDiskAccessDenied), 0)
			stopped := sleepOrStop(stop, 300*time.Millisecond)
			f.Heal()
			if stopped || sleepOrStop(stop, 100*time.Millisecond) {
				return
			}
		}
	}))
}

// ageVersions moves the ModTime of every version of key on every disk
// back by d, as if it had been written that long ago.
func ageVersions(t *testing.T, c *testCluster, key string, d time.Duration) {
	t.Helper()
	for _, id := range c.ids {
		l := c.locals[id]
		meta, err := l.ReadMetadata(ctxT(t), "b", key)
		if errors.Is(err, disk.ErrFileNotFound) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		for i := range meta.Versions {
			meta.Versions[i].ModTime = meta.Versions[i].ModTime.Add(-d)
		}
		if err := l.WriteMetadata(ctxT(t), "b", key, meta); err != nil {
			t.Fatal(err)
		}
	}
}

// TestHealKeepsAckedVersionsWhileADiskFolderIsGone: the healer and the
// scanner, run while a holder's folder is away, must not take the
// versions that holder cannot vouch for for unfinished writes and drop
// them from the others, however old.
func TestHealKeepsAckedVersionsWhileADiskFolderIsGone(t *testing.T) {
	c := newCluster(t, 3, 2)
	s := newTestStore(t, c, Options{BlockSize: 32 << 10, InlineLimit: 16 << 10})
	m := newAckedModel()
	putDegraded(t, c, s, m, 6)
	for _, k := range m.keys() {
		ageVersions(t, c, k, 2*commitGrace)
	}
	victim := c.locals[c.ids[2]].Path()
	if err := os.Rename(victim, victim+".away"); err != nil {
		t.Fatal(err)
	}
	back := func() {
		if err := os.Rename(victim+".away", victim); err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
	}
	defer back()
	for _, k := range m.keys() {
		s.HealObject(ctxT(t), "b", k)
	}
	s.ScanOnce(ctxT(t))
	for _, k := range m.keys() {
		if v := checkAcked(ctxT(t), s, m, k); v != "" {
			t.Error("folder away, after healing and a scan: " + v)
		}
	}
	back()
	for _, k := range m.keys() {
		if _, err := s.HealObject(ctxT(t), "b", k); err != nil {
			t.Errorf("heal %s: %v", k, err)
		}
		if v := checkAcked(ctxT(t), s, m, k); v != "" {
			t.Error("folder back, after healing: " + v)
			continue
		}
		verifyAll(t, s, c, k)
	}
}

// TestStaleDiskComesBackWithOlderVersions: a disk that missed overwrites
// and deletes while its folder was away comes back holding the older
// version lists; reads and listings must give the acknowledged state, and
// healing must bring the disk to it.
func TestStaleDiskComesBackWithOlderVersions(t *testing.T) {
	c := newCluster(t, 3, 2)
	s := newTestStore(t, c, Options{BlockSize: 32 << 10, InlineLimit: 16 << 10})
	old, small := randBytes(100<<10, 1), []byte("old")
	mustPut(t, s, "big", old, PutOptions{})
	mustPut(t, s, "small", small, PutOptions{})
	mustPut(t, s, "gone", small, PutOptions{})
	victim := c.locals[c.ids[2]].Path()
	if err := os.Rename(victim, victim+".away"); err != nil {
		t.Fatal(err)
	}
	fresh, freshSmall := randBytes(150<<10, 2), []byte("new!")
	mustPut(t, s, "big", fresh, PutOptions{})
	mustPut(t, s, "small", freshSmall, PutOptions{})
	if _, err := s.DeleteObject(ctxT(t), "b", "gone", DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(victim+".away", victim); err != nil {
		t.Fatal(err)
	}
	check := func(when string) {
		t.Helper()
		if got, _ := mustGet(t, s, "big", GetOptions{}); !bytes.Equal(got, fresh) {
			t.Errorf("%s: big reads the overwritten version", when)
		}
		if got, _ := mustGet(t, s, "small", GetOptions{}); !bytes.Equal(got, freshSmall) {
			t.Errorf("%s: small reads %q", when, got)
		}
		if _, _, err := s.GetObject(ctxT(t), "b", "gone", GetOptions{}); !errors.Is(err, ErrObjectNotFound) {
			t.Errorf("%s: deleted key: %v", when, err)
		}
		res, err := s.ListObjects(ctxT(t), "b", ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, o := range res.Objects {
			got = append(got, fmt.Sprint(o.Key, ":", o.Size))
		}
		if want := []string{fmt.Sprint("big:", len(fresh)), fmt.Sprint("small:", len(freshSmall))}; !slices.Equal(got, want) {
			t.Errorf("%s: listing %q, want %q", when, got, want)
		}
	}
	check("disk back")
	for _, k := range []string{"big", "small", "gone"} {
		if _, err := s.HealObject(ctxT(t), "b", k); err != nil {
			t.Fatal(err)
		}
	}
	check("healed")
	verifyAll(t, s, c, "big")
	verifyAll(t, s, c, "small")
}

// TestAgreeCountsOnlyAnsweringDisks pins down the threshold: a version
// counts when its holders reach its Data less the set's disks that could
// not be asked. An acknowledged version (on at least WriteQuorum disks) is
// found whatever disks are down; a disk that answers "not there" never
// lowers the threshold, and a version below it is not shown.
func TestAgreeCountsOnlyAnsweringDisks(t *testing.T) {
	ids := []string{"d0", "d1", "d2", "d3", "d4", "d5"}
	v := disk.Version{ModTime: time.Unix(100, 0), ETag: "e", Erasure: disk.ErasureInfo{Data: 4, Parity: 2, Disks: ids}}
	meta := &disk.ObjectMeta{Versions: []disk.Version{v}}
	cases := []struct {
		name    string
		holders []int // disks holding v
		down    []int // disks that could not be asked
		found   bool
	}{
		{"acked on 4, all answer", []int{0, 1, 2, 3}, nil, true},
		{"acked on 4, a holder down", []int{0, 1, 2, 3}, []int{3}, true},
		{"acked on 4, two holders down", []int{0, 1, 2, 3}, []int{2, 3}, true},
		{"acked on 4, two others down", []int{0, 1, 2, 3}, []int{4, 5}, true},
		{"on 3 (rolled back), all answer", []int{0, 1, 2}, nil, false},
		{"on 2 (rolled back), one other down", []int{0, 1}, []int{5}, false},
	}
	for _, tc := range cases {
		metas := make([]*disk.ObjectMeta, len(ids))
		for _, h := range tc.holders {
			metas[h] = meta
		}
		down := map[string]bool{}
		for _, d := range tc.down {
			down[ids[d]], metas[d] = true, nil
		}
		vs, _, _ := agree(metas, ids, down)
		if found := len(vs) == 1; found != tc.found {
			t.Errorf("%s: found %v, want %v", tc.name, found, tc.found)
		}
	}
}

// TestNotThereOnlyFromAPresentDisk: an answer that says the disk itself is
// missing or failing is a disk that could not be asked, even if it also
// says the object is missing.
func TestNotThereOnlyFromAPresentDisk(t *testing.T) {
	for _, err := range []error{disk.ErrFileNotFound, disk.ErrVolumeNotFound, disk.ErrVersionNotFound, disk.ErrFileCorrupt} {
		if !notThere(fmt.Errorf("x: %w", err)) {
			t.Errorf("%v is not counted as not there", err)
		}
		for _, gone := range []error{disk.ErrDiskNotFound, disk.ErrDiskOffline, disk.ErrFaultyDisk, disk.ErrDiskAccessDenied} {
			if notThere(fmt.Errorf("%w: %w", gone, err)) {
				t.Errorf("%v with %v is counted as not there", err, gone)
			}
		}
	}
}
