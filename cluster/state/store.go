package state

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/go-memdb"
)

// Store is the local replica of the replicated state. Reads never block on Raft or on
// writers: each read runs on an immutable snapshot of the database.
type Store struct {
	db      atomic.Pointer[memdb.MemDB]
	applied atomic.Uint64

	mu      sync.Mutex
	advance chan struct{} // closed and replaced whenever applied moves
}

// Txn is a write transaction inside Apply, carrying the log index being applied.
type Txn struct {
	*memdb.Txn
	Index uint64
}

// NewStore returns an empty store.
func NewStore() *Store {
	s := &Store{advance: make(chan struct{})}
	s.db.Store(newMemDB())
	return s
}

// ReadTxn starts a read-only transaction on the current state.
func (s *Store) ReadTxn() *memdb.Txn { return s.db.Load().Txn(false) }

// AppliedIndex is the index of the last log entry applied to this replica.
func (s *Store) AppliedIndex() uint64 { return s.applied.Load() }

// WaitForIndex blocks until this replica has applied index idx, so that a caller who wrote
// through this node reads its own write here.
func (s *Store) WaitForIndex(ctx context.Context, idx uint64) error {
	for {
		s.mu.Lock()
		ch := s.advance
		s.mu.Unlock()
		if s.applied.Load() >= idx {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (s *Store) setApplied(idx uint64) {
	s.applied.Store(idx)
	s.mu.Lock()
	close(s.advance)
	s.advance = make(chan struct{})
	s.mu.Unlock()
}

func (s *Store) swap(db *memdb.MemDB, idx uint64) {
	s.db.Store(db)
	s.setApplied(idx)
}
