package s3

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/netip"
	"strings"

	"github.com/banyancloud/banyan/api/awserr"
	"github.com/banyancloud/banyan/api/protocol/restxml"
	"github.com/banyancloud/banyan/cluster/state"
)

// S3 Block Public Access on a bucket (state.Bucket.PublicAccessBlock, through Raft). The
// four settings act where ACLs and policies are written and where they are turned into
// the resource policy (resourcePolicy):
//
//   - BlockPublicAcls: an ACL write that would make the bucket or an object public is
//     refused (AccessDenied); what is stored already stays.
//   - IgnorePublicAcls: grants to AllUsers or AuthenticatedUsers grant nothing.
//   - BlockPublicPolicy: PutBucketPolicy with a public policy is refused (AccessDenied).
//   - RestrictPublicBuckets: while the bucket policy is public, its Allow statements
//     grant nothing to anonymous callers and other accounts; its Denies still apply.
//
// Banyan has no account-level (s3control) configuration: the bucket's is the one that
// applies.

var errNoPublicAccessBlock = awserr.New("NoSuchPublicAccessBlockConfiguration", http.StatusNotFound, "The public access block configuration was not found")

// publicAccessBlock returns the bucket's configuration, the zero one (nothing blocked)
// when it has none.
func publicAccessBlock(b *state.Bucket) state.PublicAccessBlock {
	if b == nil || b.PublicAccessBlock == nil {
		return state.PublicAccessBlock{}
	}
	return *b.PublicAccessBlock
}

func (q *request) getPublicAccessBlock() error {
	b, err := q.loadBucket()
	if err != nil {
		return err
	}
	if err := q.authorize(b, "s3:GetBucketPublicAccessBlock", bucketARN(b.Name), nil); err != nil {
		return err
	}
	if b.PublicAccessBlock == nil {
		return errNoPublicAccessBlock
	}
	c := b.PublicAccessBlock
	out := PublicAccessBlockConfiguration{BlockPublicAcls: ptr(c.BlockPublicAcls), IgnorePublicAcls: ptr(c.IgnorePublicAcls),
		BlockPublicPolicy: ptr(c.BlockPublicPolicy), RestrictPublicBuckets: ptr(c.RestrictPublicBuckets)}
	return restxml.WriteXML(q.w, http.StatusOK, "PublicAccessBlockConfiguration", &out)
}

func (q *request) putPublicAccessBlock() error {
	b, err := q.loadBucket()
	if err != nil {
		return err
	}
	if err := q.authorize(b, "s3:PutBucketPublicAccessBlock", bucketARN(b.Name), nil); err != nil {
		return err
	}
	body, err := readBody(q.r, restxml.DefaultMaxXMLBytes)
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return errMalformedXML
	}
	var in PublicAccessBlockConfiguration
	if err := restxml.Unmarshal(body, &in); err != nil {
		return errMalformedXML
	}
	c := &state.PublicAccessBlock{BlockPublicAcls: isTrue(in.BlockPublicAcls), IgnorePublicAcls: isTrue(in.IgnorePublicAcls),
		BlockPublicPolicy: isTrue(in.BlockPublicPolicy), RestrictPublicBuckets: isTrue(in.RestrictPublicBuckets)}
	if err := q.updateBucket(func(b *state.Bucket) error { b.PublicAccessBlock = c; return nil }); err != nil {
		return err
	}
	q.w.WriteHeader(http.StatusOK)
	return nil
}

func (q *request) deletePublicAccessBlock() error {
	b, err := q.loadBucket()
	if err != nil {
		return err
	}
	// S3 has no action of its own for the delete: PutBucketPublicAccessBlock governs it.
	if err := q.authorize(b, "s3:PutBucketPublicAccessBlock", bucketARN(b.Name), nil); err != nil {
		return err
	}
	if err := q.updateBucket(func(b *state.Bucket) error { b.PublicAccessBlock = nil; return nil }); err != nil {
		return err
	}
	q.w.WriteHeader(http.StatusNoContent)
	return nil
}

func isTrue(b *bool) bool { return b != nil && *b }

// isPublicACL reports whether a stored ACL (canned or grants) grants anything to
// AllUsers or AuthenticatedUsers.
func isPublicACL(acl string) bool {
	if gs, ok := decodeGrants(acl); ok {
		for _, g := range gs {
			if g.Type == "uri" && (g.Value == groupAllUsers || g.Value == groupAuthenticated) {
				return true
			}
		}
		return false
	}
	switch acl {
	case "public-read", "public-read-write", "authenticated-read":
		return true
	}
	return false
}

// withoutPublicGrants drops the statements ACLs make for AllUsers and AuthenticatedUsers
// (grant's, whose Principal is "*"), keeping grants to accounts.
func withoutPublicGrants(stmts []any) []any {
	var out []any
	for _, s := range stmts {
		if m, ok := s.(map[string]any); ok && m["Principal"] == "*" {
			continue
		}
		out = append(out, s)
	}
	return out
}

// aclStatements are the statements a bucket's ACL and an object's ACL add to the
// resource policy, as Object Ownership and Block Public Access leave them.
func aclStatements(b *state.Bucket, objectACL, resource string) []any {
	if aclsDisabled(b) {
		return nil
	}
	extra := bucketACLStatements(b.ACL, bucketARN(b.Name))
	if objectACL != "" {
		extra = append(extra, objectACLStatements(objectACL, resource)...)
	}
	if publicAccessBlock(b).IgnorePublicAcls {
		extra = withoutPublicGrants(extra)
	}
	return extra
}

// restrictPublic reports whether RestrictPublicBuckets takes the bucket policy's
// Allows away from this caller: an anonymous one or one of another account, while the
// policy is public.
func (q *request) restrictPublic(b *state.Bucket) bool {
	if !publicAccessBlock(b).RestrictPublicBuckets || b.Policy == "" {
		return false
	}
	if !q.isAnonymous() && q.call.Caller.AccountID == b.Owner {
		return false
	}
	return isPublicPolicy(b.Policy)
}

// denyStatementsOnly keeps a policy document's Deny statements; "" when it has none.
func denyStatementsOnly(doc string) (string, error) {
	var p map[string]any
	if err := json.Unmarshal([]byte(doc), &p); err != nil {
		return "", err
	}
	var keep []any
	for _, s := range policyStatements(p) {
		if m, ok := s.(map[string]any); ok && m["Effect"] == "Deny" {
			keep = append(keep, s)
		}
	}
	if keep == nil {
		return "", nil
	}
	p["Statement"] = keep
	raw, err := json.Marshal(p)
	return string(raw), err
}

func policyStatements(p map[string]any) []any {
	switch s := p["Statement"].(type) {
	case []any:
		return s
	case map[string]any:
		return []any{s}
	}
	return nil
}

// checkPolicyWrite refuses, under BlockPublicPolicy, a bucket policy that is public.
func checkPolicyWrite(b *state.Bucket, doc string) error {
	if publicAccessBlock(b).BlockPublicPolicy && isPublicPolicy(doc) {
		return errAccessDenied
	}
	return nil
}

// fixingKeys are the condition keys that, set to fixed values, make a statement that
// names every principal non-public (S3's "The meaning of public").
var fixingKeys = map[string]bool{
	"aws:sourceip": true, "aws:sourcearn": true, "aws:sourcevpc": true, "aws:sourcevpce": true,
	"aws:sourceowner": true, "aws:sourceaccount": true, "aws:userid": true,
	"aws:principalorgid": true, "aws:principalaccount": true, "aws:principalarn": true, "aws:principalorgpaths": true,
	"s3:x-amz-server-side-encryption-aws-kms-key-id": true, "s3:dataaccesspointarn": true, "s3:dataaccesspointaccount": true,
}

// fixingOperators are the operators that pin a key to the values given (negations and
// IfExists variants, which also match requests without the key, pin nothing).
var fixingOperators = map[string]bool{"stringequals": true, "stringequalsignorecase": true, "stringlike": true,
	"arnequals": true, "arnlike": true, "ipaddress": true}

// isPublicPolicy reports whether a bucket policy is public as S3 judges it: an Allow
// statement names every principal ("*", {"AWS": "*"}, or NotPrincipal) with no
// condition pinning one of fixingKeys to fixed values. An unreadable policy counts as
// public.
func isPublicPolicy(doc string) bool {
	var p map[string]any
	if err := json.Unmarshal([]byte(doc), &p); err != nil {
		return true
	}
	for _, s := range policyStatements(p) {
		m, ok := s.(map[string]any)
		if !ok || m["Effect"] != "Allow" {
			continue
		}
		if _, not := m["NotPrincipal"]; !not && !namesEveryone(m["Principal"]) {
			continue
		}
		if !conditionPins(m["Condition"]) {
			return true
		}
	}
	return false
}

func namesEveryone(p any) bool {
	switch v := p.(type) {
	case string:
		return v == "*"
	case map[string]any:
		for _, who := range stringValues(v["AWS"]) {
			if who == "*" {
				return true
			}
		}
	}
	return false
}

func conditionPins(c any) bool {
	ops, ok := c.(map[string]any)
	if !ok {
		return false
	}
	for op, keys := range ops {
		op = strings.ToLower(op)
		op = strings.TrimPrefix(op, "foranyvalue:")
		if !fixingOperators[op] {
			continue
		}
		km, ok := keys.(map[string]any)
		if !ok {
			continue
		}
		for k, v := range km {
			if !fixingKeys[strings.ToLower(k)] {
				continue
			}
			vals := stringValues(v)
			if len(vals) > 0 && allFixed(op, vals) {
				return true
			}
		}
	}
	return false
}

// allFixed reports whether every value names a fixed thing: no wildcard, no address
// range that is the whole internet.
func allFixed(op string, vals []string) bool {
	for _, v := range vals {
		if strings.ContainsAny(v, "*?") || v == "" {
			return false
		}
		if op == "ipaddress" {
			pfx, err := netip.ParsePrefix(v)
			if err != nil {
				if _, aerr := netip.ParseAddr(v); aerr != nil {
					return false
				}
				continue
			}
			if pfx.Bits() == 0 {
				return false
			}
		}
	}
	return true
}

func stringValues(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		var out []string
		for _, e := range x {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}
