// Package xmlcodec writes and reads the XML bodies of the query, ec2 and rest-xml
// protocols from shape plans, using the xml struct tags (see internal/shape).
package xmlcodec

import (
	"reflect"
	"sort"
	"unicode/utf8"

	"github.com/banyancloud/banyan/api/protocol/internal/shape"
)

// Encoder holds the protocol's choices that the struct tags do not carry.
type Encoder struct {
	Time shape.TimeStyle
}

// AppendFields appends the child elements of struct v (of plan t), in member order.
// Attributes of v are not written; AppendAttrs writes them into the parent's start tag.
func (e Encoder) AppendFields(b []byte, v reflect.Value, t *shape.Type) []byte {
	for _, f := range t.Fields {
		if f.XML.Name == "" || f.XML.Attr || (f.Rest.Location != "" && f.Rest.Location != "payload") {
			continue
		}
		b = e.appendField(b, v, f)
	}
	return b
}

// AppendAttrs appends ` name="value"` for every attribute field of struct v.
func (e Encoder) AppendAttrs(b []byte, v reflect.Value, t *shape.Type) []byte {
	for _, f := range t.Fields {
		if !f.XML.Attr || f.XML.Name == "" || !f.Present(v) || !f.Type.Kind.Scalar() {
			continue
		}
		fv := f.Value(v)
		if f.Ptr {
			fv = fv.Elem()
		}
		b = append(b, ' ')
		b = append(b, f.XML.Name...)
		b = append(b, `="`...)
		b = AppendEscaped(b, string(shape.AppendText(nil, fv, f.Type, f.TimestampFormat, e.Time)))
		b = append(b, '"')
	}
	return b
}

func (e Encoder) appendField(b []byte, v reflect.Value, f *shape.Field) []byte {
	fv := f.Value(v)
	n := &f.XML
	if !f.Present(v) {
		// AWS answers a required list it has nothing for with an empty wrapper, and
		// botocore then reports [] rather than omitting the member.
		if f.Required && f.Type.Kind == shape.List && !n.Flat {
			b = e.open(b, n.Name, n, reflect.Value{}, nil)
			return closeTag(b, n.Name)
		}
		return b
	}
	if f.Ptr {
		fv = fv.Elem()
	}
	t := f.Type
	switch t.Kind {
	case shape.List:
		if n.Flat {
			for i := 0; i < fv.Len(); i++ {
				b = e.appendElem(b, n.Name, n, fv.Index(i), t.Elem, t.ElemPtr, f.TimestampFormat)
			}
			return b
		}
		b = e.open(b, n.Name, n, reflect.Value{}, nil)
		for i := 0; i < fv.Len(); i++ {
			b = e.appendElem(b, n.Member, nil, fv.Index(i), t.Elem, t.ElemPtr, f.TimestampFormat)
		}
		return closeTag(b, n.Name)
	case shape.Map:
		keys := fv.MapKeys()
		sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
		if !n.Flat {
			b = e.open(b, n.Name, n, reflect.Value{}, nil)
		}
		for _, k := range keys {
			if n.Flat {
				b = e.open(b, n.Name, n, reflect.Value{}, nil)
			} else {
				b = append(b, "<entry>"...)
			}
			b = openTag(b, n.Key)
			b = AppendEscaped(b, k.String())
			b = closeTag(b, n.Key)
			b = e.appendElem(b, n.Value, nil, fv.MapIndex(k), t.Elem, t.ElemPtr, f.TimestampFormat)
			if n.Flat {
				b = closeTag(b, n.Name)
			} else {
				b = append(b, "</entry>"...)
			}
		}
		if !n.Flat {
			b = closeTag(b, n.Name)
		}
		return b
	}
	return e.appendElem(b, n.Name, n, fv, t, false, f.TimestampFormat)
}

// appendElem writes one element holding value v of plan t; n carries the namespace
// declaration of a member element (nil for list items and map values).
func (e Encoder) appendElem(b []byte, name string, n *shape.Names, v reflect.Value, t *shape.Type, ptr bool, tsFormat string) []byte {
	if ptr {
		if v.IsNil() {
			return b
		}
		v = v.Elem()
	}
	switch {
	case t.Kind == shape.Struct:
		b = e.open(b, name, n, v, t)
		b = e.AppendFields(b, v, t)
		return closeTag(b, name)
	case t.Kind.Scalar():
		b = e.open(b, name, n, reflect.Value{}, nil)
		if t.Kind == shape.String {
			b = AppendEscaped(b, v.String())
		} else {
			b = shape.AppendText(b, v, t, tsFormat, e.Time)
		}
		return closeTag(b, name)
	case t.Kind == shape.List:
		// Lists nested in lists never appear in the XML services' models; write them
		// with the default member name so that nothing is silently dropped.
		b = e.open(b, name, n, reflect.Value{}, nil)
		for i := 0; i < v.Len(); i++ {
			b = e.appendElem(b, "member", nil, v.Index(i), t.Elem, t.ElemPtr, tsFormat)
		}
		return closeTag(b, name)
	}
	return b
}

func (e Encoder) open(b []byte, name string, n *shape.Names, v reflect.Value, t *shape.Type) []byte {
	b = append(b, '<')
	b = append(b, name...)
	if n != nil && n.NS != "" {
		b = append(b, " xmlns"...)
		if n.NSPrefix != "" {
			b = append(b, ':')
			b = append(b, n.NSPrefix...)
		}
		b = append(b, `="`...)
		b = AppendEscaped(b, n.NS)
		b = append(b, '"')
	}
	if t != nil {
		b = e.AppendAttrs(b, v, t)
	}
	return append(b, '>')
}

func openTag(b []byte, name string) []byte {
	b = append(b, '<')
	b = append(b, name...)
	return append(b, '>')
}

func closeTag(b []byte, name string) []byte {
	b = append(b, "</"...)
	b = append(b, name...)
	return append(b, '>')
}

// AppendEscaped appends s as XML character data (also safe inside a double-quoted
// attribute). Characters XML 1.0 cannot carry become U+FFFD, as encoding/xml does,
// so no stored value can make a response unparsable.
func AppendEscaped(b []byte, s string) []byte {
	last := 0
	for i := 0; i < len(s); {
		r, width := utf8.DecodeRuneInString(s[i:])
		var esc string
		switch r {
		case '<':
			esc = "&lt;"
		case '>':
			esc = "&gt;"
		case '&':
			esc = "&amp;"
		case '"':
			esc = "&quot;"
		case '\r':
			esc = "&#xD;"
		case '\n', '\t':
		default:
			if r < 0x20 || (r >= 0xD800 && r <= 0xDFFF) || r == 0xFFFE || r == 0xFFFF || (r == utf8.RuneError && width == 1) {
				esc = "\uFFFD"
			}
		}
		if esc != "" {
			b = append(b, s[last:i]...)
			b = append(b, esc...)
			last = i + width
		}
		i += width
	}
	return append(b, s[last:]...)
}
