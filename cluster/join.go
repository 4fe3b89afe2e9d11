package cluster

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/banyancloud/banyan/cluster/mux"
	"github.com/banyancloud/banyan/cluster/pki"
)

// JoinRequest is what a box presents to be admitted.
type JoinRequest struct {
	Secret        string `cbor:"1,keyasint"`
	Name          string `cbor:"2,keyasint"`
	AdvertiseAddr string `cbor:"3,keyasint"` // IP
	PublicKey     []byte `cbor:"4,keyasint"` // PKIX DER of the node key it generated
	Version       string `cbor:"5,keyasint,omitempty"`
}

// JoinGrant is everything a box needs to become a member: its certificate and the
// cluster's shared secrets. It travels only inside TLS pinned by the token.
type JoinGrant struct {
	ClusterID  string   `cbor:"1,keyasint"`
	CACert     []byte   `cbor:"2,keyasint"`
	CAKey      []byte   `cbor:"3,keyasint"`
	NodeCert   []byte   `cbor:"4,keyasint"`
	GossipKey  []byte   `cbor:"5,keyasint"`
	ClusterKey []byte   `cbor:"6,keyasint"`
	Peers      []string `cbor:"7,keyasint"` // gossip addresses of live members
}

// JoinRefusedError is the admitting node's reason for saying no.
type JoinRefusedError struct {
	Code    string // InvalidToken, ExpiredToken, NameInUse, NotReady, Invalid
	Message string
}

func (e *JoinRefusedError) Error() string { return "join refused: " + e.Message }

type joinResponse struct {
	Grant *JoinGrant `cbor:"1,keyasint,omitempty"`
	Err   *rpcError  `cbor:"2,keyasint,omitempty"`
}

func (n *Node) joinHandler() http.Handler {
	m := http.NewServeMux()
	m.HandleFunc("POST /v1/join", n.handleJoin)
	return m
}

func (n *Node) handleJoin(w http.ResponseWriter, r *http.Request) {
	var req JoinRequest
	if err := readCBOR(r.Body, &req); err != nil {
		writeCBOR(w, http.StatusBadRequest, joinResponse{Err: &rpcError{Code: "Invalid", Message: "malformed join request"}})
		return
	}
	grant, refusal := n.admit(&req)
	if refusal != nil {
		n.log.Warn("refused a join", "from", r.RemoteAddr, "name", req.Name, "reason", refusal.Message)
		writeCBOR(w, http.StatusForbidden, joinResponse{Err: &rpcError{Code: refusal.Code, Message: refusal.Message}})
		return
	}
	n.log.Info("admitted a new node", "name", req.Name, "addr", req.AdvertiseAddr)
	writeCBOR(w, http.StatusOK, joinResponse{Grant: grant})
}

func (n *Node) admit(req *JoinRequest) (*JoinGrant, *JoinRefusedError) {
	tok, err := n.store.JoinToken(pki.HashSecret(req.Secret))
	if err != nil || subtle.ConstantTimeCompare([]byte(tok.SecretHash), []byte(pki.HashSecret(req.Secret))) != 1 {
		return nil, &JoinRefusedError{Code: "InvalidToken", Message: "the join token is not valid for this cluster (revoked, mistyped, or from an older cluster)"}
	}
	if tok.Expired(time.Now()) {
		return nil, &JoinRefusedError{Code: "ExpiredToken", Message: fmt.Sprintf("the join token expired at %s; create a new one with `banyan token create`", tok.Expires.Format(time.RFC3339))}
	}
	ip := net.ParseIP(req.AdvertiseAddr)
	if req.Name == "" || ip == nil {
		return nil, &JoinRefusedError{Code: "Invalid", Message: "a joining node needs a name and an IP address"}
	}
	if m, ok := n.memberStatus()[req.Name]; (ok && m.status == StatusAlive && hostOf(m.meta.Addr) != req.AdvertiseAddr) || req.Name == n.cfg.Name {
		return nil, &JoinRefusedError{Code: "NameInUse", Message: fmt.Sprintf("a live node is already called %q; give the new one another --name", req.Name)}
	}
	pub, err := pki.ParsePublicKey(req.PublicKey)
	if err != nil {
		return nil, &JoinRefusedError{Code: "Invalid", Message: "the joining node's public key is malformed"}
	}
	cert, err := n.cfg.CA.Issue(req.Name, pub, []net.IP{ip})
	if err != nil {
		return nil, &JoinRefusedError{Code: "Internal", Message: "cannot issue a certificate: " + err.Error()}
	}
	peers := []string{n.GossipAddr()}
	for name, m := range n.memberStatus() {
		if m.status == StatusAlive && name != n.cfg.Name && m.gossip != "" {
			peers = append(peers, m.gossip)
		}
	}
	return &JoinGrant{
		ClusterID: n.cfg.ClusterID, CACert: n.cfg.CA.CertPEM, CAKey: n.cfg.CA.KeyPEM, NodeCert: cert,
		GossipKey: n.cfg.GossipKey, ClusterKey: n.cfg.ClusterKey, Peers: peers,
	}, nil
}

// RequestJoin asks the node at addr (host or host:port) to admit this box. It verifies
// that addr belongs to the cluster the token names before sending the token's secret.
func RequestJoin(ctx context.Context, addr string, token pki.Token, req JoinRequest) (*JoinGrant, error) {
	if _, _, err := net.SplitHostPort(addr); err != nil {
		addr = net.JoinHostPort(addr, strconv.Itoa(DefaultRPCPort))
	}
	req.Secret = token.Secret
	var d mux.Dialer
	conn, err := d.Dial(ctx, addr, mux.KindJoin, pki.PinnedClientConfig(token.Pin))
	if err != nil {
		var op *net.OpError
		switch {
		case errors.Is(err, pki.ErrForeignCluster):
			return nil, fmt.Errorf("%s: %w", addr, pki.ErrForeignCluster)
		case errors.As(err, &op) && op.Op == "dial":
			return nil, fmt.Errorf("cannot reach %s: %v; is banyan running there?", addr, op.Err)
		default:
			return nil, fmt.Errorf("%s is %w (%v)", addr, pki.ErrNotBanyan, err)
		}
	}
	tr := &http.Transport{DialTLSContext: func(context.Context, string, string) (net.Conn, error) { return conn, nil }}
	defer tr.CloseIdleConnections()
	c := &rpcClient{http: &http.Client{Transport: tr}}
	var resp joinResponse
	if err := c.callAllowStatus(ctx, addr, "/v1/join", req, &resp); err != nil {
		return nil, fmt.Errorf("%s did not answer the join like a Banyan node: %w", addr, err)
	}
	if resp.Err != nil {
		return nil, &JoinRefusedError{Code: resp.Err.Code, Message: resp.Err.Message}
	}
	if resp.Grant == nil {
		return nil, fmt.Errorf("%s sent an empty join grant", addr)
	}
	return resp.Grant, nil
}

func hostOf(addr string) string {
	if h, _, err := net.SplitHostPort(addr); err == nil {
		return h
	}
	return addr
}
