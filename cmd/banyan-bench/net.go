package main

// banyan-bench net: the instance network against a plain veth pair, in one run.
//
//	topology A (the limit): [guest1] eth0 ══ veth ══ eth0 [guest2]
//	topology B (Banyan):    [guest1] eth0 ══ vnet0 bnybr0 bnyvx0 [boxA] lan0 ══ veth ══ lan0 [boxB] bnyvx0 bnybr0 vnet0 ══ eth0 [guest2]
//
// Every namespace is unnamed and the benchmark's own; the host's is never touched.

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/sys/unix"

	"github.com/banyancloud/banyan/netctl/firewall"
)

// netConfig is one run's settings.
type netConfig struct {
	seconds time.Duration // each throughput and latency figure, per topology
	trials  int           // changes timed, of each kind
}

// netFigure is one row of the table. Veth and Ratio are nil for what only Banyan's
// path has.
type netFigure struct {
	Figure  string    `json:"figure"`
	Unit    string    `json:"unit"`
	Veth    *float64  `json:"veth_pair,omitempty"`
	Overlay float64   `json:"banyan_overlay"`
	Ratio   *float64  `json:"ratio,omitempty"` // Banyan overlay / veth pair
	Samples []float64 `json:"samples,omitempty"`
}

// netReport is what banyan-bench net prints.
type netReport struct {
	Seconds  float64     `json:"seconds"`
	Trials   int         `json:"trials"`
	Kernel   string      `json:"kernel"`
	GuestMTU [2]int      `json:"guest_mtu"` // veth pair, overlay
	Figures  []netFigure `json:"figures"`
}

func benchNet(args []string) error {
	fs := flag.NewFlagSet("net", flag.ContinueOnError)
	seconds := fs.Float64("seconds", 5, "how long each throughput and latency figure runs, on each topology")
	asJSON := fs.Bool("json", false, "also print the figures as JSON (the last line of the output)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *seconds <= 0 || *seconds > 3600 {
		return fmt.Errorf("--seconds %v: give a number of seconds above 0, at most 3600", *seconds)
	}
	rep, err := runNet(netConfig{seconds: time.Duration(*seconds * float64(time.Second)), trials: 5})
	if err != nil {
		return err
	}
	printNetTable(os.Stdout, rep)
	if *asJSON {
		b, err := json.Marshal(rep)
		if err != nil {
			return err
		}
		fmt.Println(string(b))
	}
	return nil
}

// runNet builds both topologies, measures them, and takes every namespace down again,
// failing if any is still held after.
func runNet(cfg netConfig) (rep *netReport, err error) {
	if os.Geteuid() != 0 {
		return nil, errors.New("net builds network namespaces, bridges, VXLAN devices and nftables tables: run it as root")
	}
	lab := &netLab{}
	defer func() {
		lab.Close()
		if lerr := lab.leftover(); lerr != nil {
			rep, err = nil, errors.Join(err, lerr)
		}
	}()
	g1, g2, err := lab.vethTopology()
	if err != nil {
		return nil, fmt.Errorf("topology A (veth pair): %w", err)
	}
	a, b, err := lab.overlayTopology()
	if err != nil {
		return nil, fmt.Errorf("topology B (overlay): %w", err)
	}
	// Each figure on A then on B, so that a machine busy with other work weighs on
	// both alike.
	paths := [2]struct {
		name string
		c, s *guest
	}{{"veth pair", g1, g2}, {"overlay", a.local, b.local}}
	var one, four [2]float64
	var rtt [2]summary
	for i, p := range paths {
		if one[i], err = tcpThroughput(p.c, p.s, 1, cfg.seconds); err != nil {
			return nil, fmt.Errorf("%s: %w", p.name, err)
		}
	}
	for i, p := range paths {
		if four[i], err = tcpThroughput(p.c, p.s, 4, cfg.seconds); err != nil {
			return nil, fmt.Errorf("%s: %w", p.name, err)
		}
	}
	for i, p := range paths {
		rtts, err := tcpRoundTrips(p.c, p.s, cfg.seconds)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p.name, err)
		}
		rtt[i] = summarize(rtts)
	}

	var admit, sync changeTimes
	var arp []time.Duration
	var extra []firewall.Rule
	for i := range cfg.trials {
		call, path, err := admitTrial(b, a.local, &extra, portAdmitFirst+i)
		if err != nil {
			return nil, fmt.Errorf("firewall trial %d: %w", i+1, err)
		}
		admit.call, admit.path = append(admit.call, call), append(admit.path, path)
	}
	if err := staticNeighbour(a.local, a.peer); err != nil {
		return nil, err
	}
	for i := range cfg.trials {
		call, packet, answer, err := syncTrial(a, portUDPFirst+i)
		if err != nil {
			return nil, fmt.Errorf("overlay trial %d: %w", i+1, err)
		}
		sync.call, sync.path, arp = append(sync.call, call), append(sync.path, packet), append(arp, answer)
	}

	rep = &netReport{Seconds: cfg.seconds.Seconds(), Trials: cfg.trials, Kernel: kernelRelease(), GuestMTU: [2]int{1500, 1450}}
	gbit := func(v float64) float64 { return v / 1e9 }
	us := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e3 }
	both := func(name, unit string, v, o float64) {
		r := o / v
		rep.Figures = append(rep.Figures, netFigure{Figure: name, Unit: unit, Veth: &v, Overlay: o, Ratio: &r})
	}
	both("TCP throughput, 1 stream", "Gbit/s", gbit(one[0]), gbit(one[1]))
	both("TCP throughput, 4 streams", "Gbit/s", gbit(four[0]), gbit(four[1]))
	both("TCP 1-byte round trip, p50", "µs", us(rtt[0].p50), us(rtt[1].p50))
	both("TCP 1-byte round trip, p99", "µs", us(rtt[0].p99), us(rtt[1].p99))
	change := func(name string, ds []time.Duration) {
		var samples []float64
		for _, d := range ds {
			samples = append(samples, ms(d))
		}
		rep.Figures = append(rep.Figures, netFigure{Figure: fmt.Sprintf("%s, p50 of %d", name, len(ds)), Unit: "ms",
			Overlay: ms(summarize(ds).p50), Samples: samples})
	}
	change("firewall.Apply call (box B's table)", admit.call)
	change("firewall.Apply -> first SYN admitted", admit.path)
	change("overlay.Sync call (box A, 1 peer)", sync.call)
	change("overlay.Sync -> first packet at peer", sync.path)
	change("overlay.Sync -> first ARP answer (proxy)", arp)
	return rep, nil
}

func kernelRelease() string {
	var u unix.Utsname
	if unix.Uname(&u) != nil {
		return ""
	}
	return unix.ByteSliceToString(u.Release[:])
}

// printNetTable prints the report as the table the command shows.
func printNetTable(w io.Writer, rep *netReport) {
	fmt.Fprintf(w, "Instance network: veth pair (MTU %d) against Banyan's overlay (bridge, VXLAN over a veth LAN, security-group firewall on both boxes; guest MTU %d)\n",
		rep.GuestMTU[0], rep.GuestMTU[1])
	fmt.Fprintf(w, "kernel %s, %.1f s a figure, Go sockets; changes probed every %v\n\n", rep.Kernel, rep.Seconds, probeEvery)
	width := len("figure")
	for _, f := range rep.Figures {
		width = max(width, utf8.RuneCountInString(f.Figure+" ("+f.Unit+")"))
	}
	fmt.Fprintf(w, "%-*s %12s %15s %7s\n", width, "figure", "veth pair", "Banyan overlay", "ratio")
	fmt.Fprintln(w, strings.Repeat("-", width+1+12+1+15+1+7))
	for _, f := range rep.Figures {
		veth, ratio := "-", "-"
		if f.Veth != nil {
			veth = fmt.Sprintf("%.3f", *f.Veth)
		}
		if f.Ratio != nil {
			ratio = fmt.Sprintf("%.2f", *f.Ratio)
		}
		fmt.Fprintf(w, "%-*s %12s %15.3f %7s\n", width, f.Figure+" ("+f.Unit+")", veth, f.Overlay, ratio)
	}
	fmt.Fprintln(w, "\nratio: Banyan overlay / veth pair. The change rows time from the call's start; each attempt every 1 ms, so they are good to about 1 ms.")
}
