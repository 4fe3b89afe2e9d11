package sigv4

import (
	"context"
	"errors"
	"time"
)

// Credential is an access key as the verifier needs it: the secret to recompute signatures
// with, the session token a temporary key must come with, and when it stops working.
type Credential struct {
	AccessKeyID     string
	SecretAccessKey string
	// SessionToken is set for temporary credentials (STS); a request signed with the key
	// must then carry exactly this X-Amz-Security-Token.
	SessionToken string
	// Expires is when a temporary credential stops working; zero means never.
	Expires time.Time
	// Principal is whoever owns the key (user, role session, ...). It is opaque here and
	// handed back in Result for authorization.
	Principal any
}

// ErrUnknownAccessKey is what a CredentialStore wraps when it has no such access key. Other
// errors (the store is unreachable) are passed through to the caller instead of being
// reported to the client as a bad key.
var ErrUnknownAccessKey = errors.New("sigv4: unknown access key")

// CredentialStore finds the credential for an access key ID.
type CredentialStore interface {
	// LookupAccessKey returns the credential for accessKeyID, or an error wrapping
	// ErrUnknownAccessKey when there is none.
	LookupAccessKey(ctx context.Context, accessKeyID string) (Credential, error)
}
