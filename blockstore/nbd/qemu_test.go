package nbd

import (
	"context"
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// fuaRecorder is a FileBackend that counts the writes and zeroes asked to be durable.
type fuaRecorder struct {
	*FileBackend
	fuaWrites, fuaZeroes, flushes atomic.Int64
}

func (r *fuaRecorder) WriteAt(ctx context.Context, p []byte, off int64, fua bool) error {
	if fua {
		r.fuaWrites.Add(1)
	}
	return r.FileBackend.WriteAt(ctx, p, off, fua)
}

func (r *fuaRecorder) WriteZeroes(ctx context.Context, off, length int64, fua bool) error {
	if fua {
		r.fuaZeroes.Add(1)
	}
	return r.FileBackend.WriteZeroes(ctx, off, length, fua)
}

func (r *fuaRecorder) Flush(ctx context.Context) error {
	r.flushes.Add(1)
	return r.FileBackend.Flush(ctx)
}

// TestQemuIO drives the server with qemu-io over the unix socket and over TCP: writes
// with a pattern, reads it back, flush, FUA writes, write zeroes and discard, each checked
// in the backing file's bytes.
func TestQemuIO(t *testing.T) {
	needTool(t, "qemu-io")
	for _, transport := range []string{"unix", "tcp"} {
		t.Run(transport, func(t *testing.T) {
			fb, path := newFile(t, 64<<20)
			rec := &fuaRecorder{FileBackend: fb}
			ts := startServer(t, map[string]Backend{"vol": rec})
			url := ts.unixURL("vol")
			if transport == "tcp" {
				url = ts.tcpURL("vol")
			}

			qemuIO(t, url, "write -P 0xab 0 1M", "read -P 0xab 0 1M", "flush")
			wantBytes(t, "after write -P 0xab", fileBytes(t, path, 0, 1<<20), 0xab)
			if rec.flushes.Load() == 0 {
				t.Error("qemu-io flush did not reach the backend")
			}

			qemuIO(t, url, "write -f -P 0xcd 4M 64k", "read -P 0xcd 4M 64k")
			wantBytes(t, "after write -f", fileBytes(t, path, 4<<20, 64<<10), 0xcd)
			if rec.fuaWrites.Load() == 0 {
				t.Error("write -f reached the backend without FUA")
			}

			// Zeroes over data, with and without FUA, and a discard.
			qemuIO(t, url, "write -P 0x11 8M 3M", "write -z 8M 1M", "write -z -f 9M 1M", "discard 10M 1M",
				"read -P 0 8M 2M")
			wantBytes(t, "after write -z", fileBytes(t, path, 8<<20, 2<<20), 0)
			if rec.fuaZeroes.Load() == 0 {
				t.Error("write -z -f reached the backend without FUA")
			}
			if !fb.noPunch.Load() {
				wantBytes(t, "after discard", fileBytes(t, path, 10<<20, 1<<20), 0)
			}

			// Unaligned I/O: qemu does read-modify-write to the advertised 512 bytes.
			qemuIO(t, url, "write -P 0x5a 12345 1000", "read -P 0x5a 12345 1000")
			wantBytes(t, "unaligned write", fileBytes(t, path, 12345, 1000), 0x5a)

			// The last byte of the export, and past it (qemu refuses locally).
			qemuIO(t, url, "write -P 0x77 67108352 512", "read -P 0x77 67108352 512")
			wantBytes(t, "last sector", fileBytes(t, path, 64<<20-512, 512), 0x77)

			info := run(t, "qemu-img", "info", "-f", "raw", url)
			if !strings.Contains(info, "64 MiB") {
				t.Errorf("qemu-img info: %s", info)
			}
		})
	}
}

// TestQemuImgConvertCompare copies a random image into an export and back with
// qemu-img convert, and has qemu-img compare check both copies.
func TestQemuImgConvertCompare(t *testing.T) {
	needTool(t, "qemu-img")
	const size = 48 << 20
	dir := t.TempDir()
	src := filepath.Join(dir, "src.img")
	data := make([]byte, size)
	rand.Read(data[:16<<20]) // some data, then a zero run, then data
	rand.Read(data[32<<20:])
	if err := os.WriteFile(src, data, 0o644); err != nil {
		t.Fatal(err)
	}
	fb, path := newFile(t, size)
	// Dirty the zero run in the target, so convert must write zeroes there.
	if err := fb.WriteAt(context.Background(), make([]byte, 1<<20), 20<<20, false); err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, map[string]Backend{"vol": fb})

	run(t, "qemu-img", "convert", "-n", "-f", "raw", "-O", "raw", src, ts.unixURL("vol"))
	run(t, "qemu-img", "compare", "-f", "raw", "-F", "raw", src, ts.unixURL("vol"))
	run(t, "qemu-img", "compare", "-f", "raw", "-F", "raw", src, path)

	back := filepath.Join(dir, "back.img")
	run(t, "qemu-img", "convert", "-f", "raw", "-O", "raw", ts.tcpURL("vol"), back)
	run(t, "qemu-img", "compare", "-f", "raw", "-F", "raw", src, back)
}

// TestQemuNbdList has qemu-nbd --list read the export list and each export's details.
func TestQemuNbdList(t *testing.T) {
	needTool(t, "qemu-nbd")
	ro := newMem(1 << 20)
	ro.props = Properties{ReadOnly: true, Description: "a read-only one"}
	ts := startServer(t, map[string]Backend{"vol-a": newMem(2 << 20), "vol-b": ro})
	out := run(t, "qemu-nbd", "--list", "-k", ts.sock)
	for _, want := range []string{"vol-a", "vol-b", "2097152", "a read-only one", "readonly"} {
		if !strings.Contains(out, want) {
			t.Errorf("qemu-nbd --list lacks %q:\n%s", want, out)
		}
	}
}
