package iam

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/banyancloud/banyan/api/awserr"
	"github.com/banyancloud/banyan/api/identity"
	"github.com/banyancloud/banyan/api/service"
	"github.com/banyancloud/banyan/cluster/pki"
	"github.com/banyancloud/banyan/cluster/state"
)

// laggingLog is a TEST DOUBLE of one Raft log replicated to several boxes that apply it
// only when made to: a write through a box commits at the end of the log and brings
// that box's replica up to it (as cluster.Node.Apply waits for its own replica);
// CatchUp brings a replica to the end of the log; every other replica stays where it
// was, as a follower that has not heard of the commit yet.
type laggingLog struct {
	mu      sync.Mutex
	entries [][]byte
}

type laggingReplica struct {
	log     *laggingLog
	mu      sync.Mutex
	store   *state.Store
	fsm     *state.FSM
	applied uint64
	results map[uint64]*state.Result
	// noLeader makes CatchUp and Apply fail as cluster.Node's do with no leader.
	noLeader bool
	// stall makes CatchUp wait until its context ends, as cluster.Node's does when the
	// leader's commit index is an entry replicas never apply (a new leader's no-op).
	stall bool
}

type noLeaderErr struct{}

func (noLeaderErr) Error() string   { return "no leader" }
func (noLeaderErr) Retryable() bool { return true }

func (l *laggingLog) replica() *laggingReplica {
	st := state.NewStore()
	return &laggingReplica{log: l, store: st, fsm: state.NewFSM(st, slog.New(slog.NewTextHandler(io.Discard, nil))),
		results: map[uint64]*state.Result{}}
}

func (r *laggingReplica) State() *state.Store { return r.store }

// upTo applies the log up to index n.
func (r *laggingReplica) upTo(n uint64) {
	r.log.mu.Lock()
	entries := r.log.entries[:n]
	r.log.mu.Unlock()
	r.mu.Lock()
	defer r.mu.Unlock()
	for ; r.applied < n; r.applied++ {
		i := r.applied + 1
		r.results[i] = r.fsm.Apply(&raft.Log{Index: i, Type: raft.LogCommand, Data: entries[i-1]}).(*state.Result)
	}
}

func (r *laggingReplica) Apply(ctx context.Context, cmd state.Command, out any) (uint64, error) {
	if r.noLeader {
		return 0, noLeaderErr{}
	}
	data, err := state.Encode(cmd)
	if err != nil {
		return 0, err
	}
	r.log.mu.Lock()
	r.log.entries = append(r.log.entries, data)
	idx := uint64(len(r.log.entries))
	r.log.mu.Unlock()
	r.upTo(idx)
	r.mu.Lock()
	res := r.results[idx]
	r.mu.Unlock()
	if res.Err != nil {
		return idx, res.Err
	}
	if out != nil && len(res.Value) > 0 {
		return idx, state.Unmarshal(res.Value, out)
	}
	return idx, nil
}

func (r *laggingReplica) CatchUp(ctx context.Context) error {
	if r.noLeader {
		return noLeaderErr{}
	}
	if r.stall {
		<-ctx.Done()
		return ctx.Err()
	}
	r.log.mu.Lock()
	n := uint64(len(r.log.entries))
	r.log.mu.Unlock()
	r.upTo(n)
	return nil
}

// Two boxes whose replicas lag behind each other's writes answer IAM as one: each
// answer holds as of the call, whichever box gives it (the chaos soak's
// linearizability check: CreateUser answered EntityAlreadyExists, DeleteUser
// NoSuchEntity, GetUser either, from a replica that had not applied the write through
// the other box).
func TestAnswersHoldAcrossLaggingBoxes(t *testing.T) {
	sealer, err := pki.NewSealer(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	log := &laggingLog{}
	r1, r2 := log.replica(), log.replica()
	root, err := CreateAccount(ctx, r1, nil, sealer, "admin", true)
	if err != nil {
		t.Fatal(err)
	}
	r2.CatchUp(ctx)
	boxes := []struct {
		r *laggingReplica
		h map[string]service.Handler
	}{{r1, New(r1, sealer).Handlers}, {r2, New(r2, sealer).Handlers}}
	caller := &identity.Caller{Type: identity.TypeRoot, AccountID: root.AccountID,
		ARN: identity.RootARN(root.AccountID), UserID: root.AccountID}
	do := func(box int, action string, in any) error {
		t.Helper()
		b := boxes[box-1]
		_, err := b.h[action](&service.Call{Ctx: ctx, Caller: caller, RequestID: "t", Region: "us-east-1",
			Authorizer: &identity.Authorizer{Store: b.r.State()}}, in)
		return err
	}
	code := func(err error) string {
		if err == nil {
			return "ok"
		}
		var ae *awserr.Error
		if errors.As(err, &ae) {
			return ae.Code
		}
		return err.Error()
	}
	steps := []struct {
		box    int
		action string
		in     any
		want   string
	}{
		{1, "CreateUser", &CreateUserRequest{UserName: "alice"}, "ok"},
		{2, "GetUser", &GetUserRequest{UserName: ptr("alice")}, "ok"},
		{2, "DeleteUser", &DeleteUserRequest{UserName: "alice"}, "ok"},
		// box 1 still holds alice
		{1, "GetUser", &GetUserRequest{UserName: ptr("alice")}, "NoSuchEntity"},
		{2, "CreateUser", &CreateUserRequest{UserName: "alice"}, "ok"},
		// box 1 does not hold the new alice
		{1, "CreateUser", &CreateUserRequest{UserName: "alice"}, "EntityAlreadyExists"},
		{2, "CreateAccessKey", &CreateAccessKeyRequest{UserName: ptr("alice")}, "ok"},
		{1, "DeleteUser", &DeleteUserRequest{UserName: "alice"}, "DeleteConflict"},
	}
	for i, s := range steps {
		if got := code(do(s.box, s.action, s.in)); got != s.want {
			t.Fatalf("step %d: %s through box %d: %s, want %s", i, s.action, s.box, got, s.want)
		}
	}
	// A CatchUp that cannot end (the log ends in an entry no replica applies) is given
	// up on, and a write through Raft brings the replica up to date instead.
	if err := do(2, "DeleteAccessKey", &DeleteAccessKeyRequest{UserName: ptr("alice"), AccessKeyId: lastKeyID(t, r2, root.AccountID)}); err != nil {
		t.Fatal(err)
	}
	r1.stall = true
	start := time.Now()
	if got := code(do(1, "DeleteUser", &DeleteUserRequest{UserName: "alice"})); got != "ok" {
		t.Fatalf("DeleteUser through a box whose CatchUp stalls: %s", got)
	}
	if d := time.Since(start); d > 2500*time.Millisecond { // five of ReadBarrier's 500 ms catch-up waits
		t.Fatalf("DeleteUser through a box whose CatchUp stalls took %v", d)
	}
	r1.stall = false
	// A box that cannot reach the leader does not answer from its replica.
	r1.noLeader = true
	err = do(1, "GetUser", &GetUserRequest{UserName: ptr("alice")})
	if !awserr.Retryable(err) {
		t.Fatalf("GetUser with no leader: %v, want the retryable error", err)
	}
}

func lastKeyID(t *testing.T, r *laggingReplica, account string) string {
	t.Helper()
	keys, err := r.State().IAMEntities(state.KindAccessKey, account)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if k.AccessKey.UserName == "alice" {
			return k.Name
		}
	}
	t.Fatal("alice has no access key")
	return ""
}
