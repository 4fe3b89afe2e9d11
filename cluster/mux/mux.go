// Package mux serves node RPC, Raft, joins and the plain-HTTP ops endpoints (metrics,
// status) on one TCP port. A node-to-node connection opens with one kind byte and then
// speaks TLS; a connection whose first byte is an ASCII letter is plain HTTP.
//
// The kind byte comes before TLS so that each kind can use its own TLS policy: Raft and
// RPC require a client certificate from the cluster CA, a join does not (the joiner
// proves itself with its token inside the session).
package mux

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Kind selects the protocol a connection speaks after its first byte.
type Kind byte

// Connection kinds. New kinds go at the end; the byte values are a wire contract.
const (
	KindRaft Kind = 1
	KindRPC  Kind = 2
	KindJoin Kind = 3
)

func (k Kind) String() string {
	switch k {
	case KindRaft:
		return "raft"
	case KindRPC:
		return "rpc"
	case KindJoin:
		return "join"
	}
	return fmt.Sprintf("kind(%d)", byte(k))
}

const headerTimeout = 5 * time.Second

// Mux accepts connections on one listener and hands each to the listener of its kind.
type Mux struct {
	ln     net.Listener
	tls    map[Kind]*tls.Config
	subs   map[Kind]*Listener
	http   *Listener
	faults *Faults
	log    *slog.Logger
}

// New creates a mux over ln. tlsFor gives each kind's server TLS config.
func New(ln net.Listener, tlsFor map[Kind]*tls.Config, faults *Faults, log *slog.Logger) *Mux {
	m := &Mux{ln: ln, tls: tlsFor, subs: map[Kind]*Listener{}, faults: faults, log: log}
	for k := range tlsFor {
		m.subs[k] = newListener(ln.Addr())
	}
	m.http = newListener(ln.Addr())
	return m
}

// Listener returns the listener for connections of kind k; they arrive as TLS server
// connections whose handshake runs on first use.
func (m *Mux) Listener(k Kind) *Listener { return m.subs[k] }

// HTTPListener returns the listener for plain-HTTP connections.
func (m *Mux) HTTPListener() *Listener { return m.http }

// Addr is the address the mux listens on.
func (m *Mux) Addr() net.Addr { return m.ln.Addr() }

// Serve accepts until the underlying listener is closed.
func (m *Mux) Serve() error {
	for {
		c, err := m.ln.Accept()
		if err != nil {
			for _, s := range m.subs {
				s.Close()
			}
			m.http.Close()
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
		go m.route(c)
	}
}

// Close stops accepting; sub-listeners close with it.
func (m *Mux) Close() error { return m.ln.Close() }

func (m *Mux) route(c net.Conn) {
	if m.faults != nil {
		var ok bool
		if c, ok = m.faults.admit(c); !ok {
			return
		}
	}
	br := bufio.NewReaderSize(c, 512)
	c.SetReadDeadline(time.Now().Add(headerTimeout))
	b, err := br.Peek(1)
	c.SetReadDeadline(time.Time{})
	if err != nil {
		c.Close()
		return
	}
	if b[0] >= 'A' && b[0] <= 'Z' {
		m.http.push(&bufferedConn{Conn: c, r: br})
		return
	}
	br.Discard(1)
	k := Kind(b[0])
	sub, ok := m.subs[k]
	if !ok {
		m.log.Debug("mux: unknown connection kind", "kind", b[0], "remote", c.RemoteAddr())
		c.Close()
		return
	}
	sub.push(tls.Server(&bufferedConn{Conn: c, r: br}, m.tls[k]))
}

// Node-to-node connections run on a LAN, where a box answers within milliseconds. A
// box behind a partition (packets dropped, no reset) must not hold a call for the
// minutes TCP would retransmit: connecting gives up after dialTimeout, and data that
// stays unacknowledged for userTimeout (TCP_USER_TIMEOUT) or an idle connection whose
// keepalives go unanswered is dropped, so the call fails and its caller moves on.
const (
	dialTimeout = 2 * time.Second
	userTimeout = 4 * time.Second
)

func setUserTimeout(network, address string, rc syscall.RawConn) error {
	var serr error
	err := rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_USER_TIMEOUT, int(userTimeout/time.Millisecond))
	})
	if err != nil {
		return err
	}
	return serr
}

// Dialer opens node-to-node connections of a given kind.
type Dialer struct {
	Faults *Faults // nil outside fault-injection tests
}

// Dial connects to addr, sends the kind byte and starts TLS with cfg. The handshake is
// completed before Dial returns so that a certificate problem is reported here.
func (d *Dialer) Dial(ctx context.Context, addr string, k Kind, cfg *tls.Config) (*tls.Conn, error) {
	if d != nil && d.Faults != nil && !d.Faults.allowed(addr) {
		return nil, fmt.Errorf("dial %s: %w", addr, ErrPartitioned)
	}
	nd := net.Dialer{Timeout: dialTimeout, Control: setUserTimeout,
		KeepAliveConfig: net.KeepAliveConfig{Enable: true, Idle: 2 * time.Second, Interval: time.Second, Count: 3}}
	c, err := nd.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	if d != nil && d.Faults != nil {
		c = d.Faults.track(c, addr)
	}
	if dl, ok := ctx.Deadline(); ok {
		c.SetDeadline(dl)
	}
	if _, err := c.Write([]byte{byte(k)}); err != nil {
		c.Close()
		return nil, err
	}
	tc := tls.Client(c, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		c.Close()
		return nil, err
	}
	c.SetDeadline(time.Time{})
	return tc, nil
}

// Listener is a net.Listener fed by the mux.
type Listener struct {
	addr   net.Addr
	ch     chan net.Conn
	once   sync.Once
	closed chan struct{}
}

func newListener(addr net.Addr) *Listener {
	return &Listener{addr: addr, ch: make(chan net.Conn), closed: make(chan struct{})}
}

func (l *Listener) push(c net.Conn) {
	select {
	case l.ch <- c:
	case <-l.closed:
		c.Close()
	}
}

// Accept waits for the next connection of this kind.
func (l *Listener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

// Close stops this listener; the shared port stays open for other kinds.
func (l *Listener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

// Addr is the shared port's address.
func (l *Listener) Addr() net.Addr { return l.addr }

type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufferedConn) Read(p []byte) (int, error) { return c.r.Read(p) }
