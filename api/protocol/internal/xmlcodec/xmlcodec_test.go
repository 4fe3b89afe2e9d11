package xmlcodec

import (
	"bytes"
	"encoding/xml"
	"reflect"
	"testing"
	"time"

	"github.com/banyancloud/banyan/api/protocol/internal/shape"
)

type grantee struct {
	Type string  `xml:"xsi:type,attr"`
	ID   *string `xml:"ID"`
}

type doc struct {
	Name    string            `xml:"Name"`
	Tags    []string          `xml:"Tags>item"`
	Flat    []int32           `xml:"N"`
	Attrs   map[string]string `xml:"Attrs>entry"`
	Flags   map[string]bool   `xml:"Flag" aws:"key=K,value=V"`
	When    *time.Time        `xml:"When"`
	Expires *time.Time        `xml:"Expires" aws:"ts=rfc822"`
	Grantee *grantee          `xml:"Grantee" aws:"ns=http://www.w3.org/2001/XMLSchema-instance,nsprefix=xsi"`
	Empty   []string          `xml:"Empty>member" aws:"required"`
	Header  *string           `xml:"-" rest:"header,X-H"`
	Kids    []*doc            `xml:"Kids>member"`
}

func TestRoundTrip(t *testing.T) {
	when := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	id, h := "me & you", "header"
	in := doc{
		Name: "a<b>", Tags: []string{"x", "y"}, Flat: []int32{1, 2}, Attrs: map[string]string{"b": "2", "a": "1"},
		Flags: map[string]bool{"on": true}, When: &when, Expires: &when, Grantee: &grantee{Type: "CanonicalUser", ID: &id},
		Header: &h, Kids: []*doc{{Name: "kid"}},
	}
	enc := Encoder{}
	b := []byte("<Doc>")
	b = enc.AppendFields(b, reflect.ValueOf(in), shape.For(reflect.TypeOf(in)))
	b = append(b, "</Doc>"...)
	want := `<Doc><Name>a&lt;b&gt;</Name><Tags><item>x</item><item>y</item></Tags><N>1</N><N>2</N>` +
		`<Attrs><entry><key>a</key><value>1</value></entry><entry><key>b</key><value>2</value></entry></Attrs>` +
		`<Flag><K>on</K><V>true</V></Flag><When>2024-01-02T03:04:05Z</When><Expires>Tue, 02 Jan 2024 03:04:05 GMT</Expires>` +
		`<Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="CanonicalUser"><ID>me &amp; you</ID></Grantee>` +
		`<Empty></Empty><Kids><member><Name>kid</Name><Empty></Empty></member></Kids></Doc>`
	if string(b) != want {
		t.Fatalf("encoded\n got %s\nwant %s", b, want)
	}

	var out doc
	d := xml.NewDecoder(bytes.NewReader(b))
	start, _ := d.Token()
	if err := DecodeStruct(d, start.(xml.StartElement), reflect.ValueOf(&out).Elem(), shape.For(reflect.TypeOf(out))); err != nil {
		t.Fatal(err)
	}
	in.Header = nil // not part of the body
	in.Empty = []string{}
	in.Kids[0].Empty = []string{}
	if !reflect.DeepEqual(in, out) {
		t.Errorf("round trip\n got %+v\nwant %+v", out, in)
	}
}

func TestEscaping(t *testing.T) {
	got := string(AppendEscaped(nil, "a\"b'c\r\n\t\x00\xff\u2028z"))
	if want := "a&quot;b'c&#xD;\n\t\uFFFD\uFFFD\u2028z"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
