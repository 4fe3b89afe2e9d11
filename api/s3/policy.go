package s3

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/banyancloud/banyan/api/awserr"
	"github.com/banyancloud/banyan/api/iampolicy"
	"github.com/banyancloud/banyan/api/identity"
	"github.com/banyancloud/banyan/cluster/state"
)

// maxPolicyBytes is S3's limit on a bucket policy document.
const maxPolicyBytes = 20 << 10

func bucketARN(bucket string) string      { return "arn:aws:s3:::" + bucket }
func objectARN(bucket, key string) string { return "arn:aws:s3:::" + bucket + "/" + key }

// authorize asks whether the caller may perform action on resource of bucket b, with the
// bucket's policy and canned ACL as the resource policy and the bucket's owner as the
// resource account (so a caller of another account needs both sides, as on AWS).
func (q *request) authorize(b *state.Bucket, action, resource string, ctx map[string][]string) error {
	return q.authorizeWith(b, "", action, resource, ctx)
}

// authorizeWith is authorize with an object's canned ACL granting as well.
func (q *request) authorizeWith(b *state.Bucket, objectACL, action, resource string, ctx map[string][]string) error {
	pol, err := q.f.resourcePolicy(b, objectACL, resource, q.restrictPublic(b))
	if err != nil {
		return err
	}
	if v := q.q.Get("versionId"); v != "" && q.key != "" {
		// s3:VersionId: the version a request names.
		merged := map[string][]string{"s3:VersionId": {v}}
		for k, x := range ctx {
			merged[k] = x
		}
		ctx = merged
	}
	chk := identity.Check{Action: action, Resource: resource, ResourceAccount: b.Owner, ResourcePolicy: pol, Context: ctx}
	if q.key != "" && resource == objectARN(b.Name, q.key) {
		// s3:ExistingObjectTag/KEY: the object's tags, read only for a policy that tests them.
		chk.LazyPrefix, chk.LazyContext = "s3:ExistingObjectTag/", func() map[string][]string {
			info, err := q.f.objects.HeadObject(q.r.Context(), b.Name, q.key, getOptionsVersion(q.q.Get("versionId")))
			if err != nil {
				return nil
			}
			tags := make(map[string][]string, len(info.Tags))
			for k, v := range info.Tags {
				tags["s3:ExistingObjectTag/"+k] = []string{v}
			}
			return tags
		}
	}
	return q.call.AuthorizeCheck(chk)
}

// authorizeObjectRead authorizes a read of an object, falling back to the object's own
// canned ACL (public-read objects in a private bucket) when the bucket alone does not
// allow it. The bucket policy's explicit denies still win, as the retry keeps them.
func (q *request) authorizeObjectRead(b *state.Bucket, action, versionID string) error {
	res := objectARN(b.Name, q.key)
	err := q.authorize(b, action, res, nil)
	if err == nil || !errors.Is(err, awserr.AccessDenied) {
		return err
	}
	info, herr := q.f.objects.HeadObject(q.r.Context(), b.Name, q.key, getOptionsVersion(versionID))
	if herr != nil {
		return err
	}
	acl := info.Headers[aclHeader]
	if acl == "" || acl == "private" {
		return err
	}
	return q.authorizeWith(b, acl, action, res, nil)
}

// resourcePolicy is the bucket policy with the ACLs' grants added as statements (as
// Object Ownership and Block Public Access leave them: aclStatements), parsed once per
// distinct document. restricted keeps only the policy's Deny statements
// (RestrictPublicBuckets).
func (f *Frontend) resourcePolicy(b *state.Bucket, objectACL, resource string, restricted bool) (*iampolicy.Policy, error) {
	extra := aclStatements(b, objectACL, resource)
	if b.Policy == "" && len(extra) == 0 {
		return nil, nil
	}
	// A bucket's record changes (and its ModifyIndex with it) whenever its policy or ACL
	// does, so the index names the version of the documents being combined.
	generation := b.Name + "\x00" + strconv.FormatUint(b.ModifyIndex, 10) + "\x00"
	cacheKey := generation
	if restricted {
		cacheKey += "\x01" // cannot begin an ACL
	}
	if objectACL != "" {
		cacheKey += objectACL + "\x00" + resource
	}
	if p, ok := f.policies.Load(cacheKey); ok {
		return p.(*iampolicy.Policy), nil
	}
	policy := b.Policy
	if restricted {
		var err error
		if policy, err = denyStatementsOnly(b.Policy); err != nil {
			return nil, err
		}
		if policy == "" && len(extra) == 0 {
			return nil, nil
		}
	}
	doc := policy
	if len(extra) > 0 {
		combined := map[string]any{"Version": "2012-10-17"}
		if policy != "" {
			if err := json.Unmarshal([]byte(policy), &combined); err != nil {
				return nil, err
			}
		}
		var stmts []any
		switch s := combined["Statement"].(type) {
		case []any:
			stmts = s
		case map[string]any:
			stmts = []any{s}
		}
		combined["Statement"] = append(stmts, extra...)
		raw, _ := json.Marshal(combined)
		doc = string(raw)
	}
	p, err := iampolicy.Parse(doc, iampolicy.ResourcePolicy)
	if err != nil {
		return nil, err
	}
	f.dropStalePolicies(b.Name, generation)
	f.policies.Store(cacheKey, p)
	return p, nil
}

// dropStalePolicies removes a bucket's entries of older generations (keep "" drops
// them all) and bounds the cache as a whole.
func (f *Frontend) dropStalePolicies(bucket, keep string) {
	n := 0
	f.policies.Range(func(k, _ any) bool {
		n++
		key := k.(string)
		if strings.HasPrefix(key, bucket+"\x00") && (keep == "" || !strings.HasPrefix(key, keep)) || n > 10000 {
			f.policies.Delete(k)
		}
		return true
	})
}

// validatePolicy checks a bucket policy as S3 does: valid as a resource policy, and
// every resource inside this bucket.
func validatePolicy(bucket, doc string) error {
	if len(doc) > maxPolicyBytes {
		return errMalformedPolicy.WithMessage("Policies cannot exceed 20480 bytes")
	}
	if _, err := iampolicy.Parse(doc, iampolicy.ResourcePolicy); err != nil {
		return errMalformedPolicy.WithMessage("%s", err.Error())
	}
	var raw struct {
		Statement json.RawMessage
	}
	if err := json.Unmarshal([]byte(doc), &raw); err != nil {
		return errMalformedPolicy
	}
	var list []map[string]any
	if err := json.Unmarshal(raw.Statement, &list); err != nil {
		var one map[string]any
		if json.Unmarshal(raw.Statement, &one) == nil {
			list = []map[string]any{one}
		}
	}
	for _, s := range list {
		for _, field := range []string{"Resource", "NotResource"} {
			var res []string
			switch v := s[field].(type) {
			case string:
				res = []string{v}
			case []any:
				for _, x := range v {
					if str, ok := x.(string); ok {
						res = append(res, str)
					}
				}
			}
			for _, r := range res {
				if r != bucketARN(bucket) && !strings.HasPrefix(r, bucketARN(bucket)+"/") {
					return errMalformedPolicy.WithMessage("Policy has invalid resource")
				}
			}
		}
	}
	return nil
}

func (q *request) putBucketPolicy() error {
	b, err := q.loadBucket()
	if err != nil {
		return err
	}
	if err := q.authorize(b, "s3:PutBucketPolicy", bucketARN(b.Name), nil); err != nil {
		return err
	}
	body, err := readBody(q.r, maxPolicyBytes+1)
	if err != nil {
		return err
	}
	if err := validatePolicy(b.Name, string(body)); err != nil {
		return err
	}
	err = q.updateBucket(func(b *state.Bucket) error {
		if err := checkPolicyWrite(b, string(body)); err != nil { // BlockPublicPolicy, as of this record
			return err
		}
		b.Policy = string(body)
		return nil
	})
	if err != nil {
		return err
	}
	q.w.WriteHeader(http.StatusNoContent)
	return nil
}

func (q *request) getBucketPolicy() error {
	b, err := q.loadBucket()
	if err != nil {
		return err
	}
	if err := q.authorize(b, "s3:GetBucketPolicy", bucketARN(b.Name), nil); err != nil {
		return err
	}
	if b.Policy == "" {
		return errNoSuchBucketPolicy
	}
	q.w.Header().Set("Content-Type", "application/json")
	q.w.WriteHeader(http.StatusOK)
	_, err = q.w.Write([]byte(b.Policy))
	return err
}

func (q *request) deleteBucketPolicy() error {
	b, err := q.loadBucket()
	if err != nil {
		return err
	}
	if err := q.authorize(b, "s3:DeleteBucketPolicy", bucketARN(b.Name), nil); err != nil {
		return err
	}
	if err := q.updateBucket(func(b *state.Bucket) error { b.Policy = ""; return nil }); err != nil {
		return err
	}
	q.w.WriteHeader(http.StatusNoContent)
	return nil
}

func identityCheck(action, resource, account string, ctx map[string][]string) identity.Check {
	return identity.Check{Action: action, Resource: resource, ResourceAccount: account, Context: ctx}
}
