//go:build s3realstore

package s3

import (
	"fmt"
	"testing"

	"github.com/banyancloud/banyan/objectstore"
	"github.com/banyancloud/banyan/objectstore/disk"
	"github.com/banyancloud/banyan/objectstore/placement"
)

// With -tags s3realstore every test of this package runs over the real erasure-coded
// store on local disks in temporary directories (3 boxes x 2 disks) instead of the
// memObjects double: the same HTTP-level checks, on the real data path.
func init() {
	newObjectLayer = func(t *testing.T) objectstore.ObjectLayer {
		d := &localDisks{disks: map[string]disk.Disk{}}
		var m placement.Map
		m.Version = 1
		for b := range 3 {
			for range 2 {
				l, err := disk.OpenLocal(t.TempDir())
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { l.Close() })
				d.disks[l.ID()] = l
				m.Disks = append(m.Disks, placement.Disk{ID: l.ID(), Node: fmt.Sprintf("box%d", b)})
			}
		}
		topo, err := placement.New(m)
		if err != nil {
			t.Fatal(err)
		}
		d.topo = topo
		s := objectstore.New(d, objectstore.Options{HealWorkers: -1})
		t.Cleanup(func() { s.Close() })
		return s
	}
}

type localDisks struct {
	topo  *placement.Topology
	disks map[string]disk.Disk
}

func (d *localDisks) Topology() *placement.Topology { return d.topo }
func (d *localDisks) Disk(id string) disk.Disk      { return d.disks[id] }
