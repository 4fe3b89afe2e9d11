package nbd

import (
	"bytes"
	"encoding/binary"
	"sort"
	"testing"
)

// TestHandshakeOptions walks the option haggling with the raw client: every option this
// server knows, the ones it refuses, and the ways into transmission.
func TestHandshakeOptions(t *testing.T) {
	ro := newMem(1 << 20)
	ro.props = Properties{ReadOnly: true, MultiConn: true, Description: "golden image"}
	odd := newMem(1000) // not a multiple of 512: minimum block size 1
	ts := startServer(t, map[string]Backend{"vol": newMem(2 << 20), "ro": ro, "odd": odd})

	c := rawDial(t, "unix", ts.sock)
	c.write(be32(clientFixedNewstyle | clientNoZeroes))

	// NBD_OPT_LIST: one NBD_REP_SERVER per export, then NBD_REP_ACK.
	c.option(optList, nil)
	var names []string
	for {
		opt, typ, data := c.optReply()
		if opt != optList {
			t.Fatalf("reply to %d", opt)
		}
		if typ == repAck {
			break
		}
		if typ != repServer {
			t.Fatalf("NBD_OPT_LIST reply %#x", typ)
		}
		n := binary.BigEndian.Uint32(data)
		names = append(names, string(data[4:4+n]))
		if string(data[4:4+n]) == "ro" && string(data[4+n:]) != "golden image" {
			t.Errorf("description %q", data[4+n:])
		}
	}
	sort.Strings(names)
	if want := []string{"odd", "ro", "vol"}; !equal(names, want) {
		t.Errorf("listed %v, want %v", names, want)
	}
	c.option(optList, []byte{1})
	if _, typ, _ := c.optReply(); typ != repErrInvalid {
		t.Errorf("NBD_OPT_LIST with data: %#x", typ)
	}

	// Refused options: each politely, and the session goes on.
	for _, opt := range []uint32{optStructuredReply, optStartTLS, optListMetaContext, optSetMetaContext, optExtendedHeaders, optPeekExport, 4242} {
		c.option(opt, nil)
		if gotOpt, typ, _ := c.optReply(); gotOpt != opt || typ != repErrUnsup {
			t.Errorf("option %d: reply %#x to %d, want NBD_REP_ERR_UNSUP", opt, typ, gotOpt)
		}
	}
	c.option(4243, make([]byte, maxOptionData+1))
	if _, typ, _ := c.optReply(); typ != repErrTooBig {
		t.Errorf("over-long option: %#x, want NBD_REP_ERR_TOO_BIG", typ)
	}

	// NBD_OPT_INFO: malformed, unknown, and good.
	for _, bad := range [][]byte{{0, 0}, append(be32(100), 0, 0), append(goData("vol"), 0)} {
		c.option(optInfo, bad)
		if _, typ, _ := c.optReply(); typ != repErrInvalid {
			t.Errorf("NBD_OPT_INFO % x: %#x, want NBD_REP_ERR_INVALID", bad, typ)
		}
	}
	c.option(optInfo, goData("nope"))
	if _, typ, msg := c.optReply(); typ != repErrUnknown || !bytes.Contains(msg, []byte("nope")) {
		t.Errorf("NBD_OPT_INFO unknown: %#x %q", typ, msg)
	}
	info := func(name string, reqs ...uint16) map[uint16][]byte {
		t.Helper()
		c.option(optInfo, goData(name, reqs...))
		got := map[uint16][]byte{}
		for {
			_, typ, data := c.optReply()
			if typ == repAck {
				return got
			}
			if typ != repInfo {
				t.Fatalf("NBD_OPT_INFO %q: %#x %q", name, typ, data)
			}
			got[binary.BigEndian.Uint16(data)] = data[2:]
		}
	}
	got := info("ro", infoName, infoDescription, infoBlockSize, 99)
	if size := binary.BigEndian.Uint64(got[infoExport]); size != 1<<20 {
		t.Errorf("size %d", size)
	}
	flags := binary.BigEndian.Uint16(got[infoExport][8:])
	if want := tflagHasFlags | tflagReadOnly | tflagSendFlush | tflagSendFUA | tflagCanMultiConn; flags != want {
		t.Errorf("flags %#x, want %#x", flags, want)
	}
	if string(got[infoName]) != "ro" || string(got[infoDescription]) != "golden image" {
		t.Errorf("name %q description %q", got[infoName], got[infoDescription])
	}
	bs := got[infoBlockSize]
	if lo, pref, hi := binary.BigEndian.Uint32(bs), binary.BigEndian.Uint32(bs[4:]), binary.BigEndian.Uint32(bs[8:]); lo != 512 || pref != 4096 || hi != 32<<20 {
		t.Errorf("block sizes %d/%d/%d", lo, pref, hi)
	}
	if bs := info("odd")[infoBlockSize]; binary.BigEndian.Uint32(bs) != 1 {
		t.Errorf("odd-sized export: minimum block %d, want 1", binary.BigEndian.Uint32(bs))
	}
	if flags := binary.BigEndian.Uint16(info("vol")[infoExport][8:]); flags != tflagHasFlags|tflagSendFlush|tflagSendFUA|tflagSendTrim|tflagWriteZeroes {
		t.Errorf("vol flags %#x", flags)
	}

	// NBD_OPT_EXPORT_NAME with NO_ZEROES: size and flags, no padding; then transmission.
	c.option(optExportName, []byte("vol"))
	var ex [10]byte
	c.read(ex[:])
	if binary.BigEndian.Uint64(ex[:]) != 2<<20 {
		t.Errorf("export size % x", ex)
	}
	c.size = 2 << 20
	if errno, _ := c.do(cmdWrite, 0, 0, 3, []byte{1, 2, 3}); errno != 0 {
		t.Errorf("write after NBD_OPT_EXPORT_NAME: %d", errno)
	}
	if errno, data := c.do(cmdRead, 0, 0, 4, nil); errno != 0 || !bytes.Equal(data, []byte{1, 2, 3, 0}) {
		t.Errorf("read after NBD_OPT_EXPORT_NAME: %d %v", errno, data)
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestHandshakeEndings checks the other ways a handshake ends: the zero padding for a
// client without NO_ZEROES, NBD_OPT_ABORT, an unknown NBD_OPT_EXPORT_NAME, a non-fixed
// client, unknown client flags, and a bad option magic.
func TestHandshakeEndings(t *testing.T) {
	ts := startServer(t, map[string]Backend{"": newMem(1 << 20)})

	// The default export, with the 124 bytes of zeroes.
	c := rawDial(t, "tcp", ts.tcp)
	c.write(be32(clientFixedNewstyle))
	c.option(optExportName, nil)
	reply := make([]byte, 10+zeroPadSize)
	c.read(reply)
	if binary.BigEndian.Uint64(reply) != 1<<20 || !bytes.Equal(reply[10:], make([]byte, zeroPadSize)) {
		t.Errorf("NBD_OPT_EXPORT_NAME reply % x", reply[:10])
	}
	if errno, _ := c.do(cmdFlush, 0, 0, 0, nil); errno != 0 {
		t.Errorf("flush: %d", errno)
	}

	c = rawDial(t, "unix", ts.sock)
	c.write(be32(clientFixedNewstyle))
	c.option(optAbort, nil)
	if _, typ, _ := c.optReply(); typ != repAck {
		t.Errorf("NBD_OPT_ABORT: %#x", typ)
	}
	c.wantClosed()

	c = rawDial(t, "unix", ts.sock)
	c.write(be32(clientFixedNewstyle))
	c.option(optExportName, []byte("nope"))
	c.wantClosed()

	// A non-fixed client may only name its export: anything else is hung up on.
	c = rawDial(t, "unix", ts.sock)
	c.write(be32(0))
	c.option(optGo, goData(""))
	c.wantClosed()
	c = rawDial(t, "unix", ts.sock)
	c.write(be32(clientNoZeroes))
	c.option(optExportName, nil)
	c.read(make([]byte, 10))
	if errno, _ := c.do(cmdRead, 0, 0, 512, nil); errno != 0 {
		t.Errorf("non-fixed client read: %d", errno)
	}

	c = rawDial(t, "unix", ts.sock)
	c.write(be32(1 << 5))
	c.wantClosed()

	c = rawDial(t, "unix", ts.sock)
	c.write(be32(clientFixedNewstyle))
	c.write(make([]byte, optionHeaderSize))
	c.wantClosed()
}
