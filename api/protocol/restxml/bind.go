package restxml

import (
	"net/http"
	"reflect"
	"strings"

	"github.com/banyancloud/banyan/api/protocol"
	"github.com/banyancloud/banyan/api/protocol/internal/shape"
)

// BindRequest fills the header, headers-prefix, query-string and URI members of the
// struct v points to from r; labels are the URI labels the router matched (e.g.
// "Bucket", "Key"). The body is left alone: read it with ReadXML or stream it. A member
// that does not parse answers InvalidArgument.
func BindRequest(r *http.Request, labels map[string]string, v any) error {
	rv := reflect.ValueOf(v).Elem()
	t := shape.For(rv.Type())
	query := r.URL.Query()
	for _, f := range t.Fields {
		var texts []string
		switch f.Rest.Location {
		case "header":
			texts = r.Header.Values(f.Rest.Name)
			if f.Type.Kind == shape.List && len(texts) == 1 {
				texts = splitHeaderList(texts[0])
			}
		case "uri":
			if s, ok := labels[strings.TrimSuffix(f.Rest.Name, "+")]; ok {
				texts = []string{s}
			}
		case "querystring":
			if f.Rest.Name == "" && f.Type.Kind == shape.Map {
				bindMap(f.Target(rv), f.Type, query, "")
				continue
			}
			texts = query[f.Rest.Name]
		case "headers":
			if f.Type.Kind == shape.Map {
				bindMap(f.Target(rv), f.Type, r.Header, f.Rest.Name)
			}
			continue
		default:
			continue
		}
		if len(texts) == 0 {
			continue
		}
		if err := setTexts(rv, f, texts); err != nil {
			return err
		}
	}
	return nil
}

func setTexts(rv reflect.Value, f *shape.Field, texts []string) error {
	bad := func(s string) error {
		name := f.Rest.Name
		if name == "" {
			name = f.GoName
		}
		return InvalidArgument.WithMessage("Invalid value for %s: %s", name, protocol.Quote(s, 64))
	}
	if f.Type.Kind == shape.List {
		lv := f.Target(rv)
		lv.Set(reflect.MakeSlice(f.Type.Go, 0, len(texts)))
		for _, s := range texts {
			ev := reflect.New(f.Type.Elem.Go)
			if !shape.ParseText(ev.Elem(), f.Type.Elem, s) {
				return bad(s)
			}
			if !f.Type.ElemPtr {
				ev = ev.Elem()
			}
			lv.Set(reflect.Append(lv, ev))
		}
		return nil
	}
	if !f.Type.Kind.Scalar() {
		return nil
	}
	if !shape.ParseText(f.Target(rv), f.Type, texts[0]) {
		return bad(texts[0])
	}
	return nil
}

// bindMap fills a map[string]string member from every header (or query parameter) with
// prefix; header keys lose the prefix and are lower-cased, as S3 reports metadata.
func bindMap(mv reflect.Value, t *shape.Type, src map[string][]string, prefix string) {
	if t.Elem.Kind != shape.String {
		return
	}
	for k, vals := range src {
		if len(vals) == 0 || len(k) < len(prefix) || !strings.EqualFold(k[:len(prefix)], prefix) {
			continue
		}
		if mv.IsNil() {
			mv.Set(reflect.MakeMap(t.Go))
		}
		key := k[len(prefix):]
		if prefix != "" {
			key = strings.ToLower(key)
		}
		mv.SetMapIndex(reflect.ValueOf(key).Convert(t.Go.Key()), reflect.ValueOf(vals[0]).Convert(t.Elem.Go))
	}
}

func splitHeaderList(s string) []string {
	parts := strings.Split(s, ",")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	return parts
}

// WriteOutput answers with a generated output struct: its header members as headers,
// its statusCode member (else 200) as the status, and as the body its blob payload
// as is, its structure payload as XML named by the member, or its other body members as
// the XML element root (no body when it has none, or when r is a HEAD request).
func WriteOutput(w http.ResponseWriter, r *http.Request, root string, output any) error {
	rv := reflect.Indirect(reflect.ValueOf(output))
	status := http.StatusOK
	if !rv.IsValid() {
		w.WriteHeader(status)
		return nil
	}
	t := shape.For(rv.Type())
	h := w.Header()
	var payload *shape.Field
	hasBody := false
	for _, f := range t.Fields {
		switch f.Rest.Location {
		case "header":
			if f.Present(rv) && f.Type.Kind.Scalar() {
				h.Set(f.Rest.Name, headerText(rv, f))
			}
		case "headers":
			if f.Present(rv) && f.Type.Kind == shape.Map && f.Type.Elem.Kind == shape.String {
				iter := f.Value(rv).MapRange()
				for iter.Next() {
					h.Set(f.Rest.Name+iter.Key().String(), iter.Value().String())
				}
			}
		case "statusCode":
			if f.Present(rv) && f.Type.Kind == shape.Int {
				fv := f.Value(rv)
				if f.Ptr {
					fv = fv.Elem()
				}
				status = int(fv.Int())
			}
		case "payload":
			payload = f
		case "":
			hasBody = hasBody || (f.XML.Name != "" && f.Present(rv))
		}
	}
	head := r != nil && r.Method == http.MethodHead
	switch {
	case payload != nil && payload.Type.Kind == shape.Blob:
		body := payload.Value(rv).Bytes()
		w.WriteHeader(status)
		if !head {
			_, err := w.Write(body)
			return err
		}
		return nil
	case payload != nil && payload.Type.Kind == shape.Struct:
		if !payload.Present(rv) {
			w.WriteHeader(status)
			return nil
		}
		if head {
			w.WriteHeader(status)
			return nil
		}
		return WriteXML(w, status, payload.XML.Name, payload.Value(rv).Interface())
	case hasBody && !head:
		return WriteXML(w, status, root, output)
	}
	w.WriteHeader(status)
	return nil
}

// headerText renders a header member; header timestamps default to RFC 822, as S3's
// Last-Modified and Expires are.
func headerText(rv reflect.Value, f *shape.Field) string {
	fv := f.Value(rv)
	if f.Ptr {
		fv = fv.Elem()
	}
	ts := f.TimestampFormat
	if ts == "" {
		ts = protocol.TimestampRFC822
	}
	return string(shape.AppendText(nil, fv, f.Type, ts, shape.TimeISO8601))
}
