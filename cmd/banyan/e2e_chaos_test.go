package main

// The chaos soak's short form (banyan-bench chaos, cmd/banyan-bench/chaos*.go): real
// servers on 127.0.5.x, each as its own uid, with SIGKILL, SIGSTOP, iptables partitions
// and disk faults, then every acknowledged object read back through every node and the
// control plane checked for linearizability.

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestProcessChaos runs 4 rounds with short faults (about a minute on 2 cores);
// BANYAN_CHAOS_ROUNDS=N runs N rounds with the soak's own timings (5-10 s faults, 30 s
// to settle), BANYAN_CHAOS_SEED fixes the seed.
func TestProcessChaos(t *testing.T) {
	if testing.Short() {
		t.Skip("process-level test")
	}
	if os.Geteuid() != 0 {
		t.Skip("the chaos soak runs each server as its own uid and cuts them off with iptables: needs root")
	}
	if _, err := exec.LookPath("iptables"); err != nil {
		t.Skip("needs iptables (packaging/deps.sh installs it)")
	}
	bench := filepath.Join(t.TempDir(), "banyan-bench")
	if out, err := exec.Command("go", "build", "-o", bench, "../banyan-bench").CombinedOutput(); err != nil {
		t.Fatalf("building banyan-bench: %v\n%s", err, out)
	}
	seed := os.Getenv("BANYAN_CHAOS_SEED")
	if seed == "" {
		seed = fmt.Sprint(time.Now().UnixNano() % 1000000)
	}
	// No --dir: t.TempDir is not searchable by the servers' uids. The soak's own temporary
	// folder is removed when it passes and kept (its path printed) when it fails.
	args := []string{"chaos", "--nodes", "3", "--json", "--seed", seed, "--banyan", banyanBin}
	limit := 5 * time.Minute
	if n := os.Getenv("BANYAN_CHAOS_ROUNDS"); n != "" {
		args = append(args, "--rounds", n)
		limit = 24 * time.Hour
	} else {
		args = append(args, "--rounds", "4", "--hold-min", "3s", "--hold-max", "5s", "--settle", "10s")
	}
	t.Logf("banyan-bench %s", strings.Join(args, " "))
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, bench, args...)
	// On the time limit, SIGINT: the soak then kills its servers and removes its iptables
	// chains and loop mounts itself.
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGINT) }
	cmd.WaitDelay = time.Minute
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	t.Logf("progress:\n%s", stderr.String())
	t.Logf("summary:\n%s", out)
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	var sum struct {
		Lost, Corrupted, Resurrected int
		Lin                          struct{ Result string } `json:"linearizability"`
		FailReasons                  []string                `json:"fail_reasons"`
	}
	if len(lines) == 0 || !strings.HasPrefix(lines[len(lines)-1], "{") {
		t.Fatalf("the soak did not finish (%v): no JSON summary", err)
	}
	if jerr := json.Unmarshal([]byte(lines[len(lines)-1]), &sum); jerr != nil {
		t.Fatalf("summary: %v", jerr)
	}
	if sum.Lost+sum.Corrupted+sum.Resurrected > 0 || sum.Lin.Result == "illegal" {
		t.Fatalf("seed %s: %d lost, %d corrupted, %d resurrected, linearizability %s: %s",
			seed, sum.Lost, sum.Corrupted, sum.Resurrected, sum.Lin.Result, strings.Join(sum.FailReasons, "; "))
	}
	if err != nil {
		t.Fatalf("banyan-bench chaos (seed %s): %v: %s", seed, err, strings.Join(sum.FailReasons, "; "))
	}
}
