package identity

import (
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/banyancloud/banyan/api/awserr"
	"github.com/banyancloud/banyan/api/iampolicy"
	"github.com/banyancloud/banyan/cluster/state"
)

// Check is one authorization question.
type Check struct {
	Action          string // "iam:CreateUser"
	Resource        string // ARN or "*"
	ResourceAccount string // owner of Resource; "" = the caller's account
	// ResourcePolicy is the resource's own policy (bucket policy, role trust policy).
	ResourcePolicy *iampolicy.Policy
	Context        map[string][]string // service-specific condition keys
	// LazyContext adds condition keys beginning with LazyPrefix that cost a lookup
	// (s3:ExistingObjectTag/...): it is called only when a policy that takes part tests
	// such a key.
	LazyPrefix  string
	LazyContext func() map[string][]string
	SourceIP    netip.Addr
	Secure      bool
}

// Authorizer decides checks against the IAM state.
type Authorizer struct {
	Store *state.Store
	Now   func() time.Time

	cache sync.Map // policy document -> *iampolicy.Policy
	size  int64
	mu    sync.Mutex
}

// Authorize returns nil if c may perform the check, else an AccessDenied error whose
// message names the caller, the action and the resource as AWS's do.
func (a *Authorizer) Authorize(c *Caller, chk Check) error {
	if chk.ResourceAccount == "" {
		// An ARN that names its account decides same- or cross-account evaluation; S3
		// ARNs name none, and their front end passes the bucket owner explicitly.
		chk.ResourceAccount = accountOf(chk.Resource)
	}
	req := &iampolicy.Request{
		Principal: c.Principal(), Action: chk.Action, Resource: chk.Resource,
		ResourceAccount: chk.ResourceAccount, Context: map[string][]string{},
	}
	for k, v := range chk.Context {
		req.Context[k] = v
	}
	now := time.Now()
	if a.Now != nil {
		now = a.Now()
	}
	req.SetGlobalKeys(now, chk.SourceIP, chk.Secure)
	var identity []*iampolicy.Policy
	var limits [][]*iampolicy.Policy
	var boundary string
	var err error
	switch c.Type {
	case TypeUser:
		identity, boundary, err = a.userPolicies(c.AccountID, c.UserName)
	case TypeAssumedRole:
		identity, boundary, err = a.rolePolicies(c.AccountID, c.Session.RoleName)
	}
	if err != nil {
		return err
	}
	if boundary != "" {
		// A permissions boundary that no longer resolves still limits: it allows nothing.
		b := a.managed(boundary)
		if len(b) == 0 {
			b = []*iampolicy.Policy{denyAll}
		}
		limits = append(limits, b)
	}
	if c.Session != nil && (c.Session.Policy != "" || len(c.Session.PolicyARNs) > 0) {
		var sp []*iampolicy.Policy
		if c.Session.Policy != "" {
			// An unparseable session policy must still limit: it allows nothing.
			if p := a.parse(c.Session.Policy); p != nil {
				sp = append(sp, p)
			} else {
				sp = append(sp, denyAll)
			}
		}
		for _, arn := range c.Session.PolicyARNs {
			sp = append(sp, a.managed(arn)...)
		}
		limits = append(limits, sp)
	}
	if chk.LazyContext != nil && usesKeyPrefix(chk.LazyPrefix, chk.ResourcePolicy, identity, limits) {
		for k, v := range chk.LazyContext() {
			req.Context[k] = v
		}
	}
	d := iampolicy.Evaluate(req, identity, chk.ResourcePolicy, limits...)
	if d.Allowed() {
		return nil
	}
	resource := chk.Resource
	why := "because no identity-based policy allows the " + chk.Action + " action"
	if d.Outcome == iampolicy.ExplicitDeny {
		why = "with an explicit deny"
	}
	return awserr.AccessDenied.WithMessage("User: %s is not authorized to perform: %s on resource: %s %s", c.ARN, chk.Action, resource, why)
}

// usesKeyPrefix reports whether any of the policies tests a key beginning with prefix.
func usesKeyPrefix(prefix string, resource *iampolicy.Policy, identity []*iampolicy.Policy, limits [][]*iampolicy.Policy) bool {
	if resource.UsesKeyPrefix(prefix) {
		return true
	}
	for _, p := range identity {
		if p.UsesKeyPrefix(prefix) {
			return true
		}
	}
	for _, ps := range limits {
		for _, p := range ps {
			if p.UsesKeyPrefix(prefix) {
				return true
			}
		}
	}
	return false
}

func (a *Authorizer) userPolicies(account, name string) ([]*iampolicy.Policy, string, error) {
	u, err := a.Store.IAMEntity(state.KindUser, account, name)
	if err != nil {
		return nil, "", awserr.InvalidClientTokenID.WithMessage("The user for this access key no longer exists.")
	}
	ps := a.inlineAndAttached(u.User.Inline, u.User.Attached)
	for _, g := range u.User.Groups {
		if ge, err := a.Store.IAMEntity(state.KindGroup, account, g); err == nil {
			ps = append(ps, a.inlineAndAttached(ge.Group.Inline, ge.Group.Attached)...)
		}
	}
	return ps, u.User.Boundary, nil
}

func (a *Authorizer) rolePolicies(account, name string) ([]*iampolicy.Policy, string, error) {
	r, err := a.Store.IAMEntity(state.KindRole, account, name)
	if err != nil {
		return nil, "", awserr.InvalidClientTokenID.WithMessage("The role for this session no longer exists.")
	}
	return a.inlineAndAttached(r.Role.Inline, r.Role.Attached), r.Role.Boundary, nil
}

// accountOf returns the account field of an ARN (arn:partition:service:region:account:...)
// when it is a 12-digit account ID.
func accountOf(arn string) string {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) < 6 || parts[0] != "arn" || len(parts[4]) != 12 {
		return ""
	}
	for _, c := range parts[4] {
		if c < '0' || c > '9' {
			return ""
		}
	}
	return parts[4]
}

func (a *Authorizer) inlineAndAttached(inline map[string]string, attached []string) []*iampolicy.Policy {
	var ps []*iampolicy.Policy
	for _, doc := range inline {
		if p := a.parse(doc); p != nil {
			ps = append(ps, p)
		}
	}
	for _, arn := range attached {
		ps = append(ps, a.managed(arn)...)
	}
	return ps
}

// managed returns the default version of a managed policy (none if it is gone).
func (a *Authorizer) managed(arn string) []*iampolicy.Policy {
	account, name, ok := ParsePolicyARN(arn)
	if !ok {
		return nil
	}
	e, err := a.Store.IAMEntity(state.KindPolicy, account, name)
	if err != nil || e.Policy == nil {
		return nil
	}
	for _, v := range e.Policy.Versions {
		if v.ID == e.Policy.DefaultVersion {
			if p := a.parse(v.Document); p != nil {
				return []*iampolicy.Policy{p}
			}
		}
	}
	return nil
}

// parse returns the parsed policy for a stored document, cached: documents were
// validated when stored, so one that fails now (a newer, stricter parser) denies nothing
// and allows nothing.
func (a *Authorizer) parse(doc string) *iampolicy.Policy {
	if p, ok := a.cache.Load(doc); ok {
		return p.(*iampolicy.Policy)
	}
	p, err := iampolicy.Parse(doc, iampolicy.IdentityPolicy)
	if err != nil {
		return nil
	}
	a.mu.Lock()
	a.size++
	if a.size > 10000 { // policies change rarely; a full reset bounds memory simply
		a.cache.Clear()
		a.size = 0
	}
	a.mu.Unlock()
	a.cache.Store(doc, p)
	return p
}

var denyAll = iampolicy.MustParse(`{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*"}]}`, iampolicy.IdentityPolicy)

// ParsePolicyARN splits arn:aws:iam::ACCOUNT:policy/PATH/NAME.
func ParsePolicyARN(arn string) (account, name string, ok bool) {
	var rest string
	if n, _ := fmt.Sscanf(arn, "arn:aws:iam::%12s", &account); n != 1 {
		return "", "", false
	}
	prefix := "arn:aws:iam::" + account + ":policy/"
	if len(arn) <= len(prefix) || arn[:len(prefix)] != prefix {
		return "", "", false
	}
	rest = arn[len(prefix):]
	for i := len(rest) - 1; i >= 0; i-- {
		if rest[i] == '/' {
			return account, rest[i+1:], true
		}
	}
	return account, rest, true
}
