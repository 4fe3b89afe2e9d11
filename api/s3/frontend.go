package s3

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/banyancloud/banyan/api/awserr"
	"github.com/banyancloud/banyan/api/identity"
	"github.com/banyancloud/banyan/api/protocol/restxml"
	"github.com/banyancloud/banyan/api/service"
	"github.com/banyancloud/banyan/cluster/state"
	"github.com/banyancloud/banyan/objectstore"
)

// Frontend serves the S3 API over an object layer and the replicated bucket records.
type Frontend struct {
	cluster service.Cluster
	objects objectstore.ObjectLayer
	authz   *identity.Authorizer
	region  string

	// Domains are the host names under which buckets are addressed virtual-host style
	// (BUCKET.s3.example.com); a request to any other host is path-style.
	Domains []string
	Log     *slog.Logger
	// PostVerifier checks the signatures of browser-based uploads (POST forms); nil:
	// only anonymous ones are served.
	PostVerifier PostVerifier
	// SSEKey is the cluster key, from which the key that seals SSE-S3 object keys is
	// derived (sse.go); nil: SSE-S3 is unavailable and new objects are stored as sent.
	SSEKey []byte

	policies sync.Map // policyKey -> *iampolicy.Policy (parsed bucket policy + ACL grants)
}

// New returns the S3 front end. authz may be nil when every call carries its own
// Authorizer (service.Call.Authorizer is what is used per request).
func New(c service.Cluster, objects objectstore.ObjectLayer, authz *identity.Authorizer, region string) *Frontend {
	return &Frontend{cluster: c, objects: objects, authz: authz, region: region,
		Log: slog.New(slog.DiscardHandler)}
}

// request is one S3 call on its way through a handler.
type request struct {
	f      *Frontend
	w      *guardWriter
	r      *http.Request
	call   *service.Call
	q      url.Values
	bucket string
	key    string
	op     string
	// fresh: the replica has caught up with the leader during this request.
	fresh bool
}

type handler func(q *request) error

// ServeS3 answers one S3 request after the front door has run sigv4.Verifier.Verify on
// it (so r.Body checks the signed payload, chunk signatures and trailer checksums as it
// is read) and built call (identity.Anonymous as the caller of an unsigned request).
// Anonymous callers are let in here: the bucket policy and ACLs decide what they may do.
// Every success is authorized: a handler that forgot to is answered InternalError.
func (f *Frontend) ServeS3(w http.ResponseWriter, r *http.Request, call *service.Call) {
	if call.Caller == nil {
		call.Caller = identity.Anonymous
	}
	if call.Authorizer == nil {
		call.Authorizer = f.authz
	}
	gw := &guardWriter{ResponseWriter: w, call: call, log: f.Log}
	q := &request{f: f, w: gw, r: r, call: call, q: r.URL.Query()}
	gw.req = q
	h := gw.Header()
	h.Set("x-amz-request-id", call.RequestID)
	h.Set("x-amz-id-2", restxml.NewHostID()) // S3 clients log both IDs with every failure
	h.Set("Server", "Banyan")
	q.bucket, q.key = f.address(r)
	op, fn := route(q)
	q.op = op
	if op != "PreflightCORS" {
		q.applyCORS()
	}
	err := fn(q)
	if err != nil {
		q.fail(err)
		return
	}
	if !gw.wrote {
		gw.WriteHeader(http.StatusOK)
	}
}

// fail answers err in S3's shape, unless the response has already begun (a GET whose
// body broke off), in which case only the log can say so.
func (q *request) fail(err error) {
	e := toS3Error(err)
	if e.HTTPStatus >= 500 {
		q.f.Log.Error("S3 call failed", "op", q.op, "bucket", q.bucket, "key", q.key, "request_id", q.call.RequestID, "err", err)
	}
	if q.w.wrote {
		q.f.Log.Warn("S3 response broken off", "op", q.op, "bucket", q.bucket, "key", q.key, "err", err)
		return
	}
	if e.HTTPStatus == http.StatusNotModified {
		// 304 carries no body, and S3 sends no error document with it.
		q.w.WriteHeader(http.StatusNotModified)
		return
	}
	resource := q.r.URL.Path
	restxml.WriteError(q.w, q.r, e, resource, q.call.RequestID, restxml.NewHostID())
}

// guardWriter refuses to send a success for a request the handler never authorized:
// S3 responses stream, so the check sits where the status is written.
type guardWriter struct {
	http.ResponseWriter
	call  *service.Call
	req   *request
	log   *slog.Logger
	wrote bool
}

func (g *guardWriter) WriteHeader(status int) {
	if g.wrote {
		return
	}
	g.wrote = true
	if status < 400 && !g.call.Authorized() {
		g.log.Error("S3 handler answered success without authorizing the call; refusing", "op", g.req.op)
		e := awserr.InternalError
		body := restxml.AppendError(nil, e, g.req.r.URL.Path, g.call.RequestID, restxml.NewHostID())
		g.ResponseWriter.Header().Set("Content-Type", "application/xml")
		g.ResponseWriter.Header().Del("Content-Length")
		g.ResponseWriter.WriteHeader(e.HTTPStatus)
		_, _ = g.ResponseWriter.Write(body)
		g.ResponseWriter = discardBody{g.ResponseWriter}
		return
	}
	g.ResponseWriter.WriteHeader(status)
}

func (g *guardWriter) Write(p []byte) (int, error) {
	if !g.wrote {
		g.WriteHeader(http.StatusOK)
	}
	return g.ResponseWriter.Write(p)
}

type discardBody struct{ http.ResponseWriter }

func (d discardBody) Write(p []byte) (int, error) { return len(p), nil }
func (d discardBody) WriteHeader(int)             {}

// address returns the bucket and key a request names: virtual-host style when the Host
// is BUCKET.DOMAIN for a configured domain, else path-style /BUCKET/KEY.
func (f *Frontend) address(r *http.Request) (bucket, key string) {
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.ToLower(host)
	path := r.URL.Path
	for _, d := range f.Domains {
		d = strings.ToLower(d)
		if b, ok := strings.CutSuffix(host, "."+d); ok && b != "" {
			return b, strings.TrimPrefix(path, "/")
		}
	}
	path = strings.TrimPrefix(path, "/")
	bucket, key, _ = strings.Cut(path, "/")
	return bucket, key
}

// notImplemented lists S3 subresources Banyan knows but does not serve, so that a client
// gets NotImplemented rather than a listing or an object write it did not ask for.
var notImplemented = []string{"accelerate", "analytics", "intelligent-tiering", "inventory",
	"logging", "metrics", "notification", "policyStatus",
	"replication", "requestPayment", "website",
	"restore", "select", "torrent", "attributes", "metadataTable", "renameObject"}

func (q *request) has(k string) bool { _, ok := q.q[k]; return ok }

// route picks the operation from the method, the address and the subresource keys.
func route(q *request) (string, handler) {
	m := q.r.Method
	if m == http.MethodOptions {
		return "PreflightCORS", (*request).preflightCORS
	}
	if q.bucket == "" {
		if m == http.MethodGet {
			return "ListBuckets", (*request).listBuckets
		}
		return "", methodNotAllowed
	}
	if m == http.MethodGet && q.key != "" && q.has("attributes") { // any other ?attributes stays NotImplemented
		return "GetObjectAttributes", (*request).getObjectAttributes
	}
	for _, k := range notImplemented {
		if q.has(k) {
			return k, func(*request) error { return errNotImplemented }
		}
	}
	if q.key == "" {
		return routeBucket(q, m)
	}
	return routeObject(q, m)
}

func routeBucket(q *request, m string) (string, handler) {
	type sub struct {
		key string
		op  string
		h   handler
	}
	var table []sub
	switch m {
	case http.MethodGet:
		table = []sub{{"location", "GetBucketLocation", (*request).getBucketLocation},
			{"versioning", "GetBucketVersioning", (*request).getBucketVersioning},
			{"versions", "ListObjectVersions", (*request).listObjectVersions},
			{"uploads", "ListMultipartUploads", (*request).listMultipartUploads},
			{"policy", "GetBucketPolicy", (*request).getBucketPolicy},
			{"acl", "GetBucketAcl", (*request).getBucketACL},
			{"tagging", "GetBucketTagging", (*request).getBucketTagging},
			{"cors", "GetBucketCors", (*request).getBucketCORS},
			{"lifecycle", "GetBucketLifecycleConfiguration", (*request).getBucketLifecycle},
			{"object-lock", "GetObjectLockConfiguration", (*request).getObjectLockConfiguration},
			{"publicAccessBlock", "GetPublicAccessBlock", (*request).getPublicAccessBlock},
			{"ownershipControls", "GetBucketOwnershipControls", (*request).getBucketOwnershipControls},
			{"encryption", "GetBucketEncryption", (*request).getBucketEncryption}}
		for _, s := range table {
			if q.has(s.key) {
				return s.op, s.h
			}
		}
		if q.q.Get("list-type") == "2" {
			return "ListObjectsV2", (*request).listObjectsV2
		}
		return "ListObjects", (*request).listObjects
	case http.MethodPut:
		table = []sub{{"versioning", "PutBucketVersioning", (*request).putBucketVersioning},
			{"policy", "PutBucketPolicy", (*request).putBucketPolicy},
			{"acl", "PutBucketAcl", (*request).putBucketACL},
			{"tagging", "PutBucketTagging", (*request).putBucketTagging},
			{"cors", "PutBucketCors", (*request).putBucketCORS},
			{"lifecycle", "PutBucketLifecycleConfiguration", (*request).putBucketLifecycle},
			{"object-lock", "PutObjectLockConfiguration", (*request).putObjectLockConfiguration},
			{"publicAccessBlock", "PutPublicAccessBlock", (*request).putPublicAccessBlock},
			{"ownershipControls", "PutBucketOwnershipControls", (*request).putBucketOwnershipControls},
			{"encryption", "PutBucketEncryption", (*request).putBucketEncryption}}
		for _, s := range table {
			if q.has(s.key) {
				return s.op, s.h
			}
		}
		return "CreateBucket", (*request).createBucket
	case http.MethodDelete:
		table = []sub{{"policy", "DeleteBucketPolicy", (*request).deleteBucketPolicy},
			{"tagging", "DeleteBucketTagging", (*request).deleteBucketTagging},
			{"cors", "DeleteBucketCors", (*request).deleteBucketCORS},
			{"lifecycle", "DeleteBucketLifecycle", (*request).deleteBucketLifecycle},
			{"publicAccessBlock", "DeletePublicAccessBlock", (*request).deletePublicAccessBlock},
			{"ownershipControls", "DeleteBucketOwnershipControls", (*request).deleteBucketOwnershipControls},
			{"encryption", "DeleteBucketEncryption", (*request).deleteBucketEncryption}}
		for _, s := range table {
			if q.has(s.key) {
				return s.op, s.h
			}
		}
		return "DeleteBucket", (*request).deleteBucket
	case http.MethodHead:
		return "HeadBucket", (*request).headBucket
	case http.MethodPost:
		if q.has("delete") {
			return "DeleteObjects", (*request).deleteObjects
		}
		if isPostObject(q.r) {
			return "PostObject", (*request).postObject
		}
	}
	return "", methodNotAllowed
}

func routeObject(q *request, m string) (string, handler) {
	switch m {
	case http.MethodGet:
		switch {
		case q.has("uploadId"):
			return "ListParts", (*request).listParts
		case q.has("acl"):
			return "GetObjectAcl", (*request).getObjectACL
		case q.has("tagging"):
			return "GetObjectTagging", (*request).getObjectTagging
		case q.has("retention"):
			return "GetObjectRetention", (*request).getObjectRetention
		case q.has("legal-hold"):
			return "GetObjectLegalHold", (*request).getObjectLegalHold
		}
		return "GetObject", (*request).getObject
	case http.MethodHead:
		return "HeadObject", (*request).headObject
	case http.MethodPut:
		switch {
		case q.has("uploadId") && q.r.Header.Get("x-amz-copy-source") != "":
			return "UploadPartCopy", (*request).uploadPartCopy
		case q.has("uploadId"):
			return "UploadPart", (*request).uploadPart
		case q.has("tagging"):
			return "PutObjectTagging", (*request).putObjectTagging
		case q.has("acl"):
			return "PutObjectAcl", (*request).putObjectACL
		case q.has("retention"):
			return "PutObjectRetention", (*request).putObjectRetention
		case q.has("legal-hold"):
			return "PutObjectLegalHold", (*request).putObjectLegalHold
		case q.r.Header.Get("x-amz-copy-source") != "":
			return "CopyObject", (*request).copyObject
		}
		return "PutObject", (*request).putObject
	case http.MethodPost:
		switch {
		case q.has("uploads"):
			return "CreateMultipartUpload", (*request).createMultipartUpload
		case q.has("uploadId"):
			return "CompleteMultipartUpload", (*request).completeMultipartUpload
		}
	case http.MethodDelete:
		switch {
		case q.has("uploadId"):
			return "AbortMultipartUpload", (*request).abortMultipartUpload
		case q.has("tagging"):
			return "DeleteObjectTagging", (*request).deleteObjectTagging
		}
		return "DeleteObject", (*request).deleteObject
	}
	return "", methodNotAllowed
}

func methodNotAllowed(*request) error { return errMethodNotAllowed }

// loadBucket reads the bucket record from this node's replica.
func (q *request) loadBucket() (*state.Bucket, error) {
	var b *state.Bucket
	var err error
	if q.fresh {
		if b, err = q.f.cluster.State().Bucket(q.bucket); errors.Is(err, state.ErrNotFound) {
			err = errNoSuchBucket
		}
	} else {
		b, err = q.f.loadBucket(q.bucket)
	}
	if err != nil {
		return nil, err
	}
	if want := q.r.Header.Get("x-amz-expected-bucket-owner"); want != "" && want != b.Owner {
		// The caller's guard against writing into a bucket that changed hands.
		return nil, errAccessDenied
	}
	return b, nil
}

func (f *Frontend) loadBucket(name string) (*state.Bucket, error) {
	b, err := f.cluster.State().Bucket(name)
	if errors.Is(err, state.ErrNotFound) {
		// Created through another box a moment ago? Catch up with the leader, then look
		// again: only a miss pays this round trip. A miss that cannot be checked (no
		// leader) is not answered NoSuchBucket: the bucket may well exist.
		if cerr := f.catchUp(context.Background()); cerr != nil {
			return nil, cerr
		}
		b, err = f.cluster.State().Bucket(name)
	}
	if errors.Is(err, state.ErrNotFound) {
		return nil, errNoSuchBucket
	}
	return b, err
}

// catchUp brings this box's replica up to everything committed anywhere when called
// (iam.ReadBarrier: a round trip to the leader, no Raft write unless the log ends in an
// entry the replica never applies), for the answers that must hold cluster-wide rather
// than only for writes made through this box: whether a bucket exists (HeadBucket,
// ListBuckets, GetBucketLocation, a lookup that missed) and which record DeleteBucket
// removes. Object reads and writes use the replica as it is: bucket records change
// rarely and a miss catches up anyway. Its error (no leader) is the cluster's retryable
// one, answered 503.
func (f *Frontend) catchUp(ctx context.Context) error {
	return service.ReadBarrier(ctx, f.cluster)
}

// catchUp is Frontend.catchUp for this request; loadBucket then trusts a miss.
func (q *request) catchUp() error {
	if err := q.f.catchUp(q.r.Context()); err != nil {
		return err
	}
	q.fresh = true
	return nil
}

// isAnonymous reports whether the request carried no credentials.
func (q *request) isAnonymous() bool {
	return q.call.Caller == nil || q.call.Caller.Type == identity.TypeAnonymous
}

// Claims reports whether an unsigned request, which has no SigV4 scope for the front
// door to route by, belongs to S3: anonymous reads and writes of buckets and objects,
// and browsers' CORS preflights. The RPC-style services are POSTs carrying an Action
// (query protocols) or an X-Amz-Target or a CBOR body (JSON and RPC v2 protocols), so
// those stay with them and keep answering MissingAuthenticationToken.
func Claims(r *http.Request) bool {
	q := r.URL.Query()
	if r.Header.Get("X-Amz-Target") != "" || q.Has("Action") {
		return false
	}
	if r.Method != http.MethodPost {
		return true
	}
	if isPostObject(r) && strings.Count(strings.Trim(r.URL.Path, "/"), "/") == 0 {
		return true // a browser-based upload to a bucket: its signature is in the form
	}
	ct := strings.ToLower(r.Header.Get("Content-Type"))
	for _, rpc := range []string{"application/x-www-form-urlencoded", "application/x-amz-json", "application/cbor"} {
		if strings.HasPrefix(ct, rpc) {
			return false
		}
	}
	return q.Has("delete") || q.Has("uploads") || q.Has("uploadId")
}
