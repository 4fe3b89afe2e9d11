// Package iampolicy owns AWS IAM policy documents for every Banyan service: it parses and
// validates them the way IAM does (rejecting what IAM rejects, with IAM's
// MalformedPolicyDocument messages), and evaluates a request against identity-based
// policies, a resource-based or trust policy, and optional permissions boundaries or session
// policies with AWS's evaluation logic.
//
// A Policy is parsed once and is then read-only, so one parsed Policy may be evaluated from
// many goroutines at once. Wildcards are compiled at parse time; evaluation does not
// allocate on its common paths.
//
// The package does no I/O and knows nothing of where policies are stored or which principal
// is a cluster administrator: callers collect the policies that apply to a request, build a
// Request (SetGlobalKeys fills the global condition keys), and act on the Decision.
package iampolicy
