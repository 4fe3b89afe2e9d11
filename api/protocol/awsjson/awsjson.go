// Package awsjson is the awsJson 1.0/1.1 protocol codec: POST / with the operation in
// X-Amz-Target (Prefix.Operation), a JSON body keyed by the json struct tags, and
// errors as {"__type": code, "message": ...}.
package awsjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/banyancloud/banyan/api/awserr"
	"github.com/banyancloud/banyan/api/protocol"
	"github.com/banyancloud/banyan/api/protocol/internal/tree"
)

// Errors of the protocol layer itself, as AWS's JSON services name them.
var (
	SerializationException    = awserr.New("SerializationException", http.StatusBadRequest, "The request body could not be parsed.")
	UnknownOperationException = awserr.New("UnknownOperationException", http.StatusBadRequest, "The operation is not supported by this service.")
	ValidationException       = awserr.New("ValidationException", http.StatusBadRequest, "The input fails to satisfy the constraints specified by the service.")
)

// Codec speaks awsJson for one service. Build it with New; fields may be adjusted
// before first use.
type Codec struct {
	Service *protocol.Service
	// MaxBodyBytes bounds the body (after gzip); <= 0 means protocol.DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// InputError maps a member that failed to decode; DefaultInputError when nil.
	InputError func(*protocol.InputError) *awserr.Error
}

// New returns a codec for svc.
func New(svc *protocol.Service) *Codec { return &Codec{Service: svc} }

var _ protocol.Protocol = (*Codec)(nil)

// DefaultInputError answers as the JSON services do: a value of the wrong JSON type is
// a SerializationException, a missing required member a ValidationException.
func DefaultInputError(e *protocol.InputError) *awserr.Error {
	if e.Missing {
		return ValidationException.WithMessage("1 validation error detected: Value null at '%s' failed to satisfy constraint: Member must not be null", e.Member)
	}
	return SerializationException.WithMessage("Value %s at '%s' cannot be converted to %s", protocol.Quote(e.Value, 64), e.Member, e.Kind)
}

// ContentType returns the Content-Type of awsJson version ver ("1.0" or "1.1").
func ContentType(ver string) string {
	if ver == "" {
		ver = "1.0"
	}
	return "application/x-amz-json-" + ver
}

// Unmarshal decodes JSON body into the input struct v points to; an empty body is an
// empty object. Malformed JSON is a *json.SyntaxError (or another encoding/json error);
// a member of the wrong type or a missing required one a *protocol.InputError.
func Unmarshal(body []byte, v any) error {
	var doc any
	if len(bytes.TrimSpace(body)) > 0 {
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.UseNumber()
		if err := dec.Decode(&doc); err != nil {
			return err
		}
		if _, err := dec.Token(); err != io.EOF {
			return errors.New("json: data after the top-level value")
		}
		if _, ok := doc.(map[string]any); !ok {
			return errors.New("json: the top-level value is not an object")
		}
	}
	return tree.Decode(doc, v, tree.JSON)
}

// Decode implements protocol.Protocol.
func (c *Codec) Decode(r *http.Request) (*protocol.Operation, any, error) {
	target := r.Header.Get("X-Amz-Target")
	prefix, name, ok := strings.Cut(target, ".")
	if target == "" {
		return nil, nil, awserr.MissingAction.WithMessage("The request is missing the X-Amz-Target header.")
	}
	op := c.Service.Operations[name]
	if !ok || prefix != c.Service.TargetPrefix || op == nil {
		return nil, nil, UnknownOperationException.WithMessage("Operation %s is not supported by this service.", target)
	}
	if r.Method != http.MethodPost {
		return nil, nil, awserr.New("MethodNotAllowed", http.StatusMethodNotAllowed, "awsJson requests must be POST.")
	}
	body, err := protocol.ReadBody(r, c.MaxBodyBytes)
	if err != nil {
		return nil, nil, err
	}
	if op.NewInput == nil {
		return op, nil, nil
	}
	in := op.NewInput()
	if err := Unmarshal(body, in); err != nil {
		var ie *protocol.InputError
		if !errors.As(err, &ie) {
			return op, nil, SerializationException.WithMessage("The request body is not valid JSON: %s", err.Error())
		}
		if c.InputError != nil {
			return op, nil, c.InputError(ie)
		}
		return op, nil, DefaultInputError(ie)
	}
	return op, in, nil
}

// WriteResponse implements protocol.Protocol.
func (c *Codec) WriteResponse(w http.ResponseWriter, r *http.Request, op *protocol.Operation, output any, requestID string) error {
	body, err := Marshal(output)
	if err != nil {
		return err
	}
	c.headers(w, requestID)
	w.WriteHeader(http.StatusOK)
	_, err = w.Write(body)
	return err
}

// AppendError appends the JSON error document for e.
func AppendError(b []byte, e *awserr.Error) []byte {
	b = append(b, `{"__type":`...)
	b = appendString(b, e.Code)
	b = append(b, `,"message":`...)
	b = appendString(b, e.Message)
	return append(b, '}')
}

// WriteError implements protocol.ErrorWriter. For a service with the
// awsQueryCompatible trait it also sends x-amzn-query-error, from which clients take
// the query-era error code and fault.
func (c *Codec) WriteError(w http.ResponseWriter, r *http.Request, e *awserr.Error, requestID string) {
	status := e.HTTPStatus
	if status == 0 {
		status = http.StatusBadRequest
	}
	c.headers(w, requestID)
	if c.Service != nil && c.Service.QueryCompatible {
		w.Header().Set("x-amzn-query-error", QueryErrorHeader(e))
	}
	w.WriteHeader(status)
	_, _ = w.Write(AppendError(nil, e))
}

// QueryErrorHeader is the x-amzn-query-error value for e: "Code;Sender" or
// "Code;Receiver".
func QueryErrorHeader(e *awserr.Error) string {
	if e.SenderFault() {
		return e.Code + ";Sender"
	}
	return e.Code + ";Receiver"
}

func (c *Codec) headers(w http.ResponseWriter, requestID string) {
	h := w.Header()
	ver := ""
	if c.Service != nil {
		ver = c.Service.JSONVersion
	}
	h.Set("Content-Type", ContentType(ver))
	h.Set("x-amzn-RequestId", requestID)
}
