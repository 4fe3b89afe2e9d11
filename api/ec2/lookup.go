package ec2

import (
	"slices"

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
