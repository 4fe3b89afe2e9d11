package iam

import (
	"errors"
	"fmt"

	"github.com/banyancloud/banyan/api/awserr"
	"github.com/banyancloud/banyan/cluster/state"
)

// The IAM errors handlers return, built from the model's error shapes so that the code
// and HTTP status are AWS's.
func errNoSuchEntity(format string, args ...any) *awserr.Error {
	return Errors["NoSuchEntityException"].Error(fmt.Sprintf(format, args...))
}

func errAlreadyExists(format string, args ...any) *awserr.Error {
	return Errors["EntityAlreadyExistsException"].Error(fmt.Sprintf(format, args...))
}

func errDeleteConflict(format string, args ...any) *awserr.Error {
	return Errors["DeleteConflictException"].Error(fmt.Sprintf(format, args...))
}

func errLimitExceeded(format string, args ...any) *awserr.Error {
	return Errors["LimitExceededException"].Error(fmt.Sprintf(format, args...))
}

func errInvalidInput(format string, args ...any) *awserr.Error {
	return Errors["InvalidInputException"].Error(fmt.Sprintf(format, args...))
}

func errPasswordPolicy(format string, args ...any) *awserr.Error {
	return Errors["PasswordPolicyViolationException"].Error(fmt.Sprintf(format, args...))
}

func errValidation(format string, args ...any) *awserr.Error {
	return awserr.ValidationError.WithMessage(format, args...)
}

var (
	errConcurrent = Errors["ConcurrentModificationException"].Error(
		"The request was rejected because multiple requests to change this object were submitted simultaneously. Wait a few minutes and submit your request again.")
	errServiceFailure = Errors["ServiceFailureException"].Error(
		"The request processing has failed because of an unknown error, exception or failure.")
)

// MapError turns what a handler returned into IAM's error: AWS errors pass through, the
// state store's domain errors get IAM's codes, anything else is a ServiceFailure (the
// front door logs the original).
func MapError(err error) *awserr.Error {
	var ae *awserr.Error
	if errors.As(err, &ae) {
		return ae
	}
	var se *state.Error
	if errors.As(err, &se) {
		switch se.Code {
		case state.CodeNotFound:
			return errNoSuchEntity("The entity does not exist; it may have been deleted by a concurrent request.")
		case state.CodeAlreadyExists:
			return errAlreadyExists("The entity already exists; it may have been created by a concurrent request.")
		case state.CodeConflict:
			return errConcurrent
		case state.CodeInvalid:
			return errInvalidInput("%s", se.Message)
		case state.CodeLimitExceeded:
			return errLimitExceeded("%s", se.Message)
		}
	}
	return errServiceFailure
}
