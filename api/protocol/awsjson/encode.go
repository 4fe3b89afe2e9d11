package awsjson

import (
	"encoding/base64"
	"encoding/json"
	"math"
	"reflect"
	"sort"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/banyancloud/banyan/api/protocol"
	"github.com/banyancloud/banyan/api/protocol/internal/shape"
)

// Marshal returns the JSON document of output (a pointer to a generated struct, or nil
// for {}), with timestamps as epoch seconds unless a member's timestampFormat says
// otherwise and blobs as base64, as awsJson clients expect.
func Marshal(output any) ([]byte, error) {
	rv := reflect.ValueOf(output)
	if !rv.IsValid() || (rv.Kind() == reflect.Pointer && rv.IsNil()) {
		return []byte("{}"), nil
	}
	rv = reflect.Indirect(rv)
	return appendStruct(nil, rv, shape.For(rv.Type()))
}

func appendStruct(b []byte, v reflect.Value, t *shape.Type) ([]byte, error) {
	b = append(b, '{')
	first := true
	for _, f := range t.Fields {
		if f.JSON == "" {
			continue
		}
		fv := f.Value(v)
		if !f.Present(v) {
			if !f.Required {
				continue
			}
			switch f.Type.Kind {
			case shape.List:
				fv = reflect.MakeSlice(f.Type.Go, 0, 0)
			case shape.Map:
				fv = reflect.MakeMap(f.Type.Go)
			default:
				continue
			}
		} else if f.Ptr {
			fv = fv.Elem()
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = appendString(b, f.JSON)
		b = append(b, ':')
		var err error
		if b, err = appendValue(b, fv, f.Type, f.TimestampFormat); err != nil {
			return nil, err
		}
	}
	return append(b, '}'), nil
}

func appendValue(b []byte, v reflect.Value, t *shape.Type, tsFormat string) ([]byte, error) {
	var err error
	switch t.Kind {
	case shape.Struct:
		return appendStruct(b, v, t)
	case shape.List:
		b = append(b, '[')
		for i := 0; i < v.Len(); i++ {
			if i > 0 {
				b = append(b, ',')
			}
			if b, err = appendElem(b, v.Index(i), t); err != nil {
				return nil, err
			}
		}
		return append(b, ']'), nil
	case shape.Map:
		keys := v.MapKeys()
		sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
		b = append(b, '{')
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, k.String())
			b = append(b, ':')
			if b, err = appendElem(b, v.MapIndex(k), t); err != nil {
				return nil, err
			}
		}
		return append(b, '}'), nil
	case shape.String:
		return appendString(b, v.String()), nil
	case shape.Bool:
		return strconv.AppendBool(b, v.Bool()), nil
	case shape.Int:
		return strconv.AppendInt(b, v.Int(), 10), nil
	case shape.Float:
		f := v.Float()
		s := shape.AppendFloat(nil, f, t.Bits)
		if math.IsNaN(f) || math.IsInf(f, 0) { // JSON has no literal for them
			return appendString(b, string(s)), nil
		}
		return append(b, s...), nil
	case shape.Timestamp:
		ts := v.Interface().(time.Time)
		switch tsFormat {
		case protocol.TimestampISO8601:
			return appendString(b, protocol.FormatISO8601(ts, false)), nil
		case protocol.TimestampRFC822:
			return appendString(b, protocol.FormatRFC822(ts)), nil
		}
		return append(b, protocol.FormatEpoch(ts)...), nil
	case shape.Blob:
		b = append(b, '"')
		b = base64.StdEncoding.AppendEncode(b, v.Bytes())
		return append(b, '"'), nil
	case shape.Document:
		raw, err := json.Marshal(v.Interface())
		if err != nil {
			return nil, err
		}
		return append(b, raw...), nil
	}
	return append(b, "null"...), nil
}

func appendElem(b []byte, v reflect.Value, t *shape.Type) ([]byte, error) {
	if t.ElemPtr {
		if v.IsNil() {
			return append(b, "null"...), nil
		}
		v = v.Elem()
	}
	return appendValue(b, v, t.Elem, "")
}

const hex = "0123456789abcdef"

// appendString appends s as a JSON string. Invalid UTF-8 becomes U+FFFD, as
// encoding/json does, so a stored value can never make the document unparsable.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	last := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[last:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			last = i
			continue
		}
		r, width := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && width == 1 {
			b = append(b, s[last:i]...)
			b = append(b, `\ufffd`...)
			i += width
			last = i
			continue
		}
		i += width
	}
	b = append(b, s[last:]...)
	return append(b, '"')
}
