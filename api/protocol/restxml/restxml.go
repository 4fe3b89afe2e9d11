// Package restxml holds the rest-xml (S3) pieces a hand-routed S3 front end needs:
// XML bodies in S3's namespace written from and read into generated structs, S3's error
// document, S3-style request IDs, and binding of header, URI and query-string members.
// Routing S3 requests (virtual hosts, subresources) belongs to the S3 front end, so
// there is no Decode here and the package satisfies protocol.ErrorWriter only.
package restxml

import (
	"bytes"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"reflect"
	"strconv"
	"strings"

	"github.com/banyancloud/banyan/api/awserr"
	"github.com/banyancloud/banyan/api/protocol"
	"github.com/banyancloud/banyan/api/protocol/internal/shape"
	"github.com/banyancloud/banyan/api/protocol/internal/xmlcodec"
)

// Namespace is S3's XML namespace.
const Namespace = "http://s3.amazonaws.com/doc/2006-03-01/"

const xmlHeader = `<?xml version="1.0" encoding="UTF-8"?>` + "\n"

// Errors of the XML layer, as S3 names them.
var (
	MalformedXML             = awserr.New("MalformedXML", http.StatusBadRequest, "The XML you provided was not well-formed or did not validate against our published schema.")
	MaxMessageLengthExceeded = awserr.New("MaxMessageLengthExceeded", http.StatusBadRequest, "Your request was too big.")
	InvalidArgument          = awserr.New("InvalidArgument", http.StatusBadRequest, "Invalid Argument")
)

// DefaultMaxXMLBytes bounds XML request bodies (S3's largest, DeleteObjects with 1000
// keys, stays well below it).
const DefaultMaxXMLBytes = 2 << 20

// Marshal returns the XML document of v's body members (header, URI and query-string
// members are left out) as the element root in S3's namespace.
func Marshal(root string, v any) []byte {
	b := append([]byte(xmlHeader), '<')
	b = append(b, root...)
	b = append(b, ` xmlns="`+Namespace+`"`...)
	rv := reflect.Indirect(reflect.ValueOf(v))
	if !rv.IsValid() {
		return append(append(append(b, "></"...), root...), '>')
	}
	t := shape.For(rv.Type())
	enc := xmlcodec.Encoder{Time: shape.TimeISO8601Millis}
	b = enc.AppendAttrs(b, rv, t)
	b = append(b, '>')
	b = enc.AppendFields(b, rv, t)
	b = append(b, "</"...)
	b = append(b, root...)
	return append(b, '>')
}

// WriteXML answers with status and v as the XML document root.
func WriteXML(w http.ResponseWriter, status int, root string, v any) error {
	body := Marshal(root, v)
	w.Header().Set("Content-Type", "application/xml")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, err := w.Write(body)
	return err
}

// Unmarshal reads an XML request body into the struct v points to: into its payload
// member when it has a structure payload (PutBucketTagging's Tagging), else into its
// body members. The root element's name is not checked. Malformed XML answers
// MalformedXML; a member that does not parse, InvalidArgument.
func Unmarshal(body []byte, v any) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		panic("restxml: Unmarshal needs a non-nil pointer to a struct")
	}
	rv = rv.Elem()
	t := shape.For(rv.Type())
	for _, f := range t.Fields {
		if f.Rest.Location == "payload" && f.Type.Kind == shape.Struct {
			rv, t = f.Target(rv), f.Type
			break
		}
	}
	d := xml.NewDecoder(bytes.NewReader(body))
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return MalformedXML
		}
		if err != nil {
			return MalformedXML.WithMessage("%s: %s", MalformedXML.Message, err.Error())
		}
		if start, ok := tok.(xml.StartElement); ok {
			err := xmlcodec.DecodeStruct(d, start, rv, t)
			var ie *protocol.InputError
			switch {
			case errors.As(err, &ie):
				return InvalidArgument.WithMessage("Invalid value for %s: %s", ie.Path, protocol.Quote(ie.Value, 64))
			case err != nil:
				return MalformedXML.WithMessage("%s: %s", MalformedXML.Message, err.Error())
			}
			return nil
		}
	}
}

// ReadXML reads r's body (at most limit bytes; <= 0 means DefaultMaxXMLBytes) and
// unmarshals it into v.
func ReadXML(r *http.Request, limit int64, v any) error {
	if limit <= 0 {
		limit = DefaultMaxXMLBytes
	}
	body, err := protocol.ReadBody(r, limit)
	var ae *awserr.Error
	if errors.As(err, &ae) && ae.Code == awserr.RequestEntityTooLarge.Code {
		return MaxMessageLengthExceeded
	}
	if err != nil {
		return err
	}
	return Unmarshal(body, v)
}

// Codec writes S3 errors; HostID is the x-amz-id-2 value it reports (a fresh random one
// per error when empty).
type Codec struct {
	HostID string
}

var _ protocol.ErrorWriter = (*Codec)(nil)

// WriteError implements protocol.ErrorWriter with the request path as the Resource.
func (c *Codec) WriteError(w http.ResponseWriter, r *http.Request, e *awserr.Error, requestID string) {
	hostID := c.HostID
	if hostID == "" {
		hostID = NewHostID()
	}
	WriteError(w, r, e, r.URL.Path, requestID, hostID)
}

// AppendError appends S3's error document.
func AppendError(b []byte, e *awserr.Error, resource, requestID, hostID string) []byte {
	b = append(b, xmlHeader+"<Error><Code>"...)
	b = xmlcodec.AppendEscaped(b, e.Code)
	b = append(b, "</Code><Message>"...)
	b = xmlcodec.AppendEscaped(b, e.Message)
	b = append(b, "</Message>"...)
	if e.Region != "" {
		b = append(b, "<Region>"...)
		b = xmlcodec.AppendEscaped(b, e.Region)
		b = append(b, "</Region>"...)
	}
	if resource != "" {
		b = append(b, "<Resource>"...)
		b = xmlcodec.AppendEscaped(b, resource)
		b = append(b, "</Resource>"...)
	}
	b = append(b, "<RequestId>"...)
	b = xmlcodec.AppendEscaped(b, requestID)
	b = append(b, "</RequestId><HostId>"...)
	b = xmlcodec.AppendEscaped(b, hostID)
	return append(b, "</HostId></Error>"...)
}

// WriteError answers with S3's error document, or for HEAD with the status alone, since
// a HEAD response has no body to carry it.
func WriteError(w http.ResponseWriter, r *http.Request, e *awserr.Error, resource, requestID, hostID string) {
	status := e.HTTPStatus
	if status == 0 {
		status = http.StatusBadRequest
	}
	h := w.Header()
	h.Set("x-amz-request-id", requestID)
	h.Set("x-amz-id-2", hostID)
	if e.Region != "" {
		h.Set("x-amz-bucket-region", e.Region)
	}
	if r != nil && r.Method == http.MethodHead {
		w.WriteHeader(status)
		return
	}
	body := AppendError(nil, e, resource, requestID, hostID)
	h.Set("Content-Type", "application/xml")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// NewRequestID returns an S3-style request ID: 16 upper-case hex digits.
func NewRequestID() string {
	return strings.ToUpper(strconv.FormatUint(rand.Uint64()|1<<63, 16))
}

// NewHostID returns an S3-style x-amz-id-2: base64 of random bytes.
func NewHostID() string {
	var raw [48]byte
	for i := 0; i < len(raw); i += 8 {
		v := rand.Uint64()
		for j := 0; j < 8; j++ {
			raw[i+j] = byte(v >> (8 * j))
		}
	}
	return base64.StdEncoding.EncodeToString(raw[:])
}
