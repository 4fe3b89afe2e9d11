package identity

import (
	"time"

	"github.com/banyancloud/banyan/api/iampolicy"
)

// Caller types.
const (
	TypeRoot        = "root"
	TypeUser        = "user"
	TypeAssumedRole = "assumed-role"
	TypeAnonymous   = "anonymous"
)

// Caller is the authenticated principal of one request.
type Caller struct {
	Type        string
	AccountID   string
	ARN         string // arn:aws:iam::ACCT:root | user/PATH/NAME | arn:aws:sts::ACCT:assumed-role/ROLE/SESSION
	UserID      string // account ID for root, AIDA... for users, AROA...:SESSION for sessions
	UserName    string // IAM user name; "" otherwise
	AccessKeyID string
	// Temporary credentials (STS).
	Session *Session
}

// Anonymous is the caller of an unsigned request.
var Anonymous = &Caller{Type: TypeAnonymous, UserID: "anonymous", ARN: "*"}

// Principal converts the caller for policy evaluation.
func (c *Caller) Principal() iampolicy.Principal {
	p := iampolicy.Principal{Account: c.AccountID, ARN: c.ARN, UserID: c.UserID}
	switch c.Type {
	case TypeRoot:
		p.Type = iampolicy.PrincipalRoot
	case TypeUser:
		p.Type = iampolicy.PrincipalUser
		p.Username = c.UserName
	case TypeAssumedRole:
		p.Type = iampolicy.PrincipalAssumedRole
		if c.Session != nil {
			p.RoleARN = c.Session.RoleARN
		}
	default:
		p.Type = iampolicy.PrincipalAnonymous
	}
	if c.Session != nil && c.Session.RoleARN == "" && c.Type == TypeUser {
		// GetSessionToken credentials act as the user who asked for them.
		p.Username = c.UserName
	}
	return p
}

// Session is the content of an STS session token. It is sealed with the cluster key, so
// any node can validate it without a lookup and no state is written per session.
type Session struct {
	AccessKeyID string    `cbor:"1,keyasint"`
	Secret      string    `cbor:"2,keyasint"`
	AccountID   string    `cbor:"3,keyasint"`
	Expires     time.Time `cbor:"4,keyasint"`
	Issued      time.Time `cbor:"5,keyasint"`
	// Set for AssumeRole sessions.
	RoleARN     string `cbor:"6,keyasint,omitempty"`
	RoleID      string `cbor:"7,keyasint,omitempty"`
	RoleName    string `cbor:"8,keyasint,omitempty"`
	SessionName string `cbor:"9,keyasint,omitempty"`
	// Session policies narrow what the session may do.
	Policy     string   `cbor:"10,keyasint,omitempty"`
	PolicyARNs []string `cbor:"11,keyasint,omitempty"`
	// Set for GetSessionToken sessions: the user (or root, "") the session stands for.
	UserName string `cbor:"12,keyasint,omitempty"`
	IsRoot   bool   `cbor:"13,keyasint,omitempty"`
	// MFA: a GetSessionToken session issued after an MFA check. Banyan has no MFA
	// devices yet, so no session has it, and such sessions may call no IAM action.
	MFA bool `cbor:"14,keyasint,omitempty"`
}

// IssuedWithoutMFA reports whether s is a GetSessionToken session (no role) that was
// issued without MFA: AWS refuses every IAM call made with one.
func (s *Session) IssuedWithoutMFA() bool { return s != nil && s.RoleARN == "" && !s.MFA }
