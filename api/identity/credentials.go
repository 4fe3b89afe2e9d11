package identity

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"time"

	"github.com/fxamacker/cbor/v2"

	"github.com/banyancloud/banyan/api/sigv4"
	"github.com/banyancloud/banyan/cluster/pki"
	"github.com/banyancloud/banyan/cluster/state"
)

// Seal purposes.
const (
	PurposeSecretKey = "iam-secret-access-key"
	purposeSession   = "sts-session-token"
)

// Directory resolves credentials against the local replica. It satisfies
// sigv4.CredentialStore.
type Directory struct {
	Store  *state.Store
	Sealer *pki.Sealer
	Now    func() time.Time
	// CatchUp, if set, brings the replica up to date with the cluster; it is called when
	// an access key is not found, so a key created through another box a moment ago works.
	CatchUp func(ctx context.Context) error
}

type sessionTokenKey struct{}

// WithSessionToken passes the request's X-Amz-Security-Token to LookupAccessKey: a
// temporary access key is resolved from its token, not from stored state.
func WithSessionToken(ctx context.Context, token string) context.Context {
	if token == "" {
		return ctx
	}
	return context.WithValue(ctx, sessionTokenKey{}, token)
}

// LookupAccessKey implements sigv4.CredentialStore; the Credential's Principal is a
// *Caller.
func (d *Directory) LookupAccessKey(ctx context.Context, akid string) (sigv4.Credential, error) {
	if strings.HasPrefix(akid, "ASIA") {
		tok, _ := ctx.Value(sessionTokenKey{}).(string)
		s, err := d.OpenSession(tok)
		if err != nil || s.AccessKeyID != akid {
			return sigv4.Credential{}, fmt.Errorf("%w: %s", sigv4.ErrUnknownAccessKey, akid)
		}
		c, err := d.sessionCaller(s)
		if err != nil {
			return sigv4.Credential{}, err
		}
		return sigv4.Credential{AccessKeyID: akid, SecretAccessKey: s.Secret, SessionToken: tok, Expires: s.Expires, Principal: c}, nil
	}
	e, err := d.Store.IAMEntityByAlt("accesskey/" + akid)
	if err != nil && d.CatchUp != nil && d.CatchUp(ctx) == nil {
		e, err = d.Store.IAMEntityByAlt("accesskey/" + akid)
	}
	if err != nil || e.AccessKey == nil || e.AccessKey.Status != "Active" {
		return sigv4.Credential{}, fmt.Errorf("%w: %s", sigv4.ErrUnknownAccessKey, akid)
	}
	secret, err := d.Sealer.Open(PurposeSecretKey, e.AccessKey.SecretSealed)
	if err != nil {
		return sigv4.Credential{}, fmt.Errorf("access key %s: %w", akid, err)
	}
	c, err := d.keyOwner(e.Account, e.AccessKey.UserName)
	if err != nil {
		return sigv4.Credential{}, fmt.Errorf("%w: %s", sigv4.ErrUnknownAccessKey, akid)
	}
	c.AccessKeyID = akid
	return sigv4.Credential{AccessKeyID: akid, SecretAccessKey: string(secret), Principal: c}, nil
}

// keyOwner is the caller a long-term key (or a GetSessionToken session) stands for.
func (d *Directory) keyOwner(account, userName string) (*Caller, error) {
	if userName == "" {
		return &Caller{Type: TypeRoot, AccountID: account, ARN: RootARN(account), UserID: account}, nil
	}
	u, err := d.Store.IAMEntity(state.KindUser, account, userName)
	if err != nil {
		return nil, err
	}
	return &Caller{Type: TypeUser, AccountID: account, ARN: u.User.ARN, UserID: u.User.ID, UserName: userName}, nil
}

func (d *Directory) sessionCaller(s *Session) (*Caller, error) {
	if s.RoleARN == "" {
		user := s.UserName
		if s.IsRoot {
			user = ""
		}
		c, err := d.keyOwner(s.AccountID, user)
		if err != nil {
			return nil, err
		}
		c.AccessKeyID, c.Session = s.AccessKeyID, s
		return c, nil
	}
	return &Caller{
		Type: TypeAssumedRole, AccountID: s.AccountID,
		ARN:         fmt.Sprintf("arn:aws:sts::%s:assumed-role/%s/%s", s.AccountID, s.RoleName, s.SessionName),
		UserID:      s.RoleID + ":" + s.SessionName,
		AccessKeyID: s.AccessKeyID, Session: s,
	}, nil
}

// SealSession turns a session into its token.
func (d *Directory) SealSession(s *Session) (string, error) {
	b, err := cbor.Marshal(s)
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(d.Sealer.Seal(purposeSession, b)), nil
}

// OpenSession validates a token and returns its session (expiry is the verifier's to
// check, so that an expired token gets ExpiredToken rather than an unknown-key error).
func (d *Directory) OpenSession(token string) (*Session, error) {
	raw, err := base64.StdEncoding.DecodeString(token)
	if err != nil {
		return nil, pki.ErrUnseal
	}
	b, err := d.Sealer.Open(purposeSession, raw)
	if err != nil {
		return nil, err
	}
	var s Session
	if err := cbor.Unmarshal(b, &s); err != nil {
		return nil, pki.ErrUnseal
	}
	return &s, nil
}

// RootARN is an account's root user ARN.
func RootARN(account string) string { return "arn:aws:iam::" + account + ":root" }
