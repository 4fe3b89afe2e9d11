package ec2

import (
	"slices"
	"strings"

	"github.com/banyancloud/banyan/api/service"
)

// listWanting lists resources and makes sure every ID asked for by name is among them:
// on a miss it catches up with the leader once (a resource made through another box a
// moment ago) and lists again; an ID still missing is notFound(id).
func listWanting[T any](f *front, c *service.Call, want []string, idOf func(*T) string,
	list func() ([]*T, error), notFound func(id string) error) ([]*T, error) {
	items, err := list()
	if err != nil {
		return nil, err
	}
	missing := func() string {
		for _, id := range want {
			if !slices.ContainsFunc(items, func(x *T) bool { return idOf(x) == id }) {
				return id
			}
		}
		return ""
	}
	if missing() == "" {
		return items, nil
	}
	f.catchUp(c)
	if items, err = list(); err != nil {
		return nil, err
	}
	if m := missing(); m != "" {
		return nil, notFound(m)
	}
	return items, nil
}

// selectSorted keeps the items of list that are among ids (when any are given) and match
// the filters, ordered by ID as Describe calls page them.
func selectSorted[T any](list []*T, ids []string, fs filters, idOf func(*T) string,
	attr func(x *T, name string) []string, tags func(*T) map[string]string) []*T {
	var kept []*T
	for _, x := range list {
		if len(ids) > 0 && !slices.Contains(ids, idOf(x)) {
			continue
		}
		if fs.match(func(name string) []string { return attr(x, name) }, tags(x)) {
			kept = append(kept, x)
		}
	}
	slices.SortFunc(kept, func(a, b *T) int { return strings.Compare(idOf(a), idOf(b)) })
	return kept
}
