package nbd

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// testServer is a Server listening on a unix socket and on 127.0.0.1, stopped (and its
// Serve loops checked) when the test ends.
type testServer struct {
	*Server
	sock string // unix socket path
	tcp  string // host:port
}

// startServer serves exports (name → backend) on a fresh unix socket and TCP port.
func startServer(t testing.TB, exports map[string]Backend, configure ...func(*Server)) *testServer {
	t.Helper()
	dir, err := os.MkdirTemp("", "nbd") // short: unix socket paths are limited to 108 bytes
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	s := &Server{
		Lookup: func(name string) (Backend, error) {
			if b, ok := exports[name]; ok {
				return b, nil
			}
			return nil, fmt.Errorf("export %q: %w", name, ErrUnknownExport)
		},
		List: func() []string {
			var names []string
			for n := range exports {
				names = append(names, n)
			}
			return names
		},
		Logger: slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	for _, c := range configure {
		c(s)
	}
	ts := &testServer{Server: s, sock: filepath.Join(dir, "nbd.sock")}
	ul, err := net.Listen("unix", ts.sock)
	if err != nil {
		t.Fatal(err)
	}
	tl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ts.tcp = tl.Addr().String()
	errs := make(chan error, 2)
	go func() { errs <- s.Serve(ul) }()
	go func() { errs <- s.Serve(tl) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		for range 2 {
			if err := <-errs; !errors.Is(err, ErrServerClosed) {
				t.Errorf("Serve returned %v, want ErrServerClosed", err)
			}
		}
	})
	return ts
}

// unixURL is the qemu URL of an export on the unix socket.
func (ts *testServer) unixURL(name string) string {
	return "nbd+unix:///" + name + "?socket=" + ts.sock
}

// tcpURL is the qemu URL of an export on the TCP port.
func (ts *testServer) tcpURL(name string) string {
	return "nbd://" + ts.tcp + "/" + name
}

// testWriter sends log lines to t.Log. Every session ends before the server's Shutdown
// returns, in the test's cleanup, so nothing logs after the test.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// needTool skips the test when a command is not installed.
func needTool(t testing.TB, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		t.Skipf("%s is not installed", name)
	}
}

// run runs a command and returns its combined output, failing the test on a non-zero
// exit.
func run(t testing.TB, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// qemuIO runs qemu-io commands on url and fails the test if any of them failed.
func qemuIO(t testing.TB, url string, cmds ...string) string {
	t.Helper()
	args := []string{"-f", "raw"}
	for _, c := range cmds {
		args = append(args, "-c", c)
	}
	out := run(t, "qemu-io", append(args, url)...)
	for _, bad := range []string{"failed", "error", "Error", "Pattern verification"} {
		if strings.Contains(out, bad) {
			t.Fatalf("qemu-io %q: %s", cmds, out)
		}
	}
	return out
}

// newFile makes a sparse file of size bytes in the test's temp dir and serves it.
func newFile(t testing.TB, size int64) (*FileBackend, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "vol.img")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	b, err := NewFileBackend(f, false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b, path
}

// fileBytes reads a range of a file.
func fileBytes(t testing.TB, path string, off, n int64) []byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p := make([]byte, n)
	if _, err := f.ReadAt(p, off); err != nil {
		t.Fatal(err)
	}
	return p
}

// wantBytes fails unless every byte of p is v.
func wantBytes(t testing.TB, what string, p []byte, v byte) {
	t.Helper()
	for i, b := range p {
		if b != v {
			t.Fatalf("%s: byte %d is %#x, want all %#x", what, i, b, v)
		}
	}
}

// memBackend is an in-memory Backend test double. It indexes its slice directly, so a
// request the server let through out of bounds panics.
type memBackend struct {
	mu      sync.Mutex
	data    []byte
	props   Properties
	flushes int
}

func newMem(size int) *memBackend { return &memBackend{data: make([]byte, size)} }

func (m *memBackend) Size() int64 { return int64(len(m.data)) }

func (m *memBackend) ReadAt(_ context.Context, p []byte, off int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	copy(p, m.data[off:off+int64(len(p))])
	return nil
}

func (m *memBackend) WriteAt(_ context.Context, p []byte, off int64, _ bool) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	copy(m.data[off:off+int64(len(p))], p)
	return nil
}

func (m *memBackend) Flush(context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.flushes++
	return nil
}

func (m *memBackend) Trim(_ context.Context, off, length int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	clear(m.data[off : off+length])
	return nil
}

func (m *memBackend) Properties() Properties { return m.props }

// client is a minimal NBD client speaking the raw protocol, for what qemu will not send.
type client struct {
	t     testing.TB
	conn  net.Conn
	br    *bufio.Reader
	size  uint64
	flags uint16
}

// rawDial connects and reads the server's greeting.
func rawDial(t testing.TB, network, addr string) *client {
	t.Helper()
	conn, err := net.Dial(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	c := &client{t: t, conn: conn, br: bufio.NewReader(conn)}
	var hello [18]byte
	c.read(hello[:])
	if binary.BigEndian.Uint64(hello[0:]) != magicNBD || binary.BigEndian.Uint64(hello[8:]) != magicIHaveOpt {
		t.Fatalf("bad greeting % x", hello)
	}
	if f := binary.BigEndian.Uint16(hello[16:]); f != flagFixedNewstyle|flagNoZeroes {
		t.Fatalf("handshake flags %#x", f)
	}
	return c
}

// dialGo connects and enters transmission on export name with NBD_OPT_GO (asking for
// block sizes when strict).
func dialGo(t testing.TB, network, addr, name string, strict bool) *client {
	t.Helper()
	c := rawDial(t, network, addr)
	c.write(be32(clientFixedNewstyle | clientNoZeroes))
	var reqs []uint16
	if strict {
		reqs = append(reqs, infoBlockSize)
	}
	c.option(optGo, goData(name, reqs...))
	for {
		opt, typ, data := c.optReply()
		if opt != optGo {
			t.Fatalf("reply to option %d", opt)
		}
		switch typ {
		case repInfo:
			if binary.BigEndian.Uint16(data) == infoExport {
				c.size = binary.BigEndian.Uint64(data[2:])
				c.flags = binary.BigEndian.Uint16(data[10:])
			}
		case repAck:
			return c
		default:
			t.Fatalf("NBD_OPT_GO %q: reply %#x %q", name, typ, data)
		}
	}
}

func goData(name string, reqs ...uint16) []byte {
	d := append(be32(uint32(len(name))), name...)
	d = binary.BigEndian.AppendUint16(d, uint16(len(reqs)))
	for _, r := range reqs {
		d = binary.BigEndian.AppendUint16(d, r)
	}
	return d
}

func be32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }

func (c *client) write(p []byte) {
	c.t.Helper()
	if _, err := c.conn.Write(p); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

func (c *client) read(p []byte) {
	c.t.Helper()
	if _, err := io.ReadFull(c.br, p); err != nil {
		c.t.Fatalf("read: %v", err)
	}
}

func (c *client) option(opt uint32, data []byte) {
	c.t.Helper()
	b := binary.BigEndian.AppendUint64(nil, magicIHaveOpt)
	b = binary.BigEndian.AppendUint32(b, opt)
	b = binary.BigEndian.AppendUint32(b, uint32(len(data)))
	c.write(append(b, data...))
}

func (c *client) optReply() (opt, typ uint32, data []byte) {
	c.t.Helper()
	var h [20]byte
	c.read(h[:])
	if m := binary.BigEndian.Uint64(h[0:]); m != magicOptionReply {
		c.t.Fatalf("option reply magic %#x", m)
	}
	data = make([]byte, binary.BigEndian.Uint32(h[16:]))
	c.read(data)
	return binary.BigEndian.Uint32(h[8:]), binary.BigEndian.Uint32(h[12:]), data
}

// encodeRequest encodes one request (with its payload, for a write).
func encodeRequest(typ, flags uint16, cookie, off uint64, length uint32, payload []byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, magicRequest)
	b = binary.BigEndian.AppendUint16(b, flags)
	b = binary.BigEndian.AppendUint16(b, typ)
	b = binary.BigEndian.AppendUint64(b, cookie)
	b = binary.BigEndian.AppendUint64(b, off)
	b = binary.BigEndian.AppendUint32(b, length)
	return append(b, payload...)
}

func (c *client) send(typ, flags uint16, cookie, off uint64, length uint32, payload []byte) {
	c.t.Helper()
	c.write(encodeRequest(typ, flags, cookie, off, length, payload))
}

// recv reads one simple reply header.
func (c *client) recv() (cookie uint64, errno Errno) {
	c.t.Helper()
	var h [replyHeaderSize]byte
	c.read(h[:])
	if m := binary.BigEndian.Uint32(h[0:]); m != magicSimpleReply {
		c.t.Fatalf("reply magic %#x", m)
	}
	return binary.BigEndian.Uint64(h[8:]), Errno(binary.BigEndian.Uint32(h[4:]))
}

// do sends one request and waits for its reply (and a read's data).
func (c *client) do(typ, flags uint16, off uint64, length uint32, payload []byte) (Errno, []byte) {
	c.t.Helper()
	c.send(typ, flags, 42, off, length, payload)
	cookie, errno := c.recv()
	if cookie != 42 {
		c.t.Fatalf("reply for cookie %d, want 42", cookie)
	}
	var data []byte
	if typ == cmdRead && errno == 0 {
		data = make([]byte, length)
		c.read(data)
	}
	return errno, data
}

// wantClosed waits for the server to close the connection.
func (c *client) wantClosed() {
	c.t.Helper()
	c.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, err := io.Copy(io.Discard, c.br); err != nil {
		c.t.Fatalf("connection not closed cleanly: %v (after %d bytes)", err, n)
	}
}
