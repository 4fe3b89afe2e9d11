// Package form decodes the flat parameters of the awsQuery and EC2 protocols
// (Name.member.1.Key=...) into generated input structs, by shape plan.
package form

import (
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// node is one dotted path segment of the parameters: "Tags.member.1.Key" is the path
// Tags → member → 1 → Key. Building the tree once makes every lookup during decoding a
// map access instead of a scan over all keys.
type node struct {
	val  string
	has  bool
	kids map[string]*node
}

// maxIndex bounds list indices: a client never sends more elements than fit in a body,
// and a huge index must not make the decoder allocate.
const maxIndex = 1 << 20

func buildTree(values url.Values) *node {
	root := &node{}
	for key, vals := range values {
		n := root
		for key != "" {
			var seg string
			seg, key, _ = strings.Cut(key, ".")
			if n.kids == nil {
				n.kids = make(map[string]*node)
			}
			c := n.kids[seg]
			if c == nil {
				c = &node{}
				n.kids[seg] = c
			}
			n = c
		}
		if len(vals) > 0 && !n.has {
			n.val, n.has = vals[0], true
		}
	}
	return root
}

func (n *node) kid(name string) *node {
	if n == nil || n.kids == nil {
		return nil
	}
	return n.kids[name]
}

type indexed struct {
	i int
	n *node
}

// elements returns the children of n named by list indices 1, 2, ... in index order.
// Gaps are tolerated (AWS clients never leave them), other names ignored.
func (n *node) elements() []indexed {
	if n == nil {
		return nil
	}
	out := make([]indexed, 0, len(n.kids))
	for name, c := range n.kids {
		i, err := strconv.Atoi(name)
		if err != nil || i < 1 || i > maxIndex || name[0] == '0' || name[0] == '+' {
			continue
		}
		out = append(out, indexed{i, c})
	}
	sort.Slice(out, func(a, b int) bool { return out[a].i < out[b].i })
	return out
}
