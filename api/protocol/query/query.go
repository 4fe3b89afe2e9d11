// Package query is the awsQuery protocol codec (IAM, STS, Auto Scaling, Elastic Load
// Balancing, CloudWatch's query mode): requests are form parameters in a POST body or
// a GET query string, responses and errors are XML in the service's namespace.
package query

import (
	"bytes"
	"errors"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"sync"

	"github.com/banyancloud/banyan/api/awserr"
	"github.com/banyancloud/banyan/api/protocol"
	"github.com/banyancloud/banyan/api/protocol/internal/form"
	"github.com/banyancloud/banyan/api/protocol/internal/shape"
	"github.com/banyancloud/banyan/api/protocol/internal/xmlcodec"
)

// Codec speaks awsQuery for one service. Its zero value is not usable; build it with
// New. Fields may be adjusted before first use.
type Codec struct {
	Service *protocol.Service
	// MaxBodyBytes bounds the form body (after gzip); <= 0 means
	// protocol.DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// InputError maps a member that failed to decode to the error the service answers
	// with; DefaultInputError when nil.
	InputError func(*protocol.InputError) *awserr.Error
}

// New returns a codec for svc (the Service variable api/gen emits).
func New(svc *protocol.Service) *Codec { return &Codec{Service: svc} }

var _ protocol.Protocol = (*Codec)(nil)

// DefaultInputError answers as IAM and STS do: ValidationError, 400, with AWS's
// "1 validation error detected" message naming the member in lowerCamel.
func DefaultInputError(e *protocol.InputError) *awserr.Error {
	if e.Missing {
		return awserr.ValidationError.WithMessage("1 validation error detected: Value null at '%s' failed to satisfy constraint: Member must not be null", e.Member)
	}
	return awserr.ValidationError.WithMessage("1 validation error detected: Value %s at '%s' failed to satisfy constraint: Member must be a valid %s", protocol.Quote(e.Value, 64), e.Member, e.Kind)
}

// ReadValues returns the request's parameters: the URL query merged with a
// form-encoded body (POST), body values first. Undecodable encodings answer
// MalformedQueryString; bodies over maxBytes RequestEntityTooLarge.
func ReadValues(r *http.Request, maxBytes int64) (url.Values, error) {
	values, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, malformed(err)
	}
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return values, nil
	}
	ct := r.Header.Get("Content-Type")
	if ct != "" && !strings.HasPrefix(strings.ToLower(strings.TrimSpace(ct)), "application/x-www-form-urlencoded") {
		return nil, awserr.New("UnsupportedMediaType", http.StatusUnsupportedMediaType,
			"Content-Type "+ct+" is not supported; send application/x-www-form-urlencoded.")
	}
	body, err := protocol.ReadBody(r, maxBytes)
	if err != nil {
		return nil, err
	}
	if len(body) == 0 {
		return values, nil
	}
	bodyValues, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, malformed(err)
	}
	for k, v := range values {
		bodyValues[k] = append(bodyValues[k], v...)
	}
	return bodyValues, nil
}

func malformed(err error) *awserr.Error {
	msg := err.Error()
	var esc url.EscapeError
	if errors.As(err, &esc) {
		msg = "invalid URL escape " + string(esc)
	}
	return awserr.MalformedQueryString.WithMessage("The query string is malformed: %s", msg)
}

// Unmarshal fills the input struct v points to from awsQuery parameters. It returns a
// *protocol.InputError for a member of the wrong type or a missing required member.
func Unmarshal(values url.Values, v any) error { return form.Decode(values, v, form.Query) }

// Decode implements protocol.Protocol.
func (c *Codec) Decode(r *http.Request) (*protocol.Operation, any, error) {
	values, err := ReadValues(r, c.MaxBodyBytes)
	if err != nil {
		return nil, nil, err
	}
	return c.DecodeValues(values)
}

// DecodeValues is Decode for parameters a router has already read (it needs them to
// check the signature and to tell the service from the Action).
func (c *Codec) DecodeValues(values url.Values) (*protocol.Operation, any, error) {
	action := values.Get("Action")
	if action == "" {
		return nil, nil, awserr.MissingAction.WithMessage("The request must contain the parameter Action.")
	}
	op := c.Service.Operations[action]
	if op == nil {
		return nil, nil, awserr.InvalidAction.WithMessage("Could not find operation %s for version %s.", action, c.Service.APIVersion)
	}
	if op.NewInput == nil {
		return op, nil, nil
	}
	in := op.NewInput()
	if err := Unmarshal(values, in); err != nil {
		return op, nil, c.inputError(err)
	}
	return op, in, nil
}

func (c *Codec) inputError(err error) *awserr.Error {
	var ie *protocol.InputError
	if !errors.As(err, &ie) {
		return awserr.As(err)
	}
	if c.InputError != nil {
		return c.InputError(ie)
	}
	return DefaultInputError(ie)
}

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// AppendResponse appends the XML response document of op: its output inside
// <{Op}Result> (op.ResultWrapper) and the request ID in ResponseMetadata.
func AppendResponse(b []byte, namespace string, op *protocol.Operation, output any, requestID string) []byte {
	b = append(b, '<')
	b = append(b, op.Name...)
	b = append(b, `Response xmlns="`...)
	b = xmlcodec.AppendEscaped(b, namespace)
	b = append(b, `">`...)
	if rv := reflect.Indirect(reflect.ValueOf(output)); rv.Kind() == reflect.Struct {
		t := shape.For(rv.Type())
		enc := xmlcodec.Encoder{Time: shape.TimeISO8601}
		if op.ResultWrapper != "" {
			b = append(b, '<')
			b = append(b, op.ResultWrapper...)
			b = append(b, '>')
		}
		b = enc.AppendFields(b, rv, t)
		if op.ResultWrapper != "" {
			b = append(b, "</"...)
			b = append(b, op.ResultWrapper...)
			b = append(b, '>')
		}
	}
	b = append(b, "<ResponseMetadata><RequestId>"...)
	b = xmlcodec.AppendEscaped(b, requestID)
	b = append(b, "</RequestId></ResponseMetadata></"...)
	b = append(b, op.Name...)
	return append(b, "Response>"...)
}

// WriteResponse implements protocol.Protocol.
func (c *Codec) WriteResponse(w http.ResponseWriter, r *http.Request, op *protocol.Operation, output any, requestID string) error {
	buf := bufPool.Get().(*bytes.Buffer)
	defer bufPool.Put(buf)
	buf.Reset()
	buf.Write(AppendResponse(buf.AvailableBuffer(), c.Service.XMLNamespace, op, output, requestID))
	return write(w, http.StatusOK, requestID, buf.Bytes())
}

// AppendError appends the awsQuery ErrorResponse document for e.
func AppendError(b []byte, namespace string, e *awserr.Error, requestID string) []byte {
	fault := "Receiver"
	if e.SenderFault() {
		fault = "Sender"
	}
	b = append(b, `<ErrorResponse xmlns="`...)
	b = xmlcodec.AppendEscaped(b, namespace)
	b = append(b, `"><Error><Type>`...)
	b = append(b, fault...)
	b = append(b, "</Type><Code>"...)
	b = xmlcodec.AppendEscaped(b, e.Code)
	b = append(b, "</Code><Message>"...)
	b = xmlcodec.AppendEscaped(b, e.Message)
	b = append(b, "</Message></Error><RequestId>"...)
	b = xmlcodec.AppendEscaped(b, requestID)
	return append(b, "</RequestId></ErrorResponse>"...)
}

// WriteError implements protocol.ErrorWriter.
func (c *Codec) WriteError(w http.ResponseWriter, r *http.Request, e *awserr.Error, requestID string) {
	status := e.HTTPStatus
	if status == 0 {
		status = http.StatusBadRequest
	}
	ns := ""
	if c.Service != nil {
		ns = c.Service.XMLNamespace
	}
	_ = write(w, status, requestID, AppendError(nil, ns, e, requestID))
}

func write(w http.ResponseWriter, status int, requestID string, body []byte) error {
	h := w.Header()
	h.Set("Content-Type", "text/xml")
	h.Set("x-amzn-RequestId", requestID)
	w.WriteHeader(status)
	_, err := w.Write(body)
	return err
}
