package iam

import (
	"crypto/rand"
	"encoding/base32"
	"encoding/base64"
	"math/big"
)

// NewID returns an IAM unique ID with the given 4-letter prefix (AKIA access keys,
// ASIA temporary keys, AIDA users, AGPA groups, AROA roles, ANPA policies, AIPA instance
// profiles): the prefix then 16 characters of A-Z2-7, as AWS's look.
func NewID(prefix string) string {
	b := make([]byte, 10)
	rand.Read(b)
	return prefix + base32.StdEncoding.EncodeToString(b)
}

// NewSecretKey returns a 40-character secret access key.
func NewSecretKey() string {
	b := make([]byte, 30)
	rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

// NewAccountID returns a random 12-digit account ID that does not start with 0.
func NewAccountID() string {
	n, _ := rand.Int(rand.Reader, big.NewInt(900_000_000_000))
	return new(big.Int).Add(n, big.NewInt(100_000_000_000)).String()
}
