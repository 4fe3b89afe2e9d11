// Package awserr defines the one error type Banyan's AWS front door speaks: an AWS error
// code, the HTTP status AWS answers it with, and a message a person can act on.
//
// Subsystems return their own typed or sentinel errors; the front door maps them to an
// *Error through one table (see api/errmap, added with the services), and each wire
// protocol serializes an *Error in its own shape. Handlers never invent codes inline.
package awserr

import (
	"errors"
	"fmt"
	"net/http"
)

// Error is an AWS API error as the client will see it.
type Error struct {
	Code       string // AWS error code, e.g. "SignatureDoesNotMatch"
	Message    string // human-readable message
	HTTPStatus int    // HTTP status AWS uses for this code
	// Fault is "Sender" for client errors and "Receiver" for server errors, as the query
	// protocols report it. Derived from HTTPStatus when empty.
	Fault string
	// Region, for S3, is the region a request signed for another one should have been
	// signed for: S3 names it in its error document (<Region>) and the x-amz-bucket-region
	// header, and SDKs sign again for it.
	Region string
}

// New returns an error with the given code, HTTP status and message.
func New(code string, status int, message string) *Error {
	return &Error{Code: code, HTTPStatus: status, Message: message}
}

// Error implements error.
func (e *Error) Error() string {
	if e.Message == "" {
		return e.Code
	}
	return e.Code + ": " + e.Message
}

// WithMessage returns a copy of e with a formatted message, leaving e untouched so that
// package-level prototype errors can be shared.
func (e *Error) WithMessage(format string, args ...any) *Error {
	c := *e
	c.Message = fmt.Sprintf(format, args...)
	return &c
}

// Is reports whether target is an *Error with the same code, so errors.Is works against
// the prototypes below whatever their message.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// SenderFault reports whether the caller is at fault (4xx).
func (e *Error) SenderFault() bool {
	if e.Fault != "" {
		return e.Fault == "Sender"
	}
	return e.HTTPStatus < 500
}

// As returns err as an *Error if it is one (anywhere in its chain), or an InternalError
// that hides the internal detail from the client otherwise.
func As(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return InternalError
}

// Retryable reports whether err, anywhere in its chain, says it is a transient failure
// of the cluster (no Raft leader within the write hold, a node shutting down): the
// caller should try again, and every service answers it with its 503 "try again" code.
// Lower layers mark such errors with a Retryable method, so the front door needs to
// import none of them.
func Retryable(err error) bool {
	var r interface{ Retryable() bool }
	return errors.As(err, &r) && r.Retryable()
}

// Common errors shared by every service. Service-specific codes live with their service.
var (
	AccessDenied               = New("AccessDenied", http.StatusForbidden, "Access Denied")
	InternalError              = New("InternalError", http.StatusInternalServerError, "We encountered an internal error. Please try again.")
	ServiceUnavailable         = New("ServiceUnavailable", http.StatusServiceUnavailable, "The service is unavailable. Please try again.")
	InvalidAction              = New("InvalidAction", http.StatusBadRequest, "The action or operation requested is invalid.")
	MissingAction              = New("MissingAction", http.StatusBadRequest, "The request is missing an action or a required parameter.")
	MalformedQueryString       = New("MalformedQueryString", http.StatusBadRequest, "The query string is malformed.")
	InvalidParameterValue      = New("InvalidParameterValue", http.StatusBadRequest, "An invalid or out-of-range value was supplied for the input parameter.")
	MissingParameter           = New("MissingParameter", http.StatusBadRequest, "A required parameter for the specified action is not supplied.")
	ValidationError            = New("ValidationError", http.StatusBadRequest, "The input fails to satisfy the constraints specified by the service.")
	IncompleteSignature        = New("IncompleteSignature", http.StatusBadRequest, "The request signature does not conform to AWS standards.")
	InvalidClientTokenID       = New("InvalidClientTokenId", http.StatusForbidden, "The security token included in the request is invalid.")
	SignatureDoesNotMatch      = New("SignatureDoesNotMatch", http.StatusForbidden, "The request signature we calculated does not match the signature you provided.")
	RequestTimeTooSkewed       = New("RequestTimeTooSkewed", http.StatusForbidden, "The difference between the request time and the current time is too large.")
	ExpiredToken               = New("ExpiredToken", http.StatusForbidden, "The security token included in the request is expired.")
	MissingAuthenticationToken = New("MissingAuthenticationToken", http.StatusForbidden, "Request is missing Authentication Token.")
	RequestEntityTooLarge      = New("RequestEntityTooLarge", http.StatusRequestEntityTooLarge, "The request body is larger than the limit.")
)
