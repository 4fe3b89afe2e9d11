package iampolicy

import "strings"

// Principal is who makes a request, as authentication established it.
type Principal struct {
	Type PrincipalType
	// Account is the 12-digit account the principal belongs to; empty for anonymous,
	// service and web-identity callers.
	Account string
	// ARN is the principal's own ARN: arn:aws:iam::ACCOUNT:root, arn:aws:iam::ACCOUNT:user/PATH/NAME,
	// arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION or arn:aws:sts::ACCOUNT:federated-user/NAME.
	ARN string
	// RoleARN is, for an assumed-role session, the role's IAM ARN with its path
	// (arn:aws:iam::ACCOUNT:role/PATH/NAME). Policies that name the role match its sessions
	// through it, and it is the session's aws:PrincipalArn.
	RoleARN string
	// UserID is the unique ID: AIDA... for a user, AROA...:SESSION for a role session,
	// ACCOUNT:NAME for a federated user, the account ID for the root user.
	UserID string
	// Username is the friendly name of an IAM user; empty for everyone else.
	Username string
	// Service is the service principal ("ec2.amazonaws.com") when Type is PrincipalService.
	Service string
	// Federated is the identity provider (an OIDC host such as "accounts.google.com", or a
	// SAML or OIDC provider ARN) when Type is PrincipalWebIdentity.
	Federated string
}

// PrincipalType is the kind of caller. Its String is the aws:PrincipalType value.
type PrincipalType uint8

const (
	// PrincipalAnonymous is an unsigned request.
	PrincipalAnonymous PrincipalType = iota
	// PrincipalRoot is an account's root user.
	PrincipalRoot
	// PrincipalUser is an IAM user.
	PrincipalUser
	// PrincipalAssumedRole is a session of an IAM role (sts:AssumeRole and friends).
	PrincipalAssumedRole
	// PrincipalFederatedUser is a session from sts:GetFederationToken.
	PrincipalFederatedUser
	// PrincipalService is an AWS service acting for itself (calling sts:AssumeRole for an
	// instance profile, writing logs into a bucket).
	PrincipalService
	// PrincipalWebIdentity is a caller presenting an OIDC or SAML assertion to
	// sts:AssumeRoleWithWebIdentity or sts:AssumeRoleWithSAML.
	PrincipalWebIdentity
)

func (t PrincipalType) String() string {
	switch t {
	case PrincipalAnonymous:
		return "Anonymous"
	case PrincipalRoot:
		return "Account"
	case PrincipalUser:
		return "User"
	case PrincipalAssumedRole:
		return "AssumedRole"
	case PrincipalFederatedUser:
		return "FederatedUser"
	case PrincipalService:
		return "Service"
	case PrincipalWebIdentity:
		return "WebIdentityUser"
	}
	return "Unknown"
}

// grant says how a Principal element named the caller. It matters because AWS gives a
// resource-based Allow different weight depending on what it names.
type grant uint8

const (
	grantNone grant = iota
	// grantAccount: the statement names the caller's account (an account ID or its root
	// ARN). That delegates to the account: its own identity-based policies must still allow.
	grantAccount
	// grantRole: the statement names the role a session came from. Such an Allow still
	// has to fit the session's permissions boundary and session policy.
	grantRole
	// grantDirect: the statement names the caller itself (its user, session or service),
	// everyone ("*"), or applies to the caller without a Principal element.
	grantDirect
)

// principalSet is a compiled Principal or NotPrincipal element.
type principalSet struct {
	any       bool     // "*" or {"AWS": "*"}
	accounts  []string // account IDs, also from arn:...:iam::ACCOUNT:root
	roles     []string // role ARNs, matching the role's sessions
	arns      []string // every other principal ARN, matched exactly
	services  []string
	federated []string
	canonical []string // S3 canonical user IDs; Banyan principals carry none, so these never match
}

// compilePrincipal checks and compiles a Principal or NotPrincipal element whose shape
// decodeStatement already checked.
func compilePrincipal(n *jsonNode) (*principalSet, error) {
	s := &principalSet{}
	if n.kind == jsonString { // only "*" gets this far
		s.any = true
		return s, nil
	}
	for _, m := range n.members {
		vals, _ := stringList(m.val)
		for _, v := range vals {
			if err := s.add(m.key, v); err != nil {
				return nil, err
			}
		}
	}
	return s, nil
}

func (s *principalSet) add(kind, v string) error {
	invalid := malformed(fmtInvalidPrincipal, kind, v)
	if v == "" {
		return invalid
	}
	switch kind {
	case "AWS":
		switch {
		case v == "*":
			s.any = true
		case isAccountID(v):
			s.accounts = append(s.accounts, v)
		case strings.HasPrefix(v, "arn:"):
			f := strings.SplitN(v, ":", 6)
			// AWS accepts no wildcard in a principal but the lone "*": a partial one would
			// silently match nothing, or far too much.
			if len(f) < 6 || f[2] == "" || f[5] == "" || strings.ContainsAny(v, "*?") {
				return invalid
			}
			// An IAM or STS principal lives in an account: AWS refuses one without
			// (arn:aws:iam:::user/u1) rather than let it match nobody. CloudFront origin
			// access identities are the one IAM principal named by "cloudfront".
			if (f[2] == "iam" || f[2] == "sts") && !isAccountID(f[4]) && !(f[2] == "iam" && f[4] == "cloudfront") {
				return invalid
			}
			switch {
			case f[2] == "iam" && f[5] == "root":
				if !isAccountID(f[4]) {
					return invalid
				}
				s.accounts = append(s.accounts, f[4])
			case f[2] == "iam" && strings.HasPrefix(f[5], "role/"):
				s.roles = append(s.roles, v)
			default:
				s.arns = append(s.arns, v)
			}
		default:
			return invalid
		}
	case "Service":
		if v != "*" && strings.ContainsAny(v, "*?") {
			return invalid
		}
		s.services = append(s.services, v)
	case "Federated":
		s.federated = append(s.federated, v)
	case "CanonicalUser":
		s.canonical = append(s.canonical, v)
	}
	return nil
}

func isAccountID(s string) bool {
	if len(s) != 12 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// match returns how the element names p, or grantNone.
func (s *principalSet) match(p *Principal) grant {
	if s.any {
		return grantDirect
	}
	switch p.Type {
	case PrincipalRoot:
		if contains(s.accounts, p.Account) || contains(s.arns, p.ARN) {
			return grantDirect
		}
	case PrincipalUser, PrincipalFederatedUser:
		if contains(s.arns, p.ARN) {
			return grantDirect
		}
		if contains(s.accounts, p.Account) {
			return grantAccount
		}
	case PrincipalAssumedRole:
		if contains(s.arns, p.ARN) {
			return grantDirect
		}
		if contains(s.roles, p.RoleARN) {
			return grantRole
		}
		if contains(s.accounts, p.Account) {
			return grantAccount
		}
	case PrincipalService:
		if containsFold(s.services, p.Service) || contains(s.services, "*") {
			return grantDirect
		}
	case PrincipalWebIdentity:
		if contains(s.federated, p.Federated) {
			return grantDirect
		}
	}
	return grantNone
}

// excludes reports whether a NotPrincipal element leaves p out. AWS may check a caller's
// account before the caller itself (and a session's role before the session), so an
// exception holds only when every step is listed: the account and the user, or the account
// and the role or its session. That is why AWS's documentation tells people to list the
// account too; listing the user alone still denies the user.
func (s *principalSet) excludes(p *Principal) bool {
	if s.any {
		return true
	}
	acct := contains(s.accounts, p.Account)
	switch p.Type {
	case PrincipalRoot:
		return acct || contains(s.arns, p.ARN)
	case PrincipalUser, PrincipalFederatedUser:
		return acct && contains(s.arns, p.ARN)
	case PrincipalAssumedRole:
		return acct && (contains(s.arns, p.ARN) || contains(s.roles, p.RoleARN))
	case PrincipalService:
		return containsFold(s.services, p.Service)
	case PrincipalWebIdentity:
		return contains(s.federated, p.Federated)
	}
	return false
}

func contains(list []string, s string) bool {
	if s == "" {
		return false
	}
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func containsFold(list []string, s string) bool {
	if s == "" {
		return false
	}
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}
