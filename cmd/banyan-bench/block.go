package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// benchBlock measures EBS volumes through Banyan's NBD server (one copy, and two with the
// second behind the replica RPC on loopback) beside the same file system's own
// synchronous-write latency and qemu-nbd serving a raw file, and prints one table.
func benchBlock(args []string) error { return blockBench(args, os.Stdout) }

// blockRow is one line of the table.
type blockRow struct {
	Test   string `json:"test"`
	Target string `json:"target"`
	Label  string `json:"label"`
	latencyStats
}

// blockGoal is one aim printed under the table.
type blockGoal struct {
	Goal  string  `json:"goal"`
	Value float64 `json:"value"`
	Limit float64 `json:"limit"`
	Unit  string  `json:"unit"`
	Met   bool    `json:"met"`
}

type blockReport struct {
	Dir        string      `json:"dir"`
	FileSystem string      `json:"file_system"`
	SizeBytes  int64       `json:"volume_size_bytes"`
	PerTest    string      `json:"per_test"`
	ReplicaRPC string      `json:"replica_rpc"`
	QemuNBD    string      `json:"qemu_nbd"`
	Rows       []blockRow  `json:"rows"`
	Goals      []blockGoal `json:"goals"`
}

// Test and target keys (the JSON's test and target fields).
const (
	testSmall = "write_4k_fua_qd1"
	testSeq   = "write_1m_seq_qd16"

	targetRawDsync     = "raw_dsync"
	targetRawFdsync    = "raw_fdatasync"
	targetRawFdsync2   = "raw_fdatasync_x2"
	targetRawDirect    = "raw_direct"
	targetRawBuffered  = "raw_buffered"
	targetRawBuffered2 = "raw_buffered_x2"
	targetQemu         = "qemu_nbd"
	targetBanyan1      = "banyan_1copy"
	targetBanyan2      = "banyan_2copies"
)

const replicaRPCDesc = "replica RPC: HTTP/1.1 in mutual TLS 1.3 (cluster CA certificates) behind the cluster mux's RPC byte, TCP 127.0.0.1, far Store in this process"

func blockBench(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("block", flag.ContinueOnError)
	dir := fs.String("dir", "/var/tmp", "file system to measure: a temporary folder is made (and removed) in it")
	sizeFlag := fs.String("size", "1GiB", "size of each volume and of the raw files (a multiple of 1 MiB, at least 8 MiB); bounds the 1 MiB runs")
	secs := fs.Float64("seconds", 5, "how long each test runs (the 1 MiB runs also stop at the end of the volume)")
	count := fs.Int("count", 0, "operations per test instead of --seconds")
	asJSON := fs.Bool("json", false, "print the figures as JSON instead of a table")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	size, err := parseSize(*sizeFlag)
	if err != nil {
		return fmt.Errorf("--size: %w", err)
	}
	if size < 8<<20 || size%blockBig != 0 {
		return fmt.Errorf("--size %s: must be a multiple of 1 MiB and at least 8 MiB", *sizeFlag)
	}
	if *count < 0 || (*count == 0 && *secs <= 0) {
		return fmt.Errorf("--count must be positive, or --seconds when --count is 0")
	}
	limit := blockLimit{count: *count, dur: time.Duration(*secs * float64(time.Second))}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	work, err := os.MkdirTemp(*dir, "banyan-bench-block-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)

	rep, err := runBlock(work, size, limit)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	printBlock(out, rep)
	return nil
}

func runBlock(work string, size int64, limit blockLimit) (*blockReport, error) {
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	rep := &blockReport{Dir: work, FileSystem: fsName(work), SizeBytes: size, ReplicaRPC: replicaRPCDesc}
	if limit.count > 0 {
		rep.PerTest = fmt.Sprintf("%d operations", limit.count)
	} else {
		rep.PerTest = limit.dur.String()
	}

	qemuImg := filepath.Join(work, "qemu.img")
	if err := os.WriteFile(qemuImg, nil, 0o600); err != nil {
		return nil, err
	}
	if err := os.Truncate(qemuImg, size); err != nil {
		return nil, err
	}
	q, err := startQemuNBD(work, qemuImg)
	if err != nil {
		return nil, err
	}
	defer q.stop()
	rep.QemuNBD = fmt.Sprintf("qemu-nbd %s: -f raw %s, unix socket", q.version, strings.Join(q.flags, " "))
	b, err := startBanyanBlock(work, size, log)
	if err != nil {
		return nil, err
	}
	defer b.stop()

	type nbdTarget struct {
		key, label     string
		socket, export string
		c              *nbdClient
	}
	targets := []*nbdTarget{
		{key: targetQemu, label: "qemu-nbd, raw file", socket: q.socket, export: q.export},
		{key: targetBanyan1, label: "Banyan NBD, 1 copy", socket: b.socket, export: blockVol1},
		{key: targetBanyan2, label: "Banyan NBD, 2 copies (2nd over replica RPC)", socket: b.socket, export: blockVol2},
	}
	for _, t := range targets {
		c, err := dialNBD(t.socket, t.export)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", t.label, err)
		}
		t.c = c.start()
		defer c.Close()
	}

	add := func(test, key, label string, r blockResult, err error) error {
		if err != nil {
			return fmt.Errorf("%s, %s: %w", test, label, err)
		}
		rep.Rows = append(rep.Rows, blockRow{Test: test, Target: key, Label: label, latencyStats: r.stats()})
		return nil
	}
	// Each test starts with the file system's dirty data written back, so none pays
	// for an earlier one's.
	settle := func() { unix.Sync() }

	raw := func(names ...string) []string {
		var out []string
		for _, n := range names {
			out = append(out, filepath.Join(work, n))
		}
		return out
	}
	for _, p := range []struct {
		key, label string
		files      []string
		dsync      bool
	}{
		{targetRawDsync, "raw file: pwrite, O_DSYNC", raw("raw-dsync"), true},
		{targetRawFdsync, "raw file: pwrite + fdatasync", raw("raw-fdatasync"), false},
		{targetRawFdsync2, "raw files x2 at once: pwrite + fdatasync", raw("raw-a", "raw-b"), false},
	} {
		settle()
		r, err := rawSmall(p.files, p.dsync, limit)
		if err := add(testSmall, p.key, p.label, r, err); err != nil {
			return nil, err
		}
	}
	for _, t := range targets {
		settle()
		r, err := nbdSmall(t.c, limit)
		if err := add(testSmall, t.key, t.label, r, err); err != nil {
			return nil, err
		}
	}

	for _, p := range []struct {
		key, label string
		files      []string
		direct     bool
	}{
		{targetRawDirect, "raw file: O_DIRECT pwrite x16, fdatasync", raw("raw-direct"), true},
		{targetRawBuffered, "raw file: pwrite x16, fdatasync", raw("raw-buffered"), false},
		{targetRawBuffered2, "raw files x2 at once: pwrite x16, fdatasync", raw("raw-a", "raw-b"), false},
	} {
		settle()
		r, err := rawSeq(p.files, size, p.direct, limit)
		if err := add(testSeq, p.key, p.label, r, err); err != nil {
			return nil, err
		}
	}
	for _, t := range targets {
		settle()
		r, err := nbdSeq(t.c, limit)
		if err := add(testSeq, t.key, t.label, r, err); err != nil {
			return nil, err
		}
	}
	rep.Goals = blockGoals(rep)
	return rep, nil
}

func (r *blockReport) row(test, target string) latencyStats {
	for _, row := range r.Rows {
		if row.Test == test && row.Target == target {
			return row.latencyStats
		}
	}
	return latencyStats{}
}

func blockGoals(r *blockReport) []blockGoal {
	one, two := r.row(testSmall, targetBanyan1), r.row(testSmall, targetBanyan2)
	q := r.row(testSeq, targetQemu).MiBs
	return []blockGoal{
		{Goal: "4 KiB FUA p50: 2 copies <= 2x 1 copy", Value: two.P50, Limit: 2 * one.P50, Unit: "ms", Met: two.P50 <= 2*one.P50},
		{Goal: "4 KiB FUA p99: 2 copies <= 2x 1 copy", Value: two.P99, Limit: 2 * one.P99, Unit: "ms", Met: two.P99 <= 2*one.P99},
		{Goal: "1 MiB QD16: Banyan 1 copy >= qemu-nbd", Value: r.row(testSeq, targetBanyan1).MiBs, Limit: q, Unit: "MiB/s", Met: r.row(testSeq, targetBanyan1).MiBs >= q},
		{Goal: "1 MiB QD16: Banyan 2 copies >= qemu-nbd", Value: r.row(testSeq, targetBanyan2).MiBs, Limit: q, Unit: "MiB/s", Met: r.row(testSeq, targetBanyan2).MiBs >= q},
	}
}

var blockTestNames = map[string]string{testSmall: "4 KiB write, FUA, QD1", testSeq: "1 MiB seq write, QD16"}

func printBlock(w io.Writer, r *blockReport) {
	fmt.Fprintf(w, "EBS block I/O on this machine: %s (%s), volumes and raw files of %d MiB, %s per test\n",
		r.Dir, r.FileSystem, r.SizeBytes>>20, r.PerTest)
	fmt.Fprintf(w, "%s\n%s\n", r.ReplicaRPC, r.QemuNBD)
	fmt.Fprintf(w, "NBD targets through one in-process client on unix sockets; 1 MiB runs end with a flush, timed\n\n")
	fmt.Fprintf(w, "%-22s %-44s %7s %8s %8s %8s %8s %8s\n", "test", "target", "ops", "p50 ms", "p99 ms", "max ms", "IOPS", "MiB/s")
	last := ""
	for _, row := range r.Rows {
		name := blockTestNames[row.Test]
		if row.Test == last {
			name = ""
		} else if last != "" {
			fmt.Fprintln(w)
		}
		last = row.Test
		s := row.latencyStats
		fmt.Fprintf(w, "%-22s %-44s %7d %8.3f %8.3f %8.3f %8.0f %8.1f\n", name, row.Label, s.Ops, s.P50, s.P99, s.Max, s.IOPS, s.MiBs)
	}
	fmt.Fprintln(w)
	for _, g := range r.Goals {
		verdict := "met"
		if !g.Met {
			if g.Unit == "ms" {
				verdict = fmt.Sprintf("MISSED by %.0f%%", 100*(g.Value/g.Limit-1))
			} else {
				verdict = fmt.Sprintf("MISSED by %.0f%%", 100*(1-g.Value/g.Limit))
			}
		}
		fmt.Fprintf(w, "goal  %-42s %9.3f vs %9.3f %-6s %s\n", g.Goal, g.Value, g.Limit, g.Unit, verdict)
	}
}

// parseSize reads "1GiB", "512MiB", "64M", "1073741824".
func parseSize(s string) (int64, error) {
	mult := int64(1)
	num := strings.TrimSpace(s)
	for _, u := range []struct {
		suffix string
		m      int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"T", 1 << 40}, {"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10}} {
		if v, ok := strings.CutSuffix(num, u.suffix); ok {
			num, mult = v, u.m
			break
		}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(num), 10, 64)
	if err != nil || n <= 0 || n > (1<<46)/mult {
		return 0, fmt.Errorf("%q is not a size such as 1GiB or 512MiB", s)
	}
	return n * mult, nil
}

// fsName names the file system dir is on.
func fsName(dir string) string {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return "file system unknown"
	}
	switch uint32(st.Type) {
	case 0xEF53:
		return "ext4"
	case 0x58465342:
		return "xfs"
	case 0x9123683E:
		return "btrfs"
	case 0x01021994:
		return "tmpfs"
	case 0x794c7630:
		return "overlayfs"
	case 0x2fc12fc1:
		return "zfs"
	}
	return fmt.Sprintf("file system type %#x", st.Type)
}
