package main

// EBS snapshots end to end in the box lab: a guest writes a volume, the detached volume
// is snapshotted into the object store, a volume created from the snapshot is attached
// to an instance on another box whose guest reads the same bytes (filled lazily from the
// snapshot's objects), and a snapshot of that volume after the guest rewrote one extent
// uploads that one extent.

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/banyancloud/banyan/packaging/boxlab"
)

// snapshotUserData waits for the volume (vdb). On a blank volume it writes a header and
// 4 MiB of random data after it (extents 0 and 1) and prints the data's hash; on a volume
// with the header it prints the hash of what it reads, then rewrites 4 MiB at 8 MiB
// (extent 2, one whole extent) and says so.
const snapshotUserData = `#!/bin/sh
while [ ! -b /dev/vdb ]; do sleep 1; done
echo "volume-seen"
if [ "$(dd if=/dev/vdb bs=8 count=1 2>/dev/null)" = "BANYANV1" ]; then
	echo "read=$(dd if=/dev/vdb bs=1M skip=1 count=4 iflag=direct 2>/dev/null | sha256sum | cut -d' ' -f1)"
	dd if=/dev/urandom of=/dev/vdb bs=1M seek=8 count=4 oflag=direct conv=fsync 2>/dev/null
	sync
	echo "extent-written"
else
	dd if=/dev/urandom of=/tmp/pat bs=1M count=4 2>/dev/null
	dd if=/tmp/pat of=/dev/vdb bs=1M seek=1 oflag=direct conv=fsync 2>/dev/null
	printf BANYANV1 | dd of=/dev/vdb bs=8 count=1 conv=notrunc,fsync 2>/dev/null
	sync
	echo "wrote=$(sha256sum /tmp/pat | cut -d' ' -f1)"
fi
`

// snapshotStats finds the taker's "snapshot taken" log line for id in the boxes' logs
// and returns its counters (uploaded, reused, zero extents; ms taken).
func snapshotStats(t *testing.T, lab *boxlab.Lab, id string) map[string]int {
	t.Helper()
	re := regexp.MustCompile(`msg="snapshot taken" .*snapshot=` + id + ` .*`)
	for _, box := range lab.Boxes() {
		b, err := os.ReadFile(box.Log())
		if err != nil {
			continue
		}
		line := re.FindString(string(b))
		if line == "" {
			continue
		}
		out := map[string]int{}
		for _, f := range strings.Fields(line) {
			if k, v, ok := strings.Cut(f, "="); ok {
				if n, err := strconv.Atoi(v); err == nil {
					out[k] = n
				} else if f, err := strconv.ParseFloat(v, 64); err == nil && k == "seconds" {
					out["ms"] = int(f * 1000)
				}
			}
		}
		out["box"] = box.Index()
		return out
	}
	t.Fatalf("no box logged taking snapshot %s", id)
	return nil
}

// snapshotObjects lists the shard folders of snapshot objects on every disk of the lab
// (an object's folder holds its .meta).
func snapshotObjects(lab *boxlab.Lab) []string {
	var out []string
	for _, box := range lab.Boxes() {
		filepath.Walk(box.DataDir(), func(p string, info os.FileInfo, err error) error {
			if err == nil && strings.Contains(p, "_banyan-snapshots") && info.Name() == ".meta" && !strings.Contains(p, ".banyan.sys") {
				out = append(out, filepath.Dir(p))
			}
			return nil
		})
	}
	return out
}

func TestBoxLabEBSSnapshots(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("the box lab needs root")
	}
	if _, err := exec.LookPath("aws"); err != nil {
		t.Skip("aws-cli is not installed")
	}
	image := guestImage(t)
	lab := boxlab.Start(t, boxlab.Config{Boxes: 3, Banyan: banyanBin})
	aws := &labCLI{t: t, lab: lab, endpoint: lab.Box(1).Endpoint()}
	imageID := aws.importGuest(image)

	udFile := filepath.Join(lab.Dir(), "snapshot-user-data.sh")
	if err := os.WriteFile(udFile, []byte(snapshotUserData), 0o644); err != nil {
		t.Fatal(err)
	}
	var run struct{ Instances []cliInstance }
	aws.must(&run, "ec2", "run-instances", "--image-id", imageID, "--count", "2", "--instance-type", "t2.nano",
		"--user-data", "file://"+udFile)
	a, b := run.Instances[0], run.Instances[1]
	aws.waitState(3*time.Minute, "running", a.InstanceId, b.InstanceId)
	where := domainsByInstance(t, lab)
	if where[a.InstanceId][0] == where[b.InstanceId][0] {
		t.Fatalf("both instances on box %d", where[a.InstanceId][0])
	}
	zone := a.Placement.AvailabilityZone

	waitSnapshot := func(id string) {
		t.Helper()
		var progress []string
		waitFor(t, 3*time.Minute, id+" completed", func() error {
			var d struct {
				Snapshots []struct{ State, Progress, StateMessage string }
			}
			if err := aws.run(&d, "ec2", "describe-snapshots", "--snapshot-ids", id); err != nil {
				return err
			}
			s := d.Snapshots[0]
			if len(progress) == 0 || progress[len(progress)-1] != s.Progress {
				progress = append(progress, s.Progress)
			}
			switch s.State {
			case "completed":
				if s.Progress != "100%" {
					t.Fatalf("%s completed at %s", id, s.Progress)
				}
				return nil
			case "error":
				t.Fatalf("%s failed: %s", id, s.StateMessage)
			}
			return fmt.Errorf("snapshot is %s at %s", s.State, s.Progress)
		})
		t.Logf("%s progress seen: %v", id, progress)
	}
	console := func(id, what string) string {
		t.Helper()
		var hash string
		waitFor(t, 3*time.Minute, what+" on the console of "+id, func() error {
			out := aws.console(id)
			for _, m := range hashRE.FindAllStringSubmatch(out, -1) {
				if m[1] == what {
					hash = m[2]
					return nil
				}
			}
			return fmt.Errorf("no %s= yet:\n%s", what, lastLines(out, 8))
		})
		return hash
	}

	// A guest writes the volume; it is detached and snapshotted.
	var vol struct{ VolumeId string }
	aws.must(&vol, "ec2", "create-volume", "--availability-zone", zone, "--size", "1", "--volume-type", "gp3")
	aws.waitVolume(vol.VolumeId, "available")
	aws.must(nil, "ec2", "attach-volume", "--volume-id", vol.VolumeId, "--instance-id", a.InstanceId, "--device", "/dev/sdf")
	wrote := console(a.InstanceId, "wrote")
	aws.must(nil, "ec2", "detach-volume", "--volume-id", vol.VolumeId)
	aws.waitVolume(vol.VolumeId, "available")

	var snap1 struct{ SnapshotId, State string }
	start := time.Now()
	aws.must(&snap1, "ec2", "create-snapshot", "--volume-id", vol.VolumeId, "--description", "e2e first",
		"--tag-specifications", "ResourceType=snapshot,Tags=[{Key=purpose,Value=e2e}]")
	if snap1.State != "pending" {
		t.Fatalf("a new snapshot is %q", snap1.State)
	}
	waitSnapshot(snap1.SnapshotId)
	s1 := snapshotStats(t, lab, snap1.SnapshotId)
	t.Logf("snapshot %s of the detached volume: %.1fs, taken on box %d: %v", snap1.SnapshotId, time.Since(start).Seconds(), s1["box"], s1)
	if s1["uploaded"] != 2 || s1["zero"] != 254 || s1["extents"] != 256 {
		t.Fatalf("first snapshot stored %v; want 2 extents uploaded and 254 zero ones not stored", s1)
	}
	var tagged struct{ Snapshots []struct{ SnapshotId string } }
	aws.must(&tagged, "ec2", "describe-snapshots", "--owner-ids", "self", "--filters", "Name=tag:purpose,Values=e2e", "Name=status,Values=completed")
	if len(tagged.Snapshots) != 1 || tagged.Snapshots[0].SnapshotId != snap1.SnapshotId {
		t.Fatalf("describe-snapshots by tag and status: %+v", tagged.Snapshots)
	}
	if err := aws.run(nil, "ec2", "create-volume", "--availability-zone", zone, "--snapshot-id", snap1.SnapshotId, "--size", "0"); err == nil {
		t.Fatal("a volume smaller than its snapshot was created")
	}

	// A larger volume from the snapshot, attached to the instance on another box: its
	// guest reads the bytes the first guest wrote.
	var vol2 struct {
		VolumeId, SnapshotId string
		Size                 int
	}
	aws.must(&vol2, "ec2", "create-volume", "--availability-zone", zone, "--snapshot-id", snap1.SnapshotId, "--size", "2")
	if vol2.SnapshotId != snap1.SnapshotId || vol2.Size != 2 {
		t.Fatalf("volume from the snapshot: %+v", vol2)
	}
	aws.waitVolume(vol2.VolumeId, "available")
	aws.must(nil, "ec2", "attach-volume", "--volume-id", vol2.VolumeId, "--instance-id", b.InstanceId, "--device", "/dev/sdf")
	read := console(b.InstanceId, "read")
	if read != wrote {
		t.Fatalf("guest %s read %s from the volume made from the snapshot; guest %s wrote %s", b.InstanceId, read, a.InstanceId, wrote)
	}
	t.Logf("guest %s on box %d read the snapshot's bytes from %s", b.InstanceId, where[b.InstanceId][0], vol2.VolumeId)
	waitFor(t, time.Minute, "the guest rewriting one extent", func() error {
		if !strings.Contains(aws.console(b.InstanceId), "extent-written") {
			return fmt.Errorf("not yet")
		}
		return nil
	})

	// A snapshot of the attached volume (the primary freezes it) after one extent changed
	// is incremental to the snapshot the volume was made from: one extent uploaded.
	var snap2 struct{ SnapshotId string }
	aws.must(&snap2, "ec2", "create-snapshot", "--volume-id", vol2.VolumeId)
	waitSnapshot(snap2.SnapshotId)
	s2 := snapshotStats(t, lab, snap2.SnapshotId)
	t.Logf("snapshot %s of the attached volume, taken on box %d: %v", snap2.SnapshotId, s2["box"], s2)
	if s2["box"] != where[b.InstanceId][0] {
		t.Fatalf("snapshot of an attached volume taken on box %d, not its primary %d", s2["box"], where[b.InstanceId][0])
	}
	if s2["uploaded"] != 1 || s2["reused"] != 2 || s2["extents"] != 512 {
		t.Fatalf("second snapshot after writing one extent stored %v; want 1 uploaded and 2 shared", s2)
	}

	// A copy, shared with nothing new; then every snapshot goes and its objects with it
	// (once the volume made from the first has filled, it no longer needs them).
	var cp struct{ SnapshotId string }
	aws.must(&cp, "ec2", "copy-snapshot", "--source-region", "us-east-1", "--source-snapshot-id", snap2.SnapshotId)
	waitSnapshot(cp.SnapshotId)
	if n := len(snapshotObjects(lab)); n == 0 {
		t.Fatal("no snapshot object found on any disk of the lab")
	} else {
		t.Logf("%d shards of snapshot objects on the lab's disks before the deletes", n)
	}
	for _, id := range []string{snap1.SnapshotId, snap2.SnapshotId, cp.SnapshotId} {
		aws.must(nil, "ec2", "delete-snapshot", "--snapshot-id", id)
		if err := aws.run(nil, "ec2", "describe-snapshots", "--snapshot-ids", id); err == nil || !strings.Contains(err.Error(), "InvalidSnapshot.NotFound") {
			t.Fatalf("describing deleted %s: %v", id, err)
		}
	}
	waitFor(t, 2*time.Minute, "the snapshots' objects deleted", func() error {
		if left := snapshotObjects(lab); len(left) > 0 {
			return fmt.Errorf("%d objects left, e.g. %s", len(left), left[0])
		}
		return nil
	})
	aws.must(nil, "ec2", "detach-volume", "--volume-id", vol2.VolumeId)
	aws.waitVolume(vol2.VolumeId, "available")
	aws.must(nil, "ec2", "delete-volume", "--volume-id", vol2.VolumeId)
	aws.must(nil, "ec2", "delete-volume", "--volume-id", vol.VolumeId)
	aws.must(nil, "ec2", "terminate-instances", "--instance-ids", a.InstanceId, b.InstanceId)
}
