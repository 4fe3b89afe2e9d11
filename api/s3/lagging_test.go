package s3

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/raft"

	"github.com/banyancloud/banyan/api/iam"
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
}

func (l *laggingLog) replica() *laggingReplica {
	st := state.NewStore()
	return &laggingReplica{log: l, store: st, fsm: state.NewFSM(st, slog.New(slog.NewTextHandler(io.Discard, nil))),
		results: map[uint64]*state.Result{}}
}

func (r *laggingReplica) State() *state.Store { return r.store }

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
	r.log.mu.Lock()
	n := uint64(len(r.log.entries))
	r.log.mu.Unlock()
	r.upTo(n)
	return nil
}

// applyOnly hides CatchUp: a box whose front end can only count on the FSM.
type applyOnly struct{ r *laggingReplica }

func (a applyOnly) Apply(ctx context.Context, cmd state.Command, out any) (uint64, error) {
	return a.r.Apply(ctx, cmd, out)
}
func (a applyOnly) State() *state.Store { return a.r.store }

// Bucket existence answered through boxes whose replicas lag behind each other's writes
// holds as of the call (the chaos soak's linearizability check on buckets), and of two
// deletes of one bucket only one answers 204.
func TestBucketAnswersHoldAcrossLaggingBoxes(t *testing.T) {
	sealer, err := pki.NewSealer(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	log := &laggingLog{}
	r1, r2, r3 := log.replica(), log.replica(), log.replica()
	root, err := iam.CreateAccount(ctx, r1, nil, sealer, "admin", true)
	if err != nil {
		t.Fatal(err)
	}
	objects := newMemObjects()
	clusters := []service.Cluster{r1, r2, applyOnly{r3}}
	caller := &identity.Caller{Type: identity.TypeRoot, AccountID: root.AccountID,
		ARN: identity.RootARN(root.AccountID), UserID: root.AccountID}
	do := func(box int, method, path string) (int, string) {
		t.Helper()
		c := clusters[box-1]
		authz := &identity.Authorizer{Store: c.State()}
		f := New(c, objects, authz, "us-east-1")
		req := httptest.NewRequest(method, "http://s3.test"+path, nil)
		w := httptest.NewRecorder()
		f.ServeS3(w, req, &service.Call{Ctx: req.Context(), Caller: caller, RequestID: "t", Region: "us-east-1", HTTP: req, Authorizer: authz})
		body := w.Body.String()
		if i := strings.Index(body, "<Code>"); i >= 0 {
			body = body[i+len("<Code>"):]
			body = body[:strings.Index(body, "<")]
		}
		return w.Code, body
	}
	r2.CatchUp(ctx)
	r3.CatchUp(ctx)
	steps := []struct {
		box          int
		method, path string
		status       int
		want         string // error code, or a bucket name ListBuckets must show ("-x": must not)
	}{
		{1, http.MethodPut, "/lin-x", 200, ""},
		{2, http.MethodHead, "/lin-x", 200, ""},
		{2, http.MethodDelete, "/lin-x", 204, ""},
		// box 1 still holds lin-x
		{1, http.MethodHead, "/lin-x", 404, ""},
		{1, http.MethodGet, "/", 200, "-lin-x"},
		{1, http.MethodPut, "/lin-x", 200, ""},
		// box 2 does not hold the new lin-x
		{2, http.MethodGet, "/", 200, "lin-x"},
		{2, http.MethodPut, "/lin-x", 409, "BucketAlreadyOwnedByYou"},
		{2, http.MethodDelete, "/lin-x", 204, ""},
		// box 3 decides by the FSM alone: it still holds lin-x, and lin-x is gone
		{3, http.MethodDelete, "/lin-x", 404, "NoSuchBucket"},
	}
	for i, s := range steps {
		status, body := do(s.box, s.method, s.path)
		ok := status == s.status
		switch {
		case s.method == http.MethodGet && strings.HasPrefix(s.want, "-"):
			ok = ok && !strings.Contains(body, "<Name>"+s.want[1:]+"</Name>")
		case s.method == http.MethodGet:
			ok = ok && strings.Contains(body, "<Name>"+s.want+"</Name>")
		case s.want != "":
			ok = ok && body == s.want
		}
		if !ok {
			t.Fatalf("step %d: %s %s through box %d: %d %.200s, want %d %s", i, s.method, s.path, s.box, status, body, s.status, s.want)
		}
	}
}
