package boxlab

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/banyancloud/banyan/cluster"
)

// Config says what lab to build. The zero value is three boxes with libvirt, running a
// banyan built from this module.
type Config struct {
	// Boxes is the number of boxes, 1 to 253 (default 3).
	Boxes int
	// Banyan is the banyan binary the boxes run. Empty builds ./cmd/banyan of this
	// module into the lab folder (`go build`, from anywhere inside the module).
	Banyan string
	// NoLibvirt starts no virtlogd or libvirtd in the boxes; the servers run with
	// --compute off.
	NoLibvirt bool
	// Accel is the servers' --accel when they run compute (default "tcg": /dev/kvm opens
	// on many test machines whose KVM guests then die).
	Accel string
	// ServerArgs are added after the lab's own flags to every box's `banyan server`
	// (the last of a repeated flag wins).
	ServerArgs []string
	// Zones, when set, puts box i in availability zone Zones[i % len(Zones)] (`--zone`);
	// otherwise every box is in the region's first zone.
	Zones []string
	// Timeout bounds New: the boxes up, every server a member, a leader (default 3 min).
	Timeout time.Duration
	// Logf gets a line per step of New and Close (default: discarded; Start: t.Logf).
	Logf func(format string, args ...any)
}

// Lab is a running lab: its boxes, the LAN namespace, the admin credentials.
type Lab struct {
	id     int
	dir    string
	cfg    Config
	banyan string
	boxes  []*Box
	token  string
	creds  Credentials
	client *http.Client

	closeOnce sync.Once
	closeErr  error
}

// Credentials are the admin account's root access key, for SigV4 clients.
type Credentials struct {
	AccessKeyID     string
	SecretAccessKey string
	Region          string // the cluster's region, for the SigV4 scope
}

// Check reports why a lab with cfg cannot run on this machine: not root, or a program
// it needs missing.
func Check(cfg Config) error {
	if os.Geteuid() != 0 {
		return errors.New("needs root (network and mount namespaces)")
	}
	need := []string{"ip", "nsenter", "unshare", "sh", "sleep", "mount", "cp"}
	if !cfg.NoLibvirt {
		need = append(need, "libvirtd", "virtlogd", "virsh")
	}
	if cfg.Banyan == "" {
		need = append(need, "go")
	}
	var missing []string
	for _, p := range need {
		if _, err := exec.LookPath(p); err != nil {
			missing = append(missing, p)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("missing %s (packaging/deps.sh installs iproute2, util-linux and libvirt)", strings.Join(missing, ", "))
	}
	return nil
}

// Start builds a lab for a test, or skips the test when the machine cannot run one
// (Check), or fails it when the lab does not come up. It registers Close with
// t.Cleanup, and before Close, when the test failed, logs the end of every box's
// server log.
func Start(t testing.TB, cfg Config) *Lab {
	t.Helper()
	if testing.Short() {
		t.Skip("boxlab: a lab of real servers; not in -short")
	}
	if err := Check(cfg); err != nil {
		t.Skipf("boxlab: %v", err)
	}
	if cfg.Logf == nil {
		cfg.Logf = t.Logf
	}
	lab, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("boxlab: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			lab.LogTails(t.Logf, 80)
		}
		if err := lab.Close(); err != nil {
			t.Errorf("boxlab: %v", err)
		}
	})
	return lab
}

// New builds a lab and waits until every box's server is a member, a leader is known and
// every box's AWS API answers (WaitReady). On failure it tears down what it built, and
// the error carries the end of each box's server log. The caller must Close the lab.
func New(ctx context.Context, cfg Config) (_ *Lab, err error) {
	if cfg.Boxes == 0 {
		cfg.Boxes = 3
	}
	if cfg.Boxes < 1 || cfg.Boxes > 253 {
		return nil, fmt.Errorf("Boxes: want 1 to 253, got %d", cfg.Boxes)
	}
	if cfg.Accel == "" {
		cfg.Accel = "tcg"
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 3 * time.Minute
	}
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...any) {}
	}
	if err := Check(cfg); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	begin := time.Now()
	l := &Lab{cfg: cfg}
	if cfg.Banyan != "" {
		if l.banyan, err = filepath.Abs(cfg.Banyan); err != nil {
			return nil, err
		}
	}
	rec, err := allocate(cfg.Boxes, l.banyan, cfg.Logf)
	if err != nil {
		return nil, err
	}
	l.id, l.dir = rec.ID, rec.Dir
	l.client = &http.Client{Transport: &http.Transport{
		DialContext:         l.Dial,
		MaxIdleConnsPerHost: 8,
		IdleConnTimeout:     30 * time.Second,
	}}
	defer func() {
		if err != nil {
			var tails strings.Builder
			l.LogTails(func(f string, a ...any) { fmt.Fprintf(&tails, f+"\n", a...) }, 40)
			l.Close()
			err = fmt.Errorf("lab %d: %w\n%s", l.id, err, tails.String())
		}
	}()
	for i := range cfg.Boxes {
		l.boxes = append(l.boxes, &Box{lab: l, i: i})
	}
	cfg.Logf("boxlab: lab %d: %d boxes on %s0/24 in %s", l.id, cfg.Boxes, l.prefix(), l.dir)
	if l.banyan == "" {
		l.banyan = filepath.Join(l.dir, "banyan")
		out, err := exec.CommandContext(ctx, "go", "build", "-o", l.banyan, "github.com/banyancloud/banyan/cmd/banyan").CombinedOutput()
		if err != nil {
			return nil, fmt.Errorf("building banyan (Config.Banyan empty): %v\n%s", err, out)
		}
		rec.Banyan = l.banyan
	}
	if err := l.setupNetwork(ctx); err != nil {
		return nil, err
	}
	for _, b := range l.boxes {
		if err := b.startHolder(ctx); err != nil {
			return nil, err
		}
		rec.Holders = append(rec.Holders, b.holder.Process.Pid)
	}
	if err := writeRecord(rec); err != nil {
		return nil, err
	}
	if !cfg.NoLibvirt {
		if err := l.startLibvirt(ctx); err != nil {
			return nil, err
		}
		cfg.Logf("boxlab: lab %d: libvirtd up in every box after %s", l.id, time.Since(begin).Round(time.Millisecond))
	}
	if err := l.startServers(ctx); err != nil {
		return nil, err
	}
	if err := l.WaitReady(ctx); err != nil {
		return nil, err
	}
	if l.creds, err = readCredentials(filepath.Join(l.boxes[0].DataDir(), "aws")); err != nil {
		return nil, err
	}
	cfg.Logf("boxlab: lab %d: %d servers up, a leader elected, after %s", l.id, cfg.Boxes, time.Since(begin).Round(time.Millisecond))
	return l, nil
}

// ID is the lab's id: its subnet is 10.ID.0.0/24, its namespaces bnyID-*.
func (l *Lab) ID() int { return l.id }

// Dir is the lab folder: a folder bI per box, removed by Close.
func (l *Lab) Dir() string { return l.dir }

// Banyan is the path of the banyan binary the boxes run.
func (l *Lab) Banyan() string { return l.banyan }

// Boxes are the lab's boxes, box i at index i.
func (l *Lab) Boxes() []*Box { return l.boxes }

// Box is box i.
func (l *Lab) Box(i int) *Box { return l.boxes[i] }

// LANNetns is the name of the LAN's network namespace, bny<l>-lan.
func (l *Lab) LANNetns() string { return fmt.Sprintf("bny%d-lan", l.id) }

// Gateway is the LAN bridge's address, every box's default route.
func (l *Lab) Gateway() string { return l.prefix() + "254" }

// Credentials are the admin account's root access key, as the founding box wrote them.
func (l *Lab) Credentials() Credentials { return l.creds }

// AWSConfigFiles are the aws-cli credentials and config files the founding box wrote for
// the admin account.
func (l *Lab) AWSConfigFiles() (credentials, config string) {
	d := filepath.Join(l.boxes[0].DataDir(), "aws")
	return filepath.Join(d, "credentials"), filepath.Join(d, "config")
}

func (l *Lab) prefix() string { return fmt.Sprintf("10.%d.0.", l.id) }

// startLibvirt starts virtlogd and libvirtd in every box. Box 0's libvirtd probes qemu's
// capabilities (seconds under TCG); the others start from a copy of its cache.
func (l *Lab) startLibvirt(ctx context.Context) error {
	first := l.boxes
	if _, err := os.Stat("/var/cache/libvirt/qemu/capabilities"); err == nil {
		for _, b := range l.boxes {
			if err := copyTree("/var/cache/libvirt/qemu", filepath.Join(b.Dir(), "cache")); err != nil {
				return err
			}
		}
	} else {
		first = l.boxes[:1]
		if err := first[0].startLibvirt(ctx); err != nil {
			return err
		}
		for _, b := range l.boxes[1:] {
			if err := copyTree(filepath.Join(first[0].Dir(), "cache", "qemu"), filepath.Join(b.Dir(), "cache")); err != nil {
				return err
			}
		}
		first = l.boxes[1:]
	}
	return parallel(first, func(b *Box) error { return b.startLibvirt(ctx) })
}

// startServers starts the founding server, waits for its join token, then starts the
// others with it.
func (l *Lab) startServers(ctx context.Context) error {
	b0 := l.boxes[0]
	if err := b0.startServer(nil); err != nil {
		return err
	}
	tokenFile := filepath.Join(b0.DataDir(), "join-token")
	for {
		if b, err := os.ReadFile(tokenFile); err == nil && len(strings.TrimSpace(string(b))) > 0 {
			l.token = strings.TrimSpace(string(b))
			break
		}
		if !b0.Running() {
			return fmt.Errorf("box 0's server exited before writing %s", tokenFile)
		}
		if ctx.Err() != nil {
			return fmt.Errorf("box 0's server wrote no join token: %w", ctx.Err())
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, b := range l.boxes[1:] {
		if err := b.startServer(nil); err != nil {
			return err
		}
	}
	return nil
}

// WaitReady waits until, seen from every box, every box is an alive member and a Raft
// voter, all agree on the leader and see the same disks (at least one a box), and every
// box's AWS API answers. It fails at once
// when a box's server is not running.
func (l *Lab) WaitReady(ctx context.Context) error {
	var last error
	for {
		if last = l.ready(ctx); last == nil {
			return nil
		}
		for _, b := range l.boxes {
			if !b.Running() {
				return fmt.Errorf("box %d's server is not running (%v)", b.i, b.exitErr())
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("lab not ready: %w (last: %v)", ctx.Err(), last)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func (l *Lab) ready(ctx context.Context) error {
	leader := ""
	disks := map[int]float64{}
	for _, b := range l.boxes {
		sctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		st, err := b.Status(sctx)
		cancel()
		if err != nil {
			return err
		}
		for _, o := range l.boxes {
			m, ok := findMember(st.Members, o.Name())
			if !ok {
				return fmt.Errorf("box %d does not list %s as a member", b.i, o.Name())
			}
			if m.Status != "alive" || (m.Raft != "leader" && m.Raft != "follower") {
				return fmt.Errorf("box %d sees %s %s, raft %s", b.i, o.Name(), m.Status, m.Raft)
			}
		}
		if st.Leader == "" {
			return fmt.Errorf("box %d knows no leader", b.i)
		}
		if leader != "" && st.Leader != leader {
			return fmt.Errorf("boxes disagree on the leader: %s, %s", leader, st.Leader)
		}
		leader = st.Leader
		if o, ok := st.Subsystems["objectstore"].(map[string]any); ok {
			disks[b.i], _ = o["disks"].(float64)
		}
	}
	// Every box sees every box's disks: a bucket made before then would miss the disks
	// of a box some server still takes for absent.
	most := 0.0
	for _, n := range disks {
		most = max(most, n)
	}
	for i, n := range disks {
		if n < most || n < float64(len(l.boxes)) {
			return fmt.Errorf("box %d sees %v disks, another %v, on %d boxes", i, n, most, len(l.boxes))
		}
	}
	for _, b := range l.boxes {
		if err := b.apiAnswers(ctx); err != nil {
			return err
		}
	}
	return nil
}

// Leader is the box the lab's servers name as leader, waiting for one until ctx ends.
func (l *Lab) Leader(ctx context.Context) (*Box, error) {
	for {
		for _, b := range l.boxes {
			if !b.Running() {
				continue
			}
			sctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			st, err := b.Status(sctx)
			cancel()
			if err != nil || st.Leader == "" {
				continue
			}
			for _, o := range l.boxes {
				if o.Name() == st.Leader {
					return o, nil
				}
			}
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("no leader: %w", ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// HTTPClient is an HTTP client whose connections are made from the LAN namespace, like
// a machine on the boxes' LAN: for SDK clients (set it as their HTTPClient, the
// endpoint to a box's Endpoint) and plain requests. It uses no proxy. Hosts must be IP
// addresses.
func (l *Lab) HTTPClient() *http.Client { return l.client }

// Dial connects from the LAN namespace (see HTTPClient). The address's host must be an
// IP address: names would be resolved from the host's namespace.
func (l *Lab) Dial(ctx context.Context, network, address string) (net.Conn, error) {
	return dialIn(ctx, "/run/netns/"+l.LANNetns(), network, address)
}

// CommandLAN is a command that runs in the LAN namespace (and the host's mounts): it
// reaches every box as a machine on their LAN would.
func (l *Lab) CommandLAN(ctx context.Context, name string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "nsenter", append([]string{"--net=/run/netns/" + l.LANNetns(), "--", name}, args...)...)
}

// ExecLAN runs a command in the LAN namespace and returns its standard output; a failure
// carries its standard error.
func (l *Lab) ExecLAN(ctx context.Context, name string, args ...string) ([]byte, error) {
	return output(l.CommandLAN(ctx, name, args...))
}

// AWS runs the aws CLI in the LAN namespace against box b's endpoint as the admin
// (through the founding box's aws-cli files; the caller's AWS_PROFILE is dropped) and
// returns its standard output.
func (l *Lab) AWS(ctx context.Context, b *Box, args ...string) ([]byte, error) {
	cmd := l.CommandLAN(ctx, "aws", append([]string{"--endpoint-url", b.Endpoint()}, args...)...)
	creds, conf := l.AWSConfigFiles()
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "AWS_") {
			cmd.Env = append(cmd.Env, e)
		}
	}
	cmd.Env = append(cmd.Env, "AWS_SHARED_CREDENTIALS_FILE="+creds, "AWS_CONFIG_FILE="+conf,
		"AWS_EC2_METADATA_DISABLED=true", "AWS_PAGER=")
	return output(cmd)
}

// Domains lists the names of every libvirt domain, running or not, of box b's libvirtd.
func (l *Lab) Domains(b *Box) ([]string, error) {
	if l.cfg.NoLibvirt {
		return nil, errors.New("the lab runs no libvirtd (Config.NoLibvirt)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := b.Exec(ctx, "virsh", "-q", "-c", "qemu:///system", "list", "--all", "--name")
	if err != nil {
		return nil, err
	}
	return strings.Fields(string(out)), nil
}

// LogTails passes the last n lines of every box's server log to logf.
func (l *Lab) LogTails(logf func(format string, args ...any), n int) {
	for _, b := range l.boxes {
		lines, err := tail(b.Log(), n)
		if err != nil {
			continue
		}
		logf("boxlab: last %d lines of box %d's server log %s:\n%s", len(lines), b.i, b.Log(), strings.Join(lines, "\n"))
	}
}

// Close tears the lab down: it kills the servers, destroys and undefines every domain
// of every box's libvirtd, kills every process left in the lab's namespaces, deletes
// the namespaces (and their veths) and removes the lab folder and record. It can be
// called again, and after a failed test; the error says what could not be removed.
func (l *Lab) Close() error {
	l.closeOnce.Do(func() {
		begin := time.Now()
		for _, b := range l.boxes {
			b.Kill()
		}
		if l.client != nil {
			l.client.CloseIdleConnections()
		}
		l.closeErr = teardown(l.id, l.dir, l.banyan)
		for _, b := range l.boxes {
			b.reapHolder()
			if b.log != nil {
				b.log.Close()
			}
		}
		l.cfg.Logf("boxlab: lab %d closed in %s", l.id, time.Since(begin).Round(time.Millisecond))
	})
	return l.closeErr
}

// readCredentials reads the admin key from the aws-cli files in dir.
func readCredentials(dir string) (Credentials, error) {
	var c Credentials
	for _, f := range []string{"credentials", "config"} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			return c, fmt.Errorf("the founding box wrote no admin credentials: %w", err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				continue
			}
			switch strings.TrimSpace(k) {
			case "aws_access_key_id":
				c.AccessKeyID = strings.TrimSpace(v)
			case "aws_secret_access_key":
				c.SecretAccessKey = strings.TrimSpace(v)
			case "region":
				c.Region = strings.TrimSpace(v)
			}
		}
	}
	if c.AccessKeyID == "" || c.SecretAccessKey == "" {
		return c, fmt.Errorf("no access key in %s", filepath.Join(dir, "credentials"))
	}
	return c, nil
}

// output runs cmd and returns its standard output; a failure carries its standard error.
func output(cmd *exec.Cmd) ([]byte, error) {
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) && len(ee.Stderr) > 0 {
			return out, fmt.Errorf("%s: %w: %s", strings.Join(cmd.Args, " "), err, strings.TrimSpace(string(ee.Stderr)))
		}
		return out, fmt.Errorf("%s: %w", strings.Join(cmd.Args, " "), err)
	}
	return out, nil
}

// tail is the last n lines of a file.
func tail(path string, n int) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	return lines, nil
}

// copyTree copies src into the folder dst (cp -a).
func copyTree(src, dst string) error {
	if out, err := exec.Command("cp", "-a", src, dst).CombinedOutput(); err != nil {
		return fmt.Errorf("cp -a %s %s: %v: %s", src, dst, err, out)
	}
	return nil
}

// parallel runs f on every box at once and joins the errors.
func parallel(boxes []*Box, f func(*Box) error) error {
	errs := make([]error, len(boxes))
	var wg sync.WaitGroup
	for i, b := range boxes {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = f(b) }()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func findMember(ms []cluster.MemberStatus, name string) (cluster.MemberStatus, bool) {
	for _, m := range ms {
		if m.Name == name {
			return m, true
		}
	}
	return cluster.MemberStatus{}, false
}
