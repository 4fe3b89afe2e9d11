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
	waitVolume := func(state string) {
		t.Helper()
		waitFor(t, 2*time.Minute, vol.VolumeId+" "+state, func() error {
			var d struct{ Volumes []struct{ State string } }
			if err := aws.run(&d, "ec2", "describe-volumes", "--volume-ids", vol.VolumeId); err != nil {
				return err
			}
			if d.Volumes[0].State != state {
				return fmt.Errorf("volume is %s", d.Volumes[0].State)
			}
			return nil
		})
	}
	waitVolume("available")
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
	waitVolume("in-use")
	wrote := console(a.InstanceId, "wrote")
	t.Logf("guest %s wrote %s, %.1fs after AttachVolume", a.InstanceId, wrote, time.Since(start).Seconds())

	aws.must(nil, "ec2", "detach-volume", "--volume-id", vol.VolumeId)
	waitVolume("available")
	aws.must(nil, "ec2", "attach-volume", "--volume-id", vol.VolumeId, "--instance-id", b.InstanceId, "--device", "/dev/sdf")
	read := console(b.InstanceId, "read")
	if read != wrote {
		t.Fatalf("guest %s read %s from the volume guest %s wrote %s", b.InstanceId, read, a.InstanceId, wrote)
	}
	t.Logf("guest %s on another box read the same bytes", b.InstanceId)

	// In-use volumes refuse deletion; detached ones go, copies and all.
	if err := aws.run(nil, "ec2", "delete-volume", "--volume-id", vol.VolumeId); err == nil || !strings.Contains(err.Error(), "VolumeInUse") {
		t.Fatalf("deleting an attached volume: %v", err)
	}
	aws.must(nil, "ec2", "detach-volume", "--volume-id", vol.VolumeId)
	waitVolume("available")
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
