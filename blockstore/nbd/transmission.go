package nbd

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"
)

// request is one transmission-phase request header.
type request struct {
	flags  uint16
	typ    uint16
	cookie uint64
	off    uint64
	length uint32
}

// transmit reads requests until the client disconnects, the connection fails, or a
// shutdown drains it; it returns with requests possibly still being served.
func (t *session) transmit() error {
	var hdr [requestHeaderSize]byte
	for {
		if closing, _ := t.srv.isClosing(); closing {
			t.setReadDeadline(time.Time{}) // the drain deadline, again after any extension
		}
		if err := t.readFull(hdr[:], true); err != nil {
			if errors.Is(err, errDrained) || errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		if m := binary.BigEndian.Uint32(hdr[0:]); m != magicRequest {
			// Without a valid header there is no telling where the next one starts.
			return fmt.Errorf("nbd: bad request magic %#x", m)
		}
		r := request{
			flags:  binary.BigEndian.Uint16(hdr[4:]),
			typ:    binary.BigEndian.Uint16(hdr[6:]),
			cookie: binary.BigEndian.Uint64(hdr[8:]),
			off:    binary.BigEndian.Uint64(hdr[16:]),
			length: binary.BigEndian.Uint32(hdr[24:]),
		}
		if err := t.handle(r); err != nil {
			if errors.Is(err, errClientDone) {
				return nil
			}
			return err
		}
	}
}

// handle validates one request and starts serving it. Only the payload of a write is
// read here (it must be, to find the next request); the work runs in its own goroutine
// and replies when done. A returned error ends the session.
func (t *session) handle(r request) error {
	if r.typ == cmdDisc {
		return errClientDone
	}
	e := t.exp
	errno := t.check(r)
	if errno != 0 {
		if r.typ == cmdWrite && r.length > 0 {
			if r.length > maxWriteDiscard {
				t.reply(r.cookie, errno, nil)
				return fmt.Errorf("nbd: refused a %d-byte write, too long to skip", r.length)
			}
			if err := t.discard(int(r.length)); err != nil {
				return err
			}
		}
		t.reply(r.cookie, errno, nil)
		return nil
	}
	if r.length == 0 && r.typ != cmdFlush {
		t.reply(r.cookie, 0, nil) // nothing to do; the spec leaves it open, success is kindest
		return nil
	}
	off, length := int64(r.off), int64(r.length)
	fua := r.flags&cmdFlagFUA != 0

	switch r.typ {
	case cmdRead:
		cost := classSize(classOf(int(length)))
		if !t.start(cost) {
			return t.ctx.Err()
		}
		buf := getBuf(int(length))
		go func() {
			defer t.finish(cost)
			defer putBuf(buf)
			err := e.backend.ReadAt(t.ctx, *buf, off)
			t.reply(r.cookie, t.backendErr("read", r, err), *buf)
		}()

	case cmdWrite:
		cost := classSize(classOf(int(length)))
		if !t.start(cost) {
			return t.ctx.Err()
		}
		buf := getBuf(int(length))
		if err := t.readFull(*buf, false); err != nil {
			putBuf(buf)
			t.finish(cost)
			return err
		}
		done := t.track()
		go func() {
			defer t.finish(cost)
			defer putBuf(buf)
			err := e.backend.WriteAt(t.ctx, *buf, off, fua)
			t.completed(done, err)
			t.reply(r.cookie, t.backendErr("write", r, err), nil)
		}()

	case cmdFlush:
		waits := t.pendingWrites()
		if !t.start(0) {
			return t.ctx.Err()
		}
		go func() {
			defer t.finish(0)
			for _, ch := range waits {
				select {
				case <-ch:
				case <-t.ctx.Done():
				}
			}
			t.dirty.Store(false)
			err := e.backend.Flush(t.ctx)
			if err != nil {
				t.dirty.Store(true)
			}
			t.reply(r.cookie, t.backendErr("flush", r, err), nil)
		}()

	case cmdTrim:
		if !t.start(0) {
			return t.ctx.Err()
		}
		done := t.track()
		go func() {
			defer t.finish(0)
			err := e.trimmer.Trim(t.ctx, off, length)
			if err == nil && fua {
				err = e.backend.Flush(t.ctx)
			}
			t.completed(done, err)
			t.reply(r.cookie, t.backendErr("trim", r, err), nil)
		}()

	case cmdWriteZeroes:
		if !t.start(0) {
			return t.ctx.Err()
		}
		done := t.track()
		go func() {
			defer t.finish(0)
			var err error
			if e.zeroer != nil {
				err = e.zeroer.WriteZeroes(t.ctx, off, length, fua)
			} else {
				err = t.zeroFill(off, length, fua)
			}
			t.completed(done, err)
			t.reply(r.cookie, t.backendErr("write zeroes", r, err), nil)
		}()

	case cmdCache:
		t.reply(r.cookie, 0, nil) // a hint this server has no use for

	default:
		t.reply(r.cookie, EINVAL, nil) // check lets only the commands above through
	}
	return nil
}

// check says whether a request may run, as an NBD errno (0 when it may).
func (t *session) check(r request) Errno {
	e := t.exp
	// FUA must be accepted on every command (and is ignored where nothing is written);
	// NO_HOLE is how this server always zeroes anyway. Every other flag belongs to an
	// extension this server never advertises.
	allowed := cmdFlagFUA
	if r.typ == cmdWriteZeroes {
		allowed |= cmdFlagNoHole
	}
	if r.flags&^allowed != 0 {
		return EINVAL
	}
	writes := r.typ == cmdWrite || r.typ == cmdTrim || r.typ == cmdWriteZeroes
	switch r.typ {
	case cmdFlush:
		return 0 // served even while shutting down: it only makes data safer
	case cmdRead, cmdWrite, cmdTrim, cmdWriteZeroes, cmdCache:
	default:
		return EINVAL
	}
	if closing, _ := t.srv.isClosing(); closing {
		return ESHUTDOWN
	}
	if (r.typ == cmdRead || r.typ == cmdWrite) && r.length > MaxPayload {
		return EINVAL
	}
	if writes && e.props.ReadOnly {
		return EPERM
	}
	if r.typ == cmdTrim && e.trimmer == nil {
		return EINVAL
	}
	if r.off > uint64(e.size) || uint64(r.length) > uint64(e.size)-r.off {
		if r.typ == cmdWrite || r.typ == cmdWriteZeroes {
			return ENOSPC // the spec's choice for writes past the end
		}
		return EINVAL
	}
	if t.strict && e.minBlock > 1 && (r.off%uint64(e.minBlock) != 0 || r.length%e.minBlock != 0) {
		return EINVAL
	}
	return 0
}

// start takes a request slot and cost bytes of the payload budget, waiting while the
// connection is at its bounds (which stops it reading: back-pressure on the client).
func (t *session) start(cost int64) bool {
	select {
	case t.slots <- struct{}{}:
	case <-t.ctx.Done():
		return false
	}
	if cost > 0 && !t.budget.acquire(cost, t.ctx.Done()) {
		<-t.slots
		return false
	}
	t.inflight.Add(1)
	return true
}

// finish gives back what start took, once the reply is written.
func (t *session) finish(cost int64) {
	if cost > 0 {
		t.budget.release(cost)
	}
	<-t.slots
	t.inflight.Done()
}

// track records a write-type request as pending until completed, so that a flush
// received after it waits for it.
func (t *session) track() uint64 {
	t.pendMu.Lock()
	defer t.pendMu.Unlock()
	t.pendSeq++
	t.pending[t.pendSeq] = make(chan struct{})
	return t.pendSeq
}

func (t *session) completed(seq uint64, err error) {
	if err == nil {
		t.dirty.Store(true)
	}
	t.pendMu.Lock()
	defer t.pendMu.Unlock()
	close(t.pending[seq])
	delete(t.pending, seq)
}

// pendingWrites lists what a flush received now must wait for (at most MaxInFlight).
func (t *session) pendingWrites() []chan struct{} {
	t.pendMu.Lock()
	defer t.pendMu.Unlock()
	out := make([]chan struct{}, 0, len(t.pending))
	for _, ch := range t.pending {
		out = append(out, ch)
	}
	return out
}

// zeroFill writes zeroes through WriteAt, for a Backend that is no Zeroer.
func (t *session) zeroFill(off, length int64, fua bool) error {
	z := zeroChunk()
	for length > 0 {
		n := min(length, int64(len(z)))
		if err := t.exp.backend.WriteAt(t.ctx, z[:n], off, false); err != nil {
			return err
		}
		off += n
		length -= n
	}
	if fua {
		return t.exp.backend.Flush(t.ctx)
	}
	return nil
}

// zeroChunk is a shared, never-written buffer of zeroes.
var zeroChunk = sync.OnceValue(func() []byte { return make([]byte, 1<<20) })

// backendErr turns a backend error into the errno for the reply, and logs it: the
// session's first at Warn (a failing disk should be seen), the rest at Debug (and
// counted, for the summary when the session ends).
func (t *session) backendErr(op string, r request, err error) Errno {
	if err == nil {
		return 0
	}
	errno := errnoOf(err)
	if t.ctx.Err() != nil {
		return errno
	}
	level := t.log.Debug
	if t.errCount.Add(1) == 1 {
		level = t.log.Warn
	}
	level("nbd: backend error", "op", op, "offset", r.off, "length", r.length, "errno", uint32(errno), "err", err)
	return errno
}
