package s3

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/banyancloud/banyan/api/awserr"
	"github.com/banyancloud/banyan/api/identity"
	"github.com/banyancloud/banyan/api/sigv4"
)

// Browser-based uploads (PostObject): an HTML form POSTed to the bucket's URL as
// multipart/form-data, its fields saying what to store (key, acl, Content-Type,
// x-amz-meta-*) and, unless the upload is anonymous, a policy document signed with SigV4
// that bounds them. The file is the last field that counts (AWS ignores what follows it)
// and is streamed into the object store: memory stays bounded whatever its size.

const (
	// maxPostFieldBytes is AWS's limit on the fields that precede the file.
	maxPostFieldBytes = 20 << 10
	// postSniffBytes: a file that ends within this many bytes is stored with its exact
	// size known (small objects go inline); a longer one streams with its size unknown.
	postSniffBytes = 256 << 10
)

// PostVerifier checks the signature of a browser-based upload's form
// (sigv4.Verifier.VerifyPostForm, with the front door's credential store).
type PostVerifier interface {
	VerifyPostForm(ctx context.Context, f sigv4.PostForm) (*sigv4.Result, error)
}

// postForm is a form read up to its file.
type postForm struct {
	fields   map[string]string // lower-case field name -> value (the first, if repeated)
	file     io.Reader
	filename string
}

var errPOSTFileRequired = errInvalidArgument.WithMessage("POST requires exactly one file upload per request.")

func postFieldMissing(name string) error {
	return errInvalidArgument.WithMessage("Bucket POST must contain a field named '%s'.  If it is specified, please check the order of the fields.", name)
}

// isPostObject reports whether a POST to a bucket is a browser-based upload.
func isPostObject(r *http.Request) bool {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return mt == "multipart/form-data"
}

// readPostForm reads the form's fields up to the file, whose part it leaves unread.
func readPostForm(r *http.Request) (*postForm, error) {
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" || params["boundary"] == "" || r.Body == nil {
		return nil, errMalformedPOSTRequest
	}
	mr := multipart.NewReader(r.Body, params["boundary"])
	form := &postForm{fields: map[string]string{}}
	budget := maxPostFieldBytes
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return nil, errPOSTFileRequired
		}
		if err != nil {
			return nil, errMalformedPOSTRequest
		}
		name := strings.ToLower(part.FormName())
		if name == "" {
			return nil, errMalformedPOSTRequest
		}
		if name == "file" {
			form.file, form.filename = part, part.FileName()
			return form, nil
		}
		value, err := io.ReadAll(io.LimitReader(part, int64(budget)+1))
		if err != nil {
			return nil, errMalformedPOSTRequest
		}
		if budget -= len(name) + len(value); budget < 0 {
			return nil, errMaxPostPreDataLength
		}
		if _, dup := form.fields[name]; !dup {
			form.fields[name] = string(value)
		}
	}
}

// postHeaders turns the fields that describe the object into the headers a PUT would
// carry, so that putOptions validates and stores them exactly as for PutObject.
func postHeaders(fields map[string]string) http.Header {
	h := http.Header{}
	for name, v := range fields {
		switch {
		case name == "acl":
			h.Set("x-amz-acl", v)
		case name == "content-type", name == "cache-control", name == "content-disposition",
			name == "content-encoding", name == "content-language", name == "expires",
			name == "x-amz-storage-class", name == "x-amz-website-redirect-location",
			strings.HasPrefix(name, "x-amz-meta-"), strings.HasPrefix(name, "x-amz-grant-"):
			h.Set(name, v)
		}
	}
	return h
}

// postObject serves PostObject.
func (q *request) postObject() error {
	b, err := q.loadBucket()
	if err != nil {
		return err
	}
	form, err := readPostForm(q.r)
	if err != nil {
		return err
	}
	key, ok := form.fields["key"]
	if !ok {
		return postFieldMissing("key")
	}
	q.key = strings.ReplaceAll(key, "${filename}", form.filename)
	if q.key == "" {
		return errInvalidArgument.WithMessage("User key must have a length greater than 0.")
	}
	if err := q.checkKey(); err != nil {
		return err
	}
	policy, err := q.authenticatePost(b.Name, form.fields)
	if err != nil {
		return err
	}

	// The object's attributes, validated as PutObject's headers are.
	hq := *q
	hq.r = q.r.WithContext(q.r.Context())
	hq.r.Header = postHeaders(form.fields)
	acl, err := hq.cannedACL()
	if err != nil {
		return err
	}
	if err := q.authorize(b, "s3:PutObject", objectARN(b.Name, q.key), aclContext(acl)); err != nil {
		return err
	}
	if err := allowACL(b, acl); err != nil { // Object Ownership, Block Public Access
		return err
	}
	opts, err := hq.putOptions(b.Versioning)
	if err != nil {
		return err
	}
	if _, err := hq.encryptNew(b, &opts, true); err != nil { // sse.go
		return err
	}

	body := &postFileBody{r: form.file, min: 0, max: maxPutSize}
	if policy != nil {
		body.min = policy.minSize
		if policy.maxSize >= 0 {
			body.max = min(policy.maxSize, maxPutSize)
		}
	}
	// Read a first stretch: a small file (most browser uploads) is then stored with its
	// size known; a longer one streams on with its size unknown (-1: until EOF).
	buf := make([]byte, postSniffBytes)
	n, err := io.ReadFull(body, buf)
	var src io.Reader
	switch {
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		src, opts.Size = bytes.NewReader(buf[:n]), int64(n)
	case err != nil:
		return err
	default:
		src, opts.Size = io.MultiReader(bytes.NewReader(buf), body), -1
	}
	info, err := q.f.objects.PutObject(q.r.Context(), b.Name, q.key, src, opts)
	if err != nil {
		return err
	}
	return q.answerPost(form.fields, b.Versioning, info.ETag, info.VersionID)
}

// authenticatePost checks the form's signature and policy and makes the key's owner the
// caller. A form with neither is anonymous (a bucket policy or ACL may let it write).
func (q *request) authenticatePost(bucket string, fields map[string]string) (*postPolicy, error) {
	if _, v2 := fields["awsaccesskeyid"]; v2 {
		return nil, errInvalidRequest.WithMessage("The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.")
	}
	sigFields := []string{"x-amz-algorithm", "x-amz-credential", "x-amz-date", "x-amz-signature"}
	signed := false
	for _, f := range append(sigFields, "policy") {
		if _, ok := fields[f]; ok {
			signed = true
		}
	}
	if !signed {
		return nil, nil
	}
	for _, f := range append([]string{"policy"}, sigFields...) {
		if _, ok := fields[f]; !ok {
			return nil, postFieldMissing(f)
		}
	}
	if q.f.PostVerifier == nil {
		return nil, errNotImplemented.WithMessage("This endpoint cannot verify browser-based upload signatures.")
	}
	token := fields["x-amz-security-token"]
	ctx := identity.WithSessionToken(q.r.Context(), token)
	res, err := q.f.PostVerifier.VerifyPostForm(ctx, sigv4.PostForm{Policy: fields["policy"],
		Algorithm: fields["x-amz-algorithm"], Credential: fields["x-amz-credential"], Date: fields["x-amz-date"],
		Signature: fields["x-amz-signature"], SecurityToken: token})
	if err != nil {
		return nil, err
	}
	caller, _ := res.Credential.Principal.(*identity.Caller)
	if caller == nil {
		return nil, errAccessDenied
	}
	policy, err := parsePostPolicy(fields["policy"])
	if err != nil {
		return nil, err
	}
	withBucket := make(map[string]string, len(fields)+1)
	for k, v := range fields {
		withBucket[k] = v
	}
	withBucket["bucket"] = bucket
	if err := policy.check(withBucket, time.Now()); err != nil {
		return nil, err
	}
	q.call.Caller = caller
	if res.Region != "" {
		q.call.Region = res.Region
	}
	return policy, nil
}

// postFileBody enforces the policy's content-length-range (and S3's object size limit)
// on the file as it streams: the object store commits nothing whose body failed.
type postFileBody struct {
	r        io.Reader
	min, max int64
	n        int64
}

func (p *postFileBody) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.n += int64(n)
	if p.n > p.max {
		return 0, errEntityTooLarge
	}
	switch {
	case errors.Is(err, io.EOF):
		if p.n < p.min {
			return n, errEntityTooSmall.WithMessage("Your proposed upload is smaller than the minimum allowed size")
		}
	case err != nil:
		if _, ok := errors.AsType[*awserr.Error](err); ok {
			return n, err
		}
		// The form broke off inside the file (no closing boundary).
		return n, errMalformedPOSTRequest
	}
	return n, err
}

type postResponse struct {
	XMLName  xml.Name `xml:"PostResponse"`
	Location string   `xml:"Location"`
	Bucket   string   `xml:"Bucket"`
	Key      string   `xml:"Key"`
	ETag     string   `xml:"ETag"`
}

// answerPost answers as the form asks: a redirect (success_action_redirect, 303 with the
// bucket, key and ETag in its query), or success_action_status 200, 201 (with a
// PostResponse document) or 204 (the default, also for any other value).
func (q *request) answerPost(fields map[string]string, versioning, etag, versionID string) error {
	h := q.w.Header()
	h.Set("ETag", quoteETag(etag))
	if versioned(versioning) {
		setVersionHeader(h, versionID)
	}
	location := q.objectURL()
	h.Set("Location", location)
	redirect := fields["success_action_redirect"]
	if redirect == "" {
		redirect = fields["redirect"]
	}
	if u, err := url.Parse(redirect); redirect != "" && err == nil && (u.Scheme == "http" || u.Scheme == "https") {
		v := u.Query()
		v.Set("bucket", q.bucket)
		v.Set("key", q.key)
		v.Set("etag", quoteETag(etag))
		u.RawQuery = v.Encode()
		h.Set("Location", u.String())
		q.w.WriteHeader(http.StatusSeeOther)
		return nil
	}
	switch fields["success_action_status"] {
	case "200":
		q.w.WriteHeader(http.StatusOK)
		return nil
	case "201":
		body, _ := xml.Marshal(postResponse{Location: location, Bucket: q.bucket, Key: q.key, ETag: quoteETag(etag)})
		h.Set("Content-Type", "application/xml")
		q.w.WriteHeader(http.StatusCreated)
		_, err := q.w.Write(append([]byte(xml.Header), body...))
		return err
	}
	q.w.WriteHeader(http.StatusNoContent)
	return nil
}

// objectURL is the new object's URL as the client addressed the bucket.
func (q *request) objectURL() string {
	scheme := "http"
	if q.r.TLS != nil {
		scheme = "https"
	}
	escaped := (&url.URL{Path: q.key}).EscapedPath()
	if b, _ := q.f.address(&http.Request{Host: q.r.Host, URL: &url.URL{Path: "/"}}); b != "" {
		return scheme + "://" + q.r.Host + "/" + escaped
	}
	return scheme + "://" + q.r.Host + "/" + q.bucket + "/" + escaped
}
