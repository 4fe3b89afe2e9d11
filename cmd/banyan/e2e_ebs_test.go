package main

// EBS end to end in the box lab: a volume written by one instance's guest is read back,
// byte for byte, by another instance's guest on another box.

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/banyancloud/banyan/packaging/boxlab"
)

// volumeUserData waits for the volume (the guest's first hot-plugged disk, vdb) and
// either writes 4 MiB of random data after a header and prints its hash, or, when the
// header is there already, prints the hash of what it reads.
const volumeUserData = `#!/bin/sh
while [ ! -b /dev/vdb ]; do sleep 1; done
echo "volume-seen"
if [ "$(dd if=/dev/vdb bs=8 count=1 2>/dev/null)" = "BANYANV1" ]; then
	echo "read=$(dd if=/dev/vdb bs=1M skip=1 count=4 iflag=direct 2>/dev/null | sha256sum | cut -d' ' -f1)"
	# Then keep writing, one 64 KiB block every half second, while the test kills a
	# replica's box: every write must succeed.
	i=0
	while [ $i -lt 40 ]; do
		dd if=/dev/urandom of=/dev/vdb bs=64k seek=$((128 + i)) count=1 oflag=direct conv=fsync 2>/tmp/dd.err || echo "block-write-failed=$i $(cat /tmp/dd.err)"
		echo "block=$i"
		i=$((i + 1))
		sleep 0.5
	done
	sync
	echo "blocks-done"
else
	dd if=/dev/urandom of=/tmp/pat bs=1M count=4 2>/dev/null
	dd if=/tmp/pat of=/dev/vdb bs=1M seek=1 oflag=direct conv=fsync 2>/dev/null
	printf BANYANV1 | dd of=/dev/vdb bs=8 count=1 conv=notrunc,fsync 2>/dev/null
	sync
	echo "wrote=$(sha256sum /tmp/pat | cut -d' ' -f1)"
fi
`

var hashRE = regexp.MustCompile(`(wrote|read)=([0-9a-f]{64})`)

func TestBoxLabEBS(t *testing.T) {
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

	udFile := filepath.Join(lab.Dir(), "volume-user-data.sh")
	if err := os.WriteFile(udFile, []byte(volumeUserData), 0o644); err != nil {
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

	var vol struct{ VolumeId, State string }
	aws.must(&vol, "ec2", "create-volume", "--availability-zone", a.Placement.AvailabilityZone, "--size", "1", "--volume-type", "gp3")
	aws.waitVolume(vol.VolumeId, "available")
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

	start := time.Now()
	aws.must(nil, "ec2", "attach-volume", "--volume-id", vol.VolumeId, "--instance-id", a.InstanceId, "--device", "/dev/sdf")
	aws.waitVolume(vol.VolumeId, "in-use")
	wrote := console(a.InstanceId, "wrote")
	t.Logf("guest %s wrote %s, %.1fs after AttachVolume", a.InstanceId, wrote, time.Since(start).Seconds())

	aws.must(nil, "ec2", "detach-volume", "--volume-id", vol.VolumeId)
	aws.waitVolume(vol.VolumeId, "available")
	aws.must(nil, "ec2", "attach-volume", "--volume-id", vol.VolumeId, "--instance-id", b.InstanceId, "--device", "/dev/sdf")
	read := console(b.InstanceId, "read")
	if read != wrote {
		t.Fatalf("guest %s read %s from the volume guest %s wrote %s", b.InstanceId, read, a.InstanceId, wrote)
	}
	t.Logf("guest %s on another box read the same bytes", b.InstanceId)

	// The guest keeps writing; SIGKILL the banyan of a replica box that is neither the
	// primary (b's box) nor the endpoint: the writes go on, and the copy is resynced
	// when the box is back.
	primary := lab.Box(where[b.InstanceId][0])
	var victim *boxlab.Box
	for _, box := range lab.Boxes() {
		if box != primary && box.Endpoint() != aws.endpoint {
			victim = box
		}
	}
	waitFor(t, time.Minute, "the guest writing blocks", func() error {
		if !strings.Contains(aws.console(b.InstanceId), "block=3\r\n") && !strings.Contains(aws.console(b.InstanceId), "block=3\n") {
			return fmt.Errorf("no block=3 yet")
		}
		return nil
	})
	if err := victim.Kill(); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	waitFor(t, time.Minute, "writes going on without the replica", func() error {
		if !strings.Contains(aws.console(b.InstanceId), "block=15") {
			return fmt.Errorf("no block=15 yet")
		}
		return nil
	})
	if err := victim.Restart(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 2*time.Minute, "the guest done writing", func() error {
		out := aws.console(b.InstanceId)
		for _, line := range strings.Split(out, "\n") {
			if strings.HasPrefix(strings.TrimSpace(line), "block-write-failed=") || strings.Contains(line, "I/O error") {
				t.Fatalf("a guest write failed while a replica's box was down: %q\n%s", line, lastLines(out, 20))
			}
		}
		if !strings.Contains(out, "blocks-done") {
			return fmt.Errorf("not done yet")
		}
		return nil
	})
	waitFor(t, 2*time.Minute, "the restarted box's copy back in sync", func() error {
		log, err := os.ReadFile(primary.Log())
		if err != nil {
			return err
		}
		if !strings.Contains(string(log), "volume copy back in sync") || !strings.Contains(string(log), victim.Name()) {
			return fmt.Errorf("no resync of %s's copy logged yet", victim.Name())
		}
		return nil
	})
	t.Logf("box %d's copy back in sync %.1fs after its banyan was killed", victim.Index(), time.Since(killed).Seconds())

	// In-use volumes refuse deletion; detached ones go, copies and all.
	if err := aws.run(nil, "ec2", "delete-volume", "--volume-id", vol.VolumeId); err == nil || !strings.Contains(err.Error(), "VolumeInUse") {
		t.Fatalf("deleting an attached volume: %v", err)
	}
	aws.must(nil, "ec2", "detach-volume", "--volume-id", vol.VolumeId)
	aws.waitVolume(vol.VolumeId, "available")
	// Every copy holds the same bytes.
	sums := map[string][]int{}
	for _, box := range lab.Boxes() {
		out, err := exec.Command("sha256sum", filepath.Join(box.DataDir(), "volumes", vol.VolumeId+".img")).Output()
		if err != nil {
			t.Fatalf("box %d's copy: %v", box.Index(), err)
		}
		sum := strings.Fields(string(out))[0]
		sums[sum] = append(sums[sum], box.Index())
	}
	if len(sums) != 1 {
		t.Fatalf("the copies differ: %v", sums)
	}
	aws.must(nil, "ec2", "delete-volume", "--volume-id", vol.VolumeId)
	waitFor(t, time.Minute, "the volume's copies gone", func() error {
		for _, box := range lab.Boxes() {
			if m, _ := filepath.Glob(filepath.Join(box.DataDir(), "volumes", vol.VolumeId+".*")); len(m) > 0 {
				return fmt.Errorf("box %d still has %v", box.Index(), m)
			}
		}
		return nil
	})
	aws.must(nil, "ec2", "terminate-instances", "--instance-ids", a.InstanceId, b.InstanceId)
}
