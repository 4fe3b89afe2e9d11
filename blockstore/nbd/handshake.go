package nbd

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"time"
)

// handshake runs the fixed newstyle negotiation up to the transmission phase and returns
// the export the client chose, and whether it agreed to the advertised block sizes
// (NBD_OPT_GO with an NBD_INFO_BLOCK_SIZE request).
func (t *session) handshake() (*export, bool, error) {
	timeout := t.srv.HandshakeTimeout
	if timeout <= 0 {
		timeout = DefaultHandshakeTimeout
	}
	t.setReadDeadline(time.Now().Add(timeout))
	t.conn.SetWriteDeadline(time.Now().Add(timeout))

	var hello [18]byte
	binary.BigEndian.PutUint64(hello[0:], magicNBD)
	binary.BigEndian.PutUint64(hello[8:], magicIHaveOpt)
	binary.BigEndian.PutUint16(hello[16:], flagFixedNewstyle|flagNoZeroes)
	if err := t.send(hello[:]); err != nil {
		return nil, false, err
	}

	var cf [4]byte
	if err := t.readFull(cf[:], true); err != nil {
		return nil, false, err
	}
	clientFlags := binary.BigEndian.Uint32(cf[:])
	if clientFlags&^(clientFixedNewstyle|clientNoZeroes) != 0 {
		return nil, false, fmt.Errorf("nbd: client sent unknown handshake flags %#x", clientFlags)
	}
	fixed := clientFlags&clientFixedNewstyle != 0
	noZeroes := clientFlags&clientNoZeroes != 0

	var data []byte // reused for every option's payload
	for range maxOptions {
		var hdr [optionHeaderSize]byte
		if err := t.readFull(hdr[:], true); err != nil {
			return nil, false, err
		}
		if m := binary.BigEndian.Uint64(hdr[0:]); m != magicIHaveOpt {
			return nil, false, fmt.Errorf("nbd: bad option magic %#x", m)
		}
		opt := binary.BigEndian.Uint32(hdr[8:])
		length := binary.BigEndian.Uint32(hdr[12:])

		if !fixed && opt != optExportName {
			// A non-fixed client cannot parse an error reply: hanging up is all there is.
			return nil, false, fmt.Errorf("nbd: option %d from a client without fixed newstyle", opt)
		}
		if length > maxOptionData {
			if opt == optExportName || length > maxOptionSkip {
				return nil, false, fmt.Errorf("nbd: option %d with %d bytes of data", opt, length)
			}
			if err := t.discard(int(length)); err != nil {
				return nil, false, err
			}
			if err := t.optReply(opt, repErrTooBig, "option data too long"); err != nil {
				return nil, false, err
			}
			continue
		}
		if cap(data) < int(length) {
			data = make([]byte, length)
		}
		data = data[:length]
		if err := t.readFull(data, false); err != nil {
			return nil, false, err
		}

		if closing, _ := t.srv.isClosing(); closing && opt != optAbort {
			if opt == optExportName {
				return nil, false, errors.New("nbd: export requested while shutting down")
			}
			if err := t.optReply(opt, repErrShutdown, "server is shutting down"); err != nil {
				return nil, false, err
			}
			continue
		}

		switch opt {
		case optExportName:
			if len(data) > maxStringLen {
				return nil, false, fmt.Errorf("nbd: export name of %d bytes", len(data))
			}
			e, err := t.open(string(data))
			if err != nil {
				// This option cannot fail politely; the spec says hang up.
				return nil, false, fmt.Errorf("nbd: export %q: %w", data, err)
			}
			reply := make([]byte, 10, 10+zeroPadSize)
			binary.BigEndian.PutUint64(reply[0:], uint64(e.size))
			binary.BigEndian.PutUint16(reply[8:], e.flags)
			if !noZeroes {
				reply = reply[:10+zeroPadSize]
			}
			if err := t.send(reply); err != nil {
				return nil, false, err
			}
			return t.enter(e, false)

		case optAbort:
			t.optReply(opt, repAck, "") // the client may already be gone
			return nil, false, errClientDone

		case optList:
			if err := t.list(opt, length); err != nil {
				return nil, false, err
			}

		case optInfo, optGo:
			e, strict, err := t.info(opt, data)
			if err != nil {
				return nil, false, err
			}
			if e != nil && opt == optGo {
				return t.enter(e, strict)
			}

		case optStartTLS:
			// No TLS: NBD here is for the local qemu over a unix socket or loopback.
			if err := t.optReply(opt, repErrUnsup, "TLS is not supported"); err != nil {
				return nil, false, err
			}

		case optStructuredReply:
			if err := t.optReply(opt, repErrUnsup, "only simple replies are supported"); err != nil {
				return nil, false, err
			}

		default: // meta contexts, extended headers and options unknown to this server
			if err := t.optReply(opt, repErrUnsup, "option not supported"); err != nil {
				return nil, false, err
			}
		}
	}
	return nil, false, fmt.Errorf("nbd: more than %d options in one handshake", maxOptions)
}

// enter ends the handshake: the transmission phase has no deadlines.
func (t *session) enter(e *export, strict bool) (*export, bool, error) {
	t.setReadDeadline(time.Time{})
	t.conn.SetWriteDeadline(time.Time{})
	t.log = t.log.With("export", e.name)
	t.log.Debug("nbd: transmission", "size", e.size, "flags", fmt.Sprintf("%#x", e.flags), "strict_block_size", strict)
	return e, strict, nil
}

// list answers NBD_OPT_LIST.
func (t *session) list(opt, length uint32) error {
	if length != 0 {
		return t.optReply(opt, repErrInvalid, "NBD_OPT_LIST takes no data")
	}
	if t.srv.List == nil {
		return t.optReply(opt, repErrPolicy, "listing exports is disabled")
	}
	for _, name := range t.srv.List() {
		if len(name) > maxStringLen {
			continue
		}
		// The name, then (not counted in its length) a description, if the export has one.
		rep := binary.BigEndian.AppendUint32(nil, uint32(len(name)))
		rep = append(rep, name...)
		if t.srv.Lookup != nil {
			if b, err := t.srv.Lookup(name); err == nil && b != nil {
				if d := propertiesOf(b).Description; len(d) <= maxStringLen {
					rep = append(rep, d...)
				}
			}
		}
		if err := t.optReplyBytes(opt, repServer, rep); err != nil {
			return err
		}
	}
	return t.optReply(opt, repAck, "")
}

// info answers NBD_OPT_INFO and NBD_OPT_GO. It returns the export when it sent
// NBD_REP_ACK, nil when it sent an error reply, and an error when the connection failed.
func (t *session) info(opt uint32, data []byte) (*export, bool, error) {
	// 32-bit name length, name, 16-bit request count, 16-bit requests.
	if len(data) < 6 {
		return nil, false, t.optReply(opt, repErrInvalid, "option data too short")
	}
	nameLen := binary.BigEndian.Uint32(data)
	if uint64(nameLen) > uint64(len(data)-6) {
		return nil, false, t.optReply(opt, repErrInvalid, "export name overruns the option")
	}
	if nameLen > maxStringLen {
		return nil, false, t.optReply(opt, repErrInvalid, "export name too long")
	}
	name := string(data[4 : 4+nameLen])
	rest := data[4+nameLen:]
	n := int(binary.BigEndian.Uint16(rest))
	if len(rest) != 2+2*n {
		return nil, false, t.optReply(opt, repErrInvalid, "information request count does not match the option length")
	}
	var wantName, wantDescription, wantBlockSize bool
	for i := range n {
		switch binary.BigEndian.Uint16(rest[2+2*i:]) {
		case infoName:
			wantName = true
		case infoDescription:
			wantDescription = true
		case infoBlockSize:
			wantBlockSize = true
		}
	}

	e, err := t.open(name)
	if err != nil {
		typ := uint32(repErrUnknown)
		switch {
		case errors.Is(err, fs.ErrPermission):
			typ = repErrPolicy
		case errors.Is(err, ESHUTDOWN):
			typ = repErrShutdown
		}
		t.log.Debug("nbd: export refused", "name", name, "err", err)
		return nil, false, t.optReply(opt, typ, err.Error())
	}

	var ie [12]byte
	binary.BigEndian.PutUint16(ie[0:], infoExport)
	binary.BigEndian.PutUint64(ie[2:], uint64(e.size))
	binary.BigEndian.PutUint16(ie[10:], e.flags)
	if err := t.optReplyBytes(opt, repInfo, ie[:]); err != nil {
		return nil, false, err
	}
	if wantName {
		in := make([]byte, 2+len(name))
		binary.BigEndian.PutUint16(in, infoName)
		copy(in[2:], name)
		if err := t.optReplyBytes(opt, repInfo, in); err != nil {
			return nil, false, err
		}
	}
	if d := e.props.Description; wantDescription && d != "" && len(d) <= maxStringLen {
		id := make([]byte, 2+len(d))
		binary.BigEndian.PutUint16(id, infoDescription)
		copy(id[2:], d)
		if err := t.optReplyBytes(opt, repInfo, id); err != nil {
			return nil, false, err
		}
	}
	// Sent even unasked: the minimum differs from the protocol's default of 1. Only a
	// client that asked is held to it, though.
	var ib [14]byte
	binary.BigEndian.PutUint16(ib[0:], infoBlockSize)
	binary.BigEndian.PutUint32(ib[2:], e.minBlock)
	binary.BigEndian.PutUint32(ib[6:], PreferredBlockSize)
	binary.BigEndian.PutUint32(ib[10:], MaxPayload)
	if err := t.optReplyBytes(opt, repInfo, ib[:]); err != nil {
		return nil, false, err
	}
	if err := t.optReply(opt, repAck, ""); err != nil {
		return nil, false, err
	}
	return e, wantBlockSize, nil
}

// open looks an export up and works out what to advertise for it.
func (t *session) open(name string) (*export, error) {
	if t.srv.Lookup == nil {
		return nil, ErrUnknownExport
	}
	b, err := t.srv.Lookup(name)
	if err == nil && b == nil {
		err = ErrUnknownExport
	}
	if err != nil {
		return nil, err
	}
	e := &export{name: name, backend: b, props: propertiesOf(b), size: b.Size()}
	if e.size < 0 {
		return nil, fmt.Errorf("nbd: export %q has negative size %d", name, e.size)
	}
	e.trimmer, _ = b.(Trimmer)
	e.zeroer, _ = b.(Zeroer)
	e.flags = tflagHasFlags | tflagSendFlush | tflagSendFUA
	if e.props.ReadOnly {
		e.flags |= tflagReadOnly
	} else {
		e.flags |= tflagWriteZeroes // emulated through WriteAt when there is no Zeroer
		if e.trimmer != nil {
			e.flags |= tflagSendTrim
		}
	}
	if e.props.MultiConn {
		e.flags |= tflagCanMultiConn
	}
	e.minBlock = 1
	if e.size%MinBlockSize == 0 {
		e.minBlock = MinBlockSize
	}
	return e, nil
}

// send writes handshake bytes and flushes them.
func (t *session) send(p []byte) error {
	if _, err := t.bw.Write(p); err != nil {
		return err
	}
	return t.bw.Flush()
}

// optReply sends an option reply whose data, if any, is a message for a person.
func (t *session) optReply(opt, typ uint32, msg string) error {
	if len(msg) > maxStringLen {
		msg = msg[:maxStringLen]
	}
	return t.optReplyBytes(opt, typ, []byte(msg))
}

func (t *session) optReplyBytes(opt, typ uint32, data []byte) error {
	var hdr [20]byte
	binary.BigEndian.PutUint64(hdr[0:], magicOptionReply)
	binary.BigEndian.PutUint32(hdr[8:], opt)
	binary.BigEndian.PutUint32(hdr[12:], typ)
	binary.BigEndian.PutUint32(hdr[16:], uint32(len(data)))
	if _, err := t.bw.Write(hdr[:]); err != nil {
		return err
	}
	if _, err := t.bw.Write(data); err != nil {
		return err
	}
	return t.bw.Flush()
}
