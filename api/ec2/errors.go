package ec2

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/banyancloud/banyan/api/awserr"
	"github.com/banyancloud/banyan/cluster/state"
)

// EC2's error codes (its API reference's list; the model declares none). Handlers
// return these, or state errors that MapError turns into them.
func ec2err(code string, status int) func(format string, args ...any) *awserr.Error {
	return func(format string, args ...any) *awserr.Error {
		return awserr.New(code, status, fmt.Sprintf(format, args...))
	}
}

var (
	errInvalidParameterValue  = ec2err("InvalidParameterValue", http.StatusBadRequest)
	errInvalidParameterCombo  = ec2err("InvalidParameterCombination", http.StatusBadRequest)
	errMissingParameter       = ec2err("MissingParameter", http.StatusBadRequest)
	errInstanceNotFound       = ec2err("InvalidInstanceID.NotFound", http.StatusBadRequest)
	errInstanceMalformed      = ec2err("InvalidInstanceID.Malformed", http.StatusBadRequest)
	errAMINotFound            = ec2err("InvalidAMIID.NotFound", http.StatusBadRequest)
	errAMIMalformed           = ec2err("InvalidAMIID.Malformed", http.StatusBadRequest)
	errKeyPairNotFound        = ec2err("InvalidKeyPair.NotFound", http.StatusBadRequest)
	errKeyPairDuplicate       = ec2err("InvalidKeyPair.Duplicate", http.StatusBadRequest)
	errKeyFormat              = ec2err("InvalidKey.Format", http.StatusBadRequest)
	errIncorrectInstanceState = ec2err("IncorrectInstanceState", http.StatusBadRequest)
	errInsufficientCapacity   = ec2err("InsufficientInstanceCapacity", http.StatusInternalServerError)
	errInvalidID              = ec2err("InvalidID", http.StatusBadRequest)
	errImportTaskNotFound     = ec2err("InvalidConversionTaskId.Malformed", http.StatusBadRequest)
	errInvalidFilter          = ec2err("InvalidFilter", http.StatusBadRequest)
	errInvalidNextToken       = ec2err("InvalidNextToken", http.StatusBadRequest)
	errTagLimitExceeded       = ec2err("TagLimitExceeded", http.StatusBadRequest)
	errDryRun                 = awserr.New("DryRunOperation", http.StatusPreconditionFailed, "Request would have succeeded, but DryRun flag is set.")
	errUnauthorized           = ec2err("UnauthorizedOperation", http.StatusForbidden)
	errInternal               = awserr.New("InternalError", http.StatusInternalServerError, "An internal error has occurred.")
)

// MapError turns what a handler returned into EC2's error: AWS errors pass through, the
// state store's domain errors get EC2's codes, anything else is InternalError (the
// front door logs the original).
func MapError(err error) *awserr.Error {
	var ae *awserr.Error
	if errors.As(err, &ae) {
		return ae
	}
	var se *state.Error
	if errors.As(err, &se) {
		if ae := securityGroupError(se); ae != nil {
			return ae
		}
		if ae := blockDeviceError(se); ae != nil {
			return ae
		}
		if ae := addressError(se); ae != nil {
			return ae
		}
		switch se.Code {
		case state.CodeInsufficientCapacity:
			return errInsufficientCapacity("%s", se.Message)
		case state.CodeIncorrectState:
			return errIncorrectInstanceState("%s", se.Message)
		case state.CodeAlreadyExists:
			return errKeyPairDuplicate("%s", se.Message)
		case state.CodeLimitExceeded:
			return errTagLimitExceeded("%s", se.Message)
		case state.CodeOperationNotPermitted:
			return ec2err("OperationNotPermitted", http.StatusBadRequest)("%s", se.Message)
		case state.CodeInvalid:
			return errInvalidParameterValue("%s", se.Message)
		case state.CodeNotFound:
			switch {
			case strings.Contains(se.Message, "instance"):
				return errInstanceNotFound("%s", se.Message)
			case strings.Contains(se.Message, "image"):
				return errAMINotFound("%s", se.Message)
			}
			return errInvalidID("%s", se.Message)
		}
	}
	return errInternal
}
