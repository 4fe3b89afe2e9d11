package s3

import (
	"bytes"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"hash"
	"hash/crc32"
	"net/http"
	"strings"

	"github.com/banyancloud/banyan/api/awserr"
	"github.com/banyancloud/banyan/api/protocol/restxml"
	"github.com/banyancloud/banyan/objectstore"
)

const maxDeleteKeys = 1000

// checkBodyIntegrity enforces what S3 asks of DeleteObjects' body: a Content-MD5 or a
// flexible checksum header, and that it matches.
func checkBodyIntegrity(h http.Header, body []byte) error {
	sum, err := contentMD5(h)
	if err != nil {
		return err
	}
	if sum != nil {
		got := md5.Sum(body)
		if !bytes.Equal(got[:], sum) {
			return errBadDigest
		}
		return nil
	}
	algo, value, err := checksumRequest(h)
	if err != nil {
		return err
	}
	if algo == "" {
		return errInvalidRequest.WithMessage("Missing required header for this request: Content-MD5")
	}
	if value == "" {
		return nil // a trailer checksum, which the verifier has checked
	}
	var hh hash.Hash
	switch algo {
	case "CRC32":
		hh = crc32.NewIEEE()
	case "CRC32C":
		hh = crc32.New(crc32.MakeTable(crc32.Castagnoli))
	case "SHA1":
		hh = sha1.New()
	case "SHA256":
		hh = sha256.New()
	default:
		return nil // CRC64NVME: accepted without a check
	}
	hh.Write(body)
	if base64.StdEncoding.EncodeToString(hh.Sum(nil)) != value {
		return awserr.New("BadDigest", http.StatusBadRequest, "The "+strings.ToLower(algo)+" you specified did not match the calculated checksum.")
	}
	return nil
}

func (q *request) deleteObjects() error {
	b, err := q.loadBucket()
	if err != nil {
		return err
	}
	body, err := readBody(q.r, restxml.DefaultMaxXMLBytes)
	if err != nil {
		return err
	}
	if err := checkBodyIntegrity(q.r.Header, body); err != nil {
		return err
	}
	var doc Delete
	if err := restxml.Unmarshal(body, &doc); err != nil {
		return err
	}
	if len(doc.Objects) == 0 || len(doc.Objects) > maxDeleteKeys {
		return errMalformedXML
	}
	quiet := doc.Quiet != nil && *doc.Quiet
	var out DeleteObjectsOutput
	anyAllowed := false
	for _, o := range doc.Objects {
		vid := ""
		if o.VersionId != nil {
			vid = *o.VersionId
		}
		action := "s3:DeleteObject"
		if vid != "" {
			action = "s3:DeleteObjectVersion"
		}
		fail := func(e *awserr.Error) {
			out.Errors = append(out.Errors, Error{Key: ptr(o.Key), VersionId: o.VersionId, Code: ptr(e.Code), Message: ptr(e.Message)})
		}
		if len(o.Key) > maxKeyBytes {
			fail(errKeyTooLong)
			continue
		}
		if err := q.authorize(b, action, objectARN(b.Name, o.Key), nil); err != nil {
			fail(toS3Error(err))
			continue
		}
		anyAllowed = true
		info, err := q.f.objects.DeleteObject(q.r.Context(), b.Name, o.Key, objectstore.DeleteOptions{VersionID: vid, Versioning: b.Versioning,
			BypassGovernance: vid != "" && q.bypassGovernance(b, o.Key)})
		if err != nil && !errors.Is(err, objectstore.ErrObjectNotFound) && !errors.Is(err, objectstore.ErrVersionNotFound) {
			fail(toS3Error(err))
			continue
		}
		if quiet {
			continue
		}
		d := DeletedObject{Key: ptr(o.Key), VersionId: o.VersionId}
		if err == nil && info.DeleteMarker {
			d.DeleteMarker = ptr(true)
			d.DeleteMarkerVersionId = ptr(info.VersionID)
		}
		out.Deleted = append(out.Deleted, d)
	}
	if !anyAllowed {
		// Every key was refused: the call as a whole was still answered (with per-key
		// errors) after authorization, as S3 does.
		q.call.NoAuthorizationRequired()
	}
	return restxml.WriteXML(q.w, http.StatusOK, "DeleteResult", &out)
}
