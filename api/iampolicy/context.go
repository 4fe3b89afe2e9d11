package iampolicy

import (
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Request is what a policy is evaluated against: who asks to do what to which resource,
// and the request context that conditions and policy variables read. Variables such as
// ${aws:username} are read from Context, not from Principal, as in AWS: call
// SetGlobalKeys before evaluating.
type Request struct {
	Principal Principal
	// Action is "service:Action", e.g. "s3:GetObject".
	Action string
	// Resource is the ARN acted on, or "*" for actions that act on no particular resource.
	Resource string
	// ResourceAccount is the account that owns Resource. Empty means the principal's own
	// account, which is right for every resource whose service has no resource policies.
	// S3 ARNs carry no account, which is why this is not read from Resource.
	ResourceAccount string
	// Context maps condition keys ("aws:SourceIp", "s3:prefix") to their values. Keys are
	// matched without regard to case, so a request should hold each key in one spelling
	// only; a key with no values counts as absent.
	Context map[string][]string
}

// Values returns the values of a condition key, matching the key without regard to case
// as AWS does.
func (r *Request) Values(key string) []string {
	if v, ok := r.Context[key]; ok {
		return v
	}
	for k, v := range r.Context {
		if strings.EqualFold(k, key) {
			return v
		}
	}
	return nil
}

// The global condition keys SetGlobalKeys owns, in AWS's spelling.
const (
	KeyCurrentTime           = "aws:CurrentTime"
	KeyEpochTime             = "aws:EpochTime"
	KeySourceIP              = "aws:SourceIp"
	KeySecureTransport       = "aws:SecureTransport"
	KeyUsername              = "aws:username"
	KeyUserID                = "aws:userid"
	KeyPrincipalARN          = "aws:PrincipalArn"
	KeyPrincipalAccount      = "aws:PrincipalAccount"
	KeyPrincipalType         = "aws:PrincipalType"
	KeyPrincipalIsAWSService = "aws:PrincipalIsAWSService"
	KeyPrincipalServiceName  = "aws:PrincipalServiceName"
)

var globalKeys = []string{KeyCurrentTime, KeyEpochTime, KeySourceIP, KeySecureTransport,
	KeyUsername, KeyUserID, KeyPrincipalARN, KeyPrincipalAccount, KeyPrincipalType,
	KeyPrincipalIsAWSService, KeyPrincipalServiceName}

// SetGlobalKeys sets the global condition keys that follow from the request's principal,
// the time it arrived, the address it came from and whether it came over TLS. It first
// removes every spelling of those keys, so that nothing a caller put in the context can
// claim another identity or address. An invalid sourceIP leaves aws:SourceIp unset.
//
// The values are AWS's: aws:userid is the account ID for the root user, "anonymous" for
// anonymous callers and ROLEID:SESSION for role sessions; a role session's
// aws:PrincipalArn is the role's ARN; aws:username exists only for IAM users.
func (r *Request) SetGlobalKeys(now time.Time, sourceIP netip.Addr, secureTransport bool) {
	if r.Context == nil {
		r.Context = make(map[string][]string, 12)
	}
	for k := range r.Context {
		for _, g := range globalKeys {
			if strings.EqualFold(k, g) {
				delete(r.Context, k)
				break
			}
		}
	}
	set := func(k, v string) { r.Context[k] = []string{v} }
	now = now.UTC()
	set(KeyCurrentTime, now.Format("2006-01-02T15:04:05Z"))
	set(KeyEpochTime, strconv.FormatInt(now.Unix(), 10))
	set(KeySecureTransport, strconv.FormatBool(secureTransport))
	if sourceIP.IsValid() {
		set(KeySourceIP, sourceIP.Unmap().WithZone("").String())
	}

	p := &r.Principal
	if p.Type == PrincipalAnonymous {
		set(KeyUserID, "anonymous")
		set(KeyPrincipalType, p.Type.String())
		return
	}
	if p.Type == PrincipalService {
		set(KeyPrincipalIsAWSService, "true")
		set(KeyPrincipalServiceName, p.Service)
		return
	}
	set(KeyPrincipalIsAWSService, "false")
	set(KeyPrincipalType, p.Type.String())
	if p.Type == PrincipalWebIdentity {
		return
	}
	if p.Account != "" {
		set(KeyPrincipalAccount, p.Account)
	}
	userID, arn := p.UserID, p.ARN
	switch p.Type {
	case PrincipalRoot:
		if userID == "" {
			userID = p.Account
		}
		if arn == "" && p.Account != "" {
			arn = "arn:aws:iam::" + p.Account + ":root"
		}
	case PrincipalUser:
		if p.Username != "" {
			set(KeyUsername, p.Username)
		}
	case PrincipalAssumedRole:
		if p.RoleARN != "" {
			arn = p.RoleARN
		}
	}
	if userID != "" {
		set(KeyUserID, userID)
	}
	if arn != "" {
		set(KeyPrincipalARN, arn)
	}
}
