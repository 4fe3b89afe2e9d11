// Package identity answers, for every API request on every service, "who is calling"
// and "may they do this": it resolves access keys (long-term keys from the IAM state,
// temporary keys from self-contained STS session tokens) into a Caller, and authorizes a
// Caller's action on a resource by collecting the policies that apply (user, groups, role,
// session, resource) and evaluating them with api/iampolicy.
package identity
