package node

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/banyancloud/banyan/cluster"
	"github.com/banyancloud/banyan/cluster/state"
)

// Locks is a cluster-wide lock in the manner of MinIO's dsync: a lock is held when a
// majority of the registered boxes grant a lease on its name. The object store takes it
// around the commit of a key, so that conditional writes through different boxes are
// atomic and writes of one key are serialized cluster-wide.
//
// Leases live in memory and expire (leaseTTL) unless their holder renews them (every
// third of a lease while it holds the lock), so a box that dies holding a lock blocks
// its key for one lease at most. A box that restarts has forgotten the leases it granted, so it grants
// nothing until every lease it may have granted before has expired: it touches a file in
// the data dir every aliveEvery while it runs, and on start refuses grants until that
// file's time plus aliveEvery plus leaseTTL. Two holders of one lock can therefore never
// both reach a majority. A box that was down longer than a lease grants at once; so
// does the only box of a one-box cluster, whose holders all died with it.
type Locks struct {
	node *cluster.Node

	mu          sync.Mutex
	leases      map[string]lease
	refuseUntil time.Time
	boxes       func() int // registered boxes
}

type lease struct {
	owner   string
	expires time.Time
}

const (
	leaseTTL   = 6 * time.Second
	aliveEvery = 2 * time.Second
	locksPath  = "/v1/locks/"
	aliveFile  = "locks-alive"
)

type lockRequest struct {
	Name  string `cbor:"1,keyasint"`
	Owner string `cbor:"2,keyasint"`
}

// NewLocks serves this box's share of the lock and returns the client side. dataDir
// keeps the file that tells a restarted box how long to refuse grants; the heartbeat
// that touches it stops with ctx.
func NewLocks(ctx context.Context, n *cluster.Node, dataDir string) *Locks {
	path := filepath.Join(dataDir, aliveFile)
	l := &Locks{node: n, leases: map[string]lease{}, refuseUntil: restartWindow(path), boxes: func() int {
		nodes, err := n.State().Nodes()
		if err != nil {
			return 0
		}
		return len(nodes)
	}}
	if wait := time.Until(l.refuseUntil); wait > 0 {
		slog.Info("cluster lock: this box restarted within a lease period; granting no leases until the ones it may have granted before have expired", "for", wait.Round(time.Second))
	}
	touch := func() {
		now := time.Now()
		if err := os.Chtimes(path, now, now); err != nil {
			os.WriteFile(path, nil, 0o600)
		}
	}
	touch()
	go func() {
		t := time.NewTicker(aliveEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				touch()
			}
		}
	}()
	n.HandleRPC("POST "+locksPath+"acquire", http.HandlerFunc(l.serveAcquire))
	n.HandleRPC("POST "+locksPath+"release", http.HandlerFunc(l.serveRelease))
	return l
}

// restartWindow is when the leases a previous run of this box may have granted have all
// expired: the heartbeat file's time, plus one heartbeat, plus a lease. Zero when there
// was no previous run.
func restartWindow(path string) time.Time {
	fi, err := os.Stat(path)
	if err != nil {
		return time.Time{}
	}
	return fi.ModTime().Add(aliveEvery + leaseTTL)
}

// refusing reports whether this box must still refuse grants after a restart.
func (l *Locks) refusing(now time.Time) bool {
	if !now.Before(l.refuseUntil) {
		return false
	}
	return l.boxes() > 1 // the only box: every holder it granted died with it
}

func (l *Locks) grant(name, owner string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	if l.refusing(now) {
		return false
	}
	if cur, ok := l.leases[name]; ok && cur.owner != owner && now.Before(cur.expires) {
		return false
	}
	l.leases[name] = lease{owner: owner, expires: now.Add(leaseTTL)}
	if len(l.leases) > 4096 { // drop expired leases now and then
		for k, v := range l.leases {
			if now.After(v.expires) {
				delete(l.leases, k)
			}
		}
	}
	return true
}

func (l *Locks) release(name, owner string) {
	l.mu.Lock()
	if cur, ok := l.leases[name]; ok && cur.owner == owner {
		delete(l.leases, name)
	}
	l.mu.Unlock()
}

func (l *Locks) serveAcquire(w http.ResponseWriter, r *http.Request) {
	var req lockRequest
	if err := decodeBody(r, &req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if !l.grant(req.Name, req.Owner) {
		w.WriteHeader(http.StatusConflict)
		return
	}
	w.WriteHeader(http.StatusOK)
}

func (l *Locks) serveRelease(w http.ResponseWriter, r *http.Request) {
	var req lockRequest
	if err := decodeBody(r, &req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	l.release(req.Name, req.Owner)
	w.WriteHeader(http.StatusOK)
}

func decodeBody(r *http.Request, v any) error {
	b, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	if err != nil {
		return err
	}
	return state.Unmarshal(b, v)
}

// lockWait bounds how long Lock tries for a majority; after it the write fails with a
// retryable error instead of hanging while the boxes are split.
const lockWait = 10 * time.Second

// Lock takes the cluster-wide lock of name, retrying until ctx ends or lockWait passes.
func (l *Locks) Lock(ctx context.Context, name string) (func(), error) {
	var id [12]byte
	rand.Read(id[:])
	owner := l.node.Name() + "/" + hex.EncodeToString(id[:])
	ctx, cancel := context.WithTimeout(ctx, lockWait)
	defer cancel()
	backoff := 2 * time.Millisecond
	for {
		addrs := l.lockers()
		need := len(addrs)/2 + 1
		granted := l.acquire(ctx, addrs, need, name, owner)
		if len(granted) >= need {
			stop := make(chan struct{})
			renewed := make(chan struct{})
			go func() {
				defer close(renewed)
				t := time.NewTicker(leaseTTL / 3)
				defer t.Stop()
				for {
					select {
					case <-stop:
						return
					case <-t.C:
						l.each(context.Background(), granted, "acquire", name, owner)
					}
				}
			}()
			return func() {
				close(stop)
				<-renewed
				rctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				l.each(rctx, granted, "release", name, owner)
			}, nil
		}
		l.each(context.WithoutCancel(ctx), granted, "release", name, owner)
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("cluster lock %s: no majority of %d boxes granted it: %w", name, len(addrs), ctx.Err())
		case <-time.After(backoff/2 + jitter(backoff)):
		}
		if backoff < 200*time.Millisecond {
			backoff *= 2
		}
	}
}

// acquire asks every address for the lease in parallel and returns as soon as need of
// them granted it (or all answered): a slow or partitioned box does not hold up a lock
// the others already granted. A grant that arrives after the answer is released.
func (l *Locks) acquire(ctx context.Context, addrs []string, need int, name, owner string) []string {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	type answer struct {
		addr string
		ok   bool
	}
	answers := make(chan answer, len(addrs))
	asked := 0
	for _, a := range addrs {
		if a == "" {
			continue
		}
		asked++
		go func() { answers <- answer{a, l.ask(ctx, a, "acquire", name, owner)} }()
	}
	var granted []string
	for got := 0; got < asked && len(granted) < need; got++ {
		if a := <-answers; a.ok {
			granted = append(granted, a.addr)
		}
	}
	late := asked - len(granted)
	go func() {
		defer cancel()
		for range late {
			if a := <-answers; a.ok {
				l.each(context.Background(), []string{a.addr}, "release", name, owner)
			}
		}
	}()
	return granted
}

// lockers are the RPC addresses of every registered box, alive or not: a majority of
// all of them is needed, so two halves of a partition cannot both hold a lock. Boxes
// gossip reports dead are listed as "" and not asked, so no lock waits on a timeout.
// A box whose disks were all removed for good (`banyan disk remove --node`) is no
// longer counted: the operator has said it will not return.
func (l *Locks) lockers() []string {
	nodes, err := l.node.State().Nodes()
	if err != nil || len(nodes) == 0 {
		return []string{l.node.Addr()}
	}
	removed := removedBoxes(l.node.State())
	var out []string
	for _, n := range nodes {
		if removed[n.Name] && n.Name != l.node.Name() {
			continue
		}
		if l.node.MemberAlive(n.Name) {
			out = append(out, n.Addr)
		} else {
			out = append(out, "")
		}
	}
	return out
}

// removedBoxes names the boxes that have disks and whose every disk is Removed.
func removedBoxes(st *state.Store) map[string]bool {
	disks, _, err := st.DiskMap()
	if err != nil {
		return nil
	}
	out := map[string]bool{}
	for _, d := range disks {
		if _, seen := out[d.Node]; !seen {
			out[d.Node] = true
		}
		if d.State != state.DiskRemoved {
			out[d.Node] = false
		}
	}
	return out
}

// each sends op to every address in parallel and returns those that said yes.
func (l *Locks) each(ctx context.Context, addrs []string, op, name, owner string) []string {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	var mu sync.Mutex
	var ok []string
	var wg sync.WaitGroup
	for _, a := range addrs {
		if a == "" {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if l.ask(ctx, a, op, name, owner) {
				mu.Lock()
				ok = append(ok, a)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return ok
}

// ask sends op for name to the box at addr (this box directly) and reports a yes.
func (l *Locks) ask(ctx context.Context, addr, op, name, owner string) bool {
	if addr == l.node.Addr() {
		if op == "acquire" {
			return l.grant(name, owner)
		}
		l.release(name, owner)
		return true
	}
	body, _ := state.Marshal(lockRequest{Name: name, Owner: owner})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "https://"+addr+locksPath+op, bytes.NewReader(body))
	if err != nil {
		return false
	}
	resp, err := l.node.RPCClient().Do(req)
	if err != nil {
		return false
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// jitter spreads retries so that two boxes contending for one lock do not retry in step.
func jitter(d time.Duration) time.Duration {
	var b [2]byte
	rand.Read(b[:])
	return d * time.Duration(int(b[0])<<8|int(b[1])) / 65536
}
