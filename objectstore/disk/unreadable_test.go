package disk

import (
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
)

// TestDiskFolderUnreadable: a disk folder whose permissions shut the server out (chmod
// 000: the chaos soak's disk-unreadable fault, with each server running as its own uid)
// is a disk that could not be asked, never one that lacks the object: permission denied
// must not become "no such key", or an object acknowledged on a write quorum that
// includes this disk reads as absent. Permissions do not stop root, so as root the test
// runs itself again as an unprivileged uid.
func TestDiskFolderUnreadable(t *testing.T) {
	if os.Geteuid() == 0 {
		rerunUnprivileged(t)
		return
	}
	forEachDisk(t, func(t *testing.T, d Disk, l *Local) {
		v := presenceDisk(t, d)
		root := l.Path()
		must(t, os.Chmod(root, 0))
		errs := everyCall(d, v.DataDir)
		must(t, os.Chmod(root, 0o700))
		for m, err := range errs {
			switch {
			case errors.Is(err, ErrFileNotFound), errors.Is(err, ErrVolumeNotFound), errors.Is(err, ErrVersionNotFound):
				t.Errorf("%s answered %v: an unreadable disk must not say what it lacks", m, err)
			case !errors.Is(err, ErrDiskAccessDenied) && !errors.Is(err, ErrDiskNotFound):
				t.Errorf("%s: %v, want ErrDiskAccessDenied or ErrDiskNotFound", m, err)
			}
		}
		wantServes(t, d, v)
	})
}

// rerunUnprivileged runs the current test in a copy of the test binary as uid and gid
// 65534 (nobody), with a temporary folder it can write, and fails with its output if it
// fails. It skips when the process may not change its uid.
func rerunUnprivileged(t *testing.T) {
	t.Helper()
	dir, err := os.MkdirTemp("", "banyan-unprivileged")
	must(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	must(t, os.Chmod(dir, 0o777))
	bin := filepath.Join(dir, filepath.Base(os.Args[0]))
	src, err := os.Open(os.Args[0])
	must(t, err)
	defer src.Close()
	dst, err := os.OpenFile(bin, os.O_CREATE|os.O_WRONLY, 0o755)
	must(t, err)
	_, err = io.Copy(dst, src)
	must(t, errors.Join(err, dst.Close()))
	cmd := exec.Command(bin, "-test.run=^"+t.Name()+"$", "-test.v", "-test.count=1")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "TMPDIR="+dir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	switch {
	case err == nil:
		t.Logf("as uid 65534:\n%s", out)
	case errors.As(err, &exit):
		t.Fatalf("as uid 65534: %v\n%s", err, out)
	default:
		t.Skipf("cannot run the test as uid 65534: %v", err)
	}
}
