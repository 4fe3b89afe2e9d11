package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/banyancloud/banyan/cluster"
	"github.com/banyancloud/banyan/cluster/state"
	"github.com/banyancloud/banyan/node"
)

// benchRaft starts three real banyan servers on 127.0.3.1-3 and measures commits.
func benchRaft(args []string) error {
	fs := flag.NewFlagSet("raft", flag.ContinueOnError)
	dir := fs.String("dir", "", "folder for the servers' data dirs and the disk probe (default: a temporary folder)")
	bin := fs.String("banyan", "", "banyan binary (default: built from this checkout)")
	ops := fs.Int("ops", 1000, "sequential commits for the latency figure")
	dur := fs.Duration("duration", 5*time.Second, "how long the 64 clients run")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cleanup, err := workDir(dir, bin, "banyan-bench")
	if err != nil {
		return err
	}
	defer cleanup()

	probe, err := diskSyncLatency(*dir, 1000)
	if err != nil {
		return fmt.Errorf("disk probe: %w", err)
	}
	disk := summarize(probe)

	procs, err := startServers(*bin, *dir, 3)
	defer func() {
		for _, p := range procs {
			p.Process.Signal(syscall.SIGKILL)
			p.Wait()
		}
	}()
	if err != nil {
		return err
	}
	leader, err := findLeader(3)
	if err != nil {
		return err
	}
	follower := 1 + leader%3

	lc, err := client(*dir, leader)
	if err != nil {
		return err
	}
	fc, err := client(*dir, follower)
	if err != nil {
		return err
	}
	viaLeader, err := sequential(lc, *ops, "l")
	if err != nil {
		return err
	}
	viaFollower, err := sequential(fc, *ops, "f")
	if err != nil {
		return err
	}
	tput, err := concurrent(lc, 64, *dur)
	if err != nil {
		return err
	}
	failover, newLeader, dead, err := leaderKill(procs[leader-1], fc)
	if err != nil {
		return err
	}

	fmt.Printf("Raft on 3 real banyan servers (127.0.3.1-3), data in %s\n\n", *dir)
	fmt.Printf("%-46s %10s %10s %10s\n", "measure", "mean ms", "p50 ms", "p99 ms")
	row := func(name string, s summary) {
		fmt.Printf("%-46s %10.3f %10.3f %10.3f\n", name, ms(s.mean), ms(s.p50), ms(s.p99))
	}
	row("disk: 4 KiB O_DSYNC write (the limit)", disk)
	row("commit, 1 client, through the leader", summarize(viaLeader))
	row("commit, 1 client, through a follower", summarize(viaFollower))
	fmt.Printf("\n%-46s %10.0f commits/s\n", "throughput, 64 clients, through the leader", tput)
	fmt.Printf("%-46s %10.0f syncs/s\n", "disk: 1 / mean O_DSYNC latency", 1/disk.mean.Seconds())
	fmt.Printf("\n%-46s %10.0f ms\n", "leader kill -9 -> new leader seen", ms(newLeader))
	fmt.Printf("%-46s %10.0f ms\n", "leader kill -9 -> next write accepted", ms(failover))
	fmt.Printf("%-46s %10.0f ms\n", "leader kill -9 -> marked dead by a survivor", ms(dead))
	return nil
}

func ip(i int) string { return fmt.Sprintf("127.0.3.%d", i) }

func startServers(bin, dir string, n int) ([]*exec.Cmd, error) {
	var procs []*exec.Cmd
	start := func(i int, extra ...string) error {
		dd := filepath.Join(dir, fmt.Sprintf("n%d", i))
		logf, err := os.Create(dd + ".log")
		if err != nil {
			return err
		}
		cmd := exec.Command(bin, append([]string{"server", "--bind", ip(i), "--data-dir", dd, "--compute", "off"}, extra...)...)
		cmd.Stdout, cmd.Stderr = logf, logf
		if err := cmd.Start(); err != nil {
			return err
		}
		procs = append(procs, cmd)
		return nil
	}
	if err := start(1); err != nil {
		return procs, err
	}
	tokPath := filepath.Join(dir, "n1", "join-token")
	var tok []byte
	if err := waitUntil(30*time.Second, func() (err error) { tok, err = os.ReadFile(tokPath); return }); err != nil {
		return procs, fmt.Errorf("first server did not start (see %s/n1.log): %w", dir, err)
	}
	for i := 2; i <= n; i++ {
		if err := start(i, "--join", ip(1), "--token", strings.TrimSpace(string(tok))); err != nil {
			return procs, err
		}
	}
	err := waitUntil(30*time.Second, func() error {
		st, err := fetch(1)
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
			return fmt.Errorf("%d voters", voters)
		}
		return nil
	})
	return procs, err
}

func fetch(i int) (*cluster.Status, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	return cluster.FetchStatus(ctx, ip(i))
}

func findLeader(n int) (int, error) {
	var leader int
	err := waitUntil(10*time.Second, func() error {
		for i := 1; i <= n; i++ {
			if st, err := fetch(i); err == nil && st.LeaderAddr != "" {
				h, _, _ := net.SplitHostPort(st.LeaderAddr)
				for j := 1; j <= n; j++ {
					if ip(j) == h {
						leader = j
						return nil
					}
				}
			}
		}
		return errors.New("no leader")
	})
	return leader, err
}

func client(dir string, i int) (*cluster.Client, error) {
	d, err := node.Open(filepath.Join(dir, fmt.Sprintf("n%d", i)))
	if err != nil {
		return nil, err
	}
	return cluster.NewClient(net.JoinHostPort(ip(i), "7947"), d.TLS), nil
}

func write(c *cluster.Client, key string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := c.Submit(ctx, &state.SetSetting{Key: key, Value: "v"}, nil)
	return err
}

func sequential(c *cluster.Client, n int, prefix string) ([]time.Duration, error) {
	out := make([]time.Duration, 0, n)
	for i := 0; i < n; i++ {
		start := time.Now()
		if err := write(c, fmt.Sprintf("%s%d", prefix, i)); err != nil {
			return nil, err
		}
		out = append(out, time.Since(start))
	}
	return out, nil
}

func concurrent(c *cluster.Client, clients int, d time.Duration) (float64, error) {
	var done atomic.Int64
	var firstErr atomic.Value
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	for w := 0; w < clients; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; time.Now().Before(deadline); i++ {
				if err := write(c, fmt.Sprintf("c%d-%d", w, i)); err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	if err, ok := firstErr.Load().(error); ok {
		return 0, err
	}
	return float64(done.Load()) / d.Seconds(), nil
}

// leaderKill kills the leader and measures, from the kill, when a survivor reports a new
// leader and when a write through a follower is next accepted.
func leaderKill(p *exec.Cmd, fc *cluster.Client) (toWrite, newLeader, dead time.Duration, err error) {
	old, err := findLeader(3)
	if err != nil {
		return 0, 0, 0, err
	}
	oldStatus, err := fetch(old)
	if err != nil {
		return 0, 0, 0, err
	}
	killed := time.Now()
	p.Process.Signal(syscall.SIGKILL)
	p.Wait()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		waitUntil(20*time.Second, func() error {
			for i := 1; i <= 3; i++ {
				if i == old {
					continue
				}
				if st, err := fetch(i); err == nil && st.Leader != "" && !strings.HasPrefix(st.LeaderAddr, ip(old)+":") {
					newLeader = time.Since(killed)
					return nil
				}
			}
			return errors.New("no new leader")
		})
	}()
	wg.Add(1)
	go func() {
		defer wg.Done()
		waitUntil(20*time.Second, func() error {
			st, err := fetch(1 + old%3)
			if err != nil {
				return err
			}
			for _, m := range st.Members {
				if m.Name == oldStatus.Node && m.Status == "dead" {
					dead = time.Since(killed)
					return nil
				}
			}
			return errors.New("not dead yet")
		})
	}()
	if err := write(fc, "after-kill"); err != nil {
		return 0, 0, 0, err
	}
	toWrite = time.Since(killed)
	wg.Wait()
	return toWrite, newLeader, dead, nil
}

func waitUntil(timeout time.Duration, f func() error) error {
	deadline := time.Now().Add(timeout)
	var err error
	for time.Now().Before(deadline) {
		if err = f(); err == nil {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return err
}
