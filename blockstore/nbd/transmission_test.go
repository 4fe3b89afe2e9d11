package nbd

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// TestOutOfRangeAndOversize checks that requests outside the export, or longer than the
// server takes, are refused with the spec's errno and leave the connection usable, except
// for a write too long to skip, which is refused and hung up on.
func TestOutOfRangeAndOversize(t *testing.T) {
	const size = 1 << 20
	mem := newMem(size)
	ts := startServer(t, map[string]Backend{"vol": mem})
	c := dialGo(t, "unix", ts.sock, "vol", true)
	if c.size != size {
		t.Fatalf("size %d, want %d", c.size, size)
	}
	pattern := bytes.Repeat([]byte{0x3c}, 4096)
	if errno, _ := c.do(cmdWrite, 0, 0, 4096, pattern); errno != 0 {
		t.Fatalf("write: %v", errno)
	}
	usable := func(what string) {
		t.Helper()
		errno, data := c.do(cmdRead, 0, 0, 4096, nil)
		if errno != 0 || !bytes.Equal(data, pattern) {
			t.Fatalf("after %s: read errno %d, data changed %v", what, errno, !bytes.Equal(data, pattern))
		}
	}
	for _, tc := range []struct {
		name    string
		typ     uint16
		flags   uint16
		off     uint64
		length  uint32
		payload bool
		want    Errno
	}{
		{"read past the end", cmdRead, 0, size - 512, 1024, false, EINVAL},
		{"read far past the end", cmdRead, 0, 1 << 62, 512, false, EINVAL},
		{"read wrapping around", cmdRead, 0, math.MaxUint64 - 511, 1024, false, EINVAL},
		{"read over the maximum", cmdRead, 0, 0, MaxPayload + 512, false, EINVAL},
		{"write past the end", cmdWrite, 0, size, 4096, true, ENOSPC},
		{"write over the maximum", cmdWrite, 0, 0, MaxPayload + 4096, true, EINVAL},
		{"trim past the end", cmdTrim, 0, size - 4096, 8192, false, EINVAL},
		{"zeroes past the end", cmdWriteZeroes, 0, size - 4096, 8192, false, ENOSPC},
		{"misaligned read", cmdRead, 0, 100, 512, false, EINVAL},
		{"misaligned write", cmdWrite, 0, 512, 100, true, EINVAL},
		{"unknown command", 99, 0, 0, 512, false, EINVAL},
		{"block status unnegotiated", cmdBlockStatus, 0, 0, 512, false, EINVAL},
		{"don't-fragment without structured replies", cmdRead, cmdFlagDF, 0, 512, false, EINVAL},
		{"fast zero unadvertised", cmdWriteZeroes, cmdFlagFastZero, 8192, 512, false, EINVAL},
		{"unknown flag", cmdRead, 1 << 9, 0, 512, false, EINVAL},
		{"FUA on a read is ignored", cmdRead, cmdFlagFUA, 0, 512, false, 0},
		{"NO_HOLE on zeroes", cmdWriteZeroes, cmdFlagNoHole | cmdFlagFUA, 8192, 512, false, 0},
		{"zero-length read", cmdRead, 0, size, 0, false, 0},
		{"zero-length write", cmdWrite, 0, 0, 0, false, 0},
		{"cache hint", cmdCache, 0, 0, 4096, false, 0},
		{"trim at the end", cmdTrim, 0, size - 4096, 4096, false, 0},
	} {
		var payload []byte
		if tc.payload {
			payload = bytes.Repeat([]byte{0xee}, int(tc.length))
		}
		errno, _ := c.do(tc.typ, tc.flags, tc.off, tc.length, payload)
		if errno != tc.want {
			t.Errorf("%s: errno %d, want %d", tc.name, errno, tc.want)
		}
		usable(tc.name)
	}
	if mem.data[size-1] != 0 {
		t.Error("a refused write reached the backend")
	}

	// A write too long to skip: refused, then the server hangs up (no payload follows,
	// and none is read).
	c.send(cmdWrite, 0, 7, 0, math.MaxUint32, nil)
	if cookie, errno := c.recv(); cookie != 7 || errno != EINVAL {
		t.Errorf("huge write: cookie %d errno %d, want 7 EINVAL", cookie, errno)
	}
	c.wantClosed()

	// A client that did not agree to the block sizes may send unaligned requests.
	loose := dialGo(t, "unix", ts.sock, "vol", false)
	if errno, _ := loose.do(cmdWrite, 0, 100, 3, []byte{1, 2, 3}); errno != 0 {
		t.Errorf("unaligned write without block size negotiation: %d", errno)
	}
	if errno, data := loose.do(cmdRead, 0, 99, 5, nil); errno != 0 || !bytes.Equal(data, []byte{0x3c, 1, 2, 3, 0x3c}) {
		t.Errorf("unaligned read: errno %d data %v", errno, data)
	}

	// A bad request magic cannot be recovered from: the server hangs up.
	loose.write(bytes.Repeat([]byte{0xff}, requestHeaderSize))
	loose.wantClosed()

	// NBD_CMD_DISC ends the session cleanly.
	c2 := dialGo(t, "tcp", ts.tcp, "vol", true)
	c2.send(cmdDisc, 0, 1, 0, 0, nil)
	c2.wantClosed()
}

// TestReadOnly checks that a read-only export says so and refuses every write with EPERM.
func TestReadOnly(t *testing.T) {
	mem := newMem(1 << 20)
	mem.props.ReadOnly = true
	mem.data[0] = 9
	ts := startServer(t, map[string]Backend{"ro": mem})
	c := dialGo(t, "unix", ts.sock, "ro", true)
	if c.flags&tflagReadOnly == 0 || c.flags&(tflagSendTrim|tflagWriteZeroes) != 0 {
		t.Errorf("read-only export advertised flags %#x", c.flags)
	}
	for _, typ := range []uint16{cmdWrite, cmdTrim, cmdWriteZeroes} {
		var payload []byte
		if typ == cmdWrite {
			payload = make([]byte, 4096)
		}
		if errno, _ := c.do(typ, 0, 0, 4096, payload); errno != EPERM {
			t.Errorf("command %d on a read-only export: errno %d, want EPERM", typ, errno)
		}
	}
	if errno, data := c.do(cmdRead, 0, 0, 512, nil); errno != 0 || data[0] != 9 {
		t.Errorf("read: errno %d, data[0] %d", errno, data[0])
	}
	if errno, _ := c.do(cmdFlush, 0, 0, 0, nil); errno != 0 {
		t.Errorf("flush: %d", errno)
	}
}

// orderBackend is a test double recording, for each Flush, which writes had completed
// when it was called. Writes take a random few milliseconds, so they complete out of
// order and overlap the flush.
type orderBackend struct {
	*memBackend
	mu        sync.Mutex
	completed map[byte]bool   // by the first byte written
	flushSaw  []map[byte]bool // what had completed at each Flush
}

func (o *orderBackend) WriteAt(ctx context.Context, p []byte, off int64, fua bool) error {
	time.Sleep(time.Duration(rand.IntN(3000)) * time.Microsecond)
	o.memBackend.WriteAt(ctx, p, off, fua)
	o.mu.Lock()
	o.completed[p[0]] = true
	o.mu.Unlock()
	return nil
}

func (o *orderBackend) Flush(ctx context.Context) error {
	o.mu.Lock()
	saw := map[byte]bool{}
	for k := range o.completed {
		saw[k] = true
	}
	o.flushSaw = append(o.flushSaw, saw)
	o.mu.Unlock()
	return nil
}

// TestFlushOrdering checks that a flush reaches the backend only after every write that
// was acknowledged before it was sent, and, as this server promises beyond the spec,
// every write sent before it on the connection, even ones not yet acknowledged.
func TestFlushOrdering(t *testing.T) {
	b := &orderBackend{memBackend: newMem(1 << 20), completed: map[byte]bool{}}
	ts := startServer(t, map[string]Backend{"vol": b})
	c := dialGo(t, "unix", ts.sock, "vol", true)

	// Acknowledged writes, then a flush.
	for i := range 16 {
		if errno, _ := c.do(cmdWrite, 0, uint64(i)*4096, 4096, bytes.Repeat([]byte{byte(i)}, 4096)); errno != 0 {
			t.Fatalf("write %d: %d", i, errno)
		}
	}
	if errno, _ := c.do(cmdFlush, 0, 0, 0, nil); errno != 0 {
		t.Fatalf("flush: %d", errno)
	}

	// Pipelined: 32 writes and a flush sent together, replies collected after.
	var burst []byte
	for i := 16; i < 48; i++ {
		burst = append(burst, encodeRequest(cmdWrite, 0, uint64(i), uint64(i)*4096, 4096, bytes.Repeat([]byte{byte(i)}, 4096))...)
	}
	burst = append(burst, encodeRequest(cmdFlush, 0, 1000, 0, 0, nil)...)
	c.write(burst)
	seen := map[uint64]bool{}
	for range 33 {
		cookie, errno := c.recv()
		if errno != 0 {
			t.Errorf("reply %d: errno %d", cookie, errno)
		}
		seen[cookie] = true
	}
	if len(seen) != 33 || !seen[1000] {
		t.Fatalf("replies for %d distinct cookies", len(seen))
	}

	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.flushSaw) != 2 {
		t.Fatalf("%d flushes reached the backend, want 2", len(b.flushSaw))
	}
	for i, saw := range b.flushSaw {
		n := []int{16, 48}[i] // writes sent before flush i
		for w := range n {
			if !saw[byte(w)] {
				t.Errorf("flush %d reached the backend before write %d completed", i, w)
			}
		}
	}
}

// gateBackend blocks reads until released, and tracks how many run at once.
type gateBackend struct {
	*memBackend
	gate               chan struct{}
	running, maxAtOnce atomic.Int64
	ran                atomic.Int64
}

func (g *gateBackend) ReadAt(ctx context.Context, p []byte, off int64) error {
	n := g.running.Add(1)
	for {
		m := g.maxAtOnce.Load()
		if n <= m || g.maxAtOnce.CompareAndSwap(m, n) {
			break
		}
	}
	defer g.running.Add(-1)
	g.ran.Add(1)
	select {
	case <-g.gate:
	case <-ctx.Done():
		return ctx.Err()
	}
	return g.memBackend.ReadAt(ctx, p, off)
}

// TestConcurrentRequests checks that one connection's requests run in parallel, up to
// MaxInFlight of them and MaxBufferBytes of payload, and no more.
func TestConcurrentRequests(t *testing.T) {
	for _, tc := range []struct {
		name        string
		maxInFlight int
		maxBytes    int64
		readLen     uint32
		want        int64
	}{
		{"bounded by requests", 4, 0, 4096, 4},
		{"bounded by bytes", 0, 1 << 20, 256 << 10, 4},
		{"default bound", 0, 0, 4096, DefaultMaxInFlight},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := &gateBackend{memBackend: newMem(32 << 20), gate: make(chan struct{})}
			ts := startServer(t, map[string]Backend{"vol": g}, func(s *Server) {
				s.MaxInFlight, s.MaxBufferBytes = tc.maxInFlight, tc.maxBytes
			})
			c := dialGo(t, "unix", ts.sock, "vol", true)
			const total = 100
			var burst []byte
			for i := range total {
				burst = append(burst, encodeRequest(cmdRead, 0, uint64(i), uint64(i)*uint64(tc.readLen)%(32<<20), tc.readLen, nil)...)
			}
			c.write(burst)
			deadline := time.Now().Add(10 * time.Second)
			for g.running.Load() < tc.want && time.Now().Before(deadline) {
				time.Sleep(time.Millisecond)
			}
			time.Sleep(20 * time.Millisecond) // room for more than allowed to start, if they could
			if got := g.maxAtOnce.Load(); got != tc.want {
				t.Errorf("%d reads ran at once, want %d", got, tc.want)
			}
			close(g.gate)
			for range total {
				_, errno := c.recv()
				if errno != 0 {
					t.Fatalf("read errno %d", errno)
				}
				c.read(make([]byte, tc.readLen))
			}
		})
	}
}

// TestShutdown checks a graceful shutdown: an idle session and one still haggling are
// closed, a request in flight is answered before its connection closes, a request sent
// during the drain gets ESHUTDOWN, what was written is flushed, and Serve returns.
func TestShutdown(t *testing.T) {
	old := drainGrace
	drainGrace = 2 * time.Second // long enough to send a request during the drain, reliably
	t.Cleanup(func() { drainGrace = old })

	g := &gateBackend{memBackend: newMem(1 << 20), gate: make(chan struct{})}
	ts := startServer(t, map[string]Backend{"vol": g})

	idle := dialGo(t, "unix", ts.sock, "vol", true)
	haggling := rawDial(t, "unix", ts.sock)
	haggling.write(be32(clientFixedNewstyle))
	busy := dialGo(t, "tcp", ts.tcp, "vol", true)
	if errno, _ := busy.do(cmdWrite, 0, 0, 512, make([]byte, 512)); errno != 0 {
		t.Fatal(errno)
	}
	late := dialGo(t, "unix", ts.sock, "vol", true)
	busy.send(cmdRead, 0, 5, 0, 512, nil) // blocks in the backend
	for g.running.Load() == 0 {
		time.Sleep(time.Millisecond)
	}

	done := make(chan error)
	go func() { done <- ts.Shutdown(context.Background()) }()
	for closing, _ := ts.isClosing(); !closing; closing, _ = ts.isClosing() {
		time.Sleep(time.Millisecond)
	}
	late.send(cmdRead, 0, 6, 0, 512, nil)
	if cookie, errno := late.recv(); cookie != 6 || errno != ESHUTDOWN {
		t.Errorf("request during shutdown: cookie %d errno %d, want ESHUTDOWN", cookie, errno)
	}
	late.send(cmdFlush, 0, 7, 0, 0, nil)
	if cookie, errno := late.recv(); cookie != 7 || errno != 0 {
		t.Errorf("flush during shutdown: cookie %d errno %d, want success", cookie, errno)
	}
	haggling.option(optList, nil)
	if _, typ, _ := haggling.optReply(); typ != repErrShutdown {
		t.Errorf("option during shutdown: reply %#x, want NBD_REP_ERR_SHUTDOWN", typ)
	}

	select {
	case err := <-done:
		t.Fatalf("Shutdown returned %v with a request in flight", err)
	case <-time.After(50 * time.Millisecond):
	}
	g.mu.Lock()
	flushesBefore := g.flushes
	g.mu.Unlock()
	close(g.gate)
	if cookie, errno := busy.recv(); cookie != 5 || errno != 0 {
		t.Errorf("request in flight at shutdown: cookie %d errno %d", cookie, errno)
	}
	busy.read(make([]byte, 512))
	for _, c := range []*client{idle, haggling, busy, late} {
		c.wantClosed()
	}
	if err := <-done; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	g.mu.Lock()
	if g.flushes <= flushesBefore {
		t.Error("the written session was not flushed at shutdown")
	}
	g.mu.Unlock()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := ts.Serve(l); err != ErrServerClosed {
		t.Errorf("Serve after Shutdown: %v", err)
	}
	if _, err := l.Accept(); err == nil {
		t.Error("Serve after Shutdown left its listener open")
	}
}

// TestShutdownTimeout checks that Shutdown gives up when its context ends, closing what
// is left and cancelling the backend calls in flight.
func TestShutdownTimeout(t *testing.T) {
	g := &gateBackend{memBackend: newMem(1 << 20), gate: make(chan struct{})} // never opened
	ts := startServer(t, map[string]Backend{"vol": g})
	c := dialGo(t, "unix", ts.sock, "vol", true)
	c.send(cmdRead, 0, 1, 0, 512, nil)
	for g.running.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if err := ts.Shutdown(ctx); err != context.DeadlineExceeded {
		t.Errorf("Shutdown: %v, want DeadlineExceeded", err)
	}
	if g.running.Load() != 0 {
		t.Error("a backend call outlived Close")
	}
	// Close may beat the cancelled call's reply (ESHUTDOWN) to the socket or not; either
	// way the connection ends.
	c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	rest, err := io.ReadAll(c.br)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Error("connection still open after Close")
	}
	if len(rest) > 0 && (len(rest) != replyHeaderSize || Errno(binary.BigEndian.Uint32(rest[4:])) != ESHUTDOWN) {
		t.Errorf("after Close the client got % x, want nothing or an ESHUTDOWN reply", rest)
	}
}

// faultBackend is a memBackend whose every call fails with err.
type faultBackend struct {
	*memBackend
	err error
}

func (f *faultBackend) ReadAt(context.Context, []byte, int64) error        { return f.err }
func (f *faultBackend) WriteAt(context.Context, []byte, int64, bool) error { return f.err }
func (f *faultBackend) Flush(context.Context) error                        { return f.err }
func (f *faultBackend) Trim(context.Context, int64, int64) error           { return f.err }

// TestBackendErrors checks that a failing backend's errors reach the client as NBD errno
// values, and the session survives them.
func TestBackendErrors(t *testing.T) {
	exports := map[string]Backend{}
	for name, err := range map[string]error{
		"full":   &os.PathError{Op: "write", Path: "x", Err: syscall.ENOSPC},
		"broken": errors.New("replica quorum lost"),
		"chosen": fmt.Errorf("wrapped: %w", ENOTSUP),
	} {
		exports[name] = &faultBackend{memBackend: newMem(1 << 20), err: err}
	}
	want := map[string]Errno{"full": ENOSPC, "broken": EIO, "chosen": ENOTSUP}
	ts := startServer(t, exports)
	for name, errno := range want {
		c := dialGo(t, "unix", ts.sock, name, true)
		for _, typ := range []uint16{cmdRead, cmdWrite, cmdFlush, cmdTrim, cmdWriteZeroes} {
			var payload []byte
			length := uint32(4096)
			if typ == cmdWrite {
				payload = make([]byte, length)
			}
			if typ == cmdFlush {
				length = 0
			}
			if got, _ := c.do(typ, 0, 0, length, payload); got != errno {
				t.Errorf("%s: command %d got errno %d, want %d", name, typ, got, errno)
			}
		}
	}
}

// TestMultiConn checks that an export safe for several connections says so, and that a
// write acknowledged on one connection and flushed on another is read back on a third.
func TestMultiConn(t *testing.T) {
	fb, _ := newFile(t, 1<<20)
	ts := startServer(t, map[string]Backend{"vol": fb, "mem": newMem(1 << 20)})
	a := dialGo(t, "unix", ts.sock, "vol", true)
	b := dialGo(t, "tcp", ts.tcp, "vol", true)
	c := dialGo(t, "unix", ts.sock, "vol", true)
	if a.flags&tflagCanMultiConn == 0 {
		t.Errorf("FileBackend export flags %#x lack NBD_FLAG_CAN_MULTI_CONN", a.flags)
	}
	if m := dialGo(t, "unix", ts.sock, "mem", true); m.flags&tflagCanMultiConn != 0 {
		t.Errorf("a backend that did not say so is advertised as multi-conn: %#x", m.flags)
	}
	p := bytes.Repeat([]byte{0x61}, 4096)
	if errno, _ := a.do(cmdWrite, 0, 8192, 4096, p); errno != 0 {
		t.Fatal(errno)
	}
	if errno, _ := b.do(cmdFlush, 0, 0, 0, nil); errno != 0 {
		t.Fatal(errno)
	}
	if errno, data := c.do(cmdRead, 0, 8192, 4096, nil); errno != 0 || !bytes.Equal(data, p) {
		t.Errorf("read on another connection: errno %d, equal %v", errno, bytes.Equal(data, p))
	}
}
