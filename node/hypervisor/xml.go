package hypervisor

import (
	"encoding/xml"
	"fmt"
	"sort"
	"strings"
)

// MetadataNS is the XML namespace of Banyan's element in a domain's <metadata>.
const MetadataNS = "https://banyancloud.github.io/xmlns/domain/1"

type xDomain struct {
	XMLName  xml.Name   `xml:"domain"`
	Type     string     `xml:"type,attr"`
	Name     string     `xml:"name"`
	UUID     string     `xml:"uuid,omitempty"`
	Metadata *xMetadata `xml:"metadata"`
	Memory   xMemory    `xml:"memory"`
	VCPU     int        `xml:"vcpu"`
	OS       xOS        `xml:"os"`
	Features struct {
		ACPI struct{} `xml:"acpi"`
		APIC struct{} `xml:"apic"`
	} `xml:"features"`
	CPU        *xCPU    `xml:"cpu"`
	Clock      xClock   `xml:"clock"`
	OnPoweroff string   `xml:"on_poweroff"`
	OnReboot   string   `xml:"on_reboot"`
	OnCrash    string   `xml:"on_crash"`
	Devices    xDevices `xml:"devices"`
}

type xMetadata struct {
	Inner string `xml:",innerxml"`
}

type xMemory struct {
	Unit  string `xml:"unit,attr"`
	Value int    `xml:",chardata"`
}

type xOS struct {
	Type struct {
		Arch    string `xml:"arch,attr"`
		Machine string `xml:"machine,attr,omitempty"`
		Value   string `xml:",chardata"`
	} `xml:"type"`
	Kernel  string `xml:"kernel,omitempty"`
	Initrd  string `xml:"initrd,omitempty"`
	Cmdline string `xml:"cmdline,omitempty"`
	Boot    *struct {
		Dev string `xml:"dev,attr"`
	} `xml:"boot"`
	BIOS struct {
		UseSerial string `xml:"useserial,attr"`
	} `xml:"bios"`
}

type xCPU struct {
	Mode string `xml:"mode,attr"`
}

type xClock struct {
	Offset string `xml:"offset,attr"`
}

type xDevices struct {
	Disks       []xDisk      `xml:"disk"`
	Interfaces  []xInterface `xml:"interface"`
	Serials     []xChar      `xml:"serial"`
	Controllers []struct {
		Type  string `xml:"type,attr"`
		Model string `xml:"model,attr"`
	} `xml:"controller"`
	MemBalloon *struct {
		Model string `xml:"model,attr"`
	} `xml:"memballoon"`
}

type xDisk struct {
	Type   string `xml:"type,attr"`
	Device string `xml:"device,attr"`
	Driver struct {
		Name  string `xml:"name,attr"`
		Type  string `xml:"type,attr"`
		Cache string `xml:"cache,attr,omitempty"`
	} `xml:"driver"`
	// A file disk has File; an NBD disk (type network) Protocol, Name and Host.
	Source struct {
		File     string    `xml:"file,attr,omitempty"`
		Protocol string    `xml:"protocol,attr,omitempty"`
		Name     string    `xml:"name,attr,omitempty"`
		Host     *xNBDHost `xml:"host"`
	} `xml:"source"`
	Target struct {
		Dev string `xml:"dev,attr"`
		Bus string `xml:"bus,attr"`
	} `xml:"target"`
	ReadOnly *struct{} `xml:"readonly"`
	Serial   string    `xml:"serial,omitempty"`
}

type xNBDHost struct {
	Transport string `xml:"transport,attr"`
	Socket    string `xml:"socket,attr"`
}

type xInterface struct {
	Type   string `xml:"type,attr"`
	Source struct {
		Bridge string `xml:"bridge,attr"`
	} `xml:"source"`
	MAC *struct {
		Address string `xml:"address,attr"`
	} `xml:"mac"`
	Target *struct {
		Dev string `xml:"dev,attr"`
	} `xml:"target"`
	Model struct {
		Type string `xml:"type,attr"`
	} `xml:"model"`
}

type xChar struct {
	Type   string `xml:"type,attr"`
	Source *struct {
		Path   string `xml:"path,attr,omitempty"`
		Append string `xml:"append,attr,omitempty"`
	} `xml:"source"`
	Target struct {
		Type string `xml:"type,attr,omitempty"`
		Port *int   `xml:"port,attr"`
	} `xml:"target"`
}

// bootSource says how a domain boots when it is not from its disk (the probe guest).
type bootSource struct {
	Kernel, Initrd, Cmdline string
}

// domainXML renders a spec as libvirt domain XML.
func domainXML(s *DomainSpec, accel Accel, machine string, boot *bootSource) (string, error) {
	d := xDomain{Type: accel.domainType(), Name: s.Name, UUID: s.UUID, VCPU: s.VCPUs}
	d.Memory = xMemory{Unit: "MiB", Value: s.MemoryMiB}
	d.OS.Type.Arch = "x86_64"
	d.OS.Type.Machine = machine
	d.OS.Type.Value = "hvm"
	if boot != nil {
		d.OS.Kernel, d.OS.Initrd, d.OS.Cmdline = boot.Kernel, boot.Initrd, boot.Cmdline
	} else {
		d.OS.Boot = &struct {
			Dev string `xml:"dev,attr"`
		}{Dev: "hd"}
	}
	// SeaBIOS (and so the boot loader) talks on the serial console too: there is no screen.
	d.OS.BIOS.UseSerial = "yes"
	if accel == AccelKVM {
		d.CPU = &xCPU{Mode: "host-passthrough"}
	}
	d.Clock.Offset = "utc"
	// EC2: an instance that powers itself off is stopped; a reboot from inside stays up.
	d.OnPoweroff, d.OnReboot, d.OnCrash = "destroy", "restart", "destroy"
	if len(s.Metadata) > 0 {
		d.Metadata = &xMetadata{Inner: metadataXML(s.Metadata)}
	}
	if s.RootDisk != "" {
		var disk xDisk
		disk.Type, disk.Device = "file", "disk"
		disk.Driver.Name = "qemu"
		disk.Driver.Type = s.RootDiskFormat
		if disk.Driver.Type == "" {
			disk.Driver.Type = "qcow2"
		}
		disk.Source.File = s.RootDisk
		disk.Target.Dev, disk.Target.Bus = "vda", "virtio"
		if s.RootDiskReadOnly {
			disk.ReadOnly = &struct{}{}
		}
		d.Devices.Disks = append(d.Devices.Disks, disk)
	}
	if s.BootDisk != nil {
		d.Devices.Disks = append(d.Devices.Disks, nbdXDisk(*s.BootDisk))
	}
	for _, nd := range s.Disks {
		d.Devices.Disks = append(d.Devices.Disks, nbdXDisk(nd))
	}
	for _, n := range s.NICs {
		var x xInterface
		x.Type = "bridge"
		x.Source.Bridge = n.Bridge
		if n.MAC != "" {
			x.MAC = &struct {
				Address string `xml:"address,attr"`
			}{Address: strings.ToLower(n.MAC)}
		}
		if n.Device != "" {
			x.Target = &struct {
				Dev string `xml:"dev,attr"`
			}{Dev: n.Device}
		}
		x.Model.Type = "virtio"
		d.Devices.Interfaces = append(d.Devices.Interfaces, x)
	}
	port := 0
	serial := xChar{Type: "pty"}
	if s.ConsoleLog != "" {
		// A file chardev: it stays after the domain stops, which GetConsoleOutput needs.
		// libvirtd has virtlogd write it (stdio_handler "logd", the default), which bounds
		// it: rotated at 2 MiB into path.0, path.1, ... (ConsoleOutput reads across).
		serial = xChar{Type: "file", Source: &struct {
			Path   string `xml:"path,attr,omitempty"`
			Append string `xml:"append,attr,omitempty"`
		}{Path: s.ConsoleLog, Append: "on"}}
	}
	serial.Target.Port = &port
	// libvirt adds the <console> that aliases serial 0 itself.
	d.Devices.Serials = []xChar{serial}
	// No USB controller (libvirt adds one to a pc machine): nothing plugs in, and under TCG
	// its frame timer costs.
	d.Devices.Controllers = append(d.Devices.Controllers, struct {
		Type  string `xml:"type,attr"`
		Model string `xml:"model,attr"`
	}{Type: "usb", Model: "none"})
	d.Devices.MemBalloon = &struct {
		Model string `xml:"model,attr"`
	}{Model: "none"}
	b, err := xml.MarshalIndent(&d, "", "  ")
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrInvalidSpec, err)
	}
	return string(b), nil
}

// metadataXML renders Banyan's metadata element, keys sorted so that the XML is stable.
func metadataXML(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString(`<banyan:instance xmlns:banyan="` + MetadataNS + `">`)
	for _, k := range keys {
		b.WriteString(`<banyan:entry key="`)
		xml.EscapeText(&b, []byte(k))
		b.WriteString(`">`)
		xml.EscapeText(&b, []byte(m[k]))
		b.WriteString(`</banyan:entry>`)
	}
	b.WriteString(`</banyan:instance>`)
	return b.String()
}

// parsed is what the driver reads back from a domain's XML.
type parsed struct {
	Name, UUID, Type string
	ConsoleLog       string
	RootDisk         string
	Metadata         map[string]string
}

type pDomain struct {
	Type     string `xml:"type,attr"`
	Name     string `xml:"name"`
	UUID     string `xml:"uuid"`
	Metadata struct {
		Instances []struct {
			Entries []struct {
				Key   string `xml:"key,attr"`
				Value string `xml:",chardata"`
			} `xml:"https://banyancloud.github.io/xmlns/domain/1 entry"`
		} `xml:"https://banyancloud.github.io/xmlns/domain/1 instance"`
	} `xml:"metadata"`
	Devices struct {
		Disks []struct {
			Device string `xml:"device,attr"`
			Source struct {
				File string `xml:"file,attr"`
			} `xml:"source"`
			Target struct {
				Dev string `xml:"dev,attr"`
			} `xml:"target"`
		} `xml:"disk"`
		Serials []struct {
			Type   string `xml:"type,attr"`
			Source struct {
				Path string `xml:"path,attr"`
			} `xml:"source"`
			Log struct {
				File string `xml:"file,attr"`
			} `xml:"log"`
		} `xml:"serial"`
	} `xml:"devices"`
}

func parseDomainXML(s string) (*parsed, error) {
	var d pDomain
	if err := xml.Unmarshal([]byte(s), &d); err != nil {
		return nil, fmt.Errorf("hypervisor: domain XML: %w", err)
	}
	p := &parsed{Name: d.Name, UUID: d.UUID, Type: d.Type}
	for _, in := range d.Metadata.Instances {
		for _, e := range in.Entries {
			if p.Metadata == nil {
				p.Metadata = map[string]string{}
			}
			p.Metadata[e.Key] = e.Value
		}
	}
	for _, disk := range d.Devices.Disks {
		if disk.Target.Dev == "vda" {
			p.RootDisk = disk.Source.File
		}
	}
	if len(d.Devices.Serials) > 0 {
		s0 := d.Devices.Serials[0]
		switch {
		case s0.Type == "file":
			p.ConsoleLog = s0.Source.Path
		case s0.Log.File != "":
			p.ConsoleLog = s0.Log.File
		}
	}
	return p, nil
}
