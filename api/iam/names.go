package iam

import (
	"strings"

	"github.com/banyancloud/banyan/api/identity"
)

// iamARN is an IAM resource ARN: arn:aws:iam::ACCOUNT:TYPE{path}{name}, where path
// starts and ends with "/".
func iamARN(account, typ, path, name string) string {
	return "arn:aws:iam::" + account + ":" + typ + path + name
}

func userARN(account, path, name string) string   { return iamARN(account, "user", path, name) }
func groupARN(account, path, name string) string  { return iamARN(account, "group", path, name) }
func roleARN(account, path, name string) string   { return iamARN(account, "role", path, name) }
func policyARN(account, path, name string) string { return iamARN(account, "policy", path, name) }
func profileARN(account, path, name string) string {
	return iamARN(account, "instance-profile", path, name)
}

// foldKey is the alternate key that makes a name unique within its kind and account
// regardless of case, as IAM's names are ("ADMINS" and "admins" cannot both exist), and
// lets a lookup by any spelling find the entity. The entity's primary key keeps the
// name as created, which is what ARNs, access keys and policy evaluation use.
func foldKey(kind, account, name string) string {
	return kind + "/" + account + "/" + strings.ToLower(name)
}

// orDefault returns *p, or def when p is nil.
func orDefault(p *string, def string) string {
	if p == nil {
		return def
	}
	return *p
}

func ptr[T any](v T) *T { return &v }

// encodeDocument URL-encodes a policy document as IAM returns them: every byte but the
// unreserved characters percent-encoded, spaces as %20 (clients decode with unquote,
// which leaves '+' alone).
func encodeDocument(doc string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(doc) * 2)
	for i := 0; i < len(doc); i++ {
		c := doc[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

// policySize is a document's size as IAM counts it against its quotas: characters,
// not counting white space.
func policySize(doc string) int {
	n := 0
	for _, r := range doc {
		switch r {
		case ' ', '\t', '\n', '\r':
		default:
			n++
		}
	}
	return n
}

// parsePolicyARN returns the name of a customer managed policy of account from its ARN;
// ok is false for anything else (another account's policy, an AWS managed policy, not an
// ARN).
func parsePolicyARN(account, arn string) (name string, ok bool) {
	acct, name, ok := identity.ParsePolicyARN(arn)
	if !ok || acct != account {
		return "", false
	}
	return name, true
}
