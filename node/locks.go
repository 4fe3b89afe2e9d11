package node

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
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
// Leases live in memory and expire (leaseTTL), so a box that dies holding a lock blocks
// nobody for long. The known gap, shared with dsync: a box that restarts forgets the
// leases it granted, so in that window a second holder can reach a majority.
type Locks struct {
	node *cluster.Node

	mu     sync.Mutex
	leases map[string]lease
}

type lease struct {
	owner   string
	expires time.Time
}

const (
	leaseTTL  = 30 * time.Second
	locksPath = "/v1/locks/"
)

type lockRequest struct {
	Name  string `cbor:"1,keyasint"`
	Owner string `cbor:"2,keyasint"`
}

// NewLocks serves this box's share of the lock and returns the client side.
func NewLocks(n *cluster.Node) *Locks {
	l := &Locks{node: n, leases: map[string]lease{}}
	n.HandleRPC("POST "+locksPath+"acquire", http.HandlerFunc(l.serveAcquire))
	n.HandleRPC("POST "+locksPath+"release", http.HandlerFunc(l.serveRelease))
	return l
}

func (l *Locks) grant(name, owner string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
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

// Lock takes the cluster-wide lock of name, retrying until ctx ends.
func (l *Locks) Lock(ctx context.Context, name string) (func(), error) {
	var id [12]byte
	rand.Read(id[:])
	owner := l.node.Name() + "/" + hex.EncodeToString(id[:])
	backoff := 2 * time.Millisecond
	for {
		addrs := l.lockers()
		granted := l.each(ctx, addrs, "acquire", name, owner)
		if len(granted) >= len(addrs)/2+1 {
			return func() {
				rctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				l.each(rctx, granted, "release", name, owner)
			}, nil
		}
		l.each(ctx, granted, "release", name, owner)
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("cluster lock %s: %w", name, ctx.Err())
		case <-time.After(backoff/2 + jitter(backoff)):
		}
		if backoff < 200*time.Millisecond {
			backoff *= 2
		}
	}
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
	body, _ := state.Marshal(lockRequest{Name: name, Owner: owner})
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
			if a == l.node.Addr() {
				if op == "acquire" && !l.grant(name, owner) {
					return
				}
				if op == "release" {
					l.release(name, owner)
				}
			} else {
				req, err := http.NewRequestWithContext(ctx, http.MethodPost, "https://"+a+locksPath+op, bytes.NewReader(body))
				if err != nil {
					return
				}
				resp, err := l.node.RPCClient().Do(req)
				if err != nil {
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					return
				}
			}
			mu.Lock()
			ok = append(ok, a)
			mu.Unlock()
		}()
	}
	wg.Wait()
	return ok
}

// jitter spreads retries so that two boxes contending for one lock do not retry in step.
func jitter(d time.Duration) time.Duration {
	var b [2]byte
	rand.Read(b[:])
	return d * time.Duration(int(b[0])<<8|int(b[1])) / 65536
}
