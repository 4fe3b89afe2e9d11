package node

import (
	"context"
	"io"
	"log/slog"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/banyancloud/banyan/cluster/state"
)

// livenessDouble is state.Local with a settable view of which boxes are up, standing
// in for the cluster's MemberAlive.
type livenessDouble struct {
	*state.Local
	mu   sync.Mutex
	dead map[string]bool
}

func (l *livenessDouble) MemberAlive(name string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return !l.dead[name]
}

func (l *livenessDouble) kill(name string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.dead[name] = true
}

func mustApply(t *testing.T, l *state.Local, cmd state.Command) {
	t.Helper()
	if _, err := l.Apply(context.Background(), cmd, nil); err != nil {
		t.Fatalf("%T: %v", cmd, err)
	}
}

// lookup asks the server at addr for name's A records until they are want (the table
// follows the state asynchronously), or fails after 5 s.
func lookup(t *testing.T, addr, name string, want ...string) {
	t.Helper()
	slices.Sort(want)
	var got []string
	var rcode int
	for start := time.Now(); time.Since(start) < 5*time.Second; time.Sleep(20 * time.Millisecond) {
		r, _, err := new(mdns.Client).Exchange(new(mdns.Msg).SetQuestion(name, mdns.TypeA), addr)
		if err != nil {
			t.Fatal(err)
		}
		got, rcode = nil, r.Rcode
		for _, rr := range r.Answer {
			if a, ok := rr.(*mdns.A); ok {
				got = append(got, a.A.String())
			}
		}
		slices.Sort(got)
		if slices.Equal(got, want) {
			return
		}
	}
	t.Fatalf("%s: %s %v, want %v", name, mdns.RcodeToString[rcode], got, want)
}

func TestDNSFollowsTheState(t *testing.T) {
	cl := &livenessDouble{Local: state.NewLocal(), dead: map[string]bool{}}
	up := startNXDomainDouble(t)
	for i, n := range []string{"box0", "box1", "box2"} {
		mustApply(t, cl.Local, &state.RegisterNode{Node: state.Node{Name: n, Addr: "10.9.0.1:7947",
			APIAddr: "10.9.0." + string(rune('1'+i)) + ":8773"}})
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	d, err := StartDNS(ctx, DNSConfig{Node: cl, Listen: []string{"127.0.0.1:0"}, Upstreams: []string{up},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	addr := d.Addrs()[0]
	if got := d.srv.Upstreams(); !slices.Equal(got, []string{up}) {
		t.Fatalf("upstreams: %v", got)
	}

	lookup(t, addr, "banyan.internal.", "10.9.0.1", "10.9.0.2", "10.9.0.3")
	cl.kill("box1")
	lookup(t, addr, "photos.s3.banyan.internal.", "10.9.0.1", "10.9.0.3")

	mustApply(t, cl.Local, &state.SetSetting{Key: SettingDNSClusterName, Value: "cloud.example.org"})
	lookup(t, addr, "cloud.example.org.", "10.9.0.1", "10.9.0.3")

	// An instance is named as soon as it is recorded, and no longer once terminated.
	mustApply(t, cl.Local, &state.ReportBox{Box: state.Box{Node: "box0", Zone: "us-east-1a", VCPUs: 4, MemoryMiB: 4096, Hypervisor: state.HypervisorUp}})
	mustApply(t, cl.Local, &state.PutImage{Create: true, Image: state.Image{ID: "ami-1", Account: "111122223333", State: state.ImageAvailable, ObjectKey: "ami-1.qcow2"}})
	mustApply(t, cl.Local, &state.RunInstances{MinCount: 1, LiveNodes: []string{"box0"}, Instances: []state.Instance{{ID: "i-1", Account: "111122223333", ImageID: "ami-1",
		VCPUs: 1, MemoryMiB: 256, MAC: "02:00:00:00:00:01", ReservationID: "r-1"}}})
	in, err := cl.State().Instance("i-1")
	if err != nil || in.PrivateIP == "" {
		t.Fatalf("instance: %+v %v", in, err)
	}
	name := "ip-" + dashed(in.PrivateIP) + ".ec2.internal."
	lookup(t, addr, name, in.PrivateIP)

	v, _ := cl.State().DNS(nil, SettingDNSClusterName)
	for _, i := range v.Instances {
		c := *i
		c.State = state.InstanceTerminated
		if tbl := dnsTable(&state.DNSView{Instances: []*state.Instance{&c}}); len(tbl.Hosts) != 0 {
			t.Fatalf("a terminated instance is named: %+v", tbl.Hosts)
		}
	}
}

// startNXDomainDouble is a test double of the box's upstream resolver on loopback: it
// answers NXDOMAIN to everything, so a name the cloud does not serve yet fails fast.
func startNXDomainDouble(t *testing.T) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &mdns.Server{PacketConn: pc, Handler: mdns.HandlerFunc(func(w mdns.ResponseWriter, r *mdns.Msg) {
		w.WriteMsg(new(mdns.Msg).SetRcode(r, mdns.RcodeNameError))
	})}
	go srv.ActivateAndServe()
	t.Cleanup(func() { srv.Shutdown() })
	return pc.LocalAddr().String()
}

func dashed(ip string) string {
	b := []byte(ip)
	for i, c := range b {
		if c == '.' {
			b[i] = '-'
		}
	}
	return string(b)
}
