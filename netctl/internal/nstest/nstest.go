// Package nstest is a test helper for netctl's packages: network namespaces of a test's
// own (unnamed, gone with their handles), so that what a test programs never touches the
// host's namespace, and TCP probes between them.
package nstest

import (
	"fmt"
	"io"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// InNS runs fn on a thread in ns and returns the thread to its namespace after.
func InNS(ns netns.NsHandle, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		defer orig.Close()
		if err := netns.Set(ns); err != nil {
			errc <- fmt.Errorf("setns: %w", err)
			return
		}
		err = fn()
		if netns.Set(orig) == nil {
			runtime.UnlockOSThread()
		}
		errc <- err
	}()
	return <-errc
}

// NewNS makes an unnamed network namespace with lo up, closed with the test, and a
// netlink handle in it; the test is skipped where namespaces cannot be made.
func NewNS(t *testing.T) (netns.NsHandle, *netlink.Handle) {
	t.Helper()
	type made struct {
		ns  netns.NsHandle
		err error
	}
	c := make(chan made, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			c <- made{err: err}
			return
		}
		defer orig.Close()
		ns, err := netns.New()
		if err == nil && netns.Set(orig) == nil {
			runtime.UnlockOSThread()
		}
		c <- made{ns, err}
	}()
	m := <-c
	if m.err != nil {
		t.Skipf("cannot create a network namespace: %v", m.err)
	}
	t.Cleanup(func() { m.ns.Close() })
	h, err := netlink.NewHandleAt(m.ns)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	lo, _ := h.LinkByName("lo")
	if err := h.LinkSetUp(lo); err != nil {
		t.Fatal(err)
	}
	return m.ns, h
}

// Up brings link name up in h's namespace, with the address cidr unless empty.
func Up(t *testing.T, h *netlink.Handle, name, cidr string) netlink.Link {
	t.Helper()
	l, err := h.LinkByName(name)
	if err != nil {
		t.Fatal(err)
	}
	if cidr != "" {
		a, _ := netlink.ParseAddr(cidr)
		if err := h.AddrAdd(l, a); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.LinkSetUp(l); err != nil {
		t.Fatal(err)
	}
	return l
}

// DefaultRoute adds a default route via gw on dev.
func DefaultRoute(t *testing.T, h *netlink.Handle, dev, gw string) {
	t.Helper()
	l, _ := h.LinkByName(dev)
	if err := h.RouteAdd(&netlink.Route{LinkIndex: l.Attrs().Index, Gw: net.ParseIP(gw)}); err != nil {
		t.Fatal(err)
	}
}

// Whoami listens in ns on addr and tells every client the address it came from.
func Whoami(t *testing.T, ns netns.NsHandle, addr string) {
	t.Helper()
	var l net.Listener
	if err := InNS(ns, func() (err error) { l, err = net.Listen("tcp4", addr); return err }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			host, _, _ := net.SplitHostPort(c.RemoteAddr().String())
			c.Write([]byte(host))
			c.Close()
		}
	}()
}

// SeenAs connects from ns to addr and returns the source address the server saw ("" when
// the connect failed).
func SeenAs(ns netns.NsHandle, addr string) string {
	var got string
	InNS(ns, func() error {
		c, err := net.DialTimeout("tcp4", addr, 300*time.Millisecond)
		if err != nil {
			return err
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(time.Second))
		b, _ := io.ReadAll(c)
		got = string(b)
		return nil
	})
	return got
}

// Until polls f until it holds, failing the test after 5 s.
func Until(t *testing.T, what string, f func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !f(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 5 s", what)
		}
	}
}
