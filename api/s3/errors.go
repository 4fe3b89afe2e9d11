package s3

import (
	"errors"
	"net/http"

	"github.com/banyancloud/banyan/api/awserr"
	"github.com/banyancloud/banyan/cluster/state"
	"github.com/banyancloud/banyan/objectstore"
)

// S3's error codes with the statuses and messages S3 answers them with. Handlers return
// these (or errors of the layers below, mapped by errorTable); they never make up codes.
var (
	errAccessDenied            = awserr.AccessDenied
	errNoSuchBucket            = awserr.New("NoSuchBucket", http.StatusNotFound, "The specified bucket does not exist")
	errNoSuchKey               = awserr.New("NoSuchKey", http.StatusNotFound, "The specified key does not exist.")
	errNoSuchVersion           = awserr.New("NoSuchVersion", http.StatusNotFound, "The specified version does not exist.")
	errNoSuchUpload            = awserr.New("NoSuchUpload", http.StatusNotFound, "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.")
	errNoSuchBucketPolicy      = awserr.New("NoSuchBucketPolicy", http.StatusNotFound, "The bucket policy does not exist")
	errNoSuchTagSet            = awserr.New("NoSuchTagSet", http.StatusNotFound, "The TagSet does not exist")
	errNoSuchCORS              = awserr.New("NoSuchCORSConfiguration", http.StatusNotFound, "The CORS configuration does not exist")
	errNoSuchLifecycle         = awserr.New("NoSuchLifecycleConfiguration", http.StatusNotFound, "The lifecycle configuration does not exist")
	errBucketAlreadyExists     = awserr.New("BucketAlreadyExists", http.StatusConflict, "The requested bucket name is not available. The bucket namespace is shared by all users of the system. Please select a different name and try again.")
	errBucketAlreadyOwnedByYou = awserr.New("BucketAlreadyOwnedByYou", http.StatusConflict, "Your previous request to create the named bucket succeeded and you already own it.")
	errBucketNotEmpty          = awserr.New("BucketNotEmpty", http.StatusConflict, "The bucket you tried to delete is not empty")
	errInvalidBucketName       = awserr.New("InvalidBucketName", http.StatusBadRequest, "The specified bucket is not valid.")
	errKeyTooLong              = awserr.New("KeyTooLongError", http.StatusBadRequest, "Your key is too long")
	errBadDigest               = awserr.New("BadDigest", http.StatusBadRequest, "The Content-MD5 you specified did not match what we received.")
	errInvalidDigest           = awserr.New("InvalidDigest", http.StatusBadRequest, "The Content-MD5 you specified is not valid.")
	errChecksumMismatch        = awserr.New("BadDigest", http.StatusBadRequest, "The checksum you specified did not match what we received.")
	errMissingContentLength    = awserr.New("MissingContentLength", http.StatusLengthRequired, "You must provide the Content-Length HTTP header.")
	errEntityTooLarge          = awserr.New("EntityTooLarge", http.StatusBadRequest, "Your proposed upload exceeds the maximum allowed size")
	errInvalidStorageClass     = awserr.New("InvalidStorageClass", http.StatusBadRequest, "The storage class you specified is not valid")
	errMetadataTooLarge        = awserr.New("MetadataTooLarge", http.StatusBadRequest, "Your metadata headers exceed the maximum allowed metadata size.")
	errEntityTooSmall          = awserr.New("EntityTooSmall", http.StatusBadRequest, "Your proposed upload is smaller than the minimum allowed object size.")
	errIncompleteBody          = awserr.New("IncompleteBody", http.StatusBadRequest, "You did not provide the number of bytes specified by the Content-Length HTTP header.")
	errInvalidPart             = awserr.New("InvalidPart", http.StatusBadRequest, "One or more of the specified parts could not be found.  The part may not have been uploaded, or the specified entity tag may not match the part's entity tag.")
	errInvalidPartOrder        = awserr.New("InvalidPartOrder", http.StatusBadRequest, "The list of parts was not in ascending order. Parts must be ordered by part number.")
	errPreconditionFailed      = awserr.New("PreconditionFailed", http.StatusPreconditionFailed, "At least one of the pre-conditions you specified did not hold")
	errNotModified             = awserr.New("NotModified", http.StatusNotModified, "Not Modified")
	errInvalidRange            = awserr.New("InvalidRange", http.StatusRequestedRangeNotSatisfiable, "The requested range is not satisfiable")
	errMethodNotAllowed        = awserr.New("MethodNotAllowed", http.StatusMethodNotAllowed, "The specified method is not allowed against this resource.")
	errInvalidArgument         = awserr.New("InvalidArgument", http.StatusBadRequest, "Invalid Argument")
	errInvalidRequest          = awserr.New("InvalidRequest", http.StatusBadRequest, "Invalid Request")
	errServiceUnavailable      = awserr.New("ServiceUnavailable", http.StatusServiceUnavailable, "The cluster has no leader at the moment; please retry.")
	errSlowDown                = awserr.New("SlowDown", http.StatusServiceUnavailable, "Please reduce your request rate.")
	errNoQuorum                = awserr.New("SlowDown", http.StatusServiceUnavailable, "Not enough of the object store's disks answered; please reduce your request rate and retry.")
	errNotImplemented          = awserr.New("NotImplemented", http.StatusNotImplemented, "A header or query you provided implies functionality that is not implemented.")
	errMalformedPolicy         = awserr.New("MalformedPolicy", http.StatusBadRequest, "Policies must be valid JSON and the first byte must be '{'")
	errInvalidTag              = awserr.New("InvalidTag", http.StatusBadRequest, "The TagSet you provided is not valid.")
	errIllegalLocation         = awserr.New("IllegalLocationConstraintException", http.StatusBadRequest, "The unspecified location constraint is incompatible for the region specific endpoint this request was sent to.")
	errInvalidLocation         = awserr.New("InvalidLocationConstraint", http.StatusBadRequest, "The specified location-constraint is not valid")
	errMalformedXML            = awserr.New("MalformedXML", http.StatusBadRequest, "The XML you provided was not well-formed or did not validate against our published schema")
	errCORSForbidden           = awserr.New("AccessForbidden", http.StatusForbidden, "CORSResponse: This CORS request is not allowed. This is usually because the evalution of Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted by the resource's CORS spec.")
	errCORSNotEnabled          = awserr.New("AccessForbidden", http.StatusForbidden, "CORSResponse: CORS is not enabled for this bucket.")
	errCORSBadRequest          = awserr.New("BadRequest", http.StatusBadRequest, "Insufficient information. Origin request header needed.")
	errOperationAborted        = awserr.New("OperationAborted", http.StatusConflict, "A conflicting conditional operation is currently in progress against this resource. Please try again.")
	// Browser-based uploads (POST with a policy) and ACL grants.
	errMalformedPOSTRequest     = awserr.New("MalformedPOSTRequest", http.StatusBadRequest, "The body of your POST request is not well-formed multipart/form-data.")
	errInvalidPolicyDocument    = awserr.New("InvalidPolicyDocument", http.StatusBadRequest, "The content of the form does not meet the conditions specified in the policy document.")
	errMaxPostPreDataLength     = awserr.New("MaxPostPreDataLengthExceededError", http.StatusBadRequest, "Your POST request fields preceding the upload file were too large.")
	errUnresolvableGrantByEmail = awserr.New("UnresolvableGrantByEmailAddress", http.StatusBadRequest, "The e-mail address you provided does not match any account on record.")
	errInvalidACLGrantee        = awserr.New("InvalidArgument", http.StatusBadRequest, "Invalid id")
)

// errorTable maps the errors of the object store and of the replicated state to S3's
// codes: the one place where a lower layer's failure gets its AWS name.
var errorTable = []struct {
	err error
	s3  *awserr.Error
}{
	{objectstore.ErrBucketNotEmpty, errBucketNotEmpty},
	{objectstore.ErrObjectNotFound, errNoSuchKey},
	{objectstore.ErrVersionNotFound, errNoSuchVersion},
	{objectstore.ErrMethodNotAllowed, errMethodNotAllowed},
	{objectstore.ErrPreconditionFailed, errPreconditionFailed},
	{objectstore.ErrInvalidRange, errInvalidRange},
	{objectstore.ErrBadDigest, errBadDigest},
	{objectstore.ErrChecksumMismatch, errChecksumMismatch},
	{objectstore.ErrIncompleteBody, errIncompleteBody},
	{objectstore.ErrUploadNotFound, errNoSuchUpload},
	{objectstore.ErrInvalidPart, errInvalidPart},
	{objectstore.ErrInvalidPartOrder, errInvalidPartOrder},
	{objectstore.ErrEntityTooSmall, errEntityTooSmall},
	{objectstore.ErrObjectLocked, errObjectLocked},
	// Too few disks answered: SlowDown, the 503 every S3 client retries with backoff
	// (a GET finds out before its status line is sent).
	{objectstore.ErrReadQuorum, errNoQuorum},
	{objectstore.ErrWriteQuorum, errNoQuorum},
	{objectstore.ErrSlowDown, errSlowDown},
	{state.ErrNotFound, errNoSuchBucket},
	{state.ErrConflict, errOperationAborted},
}

// toS3Error returns the S3 error to answer for err. AWS errors (from handlers, the XML
// codec or the SigV4 body reader) pass through; unknown errors become InternalError and
// are logged by the caller.
func toS3Error(err error) *awserr.Error {
	var e *awserr.Error
	if errors.As(err, &e) {
		return e
	}
	if awserr.Retryable(err) { // no Raft leader within the write hold, a node stopping
		return errServiceUnavailable
	}
	for _, m := range errorTable {
		if errors.Is(err, m.err) {
			return m.s3
		}
	}
	return awserr.InternalError
}
