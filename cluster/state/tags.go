package state

import (
	"maps"
	"strings"
)

// TagResources sets and removes tags on an account's EC2 resources (instances, images,
// key pairs, import tasks), all or none. Remove maps a key to the value it must have to
// be removed (EC2's DeleteTags: "" removes the tag only when its value is empty).
type TagResources struct {
	Account string
	IDs     []string
	Set     map[string]string
	Remove  map[string]string
	// RemoveAny removes these keys whatever their values.
	RemoveAny []string
	// RemoveAll removes every tag (DeleteTags naming no tags).
	RemoveAll bool
}

func (*TagResources) CommandType() CommandType { return CmdTagResources }

// MaxTags is EC2's limit of tags per resource.
const MaxTags = 50

func init() {
	registerCommand("TagResources", applyTagResources)
}

// taggable finds a resource by ID: its table and index, and how to get and set its tags
// on a copy.
func taggable(id string) (table, index string, tags func(any) (map[string]string, string), set func(any, map[string]string) any) {
	switch {
	case strings.HasPrefix(id, "i-"):
		return tableInstances, "id", func(o any) (map[string]string, string) { return o.(*Instance).Tags, o.(*Instance).Account },
			func(o any, t map[string]string) any { c := *o.(*Instance); c.Tags = t; return &c }
	case strings.HasPrefix(id, "ami-"):
		return tableImages, "id", func(o any) (map[string]string, string) { return o.(*Image).Tags, o.(*Image).Account },
			func(o any, t map[string]string) any { c := *o.(*Image); c.Tags = t; return &c }
	case strings.HasPrefix(id, "key-"):
		return tableKeyPairs, "keyid", func(o any) (map[string]string, string) { return o.(*KeyPair).Tags, o.(*KeyPair).Account },
			func(o any, t map[string]string) any { c := *o.(*KeyPair); c.Tags = t; return &c }
	case strings.HasPrefix(id, "vol-"):
		return tableVolumes, "id", func(o any) (map[string]string, string) { return o.(*Volume).Tags, o.(*Volume).Account },
			func(o any, t map[string]string) any { c := *o.(*Volume); c.Tags = t; return &c }
	case strings.HasPrefix(id, "snap-"):
		return tableSnapshots, "id", func(o any) (map[string]string, string) { return o.(*Snapshot).Tags, o.(*Snapshot).Account },
			func(o any, t map[string]string) any { c := *o.(*Snapshot); c.Tags = t; return &c }
	case strings.HasPrefix(id, "sg-"):
		return tableSecurityGroups, "id", securityGroupTags, setSecurityGroupTags
	case strings.HasPrefix(id, "eipalloc-"):
		return tableAddresses, "id", addressTags, setAddressTags
	case strings.HasPrefix(id, "import-ami-"):
		return tableImportTasks, "id", func(o any) (map[string]string, string) { return o.(*ImportTask).Tags, o.(*ImportTask).Account },
			func(o any, t map[string]string) any { c := *o.(*ImportTask); c.Tags = t; return &c }
	case strings.HasPrefix(id, "import-snap-"):
		return tableImportSnapshotTasks, "id", importSnapshotTaskTags, setImportSnapshotTaskTags
	}
	return "", "", nil, nil
}

func applyTagResources(tx *Txn, c *TagResources) (any, error) {
	for _, id := range c.IDs {
		table, index, get, set := taggable(id)
		if table == "" {
			return nil, Errorf(CodeInvalid, "The ID '%s' is not valid", id)
		}
		obj, err := tx.First(table, index, id)
		if err != nil {
			return nil, err
		}
		cur, owner := map[string]string(nil), ""
		if obj != nil {
			cur, owner = get(obj)
		}
		if obj == nil || owner != c.Account {
			return nil, Errorf(CodeNotFound, "The ID '%s' does not exist", id)
		}
		next := maps.Clone(cur)
		if next == nil {
			next = map[string]string{}
		}
		for k, v := range c.Set {
			next[k] = v
		}
		for k, v := range c.Remove {
			if have, ok := next[k]; ok && have == v {
				delete(next, k)
			}
		}
		if c.RemoveAll {
			clear(next)
		}
		for _, k := range c.RemoveAny {
			delete(next, k)
		}
		if len(next) > MaxTags {
			return nil, Errorf(CodeLimitExceeded, "The resource '%s' would have %d tags; the limit is %d.", id, len(next), MaxTags)
		}
		if err := tx.Insert(table, set(obj, next)); err != nil {
			return nil, err
		}
	}
	return nil, nil
}
