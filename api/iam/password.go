package iam

import (
	"bytes"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strconv"
)

// Console passwords are stored as salted PBKDF2-HMAC-SHA256 (the standard library's
// crypto/pbkdf2; bcrypt would need golang.org/x/crypto in go.mod), with the iteration
// count in the stored value so that it can be raised without invalidating old hashes:
//
//	pbkdf2-sha256$ITERATIONS$SALT$KEY   (salt and key in unpadded base64)
const passwordScheme = "pbkdf2-sha256"

// passwordIterations is OWASP's 2023 recommendation for PBKDF2-HMAC-SHA256. Tests lower
// it to keep runs short.
var passwordIterations = 600_000

func hashPassword(password string) ([]byte, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return nil, err
	}
	key, err := pbkdf2.Key(sha256.New, password, salt, passwordIterations, 32)
	if err != nil {
		return nil, err
	}
	enc := base64.RawStdEncoding
	return fmt.Appendf(nil, "%s$%d$%s$%s", passwordScheme, passwordIterations, enc.EncodeToString(salt), enc.EncodeToString(key)), nil
}

// PasswordMatches reports whether password is the one hashed into stored (a login
// profile's PasswordHash), in constant time.
func PasswordMatches(stored []byte, password string) bool {
	parts := bytes.Split(stored, []byte("$"))
	if len(parts) != 4 || string(parts[0]) != passwordScheme {
		return false
	}
	iter, err := strconv.Atoi(string(parts[1]))
	if err != nil || iter < 1 {
		return false
	}
	enc := base64.RawStdEncoding
	salt, err1 := enc.DecodeString(string(parts[2]))
	want, err2 := enc.DecodeString(string(parts[3]))
	if err1 != nil || err2 != nil {
		return false
	}
	got, err := pbkdf2.Key(sha256.New, password, salt, iter, len(want))
	return err == nil && subtle.ConstantTimeCompare(got, want) == 1
}
