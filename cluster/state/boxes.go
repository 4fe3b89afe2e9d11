package state

import (
	"github.com/hashicorp/go-memdb"
)

// Box is what a box offers instances, as its agent reports it: the scheduler places
// instances on boxes whose hypervisor is up and that have room.
type Box struct {
	Node      string // the node's name
	Zone      string // availability zone
	VCPUs     int    // host CPUs
	MemoryMiB int    // host memory
	DiskGiB   int    // free space for instance disks when reported
	Accel     string // "kvm" or "tcg"
	// Hypervisor is "up" when the box's libvirtd answers, else "down" with Reason.
	Hypervisor  string
	Reason      string
	ModifyIndex uint64
}

// Hypervisor states.
const (
	HypervisorUp   = "up"
	HypervisorDown = "down"
)

const tableBoxes = "boxes"

// ReportBox records a box's capacity and hypervisor state.
type ReportBox struct {
	Box Box
}

func (*ReportBox) CommandType() CommandType { return CmdReportBox }

func init() {
	registerTable(&memdb.TableSchema{
		Name: tableBoxes,
		Indexes: map[string]*memdb.IndexSchema{
			"id": {Name: "id", Unique: true, Indexer: &memdb.StringFieldIndex{Field: "Node"}},
		},
	}, func() any { return new(Box) })
	registerCommand("ReportBox", applyReportBox)
}

func applyReportBox(tx *Txn, c *ReportBox) (any, error) {
	if c.Box.Node == "" {
		return nil, Errorf(CodeInvalid, "box report without a node name")
	}
	b := c.Box
	b.ModifyIndex = tx.Index
	return nil, tx.Insert(tableBoxes, &b)
}

// Boxes lists every box that reported, ordered by node name.
func (s *Store) Boxes() ([]*Box, error) { return list[Box](s.ReadTxn(), tableBoxes) }

// BoxOf returns one box's report, or an error matching ErrNotFound.
func (s *Store) BoxOf(node string) (*Box, error) {
	obj, err := s.ReadTxn().First(tableBoxes, "id", node)
	if err != nil {
		return nil, err
	}
	if obj == nil {
		return nil, Errorf(CodeNotFound, "box %q has not reported", node)
	}
	return obj.(*Box), nil
}
