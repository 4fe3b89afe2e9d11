package disk

import (
	"errors"
	"strings"
	"syscall"
	"testing"
)

func TestFaultyProgramsErrors(t *testing.T) {
	l := mustOpenLocal(t)
	f := &Faulty{Disk: l, Program: map[string]error{"MakeVolume": ErrDiskFull}, After: map[string]int{"MakeVolume": 2}}
	must(t, f.MakeVolume(bg, "a"))
	must(t, f.MakeVolume(bg, "b"))
	if err := f.MakeVolume(bg, "c"); !errors.Is(err, ErrDiskFull) {
		t.Fatalf("third call: %v", err)
	}
	if _, err := l.StatVolume(bg, "c"); !errors.Is(err, ErrVolumeNotFound) {
		t.Fatal("a faulted call reached the disk")
	}
	if f.Calls("MakeVolume") != 3 {
		t.Fatalf("calls %d", f.Calls("MakeVolume"))
	}

	f.Set("*", ErrFaultyDisk, 0)
	if _, err := f.ListVolumes(bg); !errors.Is(err, ErrFaultyDisk) {
		t.Fatalf("wildcard: %v", err)
	}
	if err := f.MakeVolume(bg, "d"); !errors.Is(err, ErrDiskFull) {
		t.Fatalf("a method's own fault wins over the wildcard: %v", err)
	}
	f.Heal()
	must(t, f.MakeVolume(bg, "d"))

	v := putData(t, f, "a", "k", version("", 0), []byte("data"))
	f.Set("ReadAt", ErrFaultyDisk, 1)
	r, _, err := f.OpenFile(bg, "a", "k", v.DataDir, 1)
	must(t, err)
	defer r.Close()
	if _, err := r.ReadAt(make([]byte, 4), 0); err != nil {
		t.Fatalf("first read: %v", err)
	}
	if _, err := r.ReadAt(make([]byte, 4), 0); !errors.Is(err, ErrFaultyDisk) {
		t.Fatalf("second read: %v", err)
	}
}

func TestBrokenFailsEverything(t *testing.T) {
	var d Disk = Broken{DiskID: "dead"}
	if d.ID() != "dead" {
		t.Fatal("ID")
	}
	_, err := d.ReadMetadata(bg, "b", "k")
	if !errors.Is(err, ErrFaultyDisk) || !errors.Is(err, syscall.EIO) || !strings.Contains(err.Error(), "dead") {
		t.Fatalf("broken disk: %v", err)
	}
	// Through the RPC pair it fails the same way.
	r := mustRemote(t, d)
	if err := r.MakeVolume(bg, "b"); !errors.Is(err, ErrFaultyDisk) {
		t.Fatalf("broken disk over RPC: %v", err)
	}
	if err := (Broken{Err: ErrDiskOffline}).DeleteObject(bg, "b", "k"); !errors.Is(err, ErrDiskOffline) {
		t.Fatalf("chosen error: %v", err)
	}
}
