// Package protocol holds what every AWS wire protocol codec in Banyan shares: the
// Protocol interface a router drives, the per-operation metadata that api/gen emits for
// each service (Service, Operation, ModeledError), request IDs, bounded body reading and
// the timestamp formats AWS uses on the wire.
//
// The codecs themselves live in subpackages, one per protocol family: query (awsQuery:
// IAM, STS, Auto Scaling, ELB), ec2query (EC2), restxml (S3 helpers), awsjson (awsJson
// 1.0/1.1) and rpcv2cbor (smithy-rpc-v2-cbor: CloudWatch as aws-cli v1 speaks it). They
// (de)serialize the structs api/gen generates by reflection over their struct tags; the
// tag conventions are documented in internal/shape.
package protocol

import (
	"net/http"

	"github.com/banyancloud/banyan/api/awserr"
)

// ErrorWriter writes an AWS error in a protocol's own error shape. Every codec,
// including restxml's helpers, satisfies it, so the front door can answer even a
// request it could not route.
type ErrorWriter interface {
	// WriteError answers the request with e and the given request ID; the HTTP status
	// comes from e.HTTPStatus.
	WriteError(w http.ResponseWriter, r *http.Request, e *awserr.Error, requestID string)
}

// Protocol is what a router needs from an RPC-style codec: find the operation a
// request calls and decode its input, then answer with the output or an error.
type Protocol interface {
	ErrorWriter
	// Decode identifies the operation r calls and decodes its input into a new value
	// from op.NewInput (nil when the operation has no input). A non-nil error is always
	// an *awserr.Error ready for WriteError.
	Decode(r *http.Request) (op *Operation, input any, err error)
	// WriteResponse answers a successful call; output is the operation's output
	// struct (a pointer), or nil when the operation has none.
	WriteResponse(w http.ResponseWriter, r *http.Request, op *Operation, output any, requestID string) error
}

// Service is one AWS service's wire-level metadata, as api/gen emits it from the
// botocore model.
type Service struct {
	ID              string // serviceId, e.g. "IAM"
	EndpointPrefix  string // e.g. "iam", "monitoring"
	APIVersion      string // the Version a query client sends
	Protocol        string // metadata.protocol: query, ec2, rest-xml, json, smithy-rpc-v2-cbor
	Protocols       []string
	XMLNamespace    string
	TargetPrefix    string // awsJson X-Amz-Target prefix; rpc-v2-cbor service name in the path
	JSONVersion     string
	QueryCompatible bool // awsQueryCompatible: JSON/CBOR errors carry x-amzn-query-error
	Operations      map[string]*Operation
	Errors          map[string]ModeledError // keyed by error shape name
}

// Operation is one API action.
type Operation struct {
	Name          string
	HTTPMethod    string
	RequestURI    string
	ResultWrapper string // awsQuery's <{Op}Result> element, empty if none
	// NewInput and NewOutput return a pointer to a fresh input/output struct; nil when
	// the operation has no input/output shape.
	NewInput  func() any
	NewOutput func() any
	Errors    []string // modeled error shape names the operation may return
}

// ModeledError is an error shape of a service model.
type ModeledError struct {
	Code        string // the wire code, e.g. "NoSuchEntity" for NoSuchEntityException
	HTTPStatus  int
	SenderFault bool
}

// Error returns an *awserr.Error for a modeled error with the given message.
func (m ModeledError) Error(message string) *awserr.Error {
	fault := "Receiver"
	if m.SenderFault {
		fault = "Sender"
	}
	status := m.HTTPStatus
	if status == 0 {
		status = http.StatusBadRequest
		if !m.SenderFault {
			status = http.StatusInternalServerError
		}
	}
	return &awserr.Error{Code: m.Code, Message: message, HTTPStatus: status, Fault: fault}
}
