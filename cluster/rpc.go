package cluster

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/hashicorp/raft"

	"github.com/banyancloud/banyan/cluster/mux"
	"github.com/banyancloud/banyan/cluster/state"
)

// Node RPC is HTTP/1.1 over the mux's mutual-TLS KindRPC connections: the standard
// library gives connection pooling, streaming bodies and timeouts. Messages are CBOR, and
// failures carry a code field, never a string to be parsed.

const maxRPCBody = 16 << 20

type applyRequest struct {
	Data      []byte `cbor:"1,keyasint"`
	RequestID []byte `cbor:"2,keyasint"`
}

type rpcError struct {
	Code    string `cbor:"1,keyasint"`
	Message string `cbor:"2,keyasint"`
}

// RPC error codes.
const (
	rpcNotLeader = "NotLeader"
	rpcShutdown  = "Shutdown"
	rpcInternal  = "Internal"
	rpcInvalid   = "Invalid"
)

type applyResponse struct {
	Result *state.Result `cbor:"1,keyasint,omitempty"`
	Err    *rpcError     `cbor:"2,keyasint,omitempty"`
}

func (n *Node) rpcHandler() http.Handler {
	m := n.rpcMux
	m.HandleFunc("POST /v1/apply", n.handleApply)
	m.HandleFunc("POST /v1/submit", n.handleSubmit)
	m.HandleFunc("POST /v1/settings", n.handleSettings)
	m.HandleFunc("POST /v1/iam/entities", n.handleIAMEntities)
	m.HandleFunc("POST /v1/commit-index", n.handleCommitIndex)
	m.HandleFunc("GET "+pingPath, n.handlePing)
	return m
}

// handleApply commits a forwarded write if this node leads. It never forwards again, so
// a stale leader view cannot make a loop: the caller retries with its fresher view.
func (n *Node) handleApply(w http.ResponseWriter, r *http.Request) {
	var req applyRequest
	if err := readCBOR(r.Body, &req); err != nil {
		writeCBOR(w, http.StatusBadRequest, applyResponse{Err: &rpcError{Code: rpcInvalid, Message: err.Error()}})
		return
	}
	if n.raft.State() != raft.Leader {
		writeCBOR(w, http.StatusOK, applyResponse{Err: &rpcError{Code: rpcNotLeader}})
		return
	}
	res, err := n.applyLocal(r.Context(), req.Data, req.RequestID)
	switch {
	case err == nil:
		writeCBOR(w, http.StatusOK, applyResponse{Result: res})
	case errors.Is(err, errNotLeader):
		writeCBOR(w, http.StatusOK, applyResponse{Err: &rpcError{Code: rpcNotLeader}})
	default:
		writeCBOR(w, http.StatusOK, applyResponse{Err: &rpcError{Code: rpcInternal, Message: err.Error()}})
	}
}

type rpcClient struct {
	http  *http.Client
	peers *peerTransports
}

func newRPCClient(d *mux.Dialer, cfg *tls.Config) *rpcClient {
	peers := &peerTransports{m: map[string]*http.Transport{}, new: func() *http.Transport {
		return &http.Transport{
			DialTLSContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
				return d.Dial(ctx, addr, mux.KindRPC, cfg)
			},
			MaxIdleConnsPerHost: 16,
			IdleConnTimeout:     90 * time.Second,
		}
	}}
	return &rpcClient{http: &http.Client{Transport: peers}, peers: peers}
}

// peerTransports keeps one connection pool per box, so that the pooled connections
// to one box can be dropped when a call to it fails without touching the others.
type peerTransports struct {
	new func() *http.Transport
	mu  sync.Mutex
	m   map[string]*http.Transport
}

func (p *peerTransports) get(host string) *http.Transport {
	p.mu.Lock()
	defer p.mu.Unlock()
	t := p.m[host]
	if t == nil {
		t = p.new()
		p.m[host] = t
	}
	return t
}

// RoundTrip implements http.RoundTripper.
func (p *peerTransports) RoundTrip(req *http.Request) (*http.Response, error) {
	return p.get(req.URL.Host).RoundTrip(req)
}

// dropIdle closes the idle connections to host: the next call dials afresh.
func (p *peerTransports) dropIdle(host string) {
	p.mu.Lock()
	t := p.m[host]
	p.mu.Unlock()
	if t != nil {
		t.CloseIdleConnections()
	}
}

// CloseIdleConnections closes the idle connections to every box.
func (p *peerTransports) CloseIdleConnections() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, t := range p.m {
		t.CloseIdleConnections()
	}
}

func (c *rpcClient) close() { c.http.CloseIdleConnections() }

func (c *rpcClient) apply(ctx context.Context, addr string, data, requestID []byte) (*state.Result, error) {
	var resp applyResponse
	if err := c.call(ctx, addr, "/v1/apply", applyRequest{Data: data, RequestID: requestID}, &resp); err != nil {
		return nil, err
	}
	if resp.Err != nil {
		if resp.Err.Code == rpcNotLeader {
			return nil, errNotLeader
		}
		return nil, fmt.Errorf("leader %s: %s: %s", addr, resp.Err.Code, resp.Err.Message)
	}
	if resp.Result == nil {
		return nil, fmt.Errorf("leader %s sent an empty apply response", addr)
	}
	return resp.Result, nil
}

func (c *rpcClient) call(ctx context.Context, addr, path string, in, out any) error {
	return c.do(ctx, addr, path, in, out, false)
}

// callAllowStatus decodes the body whatever the status, for endpoints that answer
// refusals with a coded error body.
func (c *rpcClient) callAllowStatus(ctx context.Context, addr, path string, in, out any) error {
	return c.do(ctx, addr, path, in, out, true)
}

func (c *rpcClient) do(ctx context.Context, addr, path string, in, out any, anyStatus bool) error {
	body, err := state.Marshal(in)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "https://"+addr+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/cbor")
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK && !anyStatus {
		return fmt.Errorf("node %s answered %s for %s", addr, resp.Status, path)
	}
	return readCBOR(resp.Body, out)
}

func readCBOR(r io.Reader, v any) error {
	b, err := io.ReadAll(io.LimitReader(r, maxRPCBody+1))
	if err != nil {
		return err
	}
	if len(b) > maxRPCBody {
		return errors.New("rpc message too large")
	}
	return state.Unmarshal(b, v)
}

func writeCBOR(w http.ResponseWriter, status int, v any) {
	b, err := state.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/cbor")
	w.WriteHeader(status)
	w.Write(b)
}
