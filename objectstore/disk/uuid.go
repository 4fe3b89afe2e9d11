package disk

import (
	"crypto/rand"
	"encoding/hex"
)

// newUUID returns a random (version 4) UUID: disk IDs, data dirs and
// staging names. Collisions are as unlikely as 122 random bits make them.
func newUUID() string { return NewUUID() }

// NewUUID returns a random (version 4) UUID in its canonical form.
func NewUUID() string {
	var u [16]byte
	rand.Read(u[:]) // never fails (crypto/rand panics instead)
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return FormatUUID(u)
}

// FormatUUID renders 16 bytes in the canonical lower-case 8-4-4-4-12 form
// isUUID accepts.
func FormatUUID(u [16]byte) string {
	var b [36]byte
	hex.Encode(b[0:8], u[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], u[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], u[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], u[8:10])
	b[23] = '-'
	hex.Encode(b[24:], u[10:])
	return string(b[:])
}

// isUUID reports whether s has the canonical lower-case 8-4-4-4-12 form.
// Data dir names come from metadata that may cross the network, and become
// path components, so nothing else is accepted.
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
				return false
			}
		}
	}
	return true
}
