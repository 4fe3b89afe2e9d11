package s3

import (
	"bytes"
	"net/http"

	"github.com/banyancloud/banyan/api/awserr"
	"github.com/banyancloud/banyan/api/protocol/restxml"
	"github.com/banyancloud/banyan/cluster/state"
)

// S3 Object Ownership (state.Bucket.Ownership; "" when the bucket has no ownership
// controls, which Banyan serves as ObjectWriter did: ACLs work). BucketOwnerEnforced
// disables ACLs: they grant nothing (aclStatements), and a call that sets one other than
// bucket-owner-full-control (or the same as explicit grants) fails with
// AccessControlListNotSupported. Reading ACLs still works. Every object of a bucket is
// its owner's in Banyan whichever setting, so BucketOwnerPreferred and ObjectWriter only
// differ from each other in name.
//
// Unlike S3 since April 2023, a bucket created without x-amz-object-ownership gets no
// ownership controls (and no Block Public Access): buckets keep the ACL behaviour they
// had before these settings existed.

const ownerEnforced = "BucketOwnerEnforced"

var objectOwnerships = map[string]bool{ownerEnforced: true, "BucketOwnerPreferred": true, "ObjectWriter": true}

var (
	errNoOwnershipControls    = awserr.New("OwnershipControlsNotFoundError", http.StatusNotFound, "The bucket ownership controls were not found")
	errACLNotSupported        = awserr.New("AccessControlListNotSupported", http.StatusBadRequest, "The bucket does not allow ACLs")
	errACLWithObjectOwnership = awserr.New("InvalidBucketAclWithObjectOwnership", http.StatusBadRequest, "Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting")
	errInvalidObjectOwnership = errInvalidArgument.WithMessage("Invalid x-amz-object-ownership header")
)

// aclsDisabled reports whether the bucket's ACLs (and its objects') grant nothing.
func aclsDisabled(b *state.Bucket) bool { return b != nil && b.Ownership == ownerEnforced }

// ownerOnlyACL reports whether a stored ACL gives nothing to anyone but the owner:
// what a bucket whose ACLs are disabled accepts.
func ownerOnlyACL(acl, owner string) bool {
	if gs, ok := decodeGrants(acl); ok {
		for _, g := range gs {
			if g.Type != "id" || g.Value != owner || g.Permission != "FULL_CONTROL" {
				return false
			}
		}
		return true
	}
	return acl == "" || acl == "bucket-owner-full-control"
}

// allowACL checks an ACL a call is about to set on bucket b or one of its objects
// (stored form; "" when the call sets none) against the bucket's Object Ownership and
// Block Public Access. Called after the call is authorized.
func allowACL(b *state.Bucket, acl string) error {
	if acl == "" {
		return nil
	}
	if aclsDisabled(b) && !ownerOnlyACL(acl, b.Owner) {
		return errACLNotSupported
	}
	if publicAccessBlock(b).BlockPublicAcls && isPublicACL(acl) {
		return errAccessDenied
	}
	return nil
}

// objectOwnershipHeader reads CreateBucket's x-amz-object-ownership (acl is the ACL the
// same call sets) and authorizes it: setting it needs s3:PutBucketOwnershipControls.
func (q *request) objectOwnershipHeader(acl string) (string, error) {
	v := q.r.Header.Get("x-amz-object-ownership")
	if v == "" {
		return "", nil
	}
	if !objectOwnerships[v] {
		return "", errInvalidObjectOwnership
	}
	if v == ownerEnforced && !ownerOnlyACL(acl, q.call.Caller.AccountID) {
		return "", errACLWithObjectOwnership
	}
	if err := q.call.AuthorizeCheck(identityCheck("s3:PutBucketOwnershipControls", bucketARN(q.bucket), q.call.Caller.AccountID, nil)); err != nil {
		return "", err
	}
	return v, nil
}

func (q *request) getBucketOwnershipControls() error {
	b, err := q.loadBucket()
	if err != nil {
		return err
	}
	if err := q.authorize(b, "s3:GetBucketOwnershipControls", bucketARN(b.Name), nil); err != nil {
		return err
	}
	if b.Ownership == "" {
		return errNoOwnershipControls
	}
	out := OwnershipControls{Rules: []OwnershipControlsRule{{ObjectOwnership: b.Ownership}}}
	return restxml.WriteXML(q.w, http.StatusOK, "OwnershipControls", &out)
}

func (q *request) putBucketOwnershipControls() error {
	b, err := q.loadBucket()
	if err != nil {
		return err
	}
	if err := q.authorize(b, "s3:PutBucketOwnershipControls", bucketARN(b.Name), nil); err != nil {
		return err
	}
	body, err := readBody(q.r, restxml.DefaultMaxXMLBytes)
	if err != nil {
		return err
	}
	var in OwnershipControls
	if len(bytes.TrimSpace(body)) == 0 || restxml.Unmarshal(body, &in) != nil {
		return errMalformedXML
	}
	if len(in.Rules) != 1 || !objectOwnerships[in.Rules[0].ObjectOwnership] {
		return errMalformedXML
	}
	v := in.Rules[0].ObjectOwnership
	err = q.updateBucket(func(b *state.Bucket) error {
		// S3 refuses to disable ACLs while the bucket's own ACL grants to others: they
		// would lose access silently. Move those grants into the policy first.
		if v == ownerEnforced && !ownerOnlyACL(canonicalBucketACL(b.ACL), b.Owner) {
			return errACLWithObjectOwnership
		}
		b.Ownership = v
		return nil
	})
	if err != nil {
		return err
	}
	q.w.WriteHeader(http.StatusOK)
	return nil
}

// canonicalBucketACL maps the canned ACLs that grant nothing beyond the owner to "".
func canonicalBucketACL(acl string) string {
	if acl == "private" {
		return ""
	}
	return acl
}

func (q *request) deleteBucketOwnershipControls() error {
	b, err := q.loadBucket()
	if err != nil {
		return err
	}
	// S3 has no action of its own for the delete: PutBucketOwnershipControls governs it.
	if err := q.authorize(b, "s3:PutBucketOwnershipControls", bucketARN(b.Name), nil); err != nil {
		return err
	}
	if err := q.updateBucket(func(b *state.Bucket) error { b.Ownership = ""; return nil }); err != nil {
		return err
	}
	q.w.WriteHeader(http.StatusNoContent)
	return nil
}
