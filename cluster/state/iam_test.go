package state

import (
	"errors"
	"testing"
)

func TestIAMWriteCompareAndSet(t *testing.T) {
	f := newTestFSM()
	user := func(name string) Entity {
		return Entity{Kind: KindUser, Account: "111122223333", Name: name, Alt: "user/AIDA" + name, User: &User{Name: name}}
	}
	if r := apply(t, f, 1, &IAMWrite{Put: []IAMPut{{Entity: user("alice")}, {Entity: user("bob")}}}, ""); r.Err != nil {
		t.Fatal(r.Err)
	}
	// Create of an existing entity fails, and the whole batch with it.
	r := apply(t, f, 2, &IAMWrite{Put: []IAMPut{{Entity: user("carol")}, {Entity: user("alice")}}}, "")
	if !errors.Is(r.Err, ErrAlreadyExists) {
		t.Fatalf("got %v", r.Err)
	}
	if _, err := f.store.IAMEntity(KindUser, "111122223333", "carol"); !errors.Is(err, ErrNotFound) {
		t.Fatal("a failed batch applied part of itself")
	}
	// A stale update is refused.
	a, _ := f.store.IAMEntity(KindUser, "111122223333", "alice")
	upd := *a
	if r := apply(t, f, 3, &IAMWrite{Put: []IAMPut{{Entity: upd, ExpectIndex: a.ModifyIndex}}}, ""); r.Err != nil {
		t.Fatal(r.Err)
	}
	if r := apply(t, f, 4, &IAMWrite{Put: []IAMPut{{Entity: upd, ExpectIndex: a.ModifyIndex}}}, ""); !errors.Is(r.Err, ErrConflict) {
		t.Fatalf("stale update: %v", r.Err)
	}
	// Alternate keys are unique and findable.
	dup := user("dave")
	dup.Alt = "user/AIDAalice"
	if r := apply(t, f, 5, &IAMWrite{Put: []IAMPut{{Entity: dup}}}, ""); !errors.Is(r.Err, ErrAlreadyExists) {
		t.Fatalf("duplicate alt: %v", r.Err)
	}
	if e, err := f.store.IAMEntityByAlt("user/AIDAbob"); err != nil || e.Name != "bob" {
		t.Fatalf("by alt: %v %v", e, err)
	}
	// Listing stays inside one kind and account.
	apply(t, f, 6, &IAMWrite{Put: []IAMPut{{Entity: Entity{Kind: KindUser, Account: "111122223334", Name: "eve", User: &User{}}}}}, "")
	us, _ := f.store.IAMEntities(KindUser, "111122223333")
	if len(us) != 2 || us[0].Name != "alice" || us[1].Name != "bob" {
		t.Fatalf("list: %+v", us)
	}
	// Requirements guard deletes.
	b, _ := f.store.IAMEntity(KindUser, "111122223333", "bob")
	r = apply(t, f, 7, &IAMWrite{
		Require: []IAMRequire{{Kind: KindGroup, Account: "111122223333", Name: "admins", ExpectIndex: AnyIndex}},
		Delete:  []IAMDelete{{Kind: KindUser, Account: "111122223333", Name: "bob", ExpectIndex: b.ModifyIndex}},
	}, "")
	if !errors.Is(r.Err, ErrNotFound) {
		t.Fatalf("requirement: %v", r.Err)
	}
}
