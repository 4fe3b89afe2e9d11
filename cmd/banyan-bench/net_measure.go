package main

// Throughput and request/response latency between two guests, over Go sockets. A socket
// belongs to the namespace it was made in, so only the listen and the dial run on a
// thread inside a guest; the reads and writes run anywhere.

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// listenIn listens on g's address, port.
func listenIn(g *guest, network string, port int) (net.Listener, error) {
	var l net.Listener
	err := inNS(g.ns, func() (err error) {
		l, err = net.Listen(network, netip.AddrPortFrom(g.addr, uint16(port)).String())
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("%s: listen on %d: %w", g.name, port, err)
	}
	return l, nil
}

// dialFrom connects from c to to, retrying for up to wait while the path comes up.
func dialFrom(c *guest, to netip.AddrPort, wait time.Duration) (net.Conn, error) {
	var conn net.Conn
	var err error
	for deadline := time.Now().Add(wait); ; time.Sleep(50 * time.Millisecond) {
		err = inNS(c.ns, func() (err error) {
			conn, err = net.DialTimeout("tcp4", to.String(), 500*time.Millisecond)
			return err
		})
		if err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("%s cannot reach %s: %w", c.name, to, err)
	}
	return conn, nil
}

// server accepts n connections on l and hands each to serve; Close stops it and waits
// for every connection it accepted to be closed, so no socket outlives a figure.
type server struct {
	l      net.Listener
	wg     sync.WaitGroup
	mu     sync.Mutex
	closed bool
	conns  []net.Conn
}

func serve(l net.Listener, handle func(net.Conn)) *server {
	s := &server{l: l}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			if s.closed {
				s.mu.Unlock()
				c.Close()
				return
			}
			s.conns = append(s.conns, c)
			s.wg.Add(1)
			s.mu.Unlock()
			go func() {
				defer s.wg.Done()
				handle(c)
			}()
		}
	}()
	return s
}

func (s *server) Close() {
	s.mu.Lock()
	s.closed = true
	for _, c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.l.Close()
	s.wg.Wait()
}

// tcpThroughput sends from c to s over streams connections for dur and returns what s
// received in that time, in bit/s (after a short ramp-up that is not counted).
func tcpThroughput(c, s *guest, streams int, dur time.Duration) (float64, error) {
	l, err := listenIn(s, "tcp4", portStream)
	if err != nil {
		return 0, err
	}
	var received atomic.Int64
	srv := serve(l, func(conn net.Conn) {
		buf := make([]byte, 256<<10)
		for {
			n, err := conn.Read(buf)
			received.Add(int64(n))
			if err != nil {
				return
			}
		}
	})
	defer srv.Close()
	var conns []net.Conn
	defer func() {
		for _, conn := range conns {
			conn.Close()
		}
	}()
	for range streams {
		conn, err := dialFrom(c, netip.AddrPortFrom(s.addr, portStream), 5*time.Second)
		if err != nil {
			return 0, err
		}
		conns = append(conns, conn)
	}
	var writers sync.WaitGroup
	for _, conn := range conns {
		writers.Add(1)
		go func() {
			defer writers.Done()
			buf := make([]byte, 128<<10)
			for {
				if _, err := conn.Write(buf); err != nil {
					return
				}
			}
		}()
	}
	time.Sleep(min(dur/10, 300*time.Millisecond))
	from, t0 := received.Load(), time.Now()
	time.Sleep(dur)
	to, el := received.Load(), time.Since(t0)
	for _, conn := range conns {
		conn.Close()
	}
	writers.Wait()
	if to <= from {
		return 0, fmt.Errorf("%s received nothing from %s in %v", s.name, c.name, dur)
	}
	return float64(to-from) * 8 / el.Seconds(), nil
}

// tcpRoundTrips sends one byte from c to s and waits for it back, on one connection, for
// dur, and returns each round trip.
func tcpRoundTrips(c, s *guest, dur time.Duration) ([]time.Duration, error) {
	l, err := listenIn(s, "tcp4", portPingPong)
	if err != nil {
		return nil, err
	}
	srv := serve(l, func(conn net.Conn) {
		b := make([]byte, 1)
		for {
			if _, err := io.ReadFull(conn, b); err != nil {
				return
			}
			if _, err := conn.Write(b); err != nil {
				return
			}
		}
	})
	defer srv.Close()
	conn, err := dialFrom(c, netip.AddrPortFrom(s.addr, portPingPong), 5*time.Second)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(dur + 10*time.Second))
	b := []byte{'x'}
	var rtts []time.Duration
	for i, end := 0, time.Now().Add(dur); time.Now().Before(end); i++ {
		start := time.Now()
		if _, err := conn.Write(b); err != nil {
			return nil, fmt.Errorf("round trip %d: %w", i, err)
		}
		if _, err := io.ReadFull(conn, b); err != nil {
			return nil, fmt.Errorf("round trip %d: %w", i, err)
		}
		if i >= 100 { // the first ones warm the path and the scheduler
			rtts = append(rtts, time.Since(start))
		}
	}
	if len(rtts) == 0 {
		return nil, errors.New("no round trips in the time given")
	}
	return rtts, nil
}
