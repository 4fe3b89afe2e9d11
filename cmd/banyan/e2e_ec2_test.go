package main

// EC2 end to end in the box lab: three boxes, each a network and mount namespace with
// its own libvirtd, running real banyan servers; the installed aws-cli talks to a box
// that is not the leader, from the lab's LAN namespace.

import (
	"context"
	"encoding/json"
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

// guestImage builds (or finds cached) the test guest and returns its qcow2.
func guestImage(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(os.TempDir(), "banyan-guest-e2e")
	out, err := exec.Command("bash", "../../packaging/guest/build-guest-image.sh", dir).CombinedOutput()
	if err != nil {
		t.Fatalf("building the guest image: %v\n%s", err, out)
	}
	return filepath.Join(dir, "banyan-guest.qcow2")
}

// labCLI runs the installed aws-cli in the lab's LAN namespace against endpoint, as the
// admin account, and decodes its JSON output into out (when not nil).
type labCLI struct {
	t        *testing.T
	lab      *boxlab.Lab
	endpoint string
	// env, when set, is added to aws's environment after the lab's credential files
	// (another account's keys, say).
	env []string
}

func (a *labCLI) run(out any, args ...string) error {
	a.t.Helper()
	creds, config := a.lab.AWSConfigFiles()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", a.lab.LANNetns(), "aws", "--endpoint-url", a.endpoint, "--output", "json"}, args...)...)
	cmd.Env = append(os.Environ(), "AWS_SHARED_CREDENTIALS_FILE="+creds, "AWS_CONFIG_FILE="+config, "AWS_PAGER=", "AWS_MAX_ATTEMPTS=1")
	cmd.Env = append(cmd.Env, a.env...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("aws %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	if out != nil && strings.TrimSpace(stdout.String()) != "" {
		if err := json.Unmarshal([]byte(stdout.String()), out); err != nil {
			return fmt.Errorf("aws %s: %v: %s", strings.Join(args, " "), err, stdout.String())
		}
	}
	return nil
}

func (a *labCLI) must(out any, args ...string) {
	a.t.Helper()
	if err := a.run(out, args...); err != nil {
		a.t.Fatal(err)
	}
}

type cliInstance struct {
	InstanceId       string
	PrivateIpAddress string
	State            struct{ Name string }
	Placement        struct{ AvailabilityZone string }
}

func (a *labCLI) instances(ids ...string) map[string]cliInstance {
	a.t.Helper()
	var out struct {
		Reservations []struct{ Instances []cliInstance }
	}
	a.must(&out, append([]string{"ec2", "describe-instances", "--instance-ids"}, ids...)...)
	m := map[string]cliInstance{}
	for _, r := range out.Reservations {
		for _, in := range r.Instances {
			m[in.InstanceId] = in
		}
	}
	return m
}

// waitState waits until every instance is in state want.
func (a *labCLI) waitState(timeout time.Duration, want string, ids ...string) {
	a.t.Helper()
	waitFor(a.t, timeout, "instances "+want, func() error {
		for id, in := range a.instances(ids...) {
			if in.State.Name != want {
				return fmt.Errorf("%s is %s", id, in.State.Name)
			}
		}
		return nil
	})
}

// waitVolume waits (2 min at most) until the volume is in state want.
func (a *labCLI) waitVolume(id, want string) {
	a.t.Helper()
	waitFor(a.t, 2*time.Minute, id+" "+want, func() error {
		var d struct{ Volumes []struct{ State string } }
		if err := a.run(&d, "ec2", "describe-volumes", "--volume-ids", id); err != nil {
			return err
		}
		if d.Volumes[0].State != want {
			return fmt.Errorf("volume is %s", d.Volumes[0].State)
		}
		return nil
	})
}

func (a *labCLI) console(id string) string {
	a.t.Helper()
	var out struct{ Output string }
	// aws-cli decodes the base64 Output itself.
	a.must(&out, "ec2", "get-console-output", "--instance-id", id)
	return out.Output
}

// domains lists the libvirt domains of one box's own libvirtd.
func domains(t *testing.T, b *boxlab.Box) []string {
	t.Helper()
	out, err := b.Exec(context.Background(), "virsh", "-c", "qemu:///system", "list", "--all", "--name")
	if err != nil {
		t.Fatalf("virsh on box %d: %v: %s", b.Index(), err, out)
	}
	return strings.Fields(string(out))
}

func TestBoxLabEC2(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("the box lab needs root")
	}
	if _, err := exec.LookPath("aws"); err != nil {
		t.Skip("aws-cli is not installed")
	}
	image := guestImage(t)
	lab := boxlab.Start(t, boxlab.Config{Boxes: 3, Banyan: banyanBin})
	ctx := context.Background()

	// The endpoint is a box that is not the leader: every write is forwarded.
	st, err := lab.Box(0).Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var target *boxlab.Box
	for _, b := range lab.Boxes() {
		if s, err := b.Status(ctx); err == nil && s.Node != st.Leader {
			target = b
			break
		}
	}
	if target == nil {
		t.Fatal("no box that is not the leader")
	}
	aws := &labCLI{t: t, lab: lab, endpoint: target.Endpoint()}
	t.Logf("leader %s, endpoint %s", st.Leader, target.Endpoint())

	// Every box reports its hypervisor before anything is scheduled.
	waitFor(t, 60*time.Second, "three zones' worth of boxes", func() error {
		var z struct {
			AvailabilityZones []struct{ ZoneName, State string }
		}
		if err := aws.run(&z, "ec2", "describe-availability-zones"); err != nil {
			return err
		}
		if len(z.AvailabilityZones) == 0 || z.AvailabilityZones[0].State != "available" {
			return fmt.Errorf("zones: %+v", z.AvailabilityZones)
		}
		return nil
	})

	imageID := aws.importGuest(image)
	t.Logf("image %s", imageID)

	// Bad input is refused cleanly.
	if err := aws.run(nil, "ec2", "run-instances", "--image-id", "ami-0123456789abcdef0", "--count", "1"); err == nil || !strings.Contains(err.Error(), "InvalidAMIID.NotFound") {
		t.Fatalf("unknown image: %v", err)
	}
	if err := aws.run(nil, "ec2", "run-instances", "--image-id", imageID, "--instance-type", "x9.mega"); err == nil || !strings.Contains(err.Error(), "InvalidParameterValue") {
		t.Fatalf("unknown instance type: %v", err)
	}

	// Two instances with user data, spread over the boxes.
	aws.must(nil, "ec2", "create-key-pair", "--key-name", "e2e")
	marker := fmt.Sprintf("e2e-marker-%d", time.Now().UnixNano())
	userData := "#!/bin/sh\necho " + marker + "\n" +
		"echo \"pubkey=$(wget -q -O - http://169.254.169.254/latest/meta-data/public-keys/0/openssh-key)\"\n" +
		"echo \"type=$(wget -q -O - http://169.254.169.254/latest/meta-data/instance-type)\"\n"
	udFile := filepath.Join(lab.Dir(), "user-data.sh")
	if err := os.WriteFile(udFile, []byte(userData), 0o644); err != nil {
		t.Fatal(err)
	}
	var run struct{ Instances []cliInstance }
	aws.must(&run, "ec2", "run-instances", "--image-id", imageID, "--count", "2", "--instance-type", "t2.micro",
		"--key-name", "e2e", "--user-data", "file://"+udFile,
		"--tag-specifications", "ResourceType=instance,Tags=[{Key=Name,Value=e2e}]")
	if len(run.Instances) != 2 {
		t.Fatalf("run-instances started %d", len(run.Instances))
	}
	ids := []string{run.Instances[0].InstanceId, run.Instances[1].InstanceId}
	start := time.Now()
	aws.waitState(3*time.Minute, "running", ids...)
	t.Logf("both running %.1fs after RunInstances", time.Since(start).Seconds())

	// The guests fetched their own instance ID and user data from the metadata service
	// and ran the user data; the console shows it.
	for _, id := range ids {
		waitFor(t, 3*time.Minute, "the console of "+id, func() error {
			out := aws.console(id)
			for _, want := range []string{"banyan-guest: instance-id=" + id, "banyan-guest: user-data-begin", marker,
				"pubkey=ssh-rsa AAAA", "type=t2.micro", "user-data-exit=0"} {
				if !strings.Contains(out, want) {
					return fmt.Errorf("console lacks %q:\n%s", want, lastLines(out, 15))
				}
			}
			return nil
		})
	}
	t.Logf("both consoles show the user data %.1fs after RunInstances", time.Since(start).Seconds())

	// Each instance runs on exactly one box.
	where := map[string][]int{}
	for _, b := range lab.Boxes() {
		for _, d := range domains(t, b) {
			where[d] = append(where[d], b.Index())
		}
	}
	for _, id := range ids {
		if len(where[id]) != 1 {
			t.Fatalf("instance %s has domains on boxes %v", id, where[id])
		}
	}

	// SIGKILL the banyan of the box running ids[0] (not the endpoint's): its VM keeps
	// running, the instance shows impaired while the box is gone, and the restarted agent
	// adopts the domain instead of starting a second one.
	host := lab.Box(where[ids[0]][0])
	if host == target {
		aws.endpoint = lab.Box((target.Index() + 1) % 3).Endpoint()
		if lab.Box((target.Index()+1)%3) == host {
			aws.endpoint = lab.Box((target.Index() + 2) % 3).Endpoint()
		}
	}
	if err := host.Kill(); err != nil {
		t.Fatal(err)
	}
	status := aws.status
	waitFor(t, 60*time.Second, "the instance on the dead box impaired", func() error {
		if s := status(ids[0]); s != "impaired" {
			return fmt.Errorf("system status %s", s)
		}
		return nil
	})
	if d := domains(t, host); !slices.Contains(d, ids[0]) {
		t.Fatalf("the VM died with its box's banyan: domains %v", d)
	}
	if err := host.Restart(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 90*time.Second, "the instance ok again", func() error {
		if s := status(ids[0]); s != "ok" {
			return fmt.Errorf("system status %s", s)
		}
		return nil
	})
	for _, b := range lab.Boxes() {
		n := 0
		for _, d := range domains(t, b) {
			if d == ids[0] {
				n++
			}
		}
		if want := map[bool]int{true: 1, false: 0}[b == host]; n != want {
			t.Fatalf("box %d has %d domains of %s after the restart, want %d", b.Index(), n, ids[0], want)
		}
	}
	if in := aws.instances(ids[0])[ids[0]]; in.State.Name != "running" {
		t.Fatalf("adopted instance is %s", in.State.Name)
	}

	// Stop, start, terminate.
	aws.must(nil, "ec2", "stop-instances", "--instance-ids", ids[0])
	aws.waitState(2*time.Minute, "stopped", ids[0])
	aws.must(nil, "ec2", "start-instances", "--instance-ids", ids[0])
	aws.waitState(2*time.Minute, "running", ids[0])
	aws.must(nil, "ec2", "terminate-instances", "--instance-ids", ids[0], ids[1])
	aws.waitState(2*time.Minute, "terminated", ids...)
	waitFor(t, time.Minute, "the domains gone from every box", func() error {
		for _, b := range lab.Boxes() {
			for _, d := range domains(t, b) {
				if slices.Contains(ids, d) {
					return fmt.Errorf("box %d still has domain %s", b.Index(), d)
				}
			}
		}
		return nil
	})
}

// importGuest uploads the test guest to S3 and imports it as an AMI.
func (a *labCLI) importGuest(image string) string {
	t := a.t
	t.Helper()
	a.must(nil, "s3", "mb", "s3://disks")
	a.must(nil, "s3", "cp", image, "s3://disks/guest.qcow2")
	var imp struct{ ImportTaskId string }
	a.must(&imp, "ec2", "import-image", "--description", "e2e guest",
		"--disk-containers", "Format=qcow2,UserBucket={S3Bucket=disks,S3Key=guest.qcow2}")
	var imageID string
	waitFor(t, 2*time.Minute, "the import to complete", func() error {
		var d struct {
			ImportImageTasks []struct{ Status, StatusMessage, ImageId string }
		}
		if err := a.run(&d, "ec2", "describe-import-image-tasks", "--import-task-ids", imp.ImportTaskId); err != nil {
			return err
		}
		task := d.ImportImageTasks[0]
		switch task.Status {
		case "completed":
			imageID = task.ImageId
			return nil
		case "deleted":
			t.Fatalf("import failed: %s", task.StatusMessage)
		}
		return fmt.Errorf("import %s: %s", task.Status, task.StatusMessage)
	})
	return imageID
}

// status is an instance's system status check: ok, impaired, initializing, or none.
func (a *labCLI) status(id string) string {
	a.t.Helper()
	var out struct {
		InstanceStatuses []struct{ SystemStatus struct{ Status string } }
	}
	a.must(&out, "ec2", "describe-instance-status", "--include-all-instances", "--instance-ids", id)
	if len(out.InstanceStatuses) == 0 {
		return "none"
	}
	return out.InstanceStatuses[0].SystemStatus.Status
}

// domainsByInstance maps each instance ID to the boxes whose libvirtd has its domain.
func domainsByInstance(t *testing.T, lab *boxlab.Lab) map[string][]int {
	t.Helper()
	where := map[string][]int{}
	for _, b := range lab.Boxes() {
		for _, d := range domains(t, b) {
			where[d] = append(where[d], b.Index())
		}
	}
	return where
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// TestBoxLabEC2Faults: a box whose libvirtd is down gets no instances; a box that loses
// power shows its instances impaired, nothing is scheduled twice, and its instances come
// back on it when it returns.
func TestBoxLabEC2Faults(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("the box lab needs root")
	}
	if _, err := exec.LookPath("aws"); err != nil {
		t.Skip("aws-cli is not installed")
	}
	image := guestImage(t)
	lab := boxlab.Start(t, boxlab.Config{Boxes: 3, Banyan: banyanBin})
	ctx := context.Background()
	aws := &labCLI{t: t, lab: lab, endpoint: lab.Box(0).Endpoint()}
	imageID := aws.importGuest(image)

	// libvirtd of box 2 dies: the box reports its hypervisor down (checked every 15 s)
	// and the scheduler passes it over.
	if err := lab.Box(2).StopHypervisor(ctx); err != nil {
		t.Fatal(err)
	}
	time.Sleep(17 * time.Second)
	var run struct{ Instances []cliInstance }
	aws.must(&run, "ec2", "run-instances", "--image-id", imageID, "--count", "4", "--instance-type", "t2.nano")
	var ids []string
	for _, in := range run.Instances {
		ids = append(ids, in.InstanceId)
	}
	aws.waitState(3*time.Minute, "running", ids...)
	if err := lab.Box(2).StartHypervisor(ctx); err != nil {
		t.Fatal(err)
	}
	where := domainsByInstance(t, lab)
	onBox := map[int][]string{}
	for _, id := range ids {
		if len(where[id]) != 1 {
			t.Fatalf("instance %s has domains on boxes %v", id, where[id])
		}
		onBox[where[id][0]] = append(onBox[where[id][0]], id)
	}
	if len(onBox[2]) != 0 || len(onBox[0]) != 2 || len(onBox[1]) != 2 {
		t.Fatalf("placement with box 2's hypervisor down: %v", onBox)
	}

	// Box 1 loses power: its instances are impaired, box 0's are not, and nothing is
	// started a second time elsewhere.
	if err := lab.Box(1).PowerOff(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 60*time.Second, "box 1's instances impaired", func() error {
		for _, id := range onBox[1] {
			if s := aws.status(id); s != "impaired" {
				return fmt.Errorf("%s: %s", id, s)
			}
		}
		return nil
	})
	for _, id := range onBox[0] {
		if s := aws.status(id); s != "ok" {
			t.Fatalf("%s on a live box: %s", id, s)
		}
	}
	time.Sleep(5 * time.Second)
	for _, b := range []*boxlab.Box{lab.Box(0), lab.Box(2)} {
		for _, d := range domains(t, b) {
			if slices.Contains(onBox[1], d) {
				t.Fatalf("%s of the dead box was started again on box %d", d, b.Index())
			}
		}
	}

	// Power back: the agent finds no domain for instances that should run here and
	// boots them again.
	if err := lab.Box(1).StartHypervisor(ctx); err != nil {
		t.Fatal(err)
	}
	if err := lab.Box(1).Restart(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 2*time.Minute, "box 1's instances back", func() error {
		for _, id := range onBox[1] {
			if s := aws.status(id); s != "ok" {
				return fmt.Errorf("%s: %s", id, s)
			}
			if !slices.Contains(domains(t, lab.Box(1)), id) {
				return fmt.Errorf("%s has no domain on box 1", id)
			}
		}
		return nil
	})
	for _, id := range onBox[1] {
		waitFor(t, 2*time.Minute, "the console of "+id, func() error {
			if out := aws.console(id); !strings.Contains(out, "banyan-guest: instance-id="+id) {
				return fmt.Errorf("console:\n%s", lastLines(out, 10))
			}
			return nil
		})
	}
	aws.must(nil, "ec2", "terminate-instances", "--instance-ids", ids[0], ids[1], ids[2], ids[3])
	aws.waitState(2*time.Minute, "terminated", ids...)
}
