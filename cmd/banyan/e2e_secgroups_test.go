package main

// Security groups end to end in the box lab: a real guest listens on a TCP port, and a
// connect from its box's namespace (the box routes for its instances, so the guest's
// private address is reachable there) is blocked by the default group, permitted once
// an ingress rule is authorized, and blocked again when it is revoked, all live.

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/banyancloud/banyan/packaging/boxlab"
)

// tcpOpen reports whether a TCP connect from the box to addr completes within wait.
func tcpOpen(b *boxlab.Box, addr string, wait time.Duration) bool {
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	c, err := b.Dial(ctx, "tcp4", addr)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// untilTCP polls until a connect's outcome is want and returns how long that took.
func untilTCP(t *testing.T, b *boxlab.Box, addr string, want bool, limit time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for time.Since(start) < limit {
		if tcpOpen(b, addr, 200*time.Millisecond) == want {
			return time.Since(start)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("a connect to %s did not become %v within %s", addr, map[bool]string{true: "permitted", false: "blocked"}[want], limit)
	return 0
}

func TestBoxLabSecurityGroups(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("the box lab needs root")
	}
	if _, err := exec.LookPath("aws"); err != nil {
		t.Skip("aws-cli is not installed")
	}
	image := guestImage(t)
	lab := boxlab.Start(t, boxlab.Config{Boxes: 1, Banyan: banyanBin})
	box := lab.Box(0)
	aws := &labCLI{t: t, lab: lab, endpoint: box.Endpoint()}
	waitFor(t, 60*time.Second, "the box's hypervisor", func() error {
		var z struct{ AvailabilityZones []struct{ State string } }
		if err := aws.run(&z, "ec2", "describe-availability-zones"); err != nil {
			return err
		}
		if len(z.AvailabilityZones) == 0 || z.AvailabilityZones[0].State != "available" {
			return fmt.Errorf("zones: %+v", z.AvailabilityZones)
		}
		return nil
	})
	imageID := aws.importGuest(image)

	var groups struct {
		SecurityGroups []struct{ GroupId, GroupName string }
	}
	aws.must(&groups, "ec2", "describe-security-groups", "--group-names", "default")
	if len(groups.SecurityGroups) != 1 {
		t.Fatalf("default group: %+v", groups)
	}
	def := groups.SecurityGroups[0].GroupId

	// Bad input is refused with EC2's codes.
	for _, tc := range []struct{ args, code string }{
		{"authorize-security-group-ingress --group-id " + def + " --protocol tcp --port 99999 --cidr 0.0.0.0/0", "InvalidParameterValue"},
		{"authorize-security-group-ingress --group-id " + def + " --protocol tcp --port 80 --cidr 300.0.0.0/8", "InvalidParameterValue"},
		{"authorize-security-group-ingress --group-id sg-0123456789abcdef0 --protocol tcp --port 80 --cidr 0.0.0.0/0", "InvalidGroup.NotFound"},
		{"revoke-security-group-ingress --group-id " + def + " --protocol tcp --port 81 --cidr 0.0.0.0/0", "InvalidPermission.NotFound"},
		{"delete-security-group --group-id " + def, "CannotDelete"},
	} {
		if err := aws.run(nil, append([]string{"ec2"}, strings.Fields(tc.args)...)...); err == nil || !strings.Contains(err.Error(), tc.code) {
			t.Fatalf("%s: %v, want %s", tc.args, err, tc.code)
		}
	}

	const port = "8080"
	userData := "#!/bin/sh\nmkdir -p /tmp/www && echo up >/tmp/www/index.html\nbusybox httpd -p " + port + " -h /tmp/www\necho httpd-started\n"
	udFile := filepath.Join(lab.Dir(), "httpd.sh")
	if err := os.WriteFile(udFile, []byte(userData), 0o644); err != nil {
		t.Fatal(err)
	}
	var run struct{ Instances []cliInstance }
	aws.must(&run, "ec2", "run-instances", "--image-id", imageID, "--count", "1", "--instance-type", "t2.micro",
		"--user-data", "file://"+udFile)
	id := run.Instances[0].InstanceId
	aws.waitState(3*time.Minute, "running", id)
	waitFor(t, 3*time.Minute, "httpd started in the guest", func() error {
		if out := aws.console(id); !strings.Contains(out, "httpd-started") {
			return fmt.Errorf("console:\n%s", lastLines(out, 10))
		}
		return nil
	})
	addr := aws.instances(id)[id].PrivateIpAddress + ":" + port

	// The default group admits only its own members: the box is not one.
	time.Sleep(2 * time.Second)
	if tcpOpen(box, addr, time.Second) {
		t.Fatal("a connect to the guest passed through the default group")
	}

	start := time.Now()
	aws.must(nil, "ec2", "authorize-security-group-ingress", "--group-id", def, "--protocol", "tcp", "--port", port, "--cidr", "0.0.0.0/0")
	api := time.Since(start)
	open := untilTCP(t, box, addr, true, 10*time.Second) + api
	t.Logf("authorize: the API answered in %s; the first connect passed %s after the call began", api.Round(time.Millisecond), open.Round(time.Millisecond))
	fmt.Printf("security groups: authorize -> first packet passing: %s (API call %s)\n", open.Round(time.Millisecond), api.Round(time.Millisecond))

	if err := aws.run(nil, "ec2", "authorize-security-group-ingress", "--group-id", def, "--protocol", "tcp", "--port", port, "--cidr", "0.0.0.0/0"); err == nil || !strings.Contains(err.Error(), "InvalidPermission.Duplicate") {
		t.Fatalf("duplicate rule: %v", err)
	}

	start = time.Now()
	aws.must(nil, "ec2", "revoke-security-group-ingress", "--group-id", def, "--protocol", "tcp", "--port", port, "--cidr", "0.0.0.0/0")
	untilTCP(t, box, addr, false, 10*time.Second)
	closed := time.Since(start)
	t.Logf("revoke: new connects blocked %s after the call began", closed.Round(time.Millisecond))
	fmt.Printf("security groups: revoke -> new connects blocked: %s\n", closed.Round(time.Millisecond))

	// A group of its own, swapped in and out live.
	var sg struct{ GroupId string }
	aws.must(&sg, "ec2", "create-security-group", "--group-name", "web", "--description", "web servers")
	aws.must(nil, "ec2", "authorize-security-group-ingress", "--group-id", sg.GroupId, "--ip-permissions",
		"IpProtocol=tcp,FromPort=8000,ToPort=8100,IpRanges=[{CidrIp=0.0.0.0/0,Description=web}]")
	aws.must(nil, "ec2", "modify-instance-attribute", "--instance-id", id, "--groups", sg.GroupId)
	d := untilTCP(t, box, addr, true, 10*time.Second)
	t.Logf("groups changed to %s: permitted within %s", sg.GroupId, d.Round(time.Millisecond))
	if err := aws.run(nil, "ec2", "delete-security-group", "--group-id", sg.GroupId); err == nil || !strings.Contains(err.Error(), "DependencyViolation") {
		t.Fatalf("deleting a group in use: %v", err)
	}
	aws.must(nil, "ec2", "modify-network-interface-attribute", "--network-interface-id", "eni-"+strings.TrimPrefix(id, "i-"), "--groups", def)
	untilTCP(t, box, addr, false, 10*time.Second)
	aws.must(nil, "ec2", "delete-security-group", "--group-id", sg.GroupId)

	aws.must(nil, "ec2", "terminate-instances", "--instance-ids", id)
	aws.waitState(2*time.Minute, "terminated", id)
}
