package state

import (
	"time"

	"github.com/hashicorp/go-memdb"
)

// Image is a machine image (AMI). Its bytes live in the object store (ObjectKey in the
// system images bucket, as qcow2); boxes cache them locally on first use.
type Image struct {
	ID           string
	Account      string // owner
	Name         string
	Description  string
	State        string // pending | available | failed | deregistered
	StateReason  string
	Architecture string
	Platform     string
	ObjectKey    string
	SizeBytes    int64
	VirtualSize  int64
	CreationDate time.Time
	// Public and LaunchAccounts are the launch permissions other accounts get.
	Public         bool
	LaunchAccounts []string
	Tags           map[string]string
	ImportTaskID   string
	// RootDeviceName and BlockDevices make an EBS-backed image (blockdevices.go): the
	// root device's mapping names a snapshot. Imported images have neither (instance-store).
	RootDeviceName string
	BlockDevices   []BlockDevice
	// SourceInstance is the instance CreateImage made the image of.
	SourceInstance string
	ModifyIndex    uint64
}

// Image states.
const (
	ImagePending      = "pending"
	ImageAvailable    = "available"
	ImageFailed       = "failed"
	ImageDeregistered = "deregistered"
)

// ImportTask is an ImportImage in progress or done. Node is the box doing the work.
type ImportTask struct {
	ID            string
	Account       string
	Description   string
	Bucket, Key   string
	Format        string // raw | qcow2 | vmdk | vhd (as given or detected)
	Status        string // active | completed | deleting | deleted
	StatusMessage string
	Progress      int // percent
	ImageID       string
	Node          string
	SizeBytes     int64
	Created       time.Time
	Tags          map[string]string
	ModifyIndex   uint64
}

// Import task statuses.
const (
	TaskActive    = "active"
	TaskCompleted = "completed"
	TaskDeleting  = "deleting"
	TaskDeleted   = "deleted"
)

const (
	tableImages      = "images"
	tableImportTasks = "import_tasks"
)

// PutImage creates or replaces an image record. With IfIndex set it replaces only the
// record last modified at that index (compare-and-set), so the front end's
// read-modify-write of launch permissions cannot lose a concurrent change.
type PutImage struct {
	Image   Image
	IfIndex uint64
	Create  bool
}

func (*PutImage) CommandType() CommandType { return CmdPutImage }

// PutImportTask creates or replaces an import task (IfIndex as for PutImage).
type PutImportTask struct {
	Task    ImportTask
	IfIndex uint64
	Create  bool
}

func (*PutImportTask) CommandType() CommandType { return CmdPutImportTask }

func init() {
	registerTable(&memdb.TableSchema{
		Name: tableImages,
		Indexes: map[string]*memdb.IndexSchema{
			"id":      {Name: "id", Unique: true, Indexer: &memdb.StringFieldIndex{Field: "ID"}},
			"account": {Name: "account", Indexer: &memdb.StringFieldIndex{Field: "Account"}},
		},
	}, func() any { return new(Image) })
	registerTable(&memdb.TableSchema{
		Name: tableImportTasks,
		Indexes: map[string]*memdb.IndexSchema{
			"id":      {Name: "id", Unique: true, Indexer: &memdb.StringFieldIndex{Field: "ID"}},
			"account": {Name: "account", Indexer: &memdb.StringFieldIndex{Field: "Account"}},
		},
	}, func() any { return new(ImportTask) })
	registerCommand("PutImage", applyPutImage)
	registerCommand("PutImportTask", applyPutImportTask)
}

func applyPutImage(tx *Txn, c *PutImage) (any, error) {
	if err := checkPut(tx, tableImages, c.Image.ID, c.IfIndex, c.Create, func(o any) uint64 { return o.(*Image).ModifyIndex }); err != nil {
		return nil, err
	}
	im := c.Image
	im.ModifyIndex = tx.Index
	return tx.Index, tx.Insert(tableImages, &im)
}

func applyPutImportTask(tx *Txn, c *PutImportTask) (any, error) {
	if err := checkPut(tx, tableImportTasks, c.Task.ID, c.IfIndex, c.Create, func(o any) uint64 { return o.(*ImportTask).ModifyIndex }); err != nil {
		return nil, err
	}
	t := c.Task
	t.ModifyIndex = tx.Index
	return tx.Index, tx.Insert(tableImportTasks, &t)
}

// checkPut enforces create-only and compare-and-set for a put by ID.
func checkPut(tx *Txn, table, id string, ifIndex uint64, create bool, index func(any) uint64) error {
	if id == "" {
		return Errorf(CodeInvalid, "empty ID")
	}
	old, err := tx.First(table, "id", id)
	if err != nil {
		return err
	}
	switch {
	case create && old != nil:
		return Errorf(CodeAlreadyExists, "%s exists", id)
	case ifIndex != 0 && (old == nil || index(old) != ifIndex):
		return Errorf(CodeConflict, "%s was changed concurrently", id)
	}
	return nil
}

// Image returns one image, or an error matching ErrNotFound.
func (s *Store) Image(id string) (*Image, error) {
	obj, err := s.ReadTxn().First(tableImages, "id", id)
	if err != nil {
		return nil, err
	}
	if obj == nil {
		return nil, Errorf(CodeNotFound, "The image id '[%s]' does not exist", id)
	}
	return obj.(*Image), nil
}

// Images lists every image, ordered by ID.
func (s *Store) Images() ([]*Image, error) { return list[Image](s.ReadTxn(), tableImages) }

// ImportTask returns one import task, or an error matching ErrNotFound.
func (s *Store) ImportTask(id string) (*ImportTask, error) {
	obj, err := s.ReadTxn().First(tableImportTasks, "id", id)
	if err != nil {
		return nil, err
	}
	if obj == nil {
		return nil, Errorf(CodeNotFound, "The import task '%s' does not exist", id)
	}
	return obj.(*ImportTask), nil
}

// ImportTasks lists an account's import tasks ("" for all), with a channel that closes
// when the table changes (the import workers wait on it).
func (s *Store) ImportTasks(account string) ([]*ImportTask, <-chan struct{}, error) {
	tx := s.ReadTxn()
	var it memdb.ResultIterator
	var err error
	if account == "" {
		it, err = tx.Get(tableImportTasks, "id")
	} else {
		it, err = tx.Get(tableImportTasks, "account", account)
	}
	if err != nil {
		return nil, nil, err
	}
	var out []*ImportTask
	for obj := it.Next(); obj != nil; obj = it.Next() {
		out = append(out, obj.(*ImportTask))
	}
	return out, it.WatchCh(), nil
}
