package state

import "github.com/hashicorp/go-memdb"

// The requests table remembers the results of recent writes by request ID, so that a
// write forwarded twice (the first answer was lost with a dying leader) is applied once.
// It is part of the replicated state, so every replica dedupes identically.

const (
	tableRequests = "requests"
	// requestWindow is how many log entries a request ID is remembered for; forwards are
	// retried for seconds, in which far fewer entries commit.
	requestWindow = 50000
)

type appliedRequest struct {
	ID     string
	Index  uint64
	Result Result
}

func init() {
	registerTable(&memdb.TableSchema{
		Name: tableRequests,
		Indexes: map[string]*memdb.IndexSchema{
			"id":    {Name: "id", Unique: true, Indexer: &memdb.StringFieldIndex{Field: "ID"}},
			"index": {Name: "index", Unique: true, Indexer: &memdb.UintFieldIndex{Field: "Index"}},
		},
	}, func() any { return new(appliedRequest) })
}

func rememberRequest(tx *Txn, id string, res Result) {
	if err := tx.Insert(tableRequests, &appliedRequest{ID: id, Index: tx.Index, Result: res}); err != nil {
		panic("state: requests table: " + err.Error())
	}
	if tx.Index <= requestWindow {
		return
	}
	// Entries arrive in index order, so at most a few fall out of the window per apply.
	for {
		obj, err := tx.First(tableRequests, "index")
		if err != nil || obj == nil || obj.(*appliedRequest).Index > tx.Index-requestWindow {
			return
		}
		tx.Delete(tableRequests, obj)
	}
}
