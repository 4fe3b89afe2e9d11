package replica

import (
	"context"
	"net/http"
	"strconv"
)

type handler struct {
	h Holder
}

// NewHandler serves h (this box's Store) to Remote clients on other boxes.
// Mount it on the node RPC listener at RPCPrefix
// (node.HandleRPC(replica.RPCPrefix, h)); authentication is the listener's
// mutual TLS.
func NewHandler(h Holder) http.Handler {
	s := &handler{h: h}
	m := http.NewServeMux()
	m.HandleFunc(RPCPrefix+"{op}", s.serve)
	// Anything else under the prefix still answers a coded error.
	m.HandleFunc(RPCPrefix, func(w http.ResponseWriter, r *http.Request) {
		writeError(w, errorf(ErrInvalidArgument, "no volume operation at %q", r.URL.Path))
	})
	return m
}

func (s *handler) serve(w http.ResponseWriter, r *http.Request) {
	op := r.PathValue("op")
	if r.Method != http.MethodPost {
		writeError(w, errorf(ErrInvalidArgument, "%s %s: volume operations are POSTs", r.Method, op))
		return
	}
	q, payload, err := decodeRequest(op, r.Body)
	if err != nil {
		writeError(w, err)
		return
	}
	ctx := r.Context()
	if t, ok := parseTimeout(r.Header.Get(timeoutHeader)); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, t)
		defer cancel()
	}
	var resp wireResp
	switch op {
	case opRead:
		p := make([]byte, q.Length)
		if err := s.h.Read(ctx, q.ID, q.Off, p); err != nil {
			writeError(w, err)
			return
		}
		writeRaw(w, p)
		return
	case opReadExtent:
		p, err := s.h.ReadExtent(ctx, q.ID, q.First)
		if err != nil {
			writeError(w, err)
			return
		}
		writeRaw(w, p)
		return
	case opCreate:
		err = s.h.Create(ctx, q.ID, q.Size)
	case opDelete:
		err = s.h.Delete(ctx, q.ID)
	case opInfo:
		var info Info
		info, err = s.h.Info(ctx, q.ID)
		resp.Info = &info
	case opList:
		resp.Infos, err = s.h.List(ctx)
	case opWrite:
		err = s.h.Write(ctx, q.ID, q.Epoch, q.Off, payload, q.FUA)
	case opZero:
		err = s.h.Zero(ctx, q.ID, q.Epoch, q.Off, q.Length, q.FUA)
	case opFlush:
		err = s.h.Flush(ctx, q.ID, q.Epoch)
	case opGrow:
		err = s.h.Grow(ctx, q.ID, q.Epoch, q.Size)
	case opSums:
		var sums []Sum
		sums, err = s.h.ExtentSums(ctx, q.ID, q.First, q.Count)
		resp.Sums = make([]byte, 0, 16*len(sums))
		for _, s := range sums {
			resp.Sums = append(resp.Sums, s[:]...)
		}
	case opWriteExtent:
		err = s.h.WriteExtent(ctx, q.ID, q.Epoch, q.First, payload)
	case opMarkDirty:
		err = s.h.MarkDirty(ctx, q.ID, q.Epoch, q.Peer, q.Runs)
	case opClearDirty:
		err = s.h.ClearDirty(ctx, q.ID, q.Epoch, q.Peer, q.Runs)
	case opDirty:
		resp.Dirty, err = s.h.Dirty(ctx, q.ID)
	}
	if err != nil {
		writeError(w, err)
		return
	}
	writeCBOR(w, http.StatusOK, &resp)
}

func writeRaw(w http.ResponseWriter, p []byte) {
	w.Header().Set("Content-Type", rawType)
	w.Header().Set("Content-Length", strconv.Itoa(len(p)))
	w.WriteHeader(http.StatusOK)
	w.Write(p)
}

func writeCBOR(w http.ResponseWriter, status int, v any) {
	b, err := encMode.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b, _ = encMode.Marshal(toWireErr(errorf(ErrIO, "encoding the answer: %v", err)))
	}
	w.Header().Set("Content-Type", cborType)
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	w.Write(b)
}

func writeError(w http.ResponseWriter, err error) {
	writeCBOR(w, httpStatus(err), toWireErr(err))
}
