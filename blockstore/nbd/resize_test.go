package nbd

import (
	"context"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// growBackend is a memBackend that can grow while served (an EBS volume being modified);
// sized is closed once a client was told its size.
type growBackend struct {
	*memBackend
	once  *sync.Once
	sized chan struct{}
}

func (g growBackend) Size() int64 {
	g.mu.Lock()
	n := int64(len(g.data))
	g.mu.Unlock()
	g.once.Do(func() { close(g.sized) })
	return n
}

func (g growBackend) grow(size int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.data = append(g.data, make([]byte, size-len(g.data))...)
}

// TestGrownExportSize: a client that connects after the export grew is told the new size
// at its handshake and may use all of it; a client connected before keeps the size it was
// told (NBD has no way to tell it more), which is why a running guest sees a grown EBS
// volume only once qemu connects again.
func TestGrownExportSize(t *testing.T) {
	needTool(t, "qemu-io")
	const old, grown = 4 << 20, 8 << 20
	g := growBackend{newMem(old), new(sync.Once), make(chan struct{})}
	ts := startServer(t, map[string]Backend{"vol": g})
	url := ts.unixURL("vol")

	// Connected before the grow, for its whole life.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	before := exec.CommandContext(ctx, "qemu-io", "-f", "raw", "-c", "length", "-c", "sleep 1500", "-c", "length",
		"-c", "truncate 8M", url)
	var out strings.Builder
	before.Stdout, before.Stderr = &out, &out
	if err := before.Start(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-g.sized:
	case <-ctx.Done():
		t.Fatal("qemu-io never connected")
	}
	time.Sleep(100 * time.Millisecond) // the handshake is over
	g.grow(grown)
	if err := before.Wait(); err != nil {
		t.Logf("qemu-io: %v", err)
	}
	if got := out.String(); strings.Count(got, "4 MiB") != 2 || !strings.Contains(got, "Cannot grow NBD nodes") {
		t.Fatalf("a client connected before the grow: %s", got)
	}

	// Connected after: the new size, and I/O past the old end.
	got := qemuIO(t, url, "length", "write -P 0x7e 6M 64k", "read -P 0x7e 6M 64k", "read -P 0 4M 64k")
	if !strings.Contains(got, "8 MiB") {
		t.Fatalf("a client connected after the grow: %s", got)
	}
	g.mu.Lock()
	b := g.data[6<<20]
	g.mu.Unlock()
	if b != 0x7e {
		t.Fatalf("the write past the old end did not reach the backend")
	}
}
