package disk

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/banyancloud/banyan/objectstore/erasure"
)

// Remote is a Disk on another box, reached through its NewHandler over
// node RPC. It holds no state beyond the HTTP client's connection pool:
// every call is one request, so a box that restarts needs no reconnecting.
// Transport failures are ErrDiskOffline; the remote disk's own errors keep
// their sentinels.
type Remote struct {
	client *http.Client
	base   string // scheme://host:port
	id     string
}

var _ Disk = (*Remote)(nil)

// NewRemote returns the disk diskID served at baseURL ("https://host:7947",
// without RPCPrefix). client should be the node RPC client (mutual TLS,
// pooled); per-call deadlines come from each call's ctx, so the client
// needs no overall Timeout (which would cut long streams).
func NewRemote(client *http.Client, baseURL, diskID string) *Remote {
	return &Remote{client: client, base: strings.TrimSuffix(baseURL, "/"), id: diskID}
}

func (c *Remote) String() string { return c.base + RPCPrefix + c.id }

func (c *Remote) url(op string, q url.Values) string {
	u := c.base + RPCPrefix + url.PathEscape(c.id) + "/" + op
	if q != nil {
		u += "?" + q.Encode()
	}
	return u
}

// readOnlyOps change nothing on the disk, so resending one is harmless.
var readOnlyOps = map[string]bool{
	opInfo: true, opStatVolume: true, opListVolumes: true, opReadMetadata: true,
	opStatFile: true, opVerifyFile: true, opReadFile: true, opWalk: true,
	opListStaged: true,
}

// do sends a request with the caller's deadline and maps a transport
// failure to ErrDiskOffline and a coded failure to its sentinels.
func (c *Remote) do(ctx context.Context, method, op string, q url.Values, body io.Reader, size int64) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.url(op, q), body)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidArgument, err)
	}
	if body != nil && body != http.NoBody {
		req.ContentLength = size
	}
	if dl, ok := ctx.Deadline(); ok {
		req.Header.Set(timeoutHeader, formatTimeout(time.Until(dl)))
	}
	if readOnlyOps[op] {
		// Lets the transport resend a read that met a pooled connection the far box
		// closed when it restarted, instead of reporting the disk offline.
		req.Header.Set("Idempotency-Key", op)
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: %s %s: %w", ErrDiskOffline, c, op, err)
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		var we wireErr
		if err := readCBOR(resp.Body, &we); err != nil || len(we.Codes)+len(we.Message) == 0 {
			return nil, fmt.Errorf("%w: %s %s answered %s", ErrDiskOffline, c, op, resp.Status)
		}
		return nil, we.err()
	}
	return resp, nil
}

// call runs one CBOR operation.
func (c *Remote) call(ctx context.Context, op string, q *wireReq) (*wireResp, error) {
	b, err := encMode.Marshal(q)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidArgument, err)
	}
	resp, err := c.do(ctx, http.MethodPost, op, nil, bytes.NewReader(b), int64(len(b)))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var out wireResp
	if err := readCBOR(resp.Body, &out); err != nil {
		return nil, fmt.Errorf("%w: %s %s: %w", ErrDiskOffline, c, op, err)
	}
	return &out, nil
}

// ID implements Disk.
func (c *Remote) ID() string { return c.id }

// Info implements Disk; Endpoint is this client's URL of the disk.
func (c *Remote) Info(ctx context.Context) (Info, error) {
	r, err := c.call(ctx, opInfo, &wireReq{})
	if err != nil {
		return Info{}, err
	}
	if r.Info == nil {
		return Info{}, fmt.Errorf("%w: %s: empty info", ErrDiskOffline, c)
	}
	info := *r.Info
	info.Endpoint = c.String()
	return info, nil
}

// MakeVolume implements Disk.
func (c *Remote) MakeVolume(ctx context.Context, bucket string) error {
	_, err := c.call(ctx, opMakeVolume, &wireReq{Bucket: bucket})
	return err
}

// DeleteVolume implements Disk.
func (c *Remote) DeleteVolume(ctx context.Context, bucket string, force bool) error {
	_, err := c.call(ctx, opDeleteVolume, &wireReq{Bucket: bucket, Force: force})
	return err
}

// StatVolume implements Disk.
func (c *Remote) StatVolume(ctx context.Context, bucket string) (VolumeInfo, error) {
	r, err := c.call(ctx, opStatVolume, &wireReq{Bucket: bucket})
	if err != nil || r.Volume == nil {
		return VolumeInfo{}, err
	}
	return *r.Volume, nil
}

// ListVolumes implements Disk.
func (c *Remote) ListVolumes(ctx context.Context) ([]VolumeInfo, error) {
	r, err := c.call(ctx, opListVolumes, &wireReq{})
	if err != nil {
		return nil, err
	}
	if r.Volumes == nil {
		return []VolumeInfo{}, nil
	}
	return r.Volumes, nil
}

// ReadMetadata implements Disk.
func (c *Remote) ReadMetadata(ctx context.Context, bucket, object string) (*ObjectMeta, error) {
	r, err := c.call(ctx, opReadMetadata, &wireReq{Bucket: bucket, Object: object})
	if err != nil {
		return nil, err
	}
	if r.Meta == nil {
		return nil, fmt.Errorf("%w: %s: empty metadata", ErrDiskOffline, c)
	}
	return r.Meta, nil
}

// WriteMetadata implements Disk.
func (c *Remote) WriteMetadata(ctx context.Context, bucket, object string, meta *ObjectMeta) error {
	_, err := c.call(ctx, opWriteMetadata, &wireReq{Bucket: bucket, Object: object, Meta: meta})
	return err
}

// DeleteObject implements Disk.
func (c *Remote) DeleteObject(ctx context.Context, bucket, object string) error {
	_, err := c.call(ctx, opDeleteObject, &wireReq{Bucket: bucket, Object: object})
	return err
}

// DeleteVersion implements Disk.
func (c *Remote) DeleteVersion(ctx context.Context, bucket, object, versionID string) error {
	_, err := c.call(ctx, opDeleteVersion, &wireReq{Bucket: bucket, Object: object, VersionID: versionID})
	return err
}

// DeleteTmp implements Disk.
func (c *Remote) DeleteTmp(ctx context.Context, tmpPath string) error {
	_, err := c.call(ctx, opDeleteTmp, &wireReq{Path: tmpPath})
	return err
}

// ListStagedUploads implements Disk.
func (c *Remote) ListStagedUploads(ctx context.Context, startAfter string, max int) ([]string, error) {
	r, err := c.call(ctx, opListStaged, &wireReq{StartAfter: startAfter, Max: max})
	if err != nil {
		return nil, err
	}
	return r.Names, nil
}

// RenameData implements Disk.
func (c *Remote) RenameData(ctx context.Context, srcTmpPath, bucket, object string, v Version) error {
	_, err := c.call(ctx, opRenameData, &wireReq{Path: srcTmpPath, Bucket: bucket, Object: object, Version: &v})
	return err
}

// UndoRenameData implements Disk.
func (c *Remote) UndoRenameData(ctx context.Context, bucket, object string, v Version) error {
	_, err := c.call(ctx, opUndoRename, &wireReq{Bucket: bucket, Object: object, Version: &v})
	return err
}

// UndoDeleteVersion implements Disk.
func (c *Remote) UndoDeleteVersion(ctx context.Context, bucket, object string, v Version) error {
	_, err := c.call(ctx, opUndoDelete, &wireReq{Bucket: bucket, Object: object, Version: &v})
	return err
}

// VerifyFile implements Disk. The remote box reads and hashes the file;
// only the verdict crosses the network.
func (c *Remote) VerifyFile(ctx context.Context, bucket, object, dataDir string, part int, scheme erasure.Scheme, partSize int64) error {
	s := &ErasureInfo{Data: scheme.Data, Parity: scheme.Parity, BlockSize: scheme.BlockSize}
	_, err := c.call(ctx, opVerifyFile, &wireReq{Bucket: bucket, Object: object, DataDir: dataDir, Part: part, Scheme: s, Size: partSize})
	return err
}

// CreateFile implements Disk: r is streamed as the request body, so memory
// stays at the transport's buffers whatever the size. The body is always
// sent chunked, even when size is known: if r fails or has the wrong
// length, the request is cut before its final chunk and the server sees a
// truncated body and discards the file. With a Content-Length the server
// could receive all the bytes it was promised and keep a file the caller
// believes failed.
func (c *Remote) CreateFile(ctx context.Context, bucket, tmpPath string, size int64, r io.Reader) error {
	q := url.Values{"bucket": {bucket}, "path": {tmpPath}, "size": {strconv.FormatInt(size, 10)}}
	src := &trackingReader{r: &exactReader{r: r, left: size}}
	resp, err := c.do(ctx, http.MethodPut, opCreateFile, q, src, -1)
	if src.err != nil {
		// The stream failed (or had the wrong length) on our side; that,
		// not the aborted request, is the cause.
		return fmt.Errorf("staging %s: %w", tmpPath, src.err)
	}
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

// trackingReader remembers the first real error of the stream it passes on.
type trackingReader struct {
	r   io.Reader
	err error
}

func (t *trackingReader) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if err != nil && err != io.EOF && t.err == nil {
		t.err = err
	}
	return n, err
}

// OpenFile implements Disk. It asks the size up front; reads are then
// served by remoteFile, under ctx: the reads of a shard belong to the
// request that opened it, and end with it.
func (c *Remote) OpenFile(ctx context.Context, bucket, object, dataDir string, part int) (ReadAtCloser, int64, error) {
	r, err := c.call(ctx, opStatFile, &wireReq{Bucket: bucket, Object: object, DataDir: dataDir, Part: part})
	if err != nil {
		return nil, 0, err
	}
	q := url.Values{"bucket": {bucket}, "object": {object}, "datadir": {dataDir}, "part": {strconv.Itoa(part)}}
	return &remoteFile{ctx: ctx, c: c, q: q, size: r.Size}, r.Size, nil
}

// readWindow is how much a remote read asks for beyond what ReadAt needs.
// Shard readers (erasure.Decode) read frame after frame, so one ranged GET
// serves many ReadAts; the window bounds what a jump in offset wastes, and
// a fully read window returns its connection to the pool.
const readWindow = 4 << 20

// remoteFile reads a remote shard file through a sequence of ranged GETs.
// It keeps the current response open and serves sequential ReadAts from
// it; a ReadAt elsewhere starts a new range.
type remoteFile struct {
	ctx  context.Context
	c    *Remote
	q    url.Values
	size int64

	mu     sync.Mutex
	body   io.ReadCloser
	pos    int64 // file offset of body's next byte
	left   int64 // bytes body has yet to give
	closed bool
}

func (f *remoteFile) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("%w: negative offset", ErrInvalidArgument)
	}
	if off >= f.size {
		return 0, io.EOF
	}
	want := int(min(int64(len(p)), f.size-off))
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return 0, fmt.Errorf("%w: read of a closed file", ErrInvalidArgument)
	}
	n := 0
	for n < want {
		at := off + int64(n)
		if f.body == nil || f.pos != at || f.left == 0 {
			f.drop()
			if err := f.open(at, max(int64(want-n), readWindow)); err != nil {
				return n, err
			}
		}
		m, err := io.ReadFull(f.body, p[n:n+int(min(int64(want-n), f.left))])
		n += m
		f.pos += int64(m)
		f.left -= int64(m)
		if err != nil {
			f.drop()
			return n, fmt.Errorf("%w: %s: reading at %d: %w", ErrDiskOffline, f.c, at, err)
		}
		if f.left == 0 {
			// Reading the end of the body lets the transport reuse the
			// connection.
			io.Copy(io.Discard, f.body)
			f.drop()
		}
	}
	if want < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// open starts a GET of [at, at+n) clamped to the file.
func (f *remoteFile) open(at, n int64) error {
	n = min(n, f.size-at)
	q := url.Values{}
	for k, v := range f.q {
		q[k] = v
	}
	q.Set("offset", strconv.FormatInt(at, 10))
	q.Set("length", strconv.FormatInt(n, 10))
	resp, err := f.c.do(f.ctx, http.MethodGet, opReadFile, q, nil, 0)
	if err != nil {
		return err
	}
	if resp.ContentLength >= 0 && resp.ContentLength != n {
		resp.Body.Close()
		return fmt.Errorf("%w: %s: asked %d bytes, answer has %d", ErrDiskOffline, f.c, n, resp.ContentLength)
	}
	f.body, f.pos, f.left = resp.Body, at, n
	return nil
}

func (f *remoteFile) drop() {
	if f.body != nil {
		f.body.Close()
		f.body, f.left = nil, 0
	}
}

func (f *remoteFile) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.drop()
	f.closed = true
	return nil
}

// Walk implements Disk. The remote walk streams items as it finds them;
// stopping early (fn's error) closes the stream, which stops the remote
// walk too.
func (c *Remote) Walk(ctx context.Context, bucket, prefix, startAfter string, fn func(object string, meta *ObjectMeta) error) error {
	b, err := encMode.Marshal(&wireReq{Bucket: bucket, Prefix: prefix, StartAfter: startAfter})
	if err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidArgument, err)
	}
	resp, err := c.do(ctx, http.MethodPost, opWalk, nil, bytes.NewReader(b), int64(len(b)))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	dec := decMode.NewDecoder(resp.Body)
	for {
		var it walkItem
		if err := ctx.Err(); err != nil {
			return err // the stream may hold items read before the cancel
		}
		if err := dec.Decode(&it); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("%w: %s: walk stream cut: %w", ErrDiskOffline, c, err)
		}
		if it.Done {
			return it.Err.err()
		}
		meta := it.Meta
		if it.Corrupt {
			meta = nil
		} else if meta == nil {
			meta = &ObjectMeta{}
		}
		if err := fn(it.Object, meta); err != nil {
			if errors.Is(err, StopWalk) {
				return nil
			}
			return err
		}
	}
}
