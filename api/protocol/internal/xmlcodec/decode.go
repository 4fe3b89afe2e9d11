package xmlcodec

import (
	"encoding/xml"
	"errors"
	"reflect"
	"strconv"
	"strings"

	"github.com/banyancloud/banyan/api/protocol/internal/shape"
)

// maxDepth bounds element nesting so a hostile body cannot recurse the decoder deep.
const maxDepth = 64

var errTooDeep = errors.New("xml: elements nested too deeply")

// DecodeStruct reads the content of start (already consumed from d) into the
// addressable struct v of plan t, up to and including start's end element. Elements
// no field names are skipped; a malformed document is an *xml.SyntaxError (or another
// decoder error) and a bad scalar a *protocol.InputError.
func DecodeStruct(d *xml.Decoder, start xml.StartElement, v reflect.Value, t *shape.Type) error {
	return decodeStruct(d, start, v, t, "", 0)
}

func decodeStruct(d *xml.Decoder, start xml.StartElement, v reflect.Value, t *shape.Type, path string, depth int) error {
	if depth > maxDepth {
		return errTooDeep
	}
	for _, a := range start.Attr {
		for _, f := range t.Fields {
			if f.XML.Attr && attrMatches(f.XML.Name, a.Name) && f.Type.Kind.Scalar() {
				if !shape.ParseText(f.Target(v), f.Type, a.Value) {
					return shape.InvalidError(join(path, f.XML.Name), "", a.Value, f.Type.Kind)
				}
			}
		}
	}
	for {
		tok, err := d.Token()
		if err != nil {
			return err
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			f := t.ByXML(tok.Name.Local)
			if f == nil {
				if err := d.Skip(); err != nil {
					return err
				}
				continue
			}
			if err := decodeField(d, tok, v, f, join(path, f.XML.Name), depth+1); err != nil {
				return err
			}
		case xml.EndElement:
			return nil
		}
	}
}

func attrMatches(tagName string, n xml.Name) bool {
	if _, local, ok := strings.Cut(tagName, ":"); ok {
		return local == n.Local
	}
	return tagName == n.Local && n.Space == ""
}

func decodeField(d *xml.Decoder, start xml.StartElement, v reflect.Value, f *shape.Field, path string, depth int) error {
	t := f.Type
	switch t.Kind {
	case shape.List:
		lv := f.Target(v)
		if lv.IsNil() {
			lv.Set(reflect.MakeSlice(t.Go, 0, 1))
		}
		if f.XML.Flat {
			return appendListElem(d, start, lv, t, path+"."+strconv.Itoa(lv.Len()+1), depth)
		}
		return eachChild(d, func(child xml.StartElement) error {
			return appendListElem(d, child, lv, t, path+"."+child.Name.Local+"."+strconv.Itoa(lv.Len()+1), depth+1)
		})
	case shape.Map:
		mv := f.Target(v)
		if mv.IsNil() {
			mv.Set(reflect.MakeMap(t.Go))
		}
		if f.XML.Flat {
			return decodeEntry(d, mv, t, &f.XML, path, depth)
		}
		return eachChild(d, func(child xml.StartElement) error {
			return decodeEntry(d, mv, t, &f.XML, path+".entry", depth+1)
		})
	}
	return decodeValue(d, start, f.Target(v), t, path, depth)
}

func appendListElem(d *xml.Decoder, start xml.StartElement, lv reflect.Value, t *shape.Type, path string, depth int) error {
	ev := reflect.New(t.Elem.Go).Elem()
	if err := decodeValue(d, start, ev, t.Elem, path, depth); err != nil {
		return err
	}
	if t.ElemPtr {
		p := reflect.New(t.Elem.Go)
		p.Elem().Set(ev)
		ev = p
	}
	lv.Set(reflect.Append(lv, ev))
	return nil
}

// decodeEntry reads the key and value children of one map entry element.
func decodeEntry(d *xml.Decoder, mv reflect.Value, t *shape.Type, n *shape.Names, path string, depth int) error {
	var key string
	haveKey := false
	val := reflect.New(t.Elem.Go).Elem()
	err := eachChild(d, func(child xml.StartElement) error {
		switch child.Name.Local {
		case n.Key:
			s, err := text(d)
			key, haveKey = s, true
			return err
		case n.Value:
			return decodeValue(d, child, val, t.Elem, path+"."+n.Value, depth+1)
		}
		return d.Skip()
	})
	if err != nil || !haveKey {
		return err
	}
	if t.ElemPtr {
		p := reflect.New(t.Elem.Go)
		p.Elem().Set(val)
		val = p
	}
	mv.SetMapIndex(reflect.ValueOf(key).Convert(t.Go.Key()), val)
	return nil
}

func decodeValue(d *xml.Decoder, start xml.StartElement, v reflect.Value, t *shape.Type, path string, depth int) error {
	switch {
	case t.Kind == shape.Struct:
		return decodeStruct(d, start, v, t, path, depth)
	case t.Kind.Scalar():
		s, err := text(d)
		if err != nil {
			return err
		}
		if !shape.ParseText(v, t, s) {
			return shape.InvalidError(path, "", s, t.Kind)
		}
		return nil
	}
	return d.Skip()
}

// eachChild calls fn for each child element of the element just opened, then
// consumes its end element. fn must consume the child entirely.
func eachChild(d *xml.Decoder, fn func(xml.StartElement) error) error {
	for {
		tok, err := d.Token()
		if err != nil {
			return err
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			if err := fn(tok); err != nil {
				return err
			}
		case xml.EndElement:
			return nil
		}
	}
}

// text returns the character data of the element just opened, consuming its end.
// Child elements inside a scalar are skipped rather than rejected, as AWS does.
func text(d *xml.Decoder) (string, error) {
	var sb strings.Builder
	for {
		tok, err := d.Token()
		if err != nil {
			return "", err
		}
		switch tok := tok.(type) {
		case xml.CharData:
			sb.Write(tok)
		case xml.StartElement:
			if err := d.Skip(); err != nil {
				return "", err
			}
		case xml.EndElement:
			return sb.String(), nil
		}
	}
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}
