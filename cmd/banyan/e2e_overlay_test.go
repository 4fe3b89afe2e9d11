package main

// Instances on different boxes of a zone reach each other on their private addresses,
// over the VXLAN overlay (netctl/overlay, node/overlay.go), end to end in the box lab.

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

func TestBoxLabOverlay(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("the box lab needs root")
	}
	if _, err := exec.LookPath("aws"); err != nil {
		t.Skip("aws-cli is not installed")
	}
	image := guestImage(t)
	lab := boxlab.Start(t, boxlab.Config{Boxes: 2, Banyan: banyanBin})
	aws := &labCLI{t: t, lab: lab, endpoint: lab.Box(0).Endpoint()}
	imageID := aws.importGuest(image)
	writeUD := func(name, body string) string {
		p := filepath.Join(lab.Dir(), name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return "file://" + p
	}
	privateIP := func(id string) string {
		var d struct {
			Reservations []struct{ Instances []struct{ PrivateIpAddress string } }
		}
		aws.must(&d, "ec2", "describe-instances", "--instance-ids", id)
		return d.Reservations[0].Instances[0].PrivateIpAddress
	}

	// The server: its page is its instance ID.
	var run struct{ Instances []cliInstance }
	aws.must(&run, "ec2", "run-instances", "--image-id", imageID, "--instance-type", "t2.micro", "--user-data", writeUD("server.sh",
		"#!/bin/sh\nmkdir -p /tmp/www\nwget -q -O /tmp/www/index.html http://169.254.169.254/latest/meta-data/instance-id\nbusybox httpd -p 8080 -h /tmp/www\necho httpd-started\n"))
	server := run.Instances[0].InstanceId
	aws.waitState(3*time.Minute, "running", server)
	serverIP := privateIP(server)

	// The client, on the other box, asks the server's private address every second and
	// says what it got.
	aws.must(&run, "ec2", "run-instances", "--image-id", imageID, "--instance-type", "t2.micro", "--user-data", writeUD("client.sh",
		"#!/bin/sh\ni=0\nwhile [ $i -lt 600 ]; do\n  r=$(timeout 3 wget -q -O - http://"+serverIP+":8080/ 2>/dev/null)\n"+
			"  if [ -n \"$r\" ]; then echo \"peer-says=$r mtu=$(cat /sys/class/net/eth0/mtu)\"; else echo \"peer-\"\"silent\"; fi\n"+
			"  i=$((i+1)); sleep 1\ndone\n"))
	client := run.Instances[0].InstanceId
	started := time.Now()
	aws.waitState(3*time.Minute, "running", client)
	where := domainsByInstance(t, lab)
	if len(where[server]) != 1 || len(where[client]) != 1 || where[server][0] == where[client][0] {
		t.Fatalf("the two instances are not on two boxes: %v", where)
	}
	re := regexp.MustCompile(`peer-says=(i-[0-9a-f]+) mtu=(\d+)`)
	var m []string
	waitFor(t, 4*time.Minute, "the client's answer from the server across boxes", func() error {
		out := aws.console(client)
		if m = re.FindStringSubmatch(out); m == nil {
			return fmt.Errorf("not yet:\n%s", lastLines(out, 6))
		}
		return nil
	})
	if m[1] != server {
		t.Fatalf("the client reached %s at %s, not %s", m[1], serverIP, server)
	}
	if m[2] != "1450" {
		t.Fatalf("guest MTU %s, want 1450 (room for VXLAN's 50 bytes)", m[2])
	}
	t.Logf("%s on box %d reached %s on box %d at %s over the overlay, %.1fs after its launch", client, where[client][0], server, where[server][0], serverIP, time.Since(started).Seconds())

	// Security groups apply to what crosses the overlay: the server moved into a group
	// that lets nothing in, the client's requests go unanswered.
	var sg struct{ GroupId string }
	aws.must(&sg, "ec2", "create-security-group", "--group-name", "closed", "--description", "nothing in")
	aws.must(nil, "ec2", "modify-instance-attribute", "--instance-id", server, "--groups", sg.GroupId)
	moved := time.Now()
	silentBefore := strings.Count(aws.console(client), "peer-silent")
	waitFor(t, time.Minute, "the client's requests refused by the server's new group", func() error {
		out := aws.console(client)
		if n := strings.Count(out, "peer-silent"); n < silentBefore+3 {
			return fmt.Errorf("%d unanswered requests since the change:\n%s", n-silentBefore, lastLines(out, 4))
		}
		return nil
	})
	t.Logf("after the server moved into a closed group, three more of the client's requests went unanswered within %.1fs (each waits 3 s)", time.Since(moved).Seconds())
}
