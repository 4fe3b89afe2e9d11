package netctl

import (
	"net/netip"
	"testing"

	"github.com/banyancloud/banyan/cluster/state"
)

func TestAddressing(t *testing.T) {
	gw, err := Gateway("us-east-1b")
	if err != nil || gw.String() != "172.31.16.1/20" {
		t.Errorf("Gateway(us-east-1b) = %v, %v", gw, err)
	}
	if _, err := Gateway(""); err == nil {
		t.Errorf("Gateway of no zone succeeded")
	}
	ip := netip.MustParseAddr("172.31.16.4")
	if h := Hostname(ip); h != "ip-172-31-16-4" {
		t.Errorf("Hostname = %q", h)
	}
	for region, want := range map[string]string{"us-east-1": "ip-172-31-16-4.ec2.internal", "eu-west-1": "ip-172-31-16-4.eu-west-1.compute.internal"} {
		if got := FQDN(ip, region); got != want {
			t.Errorf("FQDN in %s = %q, want %q", region, got, want)
		}
	}
	p, err := InstanceAddr(&state.Instance{ID: "i-1", Zone: "us-east-1b", PrivateIP: "172.31.16.4"})
	if err != nil || p.String() != "172.31.16.4/20" {
		t.Errorf("InstanceAddr = %v, %v", p, err)
	}
	if mac := RouterMAC(gw.Addr()).String(); mac != "0a:58:ac:1f:10:01" {
		t.Errorf("RouterMAC = %s", mac)
	}
}
