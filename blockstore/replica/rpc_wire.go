package replica

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
)

// The replica RPC protocol, served by NewHandler and spoken by Remote. It is
// HTTP/1.1 (node RPC's mutual-TLS port in production) under RPCPrefix:
//
//	POST <RPCPrefix><op>
//	body:     header length H uint32be | CBOR wireReq (H bytes) | payload
//	answer:   200 and a CBOR wireResp, or for read and readextent the raw
//	          bytes (Content-Length exact); else a non-200 and a CBOR wireErr
//
// Only write and writeextent carry a payload, of exactly wireReq.Length
// bytes and nothing after it. Bounds are checked before anything is read
// into memory beyond the header: a header is at most maxHeader bytes, a
// payload at most MaxIO (ExtentSize for writeextent).
//
// A failed call carries the codes of every sentinel its error matched
// (errorCodes) and a message for logs. The caller's remaining deadline
// travels in timeoutHeader so the holder stops work the caller gave up on.

// RPCPrefix is the path under which NewHandler serves and Remote calls.
const RPCPrefix = "/v1/blockstore/"

const (
	timeoutHeader = "Banyan-Timeout" // milliseconds the caller will wait
	cborType      = "application/cbor"
	rawType       = "application/octet-stream"
	// maxHeader bounds a request's CBOR header and a CBOR answer: dirty
	// maps of the largest volume as runs fit easily.
	maxHeader = 8 << 20
)

// RPC operations (the last path element).
const (
	opCreate      = "create"
	opDelete      = "delete"
	opInfo        = "info"
	opList        = "list"
	opWrite       = "write"
	opZero        = "zero"
	opRead        = "read"
	opFlush       = "flush"
	opGrow        = "grow"
	opSums        = "sums"
	opReadExtent  = "readextent"
	opWriteExtent = "writeextent"
	opMarkDirty   = "markdirty"
	opClearDirty  = "cleardirty"
	opDirty       = "dirty"
)

// readOnlyOps change nothing, so a transport may resend them.
var readOnlyOps = map[string]bool{
	opInfo: true, opList: true, opRead: true, opSums: true, opReadExtent: true, opDirty: true,
}

// wireReq carries the arguments of every operation; each uses the fields it
// needs. Field numbers are the protocol: append, never reuse.
type wireReq struct {
	ID     string `cbor:"1,keyasint,omitempty"`
	Epoch  uint64 `cbor:"2,keyasint,omitempty"`
	Off    int64  `cbor:"3,keyasint,omitempty"`
	Length int64  `cbor:"4,keyasint,omitempty"` // bytes of payload, read or zero
	FUA    bool   `cbor:"5,keyasint,omitempty"`
	Size   int64  `cbor:"6,keyasint,omitempty"`
	Peer   string `cbor:"7,keyasint,omitempty"`
	Runs   []Run  `cbor:"8,keyasint,omitempty"`
	First  int64  `cbor:"9,keyasint,omitempty"` // extent, or first of sums
	Count  int64  `cbor:"10,keyasint,omitempty"`
}

type wireResp struct {
	Info  *Info            `cbor:"1,keyasint,omitempty"`
	Infos []Info           `cbor:"2,keyasint,omitempty"`
	Sums  []byte           `cbor:"3,keyasint,omitempty"` // 16 bytes per extent
	Dirty map[string][]Run `cbor:"4,keyasint,omitempty"`
}

type wireErr struct {
	Codes   []string `cbor:"1,keyasint,omitempty"`
	Message string   `cbor:"2,keyasint,omitempty"`
}

// payloadLimit is the most payload op may carry, -1 for none.
func payloadLimit(op string) int64 {
	switch op {
	case opWrite:
		return MaxIO
	case opWriteExtent:
		return ExtentSize
	}
	return -1
}

// knownOps are the operations NewHandler answers.
var knownOps = map[string]bool{
	opCreate: true, opDelete: true, opInfo: true, opList: true, opWrite: true, opZero: true,
	opRead: true, opFlush: true, opGrow: true, opSums: true, opReadExtent: true,
	opWriteExtent: true, opMarkDirty: true, opClearDirty: true, opDirty: true,
}

// encodeRequest frames q for op, followed by payload.
func encodeRequest(q *wireReq) ([]byte, error) {
	h, err := encMode.Marshal(q)
	if err != nil {
		return nil, fmt.Errorf("%w: encoding request: %v", ErrInvalidArgument, err)
	}
	return append(binary.BigEndian.AppendUint32(make([]byte, 0, 4+len(h)), uint32(len(h))), h...), nil
}

// decodeRequest reads and checks the framed header of op from body, and
// its payload if op has one (into a fresh buffer of the declared length).
// Whatever the bytes, it returns an error wrapping ErrInvalidArgument, or
// ErrUnavailable for a body cut short, never a panic or an unbounded
// allocation.
func decodeRequest(op string, body io.Reader) (*wireReq, []byte, error) {
	if !knownOps[op] {
		return nil, nil, fmt.Errorf("%w: no volume operation %q", ErrInvalidArgument, op)
	}
	var lb [4]byte
	if _, err := io.ReadFull(body, lb[:]); err != nil {
		return nil, nil, fmt.Errorf("%w: request shorter than its header length: %v", ErrInvalidArgument, err)
	}
	hl := binary.BigEndian.Uint32(lb[:])
	if hl > maxHeader {
		return nil, nil, fmt.Errorf("%w: request header of %d bytes, at most %d", ErrInvalidArgument, hl, maxHeader)
	}
	hb := make([]byte, hl)
	if _, err := io.ReadFull(body, hb); err != nil {
		return nil, nil, fmt.Errorf("%w: request header cut short: %v", ErrInvalidArgument, err)
	}
	var q wireReq
	if err := decMode.Unmarshal(hb, &q); err != nil {
		return nil, nil, fmt.Errorf("%w: undecodable request header: %v", ErrInvalidArgument, err)
	}
	if err := q.check(op); err != nil {
		return nil, nil, err
	}
	limit := payloadLimit(op)
	if limit < 0 {
		if n, _ := io.ReadFull(body, lb[:1]); n != 0 {
			return nil, nil, fmt.Errorf("%w: %s carries no payload", ErrInvalidArgument, op)
		}
		return &q, nil, nil
	}
	if q.Length < 0 || q.Length > limit {
		return nil, nil, fmt.Errorf("%w: %s payload of %d bytes, at most %d", ErrInvalidArgument, op, q.Length, limit)
	}
	p := make([]byte, q.Length)
	if _, err := io.ReadFull(body, p); err != nil {
		return nil, nil, fmt.Errorf("%w: payload cut short: %v", ErrUnavailable, err)
	}
	if n, _ := io.ReadFull(body, lb[:1]); n != 0 {
		return nil, nil, fmt.Errorf("%w: bytes after the declared %d of payload", ErrInvalidArgument, q.Length)
	}
	return &q, p, nil
}

// check validates the fields op uses; the holder checks them against the
// volume.
func (q *wireReq) check(op string) error {
	if op != opList {
		if err := ValidID(q.ID); err != nil {
			return err
		}
	}
	switch op {
	case opRead:
		if q.Length < 0 || q.Length > MaxIO {
			return fmt.Errorf("%w: read of %d bytes, at most %d at once", ErrInvalidArgument, q.Length, MaxIO)
		}
	case opMarkDirty, opClearDirty:
		if err := validPeer(q.Peer); err != nil {
			return err
		}
		if err := checkRuns(q.Runs, Extents(MaxSize)); err != nil {
			return err
		}
	}
	return nil
}

func toWireErr(err error) *wireErr {
	return &wireErr{Codes: codesOf(err), Message: err.Error()}
}

// httpStatus is for people reading logs; the codes are what Remote acts on.
func httpStatus(err error) int {
	switch {
	case errors.Is(err, ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, ErrInvalidArgument), errors.Is(err, ErrOutOfRange):
		return http.StatusBadRequest
	case errors.Is(err, ErrExists), errors.Is(err, ErrStaleEpoch):
		return http.StatusConflict
	case errors.Is(err, ErrNoSpace):
		return http.StatusInsufficientStorage
	case errors.Is(err, ErrUnavailable):
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

func formatTimeout(d time.Duration) string {
	return strconv.FormatInt(max(d.Milliseconds(), 1), 10)
}

func parseTimeout(s string) (time.Duration, bool) {
	ms, err := strconv.ParseInt(s, 10, 64)
	if err != nil || ms <= 0 || ms > int64(24*time.Hour/time.Millisecond) {
		return 0, false
	}
	return time.Duration(ms) * time.Millisecond, true
}
