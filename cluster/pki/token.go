package pki

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// Errors a joining box can meet before it is admitted.
var (
	ErrBadToken       = errors.New("malformed join token: expected BNY1.<cluster fingerprint>.<secret> as written to DIR/join-token")
	ErrForeignCluster = errors.New("the join token belongs to a different cluster than the node you are joining (CA fingerprint mismatch)")
	ErrNotBanyan      = errors.New("not a Banyan node")
)

const tokenPrefix = "BNY1"

// Token is a join token: it pins the cluster CA (so the joiner can trust the node it
// contacts) and carries a secret (so that node can trust the joiner).
type Token struct {
	Pin    [32]byte // SHA-256 of the cluster CA certificate
	Secret string   // 32 hex characters
}

// NewToken creates a token for the CA with fingerprint pin.
func NewToken(pin [32]byte) Token {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("pki: crypto/rand failed: " + err.Error())
	}
	return Token{Pin: pin, Secret: hex.EncodeToString(b[:])}
}

// String formats the token as users copy it.
func (t Token) String() string {
	return fmt.Sprintf("%s.%s.%s", tokenPrefix, hex.EncodeToString(t.Pin[:]), t.Secret)
}

// SecretHash is what the cluster stores: the secret itself is never replicated.
func (t Token) SecretHash() string { return HashSecret(t.Secret) }

// HashSecret hashes a token secret for storage and comparison.
func HashSecret(secret string) string {
	h := sha256.Sum256([]byte("banyan-join-token:" + secret))
	return hex.EncodeToString(h[:])
}

// ParseToken parses the text form of a token.
func ParseToken(s string) (Token, error) {
	parts := strings.Split(strings.TrimSpace(s), ".")
	if len(parts) != 3 || parts[0] != tokenPrefix {
		return Token{}, ErrBadToken
	}
	pin, err := hex.DecodeString(parts[1])
	if err != nil || len(pin) != 32 {
		return Token{}, ErrBadToken
	}
	if sec, err := hex.DecodeString(parts[2]); err != nil || len(sec) != 16 {
		return Token{}, ErrBadToken
	}
	var t Token
	copy(t.Pin[:], pin)
	t.Secret = parts[2]
	return t, nil
}

// FingerprintOf is the SHA-256 of a certificate.
func FingerprintOf(c *x509.Certificate) [32]byte { return sha256.Sum256(c.Raw) }
