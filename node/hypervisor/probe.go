package hypervisor

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"libvirt.org/go/libvirt"
)

// Probe tells which accelerator guests run with here. A forced Config.Accel is the answer;
// in auto mode it boots Config.ProbeImage in a throwaway transient domain of type 'kvm' and
// answers kvm only when that guest reaches its ProbeMarker on the console: /dev/kvm can open
// and KVM still fail (nested virtualization without the features a guest needs dies with "KVM
// internal error" or hangs), so only a real boot counts. Otherwise tcg. The answer is kept.
func (d *Driver) Probe(ctx context.Context) (Accel, error) {
	if d.cfg.Accel != AccelAuto {
		return d.cfg.Accel, nil
	}
	d.probeMu.Lock()
	defer d.probeMu.Unlock()
	if d.probed != "" {
		return d.probed, nil
	}
	if d.cfg.ProbeImage == "" {
		return "", ErrNoProbeImage
	}
	if _, err := os.Stat(d.cfg.ProbeImage); err != nil {
		return "", fmt.Errorf("hypervisor: probe image: %w", err)
	}
	ok, note, err := d.tryKVM(ctx)
	if err != nil {
		return "", err
	}
	d.probeNote = note
	d.probed = AccelTCG
	if ok {
		d.probed = AccelKVM
	}
	return d.probed, nil
}

// ProbeNote says why Probe chose what it did (empty before a probe, or when forced).
func (d *Driver) ProbeNote() string {
	d.probeMu.Lock()
	defer d.probeMu.Unlock()
	return d.probeNote
}

// tryKVM boots the probe image under KVM. ok is whether it booted; note says what happened.
// err is only for what makes the probe itself impossible (libvirtd down, ctx canceled).
func (d *Driver) tryKVM(ctx context.Context) (ok bool, note string, err error) {
	dir, err := os.MkdirTemp("", "banyan-probe-")
	if err != nil {
		return false, "", err
	}
	defer os.RemoveAll(dir)
	if err := os.Chmod(dir, 0o755); err != nil { // qemu runs as libvirt-qemu
		return false, "", err
	}
	var rnd [4]byte
	rand.Read(rnd[:])
	spec := DomainSpec{
		Name:             "banyan-probe-" + hex.EncodeToString(rnd[:]),
		VCPUs:            1,
		MemoryMiB:        256,
		RootDisk:         d.cfg.ProbeImage,
		RootDiskFormat:   imageFormat(d.cfg.ProbeImage),
		RootDiskReadOnly: true,
		ConsoleLog:       filepath.Join(dir, "console.log"),
	}
	d.probeName = spec.Name
	x, err := domainXML(&spec, AccelKVM, d.cfg.Machine, nil)
	if err != nil {
		return false, "", err
	}
	start := time.Now()
	var dom *libvirt.Domain
	err = d.with("probe", func(c *libvirt.Connect) error {
		var err error
		// Transient and tied to this connection: libvirtd destroys it if we go away.
		dom, err = c.DomainCreateXML(x, libvirt.DOMAIN_START_AUTODESTROY)
		return err
	})
	if err != nil {
		if isDownErr(err) {
			return false, "", err
		}
		return false, "kvm guest did not start: " + err.Error(), nil
	}
	defer func() {
		dom.Destroy()
		dom.Free()
	}()
	deadline := time.NewTimer(d.cfg.ProbeTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	marker := []byte(d.cfg.ProbeMarker)
	for {
		if out, _ := os.ReadFile(spec.ConsoleLog); bytes.Contains(out, marker) {
			return true, fmt.Sprintf("kvm guest booted in %v", time.Since(start).Round(time.Millisecond)), nil
		} else if bytes.Contains(out, []byte("KVM internal error")) {
			return false, "kvm guest died: KVM internal error", nil
		}
		if s, r, err := dom.GetState(); err != nil {
			return false, "kvm guest vanished: " + err.Error(), nil
		} else if st, why := stateName(s, r); st != "running" {
			return false, fmt.Sprintf("kvm guest %s (%s) before booting", st, why), nil
		}
		select {
		case <-ctx.Done():
			return false, "", ctx.Err()
		case <-deadline.C:
			return false, fmt.Sprintf("kvm guest did not boot in %v", d.cfg.ProbeTimeout), nil
		case <-tick.C:
		}
	}
}

func isDownErr(err error) bool { return err != nil && errors.Is(err, ErrHypervisorDown) }

// imageFormat tells qcow2 by its magic, raw otherwise.
func imageFormat(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return "raw"
	}
	defer f.Close()
	var m [4]byte
	if _, err := f.Read(m[:]); err == nil && string(m[:]) == "QFI\xfb" {
		return "qcow2"
	}
	return "raw"
}
