package imds

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"time"
)

// Tokens are base64url(expiry as 8 big-endian bytes of Unix seconds, then
// HMAC-SHA256(key, instance ID, expiry)): they hold what checking them needs, so the
// service stores nothing, and a token is good only for the instance it was made for.
// The key is per box and per start: tokens do not survive a restart of the service,
// which clients handle as they do an expiry (401, then a new PUT).
const tokenLen = 8 + sha256.Size

func mintToken(key []byte, instanceID string, expiry time.Time) string {
	buf := make([]byte, 8, tokenLen)
	binary.BigEndian.PutUint64(buf, uint64(expiry.Unix()))
	return base64.RawURLEncoding.EncodeToString(append(buf, tokenMAC(key, instanceID, buf)...))
}

// validToken reports whether tok was made by this key for the instance and has not
// expired at now.
func validToken(key []byte, tok, instanceID string, now time.Time) bool {
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || len(raw) != tokenLen {
		return false
	}
	if !hmac.Equal(raw[8:], tokenMAC(key, instanceID, raw[:8])) {
		return false
	}
	return now.Unix() < int64(binary.BigEndian.Uint64(raw[:8]))
}

func tokenMAC(key []byte, instanceID string, expiry []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("banyan imds token\x00"))
	m.Write([]byte(instanceID))
	m.Write([]byte{0})
	m.Write(expiry)
	return m.Sum(nil)
}
