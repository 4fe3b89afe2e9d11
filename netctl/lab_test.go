package netctl_test

// These tests build a box and its guests out of network namespaces of their own
// (unnamed: they vanish with the test process's handles, so nothing is left behind even
// if the test dies) and never touch the host's namespace.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/banyancloud/banyan/cluster/state"
	"github.com/banyancloud/banyan/netctl"
	"github.com/banyancloud/banyan/netctl/dhcp"
	"github.com/banyancloud/banyan/netctl/imds"
	"github.com/banyancloud/banyan/netctl/internal/nstest"
)

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: builds network namespaces, bridges and veth pairs")
	}
}

func TestEnsureBridge(t *testing.T) {
	needRoot(t)
	box, h := nstest.NewNS(t)
	gw := netip.MustParsePrefix("172.31.16.1/20")
	ensure := func() []string {
		t.Helper()
		var did []string
		if err := nstest.InNS(box, func() (err error) { did, err = netctl.EnsureBridge("", gw); return err }); err != nil {
			t.Fatalf("EnsureBridge: %v", err)
		}
		return did
	}
	if did := ensure(); strings.Join(did, "; ") != "created bridge bnybr0; added 172.31.16.1/20 to bnybr0; added 169.254.169.254/32 to bnybr0; set bnybr0 up" {
		t.Errorf("first EnsureBridge did %q", did)
	}
	if did := ensure(); len(did) != 0 {
		t.Errorf("second EnsureBridge did %q, want nothing", did)
	}
	br, err := h.LinkByName("bnybr0")
	if err != nil {
		t.Fatal(err)
	}
	if br.Type() != "bridge" || br.Attrs().HardwareAddr.String() != "0a:58:ac:1f:10:01" || br.Attrs().Flags&net.FlagUp == 0 {
		t.Errorf("bridge %s mac %s flags %v", br.Type(), br.Attrs().HardwareAddr, br.Attrs().Flags)
	}
	stray, _ := netlink.ParseAddr("10.9.9.9/24")
	if err := h.AddrAdd(br, stray); err != nil {
		t.Fatal(err)
	}
	if err := h.LinkSetDown(br); err != nil {
		t.Fatal(err)
	}
	if did := ensure(); strings.Join(did, "; ") != "removed 10.9.9.9/24 from bnybr0; set bnybr0 up" {
		t.Errorf("repair did %q", did)
	}

	if err := h.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "notabridge"}, PeerName: "notabridge1"}); err != nil {
		t.Fatal(err)
	}
	err = nstest.InNS(box, func() error { _, err := netctl.EnsureBridge("notabridge", gw); return err })
	if err == nil || !strings.Contains(err.Error(), "not a bridge") {
		t.Errorf("EnsureBridge over a veth: %v", err)
	}
	err = nstest.InNS(box, func() error {
		_, err := netctl.EnsureBridge("br1", netip.MustParsePrefix("172.31.16.0/20"))
		return err
	})
	if err == nil {
		t.Errorf("EnsureBridge accepted the network address as gateway")
	}
}

// box is one box's namespace with its bridge, DHCP server and metadata service.
type box struct {
	ns        netns.NsHandle
	h         *netlink.Handle
	bridge    netlink.Link
	instances map[string]*state.Instance // by private IP
}

func startBox(t *testing.T, instances ...*state.Instance) *box {
	t.Helper()
	ns, h := nstest.NewNS(t)
	b := &box{ns: ns, h: h, instances: map[string]*state.Instance{}}
	for _, in := range instances {
		b.instances[in.PrivateIP] = in
	}
	gw, err := netctl.Gateway("us-east-1b")
	if err != nil {
		t.Fatal(err)
	}
	if err := nstest.InNS(ns, func() error { _, err := netctl.EnsureBridge(netctl.DefaultBridge, gw); return err }); err != nil {
		t.Fatalf("EnsureBridge: %v", err)
	}
	if b.bridge, err = h.LinkByName(netctl.DefaultBridge); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))

	var ds *dhcp.Server
	err = nstest.InNS(ns, func() (err error) {
		ds, err = dhcp.New(dhcp.Config{
			ServerIP: gw.Addr(),
			Region:   "us-east-1",
			Log:      log,
			Lookup: func(mac net.HardwareAddr) (dhcp.Lease, bool) {
				for _, in := range b.instances {
					if strings.EqualFold(in.MAC, mac.String()) {
						l, err := dhcp.LeaseFor(in)
						return l, err == nil
					}
				}
				return dhcp.Lease{}, false
			},
		})
		return err
	})
	if err != nil {
		t.Fatalf("dhcp.New: %v", err)
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); ds.Serve() }()

	ms, err := imds.New(imds.Config{
		Region: "us-east-1",
		Log:    log,
		Instance: func(ip netip.Addr) (*state.Instance, bool) {
			in, ok := b.instances[ip.String()]
			return in, ok
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	var l net.Listener
	if err := nstest.InNS(ns, func() (err error) { l, err = imds.Listen(netctl.DefaultBridge); return err }); err != nil {
		t.Fatalf("imds.Listen: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { defer wg.Done(); ms.Serve(ctx, l) }()
	t.Cleanup(func() {
		ds.Close()
		cancel()
		wg.Wait()
	})
	return b
}

// plug makes a guest: a namespace whose eth0, with the given MAC, is the far end of a
// veth pair whose near end is a port of the box's bridge.
func (b *box) plug(t *testing.T, port string, mac net.HardwareAddr) (netns.NsHandle, *netlink.Handle) {
	t.Helper()
	ns, h := nstest.NewNS(t)
	veth := &netlink.Veth{
		LinkAttrs:        netlink.LinkAttrs{Name: port, MasterIndex: b.bridge.Attrs().Index},
		PeerName:         "eth0",
		PeerHardwareAddr: mac,
		PeerNamespace:    netlink.NsFd(int(ns)),
	}
	if err := b.h.LinkAdd(veth); err != nil {
		t.Fatalf("veth: %v", err)
	}
	for _, l := range []struct {
		h    *netlink.Handle
		name string
	}{{b.h, port}, {h, "eth0"}} {
		link, err := l.h.LinkByName(l.name)
		if err == nil {
			err = l.h.LinkSetUp(link)
		}
		if err != nil {
			t.Fatalf("%s up: %v", l.name, err)
		}
	}
	return ns, h
}

// udhcpcScript records the lease udhcpc got and configures eth0 with it.
const udhcpcScript = `#!/bin/sh
case "$1" in
deconfig) busybox ip -4 addr flush dev "$interface" ;;
bound|renew)
	busybox ip addr add "$ip/$mask" dev "$interface" || exit 1
	for r in $router; do busybox ip route add default via "$r" dev "$interface"; break; done
	printf 'ip=%s\nsubnet=%s\nrouter=%s\ndns=%s\nhostname=%s\ndomain=%s\nlease=%s\nserverid=%s\n' \
		"$ip" "$subnet" "$router" "$dns" "$hostname" "$domain" "$lease" "$serverid" > "$LEASE_FILE"
	;;
esac
exit 0
`

// udhcpc runs busybox's DHCP client in the guest namespace until it has a lease or
// gives up after tries discovers a second apart; it returns the recorded lease.
func udhcpc(t *testing.T, guest netns.NsHandle, tries int) (map[string]string, error) {
	t.Helper()
	dir := t.TempDir()
	script, leaseFile := filepath.Join(dir, "script"), filepath.Join(dir, "lease")
	if err := os.WriteFile(script, []byte(udhcpcScript), 0o755); err != nil {
		t.Fatal(err)
	}
	var out []byte
	err := nstest.InNS(guest, func() (err error) {
		cmd := exec.Command("busybox", "udhcpc", "-i", "eth0", "-f", "-q", "-n",
			"-t", fmt.Sprint(tries), "-T", "1", "-A", "1", "-s", script)
		cmd.Env = append(os.Environ(), "LEASE_FILE="+leaseFile)
		// The child inherits this thread's namespace; it dies with the thread.
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		out, err = cmd.CombinedOutput()
		return err
	})
	t.Logf("udhcpc:\n%s", out)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(leaseFile)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	lease := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), "=")
		lease[k] = v
	}
	return lease, nil
}

// guestClient is an HTTP client whose connections are made inside the guest namespace,
// from the local address given (or the kernel's choice).
func guestClient(guest netns.NsHandle, local netip.Addr) *http.Client {
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		DisableKeepAlives: true,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			var c net.Conn
			err := nstest.InNS(guest, func() (err error) {
				d := net.Dialer{Timeout: 3 * time.Second}
				if local.IsValid() {
					d.LocalAddr = &net.TCPAddr{IP: local.AsSlice()}
				}
				c, err = d.DialContext(ctx, network, addr) // the socket is made on this thread, so in the guest
				return err
			})
			return c, err
		},
	}}
}

func fetch(t *testing.T, c *http.Client, method, path string, hdr map[string]string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, "http://169.254.169.254"+path, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestGuestBootsOnBox(t *testing.T) {
	needRoot(t)
	for _, tool := range []string{"busybox", "curl"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not found (packaging/deps.sh installs busybox-static and curl): the guest runs busybox udhcpc and curl", tool)
		}
	}
	mac, _ := net.ParseMAC("02:00:ac:1f:10:04")
	in := &state.Instance{
		ID: "i-0123456789abcdef0", Account: "123456789012", ReservationID: "r-1", ImageID: "ami-1",
		InstanceType: "t3.micro", Zone: "us-east-1b", Node: "box1", PrivateIP: "172.31.16.4", MAC: mac.String(),
		UserData: []byte("#cloud-config\nhostname: web\n"), LaunchTime: time.Now(),
	}
	b := startBox(t, in)
	guest, gh := b.plug(t, "vm0", mac)

	lease, err := udhcpc(t, guest, 5)
	if err != nil {
		t.Fatalf("udhcpc got no lease: %v", err)
	}
	want := map[string]string{"ip": "172.31.16.4", "subnet": "255.255.240.0", "router": "172.31.16.1",
		"dns": "172.31.16.1", "hostname": "ip-172-31-16-4", "domain": "ec2.internal", "lease": "3600", "serverid": "172.31.16.1"}
	for k, v := range want {
		if strings.TrimSpace(lease[k]) != v {
			t.Errorf("lease %s = %q, want %q", k, lease[k], v)
		}
	}
	eth0, _ := gh.LinkByName("eth0")
	addrs, _ := gh.AddrList(eth0, netlink.FAMILY_V4)
	if len(addrs) != 1 || addrs[0].IPNet.String() != "172.31.16.4/20" {
		t.Fatalf("guest eth0 addresses %v", addrs)
	}

	c := guestClient(guest, netip.Addr{})
	if code, body := fetch(t, c, "GET", "/latest/meta-data/instance-id", nil); code != 200 || body != in.ID {
		t.Errorf("instance-id = %d %q", code, body)
	}
	if code, body := fetch(t, c, "GET", "/latest/user-data", nil); code != 200 || body != string(in.UserData) {
		t.Errorf("user-data = %d %q", code, body)
	}
	code, tok := fetch(t, c, "PUT", "/latest/api/token", map[string]string{imds.TokenTTLHeader: "21600"})
	if code != 200 || tok == "" {
		t.Fatalf("token PUT = %d %q", code, tok)
	}
	if code, body := fetch(t, c, "GET", "/latest/meta-data/local-ipv4", map[string]string{imds.TokenHeader: tok}); code != 200 || body != "172.31.16.4" {
		t.Errorf("local-ipv4 with token = %d %q", code, body)
	}
	if code, _ := fetch(t, c, "GET", "/latest/meta-data/local-ipv4", map[string]string{imds.TokenHeader: "bad" + tok}); code != 401 {
		t.Errorf("bad token = %d, want 401", code)
	}

	// curl, a client that is not Go's, from the guest: IMDSv2 as cloud-init does it.
	// (busybox 1.35's static wget segfaults here, so it is not used.)
	var out []byte
	err = nstest.InNS(guest, func() (err error) {
		cmd := exec.Command("sh", "-c", `t=$(curl -sSf -m 5 -X PUT -H "X-aws-ec2-metadata-token-ttl-seconds: 60" http://169.254.169.254/latest/api/token) &&
			curl -sSf -m 5 -H "X-aws-ec2-metadata-token: $t" http://169.254.169.254/latest/meta-data/local-hostname`)
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		out, err = cmd.CombinedOutput()
		return err
	})
	if err != nil || string(out) != "ip-172-31-16-4.ec2.internal" {
		t.Errorf("curl local-hostname: %v %q", err, out)
	}

	// A caller from an address no instance holds.
	stranger := netip.MustParseAddr("172.31.16.99")
	sa, _ := netlink.ParseAddr(stranger.String() + "/20")
	if err := gh.AddrAdd(eth0, sa); err != nil {
		t.Fatal(err)
	}
	if code, _ := fetch(t, guestClient(guest, stranger), "GET", "/latest/meta-data/instance-id", nil); code != 404 {
		t.Errorf("unknown caller = %d, want 404", code)
	}
}

func TestUnknownMACGetsNoLease(t *testing.T) {
	needRoot(t)
	if _, err := exec.LookPath("busybox"); err != nil {
		t.Skip("busybox not found (packaging/deps.sh installs busybox-static): the test uses its udhcpc")
	}
	b := startBox(t, &state.Instance{ID: "i-1", Zone: "us-east-1b", PrivateIP: "172.31.16.4", MAC: "02:00:ac:1f:10:04"})
	mac, _ := net.ParseMAC("02:00:00:00:00:99")
	guest, _ := b.plug(t, "vm1", mac)
	var exitErr *exec.ExitError
	if lease, err := udhcpc(t, guest, 2); !errors.As(err, &exitErr) {
		t.Errorf("unknown MAC: udhcpc = %v, %v; want it to give up", lease, err)
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}
