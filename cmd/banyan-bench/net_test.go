package main

import (
	"bytes"
	"encoding/json"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// needNamespaces skips where network namespaces cannot be made.
func needNamespaces(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: builds network namespaces, bridges, VXLAN devices and nftables tables")
	}
	lab := &netLab{}
	defer lab.Close()
	if _, err := lab.newNS("probe"); err != nil {
		t.Skipf("cannot make a network namespace here: %v", err)
	}
}

// hostNetNS is the namespace the test process runs in.
func hostNetNS(t *testing.T) uint64 {
	t.Helper()
	ino, ok := nsInode("/proc/self/ns/net")
	if !ok {
		t.Fatal("cannot stat /proc/self/ns/net")
	}
	return ino
}

// A short run: both topologies are built and measured, the table has its rows and
// columns, every figure is positive, and nothing of the process is left in another
// namespace after. No timing is asserted.
func TestNetBenchShort(t *testing.T) {
	needNamespaces(t)
	host := hostNetNS(t)
	rep, err := runNet(netConfig{seconds: 300 * time.Millisecond, trials: 2})
	if err != nil {
		t.Fatal(err)
	}

	want := []struct {
		name string
		both bool
	}{
		{"TCP throughput, 1 stream", true},
		{"TCP throughput, 4 streams", true},
		{"TCP 1-byte round trip, p50", true},
		{"TCP 1-byte round trip, p99", true},
		{"firewall.Apply call (box B's table), p50 of 2", false},
		{"firewall.Apply -> first SYN admitted, p50 of 2", false},
		{"overlay.Sync call (box A, 1 peer), p50 of 2", false},
		{"overlay.Sync -> first packet at peer, p50 of 2", false},
		{"overlay.Sync -> first ARP answer (proxy), p50 of 2", false},
	}
	if len(rep.Figures) != len(want) {
		t.Fatalf("%d figures, want %d: %+v", len(rep.Figures), len(want), rep.Figures)
	}
	for i, w := range want {
		f := rep.Figures[i]
		if f.Figure != w.name {
			t.Errorf("figure %d is %q, want %q", i, f.Figure, w.name)
		}
		if !(f.Overlay > 0) {
			t.Errorf("%s: overlay figure %v", f.Figure, f.Overlay)
		}
		if w.both {
			if f.Veth == nil || !(*f.Veth > 0) || f.Ratio == nil || !(*f.Ratio > 0) {
				t.Errorf("%s: veth %v ratio %v, want both positive", f.Figure, f.Veth, f.Ratio)
			}
		} else {
			if f.Veth != nil || f.Ratio != nil {
				t.Errorf("%s: a veth figure for what only the overlay has", f.Figure)
			}
			if len(f.Samples) != 2 {
				t.Errorf("%s: %d samples, want 2", f.Figure, len(f.Samples))
			}
			for _, s := range f.Samples {
				if !(s > 0) {
					t.Errorf("%s: sample %v", f.Figure, s)
				}
			}
		}
	}

	var out bytes.Buffer
	printNetTable(&out, rep)
	lines := strings.Split(out.String(), "\n")
	header := -1
	for i, l := range lines {
		if strings.Fields(l) != nil && strings.Join(strings.Fields(l), " ") == "figure veth pair Banyan overlay ratio" {
			header = i
		}
	}
	if header < 0 || header+2+len(want) > len(lines) {
		t.Fatalf("no table header in:\n%s", out.String())
	}
	for i, w := range want {
		row := lines[header+2+i]
		if !strings.HasPrefix(row, w.name+" (") {
			t.Errorf("row %d %q does not start with %q", i, row, w.name)
		}
		fields := strings.Fields(row)
		if len(fields) < 4 {
			t.Errorf("row %q: too few columns", row)
			continue
		}
		cols := fields[len(fields)-3:]
		if label := strings.Join(fields[:len(fields)-3], " "); label != w.name+" ("+rep.Figures[i].Unit+")" {
			t.Errorf("row %q: label %q", row, label)
		}
		for j, c := range cols {
			if !w.both && j != 1 {
				if c != "-" {
					t.Errorf("row %q: column %d is %q, want -", row, j, c)
				}
				continue
			}
			if v, err := strconv.ParseFloat(c, 64); err != nil || !(v > 0) {
				t.Errorf("row %q: column %d is %q, not a positive number", row, j, c)
			}
		}
	}

	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	var back netReport
	if err := json.Unmarshal(b, &back); err != nil || len(back.Figures) != len(want) || back.Trials != 2 {
		t.Errorf("JSON round trip: %v, %d figures", err, len(back.Figures))
	}

	// Gone: no thread in another namespace, no descriptor of one.
	tasks, _ := filepath.Glob("/proc/self/task/*/ns/net")
	for _, task := range tasks {
		if ino, ok := nsInode(task); ok && ino != host {
			t.Errorf("%s is in namespace %d after the run", task, ino)
		}
	}
	fds, _ := os.ReadDir("/proc/self/fd")
	for _, e := range fds {
		if link, _ := os.Readlink(filepath.Join("/proc/self/fd", e.Name())); strings.HasPrefix(link, "net:[") {
			t.Errorf("descriptor %s still holds %s", e.Name(), link)
		}
	}
}

// The leak check sees a socket left open in a lab namespace, and is quiet once it closes.
func TestNetLabLeftover(t *testing.T) {
	needNamespaces(t)
	lab := &netLab{}
	n, err := lab.newNS("leaky")
	if err != nil {
		t.Fatal(err)
	}
	var l net.Listener
	if err := inNS(n.ns, func() (err error) { l, err = net.Listen("tcp4", "127.0.0.1:0"); return err }); err != nil {
		t.Fatal(err)
	}
	lab.Close()
	err = lab.leftover()
	if err == nil || !strings.Contains(err.Error(), "leaky (a socket made in it)") {
		t.Errorf("leftover with a socket open in the namespace: %v", err)
	}
	l.Close()
	if err := lab.leftover(); err != nil {
		t.Errorf("leftover after closing the socket: %v", err)
	}
}

func TestARPFrames(t *testing.T) {
	mac := net.HardwareAddr{2, 0, 0, 0, 0, 4}
	me, target := netip.MustParseAddr("172.31.0.4"), netip.MustParseAddr("172.31.0.5")
	req := arpRequest(mac, me, target)
	if len(req) != 42 {
		t.Fatalf("request is %d bytes", len(req))
	}
	if isARPReply(req, target) {
		t.Error("our own request taken for an answer")
	}
	// The answer: target's MAC and address back to us.
	reply := append([]byte{}, req...)
	copy(reply[0:6], mac)
	copy(reply[6:12], []byte{2, 0, 0, 0, 0, 5})
	reply[21] = 2
	copy(reply[22:28], []byte{2, 0, 0, 0, 0, 5})
	copy(reply[28:32], target.AsSlice())
	copy(reply[32:38], mac)
	copy(reply[38:42], me.AsSlice())
	if !isARPReply(reply, target) {
		t.Error("an answer for the target not recognised")
	}
	if isARPReply(reply, me) {
		t.Error("an answer for another address taken for the target's")
	}
	if isARPReply(reply[:40], target) {
		t.Error("a short frame taken for an answer")
	}
}
