package cluster

import (
	"fmt"
	"net"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/banyancloud/banyan/cluster/mux"
)

// faultyTransport is gossip's UDP and TCP transport with the partitions of a
// mux.Faults applied, so in-process tests cut gossip exactly as they cut Raft and node
// RPC. Only tests set Config.Faults; production uses memberlist's own transport.
type faultyTransport struct {
	inner   *memberlist.NetTransport
	faults  *mux.Faults
	packets chan *memberlist.Packet
	streams chan net.Conn
	done    chan struct{}
}

func newFaultyTransport(bindAddr string, port int, f *mux.Faults, mc *memberlist.Config) (*faultyTransport, error) {
	inner, err := memberlist.NewNetTransport(&memberlist.NetTransportConfig{
		BindAddrs: []string{bindAddr}, BindPort: port, Logger: mc.Logger,
	})
	if err != nil {
		return nil, err
	}
	t := &faultyTransport{inner: inner, faults: f, packets: make(chan *memberlist.Packet),
		streams: make(chan net.Conn), done: make(chan struct{})}
	go func() {
		for {
			select {
			case p := <-inner.PacketCh():
				if !f.Allowed(p.From.String()) {
					continue
				}
				select {
				case t.packets <- p:
				case <-t.done:
					return
				}
			case <-t.done:
				return
			}
		}
	}()
	go func() {
		for {
			select {
			case c := <-inner.StreamCh():
				if !f.Allowed(c.RemoteAddr().String()) {
					c.Close()
					continue
				}
				select {
				case t.streams <- f.Track(c, c.RemoteAddr().String()):
				case <-t.done:
					c.Close()
					return
				}
			case <-t.done:
				return
			}
		}
	}()
	return t, nil
}

func (t *faultyTransport) FinalAdvertiseAddr(ip string, port int) (net.IP, int, error) {
	if port == 0 {
		port = t.inner.GetAutoBindPort()
	}
	return t.inner.FinalAdvertiseAddr(ip, port)
}

func (t *faultyTransport) WriteTo(b []byte, addr string) (time.Time, error) {
	if !t.faults.Allowed(addr) {
		return time.Now(), nil // dropped on the wire
	}
	return t.inner.WriteTo(b, addr)
}

func (t *faultyTransport) PacketCh() <-chan *memberlist.Packet { return t.packets }

func (t *faultyTransport) DialTimeout(addr string, timeout time.Duration) (net.Conn, error) {
	if !t.faults.Allowed(addr) {
		return nil, fmt.Errorf("dial %s: %w", addr, mux.ErrPartitioned)
	}
	c, err := t.inner.DialTimeout(addr, timeout)
	if err != nil {
		return nil, err
	}
	return t.faults.Track(c, addr), nil
}

func (t *faultyTransport) StreamCh() <-chan net.Conn { return t.streams }

func (t *faultyTransport) Shutdown() error {
	close(t.done)
	return t.inner.Shutdown()
}
