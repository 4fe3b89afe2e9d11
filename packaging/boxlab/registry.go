package boxlab

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// RunDir holds one record per lab, <id>.json, and the lock that allocates ids.
const RunDir = "/run/boxlab"

// Lab ids: the second octet of the lab's subnet.
const (
	firstID = 100
	lastID  = 254
)

// Record is what /run/boxlab/<id>.json says about a lab: enough for another process to
// tell whether its owner still lives and to tear it down when not.
type Record struct {
	ID  int `json:"id"`
	PID int `json:"pid"`
	// Started is the owner's start time (field 22 of /proc/PID/stat), so that a reused
	// pid is not taken for the owner.
	Started string `json:"started"`
	Dir     string `json:"dir"`
	Boxes   int    `json:"boxes"`
	// Banyan is the server binary's path: a sweep kills those processes first.
	Banyan string `json:"banyan,omitempty"`
	// Holders are the pids holding each box's namespaces (`nsenter -t PID -n -m`).
	Holders []int `json:"holders,omitempty"`
}

// OwnerAlive reports whether the process that made the lab still runs.
func (r Record) OwnerAlive() bool {
	st, err := procStart(r.PID)
	return err == nil && st == r.Started
}

func recordPath(id int) string { return filepath.Join(RunDir, strconv.Itoa(id)+".json") }

func writeRecord(r Record) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	tmp := recordPath(r.ID) + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, recordPath(r.ID))
}

func readRecord(path string) (Record, error) {
	var r Record
	b, err := os.ReadFile(path)
	if err != nil {
		return r, err
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return r, fmt.Errorf("%s: %w", path, err)
	}
	return r, nil
}

// Labs lists the labs recorded in /run/boxlab, by id, whether or not their owner lives.
func Labs() ([]Record, error) {
	paths, err := filepath.Glob(filepath.Join(RunDir, "*.json"))
	if err != nil {
		return nil, err
	}
	var out []Record
	for _, p := range paths {
		r, err := readRecord(p)
		if err != nil {
			continue
		}
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// Remove tears lab id down for a person cleaning up: a live owner is sent SIGTERM and
// given 60 s to close its lab itself (boxlab up does); otherwise, or after that, every
// process, namespace and folder of the lab is removed here.
func Remove(id int) error {
	r, err := readRecord(recordPath(id))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if err == nil && r.OwnerAlive() && r.PID != os.Getpid() {
		syscall.Kill(r.PID, syscall.SIGTERM)
		deadline := time.Now().Add(60 * time.Second)
		for time.Now().Before(deadline) && r.OwnerAlive() {
			time.Sleep(200 * time.Millisecond)
		}
		if r.OwnerAlive() {
			syscall.Kill(r.PID, syscall.SIGKILL)
		}
	}
	unlock, err := lockRunDir()
	if err != nil {
		return err
	}
	defer unlock()
	if _, err := os.Stat(recordPath(id)); errors.Is(err, os.ErrNotExist) && len(labNetns(id)) == 0 {
		return nil // the owner closed it
	}
	return teardown(id, r.Dir, r.Banyan)
}

// Sweep tears down every lab whose owner died and every lab namespace without a
// record, as Start does first.
func Sweep(logf func(format string, args ...any)) error {
	unlock, err := lockRunDir()
	if err != nil {
		return err
	}
	defer unlock()
	sweep(logf)
	return nil
}

// lockRunDir takes the lock that makes allocation and sweeping one at a time across
// processes.
func lockRunDir() (unlock func(), err error) {
	if err := os.MkdirAll(RunDir, 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(RunDir, "lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	return func() { unix.Flock(int(f.Fd()), unix.LOCK_UN); f.Close() }, nil
}

// allocate sweeps the leftovers of dead labs, then takes the first free id, makes the
// lab folder and writes the lab's record, all under the lock.
func allocate(boxes int, banyan string, logf func(string, ...any)) (Record, error) {
	unlock, err := lockRunDir()
	if err != nil {
		return Record{}, err
	}
	defer unlock()
	sweep(logf)
	taken := map[int]bool{}
	recs, _ := Labs()
	for _, r := range recs {
		taken[r.ID] = true
	}
	for _, ns := range allNetns() {
		if id, ok := netnsLab(ns); ok {
			taken[id] = true
		}
	}
	started, err := procStart(os.Getpid())
	if err != nil {
		return Record{}, err
	}
	for id := firstID; id <= lastID; id++ {
		if taken[id] {
			continue
		}
		dir, err := os.MkdirTemp("", fmt.Sprintf("boxlab%d-", id))
		if err != nil {
			return Record{}, err
		}
		// qemu runs as its own user and must reach the boxes' instance folders.
		if err := os.Chmod(dir, 0o755); err != nil {
			os.RemoveAll(dir)
			return Record{}, err
		}
		r := Record{ID: id, PID: os.Getpid(), Started: started, Dir: dir, Boxes: boxes, Banyan: banyan}
		if err := writeRecord(r); err != nil {
			os.RemoveAll(dir)
			return Record{}, err
		}
		return r, nil
	}
	return Record{}, fmt.Errorf("every lab id from %d to %d is in use (see %s, `ip netns list`; packaging/boxlab.sh down removes labs)", firstID, lastID, RunDir)
}

// sweep tears down every recorded lab whose owner died, and every bny<l>-* namespace
// no record accounts for (a record is written, under the lock, before its namespaces).
// The caller holds the lock.
func sweep(logf func(string, ...any)) {
	recs, _ := Labs()
	live := map[int]bool{}
	for _, r := range recs {
		if r.OwnerAlive() {
			live[r.ID] = true
			continue
		}
		logf("boxlab: sweeping lab %d left by pid %d (%s)", r.ID, r.PID, r.Dir)
		if err := teardown(r.ID, r.Dir, r.Banyan); err != nil {
			logf("boxlab: sweeping lab %d: %v", r.ID, err)
		}
	}
	orphans := map[int]bool{}
	for _, ns := range allNetns() {
		if id, ok := netnsLab(ns); ok && !live[id] {
			orphans[id] = true
		}
	}
	for id := range orphans {
		if _, err := os.Stat(recordPath(id)); err == nil {
			continue // swept above and failed; taken, not retried
		}
		logf("boxlab: sweeping namespaces of lab %d, which has no record", id)
		if err := teardown(id, "", ""); err != nil {
			logf("boxlab: sweeping lab %d: %v", id, err)
		}
	}
}

// teardown removes everything of lab id, from what the system shows (namespaces and
// their processes) rather than from memory, so that it also serves sweeps: the servers
// are killed first (their agents would start again the domains destroyed next), then
// every domain of every box's libvirtd is destroyed and undefined, every process left in
// the lab's namespaces is killed, the namespaces are deleted and the folder and record
// removed. Any step failing leaves the later ones to run.
func teardown(id int, dir, banyan string) error {
	var errs []error
	names := labNetns(id)
	server := "banyan"
	if banyan != "" {
		server = filepath.Base(banyan)
	}
	if len(server) > 15 {
		server = server[:15] // /proc/PID/comm
	}
	killIn(names, func(comm string) bool { return comm == server })
	for _, ns := range names {
		for _, pid := range netnsPids(ns) {
			if comm(pid) == "libvirtd" {
				destroyDomains(pid)
				break
			}
		}
	}
	if left := killIn(names, nil); len(left) > 0 {
		errs = append(errs, fmt.Errorf("lab %d: processes still in its namespaces after SIGKILL: %v", id, left))
	}
	for _, ns := range names {
		if out, err := exec.Command("ip", "netns", "delete", ns).CombinedOutput(); err != nil {
			errs = append(errs, fmt.Errorf("ip netns delete %s: %v: %s", ns, err, strings.TrimSpace(string(out))))
		}
	}
	// Only a folder named as allocate names them: a record is a file anyone root can edit.
	if dir != "" && strings.HasPrefix(filepath.Base(dir), fmt.Sprintf("boxlab%d-", id)) {
		if err := os.RemoveAll(dir); err != nil {
			errs = append(errs, err)
		}
	} else if dir != "" {
		errs = append(errs, fmt.Errorf("lab %d: not removing %s: not a lab folder (boxlab%d-*)", id, dir, id))
	}
	if err := os.Remove(recordPath(id)); err != nil && !errors.Is(err, os.ErrNotExist) {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// destroyDomains destroys and undefines every domain of the libvirtd whose pid is given,
// from inside its namespaces.
func destroyDomains(libvirtd int) {
	virsh := func(args ...string) ([]byte, error) {
		cmd := exec.Command("nsenter", append([]string{"-t", strconv.Itoa(libvirtd), "-n", "-m", "--",
			"virsh", "-q", "-c", "qemu:///system"}, args...)...)
		return runTimeout(cmd, 30*time.Second)
	}
	out, err := virsh("list", "--all", "--name")
	if err != nil {
		return
	}
	for _, name := range strings.Fields(string(out)) {
		virsh("destroy", name)
		if _, err := virsh("undefine", "--nvram", name); err != nil {
			virsh("undefine", name)
		}
	}
}

// runTimeout runs cmd, killing it after d.
func runTimeout(cmd *exec.Cmd, d time.Duration) ([]byte, error) {
	var out bytes.Buffer
	cmd.Stdout = &out
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	t := time.AfterFunc(d, func() { cmd.Process.Kill() })
	defer t.Stop()
	err := cmd.Wait()
	return out.Bytes(), err
}

// killIn SIGKILLs the processes in the namespaces whose comm match (nil: all) until
// none is left or 20 s have passed, and returns those left.
func killIn(names []string, match func(comm string) bool) []int {
	deadline := time.Now().Add(20 * time.Second)
	for {
		var left []int
		for _, ns := range names {
			for _, pid := range netnsPids(ns) {
				if pid == os.Getpid() || match != nil && !match(comm(pid)) {
					continue
				}
				syscall.Kill(pid, syscall.SIGCONT)
				syscall.Kill(pid, syscall.SIGKILL)
				left = append(left, pid)
			}
		}
		if len(left) == 0 || time.Now().After(deadline) {
			return left
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// allNetns lists the named network namespaces (`ip netns list`).
func allNetns() []string {
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		return nil
	}
	var names []string
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) > 0 {
			names = append(names, f[0])
		}
	}
	return names
}

// labNetns lists lab id's namespaces.
func labNetns(id int) []string {
	var out []string
	for _, ns := range allNetns() {
		if l, ok := netnsLab(ns); ok && l == id {
			out = append(out, ns)
		}
	}
	return out
}

// netnsLab parses a lab namespace's name, bny<l>-<i> or bny<l>-lan.
func netnsLab(ns string) (int, bool) {
	rest, ok := strings.CutPrefix(ns, "bny")
	if !ok {
		return 0, false
	}
	l, box, ok := strings.Cut(rest, "-")
	if !ok {
		return 0, false
	}
	id, err := strconv.Atoi(l)
	if err != nil || id < firstID || id > lastID {
		return 0, false
	}
	if _, err := strconv.Atoi(box); err != nil && box != "lan" {
		return 0, false
	}
	return id, true
}

// netnsPids lists the processes in a named network namespace (`ip netns pids`).
func netnsPids(ns string) []int {
	out, err := exec.Command("ip", "netns", "pids", ns).Output()
	if err != nil {
		return nil
	}
	var pids []int
	for _, f := range strings.Fields(string(out)) {
		if pid, err := strconv.Atoi(f); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids
}

func comm(pid int) string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	return strings.TrimSpace(string(b))
}

// procStart is a process's start time in clock ticks since boot, field 22 of
// /proc/PID/stat; with the pid it names one process for good.
func procStart(pid int) (string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "", err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return "", fmt.Errorf("/proc/%d/stat: unexpected %q", pid, s)
	}
	f := strings.Fields(s[i+1:]) // f[0] is field 3
	if len(f) < 20 {
		return "", fmt.Errorf("/proc/%d/stat: unexpected %q", pid, s)
	}
	if f[0] == "Z" || f[0] == "X" {
		return "", fmt.Errorf("process %d has exited", pid)
	}
	return f[19], nil
}
