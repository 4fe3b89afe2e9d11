package state

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"testing"

	"github.com/hashicorp/raft"
)

func apply(t *testing.T, f *FSM, idx uint64, c Command, reqID string) *Result {
	t.Helper()
	data, err := Encode(c)
	if err != nil {
		t.Fatal(err)
	}
	return f.Apply(&raft.Log{Index: idx, Type: raft.LogCommand, Data: data, Extensions: []byte(reqID)}).(*Result)
}

func newTestFSM() *FSM { return NewFSM(NewStore(), slog.New(slog.NewTextHandler(io.Discard, nil))) }

func TestApplyDomainErrorIsTheResponseAndChangesNothing(t *testing.T) {
	f := newTestFSM()
	if r := apply(t, f, 1, &SetSetting{Key: "region", Value: "eu-1"}, ""); r.Err != nil {
		t.Fatal(r.Err)
	}
	r := apply(t, f, 2, &DeleteSetting{Key: "missing"}, "")
	if !errors.Is(r.Err, ErrNotFound) {
		t.Fatalf("got %v, want NotFound", r.Err)
	}
	r = apply(t, f, 3, &SetSetting{Key: "Bad Key", Value: "x"}, "")
	if !errors.Is(r.Err, ErrInvalid) {
		t.Fatalf("got %v, want Invalid", r.Err)
	}
	if f.store.AppliedIndex() != 3 {
		t.Fatalf("applied index %d, want 3", f.store.AppliedIndex())
	}
	all, _ := f.store.Settings()
	if len(all) != 1 {
		t.Fatalf("%d settings, want 1", len(all))
	}
}

func TestRetriedRequestAppliesOnce(t *testing.T) {
	f := newTestFSM()
	first := apply(t, f, 1, &SetSetting{Key: "a", Value: "1"}, "req-1")
	apply(t, f, 2, &SetSetting{Key: "a", Value: "2"}, "req-2")
	again := apply(t, f, 3, &SetSetting{Key: "a", Value: "1"}, "req-1")
	if again.Index != first.Index {
		t.Fatalf("retry answered index %d, want the first answer %d", again.Index, first.Index)
	}
	if s, _ := f.store.Setting("a"); s.Value != "2" {
		t.Fatalf("retry was applied again: a=%s", s.Value)
	}
}

func TestUnknownCommands(t *testing.T) {
	f := newTestFSM()
	r := f.Apply(&raft.Log{Index: 1, Type: raft.LogCommand, Data: []byte{0xfe, 0xa0}}).(*Result)
	if r.Err != nil || f.store.AppliedIndex() != 1 {
		t.Fatalf("optional unknown command: %+v", r)
	}
	defer func() {
		if recover() == nil {
			t.Fatal("an unknown required command must stop the server, not be skipped")
		}
	}()
	f.Apply(&raft.Log{Index: 2, Type: raft.LogCommand, Data: []byte{0x7e, 0xa0}})
}

type memSink struct {
	bytes.Buffer
	cancelled bool
}

func (s *memSink) ID() string    { return "mem" }
func (s *memSink) Cancel() error { s.cancelled = true; return nil }
func (s *memSink) Close() error  { return nil }

func TestSnapshotRestore(t *testing.T) {
	f := newTestFSM()
	apply(t, f, 1, &SetSetting{Key: "a", Value: "1"}, "r1")
	apply(t, f, 2, &RegisterNode{Node: Node{Name: "box1", Addr: "10.0.0.1:7947"}}, "")
	apply(t, f, 3, &CreateJoinToken{Token: JoinToken{SecretHash: string(bytes.Repeat([]byte("a"), 64))}}, "")
	snap, err := f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	// Writes after the snapshot was taken must not leak into it.
	apply(t, f, 4, &SetSetting{Key: "b", Value: "2"}, "")
	var sink memSink
	if err := snap.Persist(&sink); err != nil {
		t.Fatal(err)
	}

	g := newTestFSM()
	if err := g.Restore(io.NopCloser(&sink)); err != nil {
		t.Fatal(err)
	}
	if g.store.AppliedIndex() != 3 {
		t.Fatalf("restored applied index %d, want 3", g.store.AppliedIndex())
	}
	if s, err := g.store.Setting("a"); err != nil || s.Value != "1" {
		t.Fatalf("a: %v %v", s, err)
	}
	if _, err := g.store.Setting("b"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("b leaked into the snapshot: %v", err)
	}
	if n, err := g.store.Node("box1"); err != nil || n.Addr != "10.0.0.1:7947" {
		t.Fatalf("node: %v %v", n, err)
	}
	// The dedupe table survives too.
	r := apply(t, g, 5, &SetSetting{Key: "a", Value: "9"}, "r1")
	if r.Index != 1 {
		t.Fatalf("request table lost in the snapshot: answered index %d", r.Index)
	}

	if err := g.Restore(io.NopCloser(bytes.NewReader([]byte("garbage")))); err == nil {
		t.Fatal("restoring garbage succeeded")
	}
	if s, _ := g.store.Setting("a"); s == nil || s.Value != "1" {
		t.Fatal("a failed restore changed the state")
	}
}
