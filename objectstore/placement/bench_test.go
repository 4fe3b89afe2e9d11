package placement

import (
	"fmt"
	"testing"
)

// go test -run '^$' -bench . -benchmem ./objectstore/placement/
func BenchmarkPlace(b *testing.B) {
	for _, c := range []struct {
		name     string
		boxes    []int
		k, m     int
		weighted bool
	}{
		{"8x8disks/4+2", []int{8, 8, 8, 8, 8, 8, 8, 8}, 4, 2, false},
		{"8x8disks/8+4", []int{8, 8, 8, 8, 8, 8, 8, 8}, 8, 4, false},
		{"8x8disks/8+4/weighted", []int{8, 8, 8, 8, 8, 8, 8, 8}, 8, 4, true},
		{"64x1disk/8+4", []int{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}, 8, 4, false},
		{"1x64disks/8+4", []int{64}, 8, 4, false},
		{"3x4disks/4+2", []int{4, 4, 4}, 4, 2, false},
	} {
		m := boxesMap(c.boxes...)
		if c.weighted {
			for i := range m.Disks {
				m.Disks[i].Weight = int64(1+i%3) << 40
			}
		}
		topo := mustNew(b, m)
		names := make([]string, 1024)
		for i := range names {
			names[i] = objectName(i)
		}
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if _, err := topo.Place(scheme(c.k, c.m), "photos", names[i&1023]); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

// BenchmarkPlaceMap is the package-level Place, which prepares the map on
// every call.
func BenchmarkPlaceMap(b *testing.B) {
	m := boxesMap(8, 8, 8, 8, 8, 8, 8, 8)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Place(m, scheme(4, 2), "photos", "2024/07/IMG_0001.jpg"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkChanged(b *testing.B) {
	old := mustNew(b, boxesMap(8, 8, 8, 8, 8, 8, 8, 8))
	grown := mustNew(b, boxesMap(8, 8, 8, 8, 8, 8, 8, 9))
	offline := boxesMap(8, 8, 8, 8, 8, 8, 8, 8)
	offline.Disks[3].State = Offline
	blip := mustNew(b, offline)
	for _, c := range []struct {
		name string
		new  *Topology
	}{{"disk-added", grown}, {"disk-offline", blip}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if _, err := Changed(old, c.new, scheme(4, 2), "photos", fmt.Sprint(i&1023)); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}
