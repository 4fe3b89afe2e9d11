package hypervisor

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"libvirt.org/go/libvirt"
)

// DefaultURI is the system libvirtd of this box.
const DefaultURI = "qemu:///system"

// Config is how the driver reaches libvirtd and runs guests.
type Config struct {
	URI string // default DefaultURI
	// Accel forces KVM or TCG; "" lets Probe decide.
	Accel Accel
	// ProbeImage is a bootable guest image (raw or qcow2, attached read-only) that Probe boots
	// under KVM to see whether KVM really works here: packaging/guest/build-guest-image.sh
	// builds one. Needed when Accel is auto.
	ProbeImage string
	// ProbeMarker is the console line that tells Probe the guest booted (default
	// "banyan-guest: booted", what the Banyan guest image prints).
	ProbeMarker string
	// ProbeTimeout bounds the KVM boot in Probe (default 15s; under working KVM the guest
	// image boots in well under a second).
	ProbeTimeout time.Duration
	// Machine is qemu's machine type (default "pc").
	Machine string
}

// Driver runs this box's domains through one libvirtd. It is safe for concurrent use; when
// libvirtd restarts, the next call connects again.
type Driver struct {
	cfg Config

	mu   sync.Mutex
	conn *libvirt.Connect

	probeMu   sync.Mutex
	probed    Accel
	probeNote string
	probeName string // the last probe domain's name
}

// Open connects to the libvirtd at uri ("" for DefaultURI), the accelerator left to Probe.
func Open(uri string) (*Driver, error) {
	return OpenConfig(Config{URI: uri})
}

// OpenConfig connects to libvirtd as cfg says. An unreachable libvirtd is ErrHypervisorDown.
func OpenConfig(cfg Config) (*Driver, error) {
	if cfg.URI == "" {
		cfg.URI = DefaultURI
	}
	if cfg.ProbeMarker == "" {
		cfg.ProbeMarker = "banyan-guest: booted"
	}
	if cfg.ProbeTimeout <= 0 {
		cfg.ProbeTimeout = 15 * time.Second
	}
	if cfg.Machine == "" {
		cfg.Machine = "pc"
	}
	if _, err := ParseAccel(string(cfg.Accel)); err != nil {
		return nil, err
	}
	d := &Driver{cfg: cfg}
	if _, err := d.connect(); err != nil {
		return nil, err
	}
	return d, nil
}

// URI is the libvirtd this driver talks to.
func (d *Driver) URI() string { return d.cfg.URI }

// Close drops the connection to libvirtd (domains keep running).
func (d *Driver) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.conn == nil {
		return nil
	}
	_, err := d.conn.Close()
	d.conn = nil
	return mapErr("close", err)
}

func (d *Driver) connect() (*libvirt.Connect, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.conn != nil {
		return d.conn, nil
	}
	c, err := libvirt.NewConnect(d.cfg.URI)
	if err != nil {
		var le libvirt.Error
		msg := err.Error()
		if errors.As(err, &le) {
			msg = le.Message
		}
		return nil, fmt.Errorf("%w: %s: %s", ErrHypervisorDown, d.cfg.URI, msg)
	}
	d.conn = c
	return c, nil
}

// dropConn forgets a connection that failed, so that the next call dials again.
func (d *Driver) dropConn(c *libvirt.Connect) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.conn == c {
		c.Close()
		d.conn = nil
	}
}

// with runs f on a live connection; when the connection turns out dead, it dials once more
// and runs f again (f must be safe to repeat). Errors come back mapped to the sentinels.
func (d *Driver) with(op string, f func(c *libvirt.Connect) error) error {
	for try := 0; ; try++ {
		c, err := d.connect()
		if err != nil {
			return err
		}
		err = f(c)
		var le libvirt.Error
		if err != nil && errors.As(err, &le) && isDown(le) {
			d.dropConn(c)
			if try == 0 {
				continue
			}
		}
		if err != nil && errors.As(err, &le) {
			return mapErr(op, err)
		}
		return err
	}
}

// withDomain runs f on the domain called name.
func (d *Driver) withDomain(op, name string, f func(dom *libvirt.Domain) error) error {
	return d.with(op+" "+name, func(c *libvirt.Connect) error {
		dom, err := c.LookupDomainByName(name)
		if err != nil {
			return err
		}
		defer dom.Free()
		return f(dom)
	})
}

// accel is the accelerator domains are defined with: the setting, or Probe's answer.
func (d *Driver) accel() (Accel, error) {
	if d.cfg.Accel != AccelAuto {
		return d.cfg.Accel, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), d.cfg.ProbeTimeout+30*time.Second)
	defer cancel()
	return d.Probe(ctx)
}

// Define creates the persistent domain for spec, or updates the one of that name (its next
// start takes the new definition). A domain of that name with another UUID is ErrConflict.
func (d *Driver) Define(spec DomainSpec) error {
	if err := spec.validate(); err != nil {
		return err
	}
	accel, err := d.accel()
	if err != nil {
		return err
	}
	return d.with("define "+spec.Name, func(c *libvirt.Connect) error {
		s := spec
		if dom, err := c.LookupDomainByName(s.Name); err == nil {
			uuid, err := dom.GetUUIDString()
			dom.Free()
			if err != nil {
				return err
			}
			if s.UUID != "" && !strings.EqualFold(s.UUID, uuid) {
				return fmt.Errorf("%w: %s exists with UUID %s, not %s", ErrConflict, s.Name, uuid, s.UUID)
			}
			s.UUID = uuid
		} else if !isCode(err, libvirt.ERR_NO_DOMAIN) {
			return err
		}
		x, err := domainXML(&s, accel, d.cfg.Machine, nil)
		if err != nil {
			return err
		}
		dom, err := c.DomainDefineXMLFlags(x, libvirt.DOMAIN_DEFINE_VALIDATE)
		if err != nil {
			return err
		}
		dom.Free()
		return nil
	})
}

// Start boots a defined domain. A running one is ErrInvalidState.
func (d *Driver) Start(name string) error {
	return d.withDomain("start", name, func(dom *libvirt.Domain) error { return dom.Create() })
}

// Shutdown presses the ACPI power button and returns; the guest powers off when it will (see
// Stop for a bounded wait).
func (d *Driver) Shutdown(name string) error {
	return d.withDomain("shutdown", name, func(dom *libvirt.Domain) error {
		return dom.ShutdownFlags(libvirt.DOMAIN_SHUTDOWN_ACPI_POWER_BTN)
	})
}

// Destroy stops a domain at once (pulls the plug); its definition stays.
func (d *Driver) Destroy(name string) error {
	return d.withDomain("destroy", name, func(dom *libvirt.Domain) error { return dom.Destroy() })
}

// Reboot asks the guest to reboot through ACPI: libvirt presses the power button and, when
// the guest powers off, resets it instead of stopping it.
func (d *Driver) Reboot(name string) error {
	return d.withDomain("reboot", name, func(dom *libvirt.Domain) error {
		return dom.Reboot(libvirt.DOMAIN_REBOOT_ACPI_POWER_BTN)
	})
}

// Reset hard-resets a running domain (the reset button), for a guest that ignores ACPI.
func (d *Driver) Reset(name string) error {
	return d.withDomain("reset", name, func(dom *libvirt.Domain) error { return dom.Reset(0) })
}

// Undefine removes the domain: it is destroyed first when it runs, and libvirt's files of
// it (nvram, managed save, snapshot metadata, TPM state) go too. Disks and the console log,
// which the caller gave, stay.
func (d *Driver) Undefine(name string) error {
	return d.withDomain("undefine", name, func(dom *libvirt.Domain) error {
		if active, err := dom.IsActive(); err != nil {
			return err
		} else if active {
			if err := dom.Destroy(); err != nil && !isCode(err, libvirt.ERR_OPERATION_INVALID) {
				return err
			}
		}
		return dom.UndefineFlags(libvirt.DOMAIN_UNDEFINE_NVRAM | libvirt.DOMAIN_UNDEFINE_MANAGED_SAVE |
			libvirt.DOMAIN_UNDEFINE_SNAPSHOTS_METADATA | libvirt.DOMAIN_UNDEFINE_CHECKPOINTS_METADATA |
			libvirt.DOMAIN_UNDEFINE_TPM)
	})
}

// Stop shuts a domain down through ACPI and waits up to grace for it to be off, then destroys
// it. forced tells that it had to be destroyed. A domain already off is not an error; one
// that cannot take the button (paused, crashed) is destroyed at once.
func (d *Driver) Stop(ctx context.Context, name string, grace time.Duration) (forced bool, err error) {
	err = d.Shutdown(name)
	switch {
	case errors.Is(err, ErrInvalidState):
		if st, _, serr := d.State(name); serr == nil && st == "shutoff" {
			return false, nil
		}
		grace = 0
	case err != nil:
		return false, err
	}
	if grace > 0 {
		wctx, cancel := context.WithTimeout(ctx, grace)
		err := d.WaitState(wctx, name, "shutoff")
		cancel()
		if err == nil {
			return false, nil
		}
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
	}
	if err := d.Destroy(name); err != nil && !errors.Is(err, ErrInvalidState) {
		return true, err
	}
	return true, nil
}

// WaitState polls until the domain is in state (a DomainInfo.State) or ctx ends.
func (d *Driver) WaitState(ctx context.Context, name, state string) error {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		st, _, err := d.State(name)
		if err != nil {
			return err
		}
		if st == state {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("hypervisor: %s is %s, not %s: %w", name, st, state, ctx.Err())
		case <-t.C:
		}
	}
}

// State is the domain's state and libvirt's reason for it, as in DomainInfo.
func (d *Driver) State(name string) (state, reason string, err error) {
	err = d.withDomain("state", name, func(dom *libvirt.Domain) error {
		s, r, err := dom.GetState()
		if err != nil {
			return err
		}
		state, reason = stateName(s, r)
		return nil
	})
	return state, reason, err
}

// List tells every domain of this libvirtd, Banyan's (with Metadata) and others.
func (d *Driver) List() ([]DomainInfo, error) {
	var out []DomainInfo
	err := d.with("list", func(c *libvirt.Connect) error {
		out = out[:0]
		doms, err := c.ListAllDomains(0)
		if err != nil {
			return err
		}
		defer func() {
			for i := range doms {
				doms[i].Free()
			}
		}()
		for i := range doms {
			info, err := describe(&doms[i])
			if isCode(err, libvirt.ERR_NO_DOMAIN) {
				continue // gone meanwhile (a transient domain that stopped)
			}
			if err != nil {
				return err
			}
			out = append(out, info)
		}
		return nil
	})
	return out, err
}

// Lookup tells one domain.
func (d *Driver) Lookup(name string) (DomainInfo, error) {
	var info DomainInfo
	err := d.withDomain("lookup", name, func(dom *libvirt.Domain) error {
		var err error
		info, err = describe(dom)
		return err
	})
	return info, err
}

func describe(dom *libvirt.Domain) (DomainInfo, error) {
	x, err := dom.GetXMLDesc(libvirt.DOMAIN_XML_INACTIVE)
	if err != nil {
		return DomainInfo{}, err
	}
	p, err := parseDomainXML(x)
	if err != nil {
		return DomainInfo{}, err
	}
	s, r, err := dom.GetState()
	if err != nil {
		return DomainInfo{}, err
	}
	persistent, err := dom.IsPersistent()
	if err != nil {
		return DomainInfo{}, err
	}
	info := DomainInfo{Name: p.Name, UUID: p.UUID, Persistent: persistent,
		ConsoleLog: p.ConsoleLog, RootDisk: p.RootDisk, Metadata: p.Metadata}
	info.State, info.Reason = stateName(s, r)
	return info, nil
}

// Capacity is the host's logical CPUs and memory, from libvirt's node info. NodeInfo's memory
// is what the NUMA cells report, which can be less than the host has (a VM with hotplugged
// memory); the memory stats of all cells (MemTotal) win when larger.
func (d *Driver) Capacity() (Capacity, error) {
	var c Capacity
	err := d.with("node info", func(conn *libvirt.Connect) error {
		ni, err := conn.GetNodeInfo()
		if err != nil {
			return err
		}
		kib := ni.Memory
		if ms, err := conn.GetMemoryStats(libvirt.NODE_MEMORY_STATS_ALL_CELLS, 0); err == nil && ms.TotalSet && ms.Total > kib {
			kib = ms.Total
		}
		c = Capacity{VCPUs: int(ni.Cpus), MemoryMiB: int(kib / 1024)}
		return nil
	})
	return c, err
}

func isCode(err error, code libvirt.ErrorNumber) bool {
	var le libvirt.Error
	return errors.As(err, &le) && le.Code == code
}
