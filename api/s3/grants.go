package s3

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/banyancloud/banyan/api/awserr"
	"github.com/banyancloud/banyan/cluster/state"
)

// Explicit ACL grants: an AccessControlPolicy body on PutBucketAcl/PutObjectAcl, or the
// x-amz-grant-* headers on those and on the writes that take an ACL (CreateBucket,
// PutObject, CopyObject, CreateMultipartUpload, PostObject). They are stored where a
// canned ACL is (the bucket record's ACL, the object's x-amz-acl header) as grantsPrefix
// and the grants in JSON, and enforced the same way: each grant becomes a statement of
// the resource policy, beside the bucket policy, whose explicit denies still win.
//
// A canonical user ID is an account ID here (ListBuckets reports it as the owner's ID),
// so a grant to one lets that account in: its own IAM policies must allow as well, as on
// AWS for a grant to another account.

const grantsPrefix = "grants:"

const (
	groupAllUsers      = "http://acs.amazonaws.com/groups/global/AllUsers"
	groupAuthenticated = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"
	groupLogDelivery   = "http://acs.amazonaws.com/groups/s3/LogDelivery"
)

var errMalformedACL = awserr.New("MalformedACLError", http.StatusBadRequest, "The XML you provided was not well-formed or did not validate against our published schema")

// aclGrant is one grant as stored.
type aclGrant struct {
	Type       string `json:"t"` // "id" (canonical user) or "uri" (group)
	Value      string `json:"v"`
	Permission string `json:"p"`
}

var grantPermissions = map[string]bool{"FULL_CONTROL": true, "READ": true, "WRITE": true, "READ_ACP": true, "WRITE_ACP": true}

// grantHeaders are the x-amz-grant-* headers and the permission each grants.
var grantHeaders = []struct{ header, permission string }{
	{"x-amz-grant-full-control", "FULL_CONTROL"}, {"x-amz-grant-read", "READ"},
	{"x-amz-grant-write", "WRITE"}, {"x-amz-grant-read-acp", "READ_ACP"}, {"x-amz-grant-write-acp", "WRITE_ACP"},
}

func encodeGrants(gs []aclGrant) string {
	raw, _ := json.Marshal(gs)
	return grantsPrefix + string(raw)
}

// decodeGrants returns the grants of a stored ACL; ok is false for a canned one.
func decodeGrants(stored string) ([]aclGrant, bool) {
	raw, ok := strings.CutPrefix(stored, grantsPrefix)
	if !ok {
		return nil, false
	}
	var gs []aclGrant
	if json.Unmarshal([]byte(raw), &gs) != nil {
		return nil, true // unreadable: grants nothing
	}
	return gs, true
}

func hasGrantHeaders(h http.Header) bool {
	for _, g := range grantHeaders {
		if h.Get(g.header) != "" {
			return true
		}
	}
	return false
}

// checkGrantee refuses what S3 refuses: an e-mail grantee (Banyan has no e-mail
// addresses on record), an unknown canonical ID or group.
func (f *Frontend) checkGrantee(typ, value string) error {
	switch typ {
	case "id":
		if value == "" {
			return errInvalidACLGrantee
		}
		if _, err := f.cluster.State().IAMEntity(state.KindAccount, "", value); errors.Is(err, state.ErrNotFound) {
			return errInvalidACLGrantee
		} else if err != nil {
			return err
		}
	case "uri":
		switch value {
		case groupAllUsers, groupAuthenticated, groupLogDelivery:
		default:
			return errInvalidArgument.WithMessage("Invalid group uri")
		}
	case "emailaddress":
		return errUnresolvableGrantByEmail
	default:
		return errInvalidArgument.WithMessage("Argument format not recognized")
	}
	return nil
}

// headerGrants reads the x-amz-grant-* headers (id="...", uri="...", emailAddress="...",
// comma-separated) into a stored ACL. canned is the request's x-amz-acl: both at once is
// refused, as S3 does.
func (q *request) headerGrants(canned string) (string, error) {
	if canned != "" {
		return "", errInvalidRequest.WithMessage("Specifying both Canned ACLs and Header Grants is not allowed")
	}
	var gs []aclGrant
	for _, g := range grantHeaders {
		v := q.r.Header.Get(g.header)
		if v == "" {
			continue
		}
		for item := range strings.SplitSeq(v, ",") {
			typ, val, ok := strings.Cut(strings.TrimSpace(item), "=")
			if !ok {
				return "", errInvalidArgument.WithMessage("Argument format not recognized")
			}
			typ = strings.ToLower(strings.TrimSpace(typ))
			val = strings.Trim(strings.TrimSpace(val), `"`)
			if err := q.f.checkGrantee(typ, val); err != nil {
				return "", err
			}
			gs = append(gs, aclGrant{Type: typ, Value: val, Permission: g.permission})
		}
	}
	return encodeGrants(gs), nil
}

// xmlACL is AccessControlPolicy as clients send it; the grantee's xsi:type is matched
// whatever the namespace prefix.
type xmlACL struct {
	XMLName xml.Name `xml:"AccessControlPolicy"`
	Owner   *struct {
		ID string `xml:"ID"`
	} `xml:"Owner"`
	Grants []struct {
		Grantee struct {
			Type         string `xml:"type,attr"`
			ID           string `xml:"ID"`
			URI          string `xml:"URI"`
			EmailAddress string `xml:"EmailAddress"`
		} `xml:"Grantee"`
		Permission string `xml:"Permission"`
	} `xml:"AccessControlList>Grant"`
}

// bodyGrants reads an AccessControlPolicy body into a stored ACL. The owner, if given,
// must be the resource's: an ACL cannot hand a bucket or object to someone else.
func (q *request) bodyGrants(body []byte, owner string) (string, error) {
	var doc xmlACL
	if err := xml.Unmarshal(body, &doc); err != nil {
		return "", errMalformedACL
	}
	if doc.Owner != nil && doc.Owner.ID != "" && doc.Owner.ID != owner {
		return "", errAccessDenied
	}
	gs := []aclGrant{}
	for _, g := range doc.Grants {
		if !grantPermissions[g.Permission] {
			return "", errMalformedACL
		}
		var typ, val string
		switch g.Grantee.Type {
		case "CanonicalUser":
			typ, val = "id", g.Grantee.ID
		case "Group":
			typ, val = "uri", g.Grantee.URI
		case "AmazonCustomerByEmail":
			typ, val = "emailaddress", g.Grantee.EmailAddress
		default:
			return "", errMalformedACL
		}
		if err := q.f.checkGrantee(typ, val); err != nil {
			return "", err
		}
		gs = append(gs, aclGrant{Type: typ, Value: val, Permission: g.Permission})
	}
	return encodeGrants(gs), nil
}

// requestedACL is the ACL a Put*Acl call sets: x-amz-acl, x-amz-grant-* headers, or an
// AccessControlPolicy body (only one of the three).
func (q *request) requestedACL(owner string) (string, error) {
	acl, err := q.cannedACL() // x-amz-acl, or the grant headers
	if err != nil {
		return "", err
	}
	body, err := readBody(q.r, 64<<10)
	if err != nil {
		return "", err
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return acl, nil
	}
	if acl != "" {
		return "", awserr.New("UnexpectedContent", http.StatusBadRequest, "This request does not support content")
	}
	return q.bodyGrants(body, owner)
}

var (
	bucketACPActions = map[string][]string{"READ_ACP": {"s3:GetBucketAcl"}, "WRITE_ACP": {"s3:PutBucketAcl"}}
	objectACPActions = map[string][]string{"READ_ACP": {"s3:GetObjectAcl", "s3:GetObjectVersionAcl"},
		"WRITE_ACP": {"s3:PutObjectAcl", "s3:PutObjectVersionAcl"}}
)

// grantStatements turns stored grants into resource-policy statements: on a bucket READ
// lists it and WRITE writes and deletes its objects; on an object READ reads it (WRITE
// means nothing there, as on S3); READ_ACP and WRITE_ACP read and write the ACL;
// FULL_CONTROL is all of them.
func grantStatements(gs []aclGrant, resource string, bucket bool) []any {
	var out []any
	for _, g := range gs {
		perms := []string{g.Permission}
		if g.Permission == "FULL_CONTROL" {
			perms = []string{"READ", "WRITE", "READ_ACP", "WRITE_ACP"}
		}
		for _, p := range perms {
			var actions []string
			res := resource
			switch {
			case bucket && p == "READ":
				actions = bucketReadActions
			case bucket && p == "WRITE":
				actions, res = bucketWriteActions, resource+"/*"
			case bucket:
				actions = bucketACPActions[p]
			case p == "READ":
				actions = objectReadActions
			default:
				actions = objectACPActions[p]
			}
			if s := grantStatement(g, actions, res); s != nil {
				out = append(out, s)
			}
		}
	}
	return out
}

func grantStatement(g aclGrant, actions []string, resource string) map[string]any {
	if len(actions) == 0 {
		return nil
	}
	switch {
	case g.Type == "id":
		return map[string]any{"Effect": "Allow", "Principal": map[string]any{"AWS": g.Value}, "Action": actions, "Resource": resource}
	case g.Value == groupAllUsers:
		return grant(actions, resource, false)
	case g.Value == groupAuthenticated:
		return grant(actions, resource, true)
	}
	return nil // LogDelivery: no S3 server access logging to deliver
}

// grantsDocument renders stored grants as GetBucketAcl/GetObjectAcl report them.
func grantsDocument(owner string, gs []aclGrant) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, `<?xml version="1.0" encoding="UTF-8"?>`+"\n"+`<AccessControlPolicy xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Owner><ID>%s</ID><DisplayName>%s</DisplayName></Owner><AccessControlList>`, xmlText(owner), xmlText(owner))
	for _, g := range gs {
		b.WriteString(`<Grant><Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" `)
		if g.Type == "id" {
			fmt.Fprintf(&b, `xsi:type="CanonicalUser"><ID>%s</ID><DisplayName>%s</DisplayName>`, xmlText(g.Value), xmlText(g.Value))
		} else {
			fmt.Fprintf(&b, `xsi:type="Group"><URI>%s</URI>`, xmlText(g.Value))
		}
		fmt.Fprintf(&b, `</Grantee><Permission>%s</Permission></Grant>`, g.Permission)
	}
	b.WriteString(`</AccessControlList></AccessControlPolicy>`)
	return []byte(b.String())
}

func xmlText(s string) string {
	var b bytes.Buffer
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

// authorizeObjectACL authorizes an object call with the object's own ACL granting as
// well when the bucket alone does not allow it (READ_ACP/WRITE_ACP granted on the
// object to another account), the bucket policy's explicit denies still winning.
func (q *request) authorizeObjectACL(b *state.Bucket, action, versionID string, ctx map[string][]string) error {
	res := objectARN(b.Name, q.key)
	err := q.authorize(b, action, res, ctx)
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
	return q.authorizeWith(b, acl, action, res, ctx)
}
