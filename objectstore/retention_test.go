package objectstore

import (
	"bytes"
	"errors"
	"testing"
	"time"
)

func TestCheckDelete(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	later, earlier := now.Add(time.Hour), now.Add(-time.Hour)
	cases := []struct {
		name   string
		info   ObjectInfo
		bypass bool
		locked bool
	}{
		{"no lock", ObjectInfo{}, false, false},
		{"governance in force", ObjectInfo{Retention: Retention{LockGovernance, later}}, false, true},
		{"governance bypassed", ObjectInfo{Retention: Retention{LockGovernance, later}}, true, false},
		{"governance expired", ObjectInfo{Retention: Retention{LockGovernance, earlier}}, false, false},
		{"compliance in force", ObjectInfo{Retention: Retention{LockCompliance, later}}, true, true},
		{"compliance expired", ObjectInfo{Retention: Retention{LockCompliance, earlier}}, false, false},
		{"legal hold", ObjectInfo{LegalHold: LegalHoldOn}, true, true},
		{"legal hold off", ObjectInfo{LegalHold: LegalHoldOff}, false, false},
		{"legal hold over governance bypass", ObjectInfo{LegalHold: LegalHoldOn, Retention: Retention{LockGovernance, later}}, true, true},
	}
	for _, c := range cases {
		err := CheckDelete(c.info, c.bypass, now)
		if got := errors.Is(err, ErrObjectLocked); got != c.locked || (err != nil && !got) {
			t.Errorf("%s: CheckDelete = %v, want locked %v", c.name, err, c.locked)
		}
	}
}

func TestCheckRetentionChange(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	day, week := now.Add(24*time.Hour), now.Add(7*24*time.Hour)
	gov := func(t time.Time) Retention { return Retention{LockGovernance, t} }
	comp := func(t time.Time) Retention { return Retention{LockCompliance, t} }
	cases := []struct {
		name      string
		cur, next Retention
		bypass    bool
		ok        bool
	}{
		{"set on none", Retention{}, comp(day), false, true},
		{"compliance extended", comp(day), comp(week), false, true},
		{"compliance same date", comp(day), comp(day), false, true},
		{"compliance shortened", comp(week), comp(day), true, false},
		{"compliance to governance", comp(day), gov(week), true, false},
		{"compliance removed", comp(day), Retention{}, true, false},
		{"compliance expired may change", comp(now.Add(-time.Second)), gov(day), false, true},
		{"governance extended", gov(day), gov(week), false, true},
		{"governance to compliance", gov(day), comp(day), false, true},
		{"governance shortened", gov(week), gov(day), false, false},
		{"governance shortened with bypass", gov(week), gov(day), true, true},
		{"governance removed", gov(day), Retention{}, false, false},
		{"governance removed with bypass", gov(day), Retention{}, true, true},
	}
	for _, c := range cases {
		err := CheckRetentionChange(c.cur, c.next, c.bypass, now)
		if (err == nil) != c.ok || (err != nil && !errors.Is(err, ErrObjectLocked)) {
			t.Errorf("%s: CheckRetentionChange = %v, want ok %v", c.name, err, c.ok)
		}
	}
}

// The lock is stored with the version on every disk of its set and enforced by
// deletes by version ID; a delete without one still adds a delete marker.
func TestObjectLockStoredAndEnforced(t *testing.T) {
	c := newCluster(t, 3, 2)
	s := newTestStore(t, c, Options{})
	ctx := ctxT(t)
	until := time.Now().Add(time.Hour).UTC().Truncate(time.Millisecond)
	for _, size := range []int{10, 3 << 20} { // inline and with shard files
		data := randBytes(size, uint64(size))
		v := mustPut(t, s, "gov", data, PutOptions{Versioning: VersioningEnabled,
			Retention: Retention{Mode: LockGovernance, RetainUntil: until}})
		if v.Retention.Mode != LockGovernance || !v.Retention.RetainUntil.Equal(until) {
			t.Fatalf("put returned %+v", v.Retention)
		}
		_, got := mustGet(t, s, "gov", GetOptions{VersionID: v.VersionID})
		if got.Retention.Mode != LockGovernance || !got.Retention.RetainUntil.Equal(until) {
			t.Fatalf("get returned %+v", got.Retention)
		}
		// Every disk holding the version has the lock in its metadata.
		held := 0
		for _, id := range c.ids {
			m, err := c.Disk(id).ReadMetadata(ctx, "b", "gov")
			if err != nil {
				continue
			}
			for _, dv := range m.Versions {
				if fromDiskVersionID(dv.VersionID) == v.VersionID {
					if dv.Sys[sysLockMode] != LockGovernance {
						t.Fatalf("disk %s: version without its lock: %v", id, dv.Sys)
					}
					held++
				}
			}
		}
		if held < 3 {
			t.Fatalf("the version is on %d disks", held)
		}
		if _, err := s.DeleteObject(ctx, "b", "gov", DeleteOptions{VersionID: v.VersionID, Versioning: VersioningEnabled}); !errors.Is(err, ErrObjectLocked) {
			t.Fatalf("delete of a locked version: %v", err)
		}
		dm, err := s.DeleteObject(ctx, "b", "gov", DeleteOptions{Versioning: VersioningEnabled})
		if err != nil || !dm.DeleteMarker {
			t.Fatalf("delete without version: %+v %v", dm, err)
		}
		if b, _ := mustGet(t, s, "gov", GetOptions{VersionID: v.VersionID}); !bytes.Equal(b, data) {
			t.Fatal("the locked version changed")
		}
		if _, err := s.DeleteObject(ctx, "b", "gov", DeleteOptions{VersionID: v.VersionID, Versioning: VersioningEnabled, BypassGovernance: true}); err != nil {
			t.Fatalf("governance bypass: %v", err)
		}
		if _, _, err := s.GetObject(ctx, "b", "gov", GetOptions{VersionID: v.VersionID}); !errors.Is(err, ErrVersionNotFound) {
			t.Fatalf("bypassed delete left the version: %v", err)
		}
	}
}

func TestPutObjectRetentionAndLegalHold(t *testing.T) {
	c := newCluster(t, 3, 2)
	s := newTestStore(t, c, Options{})
	ctx := ctxT(t)
	day := time.Now().Add(24 * time.Hour).UTC()
	v := mustPut(t, s, "k", []byte("data"), PutOptions{Versioning: VersioningEnabled})
	if !v.Retention.IsZero() || v.LegalHold != "" {
		t.Fatalf("a plain put has a lock: %+v", v)
	}
	oi, err := s.PutObjectRetention(ctx, "b", "k", v.VersionID, Retention{LockCompliance, day}, false)
	if err != nil || oi.Retention.Mode != LockCompliance {
		t.Fatalf("set compliance: %+v %v", oi.Retention, err)
	}
	if _, err := s.PutObjectRetention(ctx, "b", "k", v.VersionID, Retention{LockCompliance, day.Add(-time.Hour)}, true); !errors.Is(err, ErrObjectLocked) {
		t.Fatalf("shortening compliance: %v", err)
	}
	if _, err := s.PutObjectRetention(ctx, "b", "k", v.VersionID, Retention{}, true); !errors.Is(err, ErrObjectLocked) {
		t.Fatalf("removing compliance: %v", err)
	}
	if _, err := s.PutObjectRetention(ctx, "b", "k", v.VersionID, Retention{LockCompliance, day.Add(time.Hour)}, false); err != nil {
		t.Fatalf("extending compliance: %v", err)
	}
	if _, err := s.DeleteObject(ctx, "b", "k", DeleteOptions{VersionID: v.VersionID, BypassGovernance: true}); !errors.Is(err, ErrObjectLocked) {
		t.Fatalf("deleting under compliance with bypass: %v", err)
	}

	w := mustPut(t, s, "h", []byte("held"), PutOptions{Versioning: VersioningEnabled, LegalHold: LegalHoldOn})
	if w.LegalHold != LegalHoldOn {
		t.Fatalf("legal hold on put: %+v", w)
	}
	if _, err := s.DeleteObject(ctx, "b", "h", DeleteOptions{VersionID: w.VersionID, BypassGovernance: true}); !errors.Is(err, ErrObjectLocked) {
		t.Fatalf("deleting under legal hold: %v", err)
	}
	if oi, err := s.PutObjectLegalHold(ctx, "b", "h", w.VersionID, LegalHoldOff); err != nil || oi.LegalHold != LegalHoldOff {
		t.Fatalf("legal hold off: %+v %v", oi, err)
	}
	if got, _ := s.HeadObject(ctx, "b", "h", GetOptions{VersionID: w.VersionID}); got.LegalHold != LegalHoldOff {
		t.Fatalf("head after hold off: %q", got.LegalHold)
	}
	if _, err := s.DeleteObject(ctx, "b", "h", DeleteOptions{VersionID: w.VersionID}); err != nil {
		t.Fatalf("delete after hold off: %v", err)
	}
	if _, err := s.PutObjectLegalHold(ctx, "b", "h", w.VersionID, LegalHoldOn); !errors.Is(err, ErrVersionNotFound) {
		t.Fatalf("legal hold on a deleted version: %v", err)
	}
}

func TestMultipartObjectLock(t *testing.T) {
	c := newCluster(t, 3, 2)
	s := newTestStore(t, c, Options{})
	ctx := ctxT(t)
	explicit := Retention{LockCompliance, time.Now().Add(time.Hour).UTC()}
	def := Retention{LockGovernance, time.Now().Add(2 * time.Hour).UTC()}
	for _, tc := range []struct {
		create, complete, want Retention
	}{{explicit, def, explicit}, {Retention{}, def, def}} {
		id, err := s.NewMultipartUpload(ctx, "b", "mp", PutOptions{Versioning: VersioningEnabled, Retention: tc.create, LegalHold: LegalHoldOn})
		if err != nil {
			t.Fatal(err)
		}
		p, err := s.PutObjectPart(ctx, "b", "mp", id, 1, bytes.NewReader([]byte("part")), PartOptions{Size: 4})
		if err != nil {
			t.Fatal(err)
		}
		oi, err := s.CompleteMultipartUpload(ctx, "b", "mp", id, []CompletePart{{Number: 1, ETag: p.ETag}},
			PutOptions{Versioning: VersioningEnabled, Retention: tc.complete})
		if err != nil {
			t.Fatal(err)
		}
		if oi.Retention.Mode != tc.want.Mode || !oi.Retention.RetainUntil.Equal(tc.want.RetainUntil) || oi.LegalHold != LegalHoldOn {
			t.Fatalf("multipart lock %+v %q, want %+v", oi.Retention, oi.LegalHold, tc.want)
		}
	}
}
