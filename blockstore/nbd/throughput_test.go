package nbd

import (
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestThroughput measures the server with qemu-img bench over the unix socket, beside
// the same bench on the local file that backs the export (the limit: with -t none the
// disk itself through O_DIRECT, with -t writeback the page cache the FileBackend writes
// through). It logs a table and never fails on speed. qemu-img bench has no random mode,
// so "scattered" writes step 1 MiB + 4 KiB at a time, wrapping around the image.
func TestThroughput(t *testing.T) {
	if testing.Short() {
		t.Skip("benchmark")
	}
	needTool(t, "qemu-img")
	const size = 256 << 20
	fb, path := newFile(t, size)
	ts := startServer(t, map[string]Backend{"vol": fb})
	url := ts.unixURL("vol")

	// Fill the image, so reads read data rather than holes.
	run(t, "qemu-img", "bench", "-f", "raw", "-t", "none", "-w", "-s", "1M", "-c", "256", path)

	type load struct {
		name string
		args []string
		ops  int
		size int
	}
	loads := []load{
		{"4 KiB scattered writes, depth 64", []string{"-w", "-s", "4096", "-S", "1052672", "-c", "20000"}, 20000, 4096},
		{"1 MiB sequential reads, depth 64", []string{"-s", "1M", "-c", "1024"}, 1024, 1 << 20},
		{"1 MiB sequential writes, depth 64", []string{"-w", "-s", "1M", "-c", "1024"}, 1024, 1 << 20},
	}
	targets := []struct{ name, cache, url string }{
		{"nbd unix socket", "none", url},
		{"local file, O_DIRECT", "none", path},
		{"local file, page cache", "writeback", path},
	}
	var table strings.Builder
	fmt.Fprintf(&table, "\n%-34s %-24s %10s %10s\n", "load", "target", "MiB/s", "IOPS")
	for _, l := range loads {
		for _, tg := range targets {
			args := append([]string{"bench", "-f", "raw", "-t", tg.cache}, l.args...)
			secs := benchSeconds(t, run(t, "qemu-img", append(args, tg.url)...))
			fmt.Fprintf(&table, "%-34s %-24s %10.0f %10.0f\n", l.name, tg.name,
				float64(l.ops*l.size)/secs/(1<<20), float64(l.ops)/secs)
		}
	}
	t.Log(table.String())
	if os.Getenv("NBD_BENCH_PRINT") != "" {
		fmt.Print(table.String())
	}
}

var benchDone = regexp.MustCompile(`Run completed in ([0-9.]+) seconds`)

func benchSeconds(t *testing.T, out string) float64 {
	t.Helper()
	m := benchDone.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("qemu-img bench output: %s", out)
	}
	secs, err := strconv.ParseFloat(m[1], 64)
	if err != nil || secs <= 0 {
		secs = 1e-3
	}
	return secs
}
