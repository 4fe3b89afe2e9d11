package main

// banyan-bench chaos: a fault-injection soak of real banyan processes. N servers on
// 127.0.5.1.., each as its own uid (so iptables' owner match can cut it off), clients
// with aws-sdk-go-v2 against random nodes recording every operation, faults per round
// (SIGKILL, SIGSTOP, partitions both ways and one way, disk folders made unreadable,
// renamed away, slowed), then the checks: acknowledged data reads back byte-exact
// through every node, deletes stay deleted, listings agree with GETs, and the control
// plane's history is linearizable (porcupine).

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"
)

type chaosConfig struct {
	nodes, rounds, clients, disks int
	dir, bin                      string
	seed                          uint64
	json, keep, selftest, loop    bool
	holdMin, holdMax, settle      time.Duration
	faults                        []string
	ipBase                        string
	uidBase                       int
	keysPerClient                 int
}

var chaosFaults = []string{"kill-leader", "kill-follower", "stop-leader", "partition-leader", "partition-follower",
	"partition-each", "partition-asym", "disk-unreadable", "disk-renamed", "disk-slow"}

// roundReport is what one round did and measured.
type roundReport struct {
	Round      int       `json:"round"`
	Fault      string    `json:"fault"`
	Target     string    `json:"target"`
	Start      time.Time `json:"start"`
	Heal       time.Time `json:"heal"`
	Hold       float64   `json:"hold_s"`
	KillAt     time.Time `json:"kill_at,omitzero"`
	Membership float64   `json:"membership_s"`      // heal -> full membership; -1: not within --settle
	WriteAll   float64   `json:"write_all_nodes_s"` // heal -> an acknowledged write through every node (max over nodes); -1: some node none
	PerNode    []float64 `json:"write_per_node_s"`
	CutSeen    *bool     `json:"cut_seen,omitempty"` // partitions: gossip marked a cut pair suspect/dead before the heal
	Restarted  []string  `json:"restarted,omitempty"`
	Notes      []string  `json:"notes,omitempty"`
}

type chaosSummary struct {
	Nodes         int    `json:"nodes"`
	Disks         int    `json:"disks_per_node"`
	Clients       int    `json:"clients"`
	Rounds        int    `json:"rounds"`
	Seed          uint64 `json:"seed"`
	Dir           string `json:"dir"`
	Requests      int    `json:"requests"`
	FinalRequests int    `json:"final_requests"`
	AckedWrites   int    `json:"acked_writes"`
	AckedPuts     int    `json:"acked_puts"`
	AckedDeletes  int    `json:"acked_deletes"`
	AckedControl  int    `json:"acked_control_writes"`
	Lost          int    `json:"lost"`
	Corrupted     int    `json:"corrupted"`
	Resurrected   int    `json:"resurrected"`
	BrokenOff     int    `json:"broken_off_gets"`
	// BrokenInMinority: broken-off GETs served by a box that was killed, or on the
	// minority side of a partition, during the read (it can send no more, or cannot
	// reach a read quorum: not counted above).
	BrokenInMinority int                       `json:"broken_off_gets_serving_box_in_minority"`
	HTTP500          map[string]int            `json:"http_500_by_phase"`
	Errors           map[string]map[string]int `json:"errors_by_code_and_phase"`
	Membership       figure                    `json:"membership_after_heal"`
	WriteAll         figure                    `json:"writes_every_node_after_heal"`
	WriteGap         figure                    `json:"write_gap_after_leader_kill"`
	RaftGap          figure                    `json:"raft_write_gap_after_leader_kill"`
	CutsSeen         [2]int                    `json:"partitions_seen_by_gossip"` // seen, total
	Final            finalReport               `json:"final"`
	Soak             soakReport                `json:"soak"`
	Lin              linReport                 `json:"linearizability"`
	RoundList        []*roundReport            `json:"round_list"`
	Crashes          []string                  `json:"crashes,omitempty"`
	Notes            []string                  `json:"notes,omitempty"`
	SelfTest         string                    `json:"selftest,omitempty"`
	Failed           bool                      `json:"failed"`
	FailReasons      []string                  `json:"fail_reasons,omitempty"`
}

// figure: p50 and max of a duration in seconds over n samples; missing counts the cases
// with no value (never happened within the wait).
type figure struct {
	N       int     `json:"n"`
	P50     float64 `json:"p50_s"`
	Max     float64 `json:"max_s"`
	Missing int     `json:"missing"`
}

func makeFigure(vals []float64) figure {
	f := figure{}
	var ok []float64
	for _, v := range vals {
		if v < 0 {
			f.Missing++
		} else {
			ok = append(ok, v)
		}
	}
	f.N = len(vals)
	if len(ok) > 0 {
		sort.Float64s(ok)
		f.P50, f.Max = ok[(len(ok)-1)/2], ok[len(ok)-1]
	}
	return f
}

func (f figure) String() string {
	if f.N == 0 {
		return "n/a"
	}
	s := fmt.Sprintf("p50 %.1fs  max %.1fs  (%d samples)", f.P50, f.Max, f.N)
	if f.Missing > 0 {
		s += fmt.Sprintf(", %d never within the wait", f.Missing)
	}
	return s
}

type chaosRun struct {
	cfg    *chaosConfig
	c      *chaosCluster
	h      *chaosHistory
	api    *chaosAPI
	rng    *rand.Rand
	t0     time.Time
	rounds []*roundReport
	deck   []string
	notes  []string
	logf   func(string, ...any)
}

func benchChaos(args []string) (err error) {
	fs := flag.NewFlagSet("chaos", flag.ContinueOnError)
	cfg := &chaosConfig{ipBase: "127.0.5.", uidBase: 64001, keysPerClient: 16}
	fs.IntVar(&cfg.nodes, "nodes", 3, "banyan servers")
	fs.IntVar(&cfg.rounds, "rounds", 100, "fault rounds")
	fs.IntVar(&cfg.clients, "clients", 6, "client goroutines")
	fs.IntVar(&cfg.disks, "disks", 2, "disk folders per node")
	fs.StringVar(&cfg.dir, "dir", "", "folder for data dirs, logs and the history (default: a temporary folder, removed unless something failed)")
	fs.StringVar(&cfg.bin, "banyan", "", "banyan binary (default: built from this checkout)")
	fs.Uint64Var(&cfg.seed, "seed", uint64(time.Now().UnixNano()%1000000), "seed for the faults and the workload")
	fs.BoolVar(&cfg.json, "json", false, "also print the summary as JSON (the last line of the output)")
	fs.BoolVar(&cfg.keep, "keep", false, "keep the temporary folder")
	fs.BoolVar(&cfg.selftest, "selftest", false, "after the checks, feed them deliberately wrong expectations and fail unless each one fires")
	fs.BoolVar(&cfg.loop, "loop", true, "put each disk folder on a loop-mounted ext4, so one disk can be slowed (disk-slow); off: plain folders")
	fs.DurationVar(&cfg.holdMin, "hold-min", 5*time.Second, "shortest fault")
	fs.DurationVar(&cfg.holdMax, "hold-max", 10*time.Second, "longest fault")
	fs.DurationVar(&cfg.settle, "settle", 30*time.Second, "after a heal, how long to wait for full membership and writes through every node")
	faults := fs.String("faults", strings.Join(chaosFaults, ","), "faults to choose from")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg.faults = strings.Split(*faults, ",")
	for _, f := range cfg.faults {
		if !contains(chaosFaults, f) {
			return fmt.Errorf("unknown fault %q (known: %s)", f, strings.Join(chaosFaults, ", "))
		}
	}
	if cfg.nodes < 3 || cfg.nodes > 9 || cfg.disks < 1 || cfg.clients < 1 {
		return errors.New("--nodes 3..9, --disks and --clients at least 1")
	}
	if cfg.holdMax < cfg.holdMin {
		cfg.holdMax = cfg.holdMin
	}

	lock, err := os.OpenFile(filepath.Join(os.TempDir(), "banyan-chaos.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		return errors.New("another chaos soak is running on this machine (it uses the same addresses and iptables chain)")
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	tempDir := cfg.dir == ""
	if tempDir {
		if cfg.dir, err = os.MkdirTemp("", "banyan-chaos"); err != nil {
			return err
		}
	} else if cfg.dir, err = filepath.Abs(cfg.dir); err != nil {
		return err
	}
	os.MkdirAll(cfg.dir, 0o755)
	cleanupStale(cfg.dir)
	start := time.Now()
	logf := func(format string, a ...any) {
		fmt.Fprintf(os.Stderr, "[%6.1fs] %s\n", time.Since(start).Seconds(), fmt.Sprintf(format, a...))
	}
	bin := filepath.Join(cfg.dir, "banyan")
	if cfg.bin == "" {
		logf("building banyan")
		if out, err := exec.Command("go", "build", "-o", bin, "./cmd/banyan").CombinedOutput(); err != nil {
			return fmt.Errorf("building banyan (run from the repository root or pass --banyan): %v\n%s", err, out)
		}
	} else if err := copyFile(cfg.bin, bin); err != nil { // where the servers' uids can run it
		return err
	}
	os.Chmod(bin, 0o755)
	cfg.bin = bin

	c := &chaosCluster{cfg: cfg, logf: logf, cuts: map[[2]int]bool{}, chmodded: map[string]bool{},
		renamedOut: map[string]string{}, throttled: map[*chaosNode]string{}}
	x := &chaosRun{cfg: cfg, c: c, h: &chaosHistory{}, rng: rand.New(rand.NewPCG(cfg.seed, 0xfa17)), logf: logf}
	failed := false
	defer func() {
		c.cleanup()
		logf("cleaned up: servers killed, iptables chains %s and %s removed, disk folders restored", chaosChain, chaosChainIn)
		if tempDir && !cfg.keep && !failed && err == nil {
			os.RemoveAll(cfg.dir)
		} else {
			fmt.Fprintf(os.Stderr, "data dirs, server logs and history.jsonl kept in %s\n", cfg.dir)
		}
	}()
	if err := c.preflight(); err != nil {
		return err
	}
	if err := c.setupNodes(); err != nil {
		return err
	}
	if !c.loopOK {
		if contains(x.cfg.faults, "disk-slow") {
			x.notes = append(x.notes, "disk-slow skipped: no loop devices / cgroup v1 blkio throttle here (or --loop=false)")
		}
		x.cfg.faults = without(x.cfg.faults, "disk-slow")
	} else if contains(x.cfg.faults, "disk-slow") {
		x.notes = append(x.notes, "disk-slow: a blkio throttle of 1 MiB/s and 20 IOPS each way on that disk's loop device, for the node's process; "+
			"on cgroup v1 it slows O_DIRECT and fsync-issued writes and reads that miss the page cache, not the kernel flusher's writeback or cached reads")
	}
	if err := c.setupChain(); err != nil {
		return fmt.Errorf("iptables: %w", err)
	}
	logf("starting %d servers on %s1..%d as uids %d..%d, %d disk folders each%s", cfg.nodes, cfg.ipBase, cfg.nodes,
		cfg.uidBase, cfg.uidBase+cfg.nodes-1, cfg.disks, map[bool]string{true: " (loop-mounted ext4)", false: ""}[c.loopOK])
	if err := c.startAll(ctx); err != nil {
		return fmt.Errorf("cluster did not come up (logs in %s): %w", cfg.dir, err)
	}
	if err := x.verifyPartition(ctx); err != nil {
		return err
	}
	x.api = newChaosAPI(c)
	if err := waitCtx(ctx, 30*time.Second, func() error {
		r := x.api.control(ctx, x.h, -1, 1, "createBucket", chaosBucket)
		if r.ack() || r.Code == "BucketAlreadyOwnedByYou" {
			return nil
		}
		return errors.New(r.String())
	}); err != nil {
		return fmt.Errorf("creating the data bucket: %w", err)
	}
	x.h.mu.Lock()
	x.h.ops = nil // the setup is not part of the soak's history
	x.h.mu.Unlock()

	x.t0 = time.Now()
	x.h.setPhase("steady", 0)
	clientCtx, stopClients := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for i := 0; i < cfg.clients; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			x.api.runClient(clientCtx, ctx, x.h, i, cfg.nodes, cfg.keysPerClient, cfg.seed)
		}()
	}
	logf("%d clients running; %d rounds of: %s", cfg.clients, cfg.rounds, strings.Join(x.cfg.faults, ", "))
	sleepCtx(ctx, 3*time.Second)
	for r := 1; r <= cfg.rounds && ctx.Err() == nil; r++ {
		x.round(ctx, r)
	}
	stopClients()
	logf("soak over; waiting for the clients' last operations")
	wg.Wait()
	if ctx.Err() != nil {
		return errors.New("interrupted")
	}
	sum := x.finalChecks(ctx)
	if ctx.Err() != nil {
		return errors.New("interrupted")
	}
	x.writeHistory()
	x.print(os.Stdout, sum)
	if cfg.json {
		b, _ := json.Marshal(sum)
		fmt.Println(string(b))
	}
	if sum.Failed {
		failed = true
		return fmt.Errorf("chaos: %s", strings.Join(sum.FailReasons, "; "))
	}
	return nil
}

func contains(l []string, s string) bool {
	for _, v := range l {
		if v == s {
			return true
		}
	}
	return false
}

func without(l []string, s string) []string {
	var out []string
	for _, v := range l {
		if v != s {
			out = append(out, v)
		}
	}
	return out
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func sleepCtx(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// verifyPartition shows once, before the soak, that the cut stops gossip and Raft: the
// last node, isolated, sees the others go suspect or dead and loses the leader (or, if
// it led, the others elect another).
func (x *chaosRun) verifyPartition(ctx context.Context) error {
	c := x.c
	i := x.cfg.nodes
	before := c.leader()
	if err := c.setCuts(c.isolate(i)); err != nil {
		return err
	}
	var views string
	err := waitCtx(ctx, 15*time.Second, func() error {
		views = ""
		ok := true
		for _, n := range c.nodes {
			if n.idx != i {
				s := c.sees(i, n.idx)
				views += fmt.Sprintf(" n%d sees n%d %s;", i, n.idx, s)
				ok = ok && s != "alive"
			}
		}
		if !ok {
			return errors.New(views)
		}
		return nil
	})
	st, _ := fetchChaosStatus(c.ip(i))
	leaderView := "(no answer)"
	if st != nil {
		leaderView = st.LeaderAddr
		if leaderView == "" {
			leaderView = "none"
		}
	}
	after := c.leader()
	c.setCuts(nil)
	if err != nil {
		return fmt.Errorf("the partition does not stop gossip: after 15 s isolated,%s", views)
	}
	x.logf("partition check: n%d isolated:%s its leader: %s; the majority's leader n%d (before n%d)", i, views, leaderView, after, before)
	x.notes = append(x.notes, fmt.Sprintf("partition check before the soak: n%d isolated:%s its Raft leader: %s; the others' leader n%d (before: n%d)", i, views, leaderView, after, before))
	if err := waitCtx(ctx, 60*time.Second, c.converged); err != nil {
		x.notes = append(x.notes, "after the partition check the cluster did not converge within 60 s: "+err.Error()+"; restarted the nodes whose view was incomplete")
		x.logf("after the partition check: %v; restarting incomplete nodes", err)
		for _, n := range c.incomplete() {
			n.kill()
			c.start(n, false)
		}
		if err := waitCtx(ctx, 60*time.Second, c.converged); err != nil {
			return fmt.Errorf("cluster did not converge after the partition check: %w", err)
		}
	}
	return nil
}

func (x *chaosRun) hold() time.Duration {
	d := x.cfg.holdMin
	if x.cfg.holdMax > x.cfg.holdMin {
		d += time.Duration(x.rng.Int64N(int64(x.cfg.holdMax - x.cfg.holdMin)))
	}
	return d
}

// pickFollower is a random running node other than the leader.
func (x *chaosRun) pickFollower(leader int) *chaosNode {
	var l []*chaosNode
	for _, n := range x.c.nodes {
		if n.idx != leader {
			l = append(l, n)
		}
	}
	return l[x.rng.IntN(len(l))]
}

// round: fault, hold, heal, then up to --settle for full membership and a write through
// every node; a node still out of the cluster then is restarted (and that noted).
func (x *chaosRun) round(ctx context.Context, r int) {
	c := x.c
	// Faults are dealt from a shuffled deck, so that a short run still sees different ones.
	if len(x.deck) == 0 {
		x.deck = append([]string(nil), x.cfg.faults...)
		x.rng.Shuffle(len(x.deck), func(i, j int) { x.deck[i], x.deck[j] = x.deck[j], x.deck[i] })
	}
	rr := &roundReport{Round: r, Fault: x.deck[0], Membership: -1, WriteAll: -1}
	x.deck = x.deck[1:]
	x.rounds = append(x.rounds, rr)
	leader := c.leader()
	if leader == 0 {
		rr.Notes = append(rr.Notes, "no leader at the start of the round")
		leader = 1
	}
	hold := x.hold()
	rr.Start = time.Now()
	x.h.setPhase("fault", r)
	var heal func()
	var cuts [][2]int
	note := func(s string) { rr.Notes = append(rr.Notes, s) }
	switch rr.Fault {
	case "kill-leader", "kill-follower":
		n := c.nodes[leader-1]
		if rr.Fault == "kill-follower" {
			n = x.pickFollower(leader)
		} else {
			rr.KillAt = time.Now()
		}
		rr.Target = fmt.Sprintf("n%d", n.idx)
		n.kill()
		heal = func() {
			if err := c.start(n, false); err != nil {
				note("restart failed: " + err.Error())
			}
		}
	case "stop-leader":
		n := c.nodes[leader-1]
		rr.Target = fmt.Sprintf("n%d", n.idx)
		hold = max(2*time.Second, hold/2)
		n.signal(syscall.SIGSTOP)
		heal = func() { n.signal(syscall.SIGCONT) }
	case "partition-leader", "partition-follower", "partition-asym":
		n := c.nodes[leader-1]
		if rr.Fault == "partition-follower" || (rr.Fault == "partition-asym" && x.rng.IntN(2) == 0) {
			n = x.pickFollower(leader)
		}
		if rr.Fault == "partition-asym" {
			others := []int{}
			for _, m := range c.nodes {
				if m != n {
					others = append(others, m.idx)
				}
			}
			switch x.rng.IntN(3) {
			case 0: // n's packets to everyone are dropped, theirs reach it
				for _, o := range others {
					cuts = append(cuts, [2]int{n.idx, o})
				}
				rr.Target = fmt.Sprintf("n%d -> others", n.idx)
			case 1: // nobody's packets reach n, n's reach them
				for _, o := range others {
					cuts = append(cuts, [2]int{o, n.idx})
				}
				rr.Target = fmt.Sprintf("others -> n%d", n.idx)
			default: // one pair, one way
				o := others[x.rng.IntN(len(others))]
				cuts = [][2]int{{n.idx, o}}
				rr.Target = fmt.Sprintf("n%d -> n%d", n.idx, o)
			}
		} else {
			cuts = c.isolate(n.idx)
			rr.Target = fmt.Sprintf("n%d", n.idx)
		}
		if err := c.setCuts(cuts); err != nil {
			note("iptables: " + err.Error())
		}
		heal = func() { c.setCuts(nil) }
	case "partition-each":
		rr.Target = "each node in turn"
		per := max(4*time.Second, hold*2/3)
		hold = 0
		seen, total := 0, 0
		for _, n := range c.nodes {
			c.setCuts(c.isolate(n.idx))
			sleepCtx(ctx, per)
			hold += per
			total++
			if x.cutSeen(c.isolate(n.idx)) {
				seen++
			}
		}
		b := seen == total
		rr.CutSeen = &b
		note(fmt.Sprintf("gossip saw %d of %d cuts (%s each)", seen, total, per.Round(time.Millisecond)))
		heal = func() { c.setCuts(nil) }
	case "disk-unreadable", "disk-renamed", "disk-slow":
		n := c.nodes[x.rng.IntN(len(c.nodes))]
		d := x.rng.IntN(len(n.disks))
		path := n.disks[d]
		rr.Target = fmt.Sprintf("n%d disk%d", n.idx, d)
		switch rr.Fault {
		case "disk-unreadable":
			if err := c.chmodDisk(path, 0); err != nil {
				note("chmod: " + err.Error())
			}
			heal = func() { c.chmodDisk(path, 0o700) }
		case "disk-renamed":
			if err := c.renameAway(path); err != nil {
				note("rename: " + err.Error())
			}
			heal = func() {
				rec, err := c.renameBack(path)
				if rec != "" {
					note("BUG: " + rec)
					x.notes = append(x.notes, fmt.Sprintf("round %d (%s %s): %s", r, rr.Fault, rr.Target, rec))
				}
				if err != nil {
					note("rename back: " + err.Error())
				}
			}
		case "disk-slow":
			if err := c.throttle(n, d, true); err != nil {
				note("throttle: " + err.Error())
			}
			heal = func() { c.throttle(n, d, false) }
		}
	}
	if rr.Fault != "partition-each" {
		if len(cuts) > 0 {
			sleepCtx(ctx, hold-hold/5)
			b := x.cutSeen(cuts)
			rr.CutSeen = &b
			note(x.cutViews(cuts))
			if rr.Fault == "partition-leader" {
				note(fmt.Sprintf("the others' leader during the cut: n%d", x.majorityLeader(leader)))
			}
			sleepCtx(ctx, hold/5)
		} else {
			sleepCtx(ctx, hold)
		}
	}
	rr.Hold = hold.Seconds()
	heal()
	for _, n := range c.nodes {
		n.signal(syscall.SIGCONT)
		if !n.isRunning() {
			note(fmt.Sprintf("n%d was not running at the heal; started it", n.idx))
			c.start(n, false)
		}
	}
	rr.Heal = time.Now()
	x.h.setPhase("recovery", r)
	x.recover(ctx, rr)
	x.h.setPhase("steady", r)
	x.logf("round %d/%d: %-18s %-16s hold %4.1fs  membership %s  writes via every node %s  %s", r, x.cfg.rounds, rr.Fault, rr.Target,
		rr.Hold, secs(rr.Membership), secs(rr.WriteAll), strings.Join(rr.Notes, "; "))
	sleepCtx(ctx, 2*time.Second)
}

func secs(v float64) string {
	if v < 0 {
		return "never"
	}
	return fmt.Sprintf("%.1fs", v)
}

// cutSeen: for every cut pair, one side's gossip marks the other not alive.
func (x *chaosRun) cutSeen(cuts [][2]int) bool {
	for _, k := range cuts {
		if x.c.sees(k[0], k[1]) == "alive" && x.c.sees(k[1], k[0]) == "alive" {
			return false
		}
	}
	return true
}

func (x *chaosRun) cutViews(cuts [][2]int) string {
	seen := map[[2]int]bool{}
	var parts []string
	for _, k := range cuts {
		for _, p := range [][2]int{{k[0], k[1]}, {k[1], k[0]}} {
			if !seen[p] {
				seen[p] = true
				parts = append(parts, fmt.Sprintf("n%d sees n%d %s", p[0], p[1], x.c.sees(p[0], p[1])))
			}
		}
	}
	return "before the heal: " + strings.Join(parts, ", ")
}

// majorityLeader is the leader the nodes other than old report.
func (x *chaosRun) majorityLeader(old int) int {
	for _, n := range x.c.nodes {
		if n.idx == old {
			continue
		}
		if st, err := fetchChaosStatus(n.ip); err == nil {
			for _, m := range x.c.nodes {
				if strings.HasPrefix(st.LeaderAddr, m.ip+":") {
					return m.idx
				}
			}
		}
	}
	return 0
}

// recover measures, from the heal, the time to full membership and to an acknowledged
// object write through each node; a node still out after --settle is restarted.
func (x *chaosRun) recover(ctx context.Context, rr *roundReport) {
	c := x.c
	deadline := rr.Heal.Add(x.cfg.settle)
	rr.PerNode = make([]float64, len(c.nodes))
	var wg sync.WaitGroup
	for i, n := range c.nodes {
		rr.PerNode[i] = -1
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(x.cfg.seed, uint64(rr.Round*100+n.idx)))
			body := make([]byte, 200<<10) // above the inline limit: erasure coded
			for j := range body {
				body[j] = byte(rng.Uint32())
			}
			key := fmt.Sprintf("probe/r%03d/n%d", rr.Round, n.idx)
			for attempt := 0; time.Now().Before(deadline) && ctx.Err() == nil; attempt++ {
				body[0] = byte(attempt)
				if r := x.api.put(ctx, x.h, chaosProbeClient+n.idx, n.idx, key, body); r.ack() {
					rr.PerNode[i] = r.End.Sub(rr.Heal).Seconds()
					return
				}
				sleepCtx(ctx, 200*time.Millisecond)
			}
		}()
	}
	if err := waitCtx(ctx, x.cfg.settle, c.converged); err == nil {
		rr.Membership = time.Since(rr.Heal).Seconds()
	} else {
		rr.Notes = append(rr.Notes, "membership not back within "+x.cfg.settle.String()+": "+err.Error())
	}
	wg.Wait()
	rr.WriteAll = 0
	for _, v := range rr.PerNode {
		if v < 0 {
			rr.WriteAll = -1
			break
		}
		rr.WriteAll = max(rr.WriteAll, v)
	}
	if rr.Membership < 0 && ctx.Err() == nil {
		for _, n := range c.incomplete() {
			rr.Restarted = append(rr.Restarted, fmt.Sprintf("n%d", n.idx))
			n.kill()
			c.start(n, false)
		}
		err := waitCtx(ctx, x.cfg.settle, c.converged)
		s := "restarted " + strings.Join(rr.Restarted, ",") + " to recover"
		if err != nil {
			s += "; still not converged: " + err.Error()
		}
		rr.Notes = append(rr.Notes, s)
	}
}

// finalChecks heals everything, waits for full membership, reads every key through every
// node, lists through every node, reads the control-plane names through every node, and
// runs the checks.
func (x *chaosRun) finalChecks(ctx context.Context) *chaosSummary {
	c := x.c
	c.setCuts(nil)
	for _, s := range c.restoreDisks() {
		x.notes = append(x.notes, "at the end: "+s)
	}
	for _, n := range c.nodes {
		n.signal(syscall.SIGCONT)
		if !n.isRunning() {
			c.start(n, false)
		}
	}
	if err := waitCtx(ctx, 60*time.Second, c.converged); err != nil {
		inc := c.incomplete()
		var names []string
		for _, n := range inc {
			names = append(names, fmt.Sprintf("n%d", n.idx))
			n.kill()
			c.start(n, false)
		}
		x.notes = append(x.notes, fmt.Sprintf("at the end membership did not converge within 60 s (%v); restarted %s", err, strings.Join(names, ",")))
		if err := waitCtx(ctx, 60*time.Second, c.converged); err != nil {
			x.notes = append(x.notes, "still not converged after the restart: "+err.Error()+"; checking anyway")
		}
	}
	sleepCtx(ctx, 2*time.Second)
	x.logf("final checks: every key through every node")
	x.h.setPhase("final", len(x.rounds))
	soakOps := x.h.snapshot()
	keys := map[string]bool{}
	for _, r := range soakOps {
		if r.Op == "put" || r.Op == "delete" {
			keys[r.Key] = true
		}
	}
	finals := map[string][]*opRecord{}
	var mu sync.Mutex
	work := make(chan string)
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for key := range work {
				l := make([]*opRecord, len(c.nodes))
				for i, n := range c.nodes {
					for attempt := 0; attempt < 3; attempt++ {
						r := x.api.get(ctx, x.h, -1, n.idx, key)
						l[i] = r
						if _, ok := readValue(r); ok {
							break
						}
						sleepCtx(ctx, time.Second)
					}
				}
				mu.Lock()
				finals[key] = l
				mu.Unlock()
			}
		}()
	}
	for k := range keys {
		work <- k
	}
	close(work)
	wg.Wait()
	lists := make([][]string, len(c.nodes))
	for i, n := range c.nodes {
		for attempt := 0; attempt < 3; attempt++ {
			if r := x.api.list(ctx, x.h, -1, n.idx, ""); r.ack() {
				lists[i] = r.Listed
				if lists[i] == nil {
					lists[i] = []string{}
				}
				break
			}
			sleepCtx(ctx, time.Second)
		}
		if lists[i] == nil {
			x.notes = append(x.notes, fmt.Sprintf("the final listing through n%d failed 3 times", n.idx))
		}
	}
	for _, n := range c.nodes {
		for _, u := range chaosUsers {
			x.api.control(ctx, x.h, -1, n.idx, "getUser", u)
		}
		for _, b := range chaosLinBuckets {
			x.api.control(ctx, x.h, -1, n.idx, "headBucket", b)
		}
	}
	all := x.h.snapshot()
	x.logf("checking linearizability of %d control-plane operations", countControl(all))
	sum := x.summarize(soakOps, all, finals, lists)
	if x.cfg.selftest {
		sum.SelfTest = x.selfTest(soakOps, all, finals, lists)
		if !strings.HasPrefix(sum.SelfTest, "ok") {
			sum.Failed = true
			sum.FailReasons = append(sum.FailReasons, "self-test: "+sum.SelfTest)
		}
	}
	return sum
}

func countControl(ops []*opRecord) int {
	n := 0
	for _, r := range ops {
		if _, _, ok := linOp(r); ok && r.Op != "put" {
			n++
		}
	}
	return n
}

func isWrite(op string) bool {
	switch op {
	case "put", "delete", "createBucket", "deleteBucket", "createUser", "deleteUser":
		return true
	}
	return false
}

func isControlWrite(op string) bool { return isWrite(op) && op != "put" && op != "delete" }

func (x *chaosRun) summarize(soakOps, all []*opRecord, finals map[string][]*opRecord, lists [][]string) *chaosSummary {
	cfg := x.cfg
	s := &chaosSummary{Nodes: cfg.nodes, Disks: cfg.disks, Clients: cfg.clients, Rounds: len(x.rounds), Seed: cfg.seed, Dir: cfg.dir,
		HTTP500: map[string]int{}, Errors: map[string]map[string]int{}, RoundList: x.rounds, Notes: x.notes}
	s.Requests = len(soakOps)
	s.FinalRequests = len(all) - len(soakOps)
	for _, r := range soakOps {
		if r.ack() && isWrite(r.Op) {
			s.AckedWrites++
			switch {
			case r.Op == "put":
				s.AckedPuts++
			case r.Op == "delete":
				s.AckedDeletes++
			default:
				s.AckedControl++
			}
		}
		code := "ok"
		if r.Result != "ok" {
			code = r.Code
			if r.Status != 0 {
				code = fmt.Sprintf("%s %d", r.Code, r.Status)
			}
		}
		if r.Truncated {
			code = "ok, body broken off"
		}
		if s.Errors[code] == nil {
			s.Errors[code] = map[string]int{}
		}
		s.Errors[code][r.Phase]++
		if r.Status == 500 {
			s.HTTP500[r.Phase]++
		}
	}
	for _, r := range all[len(soakOps):] {
		if r.Status == 500 {
			s.HTTP500["final"]++
		}
		if r.Truncated {
			s.BrokenOff++
		}
	}
	s.Soak = checkSoak(soakOps)
	s.BrokenOff += s.Soak.BrokenOff
	for _, r := range soakOps {
		if r.Op == "get" && r.Truncated && (x.c.inMinorityDuring(r.Node, r.Start, r.End) || x.c.killedDuring(r.Node, r.Start, r.End)) {
			s.BrokenOff--
			s.BrokenInMinority++
		}
	}
	s.Final = checkFinal(all, finals, lists)
	s.Lin = checkLinearizable(all, x.t0, 60*time.Second, filepath.Join(cfg.dir, "linearizability.html"))
	s.Lost, s.Corrupted, s.Resurrected = s.Final.Lost, s.Final.Corrupted+s.Soak.CorruptGet, s.Final.Resurrected

	var memb, wall, gap, raftGap []float64
	for _, rr := range x.rounds {
		memb = append(memb, rr.Membership)
		wall = append(wall, rr.WriteAll)
		if rr.CutSeen != nil {
			s.CutsSeen[1]++
			if *rr.CutSeen {
				s.CutsSeen[0]++
			}
		}
		if !rr.KillAt.IsZero() {
			g, rg := -1.0, -1.0
			for _, r := range soakOps {
				if !isWrite(r.Op) || r.Start.Before(rr.KillAt) {
					continue
				}
				d := r.End.Sub(rr.KillAt).Seconds()
				if r.ack() && (g < 0 || d < g) {
					g = d
				}
				if isControlWrite(r.Op) && r.decidedByRaft() && (rg < 0 || d < rg) {
					rg = d
				}
			}
			gap, raftGap = append(gap, g), append(raftGap, rg)
		}
	}
	s.Membership, s.WriteAll, s.WriteGap, s.RaftGap = makeFigure(memb), makeFigure(wall), makeFigure(gap), makeFigure(raftGap)
	for _, n := range x.c.nodes {
		n.mu.Lock()
		s.Crashes = append(s.Crashes, n.crashes...)
		n.mu.Unlock()
	}
	if s.Lost > 0 {
		s.FailReasons = append(s.FailReasons, fmt.Sprintf("%d lost (key x node reads of %d keys)", s.Lost, s.Final.LostKeys))
	}
	if s.Corrupted > 0 {
		s.FailReasons = append(s.FailReasons, fmt.Sprintf("%d corrupted", s.Corrupted))
	}
	if s.Resurrected > 0 {
		s.FailReasons = append(s.FailReasons, fmt.Sprintf("%d resurrected", s.Resurrected))
	}
	if s.Lin.Result == "illegal" {
		s.FailReasons = append(s.FailReasons, "control plane not linearizable: "+strings.Join(s.Lin.Illegal, ", "))
	}
	// During the soak too, a read or a listing answers as of the acknowledged writes
	// before it, through whichever node (S3's read-after-write consistency); and no
	// request is answered 500: faults are 503s, which clients retry.
	if n := sumCounts(s.Soak.Anomalies); n > 0 {
		s.FailReasons = append(s.FailReasons, fmt.Sprintf("%d reads during the soak contradicted the acknowledged writes (%s)", n, fmtCounts(s.Soak.Anomalies)))
	}
	if s.Soak.ListAnom > 0 {
		s.FailReasons = append(s.FailReasons, fmt.Sprintf("%d listings during the soak contradicted the acknowledged writes", s.Soak.ListAnom))
	}
	if n := sumCounts(s.HTTP500); n > 0 {
		s.FailReasons = append(s.FailReasons, fmt.Sprintf("%d HTTP 500s (%s)", n, fmtCounts(s.HTTP500)))
	}
	s.Failed = len(s.FailReasons) > 0
	return s
}

// selfTest feeds the checks deliberately wrong expectations, one per check, and reports
// whether each fires.
func (x *chaosRun) selfTest(soakOps, all []*opRecord, finals map[string][]*opRecord, lists [][]string) string {
	var present, gone string
	for k, l := range finals {
		if v, ok := readValue(l[0]); ok && v != absent && present == "" {
			present = k
		} else if ok && v == absent && gone == "" {
			gone = k
		}
	}
	if present == "" {
		return "no key present at the end to test with"
	}
	var results []string
	fire := func(name string, fired bool) {
		results = append(results, fmt.Sprintf("%s %s", name, map[bool]string{true: "fires", false: "DID NOT FIRE"}[fired]))
	}
	end := time.Now()
	fake := func(op, key, hash string) *opRecord {
		return &opRecord{ID: -1, Client: -2, Op: op, Key: key, Hash: hash, Start: end, End: end, Result: "ok", Status: 200, Phase: "steady"}
	}
	// an acknowledged put the cluster never saw: its key reads an older value
	rep := checkFinal(append(append([]*opRecord(nil), soakOps...), fake("put", present, "0000000000000000")), finals, lists)
	fire("lost", rep.Lost > 0)
	// an acknowledged delete it never saw: the key reads back
	rep = checkFinal(append(append([]*opRecord(nil), soakOps...), fake("delete", present, "")), finals, lists)
	fire("resurrected", rep.Resurrected > 0)
	// a final read whose content no one wrote
	bad := map[string][]*opRecord{}
	for k, l := range finals {
		bad[k] = l
	}
	r0 := *finals[present][0]
	r0.Hash = "ffffffffffffffff"
	bad[present] = append([]*opRecord{&r0}, finals[present][1:]...)
	rep = checkFinal(soakOps, bad, lists)
	fire("corrupted", rep.Corrupted > 0)
	// a listing that omits a key its node's GET finds
	badLists := make([][]string, len(lists))
	for i, l := range lists {
		badLists[i] = without(l, present)
	}
	rep = checkFinal(soakOps, finals, badLists)
	fire("list", rep.ListDisagree > 0)
	// a user read as existing before anything created it
	early := x.t0.Add(-time.Second)
	ghost := &opRecord{ID: -1, Client: -2, Op: "getUser", Key: chaosUsers[0], Start: early, End: early, Result: "ok", Status: 200}
	lr := checkLinearizable(append([]*opRecord{ghost}, all...), x.t0.Add(-2*time.Second), 20*time.Second, "")
	fire("linearizability", lr.Result == "illegal")
	for _, r := range results {
		if strings.HasSuffix(r, "DID NOT FIRE") {
			return "FAILED: " + strings.Join(results, ", ")
		}
	}
	return "ok: " + strings.Join(results, ", ")
}

func (x *chaosRun) writeHistory() {
	f, err := os.Create(filepath.Join(x.cfg.dir, "history.jsonl"))
	if err != nil {
		return
	}
	defer f.Close()
	enc := json.NewEncoder(f)
	for _, r := range x.h.snapshot() {
		enc.Encode(r)
	}
}

func (x *chaosRun) print(w io.Writer, s *chaosSummary) {
	p := func(format string, a ...any) { fmt.Fprintf(w, format+"\n", a...) }
	p("\nChaos soak: %d nodes x %d disk folders, %d clients, %d rounds, seed %d (data in %s)\n", s.Nodes, s.Disks, s.Clients, s.Rounds, s.Seed, s.Dir)
	p("%-5s %-18s %-16s %6s %11s %11s  %s", "round", "fault", "target", "hold", "membership", "writes/all", "notes")
	for _, rr := range s.RoundList {
		notes := strings.Join(rr.Notes, "; ")
		p("%-5d %-18s %-16s %5.1fs %11s %11s  %s", rr.Round, rr.Fault, rr.Target, rr.Hold, secs(rr.Membership), secs(rr.WriteAll), notes)
	}
	p("")
	row := func(name, format string, a ...any) { p("%-44s %s", name, fmt.Sprintf(format, a...)) }
	row("requests", "%d during the soak, %d in the final checks", s.Requests, s.FinalRequests)
	row("acknowledged writes", "%d (puts %d, deletes %d, control plane %d)", s.AckedWrites, s.AckedPuts, s.AckedDeletes, s.AckedControl)
	row("lost / corrupted / resurrected", "%d / %d / %d   (final reads of %d keys x %d nodes; lost keys %d: %v)", s.Lost, s.Corrupted, s.Resurrected,
		s.Final.Keys, s.Nodes, s.Final.LostKeys, fmtCounts(s.Final.LostKinds))
	row("final: nodes disagree / late-applied", "%d keys / %d reads showing an unacknowledged write's value", s.Final.Divergent, s.Final.LateApplied)
	row("final: listing vs GET disagreements", "%d", s.Final.ListDisagree)
	row("broken-off GETs", "%d   (plus %d served by a box killed, or on the minority side of a partition, during the read: it can send no more)", s.BrokenOff, s.BrokenInMinority)
	row("read anomalies during the soak", "%v; listings %d", fmtCounts(s.Soak.Anomalies), s.Soak.ListAnom)
	row("HTTP 500s", "%s", fmtCounts(s.HTTP500))
	lin := s.Lin.Result
	if len(s.Lin.Illegal) > 0 {
		lin += " (" + strings.Join(s.Lin.Illegal, ", ") + ")"
	}
	row("linearizability (control plane)", "%s: %d ops on %d names, %d of them ambiguous", lin, s.Lin.Ops, len(chaosUsers)+len(chaosLinBuckets), s.Lin.Ambiguous)
	row("time to full membership after a heal", "%s", s.Membership)
	row("writes through every node after a heal", "%s (max over nodes per heal)", s.WriteAll)
	row("write gap after a leader kill", "%s", s.WriteGap)
	row("  of which Raft (control-plane) writes, refusals decided in Raft included", "%s", s.RaftGap)
	row("partitions seen by gossip before the heal", "%d of %d", s.CutsSeen[0], s.CutsSeen[1])
	p("\n%-44s %8s %8s %8s", "outcomes by code", "fault", "recovery", "steady")
	var codes []string
	for c := range s.Errors {
		codes = append(codes, c)
	}
	sort.Slice(codes, func(i, j int) bool {
		a, b := s.Errors[codes[i]], s.Errors[codes[j]]
		return a["fault"]+a["recovery"]+a["steady"] > b["fault"]+b["recovery"]+b["steady"]
	})
	for _, c := range codes {
		m := s.Errors[c]
		p("%-44s %8d %8d %8d", c, m["fault"], m["recovery"], m["steady"])
	}
	var ex []string
	ex = append(ex, s.Final.Examples...)
	ex = append(ex, s.Final.ListEx...)
	ex = append(ex, s.Soak.Examples...)
	ex = append(ex, s.Soak.ListEx...)
	ex = append(ex, s.Soak.BrokenEx...)
	ex = append(ex, s.Lin.Examples...)
	ex = append(ex, s.Final.LateEx...)
	if len(ex) > 0 {
		p("\nexamples:")
		for _, e := range ex {
			p("  %s", e)
		}
	}
	if len(s.Crashes) > 0 {
		p("\nservers that exited by themselves:")
		for _, c := range s.Crashes {
			p("  %s", c)
		}
	}
	if len(s.Notes) > 0 {
		p("\nnotes:")
		for _, n := range s.Notes {
			p("  %s", n)
		}
	}
	if s.SelfTest != "" {
		p("\nself-test: %s", s.SelfTest)
	}
	verdict := "PASS: no acknowledged write lost, corrupted or resurrected, no read or listing contradicting one, no HTTP 500; control plane linearizable"
	if s.Failed {
		verdict = "FAIL: " + strings.Join(s.FailReasons, "; ")
	}
	p("\n%s\n", verdict)
}

func sumCounts(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

func fmtCounts(m map[string]int) string {
	if len(m) == 0 {
		return "none"
	}
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}
