package state

import (
	"maps"
	"time"

	"github.com/hashicorp/go-memdb"
)

// ImportSnapshot: a disk image in S3 becomes an EBS snapshot. The front end records an
// import task (CreateImportSnapshotTask) with the snapshot ID it will make; the leader's
// importer claims it (ClaimImportSnapshotTask, which raises Attempt, so a leader that
// lost its term cannot report on it any more), cuts the image into the snapshot format's
// extents in the snapshot bucket, and completes it (CompleteImportSnapshotTask), which
// registers the completed snapshot and the task in one apply. A cancel
// (CancelImportSnapshotTask) makes the task deleting; the importer stops, removes what
// it uploaded and reports it deleted.

// Import snapshot commands.
const (
	CmdCreateImportSnapshotTask   CommandType = 45
	CmdClaimImportSnapshotTask    CommandType = 46
	CmdReportImportSnapshotTask   CommandType = 47
	CmdCompleteImportSnapshotTask CommandType = 48
	CmdCancelImportSnapshotTask   CommandType = 49
)

// CodeIdempotentMismatch: a ClientToken already used for a different request.
const CodeIdempotentMismatch Code = "IdempotentParameterMismatch"

// ImportedVolumeID is the volume ID EC2 shows for a snapshot that no volume of the
// account was the source of (imported, or copied).
const ImportedVolumeID = "vol-ffffffff"

// ImportSnapshotTask is an ImportSnapshot in progress or done. Node and Attempt are the
// importer working on it now.
type ImportSnapshotTask struct {
	ID          string
	Account     string
	ClientToken string
	Description string // the task's
	// DiskDescription is the DiskContainer's Description, shown in SnapshotTaskDetail.
	DiskDescription string
	Bucket, Key     string
	Format          string // RAW | VMDK | VHD | QCOW2, as SnapshotTaskDetail shows it
	DiskImageSize   int64  // bytes of the S3 object
	// Status is active, completed, deleting (cancel asked) or deleted (failed or cancelled:
	// StatusMessage says which and why).
	Status        string
	StatusMessage string
	Progress      int // percent
	// SnapshotID is chosen when the task is made; the snapshot exists once completed.
	SnapshotID  string
	Node        string
	Attempt     uint64
	Created     time.Time
	Tags        map[string]string
	ModifyIndex uint64
}

const tableImportSnapshotTasks = "import_snapshot_tasks"

// CreateImportSnapshotTask records a new task. A ClientToken the account has used
// before returns that task's ID instead (or, for a different request,
// IdempotentParameterMismatch).
type CreateImportSnapshotTask struct {
	Task ImportSnapshotTask
}

func (*CreateImportSnapshotTask) CommandType() CommandType { return CmdCreateImportSnapshotTask }

// ClaimImportSnapshotTask makes Node the importer of an active task, as a new attempt;
// the response is the attempt number.
type ClaimImportSnapshotTask struct {
	ID   string
	Node string
}

func (*ClaimImportSnapshotTask) CommandType() CommandType { return CmdClaimImportSnapshotTask }

// ReportImportSnapshotTask is the importer's report: progress and a status message,
// Failed (the task is deleted with Message as its reason), or Cancelled (a deleting
// task's uploads are gone, so it is deleted; accepted from any node, as the attempt
// that was cancelled may have been a former leader's).
type ReportImportSnapshotTask struct {
	ID        string
	Node      string
	Attempt   uint64
	Progress  int
	Message   string
	Failed    bool
	Cancelled bool
}

func (*ReportImportSnapshotTask) CommandType() CommandType { return CmdReportImportSnapshotTask }

// CompleteImportSnapshotTask registers the imported snapshot, completed, whose manifest
// the importer wrote, and completes the task.
type CompleteImportSnapshotTask struct {
	ID            string
	Node          string
	Attempt       uint64
	VolumeSizeGiB int
	Manifest      string
	Extents       int64
	Uploaded      int64
	Zero          int64
	StoredBytes   int64
	Now           time.Time
}

func (*CompleteImportSnapshotTask) CommandType() CommandType { return CmdCompleteImportSnapshotTask }

// CancelImportSnapshotTask asks for an account's active task to stop.
type CancelImportSnapshotTask struct {
	Account string
	ID      string
	Reason  string
}

func (*CancelImportSnapshotTask) CommandType() CommandType { return CmdCancelImportSnapshotTask }

func init() {
	registerTable(&memdb.TableSchema{
		Name: tableImportSnapshotTasks,
		Indexes: map[string]*memdb.IndexSchema{
			"id":      {Name: "id", Unique: true, Indexer: &memdb.StringFieldIndex{Field: "ID"}},
			"account": {Name: "account", Indexer: &memdb.StringFieldIndex{Field: "Account"}},
		},
	}, func() any { return new(ImportSnapshotTask) })
	registerCommand("CreateImportSnapshotTask", applyCreateImportSnapshotTask)
	registerCommand("ClaimImportSnapshotTask", applyClaimImportSnapshotTask)
	registerCommand("ReportImportSnapshotTask", applyReportImportSnapshotTask)
	registerCommand("CompleteImportSnapshotTask", applyCompleteImportSnapshotTask)
	registerCommand("CancelImportSnapshotTask", applyCancelImportSnapshotTask)
}

func (tx *Txn) importSnapshotTask(id string) (*ImportSnapshotTask, error) {
	obj, err := tx.First(tableImportSnapshotTasks, "id", id)
	if err != nil {
		return nil, err
	}
	if obj == nil {
		return nil, Errorf(CodeNotFound, "The import task ID '%s' does not exist", id)
	}
	t := *obj.(*ImportSnapshotTask)
	t.Tags = maps.Clone(t.Tags)
	return &t, nil
}

func importSnapshotTaskTags(o any) (map[string]string, string) {
	return o.(*ImportSnapshotTask).Tags, o.(*ImportSnapshotTask).Account
}

func setImportSnapshotTaskTags(o any, tags map[string]string) any {
	c := *o.(*ImportSnapshotTask)
	c.Tags = tags
	return &c
}

func (tx *Txn) putImportSnapshotTask(t *ImportSnapshotTask) error {
	t.ModifyIndex = tx.Index
	return tx.Insert(tableImportSnapshotTasks, t)
}

func applyCreateImportSnapshotTask(tx *Txn, c *CreateImportSnapshotTask) (any, error) {
	t := c.Task
	if t.ID == "" || t.Account == "" || t.SnapshotID == "" || t.Bucket == "" || t.Key == "" {
		return nil, Errorf(CodeInvalid, "an import snapshot task needs an ID, an account, a snapshot ID and an S3 object")
	}
	if t.ClientToken != "" {
		same, err := listBy[ImportSnapshotTask](tx.Txn, tableImportSnapshotTasks, "account", t.Account)
		if err != nil {
			return nil, err
		}
		for _, o := range same {
			if o.ClientToken != t.ClientToken {
				continue
			}
			if o.Bucket != t.Bucket || o.Key != t.Key || o.Format != t.Format || o.Description != t.Description || o.DiskDescription != t.DiskDescription {
				return nil, Errorf(CodeIdempotentMismatch, "The client token '%s' was used for another request (task %s).", t.ClientToken, o.ID)
			}
			return o.ID, nil
		}
	}
	if obj, err := tx.First(tableImportSnapshotTasks, "id", t.ID); err != nil {
		return nil, err
	} else if obj != nil {
		return nil, Errorf(CodeAlreadyExists, "import task %s exists", t.ID)
	}
	if obj, err := tx.First(tableSnapshots, "id", t.SnapshotID); err != nil {
		return nil, err
	} else if obj != nil {
		return nil, Errorf(CodeAlreadyExists, "snapshot %s exists", t.SnapshotID)
	}
	t.Status, t.Progress, t.Node, t.Attempt = TaskActive, 0, "", 0
	if t.StatusMessage == "" {
		t.StatusMessage = "pending"
	}
	return t.ID, tx.putImportSnapshotTask(&t)
}

func applyClaimImportSnapshotTask(tx *Txn, c *ClaimImportSnapshotTask) (any, error) {
	t, err := tx.importSnapshotTask(c.ID)
	if err != nil {
		return nil, err
	}
	if t.Status != TaskActive {
		return nil, Errorf(CodeIncorrectState, "The import task %s is %s.", t.ID, t.Status)
	}
	t.Node, t.Attempt = c.Node, t.Attempt+1
	return t.Attempt, tx.putImportSnapshotTask(t)
}

func applyReportImportSnapshotTask(tx *Txn, c *ReportImportSnapshotTask) (any, error) {
	t, err := tx.importSnapshotTask(c.ID)
	if err != nil {
		return nil, err
	}
	if c.Cancelled {
		if t.Status != TaskDeleting {
			return nil, nil
		}
		t.Status, t.StatusMessage, t.Progress = TaskDeleted, c.Message, 0
		return nil, tx.putImportSnapshotTask(t)
	}
	if t.Status != TaskActive || c.Node != t.Node || c.Attempt != t.Attempt {
		return nil, nil // a former attempt, or the task moved on
	}
	if c.Failed {
		t.Status, t.StatusMessage, t.Progress = TaskDeleted, c.Message, 0
		return nil, tx.putImportSnapshotTask(t)
	}
	t.Progress = min(max(c.Progress, t.Progress), 99)
	if c.Message != "" {
		t.StatusMessage = c.Message
	}
	return nil, tx.putImportSnapshotTask(t)
}

func applyCompleteImportSnapshotTask(tx *Txn, c *CompleteImportSnapshotTask) (any, error) {
	t, err := tx.importSnapshotTask(c.ID)
	if err != nil {
		return nil, err
	}
	switch {
	case t.Status != TaskActive:
		return nil, Errorf(CodeIncorrectState, "The import task %s is %s.", t.ID, t.Status)
	case c.Node != t.Node || c.Attempt != t.Attempt:
		return nil, Errorf(CodeConflict, "The import task %s is worked on by %s attempt %d now.", t.ID, t.Node, t.Attempt)
	case c.Manifest == "" || c.VolumeSizeGiB <= 0:
		return nil, Errorf(CodeInvalid, "an imported snapshot needs its manifest and size")
	}
	if obj, err := tx.First(tableSnapshots, "id", t.SnapshotID); err != nil {
		return nil, err
	} else if obj != nil {
		return nil, Errorf(CodeAlreadyExists, "snapshot %s exists", t.SnapshotID)
	}
	s := Snapshot{ID: t.SnapshotID, Account: t.Account, VolumeID: ImportedVolumeID, VolumeSizeGiB: c.VolumeSizeGiB,
		Description: "Created by AWS-VMImport service for " + t.ID, StartTime: c.Now,
		State: SnapshotCompleted, Progress: 100, Node: c.Node, Attempt: c.Attempt, Manifest: c.Manifest,
		Extents: c.Extents, Uploaded: c.Uploaded, Zero: c.Zero, StoredBytes: c.StoredBytes, CreateIndex: tx.Index}
	if err := tx.putSnapshot(&s); err != nil {
		return nil, err
	}
	t.Status, t.StatusMessage, t.Progress = TaskCompleted, "", 100
	return nil, tx.putImportSnapshotTask(t)
}

func applyCancelImportSnapshotTask(tx *Txn, c *CancelImportSnapshotTask) (any, error) {
	t, err := tx.importSnapshotTask(c.ID)
	if err != nil || t.Account != c.Account {
		return nil, Errorf(CodeNotFound, "The import task ID '%s' does not exist", c.ID)
	}
	if t.Status != TaskActive {
		return nil, Errorf(CodeIncorrectState, "The import task %s is %s and cannot be cancelled", t.ID, t.Status)
	}
	t.Status, t.StatusMessage = TaskDeleting, "Cancelling"
	if c.Reason != "" {
		t.StatusMessage = "Cancelling: " + c.Reason
	}
	return nil, tx.putImportSnapshotTask(t)
}

// ImportSnapshotTask returns one task, or an error matching ErrNotFound.
func (s *Store) ImportSnapshotTask(id string) (*ImportSnapshotTask, error) {
	obj, err := s.ReadTxn().First(tableImportSnapshotTasks, "id", id)
	if err != nil {
		return nil, err
	}
	if obj == nil {
		return nil, Errorf(CodeNotFound, "The import task ID '%s' does not exist", id)
	}
	return obj.(*ImportSnapshotTask), nil
}

// ImportSnapshotTasks lists an account's tasks ("" for all), with a channel that closes
// when the table changes (the importer waits on it).
func (s *Store) ImportSnapshotTasks(account string) ([]*ImportSnapshotTask, <-chan struct{}, error) {
	tx := s.ReadTxn()
	var it memdb.ResultIterator
	var err error
	if account == "" {
		it, err = tx.Get(tableImportSnapshotTasks, "id")
	} else {
		it, err = tx.Get(tableImportSnapshotTasks, "account", account)
	}
	if err != nil {
		return nil, nil, err
	}
	var out []*ImportSnapshotTask
	for obj := it.Next(); obj != nil; obj = it.Next() {
		out = append(out, obj.(*ImportSnapshotTask))
	}
	return out, it.WatchCh(), nil
}
