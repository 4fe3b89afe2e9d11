package main

// Instances on different boxes reach each other on their private addresses, over the
// VXLAN overlay (netctl/overlay, node/overlay.go), end to end in the box lab: two boxes
// of one zone, and a third box in another zone (another subnet, through the routers).

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/banyancloud/banyan/cluster/state"
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
	lab := boxlab.Start(t, boxlab.Config{Boxes: 3, Banyan: banyanBin, Zones: []string{"us-east-1a", "us-east-1a", "us-east-1b"}})
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
			Reservations []struct {
				Instances []struct{ PrivateIpAddress string }
			}
		}
		aws.must(&d, "ec2", "describe-instances", "--instance-ids", id)
		return d.Reservations[0].Instances[0].PrivateIpAddress
	}

	// The server: its page is its instance ID.
	var run struct{ Instances []cliInstance }
	aws.must(&run, "ec2", "run-instances", "--image-id", imageID, "--instance-type", "t2.micro", "--placement", "AvailabilityZone=us-east-1a", "--user-data", writeUD("server.sh",
		"#!/bin/sh\nmkdir -p /tmp/www\nwget -q -O /tmp/www/index.html http://169.254.169.254/latest/meta-data/instance-id\nbusybox httpd -p 8080 -h /tmp/www\necho httpd-started\n"))
	server := run.Instances[0].InstanceId
	aws.waitState(3*time.Minute, "running", server)
	serverIP := privateIP(server)
	serverName := "ip-" + strings.ReplaceAll(serverIP, ".", "-") + ".ec2.internal"

	// The client, on the other box of the zone, asks the server's private address every
	// second and says what it got.
	clientScript := "#!/bin/sh\ni=0\nwhile [ $i -lt 600 ]; do\n  r=$(timeout 3 wget -q -O - http://" + serverIP + ":8080/ 2>/dev/null)\n" +
		"  if [ -n \"$r\" ]; then echo \"peer-says=$r mtu=$(cat /sys/class/net/eth0/mtu)\"; else echo \"peer-\"\"silent\"; fi\n" +
		"  n=$(timeout 3 wget -q -O - http://" + serverName + ":8080/ 2>/dev/null)\n" +
		"  [ -n \"$n\" ] && echo \"peer-by-name=$n\"\n" +
		"  i=$((i+1)); sleep 1\ndone\n"
	aws.must(&run, "ec2", "run-instances", "--image-id", imageID, "--instance-type", "t2.micro", "--placement", "AvailabilityZone=us-east-1a",
		"--user-data", writeUD("client.sh", clientScript))
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
	waitFor(t, time.Minute, "the client's answer from the server by its DNS name", func() error {
		if out := aws.console(client); !strings.Contains(out, "peer-by-name="+server) {
			return fmt.Errorf("no answer by name (%s) yet:\n%s", serverName, lastLines(out, 6))
		}
		return nil
	})
	t.Logf("%s on box %d reached %s on box %d at %s over the overlay, %.1fs after its launch", client, where[client][0], server, where[server][0], serverIP, time.Since(started).Seconds())

	// A client in the other zone (its own subnet, box 2) reaches the server through its
	// router, across the overlay, by address and by name.
	aws.must(&run, "ec2", "run-instances", "--image-id", imageID, "--instance-type", "t2.micro", "--placement", "AvailabilityZone=us-east-1b",
		"--user-data", writeUD("far-client.sh", clientScript))
	far := run.Instances[0].InstanceId
	farStarted := time.Now()
	aws.waitState(3*time.Minute, "running", far)
	if w := domainsByInstance(t, lab)[far]; len(w) != 1 || w[0] != 2 {
		t.Fatalf("the us-east-1b instance is on boxes %v, not box 2", w)
	}
	farIP := privateIP(far)
	if sub, err := state.ZoneSubnet("us-east-1b"); err != nil || !sub.Contains(netip.MustParseAddr(farIP)) || sub.Contains(netip.MustParseAddr(serverIP)) {
		t.Fatalf("the us-east-1b instance has %s and the server %s: not two zones' subnets (%v %v)", farIP, serverIP, sub, err)
	}
	waitFor(t, 4*time.Minute, "the other zone's client's answers from the server", func() error {
		out := aws.console(far)
		if !strings.Contains(out, "peer-says="+server) || !strings.Contains(out, "peer-by-name="+server) {
			return fmt.Errorf("not yet:\n%s", lastLines(out, 6))
		}
		return nil
	})
	t.Logf("%s in us-east-1b (%s) reached %s in us-east-1a (%s) by address and name, %.1fs after its launch", far, farIP, server, serverIP, time.Since(farStarted).Seconds())

	// Another account's instance cannot reach the server, even once the server's group
	// admits everyone on the port.
	var groups struct {
		SecurityGroups []struct{ GroupId string }
	}
	aws.must(&groups, "ec2", "describe-security-groups", "--group-names", "default")
	aws.must(nil, "ec2", "authorize-security-group-ingress", "--group-id", groups.SecurityGroups[0].GroupId, "--protocol", "tcp", "--port", "8080", "--cidr", "0.0.0.0/0")
	aws.must(nil, "ec2", "modify-image-attribute", "--image-id", imageID, "--launch-permission", "Add=[{Group=all}]")
	out, err := lab.Box(0).Exec(context.Background(), lab.Banyan(), "account", "create", "tenant2", "--data-dir", lab.Box(0).DataDir())
	if err != nil {
		t.Fatalf("account create: %v %s", err, out)
	}
	tenant := &labCLI{t: t, lab: lab, endpoint: aws.endpoint, env: []string{"AWS_SHARED_CREDENTIALS_FILE=/dev/null"}}
	for _, line := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(line, "aws_access_key_id = "); ok {
			tenant.env = append(tenant.env, "AWS_ACCESS_KEY_ID="+v)
		}
		if v, ok := strings.CutPrefix(line, "aws_secret_access_key = "); ok {
			tenant.env = append(tenant.env, "AWS_SECRET_ACCESS_KEY="+v)
		}
	}
	if len(tenant.env) != 3 {
		t.Fatalf("no keys in the output of account create:\n%s", out)
	}
	tenant.must(&run, "ec2", "run-instances", "--image-id", imageID, "--instance-type", "t2.micro", "--user-data", writeUD("intruder.sh",
		"#!/bin/sh\ni=0\nwhile [ $i -lt 600 ]; do\n  r=$(timeout 3 wget -q -O - http://"+serverIP+":8080/ 2>/dev/null)\n"+
			"  if [ -n \"$r\" ]; then echo \"intruder-got=$r\"; else echo \"intruder-\"\"blocked\"; fi\n  i=$((i+1)); sleep 1\ndone\n"))
	intruder := run.Instances[0].InstanceId
	tenant.waitState(3*time.Minute, "running", intruder)
	waitFor(t, 3*time.Minute, "the other account's instance trying", func() error {
		out := tenant.console(intruder)
		if strings.Contains(out, "intruder-got=i-") {
			t.Fatalf("another account's instance reached the server:\n%s", lastLines(out, 10))
		}
		if strings.Count(out, "intruder-blocked") < 3 {
			return fmt.Errorf("not yet:\n%s", lastLines(out, 4))
		}
		return nil
	})
	if !strings.Contains(aws.console(client)[len(aws.console(client))-400:], "peer-says=i-") {
		t.Fatal("the client of the server's own account stopped getting answers")
	}
	t.Logf("another account's instance (%s, box %v) got no answer from %s with its group open to 0.0.0.0/0", intruder, domainsByInstance(t, lab)[intruder], serverIP)

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
