package hypervisor

import (
	"errors"
	"strings"
	"testing"
)

func TestDomainXMLRoundTrip(t *testing.T) {
	s := DomainSpec{
		Name: "i-0123456789abcdef0", UUID: "6a1b2c3d-0000-4000-8000-000000000001",
		VCPUs: 2, MemoryMiB: 512, RootDisk: "/var/lib/banyan/i-1/root.qcow2",
		NICs:       []NIC{{Bridge: "br-vpc1", MAC: "52:54:00:AA:bb:01", Device: "bn-i1"}},
		ConsoleLog: "/var/lib/banyan/i-1/console.log",
		Metadata:   map[string]string{"instance-id": "i-0123456789abcdef0", "owner": `a<b>&"c"`},
	}
	x, err := domainXML(&s, AccelTCG, "pc", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`<domain type="qemu">`, `<memory unit="MiB">512</memory>`,
		`<vcpu>2</vcpu>`, `<source bridge="br-vpc1">`, `<mac address="52:54:00:aa:bb:01">`,
		`<target dev="bn-i1">`, `<serial type="file">`, `append="on"`, `<memballoon model="none">`,
		`<bios useserial="yes">`, `xmlns:banyan="` + MetadataNS + `"`} {
		if !strings.Contains(x, want) {
			t.Errorf("domain XML lacks %s:\n%s", want, x)
		}
	}
	p, err := parseDomainXML(x)
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != s.Name || p.UUID != s.UUID || p.ConsoleLog != s.ConsoleLog || p.RootDisk != s.RootDisk {
		t.Errorf("parsed %+v from %+v", p, s)
	}
	if len(p.Metadata) != 2 || p.Metadata["owner"] != `a<b>&"c"` || p.Metadata["instance-id"] != s.Name {
		t.Errorf("metadata %q", p.Metadata)
	}
	k, _ := domainXML(&s, AccelKVM, "pc", nil)
	if !strings.Contains(k, `<domain type="kvm">`) || !strings.Contains(k, `<cpu mode="host-passthrough">`) {
		t.Errorf("kvm XML:\n%s", k)
	}
}

func TestSpecValidate(t *testing.T) {
	ok := DomainSpec{Name: "i-1", VCPUs: 1, MemoryMiB: 128}
	if err := ok.validate(); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []DomainSpec{
		{Name: "", VCPUs: 1, MemoryMiB: 128},
		{Name: "a/b", VCPUs: 1, MemoryMiB: 128},
		{Name: "i-1", VCPUs: 0, MemoryMiB: 128},
		{Name: "i-1", VCPUs: 1, MemoryMiB: 1},
		{Name: "i-1", VCPUs: 1, MemoryMiB: 128, RootDiskFormat: "vmdk"},
		{Name: "i-1", VCPUs: 1, MemoryMiB: 128, NICs: []NIC{{}}},
		{Name: "i-1", VCPUs: 1, MemoryMiB: 128, NICs: []NIC{{Bridge: "b", MAC: "zz"}}},
	} {
		if err := bad.validate(); !errors.Is(err, ErrInvalidSpec) {
			t.Errorf("%+v: %v, want ErrInvalidSpec", bad, err)
		}
	}
	if _, err := ParseAccel("xen"); err == nil {
		t.Error("ParseAccel(xen) accepted")
	}
}

func TestHypervisorDown(t *testing.T) {
	_, err := Open("qemu+unix:///system?socket=/nonexistent/libvirt-sock")
	if !errors.Is(err, ErrHypervisorDown) {
		t.Fatalf("Open on a missing socket: %v, want ErrHypervisorDown", err)
	}
}
