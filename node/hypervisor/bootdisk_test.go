package hypervisor

import (
	"errors"
	"strings"
	"testing"
)

// TestBootDiskXML: an EBS-backed domain has its root volume as an NBD disk at vda (no
// file disk), with its launch volumes after it, all cache=none; the spec refuses a boot
// disk beside a root file, at another target, or two disks at one target.
func TestBootDiskXML(t *testing.T) {
	s := DomainSpec{Name: "i-0123456789abcdef0", VCPUs: 1, MemoryMiB: 256,
		BootDisk: &NBDDisk{Socket: "/d/run/nbd.sock", Export: "vol-1", Target: "vda", Serial: "vol1"},
		Disks:    []NBDDisk{{Socket: "/d/run/nbd.sock", Export: "vol-2", Target: "vdf", Serial: "vol2"}}}
	if err := s.validate(); err != nil {
		t.Fatal(err)
	}
	x, err := domainXML(&s, AccelTCG, "pc", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`<disk type="network" device="disk">`, `<source protocol="nbd" name="vol-1">`,
		`<host transport="unix" socket="/d/run/nbd.sock">`, `<target dev="vda" bus="virtio">`, `<target dev="vdf" bus="virtio">`,
		`cache="none"`, `<serial>vol1</serial>`, `<boot dev="hd">`} {
		if !strings.Contains(x, want) {
			t.Errorf("domain XML lacks %s:\n%s", want, x)
		}
	}
	if strings.Contains(x, `type="file" device="disk"`) || strings.Index(x, `name="vol-1"`) > strings.Index(x, `name="vol-2"`) {
		t.Errorf("the boot disk is not the first and only disk before the volumes:\n%s", x)
	}
	for _, bad := range []DomainSpec{
		{Name: "i-1", VCPUs: 1, MemoryMiB: 256, RootDisk: "/r.qcow2", BootDisk: s.BootDisk},
		{Name: "i-1", VCPUs: 1, MemoryMiB: 256, BootDisk: &NBDDisk{Socket: "/s", Export: "vol-1", Target: "vdb"}},
		{Name: "i-1", VCPUs: 1, MemoryMiB: 256, Disks: []NBDDisk{s.Disks[0], s.Disks[0]}},
	} {
		if err := bad.validate(); !errors.Is(err, ErrInvalidSpec) {
			t.Errorf("spec %+v: %v", bad, err)
		}
	}
}
