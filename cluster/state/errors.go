package state

import "fmt"

// Code classifies a domain error so that it survives forwarding between nodes and the
// front door can map it to an AWS error code without parsing strings.
type Code string

// Error codes. Domains may add more; the front door's error table maps them.
const (
	CodeNotFound      Code = "NotFound"
	CodeAlreadyExists Code = "AlreadyExists"
	CodeInvalid       Code = "Invalid"
	CodeConflict      Code = "Conflict"
	CodeLimitExceeded Code = "LimitExceeded"
)

// Error is a domain error returned by an apply function or a query.
type Error struct {
	Code    Code   `cbor:"1,keyasint"`
	Message string `cbor:"2,keyasint"`
}

func (e *Error) Error() string { return e.Message }

// Is makes errors.Is match on the code alone.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// Errorf builds a domain error.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Sentinels for errors.Is.
var (
	ErrNotFound      = &Error{Code: CodeNotFound}
	ErrAlreadyExists = &Error{Code: CodeAlreadyExists}
	ErrInvalid       = &Error{Code: CodeInvalid}
	ErrConflict      = &Error{Code: CodeConflict}
)
