// Package shape turns the Go structs that api/gen generates into serialization plans:
// for every struct type, once, the list of its serialized fields with their kinds and
// the wire names each protocol uses, parsed from the struct tags below. Plans are cached
// in a sync.Map, so the per-request cost of a reflection codec is a map lookup.
//
// Tag conventions (one key per protocol family; a missing key means the Go field name;
// "-" means the field is not serialized in that family):
//
//	query:"Name[,flat][,member=M]"
//	    awsQuery input parameter. Lists are Name.member.N (Name.M.N with member=M,
//	    Name.N when flat); maps are Name.entry.N.key / Name.entry.N.value (Name.N.key
//	    when flat).
//	ec2:"Name"
//	    EC2 input parameter (queryName, else the capitalized locationName). Lists are
//	    always Name.N, and EC2 has no maps.
//	xml:"Name" | xml:"Name>M" | xml:"Name,attr"
//	    XML element of responses and rest-xml bodies, in encoding/xml's own syntax so
//	    that vet, staticcheck and encoding/xml read the tags as meaning the same thing:
//	    a list is either wrapped, <Name><M>..</M><M>..</M></Name> (Name>M, M being
//	    "member" or the model's locationName), or flattened, its elements repeated as
//	    <Name> (no >). Maps are <Name><entry><key/><value/></entry></Name> (Name>entry)
//	    or flattened as repeated <Name><key/><value/></Name>. attr makes the member an
//	    attribute of the enclosing element.
//	json:"Name[,omitempty]"
//	    awsJson key; also the rpc-v2-cbor key unless a cbor tag overrides it (the
//	    stdlib and fxamacker/cbor read the same tags, so tools agree on the names).
//	cbor:"Name[,omitempty]"
//	    rpc-v2-cbor key when it differs from the JSON one (CBOR uses member names,
//	    JSON uses locationName).
//	rest:"header,Name" | "headers,Prefix" | "querystring,Name" | "querystring" |
//	     "uri,Name" | "statusCode" | "payload"
//	    rest-xml HTTP binding; fields with a binding other than payload are not part of
//	    the XML body.
//	aws:"[required][,ts=iso8601|rfc822|unixTimestamp][,streaming][,key=K][,value=V][,ns=URI][,nsprefix=P]"
//	    the model's other traits: the member is required (decoders reject requests
//	    without it; encoders emit it even when empty), its timestampFormat, a streaming
//	    blob payload, the names of a map's key and value parts in query and XML (default
//	    key and value), and an XML namespace the member's element declares
//	    (xmlns="URI", or xmlns:P="URI" with nsprefix).
//
// Generated types use a pointer for every optional scalar (absent is not zero), a
// plain value for required scalars, time.Time for timestamps, []byte for blobs,
// pointers for nested structures, []T for lists and map[string]T for maps.
package shape

import (
	"reflect"
	"strings"
	"sync"
	"time"
)

// Kind is how a value serializes, independent of protocol.
type Kind uint8

// Kinds of serialized values.
const (
	Invalid   Kind = iota // a Go type no AWS shape maps to
	String                // string and named string types (enums)
	Bool                  // bool
	Int                   // signed integers; Type.Bits gives the size
	Float                 // float32/float64; Type.Bits gives the size
	Timestamp             // time.Time
	Blob                  // []byte
	Document              // any: a JSON document type
	Struct                // a structure shape
	List                  // a list shape: []T
	Map                   // a map shape: map[string]T
)

// Type is the plan for one non-pointer Go type.
type Type struct {
	Kind Kind
	Go   reflect.Type
	Bits int // size of Int and Float kinds

	// Elem is the plan of list elements and map values; ElemPtr says the elements
	// are pointers to it.
	Elem    *Type
	ElemPtr bool

	Fields []*Field // Struct fields in declaration (= model member) order
	byJSON map[string]*Field
	byCBOR map[string]*Field
	byXML  map[string]*Field // elements only; attributes are in Fields with XML.Attr
}

// Field is one serialized struct field.
type Field struct {
	GoName string
	Index  int
	Ptr    bool // the field is a pointer to Type.Go
	Type   *Type

	Query, EC2, XML Names
	JSON, CBOR      string
	JSONOmitEmpty   bool
	Rest            Rest

	Required        bool
	TimestampFormat string // "" means the protocol's default
	Streaming       bool

	mapKey, mapValue string
	ns, nsPrefix     string
}

// Names are the wire names of a field and of its collection parts in one protocol.
type Names struct {
	Name     string // "" when the field is not serialized in this protocol
	Flat     bool
	Member   string // list element name when not flat
	Key      string // map key element/parameter name (from the aws tag)
	Value    string // map value element/parameter name (from the aws tag)
	Attr     bool   // XML attribute
	NS       string // XML namespace URI declared on the element (from the aws tag)
	NSPrefix string // prefix for NS; empty declares the default namespace
}

// Rest is a rest-xml HTTP binding.
type Rest struct {
	Location string // "", "header", "headers", "querystring", "uri", "statusCode", "payload"
	Name     string // header name, header prefix, query parameter or URI label
}

// Value returns the field of struct value v.
func (f *Field) Value(v reflect.Value) reflect.Value { return v.Field(f.Index) }

// Target returns the settable non-pointer value a decoder should fill for this field
// of the addressable struct v, allocating the pointer when the field is one.
func (f *Field) Target(v reflect.Value) reflect.Value {
	fv := v.Field(f.Index)
	if f.Ptr {
		if fv.IsNil() {
			fv.Set(reflect.New(f.Type.Go))
		}
		return fv.Elem()
	}
	return fv
}

// Present reports whether the field of struct value v holds something to serialize:
// a non-nil pointer, slice or map, or any non-pointer scalar or struct.
func (f *Field) Present(v reflect.Value) bool {
	fv := v.Field(f.Index)
	switch {
	case f.Ptr:
		return !fv.IsNil()
	case f.Type.Kind == List, f.Type.Kind == Map, f.Type.Kind == Blob, f.Type.Kind == Document:
		return !fv.IsNil()
	}
	return true
}

// ByJSON returns the field with JSON key name.
func (t *Type) ByJSON(name string) *Field { return t.byJSON[name] }

// ByCBOR returns the field with CBOR key name.
func (t *Type) ByCBOR(name string) *Field { return t.byCBOR[name] }

// ByXML returns the field serialized as XML element name.
func (t *Type) ByXML(name string) *Field { return t.byXML[name] }

var (
	cache   sync.Map // reflect.Type -> *Type
	buildMu sync.Mutex
	timeTyp = reflect.TypeOf(time.Time{})
)

// For returns the plan of t, or of what t points to.
func For(t reflect.Type) *Type {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if p, ok := cache.Load(t); ok {
		return p.(*Type)
	}
	buildMu.Lock()
	defer buildMu.Unlock()
	if p, ok := cache.Load(t); ok {
		return p.(*Type)
	}
	building := map[reflect.Type]*Type{}
	p := build(t, building)
	// Publish only complete plans: recursive types referenced placeholders that are
	// now filled in.
	for k, v := range building {
		cache.Store(k, v)
	}
	return p
}

func build(t reflect.Type, building map[reflect.Type]*Type) *Type {
	if p, ok := cache.Load(t); ok {
		return p.(*Type)
	}
	if p, ok := building[t]; ok {
		return p
	}
	p := &Type{Go: t}
	building[t] = p
	switch t.Kind() {
	case reflect.String:
		p.Kind = String
	case reflect.Bool:
		p.Kind = Bool
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		p.Kind, p.Bits = Int, t.Bits()
	case reflect.Float32, reflect.Float64:
		p.Kind, p.Bits = Float, t.Bits()
	case reflect.Interface:
		if t.NumMethod() == 0 {
			p.Kind = Document
		}
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			p.Kind = Blob
			break
		}
		p.Kind = List
		p.Elem, p.ElemPtr = elem(t.Elem(), building)
	case reflect.Map:
		if t.Key().Kind() == reflect.String {
			p.Kind = Map
			p.Elem, p.ElemPtr = elem(t.Elem(), building)
		}
	case reflect.Struct:
		if t == timeTyp {
			p.Kind = Timestamp
			break
		}
		p.Kind = Struct
		buildStruct(p, building)
	}
	return p
}

func elem(t reflect.Type, building map[reflect.Type]*Type) (*Type, bool) {
	if t.Kind() == reflect.Pointer {
		return build(t.Elem(), building), true
	}
	return build(t, building), false
}

func buildStruct(p *Type, building map[reflect.Type]*Type) {
	p.byJSON, p.byCBOR, p.byXML = map[string]*Field{}, map[string]*Field{}, map[string]*Field{}
	t := p.Go
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		if !sf.IsExported() || sf.Anonymous {
			continue
		}
		f := &Field{GoName: sf.Name, Index: i}
		ft := sf.Type
		if ft.Kind() == reflect.Pointer {
			f.Ptr, ft = true, ft.Elem()
		}
		f.Type = build(ft, building)
		f.Query = parseNames(sf.Tag, "query", sf.Name)
		f.EC2 = parseNames(sf.Tag, "ec2", sf.Name)
		f.XML = parseXMLNames(sf.Tag, sf.Name)
		f.JSON, f.JSONOmitEmpty = jsonName(sf.Tag.Get("json"), sf.Name)
		if c, ok := sf.Tag.Lookup("cbor"); ok {
			f.CBOR, _ = jsonName(c, sf.Name)
		} else {
			f.CBOR = f.JSON
		}
		f.Rest = parseRest(sf.Tag.Get("rest"))
		parseAWS(f, sf.Tag.Get("aws"))
		for _, n := range []*Names{&f.Query, &f.EC2, &f.XML} {
			if n.Name != "" {
				n.Key, n.Value = f.mapKey, f.mapValue
			}
		}
		f.XML.NS, f.XML.NSPrefix = f.ns, f.nsPrefix
		p.Fields = append(p.Fields, f)
		if f.JSON != "" {
			p.byJSON[f.JSON] = f
		}
		if f.CBOR != "" {
			p.byCBOR[f.CBOR] = f
		}
		if f.XML.Name != "" && !f.XML.Attr && (f.Rest.Location == "" || f.Rest.Location == "payload") {
			p.byXML[f.XML.Name] = f
		}
	}
}

func parseNames(tag reflect.StructTag, key, goName string) Names {
	n := Names{Member: "member", Key: "key", Value: "value"}
	v, ok := tag.Lookup(key)
	if !ok {
		n.Name = goName
		return n
	}
	name, opts, _ := strings.Cut(v, ",")
	if name == "-" {
		return Names{}
	}
	if name == "" {
		name = goName
	}
	n.Name = name
	for opts != "" {
		var opt string
		opt, opts, _ = strings.Cut(opts, ",")
		k, val, _ := strings.Cut(opt, "=")
		switch k {
		case "flat":
			n.Flat = true
		case "member":
			n.Member = val
		}
	}
	return n
}

// parseXMLNames reads an xml tag in encoding/xml's syntax: Name, Name>Member (a
// wrapped list or map) or Name,attr.
func parseXMLNames(tag reflect.StructTag, goName string) Names {
	n := Names{Member: "member", Key: "key", Value: "value", Flat: true}
	v, ok := tag.Lookup("xml")
	if !ok {
		n.Name = goName
		return n
	}
	name, opts, _ := strings.Cut(v, ",")
	if name == "-" {
		return Names{}
	}
	if outer, member, wrapped := strings.Cut(name, ">"); wrapped {
		name, n.Member, n.Flat = outer, member, false
	}
	if name == "" {
		name = goName
	}
	n.Name = name
	for opts != "" {
		var opt string
		opt, opts, _ = strings.Cut(opts, ",")
		n.Attr = n.Attr || opt == "attr"
	}
	return n
}

func jsonName(v, goName string) (string, bool) {
	name, opts, _ := strings.Cut(v, ",")
	if name == "-" && opts == "" {
		return "", false
	}
	if name == "" {
		name = goName
	}
	omit := false
	for opts != "" {
		var opt string
		opt, opts, _ = strings.Cut(opts, ",")
		omit = omit || opt == "omitempty"
	}
	return name, omit
}

func parseRest(v string) Rest {
	loc, name, _ := strings.Cut(v, ",")
	return Rest{Location: loc, Name: name}
}

func parseAWS(f *Field, v string) {
	f.mapKey, f.mapValue = "key", "value"
	for v != "" {
		var opt string
		opt, v, _ = strings.Cut(v, ",")
		k, val, _ := strings.Cut(opt, "=")
		switch k {
		case "required":
			f.Required = true
		case "ts":
			f.TimestampFormat = val
		case "streaming":
			f.Streaming = true
		case "key":
			f.mapKey = val
		case "value":
			f.mapValue = val
		case "ns":
			f.ns = val
		case "nsprefix":
			f.nsPrefix = val
		}
	}
}
