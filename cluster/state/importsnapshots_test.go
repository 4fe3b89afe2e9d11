package state

import (
	"errors"
	"testing"
	"time"
)

// TestImportSnapshotTaskLifecycle: a task is claimed by an importer as a new attempt,
// reports of an older attempt are ignored, completion registers the snapshot (vol-ffffffff,
// completed) and the task in one apply, a ClientToken returns the first task, a cancel
// makes an active task deleting, and only then is a Cancelled report taken.
func TestImportSnapshotTaskLifecycle(t *testing.T) {
	c := newComputeFSM(t)
	must := func(r *Result) *Result {
		t.Helper()
		if r.Err != nil {
			t.Fatal(r.Err)
		}
		return r
	}
	task := func(id, token, key string) ImportSnapshotTask {
		return ImportSnapshotTask{ID: id, Account: "111", ClientToken: token, Bucket: "disks", Key: key, Format: "RAW",
			SnapshotID: "snap-" + id, Created: time.Unix(1, 0)}
	}
	var got string
	r := must(c.apply(&CreateImportSnapshotTask{Task: task("import-snap-1", "tok", "a.raw")}))
	if Unmarshal(r.Value, &got); got != "import-snap-1" {
		t.Fatalf("created %q", got)
	}
	// The same token and request: the first task. Another request: a mismatch.
	r = must(c.apply(&CreateImportSnapshotTask{Task: task("import-snap-2", "tok", "a.raw")}))
	if Unmarshal(r.Value, &got); got != "import-snap-1" {
		t.Fatalf("a repeated client token made %q, want the first task", got)
	}
	if r := c.apply(&CreateImportSnapshotTask{Task: task("import-snap-3", "tok", "b.raw")}); !errors.Is(r.Err, &Error{Code: CodeIdempotentMismatch}) {
		t.Fatalf("a reused token for another object: %v", r.Err)
	}
	if r := c.apply(&CreateImportSnapshotTask{Task: ImportSnapshotTask{ID: "import-snap-4", Account: "111"}}); !errors.Is(r.Err, ErrInvalid) {
		t.Fatalf("a task without an object: %v", r.Err)
	}
	if tasks, _, _ := c.f.store.ImportSnapshotTasks("111"); len(tasks) != 1 {
		t.Fatalf("%d tasks, want 1", len(tasks))
	}

	claim := func(node string) uint64 {
		t.Helper()
		var a uint64
		Unmarshal(must(c.apply(&ClaimImportSnapshotTask{ID: "import-snap-1", Node: node})).Value, &a)
		return a
	}
	if a := claim("a"); a != 1 {
		t.Fatalf("first claim is attempt %d", a)
	}
	if a := claim("b"); a != 2 { // a new leader
		t.Fatalf("second claim is attempt %d", a)
	}
	c.apply(&ReportImportSnapshotTask{ID: "import-snap-1", Node: "a", Attempt: 1, Progress: 70, Message: "old"})
	c.apply(&ReportImportSnapshotTask{ID: "import-snap-1", Node: "b", Attempt: 2, Progress: 40, Message: "converting"})
	c.apply(&ReportImportSnapshotTask{ID: "import-snap-1", Node: "b", Attempt: 2, Progress: 20})
	tk, _ := c.f.store.ImportSnapshotTask("import-snap-1")
	if tk.Progress != 40 || tk.StatusMessage != "converting" || tk.Status != TaskActive {
		t.Fatalf("task after reports %+v", tk)
	}
	done := &CompleteImportSnapshotTask{ID: "import-snap-1", Node: "a", Attempt: 1, VolumeSizeGiB: 1, Manifest: "manifests/snap-import-snap-1",
		Extents: 256, Uploaded: 16, Zero: 240, StoredBytes: 64 << 20, Now: time.Unix(5, 0)}
	if r := c.apply(done); !errors.Is(r.Err, ErrConflict) {
		t.Fatalf("completion by an old attempt: %v", r.Err)
	}
	if _, err := c.f.store.Snapshot("snap-import-snap-1"); !errors.Is(err, ErrNotFound) {
		t.Fatal("an old attempt registered the snapshot")
	}
	done.Node, done.Attempt = "b", 2
	must(c.apply(done))
	s, err := c.f.store.Snapshot("snap-import-snap-1")
	if err != nil {
		t.Fatal(err)
	}
	if s.State != SnapshotCompleted || s.VolumeID != ImportedVolumeID || s.VolumeSizeGiB != 1 || s.Account != "111" ||
		s.Manifest != done.Manifest || s.Extents != 256 || s.Node != "b" || !s.StartTime.Equal(time.Unix(5, 0)) {
		t.Fatalf("imported snapshot %+v", s)
	}
	tk, _ = c.f.store.ImportSnapshotTask("import-snap-1")
	if tk.Status != TaskCompleted || tk.Progress != 100 {
		t.Fatalf("completed task %+v", tk)
	}
	// Volumes may be made from it; a finished task can be neither claimed nor cancelled.
	if r := c.apply(&ClaimImportSnapshotTask{ID: "import-snap-1", Node: "c"}); !errors.Is(r.Err, &Error{Code: CodeIncorrectState}) {
		t.Fatalf("claim of a completed task: %v", r.Err)
	}
	if r := c.apply(&CancelImportSnapshotTask{Account: "111", ID: "import-snap-1"}); !errors.Is(r.Err, &Error{Code: CodeIncorrectState}) {
		t.Fatalf("cancel of a completed task: %v", r.Err)
	}

	// Cancel: another account cannot; the owner makes it deleting; a progress or
	// failure report changes nothing then, a Cancelled one deletes it.
	must(c.apply(&CreateImportSnapshotTask{Task: task("import-snap-5", "", "c.raw")}))
	claim5 := must(c.apply(&ClaimImportSnapshotTask{ID: "import-snap-5", Node: "b"}))
	var a5 uint64
	Unmarshal(claim5.Value, &a5)
	if r := c.apply(&CancelImportSnapshotTask{Account: "222", ID: "import-snap-5"}); !errors.Is(r.Err, ErrNotFound) {
		t.Fatalf("cancel by another account: %v", r.Err)
	}
	must(c.apply(&CancelImportSnapshotTask{Account: "111", ID: "import-snap-5", Reason: "changed my mind"}))
	c.apply(&ReportImportSnapshotTask{ID: "import-snap-5", Node: "b", Attempt: a5, Failed: true, Message: "boom"})
	if tk, _ = c.f.store.ImportSnapshotTask("import-snap-5"); tk.Status != TaskDeleting || tk.StatusMessage != "Cancelling: changed my mind" {
		t.Fatalf("cancelled task %+v", tk)
	}
	if r := c.apply(&CompleteImportSnapshotTask{ID: "import-snap-5", Node: "b", Attempt: a5, VolumeSizeGiB: 1, Manifest: "m"}); !errors.Is(r.Err, &Error{Code: CodeIncorrectState}) {
		t.Fatalf("completion of a cancelled task: %v", r.Err)
	}
	must(c.apply(&ReportImportSnapshotTask{ID: "import-snap-5", Cancelled: true, Message: "Cancelled by the user"}))
	if tk, _ = c.f.store.ImportSnapshotTask("import-snap-5"); tk.Status != TaskDeleted || tk.StatusMessage != "Cancelled by the user" {
		t.Fatalf("task after the cancel was done %+v", tk)
	}

	// A failure deletes the task with its reason.
	must(c.apply(&CreateImportSnapshotTask{Task: task("import-snap-6", "", "d.raw")}))
	must(c.apply(&ClaimImportSnapshotTask{ID: "import-snap-6", Node: "a"}))
	must(c.apply(&ReportImportSnapshotTask{ID: "import-snap-6", Node: "a", Attempt: 1, Failed: true, Message: "ClientError: not a disk"}))
	if tk, _ = c.f.store.ImportSnapshotTask("import-snap-6"); tk.Status != TaskDeleted || tk.StatusMessage != "ClientError: not a disk" {
		t.Fatalf("failed task %+v", tk)
	}
	// The snapshot ID of a new task may not be taken.
	if r := c.apply(&CreateImportSnapshotTask{Task: ImportSnapshotTask{ID: "import-snap-7", Account: "111", Bucket: "b", Key: "k",
		SnapshotID: "snap-import-snap-1"}}); !errors.Is(r.Err, ErrAlreadyExists) {
		t.Fatalf("a task for an existing snapshot ID: %v", r.Err)
	}
}
