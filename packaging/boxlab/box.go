package boxlab

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/banyancloud/banyan/cluster"
)

// Box is one box of a lab: a network namespace, a mount namespace holding its own
// libvirt folders, its virtlogd and libvirtd, and a banyan server.
type Box struct {
	lab *Lab
	i   int

	holder     *exec.Cmd
	holderDone chan struct{}
	log        *os.File

	mu         sync.Mutex
	server     *exec.Cmd
	serverDone chan struct{}
	serverErr  error
}

// Index is the box's number i: its namespace is bny<l>-<i>, its address 10.<l>.0.<i+1>.
func (b *Box) Index() int { return b.i }

// Name is the box's node name in the cluster (banyan server --name), box<i>.
func (b *Box) Name() string { return fmt.Sprintf("box%d", b.i) }

// Netns is the name of the box's network namespace, bny<l>-<i>.
func (b *Box) Netns() string { return fmt.Sprintf("bny%d-%d", b.lab.id, b.i) }

// IP is the box's address on the LAN, 10.<l>.0.<i+1>.
func (b *Box) IP() string { return b.lab.prefix() + strconv.Itoa(b.i+1) }

// Endpoint is the box's AWS API, http://IP:8773.
func (b *Box) Endpoint() string { return "http://" + net.JoinHostPort(b.IP(), "8773") }

// RPCAddr is the box's node RPC address, IP:7947 (status, metrics, Raft).
func (b *Box) RPCAddr() string { return net.JoinHostPort(b.IP(), strconv.Itoa(cluster.DefaultRPCPort)) }

// Dir is the box's folder, DIR/b<i>.
func (b *Box) Dir() string { return filepath.Join(b.lab.dir, fmt.Sprintf("b%d", b.i)) }

// DataDir is the box's banyan data dir.
func (b *Box) DataDir() string { return filepath.Join(b.Dir(), "data") }

// Log is the box's server log: the output of every start of its server.
func (b *Box) Log() string { return filepath.Join(b.Dir(), "server.log") }

// HolderPID is the pid of the process holding the box's namespaces: `nsenter -t PID -n
// -m` enters the box.
func (b *Box) HolderPID() int { return b.holder.Process.Pid }

// Command is a command that runs inside the box (its network and mount namespaces).
// Paths must be absolute.
func (b *Box) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "nsenter", append([]string{"-t", strconv.Itoa(b.HolderPID()), "-n", "-m", "--", name}, args...)...)
	cmd.Dir = b.Dir()
	return cmd
}

// Exec runs a command inside the box and returns its standard output; a failure carries
// its standard error.
func (b *Box) Exec(ctx context.Context, name string, args ...string) ([]byte, error) {
	return output(b.Command(ctx, name, args...))
}

// Dial connects from inside the box's network namespace. The host must be an IP address.
func (b *Box) Dial(ctx context.Context, network, address string) (net.Conn, error) {
	return dialIn(ctx, fmt.Sprintf("/proc/%d/ns/net", b.HolderPID()), network, address)
}

// Status is the box's own view of the cluster (GET /v1/status on its node RPC port,
// what `banyan status --json` prints), fetched from the LAN.
func (b *Box) Status(ctx context.Context) (*cluster.Status, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+b.RPCAddr()+"/v1/status", nil)
	if err != nil {
		return nil, err
	}
	resp, err := b.lab.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("box %d: %w", b.i, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("box %d: status answered %s", b.i, resp.Status)
	}
	var st cluster.Status
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return nil, fmt.Errorf("box %d: status: %w", b.i, err)
	}
	return &st, nil
}

// apiAnswers checks that the box's AWS API answers HTTP at all.
func (b *Box) apiAnswers(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, b.Endpoint()+"/", nil)
	if err != nil {
		return err
	}
	resp, err := b.lab.client.Do(req)
	if err != nil {
		return fmt.Errorf("box %d's AWS API: %w", b.i, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return nil
}

// Running reports whether the box's server process runs (stopped by Pause counts).
func (b *Box) Running() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.server == nil {
		return false
	}
	select {
	case <-b.serverDone:
		return false
	default:
		return true
	}
}

func (b *Box) exitErr() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.server == nil {
		return errors.New("never started")
	}
	select {
	case <-b.serverDone:
		if b.serverErr == nil {
			return errors.New("exited with status 0")
		}
		return b.serverErr
	default:
		return nil
	}
}

// PID is the pid of the box's server process, 0 when none runs.
func (b *Box) PID() int {
	if !b.Running() {
		return 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.server.Process.Pid
}

// Kill SIGKILLs the box's server and waits until it has exited; a box whose server does
// not run is left as it is.
func (b *Box) Kill() error {
	b.mu.Lock()
	cmd, done := b.server, b.serverDone
	b.mu.Unlock()
	if cmd == nil {
		return nil
	}
	select {
	case <-done:
		return nil
	default:
	}
	cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-done:
		return nil
	case <-time.After(20 * time.Second):
		return fmt.Errorf("box %d's server (pid %d) still runs 20 s after SIGKILL", b.i, cmd.Process.Pid)
	}
}

// Restart kills the box's server if it runs and starts it again from its data dir (the
// same flags, without --join: a box rejoins from its persisted state). It does not wait
// for the box to rejoin: WaitReady does.
func (b *Box) Restart() error {
	if err := b.Kill(); err != nil {
		return err
	}
	fmt.Fprintf(b.log, "\n==== boxlab: restart at %s ====\n", time.Now().Format(time.RFC3339Nano))
	return b.startServer(nil)
}

// Pause stops the box's server with SIGSTOP: it holds its sockets and answers nothing,
// like a box that hangs.
func (b *Box) Pause() error { return b.signal(syscall.SIGSTOP) }

// Resume continues a paused server (SIGCONT).
func (b *Box) Resume() error { return b.signal(syscall.SIGCONT) }

func (b *Box) signal(sig syscall.Signal) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.server == nil {
		return fmt.Errorf("box %d's server was never started", b.i)
	}
	select {
	case <-b.serverDone:
		return fmt.Errorf("box %d's server does not run", b.i)
	default:
	}
	return b.server.Process.Signal(sig)
}

// Unplug takes the LAN end of the box's veth down: the box keeps running and its address,
// and reaches nothing, as with a pulled cable.
func (b *Box) Unplug() error {
	return b.lab.ip("-n", b.lab.LANNetns(), "link", "set", b.port(), "down")
}

// Plug undoes Unplug.
func (b *Box) Plug() error { return b.lab.ip("-n", b.lab.LANNetns(), "link", "set", b.port(), "up") }

// port is the name of the box's veth end on the LAN's bridge.
func (b *Box) port() string { return fmt.Sprintf("box%d", b.i) }

// holderScript runs in the box's new mount namespace: it drops the copies of the
// host's netns mounts (which would keep every namespace alive as long as the box), puts
// a fresh tmpfs on /run and the box's libvirt folders in place, then sleeps. $1 is the
// box folder, $2 "libvirt" or not.
const holderScript = `set -e
umount -l /run/netns 2>/dev/null || true
mount -t tmpfs -o mode=0755 boxlab-run /run
mkdir -p /run/lock
if [ "$2" = libvirt ]; then
	mkdir -p /run/libvirt
	mount --bind "$1/run-libvirt" /run/libvirt
	mount --bind "$1/lib" /var/lib/libvirt
	mount --bind "$1/log" /var/log/libvirt
	mount --bind "$1/cache" /var/cache/libvirt
	mount --bind "$1/etc" /etc/libvirt
fi
echo ready
exec sleep infinity </dev/null >/dev/null 2>&1
`

// startHolder makes the box's folders and starts its holder process.
func (b *Box) startHolder(ctx context.Context) error {
	dir := b.Dir()
	mode := "none"
	if !b.lab.cfg.NoLibvirt {
		mode = "libvirt"
		for _, d := range []string{"run-libvirt", "lib", "log", "cache", "data"} {
			if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
				return err
			}
		}
		if err := copyTree("/etc/libvirt", filepath.Join(dir, "etc")); err != nil {
			return err
		}
		// Banyan's netctl owns the box's bridges: no libvirt network may autostart.
		auto, _ := filepath.Glob(filepath.Join(dir, "etc", "qemu", "networks", "autostart", "*"))
		for _, a := range auto {
			os.Remove(a)
		}
	} else if err := os.MkdirAll(filepath.Join(dir, "data"), 0o755); err != nil {
		return err
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return err
	}
	var err error
	if b.log, err = os.OpenFile(b.Log(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644); err != nil {
		return err
	}
	errLog, err := os.Create(filepath.Join(dir, "holder.log"))
	if err != nil {
		return err
	}
	defer errLog.Close()
	cmd := exec.Command("ip", "netns", "exec", b.Netns(), "unshare", "-m", "--propagation", "private",
		"sh", "-c", holderScript, "boxlab-holder", dir, mode)
	cmd.Stderr = errLog
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // a terminal's ^C is for the lab's owner
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	b.holder, b.holderDone = cmd, make(chan struct{})
	line := make(chan string, 1)
	go func() {
		s, _ := bufio.NewReader(out).ReadString('\n')
		line <- s
		io.Copy(io.Discard, out)
		cmd.Wait()
		close(b.holderDone)
	}()
	select {
	case s := <-line:
		if s != "ready\n" {
			msg, _ := os.ReadFile(errLog.Name())
			return fmt.Errorf("box %d: setting up its mount namespace failed: %s", b.i, msg)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("box %d: its namespace holder did not come up: %w", b.i, ctx.Err())
	}
}

// reapHolder waits for the holder to have exited (teardown killed it).
func (b *Box) reapHolder() {
	if b.holder == nil {
		return
	}
	b.holder.Process.Kill()
	select {
	case <-b.holderDone:
	case <-time.After(10 * time.Second):
	}
}

// startLibvirt starts virtlogd and libvirtd in the box (both daemonize) and waits until
// libvirtd answers on its socket.
func (b *Box) startLibvirt(ctx context.Context) error {
	logf, err := os.OpenFile(filepath.Join(b.Dir(), "libvirt-start.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	for _, d := range []string{"virtlogd", "libvirtd"} {
		if b.daemonRuns(ctx, d) {
			continue // virtlogd outlives a libvirtd that StopHypervisor killed
		}
		cmd := b.Command(ctx, d, "-d")
		// Without syslog, libvirtd's own log goes to the box's /var/log/libvirt.
		cmd.Env = append(os.Environ(), "LIBVIRT_LOG_OUTPUTS=3:file:/var/log/libvirt/"+d+".log")
		cmd.Stdout, cmd.Stderr = logf, logf
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("box %d: %s -d: %w (see %s)", b.i, d, err, logf.Name())
		}
	}
	sock := filepath.Join(b.Dir(), "run-libvirt", "libvirt-sock")
	var last error
	for {
		if _, err := os.Stat(sock); err != nil {
			last = err
		} else if _, err := b.Exec(ctx, "virsh", "-q", "-c", "qemu:///system", "version"); err != nil {
			last = err
		} else {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("box %d: libvirtd did not answer: %v (its log: %s)", b.i, last, filepath.Join(b.Dir(), "log", "libvirtd.log"))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// startServer starts the box's banyan server. A box without a data dir yet, other than
// box 0, joins through box 0.
func (b *Box) startServer(extra []string) error {
	l := b.lab
	compute := "on"
	if l.cfg.NoLibvirt {
		compute = "off"
	}
	args := []string{"server", "--name", b.Name(), "--bind", b.IP(), "--data-dir", b.DataDir(), "--compute", compute}
	if compute != "off" && l.cfg.Accel != "" {
		args = append(args, "--accel", l.cfg.Accel)
	}
	if len(l.cfg.Zones) > 0 {
		args = append(args, "--zone", l.cfg.Zones[b.i%len(l.cfg.Zones)])
	}
	if _, err := os.Stat(filepath.Join(b.DataDir(), "node.json")); err != nil && b.i > 0 {
		args = append(args, "--join", l.boxes[0].IP(), "--token", l.token)
	}
	args = append(append(args, extra...), l.cfg.ServerArgs...)
	cmd := exec.Command("nsenter", append([]string{"-t", strconv.Itoa(b.HolderPID()), "-n", "-m", "--", l.banyan}, args...)...)
	cmd.Dir = b.Dir()
	cmd.Stdout, cmd.Stderr = b.log, b.log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("box %d: starting banyan: %w", b.i, err)
	}
	done := make(chan struct{})
	b.server, b.serverDone, b.serverErr = cmd, done, nil
	go func() {
		err := cmd.Wait()
		b.mu.Lock()
		if b.server == cmd {
			b.serverErr = err
		}
		b.mu.Unlock()
		close(done)
	}()
	return nil
}

// PowerOff kills everything the box runs, as pulling its power cord would: every process
// in its network namespace but the lab's holder (the server, libvirtd, virtlogd and the
// guests' qemu) gets SIGKILL. StartHypervisor and Restart bring the box back.
func (b *Box) PowerOff() error {
	if err := b.Kill(); err != nil {
		return err
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		var left []int
		for _, pid := range netnsPids(b.Netns()) {
			if pid != b.HolderPID() {
				syscall.Kill(pid, syscall.SIGKILL)
				left = append(left, pid)
			}
		}
		if len(left) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("box %d: processes %v survive SIGKILL", b.i, left)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// StopHypervisor SIGKILLs the box's libvirtd (its guests keep running, as when libvirtd
// crashes).
func (b *Box) StopHypervisor(ctx context.Context) error {
	out, err := b.Exec(ctx, "cat", "/run/libvirtd.pid")
	if err != nil {
		return fmt.Errorf("box %d: libvirtd's pid: %w", b.i, err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil {
		return fmt.Errorf("box %d: libvirtd's pid file says %q", b.i, out)
	}
	return syscall.Kill(pid, syscall.SIGKILL)
}

// daemonRuns reports whether the box's daemon (by its pid file in the box's /run) runs.
func (b *Box) daemonRuns(ctx context.Context, name string) bool {
	out, err := b.Exec(ctx, "cat", "/run/"+name+".pid")
	if err != nil {
		return false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil || pid <= 0 {
		return false
	}
	// A killed daemon nobody reaped is a zombie: there, but not running.
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	_, rest, _ := strings.Cut(string(stat), ") ")
	return !strings.HasPrefix(rest, "Z") && !strings.HasPrefix(rest, "X")
}

// StartHypervisor starts virtlogd and libvirtd in the box again (after PowerOff or
// StopHypervisor) and waits until libvirtd answers.
func (b *Box) StartHypervisor(ctx context.Context) error { return b.startLibvirt(ctx) }
