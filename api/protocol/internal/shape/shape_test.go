package shape

import (
	"reflect"
	"testing"
	"time"
)

type node struct {
	Name     string            `query:"Name" xml:"name" json:"Name" aws:"required"`
	Children []node            `query:"Child,flat" xml:"children>item" json:"Children,omitempty"`
	Parent   *node             `json:"Parent,omitempty"`
	Attrs    map[string]*int64 `query:"Attrs" xml:"Attrs" aws:"key=K,value=V"`
	When     *time.Time        `aws:"ts=rfc822"`
	Data     []byte            `rest:"header,X-Data" xml:"-"`
	Doc      any               `cbor:"document" json:"doc"`
	Skipped  string            `query:"-" json:"-" xml:"-"`
	_        int
}

func TestPlan(t *testing.T) {
	p := For(reflect.TypeOf(&node{}))
	if p != For(reflect.TypeOf(node{})) {
		t.Fatal("plans are not cached per type")
	}
	if p.Kind != Struct || len(p.Fields) != 8 {
		t.Fatalf("plan %+v", p)
	}
	byName := map[string]*Field{}
	for _, f := range p.Fields {
		byName[f.GoName] = f
	}
	name, kids, parent, attrs := byName["Name"], byName["Children"], byName["Parent"], byName["Attrs"]
	if !name.Required || name.Query.Name != "Name" || name.XML.Name != "name" || !name.XML.Flat || p.ByXML("name") != name {
		t.Errorf("Name %+v", name)
	}
	if kids.Type.Kind != List || kids.Type.Elem != p || !kids.Query.Flat || kids.Query.Name != "Child" || kids.XML.Member != "item" || kids.XML.Flat {
		t.Errorf("Children %+v (recursive element plan %p, want %p)", kids, kids.Type.Elem, p)
	}
	if !parent.Ptr || parent.Type != p || parent.Query.Name != "Parent" {
		t.Errorf("Parent %+v", parent)
	}
	if attrs.Type.Kind != Map || !attrs.Type.ElemPtr || attrs.Type.Elem.Kind != Int || attrs.Type.Elem.Bits != 64 ||
		attrs.Query.Key != "K" || attrs.Query.Value != "V" || attrs.XML.Key != "K" || attrs.Query.Flat || !attrs.XML.Flat {
		t.Errorf("Attrs %+v", attrs)
	}
	if w := byName["When"]; w.Type.Kind != Timestamp || w.TimestampFormat != "rfc822" || !w.Ptr {
		t.Errorf("When %+v", w)
	}
	if d := byName["Data"]; d.Type.Kind != Blob || d.Rest != (Rest{"header", "X-Data"}) || d.XML.Name != "" || p.ByXML("Data") != nil {
		t.Errorf("Data %+v", d)
	}
	if d := byName["Doc"]; d.Type.Kind != Document || d.JSON != "doc" || d.CBOR != "document" || p.ByCBOR("document") != d || p.ByJSON("doc") != d {
		t.Errorf("Doc %+v", d)
	}
	if s := byName["Skipped"]; s.Query.Name != "" || s.JSON != "" || s.XML.Name != "" {
		t.Errorf("Skipped %+v", s)
	}
}

func TestTargetAndPresent(t *testing.T) {
	p := For(reflect.TypeOf(node{}))
	var n node
	v := reflect.ValueOf(&n).Elem()
	parent := p.Fields[2]
	if parent.Present(v) || !p.Fields[0].Present(v) || p.Fields[1].Present(v) {
		t.Error("Present on an empty node")
	}
	parent.Target(v).Field(0).SetString("root")
	if n.Parent == nil || n.Parent.Name != "root" || !parent.Present(v) {
		t.Errorf("Target did not allocate: %+v", n)
	}
}

func TestParseAndAppendText(t *testing.T) {
	for _, tc := range []struct {
		typ  reflect.Type
		in   string
		ok   bool
		back string
	}{
		{reflect.TypeOf(int32(0)), "2147483647", true, "2147483647"},
		{reflect.TypeOf(int32(0)), "2147483648", false, ""},
		{reflect.TypeOf(false), "TRUE", true, "true"},
		{reflect.TypeOf(false), "1", false, ""},
		{reflect.TypeOf(0.0), "Infinity", true, "Infinity"},
		{reflect.TypeOf(0.0), "1e300", true, "1e+300"},
		{reflect.TypeOf(float32(0)), "0.1", true, "0.1"},
		{reflect.TypeOf([]byte(nil)), "aGk=", true, "aGk="},
		{reflect.TypeOf([]byte(nil)), "a*", false, ""},
		{reflect.TypeOf(time.Time{}), "2024-01-02T03:04:05.5+01:00", true, "2024-01-02T02:04:05.500Z"},
	} {
		v := reflect.New(tc.typ).Elem()
		p := For(tc.typ)
		if ok := ParseText(v, p, tc.in); ok != tc.ok {
			t.Errorf("ParseText(%s, %q) = %v", tc.typ, tc.in, ok)
			continue
		}
		if tc.ok {
			if got := string(AppendText(nil, v, p, "", TimeISO8601)); got != tc.back {
				t.Errorf("AppendText(%s) = %q, want %q", tc.typ, got, tc.back)
			}
		}
	}
}
