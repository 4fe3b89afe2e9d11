package main

// Boot from volume end to end in the box lab, with the installed aws-cli: a guest of the
// imported (instance-store) image copies its own root disk, the bootable test image, into
// a volume; a snapshot of that volume is registered as an EBS-backed image; an instance
// of it boots from its root volume over NBD (no root disk file on its box), its user data
// writes a marker onto the root disk, which survives a stop and start and is found by an
// instance of the image CreateImage made of it; terminating deletes the root volumes.

import (
	"context"
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

// copyRootUserData copies the guest's root disk (vda, the 64 MiB test image) onto the
// attached volume (vdb) and prints the hashes of both.
const copyRootUserData = `#!/bin/sh
while [ ! -b /dev/vdb ]; do sleep 1; done
dd if=/dev/vda of=/dev/vdb bs=1M count=64 oflag=direct conv=fsync 2>/dev/null
sync
echo "root-copy src=$(dd if=/dev/vda bs=1M count=64 2>/dev/null | sha256sum | cut -d' ' -f1) dst=$(dd if=/dev/vdb bs=1M count=64 iflag=direct 2>/dev/null | sha256sum | cut -d' ' -f1)"
`

// markerUserData runs on every boot of an instance booted from its volume: it looks for
// a marker 512 MiB into its root disk (past the image) and, when there is none, writes
// one naming this instance.
const markerUserData = `#!/bin/sh
m=$(dd if=/dev/vda bs=512 skip=1048576 count=1 iflag=direct 2>/dev/null | tr -d '\000' | head -c 64)
case "$m" in
BANYANBOOT*) echo "marker-found=${m#BANYANBOOT }" ;;
*)
	id=$(wget -q -O - http://169.254.169.254/latest/meta-data/instance-id)
	printf 'BANYANBOOT %s' "$id" | dd of=/dev/vda bs=512 seek=1048576 conv=notrunc,fsync 2>/dev/null
	sync
	echo "marker-written=$id"
	;;
esac
`

var (
	rootCopyRE = regexp.MustCompile(`root-copy src=([0-9a-f]{64}) dst=([0-9a-f]{64})`)
	markerRE   = regexp.MustCompile(`marker-(found|written)=(i-[0-9a-f]+)`)
)

type cliMapping struct {
	DeviceName string
	Ebs        struct {
		VolumeId, Status, AttachTime, SnapshotId, VolumeType string
		VolumeSize                                           int
		DeleteOnTermination                                  bool
	}
}

type cliBootInstance struct {
	InstanceId, RootDeviceType, RootDeviceName string
	State                                      struct{ Name string }
	BlockDeviceMappings                        []cliMapping
}

func TestBoxLabEBSBoot(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("the box lab needs root")
	}
	if _, err := exec.LookPath("aws"); err != nil {
		t.Skip("aws-cli is not installed")
	}
	image := guestImage(t)
	lab := boxlab.Start(t, boxlab.Config{Boxes: 2, Banyan: banyanBin})
	aws := &labCLI{t: t, lab: lab, endpoint: lab.Box(1).Endpoint()}
	imported := aws.importGuest(image)

	writeUD := func(name, body string) string {
		p := filepath.Join(lab.Dir(), name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return "file://" + p
	}
	describeImage := func(id string) (im struct {
		State, RootDeviceType, RootDeviceName string
		BlockDeviceMappings                   []cliMapping
	}) {
		t.Helper()
		var d struct {
			Images []struct {
				State, RootDeviceType, RootDeviceName string
				BlockDeviceMappings                   []cliMapping
			}
		}
		aws.must(&d, "ec2", "describe-images", "--image-ids", id)
		return d.Images[0]
	}
	describe := func(id string) cliBootInstance {
		t.Helper()
		var d struct {
			Reservations []struct{ Instances []cliBootInstance }
		}
		aws.must(&d, "ec2", "describe-instances", "--instance-ids", id)
		return d.Reservations[0].Instances[0]
	}
	type cliVolume struct {
		State, SnapshotId string
		Size              int
		Attachments       []struct{ InstanceId, Device, State string }
	}
	volume := func(id string) (cliVolume, error) {
		var d struct{ Volumes []cliVolume }
		if err := aws.run(&d, "ec2", "describe-volumes", "--volume-ids", id); err != nil {
			return cliVolume{}, err
		}
		return d.Volumes[0], nil
	}
	consoleMatch := func(id string, re *regexp.Regexp, ok func([]string) bool) []string {
		t.Helper()
		var got []string
		waitFor(t, 4*time.Minute, re.String()+" on the console of "+id, func() error {
			out := aws.console(id)
			for _, m := range re.FindAllStringSubmatch(out, -1) {
				if ok(m) {
					got = m
					return nil
				}
			}
			return fmt.Errorf("not yet:\n%s", lastLines(out, 8))
		})
		return got
	}

	// The imported image is instance-store.
	if im := describeImage(imported); im.RootDeviceType != "instance-store" || im.RootDeviceName != "/dev/sda1" || len(im.BlockDeviceMappings) != 0 {
		t.Fatalf("imported image: %+v", im)
	}

	// A guest of it copies its bootable root disk into a volume, which is snapshotted and
	// registered as an EBS-backed image.
	bootable := registerBootableImage(t, aws, lab, imported, "boot-e2e")
	reg := struct{ ImageId string }{bootable.ImageID}
	snap := struct{ SnapshotId string }{bootable.SnapshotID}
	zone := bootable.Zone
	var run struct{ Instances []cliInstance }
	if im := describeImage(reg.ImageId); im.State != "available" || im.RootDeviceType != "ebs" || im.RootDeviceName != "/dev/xvda" ||
		len(im.BlockDeviceMappings) != 1 || im.BlockDeviceMappings[0].Ebs.SnapshotId != snap.SnapshotId ||
		im.BlockDeviceMappings[0].Ebs.VolumeSize != 2 || !im.BlockDeviceMappings[0].Ebs.DeleteOnTermination {
		t.Fatalf("registered image: %+v", im)
	}
	if err := aws.run(nil, "ec2", "run-instances", "--image-id", reg.ImageId, "--instance-type", "t2.nano",
		"--block-device-mappings", "DeviceName=/dev/xvda,Ebs={VolumeSize=1}"); err == nil || !strings.Contains(err.Error(), "InvalidBlockDeviceMapping") {
		t.Fatalf("a root volume smaller than its snapshot: %v", err)
	}

	// An instance of it boots from its root volume.
	markerUD := writeUD("marker.sh", markerUserData)
	start := time.Now()
	aws.must(&run, "ec2", "run-instances", "--image-id", reg.ImageId, "--instance-type", "t2.nano", "--user-data", markerUD,
		"--placement", "AvailabilityZone="+zone, "--block-device-mappings", "DeviceName=/dev/xvda,Ebs={VolumeSize=3}")
	first := run.Instances[0].InstanceId
	aws.waitState(3*time.Minute, "running", first)
	consoleMatch(first, markerRE, func(m []string) bool { return m[1] == "written" && m[2] == first })
	t.Logf("%s booted from its volume and wrote its marker %.1fs after RunInstances", first, time.Since(start).Seconds())
	out := aws.console(first)
	for _, want := range []string{"banyan-guest: booted", "banyan-guest: instance-id=" + first} {
		if !strings.Contains(out, want) {
			t.Fatalf("console of %s lacks %q:\n%s", first, want, lastLines(out, 20))
		}
	}
	in := describe(first)
	if in.RootDeviceType != "ebs" || in.RootDeviceName != "/dev/xvda" || len(in.BlockDeviceMappings) != 1 {
		t.Fatalf("instance booted from a volume: %+v", in)
	}
	rootMap := in.BlockDeviceMappings[0]
	rootVol := rootMap.Ebs.VolumeId
	if rootMap.DeviceName != "/dev/xvda" || rootMap.Ebs.Status != "attached" || !rootMap.Ebs.DeleteOnTermination || rootMap.Ebs.AttachTime == "" {
		t.Fatalf("root mapping %+v", rootMap)
	}
	if v, err := volume(rootVol); err != nil || v.State != "in-use" || v.Size != 3 || v.SnapshotId != snap.SnapshotId ||
		len(v.Attachments) != 1 || v.Attachments[0].InstanceId != first || v.Attachments[0].Device != "/dev/xvda" {
		t.Fatalf("root volume %+v %v", v, err)
	}
	// Its box runs it from the NBD export, with no root disk file of its own.
	where := domainsByInstance(t, lab)
	if len(where[first]) != 1 {
		t.Fatalf("%s has domains on boxes %v", first, where[first])
	}
	box := lab.Box(where[first][0])
	xml, err := box.Exec(context.Background(), "virsh", "-c", "qemu:///system", "dumpxml", first)
	if err != nil {
		t.Fatalf("virsh dumpxml: %v %s", err, xml)
	}
	if !regexp.MustCompile(`(?s)<disk type=.network. device=.disk.>.*?<source protocol=.nbd. name=.` + rootVol + `.[^>]*>.*?<target dev=.vda.`).Match(xml) {
		t.Fatalf("the domain's vda is not the root volume over NBD:\n%s", xml)
	}
	if _, err := os.Stat(filepath.Join(box.DataDir(), "instances", first, "root.qcow2")); err == nil {
		t.Fatal("an EBS-backed instance has a root disk file")
	}

	// Stop and start: the root volume stays attached, the marker is still there.
	aws.must(nil, "ec2", "stop-instances", "--instance-ids", first)
	aws.waitState(2*time.Minute, "stopped", first)
	if v, _ := volume(rootVol); v.State != "in-use" || len(v.Attachments) != 1 {
		t.Fatalf("root volume of the stopped instance: %+v", v)
	}
	aws.must(nil, "ec2", "start-instances", "--instance-ids", first)
	aws.waitState(3*time.Minute, "running", first)
	consoleMatch(first, markerRE, func(m []string) bool { return m[1] == "found" && m[2] == first })
	t.Logf("%s found its marker after a stop and start", first)

	// CreateImage of it; an instance of that image finds the first one's marker.
	var made struct{ ImageId string }
	aws.must(&made, "ec2", "create-image", "--instance-id", first, "--name", "boot-e2e-copy")
	waitFor(t, 3*time.Minute, "the created image available", func() error {
		if im := describeImage(made.ImageId); im.State != "available" {
			return fmt.Errorf("image is %s", im.State)
		}
		return nil
	})
	im := describeImage(made.ImageId)
	if im.RootDeviceType != "ebs" || len(im.BlockDeviceMappings) != 1 || im.BlockDeviceMappings[0].Ebs.SnapshotId == "" || im.BlockDeviceMappings[0].Ebs.VolumeSize != 3 {
		t.Fatalf("created image %+v", im)
	}
	aws.must(nil, "ec2", "terminate-instances", "--instance-ids", first)
	aws.waitState(2*time.Minute, "terminated", first)
	waitFor(t, 2*time.Minute, "the terminated instance's root volume deleted", func() error {
		if err := aws.run(nil, "ec2", "describe-volumes", "--volume-ids", rootVol); err == nil || !strings.Contains(err.Error(), "InvalidVolume.NotFound") {
			return fmt.Errorf("still there: %v", err)
		}
		return nil
	})

	aws.must(&run, "ec2", "run-instances", "--image-id", made.ImageId, "--instance-type", "t2.nano", "--user-data", markerUD)
	second := run.Instances[0].InstanceId
	aws.waitState(3*time.Minute, "running", second)
	consoleMatch(second, markerRE, func(m []string) bool { return m[1] == "found" && m[2] == first })
	t.Logf("%s, launched from the image of %s, found its marker", second, first)
	secondRoot := describe(second).BlockDeviceMappings[0].Ebs.VolumeId
	aws.must(nil, "ec2", "terminate-instances", "--instance-ids", second)
	aws.waitState(2*time.Minute, "terminated", second)
	waitFor(t, 2*time.Minute, "the second root volume deleted", func() error {
		if err := aws.run(nil, "ec2", "describe-volumes", "--volume-ids", secondRoot); err == nil || !strings.Contains(err.Error(), "InvalidVolume.NotFound") {
			return fmt.Errorf("still there: %v", err)
		}
		return nil
	})
	if err := aws.run(nil, "ec2", "delete-snapshot", "--snapshot-id", snap.SnapshotId); err == nil || !strings.Contains(err.Error(), "InvalidSnapshot.InUse") {
		t.Fatalf("deleting the registered image's snapshot: %v", err)
	}
	where = domainsByInstance(t, lab)
	if len(where[first])+len(where[second]) > 0 {
		t.Fatalf("domains left: %v", where)
	}
}
