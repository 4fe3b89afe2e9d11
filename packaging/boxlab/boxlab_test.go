package boxlab_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/banyancloud/banyan/packaging/boxlab"
)

var banyanBin string

func TestMain(m *testing.M) {
	code := func() int {
		if os.Geteuid() == 0 {
			dir, err := os.MkdirTemp("", "boxlab-bin")
			if err != nil {
				panic(err)
			}
			defer os.RemoveAll(dir)
			banyanBin = filepath.Join(dir, "banyan")
			out, err := exec.Command("go", "build", "-o", banyanBin, "github.com/banyancloud/banyan/cmd/banyan").CombinedOutput()
			if err != nil {
				fmt.Fprintf(os.Stderr, "building banyan: %v\n%s", err, out)
				return 1
			}
		}
		return m.Run()
	}()
	os.Exit(code)
}

// waitFor polls f every 200 ms until it succeeds or d has passed.
func waitFor(t *testing.T, d time.Duration, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	var err error
	for time.Now().Before(deadline) {
		if err = f(); err == nil {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("%s: not after %s: %v", what, d, err)
}

// memberStatus is how box from sees box of.
func memberStatus(ctx context.Context, from, of *boxlab.Box) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	st, err := from.Status(ctx)
	if err != nil {
		return "", err
	}
	for _, m := range st.Members {
		if m.Name == of.Name() {
			return m.Status, nil
		}
	}
	return "", fmt.Errorf("%s does not list %s", from.Name(), of.Name())
}

func waitSeen(t *testing.T, from, of *boxlab.Box, alive bool) {
	t.Helper()
	waitFor(t, 20*time.Second, fmt.Sprintf("%s seeing %s alive=%v", from.Name(), of.Name(), alive), func() error {
		s, err := memberStatus(context.Background(), from, of)
		if err != nil {
			return err
		}
		if (s == "alive") != alive {
			return fmt.Errorf("%s", s)
		}
		return nil
	})
}

func TestLab(t *testing.T) {
	begin := time.Now()
	lab := boxlab.Start(t, boxlab.Config{Boxes: 3, Banyan: banyanBin})
	t.Logf("lab %d up after %s", lab.ID(), time.Since(begin).Round(time.Millisecond))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	boxes := lab.Boxes()

	// Every box sees all three alive, and the banyan CLI inside a box agrees.
	for _, b := range boxes {
		st, err := b.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(st.Members) != 3 || st.Leader == "" {
			t.Fatalf("%s sees %+v, leader %q", b.Name(), st.Members, st.Leader)
		}
	}
	out, err := boxes[0].Exec(ctx, lab.Banyan(), "status", "--addr", boxes[2].IP())
	if err != nil || strings.Count(string(out), " alive ") != 3 {
		t.Fatalf("banyan status in box 0: %v\n%s", err, out)
	}
	for _, b := range boxes {
		if d, err := lab.Domains(b); err != nil || len(d) != 0 {
			t.Fatalf("domains of %s: %v %v", b.Name(), d, err)
		}
	}

	// ICMP from the LAN: every box answers an echo request; an address nobody holds does not.
	for _, b := range boxes {
		pctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		rtt, err := lab.Ping(pctx, b.IP())
		cancel()
		if err != nil {
			t.Fatalf("ping %s: %v", b.Name(), err)
		}
		t.Logf("ping %s (%s): %s", b.Name(), b.IP(), rtt)
	}
	pctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	if _, err := lab.Ping(pctx, fmt.Sprintf("10.%d.0.99", lab.ID())); err == nil {
		t.Fatal("an address nobody holds answered an echo request")
	}
	cancel()

	// The AWS API from the LAN: unsigned is refused with an AWS error, signed works.
	resp, err := lab.HTTPClient().Get(boxes[1].Endpoint() + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden && resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "<Code>") {
		t.Fatalf("unsigned GET /: %s\n%s", resp.Status, body)
	}
	c := lab.Credentials()
	s3c := func(b *boxlab.Box) *s3.Client {
		return s3.New(s3.Options{
			Region:       c.Region,
			Credentials:  credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, ""),
			BaseEndpoint: aws.String(b.Endpoint()),
			UsePathStyle: true,
			HTTPClient:   lab.HTTPClient(),
		})
	}
	if _, err := s3c(boxes[0]).CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("boxlab")}); err != nil {
		t.Fatal(err)
	}
	// Box 2 answers from its own replica, a few milliseconds behind.
	waitFor(t, 5*time.Second, "the bucket listed through box 2", func() error {
		lb, err := s3c(boxes[2]).ListBuckets(ctx, &s3.ListBucketsInput{})
		if err != nil {
			return err
		}
		if len(lb.Buckets) != 1 || aws.ToString(lb.Buckets[0].Name) != "boxlab" {
			return fmt.Errorf("%d buckets", len(lb.Buckets))
		}
		return nil
	})
	if _, err := exec.LookPath("aws"); err == nil {
		out, err := lab.AWS(ctx, boxes[1], "s3api", "list-buckets")
		if err != nil || !strings.Contains(string(out), `"boxlab"`) {
			t.Fatalf("aws s3api list-buckets: %v\n%s", err, out)
		}
	}

	// Kill a box and restart it: the others see it go and come back.
	b1 := boxes[1]
	if err := b1.Kill(); err != nil {
		t.Fatal(err)
	}
	if b1.Running() {
		t.Fatal("box 1 runs after Kill")
	}
	waitSeen(t, boxes[0], b1, false)
	if err := b1.Restart(); err != nil {
		t.Fatal(err)
	}
	if err := lab.WaitReady(ctx); err != nil {
		t.Fatalf("after restarting box 1: %v", err)
	}

	// A paused box is suspected, then back when resumed.
	b2 := boxes[2]
	if err := b2.Pause(); err != nil {
		t.Fatal(err)
	}
	waitSeen(t, boxes[0], b2, false)
	if err := b2.Resume(); err != nil {
		t.Fatal(err)
	}
	if err := lab.WaitReady(ctx); err != nil {
		t.Fatalf("after resuming box 2: %v", err)
	}

	// An unplugged box cannot be reached and is seen down; plugged back, it rejoins.
	if err := b2.Unplug(); err != nil {
		t.Fatal(err)
	}
	dctx, dcancel := context.WithTimeout(ctx, time.Second)
	if conn, err := lab.Dial(dctx, "tcp", b2.RPCAddr()); err == nil {
		conn.Close()
		t.Fatal("an unplugged box answered")
	}
	dcancel()
	waitSeen(t, boxes[0], b2, false)
	if err := b2.Plug(); err != nil {
		t.Fatal(err)
	}
	if err := lab.WaitReady(ctx); err != nil {
		t.Fatalf("after plugging box 2 back: %v", err)
	}

	// A domain on box 0's libvirtd (an empty TCG guest): Close destroys and undefines it.
	xml := filepath.Join(t.TempDir(), "probe.xml")
	os.WriteFile(xml, []byte(`<domain type='qemu'><name>boxlab-probe</name><memory unit='MiB'>32</memory>
<vcpu>1</vcpu><os><type arch='x86_64'>hvm</type></os></domain>`), 0o644)
	for _, args := range [][]string{{"define", xml}, {"start", "boxlab-probe"}} {
		if out, err := boxes[0].Exec(ctx, "virsh", append([]string{"-c", "qemu:///system"}, args...)...); err != nil {
			t.Fatalf("virsh %v: %v\n%s", args, err, out)
		}
	}
	if d, err := lab.Domains(boxes[0]); err != nil || len(d) != 1 || d[0] != "boxlab-probe" {
		t.Fatalf("domains of box 0: %v %v", d, err)
	}

	// Close leaves nothing: no namespace, no process, no folder, no record, no mount.
	var pids []procID
	for _, ns := range netnsOf(lab.ID()) {
		pids = append(pids, nsPids(t, ns)...)
	}
	if len(pids) < 3*4+1 { // holder, virtlogd, libvirtd, banyan per box, and qemu
		t.Fatalf("only %d processes in the lab's namespaces: %v", len(pids), pids)
	}
	closeBegin := time.Now()
	if err := lab.Close(); err != nil {
		t.Fatal(err)
	}
	if err := lab.Close(); err != nil {
		t.Fatalf("a second Close: %v", err)
	}
	t.Logf("Close took %s", time.Since(closeBegin).Round(time.Millisecond))
	assertGone(t, lab.ID(), lab.Dir(), pids)
}

// TestSweep: a lab whose owner died is swept by the next Start.
func TestSweep(t *testing.T) {
	if testing.Short() || os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	// A lab left behind: its record names a process that has exited, and its box
	// namespace holds a process.
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	id := 254
	for ; id >= 100; id-- {
		_, err := os.Stat(filepath.Join(boxlab.RunDir, fmt.Sprintf("%d.json", id)))
		if errors.Is(err, os.ErrNotExist) && len(netnsOf(id)) == 0 {
			break
		}
	}
	dir := t.TempDir()
	left := filepath.Join(dir, fmt.Sprintf("boxlab%d-left", id))
	os.MkdirAll(left, 0o755)
	os.MkdirAll(boxlab.RunDir, 0o755)
	rec := fmt.Sprintf(`{"id":%d,"pid":%d,"started":"1","dir":%q,"boxes":1}`, id, dead.Process.Pid, left)
	if err := os.WriteFile(filepath.Join(boxlab.RunDir, fmt.Sprintf("%d.json", id)), []byte(rec), 0o644); err != nil {
		t.Fatal(err)
	}
	ns := fmt.Sprintf("bny%d-0", id)
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	sleeper := exec.Command("ip", "netns", "exec", ns, "sleep", "600")
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	go sleeper.Wait()
	waitFor(t, 5*time.Second, "the sleeper in its namespace", func() error {
		if len(nsPids(t, ns)) == 0 {
			return errors.New("not yet")
		}
		return nil
	})
	pids := nsPids(t, ns)

	lab := boxlab.Start(t, boxlab.Config{Boxes: 1, Banyan: banyanBin, NoLibvirt: true})
	assertGone(t, id, left, pids)
	if lab.ID() == id {
		t.Logf("the new lab took the swept id %d", id)
	}
}

type procID struct {
	pid   int
	start string
}

func procStart(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ""
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 20 || f[0] == "Z" {
		return ""
	}
	return f[19]
}

func nsPids(t *testing.T, ns string) []procID {
	out, err := exec.Command("ip", "netns", "pids", ns).Output()
	if err != nil {
		t.Fatalf("ip netns pids %s: %v", ns, err)
	}
	var ps []procID
	for _, f := range strings.Fields(string(out)) {
		var pid int
		fmt.Sscan(f, &pid)
		if pid == os.Getpid() {
			t.Errorf("this test process is listed in %s: a thread was left in the namespace", ns)
			continue
		}
		ps = append(ps, procID{pid, procStart(pid)})
	}
	return ps
}

func netnsOf(id int) []string {
	out, _ := exec.Command("ip", "netns", "list").Output()
	var names []string
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) > 0 && strings.HasPrefix(f[0], fmt.Sprintf("bny%d-", id)) {
			names = append(names, f[0])
		}
	}
	return names
}

func assertGone(t *testing.T, id int, dir string, pids []procID) {
	t.Helper()
	if ns := netnsOf(id); len(ns) > 0 {
		t.Errorf("namespaces left: %v", ns)
	}
	// A killed process may still be a zombie for a moment (its parent reaps it from a
	// goroutine; a daemon's parent is PID 1): that one is gone as far as the lab goes.
	deadline := time.Now().Add(10 * time.Second)
	for _, p := range pids {
		for {
			s := procStart(p.pid)
			if s == "" || s != p.start || zombie(p.pid) {
				break
			}
			if time.Now().After(deadline) {
				name, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", p.pid))
				t.Errorf("process %d (%s) left", p.pid, strings.TrimSpace(string(name)))
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("lab folder %s left: %v", dir, err)
	}
	if _, err := os.Stat(filepath.Join(boxlab.RunDir, fmt.Sprintf("%d.json", id))); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("record of lab %d left: %v", id, err)
	}
	mounts, _ := os.ReadFile("/proc/self/mountinfo")
	if strings.Contains(string(mounts), dir) {
		t.Errorf("a mount of %s left", dir)
	}
}

// zombie reports whether pid has exited and waits to be reaped.
func zombie(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	_, rest, _ := strings.Cut(string(b), ") ")
	return strings.HasPrefix(rest, "Z") || strings.HasPrefix(rest, "X")
}
