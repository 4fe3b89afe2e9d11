// Package dhcp is the box's DHCPv4 server for its instances: bound to the bridge, it
// gives each instance the fixed address the replicated state holds for its MAC (looked
// up through a callback, so there is no lease database), with EC2's options: mask,
// router, DNS, ip-a-b-c-d host name, region domain, a one-hour lease.
package dhcp

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/dhcpv4/server4"

	"github.com/banyancloud/banyan/cluster/state"
	"github.com/banyancloud/banyan/netctl"
)

// Lease is what the server gives one MAC.
type Lease struct {
	// Addr is the address with its subnet's length (172.31.16.4/20); the router is
	// the subnet's first host.
	Addr netip.Prefix
	// Hostname is the host name option; "" for EC2's ip-172-31-16-4.
	Hostname string
}

// LeaseFor is an instance's lease: its private address in its zone's subnet.
func LeaseFor(in *state.Instance) (Lease, error) {
	p, err := netctl.InstanceAddr(in)
	if err != nil {
		return Lease{}, err
	}
	return Lease{Addr: p}, nil
}

// Config configures a Server.
type Config struct {
	// Interface is the bridge to serve on ("" for netctl.DefaultBridge); the socket is
	// bound to it, so requests arriving elsewhere are never seen.
	Interface string
	// ServerIP is the server's address on the bridge (the zone subnet's router), sent
	// as the server identifier.
	ServerIP netip.Addr
	// Lookup returns the lease of a MAC; false for a MAC the box does not know.
	Lookup func(mac net.HardwareAddr) (Lease, bool)
	// Region picks the domain name (ec2.internal in us-east-1, else
	// REGION.compute.internal) unless Domain is set.
	Region string
	Domain string
	// DNS is the name servers offered; nil for the lease's router, where the box's
	// DNS server (netctl/dns) answers the instances.
	DNS []netip.Addr
	// LeaseTime is the lease's length; 0 for one hour.
	LeaseTime time.Duration
	// MTU is the interface MTU offered (option 26); 0 sends none.
	MTU int
	// MetadataRoute sends classless static routes (option 121): 169.254.169.254/32 and
	// the default route, both via the router. Off by default, as in EC2: the default
	// route already reaches the metadata address, and a client that gets option 121
	// must ignore the router option.
	MetadataRoute bool
	// Log gets one line per lease given or refused; nil for slog.Default().
	Log *slog.Logger
}

// Server answers DHCP on one bridge.
type Server struct {
	cfg    Config
	srv    *server4.Server
	closed atomic.Bool
}

// New opens the server's socket (UDP port 67 bound to the bridge, in the calling
// thread's network namespace); Serve answers on it.
func New(cfg Config) (*Server, error) {
	if cfg.Interface == "" {
		cfg.Interface = netctl.DefaultBridge
	}
	if !cfg.ServerIP.Is4() {
		return nil, fmt.Errorf("dhcp: server address %v is not IPv4", cfg.ServerIP)
	}
	if cfg.Lookup == nil {
		return nil, errors.New("dhcp: no lease lookup")
	}
	if cfg.LeaseTime <= 0 {
		cfg.LeaseTime = time.Hour
	}
	if cfg.Domain == "" {
		cfg.Domain = netctl.Domain(cfg.Region)
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	s := &Server{cfg: cfg}
	srv, err := server4.NewServer(cfg.Interface, &net.UDPAddr{Port: dhcpv4.ServerPort}, s.handle)
	if err != nil {
		return nil, fmt.Errorf("dhcp on %s: %w", cfg.Interface, err)
	}
	s.srv = srv
	return s, nil
}

// Serve answers requests until Close.
func (s *Server) Serve() error {
	err := s.srv.Serve()
	if s.closed.Load() {
		return nil
	}
	return err
}

// Close stops the server and closes its socket.
func (s *Server) Close() error {
	s.closed.Store(true)
	return s.srv.Close()
}

func (s *Server) handle(conn net.PacketConn, _ net.Addr, req *dhcpv4.DHCPv4) {
	resp := s.Reply(req)
	if resp == nil {
		return
	}
	if _, err := conn.WriteTo(resp.ToBytes(), destination(req, resp)); err != nil {
		s.cfg.Log.Warn("dhcp: send failed", "mac", req.ClientHWAddr.String(), "type", resp.MessageType().String(), "err", err)
	}
}

// destination is where a reply goes (RFC 2131 4.1): to the relay, else broadcast for a
// NAK or a client without an address, else to the client's address.
func destination(req, resp *dhcpv4.DHCPv4) *net.UDPAddr {
	switch {
	case !isZero(req.GatewayIPAddr):
		return &net.UDPAddr{IP: req.GatewayIPAddr, Port: dhcpv4.ServerPort}
	case resp.MessageType() == dhcpv4.MessageTypeNak || isZero(req.ClientIPAddr):
		return &net.UDPAddr{IP: net.IPv4bcast, Port: dhcpv4.ClientPort}
	default:
		return &net.UDPAddr{IP: req.ClientIPAddr, Port: dhcpv4.ClientPort}
	}
}

func isZero(ip net.IP) bool { return ip == nil || ip.IsUnspecified() }

// Reply is the server's answer to one message, nil for none: an OFFER to a DISCOVER
// from a known MAC, an ACK to a REQUEST for the MAC's own address, a NAK to any other
// REQUEST meant for this server, an ACK without address to an INFORM; nothing for
// unknown MACs' DISCOVERs, REQUESTs meant for another server, RELEASE and DECLINE.
func (s *Server) Reply(req *dhcpv4.DHCPv4) *dhcpv4.DHCPv4 {
	if req.OpCode != dhcpv4.OpcodeBootRequest {
		return nil
	}
	mac := req.ClientHWAddr
	lease, known := s.cfg.Lookup(mac)
	if known && !lease.Addr.Addr().Is4() {
		s.cfg.Log.Warn("dhcp: lease without an IPv4 address", "mac", mac.String(), "addr", lease.Addr)
		known = false
	}
	log := s.cfg.Log.With("mac", mac.String())
	switch req.MessageType() {
	case dhcpv4.MessageTypeDiscover:
		if !known {
			log.Debug("dhcp: discover from unknown MAC ignored")
			return nil
		}
		return s.answer(req, dhcpv4.MessageTypeOffer, lease)
	case dhcpv4.MessageTypeRequest:
		if sid := req.ServerIdentifier(); !isZero(sid) && !sid.Equal(s.cfg.ServerIP.AsSlice()) {
			return nil // the client took another server's offer
		}
		want := req.RequestedIPAddress()
		if isZero(want) {
			want = req.ClientIPAddr
		}
		if !known {
			log.Info("dhcp: nak: unknown MAC", "requested", want.String())
			return s.nak(req, "unknown client")
		}
		if ip, ok := netip.AddrFromSlice(want.To4()); !ok || ip != lease.Addr.Addr() {
			log.Info("dhcp: nak: wrong address", "requested", want.String(), "lease", lease.Addr.Addr())
			return s.nak(req, "address not leased to this client")
		}
		resp := s.answer(req, dhcpv4.MessageTypeAck, lease)
		if resp != nil {
			log.Info("dhcp: ack", "ip", lease.Addr.Addr())
		}
		return resp
	case dhcpv4.MessageTypeInform:
		if !known {
			return nil
		}
		resp := s.answer(req, dhcpv4.MessageTypeAck, lease)
		if resp != nil {
			resp.YourIPAddr = net.IPv4zero
			resp.Options.Del(dhcpv4.OptionIPAddressLeaseTime)
		}
		return resp
	case dhcpv4.MessageTypeDecline:
		log.Warn("dhcp: client declined its address (in use on the link?)", "requested", req.RequestedIPAddress().String())
	}
	return nil
}

func (s *Server) answer(req *dhcpv4.DHCPv4, typ dhcpv4.MessageType, l Lease) *dhcpv4.DHCPv4 {
	ip := l.Addr.Addr()
	subnet := l.Addr.Masked()
	router := netctl.Router(subnet)
	mask := net.CIDRMask(l.Addr.Bits(), 32)
	bcast := make(net.IP, 4)
	for i, b := range ip.As4() {
		bcast[i] = b | ^mask[i]
	}
	dns := s.cfg.DNS
	if len(dns) == 0 {
		dns = []netip.Addr{router}
	}
	host := l.Hostname
	if host == "" {
		host = netctl.Hostname(ip)
	}
	mods := []dhcpv4.Modifier{
		dhcpv4.WithMessageType(typ),
		dhcpv4.WithYourIP(ip.AsSlice()),
		dhcpv4.WithServerIP(s.cfg.ServerIP.AsSlice()),
		dhcpv4.WithOption(dhcpv4.OptServerIdentifier(s.cfg.ServerIP.AsSlice())),
		dhcpv4.WithOption(dhcpv4.OptSubnetMask(mask)),
		dhcpv4.WithOption(dhcpv4.OptBroadcastAddress(bcast)),
		dhcpv4.WithOption(dhcpv4.OptRouter(router.AsSlice())),
		dhcpv4.WithOption(dhcpv4.OptDNS(ips(dns)...)),
		dhcpv4.WithOption(dhcpv4.OptHostName(host)),
		dhcpv4.WithOption(dhcpv4.OptDomainName(s.cfg.Domain)),
		dhcpv4.WithOption(dhcpv4.OptIPAddressLeaseTime(s.cfg.LeaseTime)),
	}
	if s.cfg.MTU > 0 {
		mods = append(mods, dhcpv4.WithGeneric(dhcpv4.OptionInterfaceMTU, []byte{byte(s.cfg.MTU >> 8), byte(s.cfg.MTU)}))
	}
	if s.cfg.MetadataRoute {
		mods = append(mods, dhcpv4.WithOption(dhcpv4.OptClasslessStaticRoute(
			&dhcpv4.Route{Dest: &net.IPNet{IP: netctl.MetadataAddr.AsSlice(), Mask: net.CIDRMask(32, 32)}, Router: router.AsSlice()},
			&dhcpv4.Route{Dest: &net.IPNet{IP: net.IPv4zero.To4(), Mask: net.CIDRMask(0, 32)}, Router: router.AsSlice()},
		)))
	}
	resp, err := dhcpv4.NewReplyFromRequest(req, mods...)
	if err != nil {
		s.cfg.Log.Warn("dhcp: build reply", "err", err)
		return nil
	}
	return resp
}

func (s *Server) nak(req *dhcpv4.DHCPv4, msg string) *dhcpv4.DHCPv4 {
	resp, err := dhcpv4.NewReplyFromRequest(req,
		dhcpv4.WithMessageType(dhcpv4.MessageTypeNak),
		dhcpv4.WithOption(dhcpv4.OptServerIdentifier(s.cfg.ServerIP.AsSlice())),
		dhcpv4.WithOption(dhcpv4.OptMessage(msg)),
	)
	if err != nil {
		s.cfg.Log.Warn("dhcp: build nak", "err", err)
		return nil
	}
	return resp
}

func ips(as []netip.Addr) []net.IP {
	out := make([]net.IP, 0, len(as))
	for _, a := range as {
		out = append(out, a.AsSlice())
	}
	return out
}
