package replica

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// Remote is the Holder of another box, reached through its NewHandler over
// node RPC. It keeps no state beyond the HTTP client's connection pool, so a
// box that restarts needs no reconnecting. A transport failure (refused,
// cut, timed out) is ErrUnavailable; the far Store's own errors keep their
// sentinels.
type Remote struct {
	client *http.Client
	base   string
}

var _ Holder = (*Remote)(nil)

// NewRemote returns the holder served at baseURL ("https://host:7947",
// without RPCPrefix). client should be the node RPC client (cluster.Node's
// RPCClient: mutual TLS, pooled); deadlines come from each call's ctx, so it
// needs no Timeout of its own.
func NewRemote(client *http.Client, baseURL string) *Remote {
	return &Remote{client: client, base: strings.TrimSuffix(baseURL, "/")}
}

// String is the holder's URL, for logs.
func (c *Remote) String() string { return c.base + RPCPrefix }

// do sends one request and returns the 200 answer's body, or the error the
// far side coded, or ErrUnavailable.
func (c *Remote) do(ctx context.Context, op string, q *wireReq, payload []byte) (*http.Response, error) {
	frame, err := encodeRequest(q)
	if err != nil {
		return nil, err
	}
	var body io.Reader = bytes.NewReader(frame)
	if payload != nil {
		body = io.MultiReader(body, bytes.NewReader(payload))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+RPCPrefix+op, body)
	if err != nil {
		return nil, errorf(ErrInvalidArgument, "%v", err)
	}
	req.ContentLength = int64(len(frame) + len(payload))
	req.Header.Set("Content-Type", rawType)
	if dl, ok := ctx.Deadline(); ok {
		req.Header.Set(timeoutHeader, formatTimeout(time.Until(dl)))
	}
	if readOnlyOps[op] {
		// Lets the transport resend a read that met a pooled connection the
		// far box closed when it restarted.
		req.Header.Set("Idempotency-Key", op)
	}
	resp, err := c.client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%w: %s %s: %w", ErrUnavailable, c, op, ctx.Err())
		}
		return nil, fmt.Errorf("%w: %s %s: %w", ErrUnavailable, c, op, err)
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		var we wireErr
		b, rerr := io.ReadAll(io.LimitReader(resp.Body, maxHeader))
		if rerr != nil || decMode.Unmarshal(b, &we) != nil || len(we.Codes)+len(we.Message) == 0 {
			return nil, fmt.Errorf("%w: %s %s answered %s", ErrUnavailable, c, op, resp.Status)
		}
		return nil, errorFromCodes(we.Codes, we.Message)
	}
	return resp, nil
}

// call runs one operation answered by a CBOR wireResp.
func (c *Remote) call(ctx context.Context, op string, q *wireReq, payload []byte) (*wireResp, error) {
	resp, err := c.do(ctx, op, q, payload)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxHeader+1))
	if err != nil {
		return nil, fmt.Errorf("%w: %s %s: reading the answer: %w", ErrUnavailable, c, op, err)
	}
	var out wireResp
	if len(b) > maxHeader || decMode.Unmarshal(b, &out) != nil {
		return nil, fmt.Errorf("%w: %s %s: undecodable answer", ErrUnavailable, c, op)
	}
	return &out, nil
}

// raw runs an operation answered by exactly len(p) raw bytes, into p.
func (c *Remote) raw(ctx context.Context, op string, q *wireReq, p []byte) error {
	resp, err := c.do(ctx, op, q, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.ContentLength != int64(len(p)) {
		return fmt.Errorf("%w: %s %s: asked %d bytes, the answer has %d", ErrUnavailable, c, op, len(p), resp.ContentLength)
	}
	if _, err := io.ReadFull(resp.Body, p); err != nil {
		return fmt.Errorf("%w: %s %s: answer cut: %w", ErrUnavailable, c, op, err)
	}
	return nil
}

// Create implements Holder.
func (c *Remote) Create(ctx context.Context, id string, size int64) error {
	_, err := c.call(ctx, opCreate, &wireReq{ID: id, Size: size}, nil)
	return err
}

// Delete implements Holder.
func (c *Remote) Delete(ctx context.Context, id string) error {
	_, err := c.call(ctx, opDelete, &wireReq{ID: id}, nil)
	return err
}

// Info implements Holder.
func (c *Remote) Info(ctx context.Context, id string) (Info, error) {
	r, err := c.call(ctx, opInfo, &wireReq{ID: id}, nil)
	if err != nil {
		return Info{}, err
	}
	if r.Info == nil {
		return Info{}, fmt.Errorf("%w: %s info: empty answer", ErrUnavailable, c)
	}
	return *r.Info, nil
}

// List implements Holder.
func (c *Remote) List(ctx context.Context) ([]Info, error) {
	r, err := c.call(ctx, opList, &wireReq{}, nil)
	if err != nil {
		return nil, err
	}
	if r.Infos == nil {
		return []Info{}, nil
	}
	return r.Infos, nil
}

// Write implements Holder; a p longer than MaxIO goes as several requests.
func (c *Remote) Write(ctx context.Context, id string, epoch uint64, off int64, p []byte, fua bool) error {
	for {
		n := min(len(p), MaxIO)
		q := &wireReq{ID: id, Epoch: epoch, Off: off, Length: int64(n), FUA: fua}
		if _, err := c.call(ctx, opWrite, q, p[:n]); err != nil {
			return err
		}
		if p, off = p[n:], off+int64(n); len(p) == 0 {
			return nil
		}
	}
}

// Zero implements Holder.
func (c *Remote) Zero(ctx context.Context, id string, epoch uint64, off, length int64, fua bool) error {
	_, err := c.call(ctx, opZero, &wireReq{ID: id, Epoch: epoch, Off: off, Length: length, FUA: fua}, nil)
	return err
}

// Read implements Holder; a p longer than MaxIO takes several requests.
func (c *Remote) Read(ctx context.Context, id string, off int64, p []byte) error {
	for {
		n := min(len(p), MaxIO)
		if err := c.raw(ctx, opRead, &wireReq{ID: id, Off: off, Length: int64(n)}, p[:n]); err != nil {
			return err
		}
		if p, off = p[n:], off+int64(n); len(p) == 0 {
			return nil
		}
	}
}

// Flush implements Holder.
func (c *Remote) Flush(ctx context.Context, id string, epoch uint64) error {
	_, err := c.call(ctx, opFlush, &wireReq{ID: id, Epoch: epoch}, nil)
	return err
}

// Grow implements Holder.
func (c *Remote) Grow(ctx context.Context, id string, epoch uint64, newSize int64) error {
	_, err := c.call(ctx, opGrow, &wireReq{ID: id, Epoch: epoch, Size: newSize}, nil)
	return err
}

// ExtentSums implements Holder.
func (c *Remote) ExtentSums(ctx context.Context, id string, first, count int64) ([]Sum, error) {
	r, err := c.call(ctx, opSums, &wireReq{ID: id, First: first, Count: count}, nil)
	if err != nil {
		return nil, err
	}
	if len(r.Sums)%16 != 0 || int64(len(r.Sums)/16) > max(count, 0) {
		return nil, fmt.Errorf("%w: %s sums: %d bytes of sums for %d extents", ErrUnavailable, c, len(r.Sums), count)
	}
	sums := make([]Sum, len(r.Sums)/16)
	for i := range sums {
		copy(sums[i][:], r.Sums[16*i:])
	}
	return sums, nil
}

// ReadExtent implements Holder.
func (c *Remote) ReadExtent(ctx context.Context, id string, n int64) ([]byte, error) {
	resp, err := c.do(ctx, opReadExtent, &wireReq{ID: id, First: n}, nil)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.ContentLength < 0 || resp.ContentLength > ExtentSize {
		return nil, fmt.Errorf("%w: %s readextent: answer of %d bytes", ErrUnavailable, c, resp.ContentLength)
	}
	p := make([]byte, resp.ContentLength)
	if _, err := io.ReadFull(resp.Body, p); err != nil {
		return nil, fmt.Errorf("%w: %s readextent: answer cut: %w", ErrUnavailable, c, err)
	}
	return p, nil
}

// WriteExtent implements Holder.
func (c *Remote) WriteExtent(ctx context.Context, id string, epoch uint64, n int64, data []byte) error {
	if len(data) > ExtentSize {
		return errorf(ErrInvalidArgument, "extent data of %d bytes, at most %d", len(data), ExtentSize)
	}
	_, err := c.call(ctx, opWriteExtent, &wireReq{ID: id, Epoch: epoch, First: n, Length: int64(len(data))}, data)
	return err
}

// MarkDirty implements Holder.
func (c *Remote) MarkDirty(ctx context.Context, id string, epoch uint64, peer string, extents []Run) error {
	_, err := c.call(ctx, opMarkDirty, &wireReq{ID: id, Epoch: epoch, Peer: peer, Runs: extents}, nil)
	return err
}

// ClearDirty implements Holder.
func (c *Remote) ClearDirty(ctx context.Context, id string, epoch uint64, peer string, extents []Run) error {
	_, err := c.call(ctx, opClearDirty, &wireReq{ID: id, Epoch: epoch, Peer: peer, Runs: extents}, nil)
	return err
}

// Dirty implements Holder.
func (c *Remote) Dirty(ctx context.Context, id string) (map[string][]Run, error) {
	r, err := c.call(ctx, opDirty, &wireReq{ID: id}, nil)
	if err != nil {
		return nil, err
	}
	if r.Dirty == nil {
		return map[string][]Run{}, nil
	}
	return r.Dirty, nil
}
