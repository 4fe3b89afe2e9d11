package protocol

import (
	"compress/gzip"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/banyancloud/banyan/api/awserr"
)

// DefaultMaxBodyBytes bounds request bodies when a codec is not told otherwise. AWS's
// own query limits are far lower for most actions; this is a guard, not a contract.
const DefaultMaxBodyBytes = 8 << 20

// ReadBody reads r's body, inflating it first when Content-Encoding is gzip (botocore
// compresses CloudWatch PutMetricData bodies), and fails with RequestEntityTooLarge
// once more than limit bytes have been produced, so neither a long body nor a gzip
// bomb can exhaust memory. A limit <= 0 means DefaultMaxBodyBytes.
func ReadBody(r *http.Request, limit int64) ([]byte, error) {
	if limit <= 0 {
		limit = DefaultMaxBodyBytes
	}
	if r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	if r.ContentLength > limit {
		return nil, tooLarge(limit)
	}
	var src io.Reader = r.Body
	switch enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding"))); enc {
	case "", "identity":
	case "gzip":
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			return nil, awserr.New("InvalidRequest", http.StatusBadRequest, "The request body is not valid gzip: "+err.Error())
		}
		defer zr.Close()
		src = zr
	default:
		// aws-chunked and friends belong to S3's streaming uploads, which read the body
		// themselves; RPC protocols only ever see gzip.
		return nil, awserr.New("InvalidRequest", http.StatusBadRequest, "Unsupported Content-Encoding "+enc+".")
	}
	b, err := io.ReadAll(io.LimitReader(src, limit+1))
	if err != nil {
		var maxErr *http.MaxBytesError
		if errors.As(err, &maxErr) {
			return nil, tooLarge(limit)
		}
		return nil, awserr.New("IncompleteBody", http.StatusBadRequest, "The request body could not be read: "+err.Error())
	}
	if int64(len(b)) > limit {
		return nil, tooLarge(limit)
	}
	return b, nil
}

func tooLarge(limit int64) *awserr.Error {
	return awserr.RequestEntityTooLarge.WithMessage("The request body is larger than the limit of %d bytes.", limit)
}
