package volume

import (
	"fmt"
	"slices"

	"github.com/banyancloud/banyan/blockstore/replica"
)

// SetReplicas changes the copies of the open volume to rs, as when the control plane
// rebuilds a lost copy on another box: a copy the volume has that rs lacks leaves it (it
// is written no more, and a failure it reports later is ignored); a copy of rs the volume
// lacks joins it out, with every extent dirty, so that the next Resync of it verifies and
// copies it whole while writes go on, as for any copy that was out. A joining copy counts
// as reported out: the control plane that named it knows it lags (Config.Stale). A copy
// kept keeps its state and holder. At least one copy in sync must stay; otherwise nothing
// changes and SetReplicas fails with ErrNoReplica.
func (v *Volume) SetReplicas(rs []Replica) error {
	if err := v.usable(); err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, r := range rs {
		if r.Name == "" || r.Holder == nil || seen[r.Name] {
			return fmt.Errorf("%w: replica %q is unnamed, repeated or has no holder", ErrInvalidConfig, r.Name)
		}
		seen[r.Name] = true
	}
	v.markMu.Lock() // no dirty set is being recorded or reported meanwhile
	defer v.markMu.Unlock()
	v.mu.Lock()
	defer v.mu.Unlock()
	var next []*member
	inSync := 0
	for _, r := range rs {
		m := v.member(r.Name)
		if m == nil {
			m = &member{Replica: r, state: Out, reported: true}
			m.dirty.Add(replica.Run{First: 0, Count: replica.Extents(v.Size())})
		}
		if m.state == InSync {
			inSync++
		}
		next = append(next, m)
	}
	if inSync == 0 {
		return fmt.Errorf("%w: none of the copies %v of %s is in sync", ErrNoReplica, names(rs), v.cfg.ID)
	}
	for _, m := range v.members {
		if !slices.Contains(next, m) {
			m.removed = true
			v.log.Info("volume copy left the volume", "replica", m.Name)
		}
	}
	for _, m := range next {
		if !slices.Contains(v.members, m) {
			v.log.Info("volume copy joined the volume; it is out until resynced whole", "replica", m.Name)
		}
	}
	v.members = next
	return nil
}

// Replicas names the volume's copies, in order.
func (v *Volume) Replicas() []string {
	v.mu.Lock()
	defer v.mu.Unlock()
	out := make([]string, len(v.members))
	for i, m := range v.members {
		out[i] = m.Name
	}
	return out
}

func names(rs []Replica) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.Name
	}
	return out
}
