package main

// A volume copy rebuilt on another box, end to end in the box lab: a volume with two
// copies is attached to a running instance; the box of the copy the instance does not
// write through loses power for good; after blockstore.rebuild_after the cluster names
// the third box in its place, the primary copies the volume onto it whole while it stays
// attached, and the new copy holds the same bytes as the surviving one. The lost box, when
// it returns, drops the copy it no longer holds.

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/banyancloud/banyan/packaging/boxlab"
)

func TestBoxLabEBSRebuild(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("the box lab needs root")
	}
	if _, err := exec.LookPath("aws"); err != nil {
		t.Skip("aws-cli is not installed")
	}
	image := guestImage(t)
	lab := boxlab.Start(t, boxlab.Config{Boxes: 3, Banyan: banyanBin})
	aws := &labCLI{t: t, lab: lab, endpoint: lab.Box(0).Endpoint()}
	for key, value := range map[string]string{"blockstore.replicas": "2", "blockstore.rebuild_after": "5s"} {
		if out, err := lab.Box(0).Exec(context.Background(), lab.Banyan(), "setting", "set", key, value, "--data-dir", lab.Box(0).DataDir()); err != nil {
			t.Fatalf("banyan setting set %s: %v %s", key, err, out)
		}
	}
	imageID := aws.importGuest(image)
	ud := filepath.Join(lab.Dir(), "volume-user-data.sh")
	if err := os.WriteFile(ud, []byte(volumeUserData), 0o644); err != nil {
		t.Fatal(err)
	}
	var run struct{ Instances []cliInstance }
	aws.must(&run, "ec2", "run-instances", "--image-id", imageID, "--instance-type", "t2.nano", "--user-data", "file://"+ud)
	inst := run.Instances[0]
	aws.waitState(3*time.Minute, "running", inst.InstanceId)
	primary := lab.Box(domainsByInstance(t, lab)[inst.InstanceId][0])

	var vol struct{ VolumeId string }
	aws.must(&vol, "ec2", "create-volume", "--availability-zone", inst.Placement.AvailabilityZone, "--size", "1", "--volume-type", "gp3")
	aws.waitVolume(vol.VolumeId, "available")
	copyOf := func(b *boxlab.Box) string { return filepath.Join(b.DataDir(), "volumes", vol.VolumeId+".img") }
	holds := func(b *boxlab.Box) bool { _, err := os.Stat(copyOf(b)); return err == nil }
	var holders []*boxlab.Box
	for _, b := range lab.Boxes() {
		if holds(b) {
			holders = append(holders, b)
		}
	}
	if len(holders) != 2 {
		t.Fatalf("%d copies, want 2 (blockstore.replicas)", len(holders))
	}
	aws.must(nil, "ec2", "attach-volume", "--volume-id", vol.VolumeId, "--instance-id", inst.InstanceId, "--device", "/dev/sdf")
	aws.waitVolume(vol.VolumeId, "in-use")
	waitFor(t, 3*time.Minute, "the guest's write to the volume", func() error {
		if out := aws.console(inst.InstanceId); !hashRE.MatchString(out) {
			return fmt.Errorf("not yet:\n%s", lastLines(out, 6))
		}
		return nil
	})

	// The lost box: a copy holder that does not run the instance.
	var lost, spare *boxlab.Box
	for _, b := range lab.Boxes() {
		switch {
		case slices.Contains(holders, b) && b != primary && lost == nil:
			lost = b
		case !slices.Contains(holders, b):
			spare = b
		}
	}
	if lost == nil || spare == nil {
		t.Fatalf("no lost/spare box among %v (primary box %d)", holders, primary.Index())
	}
	for _, b := range lab.Boxes() {
		if b != lost {
			aws.endpoint = b.Endpoint()
		}
	}
	if err := lost.PowerOff(); err != nil {
		t.Fatal(err)
	}
	off := time.Now()
	waitFor(t, 3*time.Minute, "the copy rebuilt on box "+spare.Name(), func() error {
		log, err := os.ReadFile(primary.Log())
		if err != nil {
			return err
		}
		for _, line := range strings.Split(string(log), "\n") {
			if strings.Contains(line, "volume copy back in sync") && strings.Contains(line, vol.VolumeId) && strings.Contains(line, "replica="+spare.Name()) {
				return nil
			}
		}
		return fmt.Errorf("no resync of %s's new copy logged yet", spare.Name())
	})
	t.Logf("%s's copy of box %d rebuilt on box %d and in sync %.1fs after its box lost power (rebuild_after 5s), the volume attached throughout",
		vol.VolumeId, lost.Index(), spare.Index(), time.Since(off).Seconds())
	var d struct {
		Volumes []struct {
			State       string
			Attachments []struct{ State, InstanceId string }
		}
	}
	aws.must(&d, "ec2", "describe-volumes", "--volume-ids", vol.VolumeId)
	if d.Volumes[0].State != "in-use" || len(d.Volumes[0].Attachments) != 1 || d.Volumes[0].Attachments[0].State != "attached" {
		t.Fatalf("the volume after the rebuild: %+v", d.Volumes[0])
	}

	// Detached, the surviving and the new copy hold the same bytes.
	aws.must(nil, "ec2", "detach-volume", "--volume-id", vol.VolumeId)
	aws.waitVolume(vol.VolumeId, "available")
	sums := map[string][]int{}
	for _, b := range lab.Boxes() {
		if b == lost {
			continue
		}
		out, err := exec.Command("sha256sum", copyOf(b)).Output()
		if err != nil {
			t.Fatalf("box %d's copy: %v", b.Index(), err)
		}
		sum := strings.Fields(string(out))[0]
		sums[sum] = append(sums[sum], b.Index())
	}
	if len(sums) != 1 {
		t.Fatalf("the copies differ: %v", sums)
	}

	// The lost box returns: it drops the copy it no longer holds.
	if err := lost.StartHypervisor(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := lost.Restart(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 2*time.Minute, "the returning box to drop its old copy", func() error {
		if holds(lost) {
			return fmt.Errorf("box %d still holds %s", lost.Index(), copyOf(lost))
		}
		return nil
	})
}
