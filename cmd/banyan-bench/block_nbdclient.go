package main

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// nbdClient is the block benchmark's NBD client: the fixed newstyle handshake
// (NBD_OPT_GO, or NBD_OPT_EXPORT_NAME where GO is unsupported), simple replies only
// (structured replies are never asked for), and requests in flight by handle, so that
// several goroutines can share one connection the way qemu's block layer does. It is
// written from the protocol (NetworkBlockDevice/nbd doc/proto.md), not from
// blockstore/nbd, so that it can serve Banyan and qemu-nbd alike.
type nbdClient struct {
	conn  net.Conn
	size  int64
	flags uint16 // transmission flags of the export

	wmu sync.Mutex // one request on the wire at a time
	bw  *bufio.Writer

	mu      sync.Mutex
	next    uint64
	pending map[uint64]*nbdCall
	err     error // set once the reply reader stopped; every later call fails with it
	done    chan struct{}
}

type nbdCall struct {
	read []byte // for NBD_CMD_READ, where the reply's payload goes
	errc chan error
}

// NBD wire constants (doc/proto.md).
const (
	nbdMagic          = 0x4e42444d41474943 // "NBDMAGIC"
	nbdIHaveOpt       = 0x49484156454F5054 // "IHAVEOPT"
	nbdOptReplyMagic  = 0x0003e889045565a9
	nbdRequestMagic   = 0x25609513
	nbdSimpleReply    = 0x67446698
	nbdFlagFixedNew   = 1 << 0
	nbdFlagNoZeroes   = 1 << 1
	nbdOptExportName  = 1
	nbdOptGo          = 7
	nbdRepAck         = 1
	nbdRepInfo        = 3
	nbdRepErrUnsup    = 1<<31 + 1
	nbdInfoExport     = 0
	nbdCmdRead        = 0
	nbdCmdWrite       = 1
	nbdCmdDisc        = 2
	nbdCmdFlush       = 3
	nbdCmdFlagFUA     = 1 << 0
	nbdTflagReadOnly  = 1 << 1
	nbdTflagSendFlush = 1 << 2
	nbdTflagSendFUA   = 1 << 3
)

// dialNBD connects to the unix socket and negotiates the export.
func dialNBD(socket, export string) (*nbdClient, error) {
	conn, err := net.DialTimeout("unix", socket, 10*time.Second)
	if err != nil {
		return nil, err
	}
	c := &nbdClient{conn: conn, bw: bufio.NewWriterSize(conn, 64<<10), pending: map[uint64]*nbdCall{}, done: make(chan struct{})}
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	if err := c.handshake(bufio.NewReader(conn), export); err != nil {
		conn.Close()
		return nil, fmt.Errorf("nbd handshake with %s: %w", socket, err)
	}
	conn.SetDeadline(time.Time{})
	if c.flags&nbdTflagReadOnly != 0 {
		conn.Close()
		return nil, fmt.Errorf("nbd export %q on %s is read-only", export, socket)
	}
	return c, nil
}

// handshake leaves the connection in the transmission phase. br is dropped afterwards:
// the server sends nothing after its last handshake reply until the first request.
func (c *nbdClient) handshake(br *bufio.Reader, export string) error {
	var hello [18]byte
	if _, err := io.ReadFull(br, hello[:]); err != nil {
		return err
	}
	if binary.BigEndian.Uint64(hello[0:]) != nbdMagic || binary.BigEndian.Uint64(hello[8:]) != nbdIHaveOpt {
		return errors.New("not a newstyle NBD server")
	}
	sflags := binary.BigEndian.Uint16(hello[16:])
	if sflags&nbdFlagFixedNew == 0 {
		return errors.New("the server does not speak fixed newstyle")
	}
	cflags := uint32(nbdFlagFixedNew)
	noZeroes := sflags&nbdFlagNoZeroes != 0
	if noZeroes {
		cflags |= nbdFlagNoZeroes
	}
	if err := binary.Write(c.conn, binary.BigEndian, cflags); err != nil {
		return err
	}

	// NBD_OPT_GO: name length, name, no information requests.
	data := binary.BigEndian.AppendUint32(nil, uint32(len(export)))
	data = append(data, export...)
	data = binary.BigEndian.AppendUint16(data, 0)
	if err := c.sendOption(nbdOptGo, data); err != nil {
		return err
	}
	gotExport := false
	for {
		var hdr [20]byte
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			return err
		}
		if binary.BigEndian.Uint64(hdr[0:]) != nbdOptReplyMagic || binary.BigEndian.Uint32(hdr[8:]) != nbdOptGo {
			return errors.New("malformed option reply")
		}
		typ, n := binary.BigEndian.Uint32(hdr[12:]), binary.BigEndian.Uint32(hdr[16:])
		if n > 64<<10 {
			return fmt.Errorf("option reply of %d bytes", n)
		}
		body := make([]byte, n)
		if _, err := io.ReadFull(br, body); err != nil {
			return err
		}
		switch {
		case typ == nbdRepInfo && len(body) >= 12 && binary.BigEndian.Uint16(body) == nbdInfoExport:
			c.size = int64(binary.BigEndian.Uint64(body[2:]))
			c.flags = binary.BigEndian.Uint16(body[10:])
			gotExport = true
		case typ == nbdRepInfo:
			// Other information (name, description, block sizes): not needed.
		case typ == nbdRepAck:
			if !gotExport {
				return errors.New("NBD_OPT_GO acknowledged without NBD_INFO_EXPORT")
			}
			return nil
		case typ == nbdRepErrUnsup:
			return c.exportName(br, export, noZeroes)
		case typ&(1<<31) != 0:
			return fmt.Errorf("export %q refused (reply %#x): %s", export, typ, body)
		default:
			return fmt.Errorf("unexpected option reply type %d", typ)
		}
	}
}

// exportName is the older NBD_OPT_EXPORT_NAME, for servers without NBD_OPT_GO.
func (c *nbdClient) exportName(br *bufio.Reader, export string, noZeroes bool) error {
	if err := c.sendOption(nbdOptExportName, []byte(export)); err != nil {
		return err
	}
	n := 10
	if !noZeroes {
		n += 124
	}
	reply := make([]byte, n)
	if _, err := io.ReadFull(br, reply); err != nil {
		return fmt.Errorf("export %q: the server hung up (no such export?): %w", export, err)
	}
	c.size = int64(binary.BigEndian.Uint64(reply))
	c.flags = binary.BigEndian.Uint16(reply[8:])
	return nil
}

func (c *nbdClient) sendOption(opt uint32, data []byte) error {
	b := binary.BigEndian.AppendUint64(nil, nbdIHaveOpt)
	b = binary.BigEndian.AppendUint32(b, opt)
	b = binary.BigEndian.AppendUint32(b, uint32(len(data)))
	_, err := c.conn.Write(append(b, data...))
	return err
}

// start begins reading replies; call once after dialNBD.
func (c *nbdClient) start() *nbdClient {
	go c.readReplies()
	return c
}

func (c *nbdClient) readReplies() {
	br := bufio.NewReaderSize(c.conn, 1<<20)
	var err error
	for {
		var hdr [16]byte
		if _, err = io.ReadFull(br, hdr[:]); err != nil {
			break
		}
		if m := binary.BigEndian.Uint32(hdr[0:]); m != nbdSimpleReply {
			err = fmt.Errorf("nbd: reply magic %#x (not a simple reply)", m)
			break
		}
		errno, handle := binary.BigEndian.Uint32(hdr[4:]), binary.BigEndian.Uint64(hdr[8:])
		c.mu.Lock()
		call := c.pending[handle]
		delete(c.pending, handle)
		c.mu.Unlock()
		if call == nil {
			err = fmt.Errorf("nbd: reply to unknown handle %d", handle)
			break
		}
		var cerr error
		if errno != 0 {
			cerr = fmt.Errorf("nbd: server error %d", errno)
		} else if call.read != nil {
			if _, err = io.ReadFull(br, call.read); err != nil {
				call.errc <- err
				break
			}
		}
		call.errc <- cerr
	}
	c.mu.Lock()
	c.err = fmt.Errorf("nbd connection: %w", err)
	for h, call := range c.pending {
		call.errc <- c.err
		delete(c.pending, h)
	}
	c.mu.Unlock()
	close(c.done)
}

// do sends one request and waits for its reply. Safe for concurrent use.
func (c *nbdClient) do(cmd, flags uint16, off int64, length uint32, payload, read []byte) error {
	call := &nbdCall{read: read, errc: make(chan error, 1)}
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return c.err
	}
	h := c.next
	c.next++
	c.pending[h] = call
	c.mu.Unlock()

	var hdr [28]byte
	binary.BigEndian.PutUint32(hdr[0:], nbdRequestMagic)
	binary.BigEndian.PutUint16(hdr[4:], flags)
	binary.BigEndian.PutUint16(hdr[6:], cmd)
	binary.BigEndian.PutUint64(hdr[8:], h)
	binary.BigEndian.PutUint64(hdr[16:], uint64(off))
	binary.BigEndian.PutUint32(hdr[24:], length)
	c.wmu.Lock()
	_, err := c.bw.Write(hdr[:])
	if err == nil && payload != nil {
		_, err = c.bw.Write(payload)
	}
	if err == nil {
		err = c.bw.Flush()
	}
	c.wmu.Unlock()
	if err != nil {
		c.conn.Close() // the reader fails every pending call, this one included
	}
	return <-call.errc
}

// Write stores p at off; with fua the server makes it durable before replying. A
// server that does not take NBD_CMD_FLAG_FUA gets a flush after the write instead.
func (c *nbdClient) Write(p []byte, off int64, fua bool) error {
	var flags uint16
	if fua && c.flags&nbdTflagSendFUA != 0 {
		flags = nbdCmdFlagFUA
	}
	if err := c.do(nbdCmdWrite, flags, off, uint32(len(p)), p, nil); err != nil {
		return err
	}
	if fua && flags == 0 {
		return c.Flush()
	}
	return nil
}

// Read fills p from off.
func (c *nbdClient) Read(p []byte, off int64) error {
	return c.do(nbdCmdRead, 0, off, uint32(len(p)), nil, p)
}

// Flush makes every write replied to so far durable.
func (c *nbdClient) Flush() error {
	if c.flags&nbdTflagSendFlush == 0 {
		return errors.New("nbd: the export does not take NBD_CMD_FLUSH")
	}
	return c.do(nbdCmdFlush, 0, 0, 0, nil, nil)
}

// Close sends NBD_CMD_DISC (which has no reply) and closes the connection.
func (c *nbdClient) Close() error {
	var hdr [28]byte
	binary.BigEndian.PutUint32(hdr[0:], nbdRequestMagic)
	binary.BigEndian.PutUint16(hdr[6:], nbdCmdDisc)
	c.wmu.Lock()
	c.bw.Write(hdr[:])
	c.bw.Flush()
	c.wmu.Unlock()
	select {
	case <-c.done: // the server hung up after the disconnect
	case <-time.After(5 * time.Second):
	}
	return c.conn.Close()
}
