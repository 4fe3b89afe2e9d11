// Package rpcv2cbor is the smithy-rpc-v2-cbor protocol codec (CloudWatch as aws-cli v1
// and boto3 speak it): POST /service/{ServiceName}/operation/{Operation} with
// smithy-protocol: rpc-v2-cbor, bodies as CBOR maps keyed by member name, timestamps as
// tag 1 epoch seconds, blobs as byte strings, and errors as {"__type", "message"} maps.
package rpcv2cbor

import (
	"errors"
	"net/http"
	"reflect"
	"strings"

	"github.com/fxamacker/cbor/v2"

	"github.com/banyancloud/banyan/api/awserr"
	"github.com/banyancloud/banyan/api/protocol"
	"github.com/banyancloud/banyan/api/protocol/internal/tree"
)

// Header values of the protocol.
const (
	ProtocolHeader = "smithy-protocol"
	ProtocolName   = "rpc-v2-cbor"
	ContentType    = "application/cbor"
)

// Errors of the protocol layer itself, as Smithy names them.
var (
	SerializationException    = awserr.New("SerializationException", http.StatusBadRequest, "The request body could not be parsed.")
	UnknownOperationException = awserr.New("UnknownOperationException", http.StatusNotFound, "The operation is not supported by this service.")
	ValidationException       = awserr.New("ValidationException", http.StatusBadRequest, "The input fails to satisfy the constraints specified by the service.")
)

var (
	// Decoding goes to a generic tree (maps with string keys, tag 1 as time.Time) that
	// internal/tree assigns by plan, so presence and types are checked as for JSON.
	decMode = mustDecMode(cbor.DecOptions{
		DefaultMapType:   reflect.TypeOf(map[string]any(nil)),
		MaxNestedLevels:  64,
		MaxArrayElements: 1 << 20,
		MaxMapPairs:      1 << 20,
	})
	// Encoding writes the struct directly. Times are tag 1 with an integer when whole
	// (what botocore itself sends) else a float; omitempty follows Go emptiness so a
	// *bool false is still sent; nil containers become empty ones because botocore
	// drops CBOR nulls; keys are sorted so the bytes are deterministic.
	encMode = mustEncMode(cbor.EncOptions{
		Time:          cbor.TimeUnixDynamic,
		TimeTag:       cbor.EncTagRequired,
		OmitEmpty:     cbor.OmitEmptyGoValue,
		NilContainers: cbor.NilContainerAsEmpty,
		Sort:          cbor.SortBytewiseLexical,
	})
)

func mustDecMode(o cbor.DecOptions) cbor.DecMode {
	m, err := o.DecMode()
	if err != nil {
		panic(err)
	}
	return m
}

func mustEncMode(o cbor.EncOptions) cbor.EncMode {
	m, err := o.EncMode()
	if err != nil {
		panic(err)
	}
	return m
}

// Codec speaks rpc-v2-cbor for one service. Build it with New; fields may be adjusted
// before first use.
type Codec struct {
	Service *protocol.Service
	// MaxBodyBytes bounds the body (after gzip); <= 0 means protocol.DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// InputError maps a member that failed to decode; DefaultInputError when nil.
	InputError func(*protocol.InputError) *awserr.Error
}

// New returns a codec for svc; its TargetPrefix is the ServiceName of request paths.
func New(svc *protocol.Service) *Codec { return &Codec{Service: svc} }

var _ protocol.Protocol = (*Codec)(nil)

// DefaultInputError maps a missing required member to ValidationException and a
// mistyped one to SerializationException.
func DefaultInputError(e *protocol.InputError) *awserr.Error {
	if e.Missing {
		return ValidationException.WithMessage("1 validation error detected: Value null at '%s' failed to satisfy constraint: Member must not be null", e.Member)
	}
	return SerializationException.WithMessage("Value %s at '%s' cannot be converted to %s", protocol.Quote(e.Value, 64), e.Member, e.Kind)
}

// Unmarshal decodes a CBOR body into the input struct v points to; an empty body is an
// empty map.
func Unmarshal(body []byte, v any) error {
	var doc any
	if len(body) > 0 {
		if err := decMode.Unmarshal(body, &doc); err != nil {
			return err
		}
		if _, ok := doc.(map[string]any); !ok {
			return errors.New("cbor: the top-level value is not a map")
		}
	}
	return tree.Decode(doc, v, tree.CBOR)
}

// Marshal encodes output (a pointer to a generated struct) as a CBOR map.
func Marshal(output any) ([]byte, error) { return encMode.Marshal(output) }

// Operation parses a request path into its service and operation names.
func Operation(path string) (service, operation string, ok bool) {
	i := strings.LastIndex(path, "/service/")
	if i < 0 {
		return "", "", false
	}
	service, rest, ok := strings.Cut(path[i+len("/service/"):], "/operation/")
	if !ok || service == "" || rest == "" || strings.Contains(rest, "/") {
		return "", "", false
	}
	return service, rest, true
}

// Decode implements protocol.Protocol.
func (c *Codec) Decode(r *http.Request) (*protocol.Operation, any, error) {
	svc, name, ok := Operation(r.URL.Path)
	op := c.Service.Operations[name]
	if !ok || svc != c.Service.TargetPrefix || op == nil {
		return nil, nil, UnknownOperationException.WithMessage("No operation at %s.", r.URL.Path)
	}
	if r.Method != http.MethodPost {
		return nil, nil, awserr.New("MethodNotAllowed", http.StatusMethodNotAllowed, "rpc-v2-cbor requests must be POST.")
	}
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, ContentType) {
		return nil, nil, awserr.New("UnsupportedMediaType", http.StatusUnsupportedMediaType, "Content-Type "+ct+" is not application/cbor.")
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
			return op, nil, SerializationException.WithMessage("The request body is not valid CBOR: %s", err.Error())
		}
		if c.InputError != nil {
			return op, nil, c.InputError(ie)
		}
		return op, nil, DefaultInputError(ie)
	}
	return op, in, nil
}

// WriteResponse implements protocol.Protocol. An operation without output answers
// with an empty body, which clients accept for it.
func (c *Codec) WriteResponse(w http.ResponseWriter, r *http.Request, op *protocol.Operation, output any, requestID string) error {
	var body []byte
	if rv := reflect.ValueOf(output); rv.IsValid() && !(rv.Kind() == reflect.Pointer && rv.IsNil()) {
		var err error
		if body, err = Marshal(output); err != nil {
			return err
		}
	} else if op != nil && op.NewOutput != nil {
		body = []byte{0xa0} // botocore cannot parse an empty body for a modeled output
	}
	headers(w, requestID, len(body) > 0)
	w.WriteHeader(http.StatusOK)
	_, err := w.Write(body)
	return err
}

// errorBody is the CBOR error document; botocore reads __type and message.
type errorBody struct {
	Type    string `cbor:"__type"`
	Message string `cbor:"message"`
}

// WriteError implements protocol.ErrorWriter. For a service with the
// awsQueryCompatible trait (CloudWatch) it also sends x-amzn-query-error, from which
// botocore takes the query-era error code.
func (c *Codec) WriteError(w http.ResponseWriter, r *http.Request, e *awserr.Error, requestID string) {
	status := e.HTTPStatus
	if status == 0 {
		status = http.StatusBadRequest
	}
	body, _ := encMode.Marshal(errorBody{Type: e.Code, Message: e.Message})
	headers(w, requestID, true)
	if c.Service != nil && c.Service.QueryCompatible {
		fault := "Receiver"
		if e.SenderFault() {
			fault = "Sender"
		}
		w.Header().Set("x-amzn-query-error", e.Code+";"+fault)
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func headers(w http.ResponseWriter, requestID string, body bool) {
	h := w.Header()
	h.Set(ProtocolHeader, ProtocolName)
	if body {
		h.Set("Content-Type", ContentType)
	}
	h.Set("x-amzn-RequestId", requestID)
}
