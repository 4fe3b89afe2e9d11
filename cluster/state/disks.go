package state

import (
	"strconv"

	"github.com/hashicorp/go-memdb"
)

// Disk states, as placement understands them.
const (
	DiskOnline   = "online"
	DiskOffline  = "offline"
	DiskDraining = "draining"
	DiskRemoved  = "removed"
)

// Disk is one object-store disk of a box. Its ID is stamped on the disk itself, so a disk
// moved to another slot or box is recognized. The disk map (every disk with its node and
// state) decides where new objects go; Version counts its changes.
type Disk struct {
	ID          string
	Node        string
	Path        string
	State       string
	Capacity    int64
	CreateIndex uint64
	ModifyIndex uint64
}

const (
	tableDisks = "disks"
	// diskMapVersionKey is the setting that counts disk map changes, so that readers
	// can cache a placement topology per version.
	diskMapVersionKey = "objectstore/disk-map-version"
)

// RegisterDisks records the disks a node serves. Disks of that node not listed keep their
// records (a missing disk is offline, not gone: removal is an operator's decision).
type RegisterDisks struct {
	Node  string
	Disks []Disk
}

func (*RegisterDisks) CommandType() CommandType { return CmdRegisterDisks }

// SetDiskState changes one disk's state (offline, draining, removed, online).
type SetDiskState struct {
	ID    string
	State string
}

func (*SetDiskState) CommandType() CommandType { return CmdSetDiskState }

func init() {
	registerTable(&memdb.TableSchema{
		Name: tableDisks,
		Indexes: map[string]*memdb.IndexSchema{
			"id":   {Name: "id", Unique: true, Indexer: &memdb.StringFieldIndex{Field: "ID"}},
			"node": {Name: "node", Indexer: &memdb.StringFieldIndex{Field: "Node"}},
		},
	}, func() any { return new(Disk) })
	registerCommand("RegisterDisks", applyRegisterDisks)
	registerCommand("SetDiskState", applySetDiskState)
}

func validDiskState(s string) bool {
	return s == DiskOnline || s == DiskOffline || s == DiskDraining || s == DiskRemoved
}

func applyRegisterDisks(tx *Txn, c *RegisterDisks) (any, error) {
	changed := false
	for _, d := range c.Disks {
		if d.ID == "" || !validDiskState(d.State) {
			return nil, Errorf(CodeInvalid, "disk %q has no ID or an invalid state %q", d.Path, d.State)
		}
		obj, err := tx.First(tableDisks, "id", d.ID)
		if err != nil {
			return nil, err
		}
		nd := d
		nd.Node = c.Node
		nd.CreateIndex, nd.ModifyIndex = tx.Index, tx.Index
		if obj != nil {
			cur := obj.(*Disk)
			if cur.State == DiskRemoved || cur.State == DiskDraining {
				nd.State = cur.State // an operator's decision outlives a restart
			}
			if *cur == (Disk{ID: nd.ID, Node: nd.Node, Path: nd.Path, State: nd.State, Capacity: nd.Capacity, CreateIndex: cur.CreateIndex, ModifyIndex: cur.ModifyIndex}) {
				continue
			}
			nd.CreateIndex = cur.CreateIndex
		}
		if err := tx.Insert(tableDisks, &nd); err != nil {
			return nil, err
		}
		changed = true
	}
	if changed {
		return nil, bumpDiskMap(tx)
	}
	return nil, nil
}

func applySetDiskState(tx *Txn, c *SetDiskState) (any, error) {
	if !validDiskState(c.State) {
		return nil, Errorf(CodeInvalid, "invalid disk state %q", c.State)
	}
	obj, err := tx.First(tableDisks, "id", c.ID)
	if err != nil {
		return nil, err
	}
	if obj == nil {
		return nil, Errorf(CodeNotFound, "no disk %s", c.ID)
	}
	d := *obj.(*Disk)
	if d.State == c.State {
		return nil, nil
	}
	d.State, d.ModifyIndex = c.State, tx.Index
	if err := tx.Insert(tableDisks, &d); err != nil {
		return nil, err
	}
	return nil, bumpDiskMap(tx)
}

func bumpDiskMap(tx *Txn) error {
	return tx.Insert(tableSettings, &Setting{Key: diskMapVersionKey, Value: strconv.FormatUint(tx.Index, 10), ModifyIndex: tx.Index})
}

// DiskMap returns every disk and the map's version (the index of its last change).
func (s *Store) DiskMap() ([]*Disk, uint64, error) {
	tx := s.ReadTxn()
	disks, err := list[Disk](tx, tableDisks)
	if err != nil {
		return nil, 0, err
	}
	var version uint64
	if obj, err := tx.First(tableSettings, "id", diskMapVersionKey); err == nil && obj != nil {
		version = obj.(*Setting).ModifyIndex
	}
	return disks, version, nil
}
