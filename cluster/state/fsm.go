package state

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/fxamacker/cbor/v2"
	"github.com/hashicorp/go-memdb"
	"github.com/hashicorp/raft"
)

// Result is what applying one command produced; it is returned to the node that
// submitted the write, possibly across a forward.
type Result struct {
	Index uint64 `cbor:"1,keyasint"`
	Value []byte `cbor:"2,keyasint,omitempty"` // CBOR of the apply function's value
	Err   *Error `cbor:"3,keyasint,omitempty"`
}

// FSM applies committed log entries to a Store.
type FSM struct {
	store *Store
	log   *slog.Logger
}

// NewFSM returns the raft.FSM over store.
func NewFSM(store *Store, log *slog.Logger) *FSM { return &FSM{store: store, log: log} }

// Apply implements raft.FSM.
func (f *FSM) Apply(l *raft.Log) any {
	if l.Type != raft.LogCommand {
		return nil
	}
	if len(l.Data) == 0 {
		panic(fmt.Sprintf("state: empty log entry at index %d", l.Index))
	}
	t := CommandType(l.Data[0])
	entry, ok := commands[t]
	if !ok {
		if t&IgnoreUnknown != 0 {
			f.log.Warn("skipping unknown optional command; is a newer server in the cluster?", "type", uint8(t), "index", l.Index)
			f.store.setApplied(l.Index)
			return &Result{Index: l.Index}
		}
		panic(fmt.Sprintf("state: unknown command type %d at index %d: this server is older than the cluster; upgrade it", t, l.Index))
	}
	db := f.store.db.Load()
	tx := &Txn{Txn: db.Txn(true), Index: l.Index}
	requestID := hex.EncodeToString(l.Extensions)
	if requestID != "" {
		if prev, err := tx.First(tableRequests, "id", requestID); err == nil && prev != nil {
			// A retried forward of a write that already committed: answer as the first time.
			tx.Abort()
			f.store.setApplied(l.Index)
			r := prev.(*appliedRequest).Result
			return &r
		}
	}
	res := Result{Index: l.Index}
	val, err := entry.apply(tx, l.Data[1:])
	if err != nil {
		tx.Abort()
		var se *Error
		if !errors.As(err, &se) {
			se = &Error{Code: "Internal", Message: err.Error()}
		}
		res.Err = se
		tx = &Txn{Txn: db.Txn(true), Index: l.Index}
	} else if val != nil {
		b, err := encMode.Marshal(val)
		if err != nil {
			panic(fmt.Sprintf("state: %s returned an unencodable value: %v", entry.name, err))
		}
		res.Value = b
	}
	if requestID != "" {
		rememberRequest(tx, requestID, res)
	}
	tx.Commit()
	f.store.setApplied(l.Index)
	return &res
}

// StoreConfiguration implements raft.ConfigurationStore: a membership change is a log
// entry too, and the replica has applied it once it is here, so that a reader waiting
// for a commit index that names one (CatchUp) is not left waiting for a command that
// never comes.
func (f *FSM) StoreConfiguration(index uint64, _ raft.Configuration) {
	if index > f.store.AppliedIndex() {
		f.store.setApplied(index)
	}
}

// Snapshot implements raft.FSM. It is O(1): memdb snapshots share structure.
func (f *FSM) Snapshot() (raft.FSMSnapshot, error) {
	return &snapshot{db: f.store.db.Load().Snapshot(), index: f.store.AppliedIndex()}, nil
}

// Restore implements raft.FSM: it builds a fresh database from the snapshot and swaps it
// in, so readers never see a half-restored state.
func (f *FSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	db := newMemDB()
	tx := db.Txn(true)
	dec := decMode.NewDecoder(rc)
	var hdr snapshotHeader
	if err := dec.Decode(&hdr); err != nil {
		return fmt.Errorf("state: snapshot header: %w", err)
	}
	if hdr.Format != snapshotFormat {
		return fmt.Errorf("state: snapshot format %d is not supported by this server (want %d)", hdr.Format, snapshotFormat)
	}
	for {
		var rec snapshotRecord
		if err := dec.Decode(&rec); err == io.EOF {
			break
		} else if err != nil {
			return fmt.Errorf("state: snapshot record: %w", err)
		}
		t, ok := tables[rec.Table]
		if !ok {
			f.log.Warn("snapshot has a table this server does not know; skipping", "table", rec.Table)
			continue
		}
		obj := t.new()
		if err := decMode.Unmarshal(rec.Value, obj); err != nil {
			return fmt.Errorf("state: snapshot row in %s: %w", rec.Table, err)
		}
		if err := tx.Insert(rec.Table, obj); err != nil {
			return fmt.Errorf("state: snapshot row in %s: %w", rec.Table, err)
		}
	}
	tx.Commit()
	f.store.swap(db, hdr.Index)
	return nil
}

const snapshotFormat = 1

type snapshotHeader struct {
	Format int    `cbor:"1,keyasint"`
	Index  uint64 `cbor:"2,keyasint"`
}

type snapshotRecord struct {
	Table string          `cbor:"1,keyasint"`
	Value cbor.RawMessage `cbor:"2,keyasint"`
}

type snapshot struct {
	db    *memdb.MemDB
	index uint64
}

// Persist writes every table row by row; it runs in the background while Apply goes on.
func (s *snapshot) Persist(sink raft.SnapshotSink) error {
	err := s.write(sink)
	if err != nil {
		sink.Cancel()
		return err
	}
	return sink.Close()
}

func (s *snapshot) write(w io.Writer) error {
	enc := encMode.NewEncoder(w)
	if err := enc.Encode(snapshotHeader{Format: snapshotFormat, Index: s.index}); err != nil {
		return err
	}
	tx := s.db.Txn(false)
	for _, name := range tableNames() {
		it, err := tx.Get(name, "id")
		if err != nil {
			return err
		}
		for obj := it.Next(); obj != nil; obj = it.Next() {
			b, err := encMode.Marshal(obj)
			if err != nil {
				return err
			}
			if err := enc.Encode(snapshotRecord{Table: name, Value: b}); err != nil {
				return err
			}
		}
	}
	return nil
}

func (s *snapshot) Release() {}
