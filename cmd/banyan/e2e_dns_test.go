package main

// DNS end to end in the box lab: a real guest resolves another instance's private host
// name, its reverse name and the cluster's name through the DNS server its box runs on
// the bridge's router address (handed out by DHCP); from a box's own namespace the
// cluster's name answers with the live boxes, and a killed box drops out within seconds.

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/banyancloud/banyan/packaging/boxlab"
)

// boxLookup asks the DNS server at server (host:port) from inside box b's namespace
// for name's A records.
func boxLookup(b *boxlab.Box, network, server, name string) ([]string, int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	c, err := b.Dial(ctx, network, server)
	if err != nil {
		return nil, 0, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	cl := &mdns.Client{Net: network}
	r, _, err := cl.ExchangeWithConn(new(mdns.Msg).SetQuestion(mdns.Fqdn(name), mdns.TypeA), &mdns.Conn{Conn: c})
	if err != nil {
		return nil, 0, err
	}
	var out []string
	for _, rr := range r.Answer {
		if a, ok := rr.(*mdns.A); ok {
			out = append(out, a.A.String())
		}
	}
	slices.Sort(out)
	return out, r.Rcode, nil
}

func TestBoxLabDNS(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("the box lab needs root")
	}
	if _, err := exec.LookPath("aws"); err != nil {
		t.Skip("aws-cli is not installed")
	}
	image := guestImage(t)
	// Every box also answers operators on its own loopback (its namespace's, not the host's).
	const operator = "127.0.0.1:53"
	lab := boxlab.Start(t, boxlab.Config{Boxes: 2, Banyan: banyanBin, ServerArgs: []string{"--dns-listen", operator}})
	box0, box1 := lab.Box(0), lab.Box(1)
	aws := &labCLI{t: t, lab: lab, endpoint: box0.Endpoint()}
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
	boxes := []string{box0.IP(), box1.IP()}
	slices.Sort(boxes)
	for _, b := range lab.Boxes() {
		got, rcode, err := boxLookup(b, "udp", operator, "banyan.internal")
		if err != nil || rcode != mdns.RcodeSuccess || !slices.Equal(got, boxes) {
			t.Fatalf("banyan.internal from box %d: %v %s %v, want %v", b.Index(), got, mdns.RcodeToString[rcode], err, boxes)
		}
	}
	imageID := aws.importGuest(image)

	// The target first: the other guest's user data names its address.
	var run struct{ Instances []cliInstance }
	aws.must(&run, "ec2", "run-instances", "--image-id", imageID, "--count", "1", "--instance-type", "t2.micro")
	target := run.Instances[0].InstanceId
	targetIP := aws.instances(target)[target].PrivateIpAddress
	if targetIP == "" {
		t.Fatal("the target instance has no private address")
	}
	host := "ip-" + strings.ReplaceAll(targetIP, ".", "-") + ".ec2.internal"
	userData := fmt.Sprintf(`#!/bin/sh
for i in 1 2 3 4 5 6 7 8 9 10; do nslookup %[1]s >/tmp/fwd 2>&1 && break; sleep 1; done
nslookup %[2]s >/tmp/rev 2>&1
nslookup banyan.internal >/tmp/cl 2>&1
nslookup ip-172-31-15-250.ec2.internal >/tmp/nx 2>&1; echo "nx-exit=$?" >>/tmp/nx
echo "dns-$(echo begin)"; cat /tmp/fwd /tmp/rev /tmp/cl /tmp/nx; grep nameserver /etc/resolv.conf; echo "dns-$(echo end)"
`, host, targetIP)
	udFile := filepath.Join(lab.Dir(), "dns.sh")
	if err := os.WriteFile(udFile, []byte(userData), 0o644); err != nil {
		t.Fatal(err)
	}
	aws.must(&run, "ec2", "run-instances", "--image-id", imageID, "--count", "1", "--instance-type", "t2.micro",
		"--user-data", "file://"+udFile)
	asker := run.Instances[0].InstanceId
	aws.waitState(3*time.Minute, "running", target, asker)

	// The console also shows the user data itself, whose markers are spelled so that
	// only running it prints dns-begin and dns-end.
	var out string
	waitFor(t, 3*time.Minute, "the guest's lookups", func() error {
		out = aws.console(asker)
		if !strings.Contains(out, "dns-end") {
			return fmt.Errorf("console:\n%s", lastLines(out, 10))
		}
		return nil
	})
	out = out[strings.LastIndex(out, "dns-begin"):]
	t.Logf("the guest's lookups:\n%s", out)
	for _, want := range []string{
		`Address:\s*` + regexp.QuoteMeta(targetIP) + `\b`,                                                      // forward
		regexp.QuoteMeta(reverseOf(targetIP)) + `\s+name = ` + regexp.QuoteMeta(host),                          // PTR
		`Address:\s*` + regexp.QuoteMeta(box0.IP()) + `\b`, `Address:\s*` + regexp.QuoteMeta(box1.IP()) + `\b`, // the cluster
		`can't find ip-172-31-15-250\.ec2\.internal\.?: NXDOMAIN`, // a name no instance holds
		`nameserver 172\.31\.0\.1\b`,                              // DHCP handed out the router's DNS
	} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("the guest's lookups lack %s", want)
		}
	}

	// The router's listener answers the box too, over TCP as well.
	if got, _, err := boxLookup(box0, "tcp", "172.31.0.1:53", host); err != nil || !slices.Equal(got, []string{targetIP}) {
		t.Errorf("%s over TCP on box0's bridge: %v %v", host, got, err)
	}

	// A killed box leaves the cluster's name within seconds.
	if err := box1.Kill(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for {
		got, _, err := boxLookup(box0, "udp", operator, "photos.s3.banyan.internal")
		if err == nil && slices.Equal(got, []string{box0.IP()}) {
			break
		}
		if time.Since(start) > 15*time.Second {
			t.Fatalf("box1 still in the answer %s after it was killed: %v %v", time.Since(start).Round(time.Millisecond), got, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	gone := time.Since(start)
	t.Logf("box1 killed: gone from banyan.internal after %s", gone.Round(time.Millisecond))
	fmt.Printf("dns: a killed box leaves the cluster name after %s\n", gone.Round(time.Millisecond))
}

func reverseOf(ip string) string {
	p := strings.Split(ip, ".")
	slices.Reverse(p)
	return strings.Join(p, ".") + ".in-addr.arpa"
}
