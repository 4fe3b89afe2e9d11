package main

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// Made-up histories: each check of the chaos soak must fire on the fault it is for, and
// stay quiet when an ambiguous write explains what was read.

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

type hist struct {
	ops []*opRecord
	now time.Duration
}

// op appends an operation lasting 10 ms, 10 ms after the previous one ended.
func (h *hist) op(op, key, hash, result, code string, status int) *opRecord {
	h.now += 10 * time.Millisecond
	r := &opRecord{ID: len(h.ops), Op: op, Key: key, Hash: hash, Start: t0.Add(h.now), End: t0.Add(h.now + 10*time.Millisecond),
		Result: result, Code: code, Status: status, Phase: "steady"}
	h.now += 10 * time.Millisecond
	h.ops = append(h.ops, r)
	return r
}

func ok(h *hist, op, key, hash string) *opRecord { return h.op(op, key, hash, "ok", "", 200) }

func final(hash string) *opRecord {
	if hash == absent {
		return &opRecord{Op: "get", Result: "error", Code: "NoSuchKey", Status: 404, Phase: "final"}
	}
	return &opRecord{Op: "get", Result: "ok", Status: 200, Hash: hash, Found: true, Phase: "final"}
}

func TestChaosCheckFinal(t *testing.T) {
	for _, tc := range []struct {
		name  string
		build func(h *hist)
		read  string
		field func(finalReport) int
		want  int
	}{
		{"acked put reads back", func(h *hist) { ok(h, "put", "k", "h1") }, "h1", func(r finalReport) int { return r.Lost + r.Corrupted + r.Resurrected }, 0},
		{"acked put missing", func(h *hist) { ok(h, "put", "k", "h1") }, absent, func(r finalReport) int { return r.LostKinds["missing"] }, 1},
		{"overwrite lost", func(h *hist) { ok(h, "put", "k", "h1"); ok(h, "put", "k", "h2") }, "h1", func(r finalReport) int { return r.LostKinds["stale"] }, 1},
		{"delete resurrected", func(h *hist) { ok(h, "put", "k", "h1"); ok(h, "delete", "k", "") }, "h1", func(r finalReport) int { return r.Resurrected }, 1},
		{"delete stays deleted", func(h *hist) { ok(h, "put", "k", "h1"); ok(h, "delete", "k", "") }, absent, func(r finalReport) int { return r.Lost + r.Resurrected }, 0},
		{"content never written", func(h *hist) { ok(h, "put", "k", "h1") }, "zz", func(r finalReport) int { return r.Corrupted }, 1},
		{"a refused put's content", func(h *hist) { ok(h, "put", "k", "h1"); h.op("put", "k", "h2", "error", "InvalidArgument", 400) }, "h2",
			func(r finalReport) int { return r.Corrupted }, 1},
		{"an ambiguous put may land", func(h *hist) { ok(h, "put", "k", "h1"); h.op("put", "k", "h2", "error", "ServiceUnavailable", 503) }, "h2",
			func(r finalReport) int { return r.Lost + r.Corrupted + r.LateApplied*10 }, 10},
		{"an ambiguous put does not excuse absence", func(h *hist) { ok(h, "put", "k", "h1"); h.op("put", "k", "h2", "transport", "timeout", 0) }, absent,
			func(r finalReport) int { return r.LostKinds["missing"] }, 1},
		{"an ambiguous delete may land", func(h *hist) { ok(h, "put", "k", "h1"); h.op("delete", "k", "", "transport", "eof", 0) }, absent,
			func(r finalReport) int { return r.Lost }, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := &hist{}
			tc.build(h)
			finals := map[string][]*opRecord{"k": {final(tc.read)}}
			if got := tc.field(checkFinal(h.ops, finals, nil)); got != tc.want {
				t.Fatalf("got %d, want %d", got, tc.want)
			}
		})
	}
}

func TestChaosCheckFinalErrorsAndLists(t *testing.T) {
	h := &hist{}
	ok(h, "put", "a", "h1")
	ok(h, "put", "b", "h2")
	unreadable := &opRecord{Op: "get", Result: "error", Code: "InternalError", Status: 500, Phase: "final"}
	finals := map[string][]*opRecord{"a": {final("h1"), unreadable}, "b": {final("h2"), final("h2")}}
	rep := checkFinal(h.ops, finals, [][]string{{"a", "b"}, {"a", "b"}})
	if rep.LostKinds["unreadable"] != 1 || rep.LostKeys != 1 || rep.ListDisagree != 0 {
		t.Fatalf("an acknowledged object unreadable through a node must count as lost there: %+v", rep)
	}
	rep = checkFinal(h.ops, finals, [][]string{{"a"}, {"a", "b", "ghost"}})
	if rep.ListDisagree != 2 {
		t.Fatalf("a listing omitting a key GET finds, and one showing a key never written: want 2 disagreements, got %+v", rep)
	}
}

func TestChaosCheckSoakReads(t *testing.T) {
	h := &hist{}
	ok(h, "put", "k", "h1")
	ok(h, "put", "k", "h2")
	g := ok(h, "get", "k", "h1") // stale
	g.Found = true
	h.op("get", "k", "", "error", "NoSuchKey", 404) // missing
	tr := ok(h, "get", "k", "h2")
	tr.Truncated = true
	l := ok(h, "list", "", "")
	l.Listed = []string{}
	rep := checkSoak(h.ops)
	if rep.Anomalies["stale"] != 1 || rep.Anomalies["missing"] != 1 || rep.BrokenOff != 1 || rep.ListAnom != 1 {
		t.Fatalf("want one stale read, one missing read, one broken-off GET and one listing anomaly: %+v", rep)
	}
}

func ctl(h *hist, op, name, result, code string, status int, at, dur time.Duration) *opRecord {
	r := &opRecord{ID: len(h.ops), Op: op, Key: name, Start: t0.Add(at), End: t0.Add(at + dur), Result: result, Code: code, Status: status}
	h.ops = append(h.ops, r)
	return r
}

func TestChaosLinearizability(t *testing.T) {
	ms := time.Millisecond
	for _, tc := range []struct {
		name  string
		build func(h *hist)
		want  string
	}{
		{"create, create exists, delete, get missing", func(h *hist) {
			ctl(h, "createUser", "u", "ok", "", 200, 0, ms)
			ctl(h, "createUser", "u", "error", "EntityAlreadyExists", 409, 2*ms, ms)
			ctl(h, "deleteUser", "u", "ok", "", 200, 4*ms, ms)
			ctl(h, "getUser", "u", "error", "NoSuchEntity", 404, 6*ms, ms)
		}, "ok"},
		{"two sequential creates both succeed", func(h *hist) {
			ctl(h, "createUser", "u", "ok", "", 200, 0, ms)
			ctl(h, "createUser", "u", "ok", "", 200, 2*ms, ms)
		}, "illegal"},
		{"two concurrent deletes both succeed", func(h *hist) {
			ctl(h, "createBucket", "b", "ok", "", 200, 0, ms)
			ctl(h, "deleteBucket", "b", "ok", "", 204, 2*ms, 5*ms)
			ctl(h, "deleteBucket", "b", "ok", "", 204, 3*ms, 5*ms)
		}, "illegal"},
		{"a stale read after a delete", func(h *hist) {
			ctl(h, "createUser", "u", "ok", "", 200, 0, ms)
			ctl(h, "deleteUser", "u", "ok", "", 200, 2*ms, ms)
			ctl(h, "getUser", "u", "ok", "", 200, 4*ms, ms)
		}, "illegal"},
		{"a timed-out create may land late", func(h *hist) {
			ctl(h, "createUser", "u", "transport", "timeout", 0, 0, ms)
			ctl(h, "getUser", "u", "error", "NoSuchEntity", 404, 2*ms, ms)
			ctl(h, "getUser", "u", "ok", "", 200, 4*ms, ms)
		}, "ok"},
		{"a 500 on delete may or may not have deleted", func(h *hist) {
			ctl(h, "createBucket", "b", "ok", "", 200, 0, ms)
			ctl(h, "deleteBucket", "b", "error", "InternalError", 500, 2*ms, ms)
			ctl(h, "headBucket", "b", "ok", "", 200, 4*ms, ms)
			ctl(h, "headBucket", "b", "error", "NotFound", 404, 6*ms, ms)
		}, "ok"},
		{"names are independent", func(h *hist) {
			ctl(h, "createUser", "u", "ok", "", 200, 0, ms)
			ctl(h, "createBucket", "u", "ok", "", 200, 2*ms, ms)
		}, "ok"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := &hist{}
			tc.build(h)
			if got := checkLinearizable(h.ops, t0, 10*time.Second, ""); got.Result != tc.want {
				t.Fatalf("got %s, want %s: %+v", got.Result, tc.want, got)
			}
		})
	}
}

// A disk folder the server recreated while it was renamed away is reported and removed,
// and the real one put back.
func TestChaosRenameBackRecreated(t *testing.T) {
	dir := t.TempDir()
	disk := filepath.Join(dir, "disk0")
	os.MkdirAll(disk, 0o700)
	os.WriteFile(filepath.Join(disk, "real"), []byte("x"), 0o600)
	c := &chaosCluster{renamedOut: map[string]string{}, chmodded: map[string]bool{}}
	for _, recreate := range []string{"", "empty", "full"} {
		if err := c.renameAway(disk); err != nil {
			t.Fatal(err)
		}
		if recreate != "" {
			os.MkdirAll(filepath.Join(disk, ".banyan.sys"), 0o700)
			if recreate == "empty" {
				os.Remove(filepath.Join(disk, ".banyan.sys"))
			}
		}
		note, err := c.renameBack(disk)
		if err != nil {
			t.Fatal(err)
		}
		if (note != "") != (recreate != "") {
			t.Fatalf("recreated %q: note %q", recreate, note)
		}
		if _, err := os.Stat(filepath.Join(disk, "real")); err != nil {
			t.Fatalf("recreated %q: the real folder is not back: %v", recreate, err)
		}
	}
}
