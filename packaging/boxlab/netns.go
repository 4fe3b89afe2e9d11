package boxlab

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"runtime"
	"strings"

	"golang.org/x/sys/unix"
)

// setupNetwork makes the LAN namespace with its bridge and every box's namespace with
// its veth on the bridge, address and default route.
func (l *Lab) setupNetwork(ctx context.Context) error {
	lan := l.LANNetns()
	steps := [][]string{
		{"netns", "add", lan},
		{"-n", lan, "link", "set", "lo", "up"},
		{"-n", lan, "link", "add", "br0", "type", "bridge"},
		{"-n", lan, "addr", "add", l.Gateway() + "/24", "dev", "br0"},
		{"-n", lan, "link", "set", "br0", "up"},
	}
	for _, b := range l.boxes {
		ns := b.Netns()
		steps = append(steps,
			[]string{"netns", "add", ns},
			[]string{"-n", lan, "link", "add", b.port(), "type", "veth", "peer", "name", "eth0", "netns", ns},
			[]string{"-n", lan, "link", "set", b.port(), "master", "br0", "up"},
			[]string{"-n", ns, "link", "set", "lo", "up"},
			[]string{"-n", ns, "addr", "add", b.IP() + "/24", "dev", "eth0"},
			[]string{"-n", ns, "link", "set", "eth0", "up"},
			[]string{"-n", ns, "route", "add", "default", "via", l.Gateway()},
		)
	}
	for _, s := range steps {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := l.ip(s...); err != nil {
			return err
		}
	}
	return nil
}

// ip runs the ip command.
func (l *Lab) ip(args ...string) error {
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// dialIn connects from inside the network namespace at nsPath: a goroutine locks its OS
// thread, moves the thread into the namespace and makes the socket there. The thread is
// never unlocked, so the runtime ends it with the goroutine and no other goroutine ever
// runs in the namespace. A socket keeps the namespace it was made in.
func dialIn(ctx context.Context, nsPath, network, address string) (net.Conn, error) {
	host, _, err := net.SplitHostPort(address)
	if strings.HasPrefix(network, "ip") && !strings.HasPrefix(network, "ip:") && err != nil {
		host, err = address, nil // raw IP ("ip4:icmp"): an address without a port
	}
	if err != nil {
		return nil, err
	}
	if net.ParseIP(host) == nil {
		return nil, fmt.Errorf("boxlab: dial %s: the host must be an IP address (a name would be resolved outside the namespace)", address)
	}
	type result struct {
		c   net.Conn
		err error
	}
	ch := make(chan result, 1)
	go func() {
		// The thread goes into the namespace for the dial and back out after it: a
		// goroutine that exits locked to a thread left in the namespace would have that
		// thread killed, or, when it is the process's main thread (which Go never
		// kills), keep the whole process listed in the lab's namespace.
		runtime.LockOSThread()
		home, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			ch <- result{nil, fmt.Errorf("boxlab: opening this thread's namespace: %w", err)}
			return // still locked: the runtime retires the thread
		}
		defer unix.Close(home)
		fd, err := unix.Open(nsPath, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			runtime.UnlockOSThread()
			ch <- result{nil, fmt.Errorf("boxlab: opening %s: %w", nsPath, err)}
			return
		}
		err = unix.Setns(fd, unix.CLONE_NEWNET)
		unix.Close(fd)
		if err != nil {
			runtime.UnlockOSThread()
			ch <- result{nil, fmt.Errorf("boxlab: setns %s: %w", nsPath, err)}
			return
		}
		var d net.Dialer
		c, err := d.DialContext(ctx, network, address)
		if unix.Setns(home, unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread() // back home: the thread may serve other goroutines
		}
		ch <- result{c, err}
	}()
	r := <-ch
	return r.c, r.err
}
