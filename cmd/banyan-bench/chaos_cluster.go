package main

// The chaos soak's cluster: real banyan processes, each as its own uid so that iptables'
// owner match can cut it off, with disk folders that can be made unreadable, renamed
// away or (on loop-mounted ext4 with a blkio throttle) slowed down.

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

const (
	chaosChain     = "BANYAN-CHAOS"    // jumped to from OUTPUT
	chaosChainIn   = "BANYAN-CHAOS-IN" // jumped to from INPUT
	chaosDropMark  = "0x100000"        // packet mark: drop on arrival
	chaosMarkBase  = 0xbc00            // connmark of a connection opened by node i: chaosMarkBase+i
	chaosCgroupDir = "/sys/fs/cgroup/blkio"
)

// chaosNode is one banyan server process of the soak.
type chaosNode struct {
	idx     int // 1-based
	ip      string
	uid     int
	dataDir string
	disks   []string // the --disk folders
	mounts  []string // per disk: the loop-mounted ext4 holding it ("" when not on a loop device)
	loops   []string // per disk: /dev/loopN
	devNums []string // per disk: "7:N", for the blkio throttle
	cgroup  string   // blkio cgroup folder ("" without loop devices)
	logPath string

	mu       sync.Mutex
	cmd      *exec.Cmd
	done     chan struct{}
	running  bool
	stopped  bool // SIGSTOPped
	expected bool // we killed it: its exit is no surprise
	crashes  []string
	// killed are the times the soak SIGKILLed the node.
	killed []time.Time
}

type chaosCluster struct {
	cfg    *chaosConfig
	nodes  []*chaosNode
	token  string
	creds  [2]string
	logf   func(format string, args ...any)
	cuts   map[[2]int]bool // directed: packets from [0] to [1] are dropped
	cutsMu sync.Mutex
	cutLog []cutChange // every change of cuts, in order (under cutsMu)
	// what was changed on disk folders, to restore at the end whatever happens
	diskMu     sync.Mutex
	chmodded   map[string]bool
	renamedOut map[string]string // original path -> where it is now
	throttled  map[*chaosNode]string
	loopOK     bool
}

func (c *chaosCluster) ip(i int) string { return fmt.Sprintf("%s%d", c.cfg.ipBase, i) }

// preflight checks what the soak relies on: root, iptables with the owner, conntrack and
// connmark matches, and the loopback source-address behaviour the rules are built for.
func (c *chaosCluster) preflight() error {
	if os.Geteuid() != 0 {
		return errors.New("chaos needs root: it runs each server as its own uid and cuts them off with iptables")
	}
	if _, err := exec.LookPath("iptables"); err != nil {
		return errors.New("chaos needs iptables (packaging/deps.sh installs it)")
	}
	// A connection from this process to 127.0.x.2 leaves from 127.0.0.1 unless bound: on
	// lo the source is the route's preferred address. So the cuts match the sending
	// process's uid and the destination (and, for replies on connections the other side
	// opened, the connection's originating uid, kept in its connmark), never the source.
	ln, err := net.Listen("tcp", c.ip(250)+":0")
	if err != nil {
		return fmt.Errorf("cannot listen on %s: %w", c.ip(250), err)
	}
	defer ln.Close()
	go func() {
		if cn, err := ln.Accept(); err == nil {
			cn.Close()
		}
	}()
	cn, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second)
	if err != nil {
		return err
	}
	src := cn.LocalAddr().(*net.TCPAddr).IP.String()
	cn.Close()
	c.logf("loopback: a connection to %s leaves from %s unless bound; cuts match uid-owner + destination, and the connection's originating uid (connmark) for replies", c.ip(250), src)
	return nil
}

func runCmd(name string, args ...string) error {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

func ipt(args ...string) error { return runCmd("iptables", append([]string{"-w"}, args...)...) }

// removeChain takes the soak's chains out of OUTPUT and INPUT and deletes them; quiet
// when absent.
func removeChain() {
	for ipt("-D", "OUTPUT", "-j", chaosChain) == nil {
	}
	for ipt("-D", "INPUT", "-j", chaosChainIn) == nil {
	}
	for _, ch := range []string{chaosChain, chaosChainIn} {
		ipt("-F", ch)
		ipt("-X", ch)
	}
}

// setupChain creates the chains afresh (a crashed run's are removed first): OUTPUT marks
// what a cut drops, INPUT drops marked packets. Dropping on arrival rather than on the
// way out keeps the cut silent, as a real one is: a packet dropped in OUTPUT fails the
// sender's sendto with EPERM at once, which no network does.
func (c *chaosCluster) setupChain() error {
	removeChain()
	for _, ch := range []string{chaosChain, chaosChainIn} {
		if err := ipt("-N", ch); err != nil {
			return err
		}
	}
	if err := ipt("-I", "OUTPUT", "1", "-j", chaosChain); err != nil {
		return err
	}
	if err := ipt("-I", "INPUT", "1", "-j", chaosChainIn); err != nil {
		return err
	}
	if err := ipt("-A", chaosChainIn, "-i", "lo", "-m", "mark", "--mark", chaosDropMark+"/"+chaosDropMark, "-j", "DROP"); err != nil {
		return err
	}
	return c.applyCuts()
}

// applyCuts rewrites the OUTPUT chain from c.cuts: first the connmark of every new
// connection a node opens, then the marks of what is cut.
func (c *chaosCluster) applyCuts() error {
	c.cutsMu.Lock()
	defer c.cutsMu.Unlock()
	if err := ipt("-F", chaosChain); err != nil {
		return err
	}
	for _, n := range c.nodes {
		if err := ipt("-A", chaosChain, "-m", "conntrack", "--ctstate", "NEW", "-m", "owner", "--uid-owner", strconv.Itoa(n.uid),
			"-j", "CONNMARK", "--set-mark", fmt.Sprintf("0x%x/0xffff", chaosMarkBase+n.idx)); err != nil {
			return err
		}
	}
	var cuts [][2]int
	for k := range c.cuts {
		cuts = append(cuts, k)
	}
	sort.Slice(cuts, func(i, j int) bool { return cuts[i][0]*100+cuts[i][1] < cuts[j][0]*100+cuts[j][1] })
	drop := []string{"-j", "MARK", "--set-xmark", chaosDropMark + "/" + chaosDropMark}
	for _, k := range cuts {
		from, to := c.nodes[k[0]-1], c.nodes[k[1]-1]
		// what `from` sends to `to`'s address...
		if err := ipt(append([]string{"-A", chaosChain, "-m", "owner", "--uid-owner", strconv.Itoa(from.uid), "-d", to.ip}, drop...)...); err != nil {
			return err
		}
		// ...and its replies on connections `to` opened (those go to 127.0.0.1).
		if err := ipt(append([]string{"-A", chaosChain, "-m", "owner", "--uid-owner", strconv.Itoa(from.uid),
			"-m", "connmark", "--mark", fmt.Sprintf("0x%x/0xffff", chaosMarkBase+to.idx)}, drop...)...); err != nil {
			return err
		}
	}
	return nil
}

func (c *chaosCluster) setCuts(cuts [][2]int) error {
	c.cutsMu.Lock()
	c.cuts = map[[2]int]bool{}
	for _, k := range cuts {
		c.cuts[k] = true
	}
	c.cutLog = append(c.cutLog, cutChange{at: time.Now(), cuts: append([][2]int(nil), cuts...)})
	c.cutsMu.Unlock()
	return c.applyCuts()
}

// cutChange is one setCuts: from at on, exactly cuts are in force.
type cutChange struct {
	at   time.Time
	cuts [][2]int
}

// inMinorityDuring reports whether, at some moment of [from, to], node could not talk
// (in one direction or the other) to more than (nodes-1)/2 of the others: it was on the
// minority side of a partition, where no read quorum of an object's shards is reachable
// on any scheme this cluster picks.
func (c *chaosCluster) inMinorityDuring(node int, from, to time.Time) bool {
	c.cutsMu.Lock()
	defer c.cutsMu.Unlock()
	minority := func(cuts [][2]int) bool {
		away := map[int]bool{}
		for _, k := range cuts {
			switch node {
			case k[0]:
				away[k[1]] = true
			case k[1]:
				away[k[0]] = true
			}
		}
		return len(away) > (len(c.nodes)-1)/2
	}
	for i, ch := range c.cutLog {
		until := to
		if i+1 < len(c.cutLog) {
			until = c.cutLog[i+1].at
		}
		if ch.at.After(to) || !until.After(from) {
			continue // not in force during [from, to]
		}
		if minority(ch.cuts) {
			return true
		}
	}
	return false
}

// killedDuring reports whether the soak SIGKILLed node (1-based) while [from, to] ran
// (or within a second after to: a client sees the connection die a moment after the
// kill, and may see it first).
func (c *chaosCluster) killedDuring(node int, from, to time.Time) bool {
	for _, n := range c.nodes {
		if n.idx != node {
			continue
		}
		n.mu.Lock()
		defer n.mu.Unlock()
		for _, at := range n.killed {
			if !at.Before(from) && !at.After(to.Add(time.Second)) {
				return true
			}
		}
	}
	return false
}

// isolate: node i and every other node cannot reach each other, both ways.
func (c *chaosCluster) isolate(i int) [][2]int {
	var cuts [][2]int
	for _, n := range c.nodes {
		if n.idx != i {
			cuts = append(cuts, [2]int{i, n.idx}, [2]int{n.idx, i})
		}
	}
	return cuts
}

// setupNodes creates each node's data dir and disk folders, owned by its uid. With
// loop devices each disk folder lives on its own small ext4 file system, so that one
// disk can be slowed with a blkio throttle.
func (c *chaosCluster) setupNodes() error {
	if err := os.Chmod(c.cfg.dir, 0o755); err != nil {
		return err
	}
	for p := filepath.Dir(c.cfg.dir); ; p = filepath.Dir(p) {
		if st, err := os.Stat(p); err == nil && st.Mode().Perm()&0o001 == 0 {
			return fmt.Errorf("--dir %s: %s is not searchable by other users; the servers run as uids %d.. and need to reach their data dirs", c.cfg.dir, p, c.cfg.uidBase)
		}
		if p == "/" || p == "." {
			break
		}
	}
	c.loopOK = c.cfg.loop && c.tryLoop()
	for i := 1; i <= c.cfg.nodes; i++ {
		n := &chaosNode{idx: i, ip: c.ip(i), uid: c.cfg.uidBase + i - 1,
			dataDir: filepath.Join(c.cfg.dir, fmt.Sprintf("n%d", i)), logPath: filepath.Join(c.cfg.dir, fmt.Sprintf("n%d.log", i))}
		if err := mkdirOwned(n.dataDir, n.uid); err != nil {
			return err
		}
		// The disk folders' parent belongs to the node's uid, as / does to a server run as
		// root: a server that recreates a folder renamed away can do so here too.
		parent := filepath.Join(c.cfg.dir, fmt.Sprintf("n%d-disks", i))
		if err := mkdirOwned(parent, n.uid); err != nil {
			return err
		}
		for d := 0; d < c.cfg.disks; d++ {
			folder, mount, loop, dev := filepath.Join(parent, fmt.Sprintf("disk%d", d)), "", "", ""
			if c.loopOK {
				var err error
				if mount, loop, dev, err = makeLoopFS(filepath.Join(parent, fmt.Sprintf("fs%d", d))); err != nil {
					return err
				}
				if err := os.Chown(mount, n.uid, n.uid); err != nil {
					return err
				}
				folder = filepath.Join(mount, "disk")
			}
			if err := mkdirOwned(folder, n.uid); err != nil {
				return err
			}
			n.disks = append(n.disks, folder)
			n.mounts = append(n.mounts, mount)
			n.loops = append(n.loops, loop)
			n.devNums = append(n.devNums, dev)
		}
		if c.loopOK {
			n.cgroup = filepath.Join(chaosCgroupDir, fmt.Sprintf("banyan-chaos-n%d", i))
			os.Remove(n.cgroup)
			if err := os.Mkdir(n.cgroup, 0o755); err != nil {
				return fmt.Errorf("blkio cgroup: %w", err)
			}
		}
		c.nodes = append(c.nodes, n)
	}
	return nil
}

func mkdirOwned(path string, uid int) error {
	if err := os.MkdirAll(path, 0o700); err != nil {
		return err
	}
	return os.Chown(path, uid, uid)
}

// tryLoop: loop devices, ext4 and a blkio cgroup with throttling all work here.
func (c *chaosCluster) tryLoop() bool {
	for _, tool := range []string{"losetup", "mkfs.ext4", "mount", "umount"} {
		if _, err := exec.LookPath(tool); err != nil {
			c.logf("slow-disk fault off: %s missing", tool)
			return false
		}
	}
	if _, err := os.Stat(filepath.Join(chaosCgroupDir, "blkio.throttle.write_bps_device")); err != nil {
		c.logf("slow-disk fault off: no cgroup v1 blkio throttle at %s", chaosCgroupDir)
		return false
	}
	probe := filepath.Join(c.cfg.dir, "loop-probe")
	mount, loop, _, err := makeLoopFS(probe)
	if err != nil {
		c.logf("slow-disk fault off: %v", err)
		return false
	}
	unmountLoop(mount, loop)
	os.RemoveAll(probe)
	os.Remove(probe + ".img")
	return true
}

// makeLoopFS makes base.img (sparse), an ext4 file system on a loop device over it, and
// mounts it at base.
func makeLoopFS(base string) (mount, loop, dev string, err error) {
	img := base + ".img"
	f, err := os.Create(img)
	if err != nil {
		return "", "", "", err
	}
	err = f.Truncate(4 << 30)
	f.Close()
	if err != nil {
		return "", "", "", err
	}
	out, err := exec.Command("losetup", "-f", "--show", img).CombinedOutput()
	if err != nil {
		return "", "", "", fmt.Errorf("losetup: %v: %s", err, out)
	}
	loop = strings.TrimSpace(string(out))
	fail := func(e error) (string, string, string, error) {
		exec.Command("losetup", "-d", loop).Run()
		return "", "", "", e
	}
	if err := runCmd("mkfs.ext4", "-q", "-F", "-E", "lazy_itable_init=1,lazy_journal_init=1", loop); err != nil {
		return fail(err)
	}
	if err := os.MkdirAll(base, 0o755); err != nil {
		return fail(err)
	}
	if err := runCmd("mount", loop, base); err != nil {
		return fail(err)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(loop, &st); err != nil {
		unmountLoop(base, loop)
		return fail(err)
	}
	dev = fmt.Sprintf("%d:%d", unixMajor(st.Rdev), unixMinor(st.Rdev))
	return base, loop, dev, nil
}

func unixMajor(dev uint64) uint64 { return (dev >> 8) & 0xfff }
func unixMinor(dev uint64) uint64 { return (dev & 0xff) | ((dev >> 12) & 0xfff00) }

func unmountLoop(mount, loop string) {
	if mount != "" {
		for i := 0; i < 20 && exec.Command("umount", mount).Run() != nil; i++ {
			time.Sleep(100 * time.Millisecond)
		}
	}
	if loop != "" {
		exec.Command("losetup", "-d", loop).Run()
	}
}

// cleanupStale undoes what a crashed earlier run with the same --dir left behind:
// mounts and loop devices under it.
func cleanupStale(dir string) {
	if dir == "" {
		return
	}
	if f, err := os.Open("/proc/self/mounts"); err == nil {
		var mounts []string
		s := bufio.NewScanner(f)
		for s.Scan() {
			fields := strings.Fields(s.Text())
			if len(fields) > 1 && strings.HasPrefix(fields[1], dir+"/") {
				mounts = append(mounts, fields[1])
			}
		}
		f.Close()
		for _, m := range mounts {
			exec.Command("umount", "-l", m).Run()
		}
	}
	if out, err := exec.Command("losetup", "-n", "-l", "-O", "NAME,BACK-FILE").Output(); err == nil {
		for _, line := range strings.Split(string(out), "\n") {
			f := strings.Fields(line)
			if len(f) == 2 && strings.HasPrefix(f[1], dir+"/") {
				exec.Command("losetup", "-d", f[0]).Run()
			}
		}
	}
}

// start launches node n's server as its uid; join says whether this is its first start
// (with --join and the token) or a restart (data dir and bind only, as README says).
func (c *chaosCluster) start(n *chaosNode, join bool) error {
	args := []string{"server", "--bind", n.ip, "--data-dir", n.dataDir, "--compute", "off"}
	for _, d := range n.disks {
		args = append(args, "--disk", d)
	}
	if join && n.idx > 1 {
		args = append(args, "--join", c.ip(1), "--token", c.token)
	}
	logf, err := os.OpenFile(n.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	fmt.Fprintf(logf, "\n===== chaos: %s starting %s\n", time.Now().Format(time.RFC3339Nano), strings.Join(args, " "))
	cmd := exec.Command(c.cfg.bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Dir = n.dataDir
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + n.dataDir}
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Credential: &syscall.Credential{Uid: uint32(n.uid), Gid: uint32(n.uid)},
		Setpgid:    true, // Ctrl-C at the terminal reaches only the soak, which kills them by PID
		Pdeathsig:  syscall.SIGKILL,
	}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return err
	}
	logf.Close()
	if n.cgroup != "" {
		os.WriteFile(filepath.Join(n.cgroup, "cgroup.procs"), []byte(strconv.Itoa(cmd.Process.Pid)), 0o644)
	}
	done := make(chan struct{})
	n.mu.Lock()
	n.cmd, n.done, n.running, n.stopped, n.expected = cmd, done, true, false, false
	n.mu.Unlock()
	go func() {
		err := cmd.Wait()
		n.mu.Lock()
		if n.cmd == cmd {
			n.running = false
			if !n.expected {
				n.crashes = append(n.crashes, fmt.Sprintf("%s: n%d exited by itself: %v (see %s)", time.Now().Format("15:04:05.000"), n.idx, err, n.logPath))
			}
		}
		n.mu.Unlock()
		close(done)
	}()
	return nil
}

// signal sends sig to n's process by its PID.
func (n *chaosNode) signal(sig syscall.Signal) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd == nil || n.cmd.Process == nil || !n.running {
		return
	}
	switch sig {
	case syscall.SIGSTOP:
		n.stopped = true
	case syscall.SIGCONT:
		n.stopped = false
	case syscall.SIGKILL:
		n.expected = true
		n.killed = append(n.killed, time.Now())
	}
	n.cmd.Process.Signal(sig)
}

// kill SIGKILLs n and waits for it to be gone.
func (n *chaosNode) kill() {
	n.mu.Lock()
	done, stopped := n.done, n.stopped
	n.mu.Unlock()
	if done == nil {
		return
	}
	n.signal(syscall.SIGKILL)
	if stopped {
		n.signal(syscall.SIGCONT)
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
	}
}

func (n *chaosNode) isRunning() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.running
}

// founder starts node 1, reads its token and admin key, then starts the others and waits
// until every node sees every member alive, a leader and every disk.
func (c *chaosCluster) startAll(ctx context.Context) error {
	if err := c.start(c.nodes[0], true); err != nil {
		return err
	}
	tokPath := filepath.Join(c.nodes[0].dataDir, "join-token")
	if err := waitCtx(ctx, 30*time.Second, func() error {
		if !c.nodes[0].isRunning() {
			return errors.New("exited")
		}
		b, err := os.ReadFile(tokPath)
		c.token = strings.TrimSpace(string(b))
		return err
	}); err != nil {
		return fmt.Errorf("the first server did not start (see %s): %w", c.nodes[0].logPath, err)
	}
	for _, n := range c.nodes[1:] {
		if err := c.start(n, true); err != nil {
			return err
		}
	}
	var b []byte
	if err := waitCtx(ctx, 30*time.Second, func() (err error) {
		b, err = os.ReadFile(filepath.Join(c.nodes[0].dataDir, "aws", "credentials"))
		return
	}); err != nil {
		return err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "aws_access_key_id = "); ok {
			c.creds[0] = v
		}
		if v, ok := strings.CutPrefix(line, "aws_secret_access_key = "); ok {
			c.creds[1] = v
		}
	}
	want := c.cfg.nodes * c.cfg.disks
	return waitCtx(ctx, 60*time.Second, func() error {
		if err := c.converged(); err != nil {
			return err
		}
		for _, n := range c.nodes {
			st, err := fetchChaosStatus(n.ip)
			if err != nil {
				return err
			}
			o, _ := st.Subsystems["objectstore"].(map[string]any)
			if got, _ := o["disks"].(float64); int(got) != want {
				return fmt.Errorf("n%d sees %v of %d disks", n.idx, o["disks"], want)
			}
		}
		return nil
	})
}

// chaosStatus is `banyan status --json` (GET /v1/status on the RPC port), decoded here
// so that the soak does not depend on the packages it tests.
type chaosStatus struct {
	Node       string `json:"node"`
	Leader     string `json:"leader"`
	LeaderAddr string `json:"leader_addr"`
	Term       uint64 `json:"term"`
	Members    []struct {
		Name   string `json:"name"`
		Addr   string `json:"addr"`
		Status string `json:"status"`
		Raft   string `json:"raft"`
	} `json:"members"`
	Subsystems map[string]any `json:"subsystems"`
}

var statusClient = &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

func fetchChaosStatus(ip string) (*chaosStatus, error) {
	resp, err := statusClient.Get("http://" + net.JoinHostPort(ip, "7947") + "/v1/status")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("status %s", resp.Status)
	}
	var st chaosStatus
	return &st, json.NewDecoder(resp.Body).Decode(&st)
}

// converged: every node answers its status, sees all N members alive, and all agree on
// one leader.
func (c *chaosCluster) converged() error {
	var leader string
	for _, n := range c.nodes {
		if err := c.nodeConverged(n, &leader); err != nil {
			return err
		}
	}
	return nil
}

func (c *chaosCluster) nodeConverged(n *chaosNode, leader *string) error {
	st, err := fetchChaosStatus(n.ip)
	if err != nil {
		return fmt.Errorf("n%d: %v", n.idx, err)
	}
	alive := 0
	for _, m := range st.Members {
		if m.Status == "alive" {
			alive++
		}
	}
	if alive != c.cfg.nodes || len(st.Members) != c.cfg.nodes {
		return fmt.Errorf("n%d sees %d of %d members alive", n.idx, alive, c.cfg.nodes)
	}
	if st.LeaderAddr == "" {
		return fmt.Errorf("n%d sees no leader", n.idx)
	}
	if *leader != "" && *leader != st.LeaderAddr {
		return fmt.Errorf("n%d sees leader %s, another node %s", n.idx, st.LeaderAddr, *leader)
	}
	*leader = st.LeaderAddr
	return nil
}

// incomplete lists the nodes whose own view is not complete.
func (c *chaosCluster) incomplete() []*chaosNode {
	var out []*chaosNode
	for _, n := range c.nodes {
		var l string
		if c.nodeConverged(n, &l) != nil {
			out = append(out, n)
		}
	}
	return out
}

// leader is the node most running nodes report as leader (0: none).
func (c *chaosCluster) leader() int {
	votes := map[int]int{}
	for _, n := range c.nodes {
		if !n.isRunning() {
			continue
		}
		st, err := fetchChaosStatus(n.ip)
		if err != nil || st.LeaderAddr == "" {
			continue
		}
		h, _, _ := net.SplitHostPort(st.LeaderAddr)
		for _, m := range c.nodes {
			if m.ip == h {
				votes[m.idx]++
			}
		}
	}
	best, bestVotes := 0, 0
	for i, v := range votes {
		if v > bestVotes || (v == bestVotes && i < best) {
			best, bestVotes = i, v
		}
	}
	return best
}

// sees reports how node `from` sees node `of` in gossip ("" when from does not answer).
func (c *chaosCluster) sees(from, of int) string {
	st, err := fetchChaosStatus(c.ip(from))
	if err != nil {
		return "unreachable"
	}
	for _, m := range st.Members {
		if h, _, _ := net.SplitHostPort(m.Addr); h == c.ip(of) || strings.HasPrefix(m.Addr, c.ip(of)+":") || m.Addr == c.ip(of) {
			return m.Status
		}
	}
	return "absent"
}

// --- disk faults ---

func (c *chaosCluster) chmodDisk(path string, mode os.FileMode) error {
	c.diskMu.Lock()
	defer c.diskMu.Unlock()
	if mode == 0 {
		c.chmodded[path] = true
	} else {
		delete(c.chmodded, path)
	}
	return os.Chmod(path, mode)
}

func (c *chaosCluster) renameAway(path string) error {
	c.diskMu.Lock()
	defer c.diskMu.Unlock()
	away := path + ".away"
	if err := os.Rename(path, away); err != nil {
		return err
	}
	c.renamedOut[path] = away
	return nil
}

// renameBack puts a renamed-away disk folder back. If the server recreated the folder in
// the meantime, that is reported (what it holds) and the recreated one is removed first.
func (c *chaosCluster) renameBack(path string) (recreated string, err error) {
	c.diskMu.Lock()
	defer c.diskMu.Unlock()
	away, ok := c.renamedOut[path]
	if !ok {
		return "", nil
	}
	// rename(2) would put a directory over an empty one without a word, so look first.
	if _, serr := os.Lstat(path); serr == nil {
		entries, _ := os.ReadDir(path)
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		var files int
		filepath.WalkDir(path, func(_ string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				files++
			}
			return nil
		})
		why := "rename back would fail"
		if len(entries) == 0 {
			why = "rename back would silently replace it"
		}
		recreated = fmt.Sprintf("the server recreated %s while it was renamed away (%d files; top level: %s): %s; removed it by hand and put the disk back",
			path, files, strings.Join(names, " "), why)
		if rerr := os.RemoveAll(path); rerr != nil {
			return recreated, rerr
		}
	}
	if err := os.Rename(away, path); err != nil {
		return recreated, err
	}
	delete(c.renamedOut, path)
	return recreated, nil
}

// throttle slows disk d of node n to 1 MiB/s and 20 IOPS each way (0: lift it). On cgroup
// v1 the throttle covers O_DIRECT and fsync-issued writes and reads that miss the page
// cache; buffered writeback done by the kernel's flusher and cached reads are not slowed.
func (c *chaosCluster) throttle(n *chaosNode, d int, on bool) error {
	c.diskMu.Lock()
	defer c.diskMu.Unlock()
	bps, iops := "1048576", "20"
	if !on {
		bps, iops = "0", "0"
		delete(c.throttled, n)
	} else {
		c.throttled[n] = n.devNums[d]
	}
	for f, v := range map[string]string{"read_bps_device": bps, "write_bps_device": bps, "read_iops_device": iops, "write_iops_device": iops} {
		if err := os.WriteFile(filepath.Join(n.cgroup, "blkio.throttle."+f), []byte(n.devNums[d]+" "+v), 0o644); err != nil && on {
			return err
		}
	}
	return nil
}

// restoreDisks undoes every disk fault still in place.
func (c *chaosCluster) restoreDisks() []string {
	var notes []string
	c.diskMu.Lock()
	var chm, ren []string
	for p := range c.chmodded {
		chm = append(chm, p)
	}
	for p := range c.renamedOut {
		ren = append(ren, p)
	}
	var thr []*chaosNode
	for n := range c.throttled {
		thr = append(thr, n)
	}
	c.diskMu.Unlock()
	for _, p := range chm {
		c.chmodDisk(p, 0o700)
	}
	for _, p := range ren {
		if note, err := c.renameBack(p); note != "" || err != nil {
			notes = append(notes, fmt.Sprintf("%s %v", note, err))
		}
	}
	for _, n := range thr {
		for d := range n.devNums {
			c.throttle(n, d, false)
		}
	}
	return notes
}

// cleanup: every process by PID, the iptables chain, disk folders, cgroups and loop
// devices. Safe to call more than once.
func (c *chaosCluster) cleanup() {
	for _, n := range c.nodes {
		n.signal(syscall.SIGCONT)
	}
	for _, n := range c.nodes {
		n.kill()
	}
	removeChain()
	c.restoreDisks()
	for _, n := range c.nodes {
		if n.cgroup != "" {
			os.Remove(n.cgroup)
		}
		for d := range n.disks {
			unmountLoop(n.mounts[d], n.loops[d])
		}
		n.mounts = make([]string, len(n.disks))
		n.loops = make([]string, len(n.disks))
	}
}

func waitCtx(ctx context.Context, timeout time.Duration, f func() error) error {
	deadline := time.Now().Add(timeout)
	var err error
	for {
		if err = f(); err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}
