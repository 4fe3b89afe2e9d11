package dhcp

import (
	"io"
	"log/slog"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"github.com/banyancloud/banyan/cluster/state"
)

var knownMAC = net.HardwareAddr{0x02, 0x00, 0xac, 0x1f, 0x10, 0x04}

func testServer(mod func(*Config)) *Server {
	cfg := Config{
		ServerIP: netip.MustParseAddr("172.31.16.1"),
		Region:   "us-east-1",
		Lookup: func(mac net.HardwareAddr) (Lease, bool) {
			if mac.String() == knownMAC.String() {
				return Lease{Addr: netip.MustParsePrefix("172.31.16.4/20")}, true
			}
			return Lease{}, false
		},
		LeaseTime: time.Hour,
		Domain:    "ec2.internal",
		Log:       slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	if mod != nil {
		mod(&cfg)
	}
	return &Server{cfg: cfg}
}

func msg(t *testing.T, typ dhcpv4.MessageType, mac net.HardwareAddr, mods ...dhcpv4.Modifier) *dhcpv4.DHCPv4 {
	t.Helper()
	m, err := dhcpv4.New(append([]dhcpv4.Modifier{dhcpv4.WithMessageType(typ), dhcpv4.WithHwAddr(mac)}, mods...)...)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestOfferAndAck(t *testing.T) {
	s := testServer(nil)
	for _, c := range []struct {
		req  dhcpv4.MessageType
		want dhcpv4.MessageType
		mods []dhcpv4.Modifier
	}{
		{dhcpv4.MessageTypeDiscover, dhcpv4.MessageTypeOffer, nil},
		{dhcpv4.MessageTypeRequest, dhcpv4.MessageTypeAck, []dhcpv4.Modifier{
			dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(net.IPv4(172, 31, 16, 4))),
			dhcpv4.WithOption(dhcpv4.OptServerIdentifier(net.IPv4(172, 31, 16, 1)))}},
		{dhcpv4.MessageTypeRequest, dhcpv4.MessageTypeAck, []dhcpv4.Modifier{ // renewing: ciaddr
			dhcpv4.WithClientIP(net.IPv4(172, 31, 16, 4))}},
	} {
		req := msg(t, c.req, knownMAC, c.mods...)
		resp := s.Reply(req)
		if resp == nil || resp.MessageType() != c.want {
			t.Fatalf("%s: reply %v, want %s", c.req, resp, c.want)
		}
		if resp.TransactionID != req.TransactionID || resp.ClientHWAddr.String() != knownMAC.String() {
			t.Errorf("reply xid/chaddr do not match the request")
		}
		check := map[string][2]string{
			"yiaddr":    {resp.YourIPAddr.String(), "172.31.16.4"},
			"mask":      {net.IP(resp.SubnetMask()).String(), "255.255.240.0"},
			"router":    {ipsString(resp.Router()), "172.31.16.1"},
			"dns":       {ipsString(resp.DNS()), "172.31.16.1"},
			"server-id": {resp.ServerIdentifier().String(), "172.31.16.1"},
			"hostname":  {resp.HostName(), "ip-172-31-16-4"},
			"domain":    {resp.DomainName(), "ec2.internal"},
			"broadcast": {dhcpv4.GetIP(dhcpv4.OptionBroadcastAddress, resp.Options).String(), "172.31.31.255"},
			"lease":     {resp.IPAddressLeaseTime(0).String(), "1h0m0s"},
		}
		for k, v := range check {
			if v[0] != v[1] {
				t.Errorf("%s: %s = %s, want %s", c.want, k, v[0], v[1])
			}
		}
		if resp.Options.Has(dhcpv4.OptionClasslessStaticRoute) || resp.Options.Has(dhcpv4.OptionInterfaceMTU) {
			t.Errorf("unasked options in %s", resp.Summary())
		}
	}
	// A renewing client is answered at its address, one without at broadcast.
	renew := msg(t, dhcpv4.MessageTypeRequest, knownMAC, dhcpv4.WithClientIP(net.IPv4(172, 31, 16, 4)))
	if d := destination(renew, s.Reply(renew)); d.String() != "172.31.16.4:68" {
		t.Errorf("renew answered at %s", d)
	}
	disc := msg(t, dhcpv4.MessageTypeDiscover, knownMAC)
	if d := destination(disc, s.Reply(disc)); d.String() != "255.255.255.255:68" {
		t.Errorf("discover answered at %s", d)
	}
}

func TestUnknownAndWrong(t *testing.T) {
	s := testServer(nil)
	stranger := net.HardwareAddr{0x02, 0, 0, 0, 0, 0x99}
	if r := s.Reply(msg(t, dhcpv4.MessageTypeDiscover, stranger)); r != nil {
		t.Errorf("discover from unknown MAC answered: %s", r.Summary())
	}
	nak := func(name string, req *dhcpv4.DHCPv4) {
		t.Helper()
		r := s.Reply(req)
		if r == nil || r.MessageType() != dhcpv4.MessageTypeNak {
			t.Errorf("%s: %v, want NAK", name, r)
			return
		}
		if !r.ServerIdentifier().Equal(net.IPv4(172, 31, 16, 1)) || !isZero(r.YourIPAddr) {
			t.Errorf("%s: NAK %s", name, r.Summary())
		}
		if d := destination(req, r); d.String() != "255.255.255.255:68" {
			t.Errorf("%s: NAK sent to %s", name, d)
		}
	}
	nak("unknown MAC", msg(t, dhcpv4.MessageTypeRequest, stranger,
		dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(net.IPv4(172, 31, 16, 9)))))
	nak("wrong address", msg(t, dhcpv4.MessageTypeRequest, knownMAC,
		dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(net.IPv4(172, 31, 16, 9)))))
	nak("renewing another address", msg(t, dhcpv4.MessageTypeRequest, knownMAC, dhcpv4.WithClientIP(net.IPv4(10, 0, 0, 5))))
	if r := s.Reply(msg(t, dhcpv4.MessageTypeRequest, knownMAC,
		dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(net.IPv4(172, 31, 16, 4))),
		dhcpv4.WithOption(dhcpv4.OptServerIdentifier(net.IPv4(10, 9, 9, 9))))); r != nil {
		t.Errorf("request for another server answered: %s", r.Summary())
	}
	for _, typ := range []dhcpv4.MessageType{dhcpv4.MessageTypeRelease, dhcpv4.MessageTypeDecline} {
		if r := s.Reply(msg(t, typ, knownMAC)); r != nil {
			t.Errorf("%s answered: %s", typ, r.Summary())
		}
	}
	offer := s.Reply(msg(t, dhcpv4.MessageTypeDiscover, knownMAC))
	offer.OpCode = dhcpv4.OpcodeBootRequest
	offer.UpdateOption(dhcpv4.OptMessageType(dhcpv4.MessageTypeDiscover))
	reply := s.Reply(offer)
	offer.OpCode = dhcpv4.OpcodeBootReply
	if s.Reply(offer) != nil || reply == nil {
		t.Errorf("BOOTREPLY answered or BOOTREQUEST not")
	}
}

func TestInform(t *testing.T) {
	s := testServer(nil)
	r := s.Reply(msg(t, dhcpv4.MessageTypeInform, knownMAC, dhcpv4.WithClientIP(net.IPv4(172, 31, 16, 4))))
	if r == nil || r.MessageType() != dhcpv4.MessageTypeAck || !isZero(r.YourIPAddr) || r.Options.Has(dhcpv4.OptionIPAddressLeaseTime) {
		t.Fatalf("inform: %v", r)
	}
	if r.HostName() != "ip-172-31-16-4" {
		t.Errorf("inform hostname %q", r.HostName())
	}
}

func TestOptions(t *testing.T) {
	s := testServer(func(c *Config) {
		c.MTU = 1450
		c.MetadataRoute = true
		c.DNS = []netip.Addr{netip.MustParseAddr("172.31.0.2")}
		c.LeaseTime = 10 * time.Minute
	})
	r := s.Reply(msg(t, dhcpv4.MessageTypeDiscover, knownMAC))
	if mtu := r.Options.Get(dhcpv4.OptionInterfaceMTU); len(mtu) != 2 || int(mtu[0])<<8|int(mtu[1]) != 1450 {
		t.Errorf("mtu option %v", mtu)
	}
	routes := r.ClasslessStaticRoute()
	if len(routes) != 2 || routes[0].Dest.String() != "169.254.169.254/32" || routes[1].Dest.String() != "0.0.0.0/0" ||
		!routes[0].Router.Equal(net.IPv4(172, 31, 16, 1)) {
		t.Errorf("classless routes %v", routes)
	}
	if ipsString(r.DNS()) != "172.31.0.2" || r.IPAddressLeaseTime(0) != 10*time.Minute {
		t.Errorf("dns %v lease %v", r.DNS(), r.IPAddressLeaseTime(0))
	}
}

func TestLeaseFor(t *testing.T) {
	l, err := LeaseFor(&state.Instance{ID: "i-1", Zone: "us-east-1c", PrivateIP: "172.31.32.7"})
	if err != nil || l.Addr.String() != "172.31.32.7/20" {
		t.Errorf("LeaseFor = %v, %v", l, err)
	}
	if _, err := LeaseFor(&state.Instance{ID: "i-1", Zone: "us-east-1a", PrivateIP: "172.31.32.7"}); err == nil {
		t.Errorf("LeaseFor accepted an address outside the zone's subnet")
	}
	if _, err := LeaseFor(&state.Instance{ID: "i-1", Zone: "us-east-1a"}); err == nil {
		t.Errorf("LeaseFor accepted an instance without address")
	}
}

func ipsString(ips []net.IP) string {
	s := ""
	for i, ip := range ips {
		if i > 0 {
			s += ","
		}
		s += ip.String()
	}
	return s
}
