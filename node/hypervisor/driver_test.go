package hypervisor

// These tests run against the real libvirtd and qemu of this machine (started with
// packaging/libvirtd.sh when not running) and boot the guest image that
// packaging/guest/build-guest-image.sh builds into a cache folder (BANYAN_GUEST_CACHE,
// default /var/tmp/banyan-guest-cache), so that a second run does not build it again.
// The guests have no network. Every domain a test makes is destroyed and undefined in
// t.Cleanup, failed or not.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

const bootedMarker = "banyan-guest: booted"

var (
	labOnce  sync.Once
	labImage string // the guest image, raw
	labSkip  string // why the lab cannot run here
	labErr   error

	probeOnce  sync.Once
	probeAccel Accel
	probeNote  string
	probeErr   error
)

// lab makes sure libvirtd runs and the guest image is built; it skips the test when this
// machine cannot run libvirtd (not root, packages missing).
func lab(t *testing.T) string {
	t.Helper()
	labOnce.Do(func() {
		if os.Getuid() != 0 {
			labSkip = "needs root to run libvirtd and qemu"
			return
		}
		for _, c := range []string{"libvirtd", "virtlogd", "qemu-system-x86_64", "qemu-img", "mformat", "syslinux", "cpio"} {
			if _, err := exec.LookPath(c); err != nil {
				labSkip = c + " is not installed (packaging/deps.sh installs it)"
				return
			}
		}
		out, err := exec.Command("bash", "-c", "source ../../packaging/libvirtd.sh && banyan_start_libvirtd").CombinedOutput()
		if err != nil {
			labSkip = "libvirtd could not be started: " + strings.TrimSpace(string(out))
			return
		}
		cache := os.Getenv("BANYAN_GUEST_CACHE")
		if cache == "" {
			cache = "/var/tmp/banyan-guest-cache"
		}
		start := time.Now()
		cmd := exec.Command("../../packaging/guest/build-guest-image.sh", cache)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		img, err := cmd.Output()
		if err != nil {
			labErr = errors.New("build-guest-image.sh: " + err.Error() + ": " + stderr.String())
			return
		}
		labImage = strings.TrimSpace(string(img))
		t.Logf("guest image %s (%v)", labImage, time.Since(start).Round(time.Millisecond))
	})
	if labSkip != "" {
		t.Skip("hypervisor lab: " + labSkip)
	}
	if labErr != nil {
		t.Fatal(labErr)
	}
	return labImage
}

// probed is Probe's answer on this machine, asked once for all the tests.
func probed(t *testing.T, img string) Accel {
	t.Helper()
	probeOnce.Do(func() {
		d, err := OpenConfig(Config{ProbeImage: img})
		if err != nil {
			probeErr = err
			return
		}
		defer d.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		probeAccel, probeErr = d.Probe(ctx)
		probeNote = d.ProbeNote()
		removeQemuLog(d.probeName)
	})
	if probeErr != nil {
		t.Fatal(probeErr)
	}
	return probeAccel
}

// openDriver opens the system libvirtd with the probed accelerator forced, so that the test
// does not probe again.
func openDriver(t *testing.T) (*Driver, string) {
	img := lab(t)
	d, err := OpenConfig(Config{Accel: probed(t, img)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d, img
}

// guestDir is a t.TempDir that libvirt's qemu user can reach.
func guestDir(t *testing.T) string {
	dir := t.TempDir()
	for p := dir; p != "/" && p != os.TempDir(); p = filepath.Dir(p) {
		if err := os.Chmod(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// overlay makes a qcow2 overlay over the base image in dir.
func overlay(t *testing.T, base, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "root.qcow2")
	if out, err := exec.Command("qemu-img", "create", "-q", "-f", "qcow2", "-b", base, "-F", "raw", path).CombinedOutput(); err != nil {
		t.Fatalf("qemu-img create: %v: %s", err, out)
	}
	return path
}

func randomName(prefix string) string {
	var b [6]byte
	rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// cleanupDomain destroys and undefines name when the test ends, and checks it is gone.
func cleanupDomain(t *testing.T, d *Driver, name string) {
	t.Cleanup(func() {
		d.Destroy(name)
		d.Undefine(name)
		if _, err := d.Lookup(name); !errors.Is(err, ErrDomainNotFound) {
			t.Errorf("domain %s still there after cleanup: %v", name, err)
		}
		removeQemuLog(name)
	})
}

// removeQemuLog removes libvirtd's own log of a test domain (qemu:///system keeps one per
// domain name in /var/log/libvirt/qemu, also after undefine).
func removeQemuLog(name string) {
	if name != "" {
		os.Remove(filepath.Join("/var/log/libvirt/qemu", name+".log"))
	}
}

// waitConsole waits until the console log holds want n times; it returns how long it took.
func waitConsole(t *testing.T, d *Driver, name, want string, n int, timeout time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for time.Since(start) < timeout {
		out, err := d.ConsoleOutput(name)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Count(out, []byte(want)) >= n {
			return time.Since(start)
		}
		time.Sleep(20 * time.Millisecond)
	}
	out, _ := d.ConsoleOutput(name)
	t.Fatalf("%s: %q (x%d) not on the console after %v; console:\n%s", name, want, n, timeout, out)
	return 0
}

func TestProbe(t *testing.T) {
	img := lab(t)
	a := probed(t, img)
	t.Logf("Probe: %s (%s)", a, probeNote)
	if a != AccelKVM && a != AccelTCG {
		t.Fatalf("Probe = %q", a)
	}
	if _, err := os.Stat("/dev/kvm"); err != nil && a != AccelTCG {
		t.Errorf("Probe = %s without /dev/kvm", a)
	}
	if want := os.Getenv("BANYAN_EXPECT_ACCEL"); want != "" && string(a) != want {
		t.Errorf("Probe = %s, BANYAN_EXPECT_ACCEL=%s", a, want)
	}
	// A forced setting is the answer, without a probe.
	for _, f := range []Accel{AccelKVM, AccelTCG} {
		d, err := OpenConfig(Config{Accel: f})
		if err != nil {
			t.Fatal(err)
		}
		if got, err := d.Probe(context.Background()); err != nil || got != f {
			t.Errorf("forced %s: Probe = %s, %v", f, got, err)
		}
		d.Close()
	}
	d, err := Open("")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := d.Probe(context.Background()); !errors.Is(err, ErrNoProbeImage) {
		t.Errorf("auto Probe without an image: %v, want ErrNoProbeImage", err)
	}
	c, err := d.Capacity()
	if err != nil || c.VCPUs < 1 || c.MemoryMiB < 64 {
		t.Errorf("Capacity = %+v, %v", c, err)
	}
	t.Logf("Capacity: %d vCPUs, %d MiB", c.VCPUs, c.MemoryMiB)
}

func TestDomainLifecycle(t *testing.T) {
	d, img := openDriver(t)
	dir := guestDir(t)
	name := randomName("i-")
	cleanupDomain(t, d, name)
	spec := DomainSpec{
		Name: name, VCPUs: 1, MemoryMiB: 256,
		RootDisk:   overlay(t, img, dir),
		ConsoleLog: filepath.Join(dir, "console.log"),
		Metadata:   map[string]string{"instance-id": name, "account": "123456789012", "image": "ami-test"},
	}
	if err := d.Define(spec); err != nil {
		t.Fatal(err)
	}
	info, err := d.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	if info.State != "shutoff" || !info.Persistent || info.UUID == "" || info.Metadata["account"] != "123456789012" {
		t.Fatalf("after Define: %+v", info)
	}
	// Define again is idempotent and keeps the UUID; another UUID under that name is refused.
	if err := d.Define(spec); err != nil {
		t.Fatalf("second Define: %v", err)
	}
	if again, _ := d.Lookup(name); again.UUID != info.UUID {
		t.Errorf("UUID changed on redefine: %s -> %s", info.UUID, again.UUID)
	}
	other := spec
	other.UUID = "00000000-0000-4000-8000-000000000bad"
	if err := d.Define(other); !errors.Is(err, ErrConflict) {
		t.Errorf("Define with another UUID: %v, want ErrConflict", err)
	}

	start := time.Now()
	if err := d.Start(name); err != nil {
		t.Fatal(err)
	}
	started := time.Since(start)
	booted := started + waitConsole(t, d, name, bootedMarker, 1, 2*time.Minute)
	t.Logf("driver (%s): Start took %v; %q %v after the Start call",
		d.cfg.Accel, started.Round(time.Millisecond), bootedMarker, booted.Round(time.Millisecond))

	if err := d.Start(name); !errors.Is(err, ErrInvalidState) {
		t.Errorf("Start of a running domain: %v, want ErrInvalidState", err)
	}
	list, err := d.List()
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, i := range list {
		if i.Name == name {
			found = true
			if i.State != "running" || i.Metadata["image"] != "ami-test" || i.Metadata["instance-id"] != name ||
				i.ConsoleLog != spec.ConsoleLog || i.RootDisk != spec.RootDisk {
				t.Errorf("List: %+v", i)
			}
		}
	}
	if !found {
		t.Fatalf("List lacks %s: %+v", name, list)
	}

	// Reboot through ACPI: the guest powers off on the button and libvirt resets it.
	waitConsole(t, d, name, "banyan-guest: ready", 1, time.Minute)
	rb := time.Now()
	if err := d.Reboot(name); err != nil {
		t.Fatal(err)
	}
	waitConsole(t, d, name, bootedMarker, 2, 2*time.Minute)
	t.Logf("Reboot: booted again after %v", time.Since(rb).Round(time.Millisecond))
	if st, _, err := d.State(name); err != nil || st != "running" {
		t.Errorf("after Reboot: %s, %v", st, err)
	}

	// Shutdown through ACPI, bounded: the guest's acpid powers it off.
	waitConsole(t, d, name, "banyan-guest: ready", 2, time.Minute)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	sd := time.Now()
	forced, err := d.Stop(ctx, name, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if forced {
		t.Errorf("Stop had to destroy the guest: ACPI shutdown did not work")
	}
	t.Logf("Shutdown (ACPI): off after %v", time.Since(sd).Round(time.Millisecond))
	if st, why, _ := d.State(name); st != "shutoff" || why != "shutdown" {
		t.Errorf("after Shutdown: %s (%s)", st, why)
	}
	if err := d.Shutdown(name); !errors.Is(err, ErrInvalidState) {
		t.Errorf("Shutdown of a stopped domain: %v, want ErrInvalidState", err)
	}
	if forced, err := d.Stop(ctx, name, time.Second); err != nil || forced {
		t.Errorf("Stop of a stopped domain: %v, %v", forced, err)
	}

	// The console log outlives the domain.
	out, err := d.ConsoleOutput(name)
	if err != nil || !bytes.Contains(out, []byte("banyan-guest: power button")) || len(out) > ConsoleOutputMax {
		t.Errorf("ConsoleOutput after shutdown (%d bytes, %v):\n%s", len(out), err, out)
	}

	// Start again and pull the plug.
	if err := d.Start(name); err != nil {
		t.Fatal(err)
	}
	if err := d.Destroy(name); err != nil {
		t.Fatal(err)
	}
	if st, why, _ := d.State(name); st != "shutoff" || why != "destroyed" {
		t.Errorf("after Destroy: %s (%s)", st, why)
	}

	if err := d.Undefine(name); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Lookup(name); !errors.Is(err, ErrDomainNotFound) {
		t.Errorf("Lookup after Undefine: %v, want ErrDomainNotFound", err)
	}
	for _, f := range []func(string) error{d.Start, d.Destroy, d.Shutdown, d.Reboot, d.Undefine} {
		if err := f(name); !errors.Is(err, ErrDomainNotFound) {
			t.Errorf("on an undefined domain: %v, want ErrDomainNotFound", err)
		}
	}
	if _, err := d.ConsoleOutput(name); !errors.Is(err, ErrDomainNotFound) {
		t.Errorf("ConsoleOutput of an undefined domain: %v", err)
	}
	if _, err := os.Stat(spec.RootDisk); err != nil {
		t.Errorf("Undefine removed the disk: %v", err)
	}
}

// TestBootTime boots the same image through the driver and through a plain
// qemu-system-x86_64 -accel tcg, twice each in the order driver, qemu, qemu, driver (the
// machine is shared), and logs the time from the start to the first console line and to
// the booted marker. It asserts nothing about the times.
func TestBootTime(t *testing.T) {
	d, img := openDriver(t)
	dir := guestDir(t)
	type times struct{ call, first, booted time.Duration }
	var drv, plain []times

	bootDriver := func(round int) {
		name := randomName("i-boot-")
		cleanupDomain(t, d, name)
		rdir := filepath.Join(dir, fmt.Sprintf("driver%d", round))
		os.Mkdir(rdir, 0o755)
		spec := DomainSpec{Name: name, VCPUs: 1, MemoryMiB: 256,
			RootDisk: overlay(t, img, rdir), ConsoleLog: filepath.Join(rdir, "console.log")}
		if err := d.Define(spec); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if err := d.Start(name); err != nil {
			t.Fatal(err)
		}
		tm := times{call: time.Since(start)}
		for tm.booted == 0 && time.Since(start) < 2*time.Minute {
			out, _ := os.ReadFile(spec.ConsoleLog)
			if tm.first == 0 && bytes.Contains(out, []byte("\n")) {
				tm.first = time.Since(start)
			}
			if bytes.Contains(out, []byte(bootedMarker)) {
				tm.booted = time.Since(start)
			}
			time.Sleep(10 * time.Millisecond)
		}
		if tm.booted == 0 {
			out, _ := d.ConsoleOutput(name)
			t.Fatalf("driver boot did not reach %q:\n%s", bootedMarker, out)
		}
		if err := d.Destroy(name); err != nil {
			t.Fatal(err)
		}
		drv = append(drv, tm)
	}

	bootQemu := func(round int) {
		rdir := filepath.Join(dir, fmt.Sprintf("qemu%d", round))
		os.Mkdir(rdir, 0o755)
		disk := overlay(t, img, rdir)
		log := filepath.Join(rdir, "console.log")
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "qemu-system-x86_64", "-accel", "tcg", "-machine", "pc", "-m", "256", "-smp", "1",
			"-nodefaults", "-nographic", "-no-user-config", "-serial", "file:"+log,
			"-drive", "file="+disk+",format=qcow2,if=virtio")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		start := time.Now()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() {
			cmd.Process.Kill()
			cmd.Wait()
		}()
		var tm times
		for tm.booted == 0 && time.Since(start) < 2*time.Minute {
			out, _ := os.ReadFile(log)
			if tm.first == 0 && bytes.Contains(out, []byte("\n")) {
				tm.first = time.Since(start)
			}
			if bytes.Contains(out, []byte(bootedMarker)) {
				tm.booted = time.Since(start)
			}
			time.Sleep(10 * time.Millisecond)
		}
		if tm.booted == 0 {
			out, _ := os.ReadFile(log)
			t.Fatalf("plain qemu did not boot: %s\n%s", stderr.String(), out)
		}
		plain = append(plain, tm)
	}

	bootDriver(0)
	bootQemu(0)
	bootQemu(1)
	bootDriver(1)

	r := func(x time.Duration) string { return x.Round(10 * time.Millisecond).String() }
	t.Logf("boot times of %s, same run (load %s):", filepath.Base(img), loadavg())
	t.Logf("  %-32s %12s %12s %24s", "", "Start call", "first line", "\""+bootedMarker+"\"")
	for i, tm := range drv {
		t.Logf("  %-32s %12s %12s %24s", fmt.Sprintf("driver (libvirt, %s) #%d", d.cfg.Accel, i+1), r(tm.call), r(tm.first), r(tm.booted))
	}
	for i, tm := range plain {
		t.Logf("  %-32s %12s %12s %24s", fmt.Sprintf("qemu-system-x86_64 -accel tcg #%d", i+1), "-", r(tm.first), r(tm.booted))
	}
}

func loadavg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}
