package iampolicy

import (
	"fmt"
	"strings"
)

// Outcome is the result of an evaluation. The zero value is ImplicitDeny, so a Decision
// nobody filled in denies.
type Outcome uint8

const (
	// ImplicitDeny: no applicable statement allows the request (or not every policy that
	// must allow it does).
	ImplicitDeny Outcome = iota
	// ExplicitDeny: an applicable Deny statement; nothing overrides it.
	ExplicitDeny
	// Allowed: the request may proceed.
	Allowed
)

func (o Outcome) String() string {
	switch o {
	case ImplicitDeny:
		return "implicit deny"
	case ExplicitDeny:
		return "explicit deny"
	case Allowed:
		return "allow"
	}
	return "unknown"
}

// Decision is the outcome of Evaluate and what decided it, for logs and for debugging a
// policy.
type Decision struct {
	Outcome Outcome
	// Policy and Statement are the statement that decided: the Deny that denied, or the
	// Allow that allowed (for cross-account access, the resource policy's Allow). Both are
	// nil for an implicit deny and for the root user's own-account access.
	Policy    *Policy
	Statement *Statement
	// Reason says in words why, e.g. which kind of policy failed to allow.
	Reason string
}

// Allowed reports whether the request may proceed.
func (d Decision) Allowed() bool { return d.Outcome == Allowed }

func (d Decision) String() string {
	var b strings.Builder
	b.WriteString(d.Outcome.String())
	if d.Statement != nil {
		fmt.Fprintf(&b, " by statement %d", d.Statement.Index)
		if d.Statement.Sid != "" {
			fmt.Fprintf(&b, " (Sid %q)", d.Statement.Sid)
		}
		if d.Policy != nil {
			if d.Policy.Name != "" {
				fmt.Fprintf(&b, " of %s %q", d.Policy.Kind, d.Policy.Name)
			} else {
				fmt.Fprintf(&b, " of an unnamed %s", d.Policy.Kind)
			}
		}
	}
	if d.Reason != "" {
		b.WriteString(": ")
		b.WriteString(d.Reason)
	}
	return b.String()
}

// Reasons, worded for someone reading a log line.
const (
	reasonDenied          = "an applicable statement denies the request"
	reasonIdentityAllows  = "an identity-based policy allows the request"
	reasonResourceAllows  = "the resource-based policy allows the request"
	reasonRoot            = "the root user may do anything in its own account"
	reasonNoIdentityAllow = "no identity-based policy allows the request"
	reasonLimited         = "a permissions boundary or session policy does not allow the request"
	reasonCrossAccount    = "cross-account access needs an Allow in both the caller's identity-based policies and the resource-based policy"
	reasonNoResourceAllow = "no resource-based policy statement allows this caller"
	reasonNotTrusted      = "the role's trust policy does not allow this caller"
)

// Evaluate decides a request as AWS does:
//
//  1. An applicable Deny in any of the policies denies.
//  2. The root user may do anything in its own account. Anonymous callers, services and
//     web identities have no identity policies: only the resource policy can allow them.
//  3. Within one account, either kind of policy suffices: the identity side (an identity
//     policy Allow, within every limit) or a resource policy Allow. A resource policy
//     that allows only by naming the caller's account delegates to the account and so adds
//     nothing on its own; one that names the role a session came from still has to fit
//     the session's limits; one that names the caller itself (user, session) does not.
//  4. Across accounts (ResourceAccount differs from the caller's) both the identity side
//     and the resource policy must allow.
//  5. A trust policy must always allow: within the account it may do so by naming the
//     account, which hands the decision to the caller's identity policies as in 3.
//
// identity holds the caller's identity-based policies (attached to the user, its groups, or
// the role). resource is the resource-based policy, or the role's trust policy when the
// action is sts:AssumeRole; nil if there is none. Each of limits is a set of policies that
// must also allow for the identity side to allow: a permissions boundary, or the session
// policies passed to AssumeRole; an empty set is no limit. Limits narrow but never grant:
// the effective permission is the intersection.
func Evaluate(req *Request, identity []*Policy, resource *Policy, limits ...[]*Policy) Decision {
	var idAllow, resAllow hit
	for _, p := range identity {
		if d, denied := scan(p, req, &idAllow); denied {
			return deny(d)
		}
	}
	withinLimits := true
	for _, set := range limits {
		if len(set) == 0 {
			continue
		}
		var allow hit
		for _, p := range set {
			if d, denied := scan(p, req, &allow); denied {
				return deny(d)
			}
		}
		// Keep scanning the rest even once a limit fails: an explicit deny elsewhere
		// must still be reported as one.
		withinLimits = withinLimits && allow.grant != grantNone
	}
	if d, denied := scan(resource, req, &resAllow); denied {
		return deny(d)
	}

	caller := &req.Principal
	switch caller.Type {
	case PrincipalAnonymous, PrincipalService, PrincipalWebIdentity:
		if resAllow.grant != grantNone {
			return allow(resAllow, reasonResourceAllows)
		}
		return Decision{Reason: reasonNoResourceAllow}
	}
	sameAccount := caller.Account != "" && (req.ResourceAccount == "" || req.ResourceAccount == caller.Account)
	// Unlike other resource policies, a role's trust policy is a gate: no identity policy,
	// not even the root user's standing, lets anyone assume a role that does not trust them.
	if resource != nil && resource.Kind == TrustPolicy && resAllow.grant == grantNone {
		return Decision{Reason: reasonNotTrusted}
	}
	if caller.Type == PrincipalRoot {
		if sameAccount {
			return Decision{Outcome: Allowed, Reason: reasonRoot}
		}
		// The root user holds every permission of its own account, so across accounts
		// only the resource side is left to allow.
		if resAllow.grant != grantNone {
			return allow(resAllow, reasonResourceAllows)
		}
		return Decision{Reason: reasonCrossAccount}
	}

	identityAllows := idAllow.grant != grantNone && withinLimits
	if !sameAccount {
		if identityAllows && resAllow.grant != grantNone {
			return allow(resAllow, reasonResourceAllows)
		}
		return Decision{Reason: reasonCrossAccount}
	}
	if identityAllows {
		return allow(idAllow, reasonIdentityAllows)
	}
	switch resAllow.grant {
	case grantDirect:
		return allow(resAllow, reasonResourceAllows)
	case grantRole:
		if withinLimits {
			return allow(resAllow, reasonResourceAllows)
		}
	}
	if idAllow.grant != grantNone || resAllow.grant == grantRole {
		return Decision{Reason: reasonLimited}
	}
	return Decision{Reason: reasonNoIdentityAllow}
}

// hit is an applicable statement and how it named the caller.
type hit struct {
	policy *Policy
	stmt   *Statement
	grant  grant
}

func deny(h hit) Decision {
	return Decision{Outcome: ExplicitDeny, Policy: h.policy, Statement: h.stmt, Reason: reasonDenied}
}

func allow(h hit, reason string) Decision {
	return Decision{Outcome: Allowed, Policy: h.policy, Statement: h.stmt, Reason: reason}
}

// scan evaluates the statements of p that can still change the outcome: every Deny, and
// Allows only while *best could be bettered. It returns the first applicable Deny.
func scan(p *Policy, req *Request, best *hit) (hit, bool) {
	if p == nil {
		return hit{}, false
	}
	for _, st := range p.Statements {
		if st.Effect == Allow && best.grant == grantDirect {
			continue
		}
		g := st.applies(req)
		if g == grantNone {
			continue
		}
		if st.Effect == Deny {
			return hit{p, st, g}, true
		}
		if g > best.grant {
			*best = hit{p, st, g}
		}
	}
	return hit{}, false
}

// applies reports whether the statement applies to the request and, if so, how it named
// the caller. The cheap tests run first: most statements fail on the action.
func (s *Statement) applies(req *Request) grant {
	if !s.matchAction(req.Action) || !s.matchResource(req) {
		return grantNone
	}
	g := grantDirect
	if s.principals != nil {
		if s.notPrincipal {
			if s.principals.excludes(&req.Principal) {
				return grantNone
			}
		} else if g = s.principals.match(&req.Principal); g == grantNone {
			return grantNone
		}
	}
	for i := range s.conditions {
		if !s.conditions[i].eval(req) {
			return grantNone
		}
	}
	return g
}

func (s *Statement) matchAction(action string) bool {
	for i := range s.actions {
		if m, _ := s.actions[i].match(action, nil); m {
			return !s.notAction
		}
	}
	return s.notAction
}

// matchResource: a Resource entry whose variables the request cannot supply matches
// nothing; a NotResource entry in that state makes the whole element fail, because the
// statement cannot tell whether the resource is one it excludes.
func (s *Statement) matchResource(req *Request) bool {
	if !s.hasResource {
		return true
	}
	for i := range s.resources {
		m, resolved := s.resources[i].match(req.Resource, req)
		if !resolved {
			if s.notResource {
				return false
			}
			continue
		}
		if m {
			return !s.notResource
		}
	}
	return s.notResource
}
