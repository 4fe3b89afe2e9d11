// Package tree assigns a decoded JSON or CBOR document (maps, slices and scalars) to a
// generated input struct by shape plan. Both document protocols decode their bytes into
// such a tree first, so that presence (for required members) and type mismatches are
// checked in one place with the same error for both.
package tree

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"time"

	"github.com/banyancloud/banyan/api/protocol"
	"github.com/banyancloud/banyan/api/protocol/internal/shape"
)

// Keys says which struct tag names the document's keys.
type Keys uint8

// Key styles.
const (
	JSON Keys = iota // json tags; blobs are base64 text
	CBOR             // cbor tags, else json; blobs are byte strings
)

// maxDepth bounds nesting; both decoders have their own bound, this one protects the
// recursion here from a document handed in by other means.
const maxDepth = 100

// Decode assigns document doc to the struct v points to. A member of the wrong type
// or a missing required member is a *protocol.InputError.
func Decode(doc any, v any, keys Keys) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		panic("tree: Decode needs a non-nil pointer to a struct")
	}
	rv = rv.Elem()
	if doc == nil {
		doc = map[string]any{}
	}
	d := decoder{keys: keys}
	return d.value(doc, rv, shape.For(rv.Type()), "", "", 0)
}

type decoder struct{ keys Keys }

func (d decoder) structure(m map[string]any, v reflect.Value, t *shape.Type, path, member string, depth int) error {
	for k, x := range m {
		var f *shape.Field
		if d.keys == CBOR {
			f = t.ByCBOR(k)
		} else {
			f = t.ByJSON(k)
		}
		if f == nil || x == nil {
			continue
		}
		var target reflect.Value
		if f.Ptr {
			target = reflect.New(f.Type.Go).Elem()
		} else {
			target = f.Value(v)
		}
		if err := d.value(x, target, f.Type, join(path, k), shape.MemberPath(member, k), depth+1); err != nil {
			return err
		}
		if f.Ptr {
			f.Value(v).Set(target.Addr())
		}
	}
	for _, f := range t.Fields {
		if !f.Required {
			continue
		}
		name := f.JSON
		if d.keys == CBOR {
			name = f.CBOR
		}
		if name != "" && m[name] == nil {
			return shape.MissingError(join(path, name), shape.MemberPath(member, name), f.Type.Kind)
		}
	}
	return nil
}

func (d decoder) value(x any, v reflect.Value, t *shape.Type, path, member string, depth int) error {
	if depth > maxDepth {
		return shape.InvalidError(path, member, "(nested too deeply)", t.Kind)
	}
	bad := func() error { return shape.InvalidError(path, member, describe(x), t.Kind) }
	switch t.Kind {
	case shape.Struct:
		m, ok := x.(map[string]any)
		if !ok {
			return bad()
		}
		return d.structure(m, v, t, path, member, depth)
	case shape.List:
		xs, ok := x.([]any)
		if !ok {
			return bad()
		}
		lv := reflect.MakeSlice(t.Go, 0, len(xs))
		for i, e := range xs {
			ev := reflect.New(t.Elem.Go)
			if e != nil {
				if err := d.value(e, ev.Elem(), t.Elem, path+"."+strconv.Itoa(i), member+"."+strconv.Itoa(i+1)+".member", depth+1); err != nil {
					return err
				}
			}
			if !t.ElemPtr {
				ev = ev.Elem()
			}
			lv = reflect.Append(lv, ev)
		}
		v.Set(lv)
		return nil
	case shape.Map:
		m, ok := x.(map[string]any)
		if !ok {
			return bad()
		}
		mv := reflect.MakeMapWithSize(t.Go, len(m))
		for k, e := range m {
			if e == nil {
				continue
			}
			ev := reflect.New(t.Elem.Go)
			if err := d.value(e, ev.Elem(), t.Elem, path+"."+k, member+"."+k, depth+1); err != nil {
				return err
			}
			if !t.ElemPtr {
				ev = ev.Elem()
			}
			mv.SetMapIndex(reflect.ValueOf(k).Convert(t.Go.Key()), ev)
		}
		v.Set(mv)
		return nil
	case shape.Document:
		v.Set(reflect.ValueOf(&x).Elem())
		return nil
	case shape.String:
		s, ok := x.(string)
		if !ok {
			return bad()
		}
		v.SetString(s)
	case shape.Bool:
		b, ok := x.(bool)
		if !ok {
			return bad()
		}
		v.SetBool(b)
	case shape.Int:
		n, ok := toInt(x, t.Bits)
		if !ok {
			return bad()
		}
		v.SetInt(n)
	case shape.Float:
		f, ok := toFloat(x)
		if !ok {
			return bad()
		}
		v.SetFloat(f)
	case shape.Timestamp:
		ts, ok := toTime(x)
		if !ok {
			return bad()
		}
		v.Set(reflect.ValueOf(ts))
	case shape.Blob:
		switch b := x.(type) {
		case []byte:
			v.SetBytes(b)
		case string:
			raw, err := base64.StdEncoding.DecodeString(b)
			if err != nil {
				return bad()
			}
			v.SetBytes(raw)
		default:
			return bad()
		}
	default:
		return bad()
	}
	return nil
}

func toInt(x any, bits int) (int64, bool) {
	var n int64
	switch x := x.(type) {
	case json.Number:
		i, err := strconv.ParseInt(string(x), 10, 64)
		if err != nil {
			return 0, false
		}
		n = i
	case uint64:
		if x > math.MaxInt64 {
			return 0, false
		}
		n = int64(x)
	case int64:
		n = x
	case float64:
		if x != math.Trunc(x) || math.Abs(x) > 1<<53 {
			return 0, false
		}
		n = int64(x)
	default:
		return 0, false
	}
	if bits < 64 && (n < -(1<<(bits-1)) || n >= 1<<(bits-1)) {
		return 0, false
	}
	return n, true
}

func toFloat(x any) (float64, bool) {
	switch x := x.(type) {
	case json.Number:
		f, err := strconv.ParseFloat(string(x), 64)
		return f, err == nil
	case float64:
		return x, true
	case float32:
		return float64(x), true
	case uint64:
		return float64(x), true
	case int64:
		return float64(x), true
	case string:
		// JSON cannot carry the non-finite doubles; Smithy protocols send them as text.
		switch x {
		case "NaN":
			return math.NaN(), true
		case "Infinity":
			return math.Inf(1), true
		case "-Infinity":
			return math.Inf(-1), true
		}
	}
	return 0, false
}

func toTime(x any) (time.Time, bool) {
	switch x := x.(type) {
	case time.Time:
		return x.UTC(), true
	case string:
		return protocol.ParseTimestamp(x)
	}
	if f, ok := toFloat(x); ok {
		return protocol.EpochTime(f)
	}
	return time.Time{}, false
}

// describe renders a mistyped value for an error message the way AWS names JSON types.
func describe(x any) string {
	switch x := x.(type) {
	case string:
		return x
	case map[string]any:
		return "(object)"
	case []any:
		return "(array)"
	case []byte:
		return "(byte string)"
	}
	return fmt.Sprint(x)
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}
