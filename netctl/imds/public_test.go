package imds

import (
	"net/netip"
	"strings"
	"testing"
)

func TestPublicAddress(t *testing.T) {
	f := newFixture(t, func(c *Config) {
		c.PublicIP = func(id string) (netip.Addr, bool) {
			if id == testInstance.ID {
				return netip.MustParseAddr("192.0.2.129"), true
			}
			return netip.Addr{}, false
		}
	})
	nic := "/latest/meta-data/network/interfaces/macs/02:00:ac:1f:10:04/"
	for path, want := range map[string]string{
		"/latest/meta-data/public-ipv4":       "192.0.2.129",
		"/latest/meta-data/public-hostname":   "ec2-192-0-2-129.compute-1.amazonaws.com",
		nic + "public-ipv4s":                  "192.0.2.129",
		nic + "ipv4-associations/192.0.2.129": "172.31.16.4",
		nic + "ipv4-associations/":            "192.0.2.129",
		nic + "public-hostname":               "ec2-192-0-2-129.compute-1.amazonaws.com",
	} {
		if code, body, _ := f.do("GET", path, me, nil); code != 200 || body != want {
			t.Errorf("GET %s = %d %q, want %q", path, code, body, want)
		}
	}
	if _, body, _ := f.do("GET", "/latest/meta-data/", me, nil); !strings.Contains(body, "public-ipv4\n") {
		t.Errorf("listing lacks public-ipv4: %q", body)
	}
	// An instance without a public address has neither, as in EC2.
	for _, p := range []string{"/latest/meta-data/public-ipv4", "/latest/meta-data/public-hostname"} {
		if code, _, _ := f.do("GET", p, "172.31.16.5", nil); code != 404 {
			t.Errorf("GET %s without a public address = %d, want 404", p, code)
		}
	}
}
