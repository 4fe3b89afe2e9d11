package state

import (
	"github.com/hashicorp/go-memdb"
)

// Node is a box of the cluster as the replicated state records it. The leader registers
// a node when gossip first reports it and updates the record when its addresses change.
type Node struct {
	Name        string // unique, also the node's Raft server ID
	Addr        string // node RPC and Raft, host:port
	GossipAddr  string
	APIAddr     string
	Version     string
	CreateIndex uint64
	ModifyIndex uint64
}

const tableNodes = "nodes"

// RegisterNode records a node or updates its addresses.
type RegisterNode struct {
	Node Node
}

func (*RegisterNode) CommandType() CommandType { return CmdRegisterNode }

func init() {
	registerTable(&memdb.TableSchema{
		Name: tableNodes,
		Indexes: map[string]*memdb.IndexSchema{
			"id": {Name: "id", Unique: true, Indexer: &memdb.StringFieldIndex{Field: "Name"}},
		},
	}, func() any { return new(Node) })
	registerCommand("RegisterNode", applyRegisterNode)
}

func applyRegisterNode(tx *Txn, c *RegisterNode) (any, error) {
	if c.Node.Name == "" {
		return nil, Errorf(CodeInvalid, "node name is empty")
	}
	n := c.Node
	n.CreateIndex, n.ModifyIndex = tx.Index, tx.Index
	if old, err := tx.First(tableNodes, "id", n.Name); err != nil {
		return nil, err
	} else if old != nil {
		n.CreateIndex = old.(*Node).CreateIndex
	}
	return nil, tx.Insert(tableNodes, &n)
}

// Node returns the node called name, or an error matching ErrNotFound.
func (s *Store) Node(name string) (*Node, error) {
	obj, err := s.ReadTxn().First(tableNodes, "id", name)
	if err != nil {
		return nil, err
	}
	if obj == nil {
		return nil, Errorf(CodeNotFound, "no node named %q", name)
	}
	return obj.(*Node), nil
}

// Nodes lists every registered node, ordered by name.
func (s *Store) Nodes() ([]*Node, error) {
	return list[Node](s.ReadTxn(), tableNodes)
}

func list[T any](tx *memdb.Txn, table string) ([]*T, error) {
	it, err := tx.Get(table, "id")
	if err != nil {
		return nil, err
	}
	var out []*T
	for obj := it.Next(); obj != nil; obj = it.Next() {
		out = append(out, obj.(*T))
	}
	return out, nil
}
