package hypervisor

import (
	"encoding/xml"
	"fmt"
	"strings"

	"libvirt.org/go/libvirt"
)

// NBDDisk is a block device served over NBD (an EBS volume) to plug into a domain.
type NBDDisk struct {
	// Socket is the unix socket of the box's NBD server; Export the export's name.
	Socket, Export string
	// Target is the guest's device name, vdb…vdz.
	Target string
	// Serial is what the guest reads as the disk's serial (EBS shows the volume ID
	// without its dash, as Nitro does).
	Serial string
}

type xNetDisk struct {
	XMLName xml.Name `xml:"disk"`
	Type    string   `xml:"type,attr"`
	Device  string   `xml:"device,attr"`
	Driver  struct {
		Name  string `xml:"name,attr"`
		Type  string `xml:"type,attr"`
		Cache string `xml:"cache,attr"`
	} `xml:"driver"`
	Source struct {
		Protocol string `xml:"protocol,attr"`
		Name     string `xml:"name,attr"`
		Host     struct {
			Transport string `xml:"transport,attr"`
			Socket    string `xml:"socket,attr"`
		} `xml:"host"`
	} `xml:"source"`
	Target struct {
		Dev string `xml:"dev,attr"`
		Bus string `xml:"bus,attr"`
	} `xml:"target"`
	Serial string `xml:"serial,omitempty"`
}

func nbdDiskXML(d NBDDisk) (string, error) {
	if !strings.HasPrefix(d.Target, "vd") || len(d.Target) != 3 || d.Target[2] < 'b' || d.Target[2] > 'z' {
		return "", fmt.Errorf("hypervisor: disk target %q is not vdb…vdz", d.Target)
	}
	x := xNetDisk{Type: "network", Device: "disk", Serial: d.Serial}
	// cache=none: every write the guest sees completed went to the NBD server, which
	// acknowledges only what its replicas have; flushes pass through.
	x.Driver.Name, x.Driver.Type, x.Driver.Cache = "qemu", "raw", "none"
	x.Source.Protocol, x.Source.Name = "nbd", d.Export
	x.Source.Host.Transport, x.Source.Host.Socket = "unix", d.Socket
	x.Target.Dev, x.Target.Bus = d.Target, "virtio"
	b, err := xml.Marshal(x)
	return string(b), err
}

// AttachDisk hot-plugs a disk into a running domain (live) and records it in the
// domain's definition (config), so that a restart of the domain keeps it.
func (d *Driver) AttachDisk(name string, disk NBDDisk) error {
	x, err := nbdDiskXML(disk)
	if err != nil {
		return err
	}
	return d.withDomain("attach disk", name, func(dom *libvirt.Domain) error {
		flags := libvirt.DOMAIN_DEVICE_MODIFY_CONFIG
		if active, err := dom.IsActive(); err == nil && active {
			flags |= libvirt.DOMAIN_DEVICE_MODIFY_LIVE
		}
		return dom.AttachDeviceFlags(x, flags)
	})
}

// DetachDisk unplugs the NBD disk with the given target (vdb…) from a domain, live
// and from its definition. The guest is asked to let go (ACPI hot-unplug); the disk is
// gone once Disks no longer shows it.
func (d *Driver) DetachDisk(name, target string) error {
	return d.withDomain("detach disk", name, func(dom *libvirt.Domain) error {
		desc, err := dom.GetXMLDesc(0)
		if err != nil {
			return err
		}
		var x struct {
			Disks []xNetDisk `xml:"devices>disk"`
		}
		if err := xml.Unmarshal([]byte(desc), &x); err != nil {
			return err
		}
		for _, dk := range x.Disks {
			if dk.Target.Dev != target || dk.Type != "network" {
				continue
			}
			b, err := xml.Marshal(dk)
			if err != nil {
				return err
			}
			flags := libvirt.DOMAIN_DEVICE_MODIFY_CONFIG
			if active, err := dom.IsActive(); err == nil && active {
				flags |= libvirt.DOMAIN_DEVICE_MODIFY_LIVE
			}
			return dom.DetachDeviceFlags(string(b), flags)
		}
		return nil
	})
}

// Disks lists the targets of a domain's NBD disks, by export name.
func (d *Driver) Disks(name string) (map[string]string, error) {
	out := map[string]string{}
	err := d.withDomain("list disks", name, func(dom *libvirt.Domain) error {
		desc, err := dom.GetXMLDesc(0)
		if err != nil {
			return err
		}
		var x struct {
			Disks []xNetDisk `xml:"devices>disk"`
		}
		if err := xml.Unmarshal([]byte(desc), &x); err != nil {
			return err
		}
		for _, dk := range x.Disks {
			if dk.Type == "network" && dk.Source.Protocol == "nbd" {
				out[dk.Source.Name] = dk.Target.Dev
			}
		}
		return nil
	})
	return out, err
}

// nbdXDisk is an NBD disk as an element of a domain definition (vda for a boot disk).
func nbdXDisk(d NBDDisk) xDisk {
	var x xDisk
	x.Type, x.Device, x.Serial = "network", "disk", d.Serial
	// cache=none for the same reason as a hot-plugged volume (nbdDiskXML).
	x.Driver.Name, x.Driver.Type, x.Driver.Cache = "qemu", "raw", "none"
	x.Source.Protocol, x.Source.Name = "nbd", d.Export
	x.Source.Host = &xNBDHost{Transport: "unix", Socket: d.Socket}
	x.Target.Dev, x.Target.Bus = d.Target, "virtio"
	return x
}

// validateNBD checks a spec's NBD disks: a boot disk is vda and replaces RootDisk, the
// others are distinct vdb…vdz.
func (s *DomainSpec) validateNBD() error {
	seen := map[string]bool{}
	if b := s.BootDisk; b != nil {
		if s.RootDisk != "" {
			return fmt.Errorf("%w: both a root disk file and an NBD boot disk", ErrInvalidSpec)
		}
		if b.Target != "vda" || b.Socket == "" || b.Export == "" {
			return fmt.Errorf("%w: NBD boot disk %+v (want target vda, a socket and an export)", ErrInvalidSpec, *b)
		}
		seen["vda"] = true
	}
	for _, d := range s.Disks {
		if _, err := nbdDiskXML(d); err != nil || d.Socket == "" || d.Export == "" || seen[d.Target] {
			return fmt.Errorf("%w: NBD disk %+v", ErrInvalidSpec, d)
		}
		seen[d.Target] = true
	}
	return nil
}
