package boxlab

import (
	"context"
	"fmt"
	"net"
	"os"
	"time"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
)

// Ping sends one ICMP echo request from the LAN namespace to addr (an IPv4 address)
// and waits for its reply until ctx ends, returning the round trip. The machine has no
// ping, and a raw socket opened in the LAN namespace stays there.
func (l *Lab) Ping(ctx context.Context, addr string) (time.Duration, error) {
	ip := net.ParseIP(addr).To4()
	if ip == nil {
		return 0, fmt.Errorf("boxlab: ping %q: not an IPv4 address", addr)
	}
	c, err := l.Dial(ctx, "ip4:icmp", addr)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	id, seq := os.Getpid()&0xffff, int(time.Now().UnixNano()&0x7fff)
	req, err := (&icmp.Message{Type: ipv4.ICMPTypeEcho, Body: &icmp.Echo{ID: id, Seq: seq, Data: []byte("boxlab")}}).Marshal(nil)
	if err != nil {
		return 0, err
	}
	if dl, ok := ctx.Deadline(); ok {
		c.SetDeadline(dl)
	}
	start := time.Now()
	if _, err := c.Write(req); err != nil {
		return 0, fmt.Errorf("boxlab: ping %s: %w", addr, err)
	}
	pc, ok := c.(*net.IPConn)
	if !ok {
		return 0, fmt.Errorf("boxlab: ping %s: not a raw IP connection", addr)
	}
	buf := make([]byte, 1500)
	for {
		// ReadFrom strips the IPv4 header (Read does not). The raw socket sees every ICMP
		// message from addr: skip what is not our reply.
		n, _, err := pc.ReadFrom(buf)
		if err != nil {
			return 0, fmt.Errorf("boxlab: ping %s: %w", addr, err)
		}
		m, err := icmp.ParseMessage(1, buf[:n])
		if err != nil || m.Type != ipv4.ICMPTypeEchoReply {
			continue
		}
		if e, ok := m.Body.(*icmp.Echo); ok && e.ID == id && e.Seq == seq {
			return time.Since(start), nil
		}
	}
}
