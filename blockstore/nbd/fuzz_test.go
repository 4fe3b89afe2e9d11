package nbd

import (
	"bytes"
	"encoding/binary"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"
)

// scriptConn is a net.Conn that reads a fixed script and then EOF, and records what the
// server writes.
type scriptConn struct {
	in     *bytes.Reader
	mu     sync.Mutex
	out    bytes.Buffer
	closed bool
}

func (c *scriptConn) Read(p []byte) (int, error) { return c.in.Read(p) }

func (c *scriptConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return 0, net.ErrClosed
	}
	return c.out.Write(p)
}

func (c *scriptConn) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	return nil
}

func (c *scriptConn) LocalAddr() net.Addr              { return nil }
func (c *scriptConn) RemoteAddr() net.Addr             { return nil }
func (c *scriptConn) SetDeadline(time.Time) error      { return nil }
func (c *scriptConn) SetReadDeadline(time.Time) error  { return nil }
func (c *scriptConn) SetWriteDeadline(time.Time) error { return nil }

// fuzzSize is the size of the fuzzed export: small, so each run is cheap.
const fuzzSize = 64 << 10

// serveScript runs one session over script against a fuzzSize in-memory export named "vol"
// (whose slice indexing panics on any out-of-range request the server lets through), and
// fails unless the session ends, closing its connection, within a few seconds.
func serveScript(t *testing.T, script []byte) *scriptConn {
	mem := newMem(fuzzSize)
	s := &Server{
		Lookup: func(name string) (Backend, error) {
			if name == "vol" || name == "" {
				return mem, nil
			}
			return nil, ErrUnknownExport
		},
		List:   func() []string { return []string{"vol"} },
		Logger: slog.New(slog.DiscardHandler),
	}
	c := &scriptConn{in: bytes.NewReader(script)}
	done := make(chan struct{})
	go func() {
		s.ServeConn(c)
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatalf("session did not end on a %d-byte script", len(script))
	}
	if !c.closed {
		t.Fatal("session ended without closing its connection")
	}
	return c
}

// goPrefix is what a client sends to get into transmission on "vol" with NBD_OPT_GO.
func goPrefix(strict bool) []byte {
	b := be32(clientFixedNewstyle | clientNoZeroes)
	var reqs []uint16
	if strict {
		reqs = []uint16{infoBlockSize}
	}
	data := goData("vol", reqs...)
	b = binary.BigEndian.AppendUint64(b, magicIHaveOpt)
	b = binary.BigEndian.AppendUint32(b, optGo)
	b = binary.BigEndian.AppendUint32(b, uint32(len(data)))
	return append(b, data...)
}

func transmissionSeeds() [][]byte {
	pat := bytes.Repeat([]byte{0xa5}, 512) // small: the fuzzer minimizes what it finds byte by byte
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	return [][]byte{
		nil,
		cat(encodeRequest(cmdWrite, 0, 1, 0, 512, pat), encodeRequest(cmdRead, 0, 2, 0, 4096, nil),
			encodeRequest(cmdFlush, 0, 3, 0, 0, nil), encodeRequest(cmdDisc, 0, 4, 0, 0, nil)),
		cat(encodeRequest(cmdWrite, cmdFlagFUA, 1, fuzzSize-512, 512, pat), encodeRequest(cmdTrim, 0, 2, 0, 8192, nil),
			encodeRequest(cmdWriteZeroes, cmdFlagNoHole, 3, 4096, fuzzSize-4096, nil)),
		encodeRequest(cmdRead, 0, 1, fuzzSize, 512, nil),
		encodeRequest(cmdRead, 0, 1, 0, MaxPayload+1, nil),
		encodeRequest(cmdWrite, 0, 1, fuzzSize, 512, pat),
		encodeRequest(cmdWrite, 0, 1, 0, MaxPayload+1, pat[:100]),
		encodeRequest(cmdWrite, 0, 1, 0, 0xffffffff, nil),
		encodeRequest(cmdWrite, 0, 1, 3, 5, []byte{1, 2}),
		encodeRequest(cmdCache, 0xffff, 1, 1<<63, 0xffffffff, nil),
		encodeRequest(77, 0, 1, 0, 512, nil),
		encodeRequest(cmdRead, 0, 1, 0, 4096, nil)[:20],
		bytes.Repeat([]byte{0x25, 0x60, 0x95, 0x13}, 20),
	}
}

// FuzzTransmission feeds arbitrary bytes to the transmission phase after a valid
// handshake: the server must neither panic, nor touch the backend out of range, nor
// hang, and must close the connection.
func FuzzTransmission(f *testing.F) {
	for _, seed := range transmissionSeeds() {
		f.Add(true, seed)
		f.Add(false, seed)
	}
	f.Fuzz(func(t *testing.T, strict bool, data []byte) {
		c := serveScript(t, append(goPrefix(strict), data...))
		// The handshake went through: greeting, then the replies to NBD_OPT_GO.
		out := c.out.Bytes()
		if len(out) < 18+20 || binary.BigEndian.Uint64(out[18:]) != magicOptionReply {
			t.Fatalf("handshake reply % x", out[:min(len(out), 40)])
		}
	})
}

// FuzzHandshake feeds arbitrary bytes to the handshake from its first byte.
func FuzzHandshake(f *testing.F) {
	opt := func(o uint32, data []byte) []byte {
		b := binary.BigEndian.AppendUint64(nil, magicIHaveOpt)
		b = binary.BigEndian.AppendUint32(b, o)
		b = binary.BigEndian.AppendUint32(b, uint32(len(data)))
		return append(b, data...)
	}
	flags := be32(clientFixedNewstyle | clientNoZeroes)
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	for _, seed := range [][]byte{
		nil,
		flags,
		goPrefix(true),
		cat(flags, opt(optList, nil), opt(optInfo, goData("vol", infoName, infoBlockSize, infoDescription)),
			opt(optStructuredReply, nil), opt(optGo, goData("nope")), opt(optGo, goData("vol"))),
		cat(flags, opt(optExportName, []byte("vol")), encodeRequest(cmdRead, 0, 1, 0, 512, nil)),
		cat(be32(0), opt(optExportName, nil)),
		cat(be32(0), opt(optList, nil)),
		cat(flags, opt(optAbort, nil)),
		cat(flags, opt(optInfo, []byte{0xff, 0xff, 0xff, 0xff, 0, 0})),
		cat(flags, opt(optInfo, append(goData("vol"), 1))),
		cat(flags, opt(9999, make([]byte, 100))),
		cat(flags, binary.BigEndian.AppendUint64(nil, magicIHaveOpt), be32(optList), be32(maxOptionData+1)),
		be32(0xffffffff),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c := serveScript(t, data)
		if out := c.out.Bytes(); len(out) < 18 || binary.BigEndian.Uint64(out) != magicNBD {
			t.Fatalf("greeting % x", out)
		}
	})
}

var _ net.Conn = (*scriptConn)(nil)
