package sigv4

import (
	"fmt"
	"net/http"
	"time"

	"github.com/banyancloud/banyan/api/awserr"
)

// Codes AWS uses for authentication failures that the shared awserr prototypes don't cover:
// S3's own vocabulary, EC2's, and the JSON services' *Exception forms. Messages are AWS's.
var (
	AuthorizationHeaderMalformed      = awserr.New("AuthorizationHeaderMalformed", http.StatusBadRequest, "The authorization header is malformed.")
	AuthorizationQueryParametersError = awserr.New("AuthorizationQueryParametersError", http.StatusBadRequest, "Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.")
	InvalidAccessKeyID                = awserr.New("InvalidAccessKeyId", http.StatusForbidden, "The AWS Access Key Id you provided does not exist in our records.")
	InvalidToken                      = awserr.New("InvalidToken", http.StatusBadRequest, "The provided token is malformed or otherwise invalid.")
	S3ExpiredToken                    = awserr.New("ExpiredToken", http.StatusBadRequest, "The provided token has expired.")
	S3SignatureDoesNotMatch           = awserr.New("SignatureDoesNotMatch", http.StatusForbidden, "The request signature we calculated does not match the signature you provided. Check your key and signing method.")
	InvalidRequest                    = awserr.New("InvalidRequest", http.StatusBadRequest, "Invalid Request")
	InvalidArgument                   = awserr.New("InvalidArgument", http.StatusBadRequest, "Invalid Argument")
	XAmzContentSHA256Mismatch         = awserr.New("XAmzContentSHA256Mismatch", http.StatusBadRequest, "The provided 'x-amz-content-sha256' header does not match what was computed.")
	IncompleteBody                    = awserr.New("IncompleteBody", http.StatusBadRequest, "You did not provide the number of bytes specified by the Content-Length HTTP header.")
	MissingContentLength              = awserr.New("MissingContentLength", http.StatusLengthRequired, "You must provide the Content-Length HTTP header.")
	BadDigest                         = awserr.New("BadDigest", http.StatusBadRequest, "The Content-MD5 or checksum value that you specified did not match what the server received.")
	MalformedTrailerError             = awserr.New("MalformedTrailerError", http.StatusBadRequest, "The request contained trailing data that was not well-formed or did not conform to our published schema.")

	AuthFailure    = awserr.New("AuthFailure", http.StatusUnauthorized, "AWS was not able to validate the provided access credentials")
	RequestExpired = awserr.New("RequestExpired", http.StatusBadRequest, "Request has expired.")

	UnrecognizedClientException  = awserr.New("UnrecognizedClientException", http.StatusBadRequest, "The security token included in the request is invalid.")
	InvalidSignatureException    = awserr.New("InvalidSignatureException", http.StatusBadRequest, "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.")
	IncompleteSignatureException = awserr.New("IncompleteSignatureException", http.StatusBadRequest, "The request signature does not conform to AWS standards.")
	ExpiredTokenException        = awserr.New("ExpiredTokenException", http.StatusBadRequest, "The security token included in the request is expired")
)

const (
	querySignatureMismatchMsg = "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
	unsupportedMechanismMsg   = "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256."
)

// SignatureError is a signature mismatch together with what the server computed. S3 echoes
// the canonical request and string to sign in its SignatureDoesNotMatch answer so a client
// author can see where the two sides diverge; operators want the same in their logs.
type SignatureError struct {
	Err              *awserr.Error
	CanonicalRequest string
	StringToSign     string
}

func (e *SignatureError) Error() string { return e.Err.Error() }

// Unwrap lets awserr.As and errors.Is see the AWS error inside.
func (e *SignatureError) Unwrap() error { return e.Err }

// malformedAuth carries a parse failure's wording for S3 and for everyone else: the dialect
// is often known only after the credential has been parsed out of the same header.
type malformedAuth struct {
	s3    string // S3's complete message
	query string // the query and JSON services' message
}

func (m *malformedAuth) Error() string { return m.query }

func (d Dialect) malformed(presigned bool, m *malformedAuth) *awserr.Error {
	switch d {
	case DialectS3:
		if presigned {
			return AuthorizationQueryParametersError.WithMessage("%s", m.s3)
		}
		return AuthorizationHeaderMalformed.WithMessage("%s", m.s3)
	case DialectJSON:
		return IncompleteSignatureException.WithMessage("%s", m.query)
	}
	return awserr.IncompleteSignature.WithMessage("%s", m.query)
}

// unsupported answers SigV2, SigV4a and unknown schemes. AWS regions opened since 2014 give
// S3 clients this exact InvalidRequest; the message says what to use instead.
func (d Dialect) unsupported(what string) *awserr.Error {
	switch d {
	case DialectS3:
		return InvalidRequest.WithMessage("%s", unsupportedMechanismMsg)
	case DialectJSON:
		return IncompleteSignatureException.WithMessage("%s Banyan accepts only Signature Version 4, not %s.", unsupportedMechanismMsg, what)
	}
	return awserr.IncompleteSignature.WithMessage("%s Banyan accepts only Signature Version 4, not %s.", unsupportedMechanismMsg, what)
}

func (d Dialect) bothMechanisms() *awserr.Error {
	const msg = "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified"
	switch d {
	case DialectS3:
		return InvalidArgument.WithMessage(msg)
	case DialectJSON:
		return IncompleteSignatureException.WithMessage(msg)
	}
	return awserr.IncompleteSignature.WithMessage(msg)
}

// badDate answers a missing or unreadable request date.
func (d Dialect) badDate(presigned bool, query string) *awserr.Error {
	switch d {
	case DialectS3:
		if presigned {
			return AuthorizationQueryParametersError.WithMessage("X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"")
		}
		return awserr.AccessDenied.WithMessage("AWS authentication requires a valid Date or x-amz-date header")
	case DialectJSON:
		return IncompleteSignatureException.WithMessage("%s", query)
	}
	return awserr.IncompleteSignature.WithMessage("%s", query)
}

// badScope answers a credential scope whose content is wrong (terminator, region, date).
func (d Dialect) badScope(presigned bool, s3, query string) *awserr.Error {
	switch d {
	case DialectS3:
		if presigned {
			return AuthorizationQueryParametersError.WithMessage("Error parsing the X-Amz-Credential parameter; %s", s3)
		}
		return AuthorizationHeaderMalformed.WithMessage("The authorization header is malformed; %s", s3)
	case DialectJSON:
		return InvalidSignatureException.WithMessage("%s", query)
	}
	return awserr.SignatureDoesNotMatch.WithMessage("%s", query)
}

// skewed answers a request signed too far from now. STS and IAM really answer
// SignatureDoesNotMatch with this "Signature expired" wording; EC2 says RequestExpired.
func (d Dialect) skewed(t, now time.Time, skew time.Duration) *awserr.Error {
	var msg string
	if t.Before(now) {
		msg = fmt.Sprintf("Signature expired: %s is now earlier than %s (%s - %s.)",
			t.Format(iso8601), now.Add(-skew).Format(iso8601), now.Format(iso8601), skewText(skew))
	} else {
		msg = fmt.Sprintf("Signature not yet current: %s is still later than %s (%s + %s.)",
			t.Format(iso8601), now.Add(skew).Format(iso8601), now.Format(iso8601), skewText(skew))
	}
	switch d {
	case DialectS3:
		return awserr.RequestTimeTooSkewed.WithMessage("The difference between the request time and the current time is too large.")
	case DialectEC2:
		return RequestExpired
	case DialectJSON:
		return InvalidSignatureException.WithMessage("%s", msg)
	}
	return awserr.SignatureDoesNotMatch.WithMessage("%s", msg)
}

func skewText(d time.Duration) string {
	if d%time.Minute == 0 {
		return fmt.Sprintf("%d min", int(d/time.Minute))
	}
	return d.String()
}

// presignExpired answers a presigned URL used after X-Amz-Date + X-Amz-Expires.
func (d Dialect) presignExpired(expiry, now time.Time) *awserr.Error {
	msg := fmt.Sprintf("Signature expired: %s is now earlier than %s.", expiry.Format(iso8601), now.Format(iso8601))
	switch d {
	case DialectS3:
		return awserr.AccessDenied.WithMessage("Request has expired")
	case DialectEC2:
		return RequestExpired
	case DialectJSON:
		return InvalidSignatureException.WithMessage("%s", msg)
	}
	return awserr.SignatureDoesNotMatch.WithMessage("%s", msg)
}

// presignNotYetValid answers a presigned URL whose X-Amz-Date lies beyond the allowed skew.
func (d Dialect) presignNotYetValid(t, now time.Time, skew time.Duration) *awserr.Error {
	if d == DialectS3 {
		return awserr.AccessDenied.WithMessage("Request is not valid yet")
	}
	return d.skewed(t, now, skew)
}

func (d Dialect) unknownKey() *awserr.Error {
	switch d {
	case DialectS3:
		return InvalidAccessKeyID
	case DialectEC2:
		return AuthFailure
	case DialectJSON:
		return UnrecognizedClientException
	}
	return awserr.InvalidClientTokenID
}

func (d Dialect) invalidToken() *awserr.Error {
	switch d {
	case DialectS3:
		return InvalidToken
	case DialectEC2:
		return AuthFailure
	case DialectJSON:
		return UnrecognizedClientException
	}
	return awserr.InvalidClientTokenID
}

func (d Dialect) expiredToken() *awserr.Error {
	switch d {
	case DialectS3:
		return S3ExpiredToken
	case DialectEC2:
		return RequestExpired
	case DialectJSON:
		return ExpiredTokenException
	}
	return awserr.ExpiredToken.WithMessage("The security token included in the request is expired")
}

// headersNotSigned answers a request carrying headers that must be signed but aren't.
func (d Dialect) headersNotSigned(names string) *awserr.Error {
	switch d {
	case DialectS3:
		return awserr.AccessDenied.WithMessage("There were headers present in the request which were not signed: %s", names)
	case DialectJSON:
		return IncompleteSignatureException.WithMessage("'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.")
	}
	return awserr.IncompleteSignature.WithMessage("'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.")
}

func (d Dialect) signatureMismatch(canonical []byte, stringToSign string) *SignatureError {
	var e *awserr.Error
	switch d {
	case DialectS3:
		e = S3SignatureDoesNotMatch
	case DialectJSON:
		e = InvalidSignatureException
	default:
		e = awserr.SignatureDoesNotMatch.WithMessage(querySignatureMismatchMsg)
	}
	return &SignatureError{Err: e, CanonicalRequest: string(canonical), StringToSign: stringToSign}
}
