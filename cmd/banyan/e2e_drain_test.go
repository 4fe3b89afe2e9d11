package main

import (
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestProcessS3DrainAndRemoveABox: an operator drains a box's disk with `banyan disk
// drain`; the healer moves every object off it (its disk ends up holding no object data)
// while reads go on, through the draining box too. The box is then removed for good and
// killed, and another box dies: every object still reads back byte for byte, which is
// only possible if the moved objects got full redundancy on the boxes that are left.
func TestProcessS3DrainAndRemoveABox(t *testing.T) {
	if testing.Short() {
		t.Skip("process-level test")
	}
	needAWSCLI(t)
	t0 := time.Now()
	procs := startClusterDisks(t, 4, 1)
	t.Logf("%v: cluster up", time.Since(t0).Round(time.Millisecond))
	env := adminEnv(procs[0])
	ep := func(i int) string { return "http://" + procs[i].ip + ":8773" }
	must := func(endpoint string, args ...string) string {
		t.Helper()
		out, errOut, ok := awsCLI(t, env, endpoint, quiet(args)...)
		if !ok {
			for _, p := range procs {
				p.dumpLog()
			}
			t.Fatalf("aws %s: %s", strings.Join(args, " "), errOut)
		}
		return out
	}
	admin := func(args ...string) string {
		t.Helper()
		code, out := run(t, append(args, "--data-dir", procs[0].dataDir)...)
		if code != 0 {
			t.Fatalf("banyan %s: %s", strings.Join(args, " "), out)
		}
		return out
	}
	must(ep(0), "s3", "mb", "s3://vault")
	src := t.TempDir()
	for i, size := range []int{0, 100, 50 << 10, 2 << 20, 9<<20 + 7} { // the last one is a multipart upload
		b := make([]byte, size)
		rand.Read(b)
		os.WriteFile(filepath.Join(src, fmt.Sprintf("obj%d", i)), b, 0o644)
	}
	must(ep(1), "s3", "sync", src, "s3://vault/")
	checkAll := func(endpoint string) {
		t.Helper()
		dst := t.TempDir()
		must(endpoint, "s3", "sync", "s3://vault/", dst)
		if a, b := treeHash(t, src), treeHash(t, dst); a != b {
			t.Fatalf("objects read back through %s differ from what was written", endpoint)
		}
	}
	victim := procs[3]
	dataFiles := func() []string {
		var files []string
		filepath.Walk(victim.dataDir+"-disk0", func(path string, info os.FileInfo, err error) error {
			if err == nil && !info.IsDir() && !strings.Contains(path, ".banyan.sys") {
				files = append(files, path)
			}
			return nil
		})
		return files
	}
	if len(dataFiles()) == 0 {
		t.Fatal("test setup: box 4's disk holds no object data")
	}
	// The disk of box 4, as `banyan disk list` shows it.
	var diskID string
	for _, line := range strings.Split(admin("disk", "list"), "\n") {
		if f := strings.Fields(line); len(f) > 4 && f[4] == victim.dataDir+"-disk0" {
			diskID = f[0]
		}
	}
	if diskID == "" {
		t.Fatal("box 4's disk is not in 'banyan disk list'")
	}
	if code, out := run(t, "disk", "drain", "no-such-disk", "--data-dir", procs[0].dataDir); code == 0 || !strings.Contains(out, "no disk") {
		t.Fatalf("draining an unknown disk: exit %d, %s", code, out)
	}

	t.Logf("%v: drain", time.Since(t0).Round(time.Millisecond))
	admin("disk", "drain", diskID)
	checkAll(ep(3)) // still readable, through the draining box too
	t.Logf("%v: heal", time.Since(t0).Round(time.Millisecond))
	admin("heal")
	if left := dataFiles(); len(left) != 0 {
		t.Fatalf("box 4's disk still holds object data after the drain: %v", left)
	}
	if list := admin("disk", "list"); !strings.Contains(list, "draining") || !strings.Contains(list, "left to move after the last scan") || !strings.HasSuffix(strings.TrimSpace(list), "): 0") {
		t.Fatalf("disk list does not show the finished drain:\n%s", list)
	}
	checkAll(ep(0))

	// Box 4 leaves for good and writes go on; then box 3 dies. The 3 boxes that were left
	// after the drain hold every object with one box's worth of parity, so nothing is lost.
	t.Logf("%v: remove", time.Since(t0).Round(time.Millisecond))
	admin("disk", "remove", diskID)
	victim.kill()
	b := make([]byte, 3<<20)
	rand.Read(b)
	os.WriteFile(filepath.Join(src, "after"), b, 0o644)
	must(ep(0), "s3", "cp", filepath.Join(src, "after"), "s3://vault/after")
	t.Logf("%v: kill box 3", time.Since(t0).Round(time.Millisecond))
	procs[2].kill()
	checkAll(ep(1))
	// The removed box no longer counts toward the cluster lock, so two live boxes of the
	// three that remain still take writes (Raft has lost its quorum; objects do not need it).
	rand.Read(b)
	os.WriteFile(filepath.Join(src, "after2"), b, 0o644)
	t.Logf("%v: write after2", time.Since(t0).Round(time.Millisecond))
	must(ep(1), "s3", "cp", filepath.Join(src, "after2"), "s3://vault/after2")
	checkAll(ep(0))
}
