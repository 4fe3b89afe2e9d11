package form

import (
	"net/url"
	"reflect"
	"strconv"

	"github.com/banyancloud/banyan/api/protocol/internal/shape"
)

// Style is the protocol dialect of parameter names.
type Style uint8

// Styles.
const (
	Query Style = iota // awsQuery: query tags, lists as Name.member.N
	EC2                // ec2: ec2 tags, lists as Name.N
)

// Decode fills the struct v points to from values. Parameters no field names (Action,
// Version, signature parameters, unknown ones) are ignored. It returns a
// *protocol.InputError for a value of the wrong type or a missing required member.
func Decode(values url.Values, v any, style Style) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		panic("form: Decode needs a non-nil pointer to a struct")
	}
	rv = rv.Elem()
	t := shape.For(rv.Type())
	d := decoder{style: style}
	return d.structure(buildTree(values), rv, t, "", "")
}

type decoder struct{ style Style }

func (d decoder) names(f *shape.Field) *shape.Names {
	if d.style == EC2 {
		return &f.EC2
	}
	return &f.Query
}

func (d decoder) structure(n *node, v reflect.Value, t *shape.Type, path, member string) error {
	for _, f := range t.Fields {
		names := d.names(f)
		if names.Name == "" {
			continue
		}
		c := n.kid(names.Name)
		fpath, fmember := join(path, names.Name), shape.MemberPath(member, names.Name)
		if c == nil {
			if f.Required {
				return shape.MissingError(fpath, fmember, f.Type.Kind)
			}
			continue
		}
		if err := d.field(c, v, f, names, fpath, fmember); err != nil {
			return err
		}
	}
	return nil
}

func (d decoder) field(n *node, v reflect.Value, f *shape.Field, names *shape.Names, path, member string) error {
	t := f.Type
	switch t.Kind {
	case shape.List:
		// EC2 lists and flattened query lists number their elements right under the
		// name; other query lists under Name.member (or the member's locationName).
		items := n
		if d.style == Query && !names.Flat {
			items = n.kid(names.Member)
			path += "." + names.Member
		}
		els := items.elements()
		if len(els) == 0 && !(n.has && n.val == "") && f.Required {
			return shape.MissingError(path, member, t.Kind)
		}
		// "Name=" with nothing else is how botocore and the Go SDK send an empty list.
		lv := f.Target(v)
		lv.Set(reflect.MakeSlice(t.Go, 0, len(els)))
		for _, e := range els {
			ev := reflect.New(t.Elem.Go)
			ipath := path + "." + strconv.Itoa(e.i)
			if err := d.value(e.n, ev.Elem(), t.Elem, ipath, member+"."+strconv.Itoa(e.i)+".member"); err != nil {
				return err
			}
			if !t.ElemPtr {
				ev = ev.Elem()
			}
			lv.Set(reflect.Append(lv, ev))
		}
		return nil
	case shape.Map:
		entries := n
		if !names.Flat && d.style == Query {
			entries = n.kid("entry")
			path += ".entry"
		}
		mv := f.Target(v)
		mv.Set(reflect.MakeMap(t.Go))
		for _, e := range entries.elements() {
			k := e.n.kid(names.Key)
			if k == nil || !k.has {
				continue
			}
			val := reflect.New(t.Elem.Go)
			ipath := path + "." + strconv.Itoa(e.i) + "." + names.Value
			if err := d.value(e.n.kid(names.Value), val.Elem(), t.Elem, ipath, member+"."+k.val); err != nil {
				return err
			}
			if !t.ElemPtr {
				val = val.Elem()
			}
			mv.SetMapIndex(reflect.ValueOf(k.val).Convert(t.Go.Key()), val)
		}
		return nil
	case shape.Struct:
		return d.structure(n, f.Target(v), t, path, member)
	}
	if !n.has {
		if f.Required {
			return shape.MissingError(path, member, t.Kind)
		}
		return nil
	}
	if !shape.ParseText(f.Target(v), t, n.val) {
		return shape.InvalidError(path, member, n.val, t.Kind)
	}
	return nil
}

// value decodes a list element or map value.
func (d decoder) value(n *node, v reflect.Value, t *shape.Type, path, member string) error {
	switch {
	case n == nil:
		return nil
	case t.Kind == shape.Struct:
		return d.structure(n, v, t, path, member)
	case t.Kind.Scalar():
		if n.has && !shape.ParseText(v, t, n.val) {
			return shape.InvalidError(path, member, n.val, t.Kind)
		}
	}
	return nil
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}
