package main

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The block benchmark in short: tiny counts on the real file system (the default
// /var/tmp), through the real NBD servers and replica RPC. It checks the table's shape
// and that every figure is a positive number, never how fast anything was.

var blockWant = []struct{ test, target string }{
	{testSmall, targetRawDsync}, {testSmall, targetRawFdsync}, {testSmall, targetRawFdsync2},
	{testSmall, targetQemu}, {testSmall, targetBanyan1}, {testSmall, targetBanyan2},
	{testSeq, targetRawDirect}, {testSeq, targetRawBuffered}, {testSeq, targetRawBuffered2},
	{testSeq, targetQemu}, {testSeq, targetBanyan1}, {testSeq, targetBanyan2},
}

func needQemuNBD(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("qemu-nbd"); err != nil {
		t.Skip("qemu-nbd is not installed (packaging/deps.sh installs qemu-utils)")
	}
}

func TestBlockBenchJSON(t *testing.T) {
	needQemuNBD(t)
	const count = 12
	var out bytes.Buffer
	if err := blockBench([]string{"--size", "16MiB", "--count", strconv.Itoa(count), "--json"}, &out); err != nil {
		t.Fatal(err)
	}
	var rep blockReport
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("--json output does not parse: %v\n%s", err, out.String())
	}
	if len(rep.Rows) != len(blockWant) {
		t.Fatalf("%d rows, want %d:\n%s", len(rep.Rows), len(blockWant), out.String())
	}
	for i, w := range blockWant {
		r := rep.Rows[i]
		if r.Test != w.test || r.Target != w.target || r.Label == "" {
			t.Errorf("row %d is %s/%s %q, want %s/%s", i, r.Test, r.Target, r.Label, w.test, w.target)
		}
		if r.Ops != count {
			t.Errorf("%s/%s: %d operations, want %d", r.Test, r.Target, r.Ops, count)
		}
		for name, v := range map[string]float64{"p50": r.P50, "p99": r.P99, "max": r.Max, "IOPS": r.IOPS, "MiB/s": r.MiBs} {
			if !(v > 0) {
				t.Errorf("%s/%s: %s is %v", r.Test, r.Target, name, v)
			}
		}
		if r.P50 > r.P99 || r.P99 > r.Max {
			t.Errorf("%s/%s: p50 %v, p99 %v, max %v out of order", r.Test, r.Target, r.P50, r.P99, r.Max)
		}
	}
	if len(rep.Goals) != 4 {
		t.Fatalf("%d goals, want 4", len(rep.Goals))
	}
	for _, g := range rep.Goals {
		if !(g.Value > 0 && g.Limit > 0) || g.Goal == "" || g.Unit == "" {
			t.Errorf("goal %+v", g)
		}
		if want := (g.Unit == "ms") == (g.Value <= g.Limit); g.Met != want {
			t.Errorf("goal %q: met %v for %v against %v %s", g.Goal, g.Met, g.Value, g.Limit, g.Unit)
		}
	}
	if rep.FileSystem == "" || rep.SizeBytes != 16<<20 || !strings.Contains(rep.QemuNBD, "-f raw") || !strings.Contains(rep.ReplicaRPC, "TLS") {
		t.Errorf("report header: %+v", rep)
	}
}

func TestBlockBenchTable(t *testing.T) {
	needQemuNBD(t)
	var out bytes.Buffer
	if err := blockBench([]string{"--size", "8MiB", "--count", "6"}, &out); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimRight(out.String(), "\n"), "\n")
	header := -1
	for i, l := range lines {
		if strings.HasPrefix(l, "test ") {
			header = i
			break
		}
	}
	if header < 0 || !strings.Contains(lines[header], "p50 ms") || !strings.HasSuffix(lines[header], "MiB/s") {
		t.Fatalf("no table header:\n%s", out.String())
	}
	rows, goals := 0, 0
	for _, l := range lines[header+1:] {
		switch {
		case l == "":
		case strings.HasPrefix(l, "goal "):
			goals++
			if !strings.HasSuffix(l, " met") && !strings.Contains(l, "MISSED by ") {
				t.Errorf("goal line without a verdict: %q", l)
			}
		default:
			rows++
			f := strings.Fields(l)
			if len(f) < 6 {
				t.Fatalf("short row %q", l)
			}
			if ops, err := strconv.Atoi(f[len(f)-6]); err != nil || ops != 6 {
				t.Errorf("row %q: operations %q, want 6", l, f[len(f)-6])
			}
			for _, s := range f[len(f)-5:] {
				if v, err := strconv.ParseFloat(s, 64); err != nil || !(v > 0) {
					t.Errorf("row %q: figure %q is not a positive number", l, s)
				}
			}
		}
	}
	if rows != len(blockWant) || goals != 4 {
		t.Errorf("%d rows and %d goals, want %d and 4:\n%s", rows, goals, len(blockWant), out.String())
	}
}

func TestBlockBenchFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--size", "4MiB"},                 // below the minimum
		{"--size", "10000000"},             // not a multiple of 1 MiB
		{"--size", "lots"},                 // not a size
		{"--count", "-1"},                  // negative
		{"--count", "0", "--seconds", "0"}, // no limit at all
	} {
		if err := blockBench(args, &bytes.Buffer{}); err == nil {
			t.Errorf("blockBench(%q) accepted", args)
		}
	}
	for s, want := range map[string]int64{"1GiB": 1 << 30, "64M": 64 << 20, "512KiB": 512 << 10, "1048576": 1 << 20} {
		if got, err := parseSize(s); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", s, got, err, want)
		}
	}
}

func TestBlockStats(t *testing.T) {
	var r blockResult
	for i := 1; i <= 100; i++ {
		r.lat = append(r.lat, time.Duration(101-i)*time.Millisecond) // unsorted on purpose
	}
	r.elapsed, r.bytes = 2*time.Second, 100<<20
	s := r.stats()
	if s.Ops != 100 || s.P50 != 51 || s.P99 != 99 || s.Max != 100 || s.IOPS != 50 || s.MiBs != 50 {
		t.Fatalf("stats of 1..100 ms over 2 s: %+v", s)
	}
}
