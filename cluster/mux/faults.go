package mux

import (
	"errors"
	"net"
	"sync"
)

// ErrPartitioned is returned when a fault-injection partition blocks a connection.
var ErrPartitioned = errors.New("network partitioned (fault injection)")

// Faults is a fault injector for in-process cluster tests: it cuts the node off from
// chosen peer hosts in both directions, closing live connections as iptables DROP plus
// a connection reset would. Production nodes run with a nil *Faults.
type Faults struct {
	mu      sync.Mutex
	blocked map[string]bool
	conns   map[net.Conn]string
}

// Block cuts connections to and from the given hosts (IP addresses, no ports).
func (f *Faults) Block(hosts ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.blocked == nil {
		f.blocked = map[string]bool{}
	}
	for _, h := range hosts {
		f.blocked[h] = true
	}
	for c, h := range f.conns {
		if f.blocked[h] {
			c.Close()
			delete(f.conns, c)
		}
	}
}

// Heal removes every block.
func (f *Faults) Heal() {
	f.mu.Lock()
	f.blocked = nil
	f.mu.Unlock()
}

// Allowed reports whether traffic to or from addr (host or host:port) may pass. Other
// transports (gossip in the cluster's tests) use it to honour the same partitions.
func (f *Faults) Allowed(addr string) bool { return f.allowed(addr) }

// Track registers a connection to or from addr so that a later Block cuts it.
func (f *Faults) Track(c net.Conn, addr string) net.Conn { return f.track(c, addr) }

func (f *Faults) allowed(addr string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return !f.blocked[hostOf(addr)]
}

func (f *Faults) admit(c net.Conn) (net.Conn, bool) {
	h := hostOf(c.RemoteAddr().String())
	if !f.allowed(h) {
		c.Close()
		return nil, false
	}
	return f.track(c, h), true
}

// track registers c under the same lock Block takes, so a connection whose dial or accept
// passed the check just before a Block is cut too instead of slipping through the
// partition.
func (f *Faults) track(c net.Conn, addr string) net.Conn {
	f.mu.Lock()
	defer f.mu.Unlock()
	h := hostOf(addr)
	if f.blocked[h] {
		c.Close()
		return &trackedConn{Conn: c, f: f}
	}
	if f.conns == nil {
		f.conns = map[net.Conn]string{}
	}
	f.conns[c] = h
	return &trackedConn{Conn: c, f: f}
}

type trackedConn struct {
	net.Conn
	f *Faults
}

func (c *trackedConn) Close() error {
	c.f.mu.Lock()
	delete(c.f.conns, c.Conn)
	c.f.mu.Unlock()
	return c.Conn.Close()
}

func hostOf(addr string) string {
	if h, _, err := net.SplitHostPort(addr); err == nil {
		return h
	}
	return addr
}
