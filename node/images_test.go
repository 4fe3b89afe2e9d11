package node

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestCheckDiskImage runs the import's validation on real files with the real qemu-img:
// good raw and qcow2 images pass, and every bad one is refused with a clear reason.
func TestCheckDiskImage(t *testing.T) {
	if _, err := exec.LookPath("qemu-img"); err != nil {
		t.Skip("qemu-img is not installed")
	}
	ctx := context.Background()
	dir := t.TempDir()
	path := func(name string) string { return filepath.Join(dir, name) }
	img := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("qemu-img", args...).CombinedOutput(); err != nil {
			t.Fatalf("qemu-img %v: %v: %s", args, err, out)
		}
	}
	img("create", "-f", "qcow2", path("good.qcow2"), "64M")
	img("create", "-f", "raw", path("good.raw"), "8M")
	img("create", "-f", "qcow2", "-b", path("good.qcow2"), "-F", "qcow2", path("backed.qcow2"))
	img("create", "-f", "vmdk", path("disk.vmdk"), "8M")
	// A qcow2 whose data is another file of the box.
	os.WriteFile(path("secret"), make([]byte, 1<<20), 0o600)
	img("create", "-f", "qcow2", "-o", "data_file="+path("secret")+",data_file_raw=on", path("datafile.qcow2"), "1M")
	// A qcow2 cut short: its header promises tables the file no longer has.
	img("create", "-f", "qcow2", "-o", "preallocation=metadata", path("full.qcow2"), "64M")
	b, err := os.ReadFile(path("full.qcow2"))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(path("truncated.qcow2"), b[:len(b)/3], 0o644)
	// A qcow2 whose L1 table offset points past the end of the file.
	corrupt := append([]byte(nil), b[:64*1024]...)
	copy(corrupt[40:48], []byte{0x7f, 0, 0, 0, 0, 0, 0, 0})
	os.WriteFile(path("corrupt.qcow2"), corrupt, 0o644)
	os.WriteFile(path("empty"), nil, 0o644)

	for _, tc := range []struct {
		file, format, want string // want: "" for accepted, else a piece of the error
	}{
		{"good.qcow2", "qcow2", ""},
		{"good.qcow2", "", ""},
		{"good.raw", "raw", ""},
		{"good.raw", "RAW", ""},
		{"good.raw", "qcow2", "is a raw image, not qcow2"},
		{"good.qcow2", "raw", "is a qcow2 image, not raw"},
		{"backed.qcow2", "qcow2", "backing file"},
		{"datafile.qcow2", "qcow2", "external data file"},
		{"disk.vmdk", "", "is a vmdk image"},
		{"truncated.qcow2", "qcow2", "Disk validation failed"},
		{"corrupt.qcow2", "qcow2", "Disk validation failed"},
		{"empty", "raw", "empty"},
		{"missing", "raw", "Disk validation failed"},
	} {
		_, err := checkDiskImage(ctx, path(tc.file), tc.format)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s (%q): refused: %v", tc.file, tc.format, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s (%q): got %v, want an error with %q", tc.file, tc.format, err, tc.want)
		}
	}
}
