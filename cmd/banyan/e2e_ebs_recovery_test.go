package main

// Instances that outlive their box, end to end in the box lab with the installed aws-cli:
// the banyan of the box that runs an EBS-backed instance with an elastic IP is killed (its
// VM keeps running, as when a box's agent dies or its network is cut); the dead box's
// lease on the public address lapses; the cluster restarts the instance on another box
// with the same ID, address, elastic IP and volumes, where it finds what it wrote and
// answers the LAN at its elastic IP; when the killed box comes back its agent removes the
// VM it still runs, and its copies are brought back to the bytes the new primary serves.

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

// bootableImage is an EBS-backed image of the test guest.
type bootableImage struct {
	ImageID, SnapshotID, Zone string
}

// registerBootableImage makes an EBS-backed image of the test guest: an instance of the
// imported (instance-store) image copies its own root disk into a volume, the volume is
// snapshotted, and the snapshot is registered as the root device /dev/xvda.
func registerBootableImage(t *testing.T, aws *labCLI, lab *boxlab.Lab, imported, name string) bootableImage {
	t.Helper()
	ud := filepath.Join(lab.Dir(), "copy-root.sh")
	if err := os.WriteFile(ud, []byte(copyRootUserData), 0o644); err != nil {
		t.Fatal(err)
	}
	var run struct{ Instances []cliInstance }
	aws.must(&run, "ec2", "run-instances", "--image-id", imported, "--instance-type", "t2.nano", "--user-data", "file://"+ud)
	copier := run.Instances[0]
	aws.waitState(3*time.Minute, "running", copier.InstanceId)
	zone := copier.Placement.AvailabilityZone
	var src struct{ VolumeId string }
	aws.must(&src, "ec2", "create-volume", "--availability-zone", zone, "--size", "2", "--volume-type", "gp3")
	aws.waitVolume(src.VolumeId, "available")
	aws.must(nil, "ec2", "attach-volume", "--volume-id", src.VolumeId, "--instance-id", copier.InstanceId, "--device", "/dev/sdf")
	var m []string
	waitFor(t, 4*time.Minute, "the guest's copy of its root disk", func() error {
		out := aws.console(copier.InstanceId)
		if m = rootCopyRE.FindStringSubmatch(out); m == nil {
			return fmt.Errorf("not yet:\n%s", lastLines(out, 8))
		}
		return nil
	})
	if m[1] != m[2] {
		t.Fatalf("the guest's copy of its root disk reads back %s, the disk is %s", m[2], m[1])
	}
	aws.must(nil, "ec2", "terminate-instances", "--instance-ids", copier.InstanceId)
	aws.waitVolume(src.VolumeId, "available")
	var snap struct{ SnapshotId string }
	aws.must(&snap, "ec2", "create-snapshot", "--volume-id", src.VolumeId, "--description", "bootable guest")
	waitFor(t, 3*time.Minute, "the snapshot completed", func() error {
		var d struct{ Snapshots []struct{ State string } }
		if err := aws.run(&d, "ec2", "describe-snapshots", "--snapshot-ids", snap.SnapshotId); err != nil {
			return err
		}
		if d.Snapshots[0].State != "completed" {
			return fmt.Errorf("snapshot is %s", d.Snapshots[0].State)
		}
		return nil
	})
	var reg struct{ ImageId string }
	aws.must(&reg, "ec2", "register-image", "--name", name, "--architecture", "x86_64", "--root-device-name", "/dev/xvda",
		"--block-device-mappings", "DeviceName=/dev/xvda,Ebs={SnapshotId="+snap.SnapshotId+",VolumeType=gp3}")
	return bootableImage{ImageID: reg.ImageId, SnapshotID: snap.SnapshotId, Zone: zone}
}

// markerHTTPUserData is markerUserData that also serves, on port 8080, which of the two
// it did ("written ID" or "found ID"), so a client can tell the recovered guest from a VM
// that outlived its box.
const markerHTTPUserData = `#!/bin/sh
m=$(dd if=/dev/vda bs=512 skip=1048576 count=1 iflag=direct 2>/dev/null | tr -d '\000' | head -c 64)
case "$m" in
BANYANBOOT*) id=${m#BANYANBOOT }; kind=found ;;
*)
	id=$(wget -q -O - http://169.254.169.254/latest/meta-data/instance-id)
	printf 'BANYANBOOT %s' "$id" | dd of=/dev/vda bs=512 seek=1048576 conv=notrunc,fsync 2>/dev/null
	sync
	kind=written
	;;
esac
mkdir -p /tmp/www
echo "$kind $id" > /tmp/www/index.html
busybox httpd -p 8080 -h /tmp/www
echo "marker-$kind=$id"
`

func TestBoxLabEBSRecovery(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("the box lab needs root")
	}
	if _, err := exec.LookPath("aws"); err != nil {
		t.Skip("aws-cli is not installed")
	}
	image := guestImage(t)
	// Three boxes: the two that are left keep a Raft majority to decide the recovery.
	lab := boxlab.Start(t, boxlab.Config{Boxes: 3, Banyan: banyanBin})
	aws := &labCLI{t: t, lab: lab, endpoint: lab.Box(0).Endpoint()}
	bootable := registerBootableImage(t, aws, lab, aws.importGuest(image), "recovery-e2e")
	// Recover after 5 s down rather than the default 30 s.
	if out, err := lab.Box(0).Exec(context.Background(), lab.Banyan(), "setting", "set", "compute.recovery_after", "5s", "--data-dir", lab.Box(0).DataDir()); err != nil {
		t.Fatalf("banyan setting set: %v %s", err, out)
	}

	// The pool of public addresses, and a default group that lets the LAN in on 8080 and ICMP.
	pool := fmt.Sprintf("10.%d.0.200/29", lab.ID())
	if out, err := lab.Box(0).Exec(context.Background(), lab.Banyan(), "setting", "set", "network.public_cidr", pool, "--data-dir", lab.Box(0).DataDir()); err != nil {
		t.Fatalf("setting the pool: %v: %s", err, out)
	}
	var groups struct{ SecurityGroups []struct{ GroupId string } }
	aws.must(&groups, "ec2", "describe-security-groups", "--group-names", "default")
	aws.must(nil, "ec2", "authorize-security-group-ingress", "--group-id", groups.SecurityGroups[0].GroupId,
		"--ip-permissions", "IpProtocol=tcp,FromPort=8080,ToPort=8080,IpRanges=[{CidrIp=0.0.0.0/0}]", "IpProtocol=icmp,FromPort=-1,ToPort=-1,IpRanges=[{CidrIp=0.0.0.0/0}]")

	ud := filepath.Join(lab.Dir(), "marker.sh")
	if err := os.WriteFile(ud, []byte(markerHTTPUserData), 0o644); err != nil {
		t.Fatal(err)
	}
	// Not on box 0, whose API the test talks to.
	var run struct{ Instances []cliInstance }
	var id string
	for attempt := 0; ; attempt++ {
		aws.must(&run, "ec2", "run-instances", "--image-id", bootable.ImageID, "--instance-type", "t2.nano", "--user-data", "file://"+ud,
			"--placement", "AvailabilityZone="+bootable.Zone)
		id = run.Instances[0].InstanceId
		aws.waitState(3*time.Minute, "running", id)
		if where := domainsByInstance(t, lab)[id]; len(where) == 1 && where[0] != 0 {
			break
		}
		if attempt == 3 {
			t.Fatal("every launch landed on box 0")
		}
		aws.must(nil, "ec2", "terminate-instances", "--instance-ids", id)
	}
	marker := func(kind string) {
		t.Helper()
		waitFor(t, 4*time.Minute, "marker-"+kind+" on the console of "+id, func() error {
			out := aws.console(id)
			for _, m := range markerRE.FindAllStringSubmatch(out, -1) {
				if m[1] == kind && m[2] == id {
					return nil
				}
			}
			return fmt.Errorf("not yet:\n%s", lastLines(out, 8))
		})
	}
	marker("written")
	var alloc struct{ AllocationId, PublicIp string }
	aws.must(&alloc, "ec2", "allocate-address", "--domain", "vpc")
	aws.must(nil, "ec2", "associate-address", "--allocation-id", alloc.AllocationId, "--instance-id", id)
	url := "http://" + alloc.PublicIp + ":8080/"
	answers := func(want string) {
		t.Helper()
		waitFor(t, 90*time.Second, url+" answering "+want, func() error {
			if body := fetchFromLAN(lab, url); body != want {
				return fmt.Errorf("got %q", body)
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			_, err := lab.Ping(ctx, alloc.PublicIp)
			return err
		})
	}
	answers("written " + id)
	describe := func() (in struct {
		InstanceId, PrivateIpAddress, StateTransitionReason string
		State                                               struct{ Name string }
		BlockDeviceMappings                                 []cliMapping
	}) {
		t.Helper()
		var d struct {
			Reservations []struct {
				Instances []struct {
					InstanceId, PrivateIpAddress, StateTransitionReason string
					State                                               struct{ Name string }
					BlockDeviceMappings                                 []cliMapping
				}
			}
		}
		aws.must(&d, "ec2", "describe-instances", "--instance-ids", id)
		return d.Reservations[0].Instances[0]
	}
	before := describe()
	rootVol := before.BlockDeviceMappings[0].Ebs.VolumeId
	victim := lab.Box(domainsByInstance(t, lab)[id][0])

	// The box's banyan dies; its VM keeps running (libvirtd and qemu are not killed).
	if err := victim.Kill(); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	if !slices.Contains(domains(t, victim), id) {
		t.Fatal("the VM died with the box's banyan; the test needs it running")
	}
	// The dead box's lease on the public address lapses: its kernel lets the address go.
	waitFor(t, time.Minute, "box "+victim.Name()+" to let "+alloc.PublicIp+" go", func() error {
		out, err := victim.Exec(context.Background(), "ip", "-4", "-o", "addr", "show", "dev", "eth0")
		if err != nil || strings.Contains(string(out), " "+alloc.PublicIp+"/32 ") {
			return fmt.Errorf("eth0: %s %v", out, err)
		}
		return nil
	})
	t.Logf("box %d's address %s lapsed %.1fs after its banyan was killed", victim.Index(), alloc.PublicIp, time.Since(killed).Seconds())
	var newBox *boxlab.Box
	waitFor(t, 3*time.Minute, "the instance running on another box", func() error {
		for _, b := range lab.Boxes() {
			if b != victim && slices.Contains(domains(t, b), id) {
				newBox = b
				return nil
			}
		}
		return fmt.Errorf("not yet")
	})
	t.Logf("%s defined on box %d %.1fs after box %d's banyan was killed", id, newBox.Index(), time.Since(killed).Seconds(), victim.Index())
	marker("found")
	t.Logf("%s booted on box %d and found its marker %.1fs after the kill", id, newBox.Index(), time.Since(killed).Seconds())
	// The elastic IP followed it: the LAN reaches the recovered guest (not the VM still
	// running on the killed box) at the same address.
	answers("found " + id)
	t.Logf("%s answered at its elastic IP %s from box %d %.1fs after the kill", id, alloc.PublicIp, newBox.Index(), time.Since(killed).Seconds())
	after := describe()
	if after.PrivateIpAddress != before.PrivateIpAddress || after.State.Name != "running" || !strings.Contains(after.StateTransitionReason, "recovered") ||
		len(after.BlockDeviceMappings) != 1 || after.BlockDeviceMappings[0].Ebs.VolumeId != rootVol {
		t.Fatalf("after the recovery %+v, before %+v", after, before)
	}
	var st struct {
		InstanceStatuses []struct {
			Events []struct{ Code, Description string }
		}
	}
	aws.must(&st, "ec2", "describe-instance-status", "--instance-ids", id)
	if len(st.InstanceStatuses) != 1 || len(st.InstanceStatuses[0].Events) != 1 || st.InstanceStatuses[0].Events[0].Code != "system-reboot" ||
		!strings.HasPrefix(st.InstanceStatuses[0].Events[0].Description, "[Completed]") {
		t.Fatalf("instance status after the recovery: %+v", st)
	}

	// The killed box comes back: its agent removes the VM it still runs.
	if err := victim.Restart(); err != nil {
		t.Fatal(err)
	}
	restarted := time.Now()
	waitFor(t, 2*time.Minute, "the returning box without the moved instance's VM", func() error {
		if slices.Contains(domains(t, victim), id) {
			return fmt.Errorf("box %d still has a domain for %s", victim.Index(), id)
		}
		return nil
	})
	t.Logf("box %d removed its VM of %s %.1fs after its banyan restarted", victim.Index(), id, time.Since(restarted).Seconds())
	// Its copy of the root volume is brought back in sync by the new primary.
	waitFor(t, 2*time.Minute, "the returning box's copy back in sync", func() error {
		log, err := os.ReadFile(newBox.Log())
		if err != nil {
			return err
		}
		for _, line := range strings.Split(string(log), "\n") {
			if strings.Contains(line, "volume copy back in sync") && strings.Contains(line, rootVol) && strings.Contains(line, victim.Name()) {
				return nil
			}
		}
		return fmt.Errorf("no resync of %s's copy of %s logged yet", victim.Name(), rootVol)
	})
	t.Logf("box %d's copy of %s back in sync %.1fs after its banyan restarted", victim.Index(), rootVol, time.Since(restarted).Seconds())
	// Stopped, every copy of the root volume holds the same bytes.
	aws.must(nil, "ec2", "stop-instances", "--instance-ids", id)
	aws.waitState(2*time.Minute, "stopped", id)
	sums := map[string][]int{}
	for _, b := range lab.Boxes() {
		out, err := exec.Command("sha256sum", filepath.Join(b.DataDir(), "volumes", rootVol+".img")).Output()
		if err != nil {
			continue // not a replica box
		}
		sums[strings.Fields(string(out))[0]] = append(sums[strings.Fields(string(out))[0]], b.Index())
	}
	if len(sums) != 1 {
		t.Fatalf("the copies of %s differ: %v", rootVol, sums)
	}
}
