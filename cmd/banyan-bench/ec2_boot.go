package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/banyancloud/banyan/packaging/boxlab"
)

// The console lines of the test guest (packaging/guest/init).
const (
	guestBooted   = "banyan-guest: booted"       // the first line its /init prints
	guestMetadata = "banyan-guest: instance-id=" // after DHCP and the metadata service
)

// Polling periods: each figure is late by up to its period.
const (
	consolePoll  = 10 * time.Millisecond  // the console log files, read on the host
	describePoll = 50 * time.Millisecond  // DescribeInstances
	apiConPoll   = 100 * time.Millisecond // GetConsoleOutput
	burstPoll    = 100 * time.Millisecond // every poll of the burst
	domainPoll   = 200 * time.Millisecond // virsh list in every box
)

// bootConfig is what bootBench runs.
type bootConfig struct {
	Boots        int    // sequential single launches, and plain qemu boots beside them
	Instances    int    // instances of the one burst RunInstances
	InstanceType string // e.g. t2.nano
	GuestDir     string // where build-guest-image.sh builds (and caches) the guest
}

// instanceMemMiB is the memory of the instance types the benchmark may use (api/ec2's
// table), so that plain qemu gets what the domain gets.
var instanceMemMiB = map[string]int{"t2.nano": 512, "t2.micro": 1024, "t2.small": 2048}

// bootBench measures instance boot times in a box lab of three boxes (qemu TCG, each
// box its own libvirtd): the time from RunInstances returning to state running, to the
// guest's first console line and to its reaching the metadata service, N single launches
// one after the other, beside plain qemu booting the same image with the same machine in
// a box; then one RunInstances of many instances at once. Nothing of the lab, and no VM
// network, touches the host's network namespace.
func bootBench(bin, dir string, cfg bootConfig) (err error) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	mem, ok := instanceMemMiB[cfg.InstanceType]
	if !ok {
		return fmt.Errorf("--instance-type %s: want one of t2.nano, t2.micro, t2.small", cfg.InstanceType)
	}
	if err := boxlab.Check(boxlab.Config{Banyan: bin}); err != nil {
		return fmt.Errorf("the boot benchmark runs a box lab: %v (--skip-boot skips it)", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	image, err := buildGuest(ctx, cfg.GuestDir)
	if err != nil {
		return err
	}
	logf := func(f string, a ...any) { fmt.Fprintf(os.Stderr, "ec2 boot: "+f+"\n", a...) }

	begin := time.Now()
	lab, err := boxlab.New(ctx, boxlab.Config{Boxes: 3, Banyan: bin, Logf: logf})
	if err != nil {
		return err
	}
	defer func() {
		if cerr := lab.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}()
	creds := lab.Credentials()
	region := creds.Region
	if region == "" {
		region = "us-east-1"
	}
	endpoint := lab.Box(0).Endpoint()
	sc := credentials.NewStaticCredentialsProvider(creds.AccessKeyID, creds.SecretAccessKey, "")
	e := ec2.New(ec2.Options{Region: region, BaseEndpoint: aws.String(endpoint), Credentials: sc, HTTPClient: lab.HTTPClient()})
	s := s3.New(s3.Options{Region: region, BaseEndpoint: aws.String(endpoint), Credentials: sc, HTTPClient: lab.HTTPClient(), UsePathStyle: true})
	r := &bootRun{lab: lab, ec2: e, dir: dir, logf: logf, itype: cfg.InstanceType, memMiB: mem}

	// The image, through S3 and ImportImage.
	t0 := time.Now()
	if err := r.importImage(ctx, s, image); err != nil {
		return err
	}
	importTook := time.Since(t0)
	logf("image %s imported in %s (lab up in %s)", r.ami, importTook.Round(time.Millisecond), t0.Sub(begin).Round(time.Millisecond))

	// Warm-up: one instance per box (the placement spreads them), which fills every box's
	// image cache; its figures are the cold ones.
	cold, err := r.launch(ctx, 3, burstPoll, 3*time.Minute, false)
	if err != nil {
		return fmt.Errorf("warm-up: %w", err)
	}
	if _, err := r.terminate(ctx, cold); err != nil {
		return fmt.Errorf("warm-up: %w", err)
	}
	// Plain qemu boots the very file Banyan's instances boot: a box's cached image.
	base := ""
	for _, b := range lab.Boxes() {
		if p := filepath.Join(b.DataDir(), "images", r.ami+".qcow2"); base == "" {
			if _, err := os.Stat(p); err == nil {
				base = p
			}
		}
	}
	if base == "" {
		return fmt.Errorf("no box has cached %s after the warm-up", r.ami)
	}
	logf("warm-up on %s", spread(cold, 3))

	// N single launches, each beside a plain qemu boot of the same image in a box.
	var plain, plainNIC []plainBoot
	var singles []*instBoot
	var terms []termTimes
	for i := range cfg.Boots {
		logf("boot %d of %d", i+1, cfg.Boots)
		p, err := r.plainQemu(ctx, lab.Box(i%3), base, false)
		if err != nil {
			return err
		}
		plain = append(plain, p)
		if p, err = r.plainQemu(ctx, lab.Box(i%3), base, true); err != nil {
			return err
		}
		plainNIC = append(plainNIC, p)
		in, err := r.launch(ctx, 1, describePoll, 2*time.Minute, true)
		if err != nil {
			return err
		}
		singles = append(singles, in...)
		tt, err := r.terminate(ctx, in)
		if err != nil {
			return err
		}
		terms = append(terms, tt)
	}

	// The burst.
	n := cfg.Instances
	room, note := r.capacity(ctx)
	logf("capacity: %s", note)
	var burst []*instBoot
	var burstTerm termTimes
	var burstErr error
	if n > 0 {
		logf("%d × %s in one RunInstances", n, cfg.InstanceType)
		burst, burstErr = r.launch(ctx, n, burstPoll, 6*time.Minute, false)
		if len(burst) > 0 {
			var err error
			if burstTerm, err = r.terminate(ctx, burst); err != nil {
				burstErr = errors.Join(burstErr, err)
			}
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}

	// The figures.
	fmt.Printf("\nEC2 boot: box lab of 3 boxes on this machine (%d CPUs, qemu TCG), guest %s, %s (1 vCPU, %d MiB)\n",
		runtime.NumCPU(), filepath.Base(image), cfg.InstanceType, mem)
	fmt.Printf("setup: lab up in %.1fs; upload + ImportImage to completed in %.1fs\n", t0.Sub(begin).Seconds(), importTook.Seconds())
	fmt.Printf("polling: console.log files on the host every %d ms, DescribeInstances every %d ms, GetConsoleOutput every %d ms;\n"+
		"  qemu start is libvirt's own timestamp in the domain log (ms); plain qemu is read from its stdout as it comes\n",
		consolePoll.Milliseconds(), describePoll.Milliseconds(), apiConPoll.Milliseconds())
	fmt.Printf("\n%-62s %8s %8s %8s %4s\n", fmt.Sprintf("N=%d sequential single launches", cfg.Boots), "p50 ms", "p99 ms", "max ms", "n")
	row := func(name string, ds []time.Duration) {
		if len(ds) == 0 {
			fmt.Printf("%-62s %8s %8s %8s %4d\n", name, "-", "-", "-", 0)
			return
		}
		s := summarize(ds)
		fmt.Printf("%-62s %8.0f %8.0f %8.0f %4d\n", name, ms(s.p50), ms(s.p99), ms(maxDur(ds)), s.n)
	}
	pick := func(ps []plainBoot, f func(plainBoot) time.Duration) []time.Duration {
		var ds []time.Duration
		for _, p := range ps {
			ds = append(ds, f(p))
		}
		return ds
	}
	row("plain qemu in a box, -nic none: start -> first console byte", pick(plain, func(p plainBoot) time.Duration { return p.firstByte }))
	row("plain qemu in a box, -nic none: start -> \"booted\"", pick(plain, func(p plainBoot) time.Duration { return p.booted }))
	row("plain qemu + virtio-net NIC, no peer (iPXE ROM): -> \"booted\"", pick(plainNIC, func(p plainBoot) time.Duration { return p.booted }))
	row("Banyan: RunInstances call", field(singles, func(b *instBoot) time.Time { return b.t0 }, func(b *instBoot) time.Time { return b.called }))
	since := func(f func(*instBoot) time.Time) []time.Duration {
		return field(singles, func(b *instBoot) time.Time { return b.t0 }, f)
	}
	row("Banyan: RunInstances returned -> state running", since(func(b *instBoot) time.Time { return b.running }))
	row("Banyan:   -> instance folder made by the box's agent", since(func(b *instBoot) time.Time { return b.dirSeen }))
	row("Banyan:   -> qemu started (libvirt's domain log)", since(func(b *instBoot) time.Time { return b.qemuStart }))
	row("Banyan:   -> first console byte (SeaBIOS)", since(func(b *instBoot) time.Time { return b.firstByte }))
	row("Banyan:   -> first console line \"booted\"", since(func(b *instBoot) time.Time { return b.booted }))
	row("Banyan:   -> \"booted\" seen through GetConsoleOutput", since(func(b *instBoot) time.Time { return b.apiBooted }))
	row("Banyan:   -> \"instance-id=\" (DHCP + metadata reached)", since(func(b *instBoot) time.Time { return b.metadata }))
	row("Banyan: qemu started -> \"booted\" (compare plain qemu)", field(singles, func(b *instBoot) time.Time { return b.qemuStart }, func(b *instBoot) time.Time { return b.booted }))
	var tRun, tGone []time.Duration
	for _, t := range terms {
		tRun, tGone = append(tRun, t.terminated), append(tGone, t.gone)
	}
	row("Banyan: TerminateInstances -> state terminated", tRun)
	row("Banyan: TerminateInstances -> domain gone from its box", tGone)
	bootedP50 := summarize(since(func(b *instBoot) time.Time { return b.booted })).p50
	qemuP50 := summarize(pick(plain, func(p plainBoot) time.Duration { return p.booted })).p50
	fmt.Printf("overhead: Banyan first line p50 - plain qemu p50 = %.0f ms   (goal: overhead < 1 s p50)\n", ms(bootedP50-qemuP50))
	// From the first console byte on, both run the same firmware and guest on the same
	// emulator: the difference before it is what Banyan and libvirt add, without the
	// guest's own spread.
	firstP50 := summarize(since(func(b *instBoot) time.Time { return b.firstByte })).p50
	qemuFirstP50 := summarize(pick(plain, func(p plainBoot) time.Duration { return p.firstByte })).p50
	fmt.Printf("          of it before the guest runs: Banyan first console byte p50 - plain qemu's = %.0f ms\n", ms(firstP50-qemuFirstP50))
	fmt.Println("timelines of the median boot (ms from the start of qemu, or from RunInstances returning; console times as seen):")
	for _, v := range []struct {
		name string
		ps   []plainBoot
	}{{"plain qemu, -nic none", plain}, {"plain qemu + NIC, no peer", plainNIC}} {
		if p, ok := median(v.ps, func(p plainBoot) time.Duration { return p.booted }); ok {
			fmt.Printf("  %-26s %s\n", v.name+":", timeline(p.start, &p.con))
		}
	}
	if b, ok := median(singles, func(b *instBoot) time.Duration { return b.booted.Sub(b.called) }); ok {
		fmt.Printf("  %-26s %s\n", "Banyan:", timeline(b.called, &b.con, "folder", b.dirSeen, "qemu", b.qemuStart, "running", b.running))
	}
	coldRun := field(cold, func(b *instBoot) time.Time { return b.t0 }, func(b *instBoot) time.Time { return b.booted })
	if len(coldRun) > 0 {
		fmt.Printf("cold (warm-up, 3 at once, image fetched into each box's cache): RunInstances -> \"booted\" max %.0f ms\n", ms(maxDur(coldRun)))
	}

	if n > 0 {
		fmt.Printf("\n%d × %s launched at once (one RunInstances --count %d) on %s\n", n, cfg.InstanceType, n, spread(burst, 3))
		fmt.Printf("capacity: %s\n", note)
		if room < n {
			fmt.Printf("  (the cluster has room for %d: RunInstances is expected to fail)\n", room)
		}
		if burstErr != nil {
			fmt.Printf("burst: %v\n", burstErr)
		}
		if len(burst) > 0 {
			fmt.Printf("%-62s %8s %8s %8s\n", "", "p50 ms", "all ms", "reached")
			brow := func(name string, ds []time.Duration, reached int) {
				all := "-"
				if reached == len(burst) && len(ds) > 0 {
					all = fmt.Sprintf("%.0f", ms(maxDur(ds)))
				}
				p50 := "-"
				if len(ds) > 0 {
					p50 = fmt.Sprintf("%.0f", ms(summarize(ds).p50))
				}
				fmt.Printf("%-62s %8s %8s %5d/%d\n", name, p50, all, reached, len(burst))
			}
			bsince := func(f func(*instBoot) time.Time) ([]time.Duration, int) {
				ds := field(burst, func(b *instBoot) time.Time { return b.t0 }, f)
				return ds, len(ds)
			}
			fmt.Printf("%-62s %8.0f\n", "RunInstances call", ms(burst[0].called.Sub(burst[0].t0)))
			ds, k := bsince(func(b *instBoot) time.Time { return b.running })
			brow("RunInstances returned -> running", ds, k)
			ds, k = bsince(func(b *instBoot) time.Time { return b.qemuStart })
			brow("  -> qemu started", ds, k)
			ds, k = bsince(func(b *instBoot) time.Time { return b.booted })
			brow("  -> console shows \"booted\"", ds, k)
			ds, k = bsince(func(b *instBoot) time.Time { return b.metadata })
			brow("  -> \"instance-id=\" (metadata reached)", ds, k)
			if burstTerm.gone > 0 {
				fmt.Printf("%-62s %8s %8.0f\n", "TerminateInstances -> all terminated", "", ms(burstTerm.terminated))
				fmt.Printf("%-62s %8s %8.0f\n", "TerminateInstances -> all domains gone", "", ms(burstTerm.gone))
			}
		}
		fmt.Printf("(polls of the burst: every %d ms)\n", burstPoll.Milliseconds())
	}
	return nil
}

// buildGuest runs packaging/guest/build-guest-image.sh into dir (it keeps what it built
// there and rebuilds only when its inputs change) and returns the qcow2.
func buildGuest(ctx context.Context, dir string) (string, error) {
	img := filepath.Join(dir, "banyan-guest.qcow2")
	script := filepath.Join("packaging", "guest", "build-guest-image.sh")
	if _, err := os.Stat(script); err != nil {
		if _, ierr := os.Stat(img); ierr == nil {
			return img, nil
		}
		return "", fmt.Errorf("no %s (run from the repository root, or build the guest into --guest-dir %s)", script, dir)
	}
	if out, err := exec.CommandContext(ctx, "bash", script, dir).CombinedOutput(); err != nil {
		return "", fmt.Errorf("building the guest image: %v\n%s", err, out)
	}
	return img, nil
}

type bootRun struct {
	lab    *boxlab.Lab
	ec2    *ec2.Client
	dir    string
	logf   func(string, ...any)
	itype  string
	memMiB int
	ami    string
}

// importImage uploads the guest to the bucket "bench" and imports it.
func (r *bootRun) importImage(ctx context.Context, s *s3.Client, image string) error {
	body, err := os.ReadFile(image)
	if err != nil {
		return err
	}
	if _, err := s.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("bench")}); err != nil {
		return fmt.Errorf("CreateBucket bench: %w", err)
	}
	if _, err := s.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bench"), Key: aws.String("banyan-guest.qcow2"),
		Body: bytes.NewReader(body), ContentLength: aws.Int64(int64(len(body)))}); err != nil {
		return fmt.Errorf("uploading the guest: %w", err)
	}
	imp, err := r.ec2.ImportImage(ctx, &ec2.ImportImageInput{Description: aws.String("banyan-bench guest"),
		DiskContainers: []types.ImageDiskContainer{{Format: aws.String("qcow2"),
			UserBucket: &types.UserBucket{S3Bucket: aws.String("bench"), S3Key: aws.String("banyan-guest.qcow2")}}}})
	if err != nil {
		return fmt.Errorf("ImportImage: %w", err)
	}
	deadline := time.Now().Add(3 * time.Minute)
	for {
		d, err := r.ec2.DescribeImportImageTasks(ctx, &ec2.DescribeImportImageTasksInput{ImportTaskIds: []string{aws.ToString(imp.ImportTaskId)}})
		if err == nil && len(d.ImportImageTasks) == 1 {
			t := d.ImportImageTasks[0]
			switch aws.ToString(t.Status) {
			case "completed":
				r.ami = aws.ToString(t.ImageId)
				return nil
			case "deleted":
				return fmt.Errorf("ImportImage failed: %s", aws.ToString(t.StatusMessage))
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("ImportImage not completed after 3 min (last: %v)", err)
		}
		if err := pause(ctx, 200*time.Millisecond); err != nil {
			return err
		}
	}
}

// instBoot is what was seen of one instance's launch; zero times were not seen.
type instBoot struct {
	id     string
	t0     time.Time // RunInstances was called
	called time.Time // RunInstances returned: the times below count from here
	box    int       // the box whose agent made the instance folder, -1 before

	running, dirSeen, qemuStart, firstByte, booted, apiBooted, metadata time.Time

	off int64 // console.log read so far
	con consoleLog
}

// launch runs `count` instances in one RunInstances and watches them until each is
// running and its guest reached the metadata service, or until timeout. api also polls
// GetConsoleOutput.
func (r *bootRun) launch(ctx context.Context, count int, poll, timeout time.Duration, api bool) ([]*instBoot, error) {
	t0 := time.Now()
	out, err := r.ec2.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String(r.ami), InstanceType: types.InstanceType(r.itype),
		MinCount: aws.Int32(int32(count)), MaxCount: aws.Int32(int32(count))})
	called := time.Now()
	if err != nil {
		return nil, fmt.Errorf("RunInstances --count %d: %w", count, err)
	}
	var ins []*instBoot
	var ids []string
	for _, i := range out.Instances {
		ins = append(ins, &instBoot{id: aws.ToString(i.InstanceId), t0: t0, called: called, box: -1})
		ids = append(ids, aws.ToString(i.InstanceId))
	}
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var mu sync.Mutex
	done := func() bool {
		for _, b := range ins {
			if b.running.IsZero() || b.metadata.IsZero() || api && b.apiBooted.IsZero() {
				return false
			}
		}
		return true
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // DescribeInstances
		defer wg.Done()
		for wctx.Err() == nil {
			d, err := r.ec2.DescribeInstances(wctx, &ec2.DescribeInstancesInput{InstanceIds: ids})
			now := time.Now()
			if err == nil {
				mu.Lock()
				left := 0
				for _, res := range d.Reservations {
					for _, i := range res.Instances {
						for _, b := range ins {
							if b.id == aws.ToString(i.InstanceId) && b.running.IsZero() && i.State != nil && i.State.Name == types.InstanceStateNameRunning {
								b.running = now
							}
						}
					}
				}
				for _, b := range ins {
					if b.running.IsZero() {
						left++
					}
				}
				mu.Unlock()
				if left == 0 {
					return
				}
			}
			pause(wctx, poll)
		}
	}()
	if api {
		for _, b := range ins {
			wg.Add(1)
			go func() { // GetConsoleOutput
				defer wg.Done()
				for wctx.Err() == nil {
					c, err := r.ec2.GetConsoleOutput(wctx, &ec2.GetConsoleOutputInput{InstanceId: aws.String(b.id)})
					now := time.Now()
					if err == nil {
						text, _ := base64.StdEncoding.DecodeString(aws.ToString(c.Output))
						if bytes.Contains(text, []byte(guestBooted)) {
							mu.Lock()
							b.apiBooted = now
							mu.Unlock()
							return
						}
					}
					pause(wctx, apiConPoll)
				}
			}()
		}
	}
	filePoll := consolePoll
	if poll > filePoll {
		filePoll = poll
	}
	for wctx.Err() == nil { // the console logs, on the host
		mu.Lock()
		for _, b := range ins {
			r.readConsole(b, time.Now())
		}
		fin := done()
		mu.Unlock()
		if fin {
			break
		}
		pause(wctx, filePoll)
	}
	cancel()
	wg.Wait()
	for _, b := range ins {
		if b.box >= 0 {
			b.qemuStart = qemuStarted(filepath.Join(r.lab.Box(b.box).Dir(), "log", "qemu", b.id+".log"))
		}
	}
	if ctx.Err() != nil {
		return ins, ctx.Err()
	}
	if !done() {
		var late []string
		for _, b := range ins {
			if b.running.IsZero() || b.metadata.IsZero() {
				late = append(late, fmt.Sprintf("%s (box %d, %s)", b.id, b.box, lastLine(b.con.buf)))
			}
		}
		if len(late) > 0 {
			return ins, fmt.Errorf("after %s, %d of %d instances not running or not at the metadata service: %s", timeout, len(late), len(ins), strings.Join(late, ", "))
		}
	}
	return ins, nil
}

// readConsole reads what is new in the instance's console log (DATA-DIR/instances/ID/
// console.log of the box that runs it, which virtlogd writes for libvirt).
func (r *bootRun) readConsole(b *instBoot, now time.Time) {
	if b.box < 0 {
		for _, box := range r.lab.Boxes() {
			if _, err := os.Stat(filepath.Join(box.DataDir(), "instances", b.id)); err == nil {
				b.box, b.dirSeen = box.Index(), now
				break
			}
		}
		if b.box < 0 {
			return
		}
	}
	if !b.metadata.IsZero() {
		return
	}
	f, err := os.Open(filepath.Join(r.lab.Box(b.box).DataDir(), "instances", b.id, "console.log"))
	if err != nil {
		return
	}
	defer f.Close()
	buf, _ := io.ReadAll(io.NewSectionReader(f, b.off, 1<<20))
	if len(buf) == 0 {
		return
	}
	b.off += int64(len(buf))
	b.con.add(buf, now)
	if b.firstByte.IsZero() {
		b.firstByte = now
	}
	if b.booted.IsZero() && b.con.has(guestBooted) {
		b.booted = now
	}
	if b.con.has(guestMetadata) {
		b.metadata = now
	}
}

// qemuStarted is the time in libvirt's "starting up" line of a domain log, zero when
// there is none.
func qemuStarted(path string) time.Time {
	f, err := os.Open(path)
	if err != nil {
		return time.Time{}
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		stamp, rest, ok := strings.Cut(sc.Text(), ": ")
		if ok && strings.HasPrefix(rest, "starting up") {
			t, err := time.Parse("2006-01-02 15:04:05.000-0700", stamp)
			if err == nil {
				return t
			}
		}
	}
	return time.Time{}
}

type termTimes struct{ terminated, gone time.Duration }

// terminate terminates the instances and waits until every one is terminated and its
// domain is gone from every box.
func (r *bootRun) terminate(ctx context.Context, ins []*instBoot) (termTimes, error) {
	var tt termTimes
	var ids []string
	for _, b := range ins {
		ids = append(ids, b.id)
	}
	if len(ids) == 0 {
		return tt, nil
	}
	t0 := time.Now()
	if _, err := r.ec2.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: ids}); err != nil {
		return tt, fmt.Errorf("TerminateInstances: %w", err)
	}
	deadline := t0.Add(3 * time.Minute)
	for tt.terminated == 0 {
		d, err := r.ec2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: ids})
		if err == nil {
			left := 0
			for _, res := range d.Reservations {
				for _, i := range res.Instances {
					if i.State == nil || i.State.Name != types.InstanceStateNameTerminated {
						left++
					}
				}
			}
			if left == 0 {
				tt.terminated = time.Since(t0)
				break
			}
		}
		if time.Now().After(deadline) {
			return tt, fmt.Errorf("instances not terminated 3 min after TerminateInstances (last: %v)", err)
		}
		if err := pause(ctx, describePoll); err != nil {
			return tt, err
		}
	}
	for {
		left := 0
		for _, box := range r.lab.Boxes() {
			names, err := r.lab.Domains(box)
			if err != nil {
				left++
				continue
			}
			for _, n := range names {
				for _, id := range ids {
					if n == id {
						left++
					}
				}
			}
		}
		if left == 0 {
			tt.gone = time.Since(t0)
			return tt, nil
		}
		if time.Now().After(deadline) {
			return tt, fmt.Errorf("%d domains still defined 3 min after TerminateInstances", left)
		}
		if err := pause(ctx, domainPoll); err != nil {
			return tt, err
		}
	}
}

type plainBoot struct {
	firstByte, booted time.Duration
	start             time.Time
	con               consoleLog
}

// plainQemu boots the image with qemu itself inside box b, on a fresh qcow2 overlay,
// with what node/hypervisor's domain XML gives qemu through libvirt: machine pc
// (i440fx) with graphics off (SeaBIOS on the serial console), TCG, cpu qemu64, one
// vCPU, the instance type's memory, the disk on virtio-blk, serial 0 (here on stdout),
// no USB, no balloon. nic adds a virtio-net NIC with no peer (its iPXE option ROM runs
// as in an instance) and still no network.
func (r *bootRun) plainQemu(ctx context.Context, b *boxlab.Box, base string, nic bool) (plainBoot, error) {
	var p plainBoot
	overlay := filepath.Join(r.dir, "plain.qcow2")
	os.Remove(overlay)
	defer os.Remove(overlay)
	if out, err := exec.CommandContext(ctx, "qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", base, overlay).CombinedOutput(); err != nil {
		return p, fmt.Errorf("qemu-img create: %v: %s", err, out)
	}
	args := []string{"-machine", "pc,usb=off,dump-guest-core=off,graphics=off", "-accel", "tcg", "-cpu", "qemu64",
		"-m", strconv.Itoa(r.memMiB), "-smp", "1", "-display", "none", "-no-user-config", "-nodefaults",
		"-rtc", "base=utc", "-boot", "strict=on",
		"-drive", "file=" + overlay + ",if=none,id=vda,format=qcow2",
		"-device", "virtio-blk-pci,drive=vda,bootindex=1",
		"-serial", "stdio"}
	if nic {
		args = append(args, "-device", "virtio-net-pci")
	} else {
		args = append(args, "-nic", "none")
	}
	qctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	cmd := b.Command(qctx, "qemu-system-x86_64", args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return p, err
	}
	t0 := time.Now()
	p.start = t0
	if err := cmd.Start(); err != nil {
		return p, fmt.Errorf("qemu-system-x86_64: %w", err)
	}
	defer func() {
		cmd.Process.Kill() // nsenter execs qemu: this is qemu
		cmd.Wait()
	}()
	buf := make([]byte, 4096)
	for {
		n, err := out.Read(buf)
		now := time.Now()
		if n > 0 {
			if p.firstByte == 0 {
				p.firstByte = now.Sub(t0)
			}
			p.con.add(buf[:n], now)
			if p.con.has(guestBooted) {
				p.booted = now.Sub(t0)
				return p, nil
			}
		}
		if err != nil {
			if ctx.Err() != nil {
				return p, ctx.Err()
			}
			return p, fmt.Errorf("plain qemu in box %d: no %q (%v): %s\nconsole: %s", b.Index(), guestBooted, err,
				strings.TrimSpace(stderr.String()), lastLine(p.con.buf))
		}
	}
}

// capacity is how many instances of the type the cluster has room for, as the boxes
// report it: each box reports the whole machine (its CPUs, its memory, libvirt's node
// info), times the compute.*_overcommit settings.
func (r *bootRun) capacity(ctx context.Context) (int, string) {
	cpuOver, memOver := 4.0, 1.0
	b0 := r.lab.Box(0)
	if out, err := b0.Exec(ctx, r.lab.Banyan(), "setting", "list", "--data-dir", b0.DataDir()); err == nil {
		for _, line := range strings.Split(string(out), "\n") {
			k, v, _ := strings.Cut(line, "=")
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				continue
			}
			switch k {
			case "compute.cpu_overcommit":
				cpuOver = f
			case "compute.memory_overcommit":
				memOver = f
			}
		}
	}
	memMiB := hostMemMiB()
	boxes := len(r.lab.Boxes())
	byCPU := int(float64(runtime.NumCPU())*cpuOver) * boxes
	byMem := int(float64(memMiB)*memOver) / r.memMiB * boxes
	room := min(byCPU, byMem)
	note := fmt.Sprintf("%d boxes × (%d vCPUs × cpu_overcommit %g, %d MiB × memory_overcommit %g): room for %d %s (%d by vCPU, %d by memory); every box reports the whole machine",
		boxes, runtime.NumCPU(), cpuOver, memMiB, memOver, room, r.itype, byCPU, byMem)
	return room, note
}

// hostMemMiB is MemTotal of /proc/meminfo.
func hostMemMiB() int {
	b, _ := os.ReadFile("/proc/meminfo")
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "MemTotal:" {
			kb, _ := strconv.Atoi(f[1])
			return kb / 1024
		}
	}
	return 0
}

// field is to(b) - from(b) for every instance where both were seen.
func field(ins []*instBoot, from, to func(*instBoot) time.Time) []time.Duration {
	var ds []time.Duration
	for _, b := range ins {
		if f, t := from(b), to(b); !f.IsZero() && !t.IsZero() {
			ds = append(ds, t.Sub(f))
		}
	}
	return ds
}

// spread says how many of the instances each box ran.
func spread(ins []*instBoot, boxes int) string {
	n := make([]int, boxes)
	unknown := 0
	for _, b := range ins {
		if b.box >= 0 && b.box < boxes {
			n[b.box]++
		} else {
			unknown++
		}
	}
	var parts []string
	for i, c := range n {
		parts = append(parts, fmt.Sprintf("box%d %d", i, c))
	}
	if unknown > 0 {
		parts = append(parts, fmt.Sprintf("not started %d", unknown))
	}
	return strings.Join(parts, ", ")
}

func maxDur(ds []time.Duration) time.Duration {
	var m time.Duration
	for _, d := range ds {
		m = max(m, d)
	}
	return m
}

// lastLine is the last non-empty console line, printable.
func lastLine(con []byte) string {
	lines := strings.Split(strings.TrimRight(string(con), "\r\n"), "\n")
	l := strings.TrimSpace(lines[len(lines)-1])
	l = strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return -1
		}
		return r
	}, l)
	if l == "" {
		return "no console output"
	}
	return strconv.Quote(l)
}

func pause(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// consoleLog is a console's bytes with the time each piece was seen.
type consoleLog struct {
	buf []byte
	at  []consoleChunk
}

type consoleChunk struct {
	end int
	t   time.Time
}

func (c *consoleLog) add(b []byte, now time.Time) {
	c.buf = append(c.buf, b...)
	c.at = append(c.at, consoleChunk{len(c.buf), now})
}

func (c *consoleLog) has(s string) bool { return bytes.Contains(c.buf, []byte(s)) }

// when is the time the first s was seen whole, zero when it was not.
func (c *consoleLog) when(s string) time.Time {
	i := bytes.Index(c.buf, []byte(s))
	if i < 0 {
		return time.Time{}
	}
	for _, ch := range c.at {
		if ch.end >= i+len(s) {
			return ch.t
		}
	}
	return time.Time{}
}

// consoleMarks are the console lines a timeline shows, in boot order.
var consoleMarks = []struct{ name, text string }{
	{"SeaBIOS", "SeaBIOS"}, {"iPXE", "iPXE"}, {"disk", "Booting from Hard Disk"}, {"SYSLINUX", "SYSLINUX"},
	{"booted", guestBooted}, {"lease", "udhcpc: lease"}, {"instance-id", guestMetadata},
}

// timeline is "name ms, ..." for the events seen, in ms from t0.
func timeline(t0 time.Time, con *consoleLog, extra ...any) string {
	var parts []string
	for i := 0; i+1 < len(extra); i += 2 {
		if t := extra[i+1].(time.Time); !t.IsZero() {
			parts = append(parts, fmt.Sprintf("%s %.0f", extra[i], ms(t.Sub(t0))))
		}
	}
	for _, m := range consoleMarks {
		if t := con.when(m.text); !t.IsZero() {
			parts = append(parts, fmt.Sprintf("%s %.0f", m.name, ms(t.Sub(t0))))
		}
	}
	return strings.Join(parts, ", ")
}

// median is the element whose key is the median.
func median[T any](xs []T, key func(T) time.Duration) (T, bool) {
	var zero T
	if len(xs) == 0 {
		return zero, false
	}
	s := append([]T(nil), xs...)
	sort.Slice(s, func(i, j int) bool { return key(s[i]) < key(s[j]) })
	return s[len(s)/2], true
}
