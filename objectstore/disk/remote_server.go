package disk

import (
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

type handler struct {
	disks map[string]Disk
}

// NewHandler serves the disks of this box, keyed by disk ID, to Remote
// clients on other boxes. Mount it on the node RPC listener at RPCPrefix
// (mux.Handle(disk.RPCPrefix, h)); authentication is the listener's mutual
// TLS. The map is copied: a changed set of disks needs a new handler.
func NewHandler(disks map[string]Disk) http.Handler {
	h := &handler{disks: maps.Clone(disks)}
	m := http.NewServeMux()
	m.HandleFunc(RPCPrefix+"{disk}/{op}", h.serve)
	return m
}

// smallOps are the operations whose request and response are one CBOR
// message each.
var smallOps = map[string]func(ctx context.Context, d Disk, q *wireReq) (*wireResp, error){
	opInfo: func(ctx context.Context, d Disk, q *wireReq) (*wireResp, error) {
		info, err := d.Info(ctx)
		return &wireResp{Info: &info}, err
	},
	opMakeVolume: func(ctx context.Context, d Disk, q *wireReq) (*wireResp, error) {
		return &wireResp{}, d.MakeVolume(ctx, q.Bucket)
	},
	opDeleteVolume: func(ctx context.Context, d Disk, q *wireReq) (*wireResp, error) {
		return &wireResp{}, d.DeleteVolume(ctx, q.Bucket, q.Force)
	},
	opStatVolume: func(ctx context.Context, d Disk, q *wireReq) (*wireResp, error) {
		v, err := d.StatVolume(ctx, q.Bucket)
		return &wireResp{Volume: &v}, err
	},
	opListVolumes: func(ctx context.Context, d Disk, q *wireReq) (*wireResp, error) {
		vs, err := d.ListVolumes(ctx)
		return &wireResp{Volumes: vs}, err
	},
	opReadMetadata: func(ctx context.Context, d Disk, q *wireReq) (*wireResp, error) {
		m, err := d.ReadMetadata(ctx, q.Bucket, q.Object)
		return &wireResp{Meta: m}, err
	},
	opWriteMetadata: func(ctx context.Context, d Disk, q *wireReq) (*wireResp, error) {
		return &wireResp{}, d.WriteMetadata(ctx, q.Bucket, q.Object, q.Meta)
	},
	opDeleteObject: func(ctx context.Context, d Disk, q *wireReq) (*wireResp, error) {
		return &wireResp{}, d.DeleteObject(ctx, q.Bucket, q.Object)
	},
	opDeleteVersion: func(ctx context.Context, d Disk, q *wireReq) (*wireResp, error) {
		return &wireResp{}, d.DeleteVersion(ctx, q.Bucket, q.Object, q.VersionID)
	},
	opDeleteTmp: func(ctx context.Context, d Disk, q *wireReq) (*wireResp, error) {
		return &wireResp{}, d.DeleteTmp(ctx, q.Path)
	},
	opListStaged: func(ctx context.Context, d Disk, q *wireReq) (*wireResp, error) {
		names, err := d.ListStagedUploads(ctx, q.StartAfter, q.Max)
		return &wireResp{Names: names}, err
	},
	opRenameData: func(ctx context.Context, d Disk, q *wireReq) (*wireResp, error) {
		if q.Version == nil {
			return nil, fmt.Errorf("%w: renamedata without a version", ErrInvalidArgument)
		}
		return &wireResp{}, d.RenameData(ctx, q.Path, q.Bucket, q.Object, *q.Version)
	},
	opUndoRename: func(ctx context.Context, d Disk, q *wireReq) (*wireResp, error) {
		if q.Version == nil {
			return nil, fmt.Errorf("%w: undorename without a version", ErrInvalidArgument)
		}
		return &wireResp{}, d.UndoRenameData(ctx, q.Bucket, q.Object, *q.Version)
	},
	opUndoDelete: func(ctx context.Context, d Disk, q *wireReq) (*wireResp, error) {
		if q.Version == nil {
			return nil, fmt.Errorf("%w: undodelversion without a version", ErrInvalidArgument)
		}
		return &wireResp{}, d.UndoDeleteVersion(ctx, q.Bucket, q.Object, *q.Version)
	},
	opStatFile: func(ctx context.Context, d Disk, q *wireReq) (*wireResp, error) {
		f, size, err := d.OpenFile(ctx, q.Bucket, q.Object, q.DataDir, q.Part)
		if err != nil {
			return nil, err
		}
		f.Close()
		return &wireResp{Size: size}, nil
	},
	opVerifyFile: func(ctx context.Context, d Disk, q *wireReq) (*wireResp, error) {
		if q.Scheme == nil {
			return nil, fmt.Errorf("%w: verifyfile without a scheme", ErrInvalidArgument)
		}
		return &wireResp{}, d.VerifyFile(ctx, q.Bucket, q.Object, q.DataDir, q.Part, q.Scheme.Scheme(), q.Size)
	},
}

func (h *handler) serve(w http.ResponseWriter, r *http.Request) {
	d := h.disks[r.PathValue("disk")]
	if d == nil {
		writeError(w, fmt.Errorf("%w: %q is not served here", ErrDiskNotFound, r.PathValue("disk")))
		return
	}
	ctx := r.Context()
	if t, ok := parseTimeout(r.Header.Get(timeoutHeader)); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, t)
		defer cancel()
	}
	switch op := r.PathValue("op"); op {
	case opCreateFile:
		h.createFile(ctx, w, r, d)
	case opReadFile:
		h.readFile(ctx, w, r, d)
	case opWalk:
		h.walk(ctx, w, r, d)
	default:
		fn := smallOps[op]
		if fn == nil || r.Method != http.MethodPost {
			writeError(w, fmt.Errorf("%w: no disk operation %s %q", ErrInvalidArgument, r.Method, op))
			return
		}
		var q wireReq
		if err := readCBOR(r.Body, &q); err != nil {
			writeError(w, err)
			return
		}
		resp, err := fn(ctx, d, &q)
		if err != nil {
			writeError(w, err)
			return
		}
		writeCBOR(w, http.StatusOK, resp)
	}
}

func (h *handler) createFile(ctx context.Context, w http.ResponseWriter, r *http.Request, d Disk) {
	q := r.URL.Query()
	size, err := strconv.ParseInt(q.Get("size"), 10, 64)
	if err != nil || r.Method != http.MethodPut {
		writeError(w, fmt.Errorf("%w: createfile needs PUT and a size", ErrInvalidArgument))
		return
	}
	if err := d.CreateFile(ctx, q.Get("bucket"), q.Get("path"), size, r.Body); err != nil {
		writeError(w, err)
		return
	}
	writeCBOR(w, http.StatusOK, &wireResp{})
}

// readFile streams a byte range of a shard file. The first chunk is read
// before the status is sent, so that a file that cannot be read at all
// fails with its error code; a failure later can only cut the stream, which
// the client sees as a short body.
func (h *handler) readFile(ctx context.Context, w http.ResponseWriter, r *http.Request, d Disk) {
	q := r.URL.Query()
	part, perr := strconv.Atoi(q.Get("part"))
	off, oerr := strconv.ParseInt(q.Get("offset"), 10, 64)
	n, nerr := strconv.ParseInt(q.Get("length"), 10, 64)
	if perr != nil || oerr != nil || nerr != nil || off < 0 || n < 0 || r.Method != http.MethodGet {
		writeError(w, fmt.Errorf("%w: readfile needs GET, part, offset and length", ErrInvalidArgument))
		return
	}
	f, size, err := d.OpenFile(ctx, q.Get("bucket"), q.Get("object"), q.Get("datadir"), part)
	if err != nil {
		writeError(w, err)
		return
	}
	defer f.Close()
	if off > size || n > size-off {
		writeError(w, fmt.Errorf("%w: range [%d, +%d) outside a file of %d bytes", ErrInvalidArgument, off, n, size))
		return
	}
	if osf, ok := f.(*os.File); ok && n > copyBufSize {
		// The whole window at once, as one large read into the page cache (see the
		// object store's readahead.go for why).
		_ = unix.Fadvise(int(osf.Fd()), off, n, unix.FADV_WILLNEED)
	}
	bp := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(bp)
	buf := (*bp)[:min(int64(len(*bp)), n)]
	src := io.NewSectionReader(f, off, n)
	first, err := io.ReadFull(src, buf)
	if err != nil && first < len(buf) {
		writeError(w, fsError(err, ErrFileCorrupt))
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.FormatInt(n, 10))
	w.WriteHeader(http.StatusOK)
	if _, err := w.Write(buf[:first]); err != nil {
		return
	}
	if _, err := io.CopyBuffer(w, ctxReader{ctx, src}, *bp); err != nil {
		// Cut the connection: the client sees fewer bytes than promised.
		panic(http.ErrAbortHandler)
	}
}

func (h *handler) walk(ctx context.Context, w http.ResponseWriter, r *http.Request, d Disk) {
	var q wireReq
	if err := readCBOR(r.Body, &q); err != nil {
		writeError(w, err)
		return
	}
	w.Header().Set("Content-Type", cborSeqType)
	w.WriteHeader(http.StatusOK)
	enc := encMode.NewEncoder(w)
	rc := http.NewResponseController(w)
	n := 0
	err := d.Walk(ctx, q.Bucket, q.Prefix, q.StartAfter, func(object string, meta *ObjectMeta) error {
		if err := enc.Encode(walkItem{Object: object, Meta: meta, Corrupt: meta == nil}); err != nil {
			return err
		}
		// Flush the first items at once so a short listing is quick,
		// then only when the buffer fills.
		if n++; n <= 16 {
			rc.Flush()
		}
		return nil
	})
	enc.Encode(walkItem{Done: true, Err: toWireErr(err)})
}

// ctxReader stops a long copy when the caller has gone.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

func readCBOR(r io.Reader, v any) error {
	b, err := io.ReadAll(io.LimitReader(r, maxRPCMessage+1))
	if err != nil {
		return fmt.Errorf("%w: reading message: %w", ErrDiskOffline, err)
	}
	if len(b) > maxRPCMessage {
		return fmt.Errorf("%w: message larger than %d bytes", ErrInvalidArgument, maxRPCMessage)
	}
	if err := decMode.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%w: undecodable message: %v", ErrInvalidArgument, err)
	}
	return nil
}

func writeCBOR(w http.ResponseWriter, status int, v any) {
	b, err := encMode.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, nil
		if eb, eerr := encMode.Marshal(toWireErr(err)); eerr == nil {
			b = eb
		}
	}
	w.Header().Set("Content-Type", cborType)
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	w.Write(b)
}

func writeError(w http.ResponseWriter, err error) {
	writeCBOR(w, httpStatus(err), toWireErr(err))
}
