package main

// How long a change takes to reach the data path: a security-group rule (firewall.Apply)
// until the first SYN it admits passes, and an overlay peer (overlay.Sync) until the
// first packet reaches it. Both probe every millisecond from before the change, and both
// first check that the probe is really blocked, so a path that was never filtered, or
// never cut, fails the benchmark instead of giving a figure.

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/banyancloud/banyan/netctl/firewall"
	"github.com/banyancloud/banyan/netctl/overlay"
)

const (
	probeEvery = time.Millisecond
	// probeAttempt is how long one connect attempt may stay pending: far above the
	// path's round trip, far below TCP's first SYN retransmission (1 s), so an attempt
	// whose SYN was dropped never succeeds later.
	probeAttempt = 100 * time.Millisecond
	// blockedFor is how long a probe must fail before the change for the figure to count.
	blockedFor = 25 * time.Millisecond
	// changeLimit is how long a change may take to show before the benchmark gives up.
	changeLimit = 5 * time.Second
)

// connectProbe starts a non-blocking TCP connect from g to to every probeEvery, each
// given probeAttempt, and returns the start (when its SYN left) of the first attempt
// that completed. It runs on one thread in g's namespace, with raw sockets, so an
// attempt costs a socket and a connect, not a thread switch.
func connectProbe(g *guest, to netip.AddrPort, limit time.Duration) (first time.Time, attempts int, err error) {
	type attempt struct {
		fd int
		at time.Time
	}
	err = inNS(g.ns, func() error {
		var pending []attempt
		defer func() {
			for _, a := range pending {
				unix.Close(a.fd)
			}
		}()
		sa := &unix.SockaddrInet4{Port: int(to.Port()), Addr: to.Addr().As4()}
		end := time.Now().Add(limit)
		next := time.Now()
		for {
			now := time.Now()
			if now.After(end) {
				return fmt.Errorf("no connection from %s to %s within %v (%d attempts)", g.name, to, limit, attempts)
			}
			if !now.Before(next) {
				fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
				if err != nil {
					return fmt.Errorf("probe socket: %w", err)
				}
				at := time.Now()
				attempts++
				switch err := unix.Connect(fd, sa); {
				case err == nil:
					unix.Close(fd)
					first = at
					return nil
				case errors.Is(err, unix.EINPROGRESS):
					pending = append(pending, attempt{fd, at})
				default:
					unix.Close(fd)
					return fmt.Errorf("probe connect to %s: %w", to, err)
				}
				if next = next.Add(probeEvery); next.Before(now) {
					next = now.Add(probeEvery)
				}
			}
			// Give up attempts whose SYN went unanswered.
			kept := pending[:0]
			for _, a := range pending {
				if now.Sub(a.at) > probeAttempt {
					unix.Close(a.fd)
					continue
				}
				kept = append(kept, a)
			}
			pending = kept
			fds := make([]unix.PollFd, len(pending))
			for i, a := range pending {
				fds[i] = unix.PollFd{Fd: int32(a.fd), Events: unix.POLLOUT}
			}
			ts := unix.NsecToTimespec(max(time.Until(next), 0).Nanoseconds())
			if _, err := unix.Ppoll(fds, &ts, nil); err != nil && !errors.Is(err, unix.EINTR) {
				return fmt.Errorf("probe poll: %w", err)
			}
			var done []int
			for i, p := range fds {
				if p.Revents == 0 {
					continue
				}
				soerr, err := unix.GetsockoptInt(pending[i].fd, unix.SOL_SOCKET, unix.SO_ERROR)
				if err == nil && soerr == 0 {
					first = pending[i].at // pending is in start order: the earliest
					return nil
				}
				if unix.Errno(soerr) == unix.ECONNREFUSED {
					return fmt.Errorf("probe to %s refused: nothing listens there", to)
				}
				done = append(done, i)
			}
			for j := len(done) - 1; j >= 0; j-- {
				unix.Close(pending[done[j]].fd)
				pending = append(pending[:done[j]], pending[done[j]+1:]...)
			}
		}
	})
	return first, attempts, err
}

// changeTimes are one kind of change's trials: how long the call took, and how long
// from its start until the data path showed it.
type changeTimes struct {
	call, path []time.Duration
}

// admitTrial opens port on guest2 and measures, from guest1, the rule that admits it
// being applied on box B (the whole table replaced, as the firewall controller does).
func admitTrial(b *box, from *guest, extra *[]firewall.Rule, port int) (call, path time.Duration, err error) {
	l, err := listenIn(b.local, "tcp4", port)
	if err != nil {
		return 0, 0, err
	}
	srv := serve(l, func(c net.Conn) { c.Close() })
	defer srv.Close()
	type result struct {
		first time.Time
		err   error
	}
	done := make(chan result, 1)
	go func() {
		first, _, err := connectProbe(from, netip.AddrPortFrom(b.local.addr, uint16(port)), changeLimit+blockedFor)
		done <- result{first, err}
	}()
	select {
	case r := <-done:
		if r.err != nil {
			return 0, 0, r.err
		}
		return 0, 0, fmt.Errorf("port %d of %s was reachable before any rule admitted it: the firewall does not filter the overlay's traffic (bridge-nf-call-iptables?)", port, b.local.name)
	case <-time.After(blockedFor):
	}
	rule := firewall.Rule{Protocol: "tcp", FromPort: int32(port), ToPort: int32(port), CIDR: netip.MustParsePrefix("172.31.0.0/16")}
	rs := b.ruleset(append(*extra, rule)...)
	t0 := time.Now()
	if err := b.apply(rs); err != nil {
		<-done
		return 0, 0, err
	}
	call = time.Since(t0)
	*extra = append(*extra, rule)
	r := <-done
	if r.err != nil {
		return 0, 0, r.err
	}
	if r.first.Before(t0) {
		return 0, 0, fmt.Errorf("a SYN to port %d passed %v before its rule was applied", port, t0.Sub(r.first))
	}
	return call, r.first.Sub(t0), nil
}

// arpProbe sends an ARP request from g for target every probeEvery (a raw frame, so the
// guest kernel's own ARP timers play no part) and returns when the first answer came.
func arpProbe(g *guest, target netip.Addr, limit time.Duration) (answered time.Time, err error) {
	err = inNS(g.ns, func() error {
		eth, err := g.h.LinkByName("eth0")
		if err != nil {
			return err
		}
		proto := int(htons(unix.ETH_P_ARP))
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, proto)
		if err != nil {
			return fmt.Errorf("ARP probe socket: %w", err)
		}
		defer unix.Close(fd)
		to := &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ARP), Ifindex: eth.Attrs().Index, Halen: 6,
			Addr: [8]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}
		if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ARP), Ifindex: eth.Attrs().Index}); err != nil {
			return fmt.Errorf("ARP probe bind: %w", err)
		}
		req := arpRequest(g.mac, g.addr, target)
		buf := make([]byte, 1500)
		end := time.Now().Add(limit)
		for next := time.Now(); ; {
			now := time.Now()
			if now.After(end) {
				return fmt.Errorf("no ARP answer for %s to %s within %v", target, g.name, limit)
			}
			if !now.Before(next) {
				if err := unix.Sendto(fd, req, 0, to); err != nil {
					return fmt.Errorf("ARP probe send: %w", err)
				}
				if next = next.Add(probeEvery); next.Before(now) {
					next = now.Add(probeEvery)
				}
			}
			fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
			ts := unix.NsecToTimespec(max(time.Until(next), 0).Nanoseconds())
			if _, err := unix.Ppoll(fds, &ts, nil); err != nil && !errors.Is(err, unix.EINTR) {
				return fmt.Errorf("ARP probe poll: %w", err)
			}
			for fds[0].Revents&unix.POLLIN != 0 {
				n, _, err := unix.Recvfrom(fd, buf, unix.MSG_DONTWAIT)
				if err != nil {
					break
				}
				if isARPReply(buf[:n], target) {
					answered = time.Now()
					return nil
				}
			}
		}
	})
	return answered, err
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// arpRequest is an Ethernet broadcast asking who has target, from (mac, ip).
func arpRequest(mac net.HardwareAddr, ip, target netip.Addr) []byte {
	f := make([]byte, 0, 42)
	f = append(f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)
	f = append(f, mac...)
	f = append(f, 0x08, 0x06)                // ARP
	f = append(f, 0, 1, 0x08, 0, 6, 4, 0, 1) // Ethernet, IPv4, request
	f = append(f, mac...)
	f = append(f, ip.AsSlice()...)
	f = append(f, 0, 0, 0, 0, 0, 0)
	return append(f, target.AsSlice()...)
}

// isARPReply reports whether frame answers where target is.
func isARPReply(frame []byte, target netip.Addr) bool {
	if len(frame) < 42 || frame[12] != 0x08 || frame[13] != 0x06 || frame[20] != 0 || frame[21] != 2 {
		return false
	}
	spa, _ := netip.AddrFromSlice(frame[28:32])
	return spa == target
}

// syncTrial takes guest2 out of box A's overlay entries, checks that guest1 can neither
// reach it nor get an ARP answer for it, then adds it back with overlay.Sync and times
// both: the first UDP datagram (guest1 sends one every probeEvery; it keeps guest2's MAC
// as a static neighbour, so this times the forwarding entries) and the first ARP answer
// (the device's proxy, from its neighbour entry).
func syncTrial(a *box, port int) (call, packet, arp time.Duration, err error) {
	from, to := a.local, a.peer
	if _, _, err := overlay.Sync(a.h, a.dev, nil); err != nil {
		return 0, 0, 0, err
	}
	var rconn, sconn *net.UDPConn
	if err := inNS(to.ns, func() (err error) {
		rconn, err = net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(to.addr, uint16(port))))
		return err
	}); err != nil {
		return 0, 0, 0, fmt.Errorf("%s: %w", to.name, err)
	}
	if err := inNS(from.ns, func() (err error) {
		sconn, err = net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(to.addr, uint16(port))))
		return err
	}); err != nil {
		rconn.Close()
		return 0, 0, 0, fmt.Errorf("%s: %w", from.name, err)
	}
	arrived := make(chan time.Time, 1)
	type result struct {
		at  time.Time
		err error
	}
	answered := make(chan result, 1)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(3)
	go func() {
		defer wg.Done()
		b := make([]byte, 64)
		if _, _, err := rconn.ReadFromUDP(b); err == nil {
			arrived <- time.Now()
		}
	}()
	go func() {
		defer wg.Done()
		t := time.NewTicker(probeEvery)
		defer t.Stop()
		for {
			sconn.Write([]byte("probe"))
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()
	go func() {
		defer wg.Done()
		at, err := arpProbe(from, to.addr, changeLimit+blockedFor)
		answered <- result{at, err}
	}()
	defer func() {
		close(stop)
		rconn.Close()
		sconn.Close()
		wg.Wait()
	}()
	select {
	case <-arrived:
		return 0, 0, 0, fmt.Errorf("%s reached %s with no overlay entries for it on %s", from.name, to.name, a.name)
	case r := <-answered:
		if r.err != nil {
			return 0, 0, 0, r.err
		}
		return 0, 0, 0, fmt.Errorf("%s got an ARP answer for %s with no overlay entries for it on %s", from.name, to.name, a.name)
	case <-time.After(blockedFor):
	}
	t0 := time.Now()
	if _, _, err := overlay.Sync(a.h, a.dev, a.peers()); err != nil {
		return 0, 0, 0, err
	}
	call = time.Since(t0)
	select {
	case at := <-arrived:
		packet = at.Sub(t0)
	case <-time.After(changeLimit):
		return 0, 0, 0, fmt.Errorf("no packet from %s reached %s within %v of overlay.Sync adding it", from.name, to.name, changeLimit)
	}
	r := <-answered
	if r.err != nil {
		return 0, 0, 0, r.err
	}
	return call, packet, r.at.Sub(t0), nil
}
