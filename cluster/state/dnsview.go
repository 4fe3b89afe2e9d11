package state

import (
	"context"

	"github.com/hashicorp/go-memdb"
)

// DNSView is what a box's DNS server answers from: every instance and one setting
// (the cluster's DNS name), read in one snapshot, with a channel closed when either
// changes.
type DNSView struct {
	Instances []*Instance
	// Setting is the setting asked for; nil when it is not set.
	Setting *Setting
	// Index is the replica's applied index when the view was read.
	Index   uint64
	Changed <-chan struct{}
}

// DNS reads the DNSView with the setting key; Changed is closed on a change or when
// ctx ends (a nil ctx watches nothing and leaves Changed nil).
func (s *Store) DNS(ctx context.Context, key string) (*DNSView, error) {
	tx := s.ReadTxn()
	ws := memdb.NewWatchSet()
	v := &DNSView{Index: s.AppliedIndex()}
	it, err := tx.Get(tableInstances, "id")
	if err != nil {
		return nil, err
	}
	ws.Add(it.WatchCh())
	for obj := it.Next(); obj != nil; obj = it.Next() {
		v.Instances = append(v.Instances, obj.(*Instance))
	}
	ch, obj, err := tx.FirstWatch(tableSettings, "id", key)
	if err != nil {
		return nil, err
	}
	ws.Add(ch)
	if obj != nil {
		v.Setting = obj.(*Setting)
	}
	if ctx == nil {
		return v, nil
	}
	changed := make(chan struct{})
	go func() {
		ws.WatchCtx(ctx)
		close(changed)
	}()
	v.Changed = changed
	return v, nil
}
