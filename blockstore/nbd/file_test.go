package nbd

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestFileBackend checks FileBackend against its file: writes and reads, zeroes that
// stay allocated, trims that punch holes, read-only refusal, and reads past a file that
// shrank.
func TestFileBackend(t *testing.T) {
	ctx := context.Background()
	b, path := newFile(t, 8<<20)
	if b.Size() != 8<<20 {
		t.Fatalf("size %d", b.Size())
	}
	if p := b.Properties(); p.ReadOnly || !p.MultiConn {
		t.Errorf("properties %+v", p)
	}
	data := make([]byte, 4<<20)
	for i := range data {
		data[i] = 0x42
	}
	if err := b.WriteAt(ctx, data, 0, true); err != nil {
		t.Fatal(err)
	}
	if err := b.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	wantBytes(t, "written", fileBytes(t, path, 0, 4<<20), 0x42)
	allocated := func() int64 {
		var st syscall.Stat_t
		if err := syscall.Stat(path, &st); err != nil {
			t.Fatal(err)
		}
		return st.Blocks * 512
	}
	before := allocated()

	if err := b.WriteZeroes(ctx, 0, 1<<20, true); err != nil {
		t.Fatal(err)
	}
	wantBytes(t, "zeroed", fileBytes(t, path, 0, 1<<20), 0)
	if got := allocated(); got < before {
		t.Errorf("WriteZeroes freed space (%d → %d bytes): it must leave the range allocated", before, got)
	}

	if err := b.Trim(ctx, 1<<20, 2<<20); err != nil {
		t.Fatal(err)
	}
	if !b.noPunch.Load() {
		wantBytes(t, "trimmed", fileBytes(t, path, 1<<20, 2<<20), 0)
		if got := allocated(); got > before-(2<<20) {
			t.Errorf("Trim left %d bytes allocated, want at most %d", got, before-(2<<20))
		}
	}
	wantBytes(t, "untouched", fileBytes(t, path, 3<<20, 1<<20), 0x42)

	// A file that shrank under the backend reads as zeroes past its end.
	if err := os.Truncate(path, 4<<20); err != nil {
		t.Fatal(err)
	}
	p := make([]byte, 2<<20)
	if err := b.ReadAt(ctx, p, 3<<20); err != nil {
		t.Fatal(err)
	}
	wantBytes(t, "past the end", p[1<<20:], 0)
	wantBytes(t, "before the end", p[:1<<20], 0x42)

	ro, err := OpenFileBackend(path, true)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if !ro.Properties().ReadOnly {
		t.Error("read-only backend says it is writable")
	}
	for name, err := range map[string]error{
		"WriteAt":     ro.WriteAt(ctx, p[:512], 0, false),
		"Trim":        ro.Trim(ctx, 0, 512),
		"WriteZeroes": ro.WriteZeroes(ctx, 0, 512, false),
	} {
		if !errors.Is(err, EPERM) {
			t.Errorf("read-only %s: %v, want EPERM", name, err)
		}
	}
	if _, err := OpenFileBackend(filepath.Join(t.TempDir(), "missing"), false); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("opening a missing file: %v", err)
	}
}

// TestErrnoOf checks how backend errors become NBD errno values.
func TestErrnoOf(t *testing.T) {
	for err, want := range map[error]Errno{
		syscall.ENOSPC:                       ENOSPC,
		&os.PathError{Err: syscall.EDQUOT}:   ENOSPC,
		os.NewSyscallError("x", syscall.EIO): EIO,
		syscall.EROFS:                        EPERM,
		os.ErrPermission:                     EPERM,
		context.Canceled:                     ESHUTDOWN,
		context.DeadlineExceeded:             EIO,
		errors.New("disk on fire"):           EIO,
		ENOTSUP:                              ENOTSUP,
	} {
		if got := errnoOf(err); got != want {
			t.Errorf("errnoOf(%v) = %d, want %d", err, got, want)
		}
	}
}
