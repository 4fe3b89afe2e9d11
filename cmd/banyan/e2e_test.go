package main

// Process-level tests: real banyan binaries on 127.0.2.x with the default ports, faults
// by SIGKILL.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/banyancloud/banyan/cluster"
	"github.com/banyancloud/banyan/cluster/state"
	"github.com/banyancloud/banyan/node"
)

var banyanBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "banyan-bin")
	if err != nil {
		panic(err)
	}
	banyanBin = filepath.Join(dir, "banyan")
	out, err := exec.Command("go", "build", "-o", banyanBin, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "building banyan: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type proc struct {
	t       *testing.T
	ip      string
	dataDir string
	args    []string
	cmd     *exec.Cmd
	log     *os.File
	done    chan struct{}
}

func startProc(t *testing.T, ip, dataDir string, args ...string) *proc {
	t.Helper()
	os.MkdirAll(filepath.Dir(dataDir), 0o755)
	logf, err := os.Create(dataDir + ".log")
	if err != nil {
		t.Fatal(err)
	}
	p := &proc{t: t, ip: ip, dataDir: dataDir, args: args, log: logf, done: make(chan struct{})}
	p.cmd = exec.Command(banyanBin, append([]string{"server", "--bind", ip, "--data-dir", dataDir, "--compute", "off"}, args...)...)
	p.cmd.Stdout, p.cmd.Stderr = logf, logf
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() { p.kill(); logf.Close() })
	return p
}

func (p *proc) kill() {
	if p.cmd.Process != nil {
		p.cmd.Process.Signal(syscall.SIGKILL)
		<-p.done
	}
}

func (p *proc) dumpLog() {
	b, _ := os.ReadFile(p.log.Name())
	p.t.Logf("log of %s:\n%s", p.ip, b)
}

func (p *proc) rpcAddr() string { return net.JoinHostPort(p.ip, "7947") }

func (p *proc) client(t *testing.T) *cluster.Client {
	t.Helper()
	d, err := node.Open(p.dataDir)
	if err != nil {
		t.Fatal(err)
	}
	c := cluster.NewClient(p.rpcAddr(), d.TLS)
	t.Cleanup(c.Close)
	return c
}

func status(addr string) (*cluster.Status, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return cluster.FetchStatus(ctx, addr)
}

func waitFor(t *testing.T, timeout time.Duration, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var err error
	for time.Now().Before(deadline) {
		if err = f(); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s: not done after %s: %v", what, timeout, err)
}

// waitApplied waits until every box has applied what the cluster had committed when
// called.
func waitApplied(t *testing.T, procs []*proc) {
	t.Helper()
	var commit uint64
	for _, p := range procs {
		if st, err := status(p.rpcAddr()); err == nil {
			commit = max(commit, st.CommitIndex)
		}
	}
	waitFor(t, 10*time.Second, "every box to apply the change", func() error {
		for _, p := range procs {
			st, err := status(p.rpcAddr())
			if err != nil {
				return err
			}
			if st.AppliedIndex < commit {
				return fmt.Errorf("%s applied %d of %d", p.ip, st.AppliedIndex, commit)
			}
		}
		return nil
	})
}

// startCluster starts n real servers on 127.0.2.1.. and waits until all are Raft voters.
func startCluster(t *testing.T, n int) []*proc { return startClusterDisks(t, n, 0) }

// diskArgs gives a node `disks` disk folders beside its data dir (0: the default one).
func diskArgs(dataDir string, disks int) []string {
	var args []string
	for d := 0; d < disks; d++ {
		args = append(args, "--disk", fmt.Sprintf("%s-disk%d", dataDir, d))
	}
	return args
}

// startClusterDisks is startCluster with `disks` disk folders per node.
func startClusterDisks(t *testing.T, n, disks int) []*proc {
	t.Helper()
	root := t.TempDir()
	first := filepath.Join(root, "n1")
	procs := []*proc{startProc(t, "127.0.2.1", first, diskArgs(first, disks)...)}
	tokenFile := filepath.Join(root, "n1", "join-token")
	waitFor(t, 20*time.Second, "founding node writes its join token", func() error {
		select {
		case <-procs[0].done:
			procs[0].dumpLog()
			t.Fatal("the founding node exited")
		default:
		}
		_, err := os.Stat(tokenFile)
		return err
	})
	tok, _ := os.ReadFile(tokenFile)
	for i := 2; i <= n; i++ {
		dd := filepath.Join(root, fmt.Sprintf("n%d", i))
		args := append([]string{"--join", "127.0.2.1", "--token", strings.TrimSpace(string(tok))}, diskArgs(dd, disks)...)
		procs = append(procs, startProc(t, fmt.Sprintf("127.0.2.%d", i), dd, args...))
	}
	waitFor(t, 30*time.Second, "all nodes alive and voting", func() error {
		st, err := status(procs[0].rpcAddr())
		if err != nil {
			return err
		}
		voters := 0
		for _, m := range st.Members {
			if m.Status == "alive" && (m.Raft == "leader" || m.Raft == "follower") {
				voters++
			}
		}
		if voters != n {
			return fmt.Errorf("%d alive voters: %+v", voters, st.Members)
		}
		return nil
	})
	// Every box sees every other alive and every disk in the map: a bucket made before
	// then would miss the volume on the disks of a box some node still thinks is down.
	want := n * max(disks, 1)
	waitFor(t, 30*time.Second, "every box seeing every disk", func() error {
		for _, p := range procs {
			st, err := status(p.rpcAddr())
			if err != nil {
				return err
			}
			for _, m := range st.Members {
				if m.Status != "alive" {
					return fmt.Errorf("%s sees %s %s", p.ip, m.Name, m.Status)
				}
			}
			o, _ := st.Subsystems["objectstore"].(map[string]any)
			if got, _ := o["disks"].(float64); int(got) != want {
				return fmt.Errorf("%s sees %v of %d disks", p.ip, o["disks"], want)
			}
		}
		return nil
	})
	return procs
}

func leaderOf(t *testing.T, procs []*proc) int {
	t.Helper()
	var idx int
	waitFor(t, 10*time.Second, "a leader", func() error {
		for _, p := range procs {
			st, err := status(p.rpcAddr())
			if err != nil || st.Leader == "" {
				continue
			}
			for i, q := range procs {
				if st.LeaderAddr == q.rpcAddr() {
					idx = i
					return nil
				}
			}
		}
		return errors.New("no leader")
	})
	return idx
}

func TestProcessClusterSurvivesLeaderKill(t *testing.T) {
	if testing.Short() {
		t.Skip("process-level test")
	}
	procs := startCluster(t, 3)
	l := leaderOf(t, procs)
	f := (l + 1) % 3
	c := procs[f].client(t)

	var mu sync.Mutex
	var acked []string
	var maxGap time.Duration
	stop := make(chan struct{})
	writerDone := make(chan error, 1)
	go func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				writerDone <- nil
				return
			default:
			}
			key := fmt.Sprintf("w%05d", i)
			start := time.Now()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			_, err := c.Submit(ctx, &state.SetSetting{Key: key, Value: key}, nil)
			cancel()
			if err != nil {
				writerDone <- fmt.Errorf("write %s through the follower failed: %w", key, err)
				return
			}
			mu.Lock()
			acked = append(acked, key)
			if d := time.Since(start); d > maxGap {
				maxGap = d
			}
			mu.Unlock()
		}
	}()
	time.Sleep(time.Second)
	mu.Lock()
	before := len(acked)
	mu.Unlock()
	procs[l].kill()
	killedAt := time.Now()
	time.Sleep(4 * time.Second)
	close(stop)
	if err := <-writerDone; err != nil {
		for _, p := range procs {
			p.dumpLog()
		}
		t.Fatal(err)
	}
	t.Logf("%d writes acknowledged (%d before the kill); slowest write %s", len(acked), before, maxGap)
	if len(acked) <= before {
		t.Fatalf("no write was acknowledged after the leader was killed")
	}
	_ = killedAt

	for i, p := range procs {
		if i == l {
			continue
		}
		pc := p.client(t)
		waitFor(t, 10*time.Second, "survivor "+p.ip+" has every acknowledged write", func() error {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			all, _, err := pc.Settings(ctx)
			if err != nil {
				return err
			}
			have := map[string]bool{}
			for _, s := range all {
				have[s.Key] = true
			}
			for _, k := range acked {
				if !have[k] {
					return fmt.Errorf("missing %s", k)
				}
			}
			return nil
		})
	}

	// The killed leader comes back with no flags but its data dir and address, and
	// catches up.
	back := startProc(t, procs[l].ip, procs[l].dataDir)
	bc := back.client(t)
	waitFor(t, 20*time.Second, "restarted node catches up", func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		all, _, err := bc.Settings(ctx)
		if err != nil {
			return err
		}
		if len(all) < len(acked) {
			return fmt.Errorf("%d of %d settings", len(all), len(acked))
		}
		return nil
	})
}

// treeHash fingerprints a folder's names and contents (LOCK excluded: it holds a pid).
func treeHash(t *testing.T, dir string) string {
	t.Helper()
	h := sha256.New()
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		fmt.Fprintf(h, "%s\n", rel)
		if !d.IsDir() {
			b, _ := os.ReadFile(path)
			h.Write(b)
		}
		return nil
	})
	return hex.EncodeToString(h.Sum(nil))
}

// run runs the binary to completion and returns its exit code and output.
func run(t *testing.T, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, banyanBin, args...).CombinedOutput()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), string(out)
	}
	if err != nil {
		t.Fatal(err)
	}
	return 0, string(out)
}

func TestProcessBadInput(t *testing.T) {
	if testing.Short() {
		t.Skip("process-level test")
	}
	procs := startCluster(t, 1)
	root := t.TempDir()
	tok, _ := os.ReadFile(filepath.Join(procs[0].dataDir, "join-token"))
	token := strings.TrimSpace(string(tok))
	parts := strings.Split(token, ".")

	corrupt := filepath.Join(root, "corrupt")
	os.MkdirAll(filepath.Join(corrupt, "raft"), 0o700)
	os.WriteFile(filepath.Join(corrupt, "node.json"), []byte("{not json"), 0o600)
	foreign := filepath.Join(root, "foreign")
	os.MkdirAll(foreign, 0o700)
	os.WriteFile(filepath.Join(foreign, "photo.jpg"), []byte("precious"), 0o600)

	cases := []struct {
		name    string
		dataDir string
		args    []string
		want    string
	}{
		{"port in use", filepath.Join(root, "a"), []string{"--bind", "127.0.2.1"}, "address already in use"},
		{"corrupt data dir", corrupt, []string{"--bind", "127.0.2.9"}, "corrupt"},
		{"foreign folder", foreign, []string{"--bind", "127.0.2.9"}, "not a Banyan data dir"},
		{"join a non-Banyan port", filepath.Join(root, "b"), []string{"--bind", "127.0.2.9", "--join", "127.0.2.1:7946", "--token", token}, "is not a Banyan node"},
		{"join nobody", filepath.Join(root, "c"), []string{"--bind", "127.0.2.9", "--join", "127.0.2.8", "--token", token}, "cannot reach"},
		{"wrong secret", filepath.Join(root, "d"), []string{"--bind", "127.0.2.9", "--join", "127.0.2.1", "--token", parts[0] + "." + parts[1] + ".0123456789abcdef0123456789abcdef"}, "not valid for this cluster"},
		{"foreign cluster token", filepath.Join(root, "e"), []string{"--bind", "127.0.2.9", "--join", "127.0.2.1", "--token", parts[0] + "." + strings.Repeat("ab", 32) + "." + parts[2]}, "different cluster"},
		{"malformed token", filepath.Join(root, "f"), []string{"--bind", "127.0.2.9", "--join", "127.0.2.1", "--token", "hello"}, "malformed join token"},
		{"missing token", filepath.Join(root, "g"), []string{"--bind", "127.0.2.9", "--join", "127.0.2.1"}, "--join needs --token"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, statErr := os.Stat(tc.dataDir)
			before := ""
			if statErr == nil {
				before = treeHash(t, tc.dataDir)
			}
			code, out := run(t, append([]string{"server", "--compute", "off", "--data-dir", tc.dataDir}, tc.args...)...)
			if code == 0 {
				t.Fatalf("exit 0, want failure; output:\n%s", out)
			}
			lines := strings.Split(strings.TrimSpace(out), "\n")
			last := lines[len(lines)-1]
			if !strings.HasPrefix(last, "banyan: ") || !strings.Contains(last, tc.want) {
				t.Fatalf("last line %q does not say %q; output:\n%s", last, tc.want, out)
			}
			if statErr != nil {
				if _, err := os.Stat(tc.dataDir); err == nil {
					t.Fatalf("a failed start left %s behind", tc.dataDir)
				}
			} else if after := treeHash(t, tc.dataDir); after != before {
				t.Fatalf("a failed start changed %s", tc.dataDir)
			}
		})
	}
	// An expired token is refused too.
	code, out := run(t, "token", "create", "--ttl", "1s", "--data-dir", procs[0].dataDir)
	if code != 0 {
		t.Fatalf("token create: %s", out)
	}
	time.Sleep(1500 * time.Millisecond)
	code, out = run(t, "server", "--compute", "off", "--data-dir", filepath.Join(root, "h"), "--bind", "127.0.2.9", "--join", "127.0.2.1", "--token", strings.TrimSpace(out))
	if code == 0 || !strings.Contains(out, "expired") {
		t.Fatalf("expired token: exit %d, output %s", code, out)
	}
	st, err := status(procs[0].rpcAddr())
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Members) != 1 {
		t.Fatalf("refused joins left members behind: %+v", st.Members)
	}
}
