package volume

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/banyancloud/banyan/blockstore/replica"
)

var bg = context.Background()

// faultyHolder is a test double: a replica.Holder that passes calls to a
// real one until told to fail them (its box "down"), or to fail only
// writes, and that can add random latency so concurrent calls reorder.
type faultyHolder struct {
	replica.Holder
	down        atomic.Bool
	failWrites  atomic.Bool
	failAfter   atomic.Int64 // >0: fail every write after this many more
	maxJitter   time.Duration
	writesCount atomic.Int64
}

var errInjected = fmt.Errorf("%w: injected by faultyHolder", replica.ErrUnavailable)

func (f *faultyHolder) fail(write bool) error {
	if f.down.Load() {
		return errInjected
	}
	if write {
		if n := f.failAfter.Load(); n > 0 && f.writesCount.Add(1) > n {
			f.down.Store(true)
			return errInjected
		}
		if f.failWrites.Load() {
			return errInjected
		}
	}
	if f.maxJitter > 0 {
		time.Sleep(time.Duration(rand.Int64N(int64(f.maxJitter))))
	}
	return nil
}

func (f *faultyHolder) Write(ctx context.Context, id string, epoch uint64, off int64, p []byte, fua bool) error {
	if err := f.fail(true); err != nil {
		return err
	}
	return f.Holder.Write(ctx, id, epoch, off, p, fua)
}

func (f *faultyHolder) Zero(ctx context.Context, id string, epoch uint64, off, n int64, fua bool) error {
	if err := f.fail(true); err != nil {
		return err
	}
	return f.Holder.Zero(ctx, id, epoch, off, n, fua)
}

func (f *faultyHolder) Read(ctx context.Context, id string, off int64, p []byte) error {
	if err := f.fail(false); err != nil {
		return err
	}
	return f.Holder.Read(ctx, id, off, p)
}

func (f *faultyHolder) Flush(ctx context.Context, id string, epoch uint64) error {
	if err := f.fail(false); err != nil {
		return err
	}
	return f.Holder.Flush(ctx, id, epoch)
}

func (f *faultyHolder) Info(ctx context.Context, id string) (replica.Info, error) {
	if err := f.fail(false); err != nil {
		return replica.Info{}, err
	}
	return f.Holder.Info(ctx, id)
}

func (f *faultyHolder) Dirty(ctx context.Context, id string) (map[string][]replica.Run, error) {
	if err := f.fail(false); err != nil {
		return nil, err
	}
	return f.Holder.Dirty(ctx, id)
}

func (f *faultyHolder) MarkDirty(ctx context.Context, id string, epoch uint64, peer string, r []replica.Run) error {
	if err := f.fail(false); err != nil {
		return err
	}
	return f.Holder.MarkDirty(ctx, id, epoch, peer, r)
}

func (f *faultyHolder) ClearDirty(ctx context.Context, id string, epoch uint64, peer string, r []replica.Run) error {
	if err := f.fail(false); err != nil {
		return err
	}
	return f.Holder.ClearDirty(ctx, id, epoch, peer, r)
}

func (f *faultyHolder) WriteExtent(ctx context.Context, id string, epoch uint64, n int64, data []byte) error {
	if err := f.fail(true); err != nil {
		return err
	}
	return f.Holder.WriteExtent(ctx, id, epoch, n, data)
}

func (f *faultyHolder) ReadExtent(ctx context.Context, id string, n int64) ([]byte, error) {
	if err := f.fail(false); err != nil {
		return nil, err
	}
	return f.Holder.ReadExtent(ctx, id, n)
}

func (f *faultyHolder) ExtentSums(ctx context.Context, id string, first, count int64) ([]replica.Sum, error) {
	if err := f.fail(false); err != nil {
		return nil, err
	}
	return f.Holder.ExtentSums(ctx, id, first, count)
}

func (f *faultyHolder) Grow(ctx context.Context, id string, epoch uint64, size int64) error {
	if err := f.fail(false); err != nil {
		return err
	}
	return f.Holder.Grow(ctx, id, epoch, size)
}

// cluster is three boxes, a (local), b and c, each with a Store holding a
// copy of volume "vol-test"; b and c are reached through faultyHolders.
type cluster struct {
	stores map[string]*replica.Store
	faults map[string]*faultyHolder
	size   int64
}

const volID = "vol-test"

func newCluster(t *testing.T, size int64, jitter time.Duration) *cluster {
	t.Helper()
	c := &cluster{stores: map[string]*replica.Store{}, faults: map[string]*faultyHolder{}, size: size}
	for _, name := range []string{"a", "b", "c"} {
		s, err := replica.Open(filepath.Join(t.TempDir(), "volumes"))
		must(t, err)
		t.Cleanup(func() { s.Close() })
		must(t, s.Create(bg, volID, size))
		c.stores[name] = s
		c.faults[name] = &faultyHolder{Holder: s, maxJitter: jitter}
	}
	return c
}

func (c *cluster) config(epoch uint64) Config {
	return Config{
		ID:    volID,
		Epoch: epoch,
		Replicas: []Replica{
			{Name: "a", Holder: c.stores["a"], Local: true},
			{Name: "b", Holder: c.faults["b"]},
			{Name: "c", Holder: c.faults["c"]},
		},
		CallTimeout: 5 * time.Second,
		Logger:      testLogger,
	}
}

func (c *cluster) open(t *testing.T, epoch uint64) *Volume {
	t.Helper()
	v, err := Open(bg, c.config(epoch))
	must(t, err)
	return v
}

// sums are the extent sums of one box's copy.
func (c *cluster) sums(t *testing.T, name string) []replica.Sum {
	t.Helper()
	s, err := replica.AllSums(bg, c.stores[name], volID)
	must(t, err)
	return s
}

// wantIdentical fails unless every copy has the same extent sums.
func (c *cluster) wantIdentical(t *testing.T) {
	t.Helper()
	a := c.sums(t, "a")
	for _, n := range []string{"b", "c"} {
		o := c.sums(t, n)
		for i := range a {
			if a[i] != o[i] {
				t.Fatalf("copy %s differs from a at extent %d", n, i)
			}
		}
	}
}

func (c *cluster) read(t *testing.T, name string, off int64, n int) []byte {
	t.Helper()
	p := make([]byte, n)
	must(t, c.stores[name].Read(bg, volID, off, p))
	return p
}

func status(v *Volume, name string) ReplicaStatus {
	for _, s := range v.Status() {
		if s.Name == name {
			return s
		}
	}
	return ReplicaStatus{}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantErr(t *testing.T, err, sentinel error, what string) {
	t.Helper()
	if !errors.Is(err, sentinel) {
		t.Fatalf("%s: got %v, want %v", what, err, sentinel)
	}
}

func randBytes(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func wantBytes(t *testing.T, got, want []byte, what string) {
	t.Helper()
	if !bytes.Equal(got, want) {
		t.Fatalf("%s: bytes differ", what)
	}
}

var testLogger = slog.New(slog.DiscardHandler)
