// Package ec2query is the codec of EC2's dialect of the query protocol: form
// parameters named by queryName or the capitalized locationName with lists as Name.N,
// responses without a Result wrapper and with lowerCamel elements and <item> lists, and
// errors in a <Response><Errors> document.
package ec2query

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
	"github.com/banyancloud/banyan/api/protocol/query"
)

// Codec speaks the EC2 protocol for one service. Build it with New; fields may be
// adjusted before first use.
type Codec struct {
	Service *protocol.Service
	// MaxBodyBytes bounds the form body; <= 0 means protocol.DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// InputError maps a member that failed to decode; DefaultInputError when nil.
	InputError func(*protocol.InputError) *awserr.Error
}

// New returns a codec for svc.
func New(svc *protocol.Service) *Codec { return &Codec{Service: svc} }

var _ protocol.Protocol = (*Codec)(nil)

// DefaultInputError answers as EC2 does: MissingParameter for an absent required
// parameter, InvalidParameterValue for one that does not parse.
func DefaultInputError(e *protocol.InputError) *awserr.Error {
	if e.Missing {
		return awserr.MissingParameter.WithMessage("The request must contain the parameter %s", e.Path)
	}
	return awserr.InvalidParameterValue.WithMessage("Value (%s) for parameter %s is invalid. Expected: '%s'.", e.Value, e.Path, e.Kind)
}

// Namespace returns the response namespace for an EC2 model's xmlNamespace: the model
// spells it without the trailing slash that EC2 itself sends.
func Namespace(ns string) string {
	if ns != "" && !strings.HasSuffix(ns, "/") {
		return ns + "/"
	}
	return ns
}

// Unmarshal fills the input struct v points to from EC2 parameters.
func Unmarshal(values url.Values, v any) error { return form.Decode(values, v, form.EC2) }

// Decode implements protocol.Protocol.
func (c *Codec) Decode(r *http.Request) (*protocol.Operation, any, error) {
	values, err := query.ReadValues(r, c.MaxBodyBytes)
	if err != nil {
		return nil, nil, err
	}
	return c.DecodeValues(values)
}

// DecodeValues is Decode for parameters a router has already read.
func (c *Codec) DecodeValues(values url.Values) (*protocol.Operation, any, error) {
	action := values.Get("Action")
	if action == "" {
		return nil, nil, awserr.MissingAction.WithMessage("The request must contain the parameter Action")
	}
	op := c.Service.Operations[action]
	if op == nil {
		return nil, nil, awserr.InvalidAction.WithMessage("The action %s is not valid for this web service.", action)
	}
	if op.NewInput == nil {
		return op, nil, nil
	}
	in := op.NewInput()
	if err := Unmarshal(values, in); err != nil {
		var ie *protocol.InputError
		if !errors.As(err, &ie) {
			return op, nil, awserr.As(err)
		}
		if c.InputError != nil {
			return op, nil, c.InputError(ie)
		}
		return op, nil, DefaultInputError(ie)
	}
	return op, in, nil
}

const xmlHeader = `<?xml version="1.0" encoding="UTF-8"?>` + "\n"

// AppendResponse appends EC2's response document: <{Op}Response> with the request ID
// first and the output members directly inside.
func AppendResponse(b []byte, namespace string, op *protocol.Operation, output any, requestID string) []byte {
	b = append(b, xmlHeader...)
	b = append(b, '<')
	b = append(b, op.Name...)
	b = append(b, `Response xmlns="`...)
	b = xmlcodec.AppendEscaped(b, Namespace(namespace))
	b = append(b, `"><requestId>`...)
	b = xmlcodec.AppendEscaped(b, requestID)
	b = append(b, "</requestId>"...)
	if rv := reflect.Indirect(reflect.ValueOf(output)); rv.Kind() == reflect.Struct {
		b = xmlcodec.Encoder{Time: shape.TimeISO8601Millis}.AppendFields(b, rv, shape.For(rv.Type()))
	}
	b = append(b, "</"...)
	b = append(b, op.Name...)
	return append(b, "Response>"...)
}

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// WriteResponse implements protocol.Protocol.
func (c *Codec) WriteResponse(w http.ResponseWriter, r *http.Request, op *protocol.Operation, output any, requestID string) error {
	buf := bufPool.Get().(*bytes.Buffer)
	defer bufPool.Put(buf)
	buf.Reset()
	buf.Write(AppendResponse(buf.AvailableBuffer(), c.Service.XMLNamespace, op, output, requestID))
	return write(w, http.StatusOK, requestID, buf.Bytes())
}

// AppendError appends EC2's error document for e.
func AppendError(b []byte, e *awserr.Error, requestID string) []byte {
	b = append(b, xmlHeader...)
	b = append(b, "<Response><Errors><Error><Code>"...)
	b = xmlcodec.AppendEscaped(b, e.Code)
	b = append(b, "</Code><Message>"...)
	b = xmlcodec.AppendEscaped(b, e.Message)
	b = append(b, "</Message></Error></Errors><RequestID>"...)
	b = xmlcodec.AppendEscaped(b, requestID)
	return append(b, "</RequestID></Response>"...)
}

// WriteError implements protocol.ErrorWriter.
func (c *Codec) WriteError(w http.ResponseWriter, r *http.Request, e *awserr.Error, requestID string) {
	status := e.HTTPStatus
	if status == 0 {
		status = http.StatusBadRequest
	}
	_ = write(w, status, requestID, AppendError(nil, e, requestID))
}

func write(w http.ResponseWriter, status int, requestID string, body []byte) error {
	h := w.Header()
	h.Set("Content-Type", "text/xml;charset=UTF-8")
	h.Set("x-amzn-RequestId", requestID)
	w.WriteHeader(status)
	_, err := w.Write(body)
	return err
}
