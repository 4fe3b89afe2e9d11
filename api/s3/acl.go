package s3

import (
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/banyancloud/banyan/cluster/state"
)

// aclHeader is where an object's canned ACL is kept among its stored headers; it is
// never returned as a header on GET.
const aclHeader = "x-amz-acl"

var cannedACLs = map[string]bool{"private": true, "public-read": true, "public-read-write": true,
	"authenticated-read": true, "bucket-owner-read": true, "bucket-owner-full-control": true,
	"aws-exec-read": true, "log-delivery-write": true}

// cannedACL returns the request's x-amz-acl, InvalidArgument when S3 does not know it.
func (q *request) cannedACL() (string, error) {
	acl := q.r.Header.Get("x-amz-acl")
	if acl != "" && !cannedACLs[acl] {
		return "", errInvalidArgument.WithMessage("Invalid canned ACL %q", acl)
	}
	if hasGrantHeaders(q.r.Header) {
		return q.headerGrants(acl) // explicit grants, stored in the canned ACL's place (grants.go)
	}
	return acl, nil
}

// Canned ACLs are enforced as extra resource-policy statements: the policy evaluator
// then applies them with AWS's precedence (an explicit deny in the bucket policy wins).
func grant(actions []string, resource string, authenticatedOnly bool) map[string]any {
	s := map[string]any{"Effect": "Allow", "Principal": "*", "Action": actions, "Resource": resource}
	if authenticatedOnly {
		s["Condition"] = map[string]any{"StringNotEquals": map[string]any{"aws:PrincipalType": "Anonymous"}}
	}
	return s
}

var (
	bucketReadActions  = []string{"s3:ListBucket", "s3:ListBucketVersions", "s3:ListBucketMultipartUploads"}
	bucketWriteActions = []string{"s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"}
	// READ on an object is what GetObjectAttributes needs as well (its API reference: "you
	// must have READ access to the object").
	objectReadActions = []string{"s3:GetObject", "s3:GetObjectVersion", "s3:GetObjectAttributes", "s3:GetObjectVersionAttributes"}
)

// bucketACLStatements: READ on a bucket lists it; WRITE writes and deletes its objects.
// As on AWS, a public-read bucket does not make its objects readable.
func bucketACLStatements(acl, bucket string) []any {
	if gs, ok := decodeGrants(acl); ok {
		return grantStatements(gs, bucket, true)
	}
	switch acl {
	case "public-read":
		return []any{grant(bucketReadActions, bucket, false)}
	case "public-read-write":
		return []any{grant(bucketReadActions, bucket, false), grant(bucketWriteActions, bucket+"/*", false)}
	case "authenticated-read":
		return []any{grant(bucketReadActions, bucket, true)}
	}
	return nil
}

func objectACLStatements(acl, object string) []any {
	if gs, ok := decodeGrants(acl); ok {
		return grantStatements(gs, object, false)
	}
	switch acl {
	case "public-read", "public-read-write":
		return []any{grant(objectReadActions, object, false)}
	case "authenticated-read":
		return []any{grant(objectReadActions, object, true)}
	}
	return nil
}

// aclDocument renders a canned ACL as the grants S3 reports for it.
func aclDocument(owner, acl string) []byte {
	if gs, ok := decodeGrants(acl); ok {
		return grantsDocument(owner, gs)
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<?xml version="1.0" encoding="UTF-8"?>`+"\n"+`<AccessControlPolicy xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Owner><ID>%s</ID><DisplayName>%s</DisplayName></Owner><AccessControlList>`, owner, owner)
	g := func(grantee, perm string) {
		fmt.Fprintf(&b, `<Grant><Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" %s</Grantee><Permission>%s</Permission></Grant>`, grantee, perm)
	}
	ownerG := fmt.Sprintf(`xsi:type="CanonicalUser"><ID>%s</ID><DisplayName>%s</DisplayName>`, owner, owner)
	group := func(uri string) string { return `xsi:type="Group"><URI>` + uri + `</URI>` }
	const allUsers = "http://acs.amazonaws.com/groups/global/AllUsers"
	const authUsers = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"
	g(ownerG, "FULL_CONTROL")
	switch acl {
	case "public-read":
		g(group(allUsers), "READ")
	case "public-read-write":
		g(group(allUsers), "READ")
		g(group(allUsers), "WRITE")
	case "authenticated-read":
		g(group(authUsers), "READ")
	}
	b.WriteString(`</AccessControlList></AccessControlPolicy>`)
	return []byte(b.String())
}

func (q *request) writeACL(owner, acl string) error {
	body := aclDocument(owner, acl)
	q.w.Header().Set("Content-Type", "application/xml")
	q.w.WriteHeader(http.StatusOK)
	_, err := q.w.Write(body)
	return err
}

func (q *request) getBucketACL() error {
	b, err := q.loadBucket()
	if err != nil {
		return err
	}
	if err := q.authorize(b, "s3:GetBucketAcl", bucketARN(b.Name), nil); err != nil {
		return err
	}
	return q.writeACL(b.Owner, b.ACL)
}

// putBucketACL sets a canned ACL (x-amz-acl) or explicit grants (x-amz-grant-* headers
// or an AccessControlPolicy body).
func (q *request) putBucketACL() error {
	b, err := q.loadBucket()
	if err != nil {
		return err
	}
	acl, err := q.requestedACL(b.Owner)
	if err != nil {
		return err
	}
	if err := q.authorize(b, "s3:PutBucketAcl", bucketARN(b.Name), aclContext(acl)); err != nil {
		return err
	}
	if acl == "" {
		return errMalformedACL
	}
	if err := allowACL(b, acl); err != nil { // Object Ownership, Block Public Access
		return err
	}
	return q.updateBucket(func(b *state.Bucket) error { b.ACL = acl; return nil })
}

func (q *request) getObjectACL() error {
	b, err := q.loadBucket()
	if err != nil {
		return err
	}
	versionID := q.q.Get("versionId")
	action := "s3:GetObjectAcl"
	if versionID != "" {
		action = "s3:GetObjectVersionAcl"
	}
	if err := q.authorizeObjectACL(b, action, versionID, nil); err != nil {
		return err
	}
	info, err := q.f.objects.HeadObject(q.r.Context(), b.Name, q.key, getOptionsVersion(versionID))
	if err != nil {
		return err
	}
	setVersionHeader(q.w.Header(), info.VersionID)
	return q.writeACL(b.Owner, info.Headers[aclHeader])
}

// putObjectACL sets a version's ACL (canned or explicit grants) in place, as S3 does:
// no new version.
func (q *request) putObjectACL() error {
	b, err := q.loadBucket()
	if err != nil {
		return err
	}
	acl, err := q.requestedACL(b.Owner)
	if err != nil {
		return err
	}
	versionID := q.q.Get("versionId")
	action := "s3:PutObjectAcl"
	if versionID != "" {
		action = "s3:PutObjectVersionAcl"
	}
	if err := q.authorizeObjectACL(b, action, versionID, aclContext(acl)); err != nil {
		return err
	}
	if acl == "" {
		return errMalformedACL
	}
	if err := allowACL(b, acl); err != nil { // Object Ownership, Block Public Access
		return err
	}
	info, err := q.f.objects.PutObjectHeader(q.r.Context(), b.Name, q.key, versionID, aclHeader, acl)
	if err != nil {
		return err
	}
	setVersionHeader(q.w.Header(), info.VersionID)
	q.w.WriteHeader(http.StatusOK)
	return nil
}

// writeContext is the condition keys of an object write: s3:x-amz-acl (aclContext) and
// s3:x-amz-server-side-encryption and its KMS key ID, each present when the request
// asks for it, as S3 sets them (a bucket policy that denies unencrypted uploads tests them).
//
// It also gives s3:RequestObjectTag/KEY and s3:RequestObjectTagKeys for the tags the
// request sets (x-amz-tagging), and s3:x-amz-copy-source ("bucket/key") for a copy.
func (q *request) writeContext(acl string) map[string][]string {
	ctx := aclContext(acl)
	if ctx == nil {
		ctx = map[string][]string{}
	}
	for _, h := range [][2]string{{"x-amz-server-side-encryption", "s3:x-amz-server-side-encryption"},
		{"x-amz-server-side-encryption-aws-kms-key-id", "s3:x-amz-server-side-encryption-aws-kms-key-id"}} {
		if v := q.r.Header.Get(h[0]); v != "" {
			ctx[h[1]] = []string{v}
		}
	}
	if tagging := q.r.Header.Get("x-amz-tagging"); tagging != "" {
		if tags, err := url.ParseQuery(tagging); err == nil {
			keys := make([]string, 0, len(tags))
			for k, v := range tags {
				keys = append(keys, k)
				ctx["s3:RequestObjectTag/"+k] = v
			}
			sort.Strings(keys)
			ctx["s3:RequestObjectTagKeys"] = keys
		}
	}
	if src := q.r.Header.Get("x-amz-copy-source"); src != "" {
		src, _, _ = strings.Cut(src, "?versionId=")
		if u, err := url.PathUnescape(src); err == nil {
			src = u
		}
		ctx["s3:x-amz-copy-source"] = []string{strings.TrimPrefix(src, "/")}
	}
	return ctx
}

func aclContext(acl string) map[string][]string {
	if acl == "" || strings.HasPrefix(acl, grantsPrefix) {
		return nil
	}
	return map[string][]string{"s3:x-amz-acl": {acl}}
}
