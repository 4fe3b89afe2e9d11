package iam

import (
	"errors"
	"maps"
	"slices"

	"github.com/banyancloud/banyan/api/service"
	"github.com/banyancloud/banyan/cluster/state"
)

// writeAttempts bounds how often a write is rebuilt after losing a race with another.
const writeAttempts = 8

// txn is one IAMWrite being built from one read of the local replica.
type txn struct {
	st   *state.Store
	w    state.IAMWrite
	puts map[string]int // entity key -> index in w.Put
}

// put writes e, expecting the stored entity to be at e.ModifyIndex: an entity read from
// the replica (or a clone of one) is a compare-and-set on what was read, a new entity
// (ModifyIndex 0) a create. A second put of the same entity replaces the first.
func (t *txn) put(e *state.Entity) {
	if t.puts == nil {
		t.puts = map[string]int{}
	}
	p := state.IAMPut{Entity: *e, ExpectIndex: e.ModifyIndex}
	if i, ok := t.puts[e.Key()]; ok {
		p.ExpectIndex = t.w.Put[i].ExpectIndex
		t.w.Put[i] = p
		return
	}
	t.puts[e.Key()] = len(t.w.Put)
	t.w.Put = append(t.w.Put, p)
}

// touch rewrites e unchanged. It guards a relation stored on the other side (a user's
// group list, a profile's role list): a concurrent delete of e, which read e before the
// relation existed, then fails its compare-and-set and is rebuilt from a read that sees
// the relation.
func (t *txn) touch(e *state.Entity) {
	if _, ok := t.puts[e.Key()]; !ok {
		t.put(e)
	}
}

// del deletes e, expecting it unchanged since it was read.
func (t *txn) del(e *state.Entity) {
	t.w.Delete = append(t.w.Delete, state.IAMDelete{Kind: e.Kind, Account: e.Account, Name: e.Name, ExpectIndex: e.ModifyIndex})
}

// update builds a write from the current replica and submits it, rebuilding it when
// another write got in between (the replica has applied that write by the time Apply
// returns, so the rebuild sees it and reports, say, NoSuchEntity in IAM's words). build
// returns the AWS error that stops the action; a build that writes nothing succeeds.
func (f *front) update(c *service.Call, build func(t *txn) error) error {
	var err error
	for attempt := 0; attempt < writeAttempts; attempt++ {
		t := &txn{st: f.cluster.State()}
		if err = build(t); err != nil {
			return err
		}
		if len(t.w.Put) == 0 && len(t.w.Delete) == 0 && len(t.w.Require) == 0 {
			return nil
		}
		_, err = f.cluster.Apply(c.Ctx, &t.w, nil)
		if err == nil || !retryable(err) {
			return err
		}
	}
	return err
}

func retryable(err error) bool {
	return errors.Is(err, state.ErrConflict) || errors.Is(err, state.ErrNotFound) || errors.Is(err, state.ErrAlreadyExists)
}

// find returns the entity of kind in account whose name matches name in any case, or
// nil.
func find(st *state.Store, kind, account, name string) *state.Entity {
	e, err := st.IAMEntityByAlt(foldKey(kind, account, name))
	if err != nil || e.Kind != kind || e.Account != account {
		return nil
	}
	return e
}

// get returns the entity stored under exactly this key, or nil.
func get(st *state.Store, kind, account, name string) *state.Entity {
	e, err := st.IAMEntity(kind, account, name)
	if err != nil {
		return nil
	}
	return e
}

// list returns the entities of kind in account ordered by name. The store only fails on
// a broken index, which is a bug, not something a caller can act on.
func list(st *state.Store, kind, account string) []*state.Entity {
	es, _ := st.IAMEntities(kind, account)
	return es
}

// clone copies e deeply enough to be modified: entities read from the replica are shared
// with every reader and must never change.
func clone(e *state.Entity) *state.Entity {
	c := *e
	switch {
	case e.User != nil:
		u := *e.User
		u.Tags, u.Groups = slices.Clone(u.Tags), slices.Clone(u.Groups)
		u.Inline, u.Attached = maps.Clone(u.Inline), slices.Clone(u.Attached)
		c.User = &u
	case e.Group != nil:
		g := *e.Group
		g.Inline, g.Attached = maps.Clone(g.Inline), slices.Clone(g.Attached)
		c.Group = &g
	case e.Role != nil:
		r := *e.Role
		r.Tags = slices.Clone(r.Tags)
		r.Inline, r.Attached = maps.Clone(r.Inline), slices.Clone(r.Attached)
		c.Role = &r
	case e.Policy != nil:
		p := *e.Policy
		p.Versions, p.Tags = slices.Clone(p.Versions), slices.Clone(p.Tags)
		c.Policy = &p
	case e.AccessKey != nil:
		k := *e.AccessKey
		c.AccessKey = &k
	case e.InstanceProfile != nil:
		ip := *e.InstanceProfile
		ip.Roles, ip.Tags = slices.Clone(ip.Roles), slices.Clone(ip.Tags)
		c.InstanceProfile = &ip
	case e.LoginProfile != nil:
		lp := *e.LoginProfile
		c.LoginProfile = &lp
	case e.AccountBody != nil:
		a := *e.AccountBody
		c.AccountBody = &a
	}
	return &c
}

// renamed returns a copy of e under a new name: a new entity (ModifyIndex 0), to be put
// in the same write that deletes e.
func renamed(e *state.Entity, name string) *state.Entity {
	c := clone(e)
	c.Name, c.CreateIndex, c.ModifyIndex = name, 0, 0
	if e.Alt != "" {
		c.Alt = foldKey(e.Kind, e.Account, name)
	}
	return c
}
