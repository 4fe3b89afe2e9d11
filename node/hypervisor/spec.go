package hypervisor

import (
	"fmt"
	"net"
	"regexp"
)

// Accel is how guests are run: "kvm", "tcg" (qemu's emulator), or "" for auto (Probe decides).
type Accel string

const (
	AccelAuto Accel = ""
	AccelKVM  Accel = "kvm"
	AccelTCG  Accel = "tcg"
)

// domainType is libvirt's <domain type=...> for the accelerator.
func (a Accel) domainType() string {
	if a == AccelKVM {
		return "kvm"
	}
	return "qemu"
}

// ParseAccel reads a setting value: "kvm", "tcg" (or "qemu"), "" or "auto".
func ParseAccel(s string) (Accel, error) {
	switch s {
	case "", "auto":
		return AccelAuto, nil
	case "kvm":
		return AccelKVM, nil
	case "tcg", "qemu":
		return AccelTCG, nil
	}
	return "", fmt.Errorf("hypervisor: accelerator %q is not kvm, tcg or auto", s)
}

// DomainSpec is one instance as a domain.
type DomainSpec struct {
	Name      string // the instance ID; the domain's name
	UUID      string // optional; libvirt makes one when empty
	VCPUs     int
	MemoryMiB int
	RootDisk  string // path of the root disk image, vda
	// RootDiskFormat is the image format of RootDisk: "qcow2" (the default) or "raw".
	RootDiskFormat string
	// RootDiskReadOnly attaches the root disk read-only (a shared base image).
	RootDiskReadOnly bool
	// BootDisk, instead of RootDisk, is a root disk served over NBD (an EBS root volume);
	// the guest sees it as vda and boots from it.
	BootDisk *NBDDisk
	// Disks are NBD disks (EBS volumes) the domain has from its definition on, vdb…vdz.
	Disks []NBDDisk
	NICs  []NIC
	// ConsoleLog is the file the serial console (ttyS0) is appended to; it outlives the domain.
	// Empty: the console is a pty and ConsoleOutput has nothing.
	ConsoleLog string
	// Metadata is kept in the domain XML (<metadata>) and returned by List and Lookup.
	Metadata map[string]string
}

// NIC is one virtio network interface plugged into a host bridge.
type NIC struct {
	Bridge string
	MAC    string // "52:54:00:..."; libvirt makes one when empty
	// Device optionally names the host tap device (for firewall rules); libvirt picks vnetN
	// when empty. Names starting with vnet, vif, macvtap or macvlan are libvirt's own.
	Device string
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$`)

func (s *DomainSpec) validate() error {
	if !nameRE.MatchString(s.Name) {
		return fmt.Errorf("%w: name %q", ErrInvalidSpec, s.Name)
	}
	if s.VCPUs < 1 {
		return fmt.Errorf("%w: %d vCPUs", ErrInvalidSpec, s.VCPUs)
	}
	if s.MemoryMiB < 16 {
		return fmt.Errorf("%w: %d MiB of memory", ErrInvalidSpec, s.MemoryMiB)
	}
	switch s.RootDiskFormat {
	case "", "qcow2", "raw":
	default:
		return fmt.Errorf("%w: disk format %q", ErrInvalidSpec, s.RootDiskFormat)
	}
	if err := s.validateNBD(); err != nil {
		return err
	}
	for _, n := range s.NICs {
		if n.Bridge == "" {
			return fmt.Errorf("%w: NIC without a bridge", ErrInvalidSpec)
		}
		if n.MAC != "" {
			if _, err := net.ParseMAC(n.MAC); err != nil {
				return fmt.Errorf("%w: MAC %q", ErrInvalidSpec, n.MAC)
			}
		}
	}
	return nil
}

// DomainInfo is what List and Lookup tell of a domain.
type DomainInfo struct {
	Name  string
	UUID  string
	State string // running, shutoff, paused, crashed, shutdown (shutting down), blocked, pmsuspended, nostate
	// Reason is libvirt's reason for the state, e.g. "shutdown", "destroyed", "crashed" for
	// shutoff, "ioerror" or "unknown" for paused ("" when libvirt gives none we know).
	Reason     string
	Persistent bool
	ConsoleLog string
	RootDisk   string
	Metadata   map[string]string
}

// Capacity is what this box's hypervisor has to give.
type Capacity struct {
	VCPUs     int // logical CPUs of the host
	MemoryMiB int // host memory
}
