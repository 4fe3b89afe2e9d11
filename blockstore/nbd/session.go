package nbd

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// session is one client connection, from handshake to close.
type session struct {
	srv    *Server
	conn   net.Conn
	br     *bufio.Reader
	log    *slog.Logger
	ctx    context.Context // cancelled by abort: backend calls give up
	cancel context.CancelFunc

	deadlineMu sync.Mutex // orders read-deadline changes by the session and by Shutdown

	// Replies: one at a time, batched into bw; the last writer waiting flushes.
	wmu     sync.Mutex
	bw      *bufio.Writer
	werr    error
	waiting atomic.Int32

	// Transmission state.
	exp      *export
	strict   bool          // the client agreed to the block sizes: enforce alignment
	slots    chan struct{} // one per request in flight
	budget   *budget
	inflight sync.WaitGroup
	dirty    atomic.Bool // a write completed since the last flush began

	pendMu  sync.Mutex
	pendSeq uint64
	pending map[uint64]chan struct{} // write-type requests not yet completed, for flushes

	errCount atomic.Int64 // backend errors, reported when the session ends
}

// export is the export a session chose, as advertised to its client.
type export struct {
	name     string
	backend  Backend
	trimmer  Trimmer
	zeroer   Zeroer
	props    Properties
	size     int64
	flags    uint16 // transmission flags
	minBlock uint32
}

const ioBufferSize = 64 << 10

func newSession(s *Server, c net.Conn) *session {
	ctx, cancel := context.WithCancel(context.Background())
	maxInFlight := s.MaxInFlight
	if maxInFlight <= 0 {
		maxInFlight = DefaultMaxInFlight
	}
	maxBytes := s.MaxBufferBytes
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBufferBytes
	}
	return &session{
		srv:     s,
		conn:    c,
		br:      bufio.NewReaderSize(c, ioBufferSize),
		bw:      bufio.NewWriterSize(c, ioBufferSize),
		log:     s.logger().With("nbd_conn", s.nextID.Add(1)),
		ctx:     ctx,
		cancel:  cancel,
		slots:   make(chan struct{}, maxInFlight),
		budget:  newBudget(maxBytes),
		pending: map[uint64]chan struct{}{},
	}
}

// run is the whole session.
func (t *session) run() {
	defer t.cancel()
	defer t.conn.Close()
	t.log.Debug("nbd: connection", "remote", addrString(t.conn.RemoteAddr()))
	exp, strict, err := t.handshake()
	if err != nil {
		t.endLog("nbd: handshake ended", err)
		return
	}
	t.exp, t.strict = exp, strict
	err = t.transmit()
	t.inflight.Wait()
	if t.ctx.Err() == nil && !exp.props.ReadOnly && t.dirty.Load() {
		// The client may hang up without a flush; a session's writes are made durable
		// before the connection goes, so a clean end never loses what was acknowledged.
		if ferr := exp.backend.Flush(t.ctx); ferr != nil {
			t.log.Warn("nbd: flush at disconnect failed", "export", exp.name, "err", ferr)
		}
	}
	if n := t.errCount.Load(); n > 0 {
		t.log.Warn("nbd: session had backend errors", "export", exp.name, "errors", n)
	}
	t.endLog("nbd: session ended", err)
}

func (t *session) endLog(msg string, err error) {
	switch {
	case err == nil, errors.Is(err, errClientDone), errors.Is(err, io.EOF):
		t.log.Debug(msg)
	case t.ctx.Err() != nil:
		t.log.Debug(msg, "err", err)
	default:
		t.log.Info(msg, "err", err)
	}
}

// errClientDone ends a session the client ended properly (NBD_OPT_ABORT, NBD_CMD_DISC);
// errDrained one that Shutdown ended at a request boundary.
var (
	errClientDone = errors.New("nbd: client disconnected")
	errDrained    = errors.New("nbd: drained for shutdown")
)

// beginShutdown wakes the session's reader so it notices the shutdown.
func (t *session) beginShutdown() {
	t.deadlineMu.Lock()
	defer t.deadlineMu.Unlock()
	_, drainBy := t.srv.isClosing()
	t.conn.SetReadDeadline(drainBy)
}

// abort ends the session now.
func (t *session) abort() {
	t.cancel()
	t.conn.Close()
}

// setReadDeadline sets the deadline the session wants, or the shutdown's drain deadline
// if that is sooner.
func (t *session) setReadDeadline(d time.Time) {
	t.deadlineMu.Lock()
	defer t.deadlineMu.Unlock()
	if closing, drainBy := t.srv.isClosing(); closing && (d.IsZero() || drainBy.Before(d)) {
		d = drainBy
	}
	t.conn.SetReadDeadline(d)
}

// readFull reads len(p) bytes. At a request boundary (boundary set), a shutdown's drain
// deadline passing before the first byte ends the session (errDrained); once a message
// has begun it gets partialGrace more to arrive whole.
func (t *session) readFull(p []byte, boundary bool) error {
	n, err := io.ReadFull(t.br, p)
	if err == nil {
		return nil
	}
	if closing, _ := t.srv.isClosing(); closing && errors.Is(err, os.ErrDeadlineExceeded) {
		if n == 0 && boundary {
			return errDrained
		}
		t.extendDeadline()
		_, err = io.ReadFull(t.br, p[n:])
	}
	if errors.Is(err, io.EOF) && (n > 0 || !boundary) {
		err = io.ErrUnexpectedEOF
	}
	return err
}

// discard skips n payload bytes the server will not use.
func (t *session) discard(n int) error {
	d, err := t.br.Discard(n)
	if closing, _ := t.srv.isClosing(); err != nil && closing && errors.Is(err, os.ErrDeadlineExceeded) {
		t.extendDeadline()
		_, err = t.br.Discard(n - d)
	}
	return err
}

// extendDeadline gives a message caught by the drain deadline time to arrive whole.
func (t *session) extendDeadline() {
	t.deadlineMu.Lock()
	defer t.deadlineMu.Unlock()
	t.conn.SetReadDeadline(time.Now().Add(partialGrace))
}

// reply sends one simple reply (with data only when errno is zero). Replies are written
// whole, one at a time; the writer that finds no other reply waiting flushes, so a burst
// of replies shares syscalls and a lone one goes out at once. A write error ends the
// session.
func (t *session) reply(cookie uint64, errno Errno, data []byte) {
	var hdr [replyHeaderSize]byte
	binary.BigEndian.PutUint32(hdr[0:], magicSimpleReply)
	binary.BigEndian.PutUint32(hdr[4:], uint32(errno))
	binary.BigEndian.PutUint64(hdr[8:], cookie)

	t.waiting.Add(1)
	t.wmu.Lock()
	defer t.wmu.Unlock()
	last := t.waiting.Add(-1) == 0
	if t.werr != nil {
		return
	}
	_, err := t.bw.Write(hdr[:])
	if err == nil && errno == 0 && len(data) > 0 {
		_, err = t.bw.Write(data)
	}
	if err == nil && last {
		err = t.bw.Flush()
	}
	if err != nil {
		t.werr = err
		t.conn.Close() // wakes the reader
	}
}

func addrString(a net.Addr) string {
	if a == nil {
		return ""
	}
	return a.Network() + ":" + a.String()
}
