package nbd

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults for the Server's zero-valued limits.
const (
	DefaultMaxInFlight      = 64
	DefaultMaxBufferBytes   = 64 << 20
	DefaultHandshakeTimeout = 30 * time.Second
)

// drainGrace is how long Shutdown keeps reading requests a client had already sent, to
// answer them ESHUTDOWN instead of leaving them unanswered; partialGrace is how long a
// request half-read when the drain ends gets to arrive whole. Variables for tests.
var (
	drainGrace   = 250 * time.Millisecond
	partialGrace = 5 * time.Second
)

// Server serves NBD exports on any number of listeners. Set its fields before the first
// Serve; the zero value of every field but Lookup is usable.
type Server struct {
	// Lookup finds the export a client names (the empty name is the default export). It
	// is called on NBD_OPT_INFO as well as when a client picks an export, so it should be
	// cheap and must not hand out per-call resources: the server never closes a Backend.
	// An error wrapping ErrUnknownExport (or fs.ErrNotExist) is reported as an unknown
	// export, fs.ErrPermission as refused by policy, others as unknown with their text.
	Lookup func(name string) (Backend, error)
	// List names the exports for NBD_OPT_LIST; nil refuses listing by policy.
	List func() []string
	// Logger receives connection and backend problems (default slog.Default()).
	Logger *slog.Logger
	// MaxInFlight bounds the requests one connection has being served at once
	// (default DefaultMaxInFlight); the server stops reading from a connection at the
	// bound.
	MaxInFlight int
	// MaxBufferBytes bounds the payload bytes one connection holds at once
	// (default DefaultMaxBufferBytes). A single request larger than the bound is served
	// alone.
	MaxBufferBytes int64
	// HandshakeTimeout bounds the handshake, from accept to the chosen export
	// (default DefaultHandshakeTimeout).
	HandshakeTimeout time.Duration

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	sessions  map[*session]struct{}
	closing   chan struct{} // closed by Shutdown or Close
	drainBy   time.Time     // when Shutdown stops reading requests
	wg        sync.WaitGroup
	nextID    atomic.Uint64
}

func (s *Server) initLocked() {
	if s.closing == nil {
		s.closing = make(chan struct{})
		s.listeners = map[net.Listener]struct{}{}
		s.sessions = map[*session]struct{}{}
	}
}

func (s *Server) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}

// isClosing says whether Shutdown or Close has begun, and if so until when requests are
// still read. Only sessions call it, and they exist only after s.closing is made.
func (s *Server) isClosing() (bool, time.Time) {
	select {
	case <-s.closing:
		return true, s.drainBy // written before closing was closed
	default:
		return false, time.Time{}
	}
}

// Serve accepts connections on l and serves each in its own goroutine until Shutdown or
// Close, when it returns ErrServerClosed; it returns other errors of l.Accept that are
// not temporary. Serve closes l when it returns.
func (s *Server) Serve(l net.Listener) error {
	s.mu.Lock()
	s.initLocked()
	select {
	case <-s.closing:
		s.mu.Unlock()
		l.Close()
		return ErrServerClosed
	default:
	}
	s.listeners[l] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, l)
		s.mu.Unlock()
		l.Close()
	}()

	var backoff time.Duration
	for {
		c, err := l.Accept()
		if err != nil {
			select {
			case <-s.closing:
				return ErrServerClosed
			default:
			}
			if errors.Is(err, net.ErrClosed) {
				return err
			}
			// EMFILE and friends: wait and retry, as net/http does.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			s.logger().Warn("nbd: accept failed; retrying", "addr", l.Addr().String(), "err", err, "in", backoff)
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		go s.ServeConn(c)
	}
}

// ServeConn serves one connection, handshake then transmission, and closes it; it
// returns when the session is over. Serve calls it for every connection it accepts; call
// it directly for a connection made some other way (a socketpair handed to qemu).
func (s *Server) ServeConn(c net.Conn) {
	s.mu.Lock()
	s.initLocked()
	select {
	case <-s.closing:
		s.mu.Unlock()
		c.Close()
		return
	default:
	}
	t := newSession(s, c)
	s.sessions[t] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.sessions, t)
		s.mu.Unlock()
		s.wg.Done()
	}()
	t.run()
}

// Shutdown stops the server gracefully: it closes the listeners, answers NBD_REP_ERR_SHUTDOWN
// to clients still haggling, answers requests already read (and ESHUTDOWN to those arriving
// in the next moment), flushes every export a session wrote, and closes each connection at
// a request boundary. It returns when every session is over, or when ctx ends, in which
// case it closes what is left as Close does and returns ctx's error.
func (s *Server) Shutdown(ctx context.Context) error {
	sessions := s.beginClose(time.Now().Add(drainGrace))
	for _, t := range sessions {
		t.beginShutdown()
	}
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		s.Close()
		<-done
		return ctx.Err()
	}
}

// Close stops the server now: it closes the listeners and every connection and cancels
// the context of backend calls in flight, then waits for those calls to return. Requests
// not yet answered are lost to their clients (acknowledged writes are not: they were in
// the backend before their reply).
func (s *Server) Close() error {
	for _, t := range s.beginClose(time.Now()) {
		t.abort()
	}
	s.wg.Wait()
	return nil
}

// beginClose marks the server closing (once), closes its listeners and returns its
// sessions.
func (s *Server) beginClose(drainBy time.Time) []*session {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.initLocked()
	select {
	case <-s.closing:
	default:
		s.drainBy = drainBy
		close(s.closing)
	}
	for l := range s.listeners {
		l.Close()
	}
	out := make([]*session, 0, len(s.sessions))
	for t := range s.sessions {
		out = append(out, t)
	}
	return out
}
