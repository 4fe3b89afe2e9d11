package main

// Elastic IPs end to end in the box lab: two boxes, a guest on each serving its own
// instance ID over HTTP; an address from the pool on the boxes' LAN is associated with
// the first, and a client in the LAN namespace (a machine on the boxes' LAN) reaches that
// guest at the public address (TCP, and ICMP echo) once its security group admits it (so
// the group is judged after the DNAT), is blocked again when the rule is revoked, live;
// reassociated with AllowReassociation to the guest on the other box,
// the same address reaches the second guest, and the first box lets the address go.

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/banyancloud/banyan/packaging/boxlab"
)

// fetchFromLAN GETs url from the LAN namespace and returns the body ("" on failure).
func fetchFromLAN(lab *boxlab.Lab, url string) string {
	c := &http.Client{Transport: lab.HTTPClient().Transport, Timeout: time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return strings.TrimSpace(string(b))
}

func TestBoxLabElasticIP(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("the box lab needs root")
	}
	if _, err := exec.LookPath("aws"); err != nil {
		t.Skip("aws-cli is not installed")
	}
	image := guestImage(t)
	lab := boxlab.Start(t, boxlab.Config{Boxes: 2, Banyan: banyanBin})
	aws := &labCLI{t: t, lab: lab, endpoint: lab.Box(1).Endpoint()}
	waitFor(t, 90*time.Second, "the boxes' hypervisors", func() error {
		var z struct{ AvailabilityZones []struct{ State string } }
		if err := aws.run(&z, "ec2", "describe-availability-zones"); err != nil {
			return err
		}
		if len(z.AvailabilityZones) == 0 || z.AvailabilityZones[0].State != "available" {
			return fmt.Errorf("zones: %+v", z.AvailabilityZones)
		}
		return nil
	})

	// No pool yet: EC2's limit error.
	if err := aws.run(nil, "ec2", "allocate-address", "--domain", "vpc"); err == nil || !strings.Contains(err.Error(), "AddressLimitExceeded") {
		t.Fatalf("allocate without a pool: %v", err)
	}
	// The pool: 8 addresses of the LAN's /24, far from the boxes' .1, .2 and the bridge's .254.
	pool := fmt.Sprintf("10.%d.0.200/29", lab.ID())
	if out, err := lab.Box(0).Exec(context.Background(), lab.Banyan(), "setting", "set", "network.public_cidr", pool, "--data-dir", lab.Box(0).DataDir()); err != nil {
		t.Fatalf("setting the pool: %v: %s", err, out)
	}
	imageID := aws.importGuest(image)

	const port = "8080"
	userData := "#!/bin/sh\nmkdir -p /tmp/www\nwget -q -O /tmp/www/index.html http://169.254.169.254/latest/meta-data/instance-id\n" +
		"busybox httpd -p " + port + " -h /tmp/www\necho httpd-started\n"
	udFile := filepath.Join(lab.Dir(), "httpd.sh")
	if err := os.WriteFile(udFile, []byte(userData), 0o644); err != nil {
		t.Fatal(err)
	}
	var run struct{ Instances []cliInstance }
	aws.must(&run, "ec2", "run-instances", "--image-id", imageID, "--count", "2", "--instance-type", "t2.micro", "--user-data", "file://"+udFile)
	i1, i2 := run.Instances[0].InstanceId, run.Instances[1].InstanceId
	aws.waitState(3*time.Minute, "running", i1, i2)
	where := domainsByInstance(t, lab)
	if len(where[i1]) != 1 || len(where[i2]) != 1 || where[i1][0] == where[i2][0] {
		t.Fatalf("the two instances are not on two boxes: %v", where)
	}
	box1 := lab.Box(where[i1][0])
	for _, id := range []string{i1, i2} {
		waitFor(t, 3*time.Minute, "httpd started in "+id, func() error {
			if out := aws.console(id); !strings.Contains(out, "httpd-started") {
				return fmt.Errorf("console:\n%s", lastLines(out, 10))
			}
			return nil
		})
	}

	var alloc struct{ AllocationId, PublicIp, Domain string }
	aws.must(&alloc, "ec2", "allocate-address", "--domain", "vpc")
	pub := alloc.PublicIp
	if pub != fmt.Sprintf("10.%d.0.201", lab.ID()) || alloc.Domain != "vpc" {
		t.Fatalf("allocated %+v from %s", alloc, pool)
	}
	var assoc struct{ AssociationId string }
	aws.must(&assoc, "ec2", "associate-address", "--allocation-id", alloc.AllocationId, "--instance-id", i1)

	var d struct {
		Reservations []struct {
			Instances []struct {
				InstanceId, PublicIpAddress, PublicDnsName string
				NetworkInterfaces                          []struct{ Association struct{ PublicIp string } }
			}
		}
	}
	aws.must(&d, "ec2", "describe-instances", "--instance-ids", i1)
	got := d.Reservations[0].Instances[0]
	wantDNS := "ec2-" + strings.ReplaceAll(pub, ".", "-") + ".compute-1.amazonaws.com"
	if got.PublicIpAddress != pub || got.PublicDnsName != wantDNS || len(got.NetworkInterfaces) != 1 || got.NetworkInterfaces[0].Association.PublicIp != pub {
		t.Fatalf("describe-instances: %+v", got)
	}
	if err := aws.run(nil, "ec2", "associate-address", "--allocation-id", alloc.AllocationId, "--instance-id", i2); err == nil || !strings.Contains(err.Error(), "Resource.AlreadyAssociated") {
		t.Fatalf("reassociate without AllowReassociation: %v", err)
	}
	if err := aws.run(nil, "ec2", "release-address", "--allocation-id", alloc.AllocationId); err == nil || !strings.Contains(err.Error(), "InvalidIPAddress.InUse") {
		t.Fatalf("release while associated: %v", err)
	}

	url := "http://" + pub + ":" + port + "/"
	// The default group admits only its members, after the DNAT as before: nothing yet.
	waitFor(t, 30*time.Second, "the address on box "+box1.Name()+"'s uplink", func() error {
		out, err := box1.Exec(context.Background(), "ip", "-4", "-o", "addr", "show", "dev", "eth0")
		if err != nil || !strings.Contains(string(out), " "+pub+"/32 ") {
			return fmt.Errorf("eth0: %s %v", out, err)
		}
		return nil
	})
	time.Sleep(2 * time.Second)
	if body := fetchFromLAN(lab, url); body != "" {
		t.Fatalf("the public address passed the default security group: %q", body)
	}
	var groups struct{ SecurityGroups []struct{ GroupId string } }
	aws.must(&groups, "ec2", "describe-security-groups", "--group-names", "default")
	aws.must(nil, "ec2", "authorize-security-group-ingress", "--group-id", groups.SecurityGroups[0].GroupId,
		"--protocol", "tcp", "--port", port, "--cidr", "0.0.0.0/0")
	waitFor(t, 30*time.Second, "the first guest at "+url, func() error {
		if body := fetchFromLAN(lab, url); body != i1 {
			return fmt.Errorf("got %q", body)
		}
		return nil
	})
	// ICMP: the group has no rule for it yet, then one.
	ping := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, err := lab.Ping(ctx, pub)
		return err
	}
	if ping() == nil {
		t.Fatal("an echo request passed a group without an ICMP rule")
	}
	aws.must(nil, "ec2", "authorize-security-group-ingress", "--group-id", groups.SecurityGroups[0].GroupId,
		"--protocol", "icmp", "--port", "-1", "--cidr", "0.0.0.0/0")
	waitFor(t, 30*time.Second, "an echo reply from "+pub, ping)
	// Revoked, the port is blocked again, live; authorized again, it passes.
	aws.must(nil, "ec2", "revoke-security-group-ingress", "--group-id", groups.SecurityGroups[0].GroupId,
		"--protocol", "tcp", "--port", port, "--cidr", "0.0.0.0/0")
	waitFor(t, 30*time.Second, url+" blocked again", func() error {
		if body := fetchFromLAN(lab, url); body != "" {
			return fmt.Errorf("still answered by %q", body)
		}
		return nil
	})
	aws.must(nil, "ec2", "authorize-security-group-ingress", "--group-id", groups.SecurityGroups[0].GroupId,
		"--protocol", "tcp", "--port", port, "--cidr", "0.0.0.0/0")
	waitFor(t, 30*time.Second, "the first guest at "+url+" again", func() error {
		if body := fetchFromLAN(lab, url); body != i1 {
			return fmt.Errorf("got %q", body)
		}
		return nil
	})

	// Reassociated to the guest on the other box: the same address reaches it.
	start := time.Now()
	aws.must(&assoc, "ec2", "associate-address", "--allocation-id", alloc.AllocationId, "--instance-id", i2, "--allow-reassociation")
	api := time.Since(start)
	for {
		if body := fetchFromLAN(lab, url); body == i2 {
			break
		}
		if time.Since(start) > 30*time.Second {
			t.Fatalf("%s still does not reach %s 30 s after the reassociation", url, i2)
		}
		time.Sleep(20 * time.Millisecond)
	}
	moved := time.Since(start)
	t.Logf("reassociation: the API answered in %s; the address reached the other box's guest %s after the call began", api.Round(time.Millisecond), moved.Round(time.Millisecond))
	fmt.Printf("elastic ip: reassociate to another box -> first answer from the new guest: %s (API call %s)\n", moved.Round(time.Millisecond), api.Round(time.Millisecond))
	waitFor(t, 10*time.Second, "the old box to let the address go", func() error {
		out, err := box1.Exec(context.Background(), "ip", "-4", "-o", "addr", "show", "dev", "eth0")
		if err != nil || strings.Contains(string(out), " "+pub+"/32 ") {
			return fmt.Errorf("eth0: %s %v", out, err)
		}
		return nil
	})

	var addrs struct {
		Addresses []struct{ InstanceId, AssociationId, PrivateIpAddress string }
	}
	aws.must(&addrs, "ec2", "describe-addresses", "--public-ips", pub)
	if len(addrs.Addresses) != 1 || addrs.Addresses[0].InstanceId != i2 || addrs.Addresses[0].AssociationId != assoc.AssociationId {
		t.Fatalf("describe-addresses: %+v", addrs)
	}
	aws.must(nil, "ec2", "disassociate-address", "--association-id", assoc.AssociationId)
	waitFor(t, 10*time.Second, "the address to answer no more", func() error {
		if body := fetchFromLAN(lab, url); body != "" {
			return fmt.Errorf("still answered by %q", body)
		}
		return nil
	})
	aws.must(nil, "ec2", "release-address", "--allocation-id", alloc.AllocationId)
	aws.must(nil, "ec2", "terminate-instances", "--instance-ids", i1, i2)
	aws.waitState(2*time.Minute, "terminated", i1, i2)
}
