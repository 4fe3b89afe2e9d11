package s3

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/banyancloud/banyan/api/protocol/restxml"
	"github.com/banyancloud/banyan/cluster/state"
	"github.com/banyancloud/banyan/objectstore"
)

const maxListKeys = 1000

// listParams are the query parameters every listing shares.
type listParams struct {
	prefix, delimiter string
	maxKeys           int
	urlEncode         bool
}

func (q *request) listParams(maxName string) (listParams, error) {
	p := listParams{prefix: q.q.Get("prefix"), delimiter: q.q.Get("delimiter"), maxKeys: maxListKeys}
	if s, ok := q.q[maxName]; ok {
		n, err := strconv.Atoi(s[0])
		if err != nil || n < 0 {
			return p, errInvalidArgument.WithMessage("Provided %s not an integer or within integer range", maxName)
		}
		p.maxKeys = min(n, maxListKeys)
	}
	switch enc := q.q.Get("encoding-type"); enc {
	case "":
	case "url":
		p.urlEncode = true
	default:
		return p, errInvalidArgument.WithMessage("Invalid Encoding Method specified in Request")
	}
	return p, nil
}

// enc applies encoding-type=url to a key or prefix in a listing: everything
// but unreserved characters and '/' is percent-encoded, as S3 answers (foo/ stays
// foo/; a space is %20 and a plus %2B, which clients decode either way).
func (p listParams) enc(s string) *string {
	if p.urlEncode {
		s = strings.ReplaceAll(strings.ReplaceAll(url.QueryEscape(s), "+", "%20"), "%2F", "/")
	}
	return &s
}

func (p listParams) encOpt(s string) *string {
	if s == "" {
		return nil
	}
	return p.enc(s)
}

func (p listParams) encodingType() *string {
	if p.urlEncode {
		return ptr("url")
	}
	return nil
}

func (p listParams) prefixes(cps []string) []CommonPrefix {
	out := make([]CommonPrefix, 0, len(cps))
	for _, c := range cps {
		out = append(out, CommonPrefix{Prefix: p.enc(c)})
	}
	return out
}

func (q *request) listContext(p listParams) map[string][]string {
	ctx := map[string][]string{"s3:prefix": {p.prefix}, "s3:max-keys": {strconv.Itoa(p.maxKeys)}}
	if p.delimiter != "" {
		ctx["s3:delimiter"] = []string{p.delimiter}
	}
	return ctx
}

func (q *request) startListing(action string, maxName string) (*state.Bucket, listParams, error) {
	b, err := q.loadBucket()
	if err != nil {
		return nil, listParams{}, err
	}
	p, err := q.listParams(maxName)
	if err != nil {
		return nil, p, err
	}
	if err := q.authorize(b, action, bucketARN(b.Name), q.listContext(p)); err != nil {
		return nil, p, err
	}
	return b, p, nil
}

func (q *request) list(b *state.Bucket, p listParams, marker string) (objectstore.ListResult, error) {
	if p.maxKeys == 0 {
		return objectstore.ListResult{}, nil
	}
	return q.f.objects.ListObjects(q.r.Context(), b.Name, objectstore.ListOptions{
		Prefix: p.prefix, Delimiter: p.delimiter, Marker: marker, MaxKeys: p.maxKeys})
}

func (p listParams) contents(objs []objectstore.ObjectInfo, owner *Owner) []Object {
	out := make([]Object, 0, len(objs))
	for _, o := range objs {
		sc := o.StorageClass
		if sc == "" {
			sc = "STANDARD"
		}
		obj := Object{Key: p.enc(o.Key), LastModified: ptr(o.ModTime.UTC()), ETag: ptr(quoteETag(o.ETag)),
			Size: ptr(plainSize(o)), StorageClass: ptr(sc), Owner: owner}
		for algo := range o.Checksums {
			obj.ChecksumAlgorithm = append(obj.ChecksumAlgorithm, algo)
		}
		out = append(out, obj)
	}
	return out
}

func ownerOf(b *state.Bucket) *Owner { return &Owner{ID: ptr(b.Owner), DisplayName: ptr(b.Owner)} }

func (q *request) listObjects() error {
	b, p, err := q.startListing("s3:ListBucket", "max-keys")
	if err != nil {
		return err
	}
	marker := q.q.Get("marker")
	res, err := q.list(b, p, marker)
	if err != nil {
		return err
	}
	out := ListObjectsOutput{Name: ptr(b.Name), Prefix: p.enc(p.prefix), Marker: p.enc(marker),
		MaxKeys: ptr(int32(p.maxKeys)), Delimiter: p.encOpt(p.delimiter), IsTruncated: ptr(res.IsTruncated),
		Contents: p.contents(res.Objects, ownerOf(b)), CommonPrefixes: p.prefixes(res.CommonPrefixes),
		EncodingType: p.encodingType()}
	if res.IsTruncated && p.delimiter != "" {
		// S3 sends NextMarker only with a delimiter; clients use the last key otherwise.
		out.NextMarker = p.enc(nextMarker(res))
	}
	return restxml.WriteXML(q.w, http.StatusOK, "ListBucketResult", &out)
}

// nextMarker is where the next page starts: the store's NextMarker, or else the
// greater of the last key and the last common prefix of this page.
func nextMarker(res objectstore.ListResult) string {
	if res.NextMarker != "" {
		return res.NextMarker
	}
	m := ""
	if n := len(res.Objects); n > 0 {
		m = res.Objects[n-1].Key
	}
	if n := len(res.CommonPrefixes); n > 0 && res.CommonPrefixes[n-1] > m {
		m = res.CommonPrefixes[n-1]
	}
	return m
}

// Continuation tokens are opaque to clients; ours carry the marker to resume after.
func encodeToken(marker string) string { return base64.RawURLEncoding.EncodeToString([]byte(marker)) }

func decodeToken(tok string) (string, error) {
	m, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || len(m) == 0 {
		return "", errInvalidArgument.WithMessage("The continuation token provided is incorrect")
	}
	return string(m), nil
}

func (q *request) listObjectsV2() error {
	b, p, err := q.startListing("s3:ListBucket", "max-keys")
	if err != nil {
		return err
	}
	startAfter := q.q.Get("start-after")
	marker := startAfter
	token, hasToken := q.q["continuation-token"]
	if hasToken {
		if marker, err = decodeToken(token[0]); err != nil {
			return err
		}
	}
	res, err := q.list(b, p, marker)
	if err != nil {
		return err
	}
	var owner *Owner
	if q.q.Get("fetch-owner") == "true" {
		owner = ownerOf(b)
	}
	out := ListObjectsV2Output{Name: ptr(b.Name), Prefix: p.enc(p.prefix), MaxKeys: ptr(int32(p.maxKeys)),
		Delimiter: p.encOpt(p.delimiter), IsTruncated: ptr(res.IsTruncated),
		Contents: p.contents(res.Objects, owner), CommonPrefixes: p.prefixes(res.CommonPrefixes),
		KeyCount: ptr(int32(len(res.Objects) + len(res.CommonPrefixes))), EncodingType: p.encodingType(),
		StartAfter: p.encOpt(startAfter)}
	if hasToken {
		out.ContinuationToken = ptr(token[0])
	}
	if res.IsTruncated {
		out.NextContinuationToken = ptr(encodeToken(nextMarker(res)))
	}
	return restxml.WriteXML(q.w, http.StatusOK, "ListBucketResult", &out)
}

func (q *request) listObjectVersions() error {
	b, p, err := q.startListing("s3:ListBucketVersions", "max-keys")
	if err != nil {
		return err
	}
	keyMarker, versionMarker := q.q.Get("key-marker"), q.q.Get("version-id-marker")
	if versionMarker != "" && keyMarker == "" {
		return errInvalidArgument.WithMessage("A version-id marker cannot be specified without a key marker.")
	}
	var res objectstore.ListVersionsResult
	if p.maxKeys > 0 {
		res, err = q.f.objects.ListObjectVersions(q.r.Context(), b.Name, objectstore.ListVersionsOptions{
			Prefix: p.prefix, Delimiter: p.delimiter, KeyMarker: keyMarker, VersionIDMarker: versionMarker, MaxKeys: p.maxKeys})
		if err != nil {
			return err
		}
	}
	owner := ownerOf(b)
	out := ListObjectVersionsOutput{Name: ptr(b.Name), Prefix: p.enc(p.prefix), KeyMarker: p.enc(keyMarker),
		VersionIdMarker: ptr(versionMarker), MaxKeys: ptr(int32(p.maxKeys)), Delimiter: p.encOpt(p.delimiter),
		IsTruncated: ptr(res.IsTruncated), CommonPrefixes: p.prefixes(res.CommonPrefixes), EncodingType: p.encodingType()}
	if res.IsTruncated {
		out.NextKeyMarker = p.enc(res.NextKeyMarker)
		out.NextVersionIdMarker = ptr(res.NextVersionIDMarker)
	}
	for _, v := range res.Versions {
		vid := v.VersionID
		if vid == "" {
			vid = objectstore.NullVersionID
		}
		if v.DeleteMarker {
			out.DeleteMarkers = append(out.DeleteMarkers, DeleteMarkerEntry{Owner: owner, Key: p.enc(v.Key),
				VersionId: ptr(vid), IsLatest: ptr(v.IsLatest), LastModified: ptr(v.ModTime.UTC())})
			continue
		}
		sc := v.StorageClass
		if sc == "" {
			sc = "STANDARD"
		}
		out.Versions = append(out.Versions, ObjectVersion{ETag: ptr(quoteETag(v.ETag)), Size: ptr(plainSize(v)),
			StorageClass: ptr(sc), Key: p.enc(v.Key), VersionId: ptr(vid), IsLatest: ptr(v.IsLatest),
			LastModified: ptr(v.ModTime.UTC()), Owner: owner})
	}
	return restxml.WriteXML(q.w, http.StatusOK, "ListVersionsResult", &out)
}
