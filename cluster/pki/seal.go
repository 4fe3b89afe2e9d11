package pki

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
)

// Sealer encrypts secrets at rest (secret access keys, private keys) and self-contained
// tokens (STS session tokens) with the cluster key, using AES-256-GCM. The purpose is
// bound in as additional data, so a value sealed for one use cannot be replayed as
// another.
type Sealer struct{ aead cipher.AEAD }

// ErrUnseal is returned for values that were tampered with, sealed for another purpose
// or with another cluster's key.
var ErrUnseal = errors.New("sealed value is corrupt or not from this cluster")

// NewSealer returns a sealer for a 32-byte cluster key.
func NewSealer(key []byte) (*Sealer, error) {
	if len(key) != 32 {
		return nil, errors.New("cluster key must be 32 bytes")
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Sealer{aead: aead}, nil
}

// Seal encrypts plaintext for purpose; the result is nonce || ciphertext.
func (s *Sealer) Seal(purpose string, plaintext []byte) []byte {
	nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(plaintext)+s.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		panic("pki: crypto/rand failed: " + err.Error())
	}
	return s.aead.Seal(nonce, nonce, plaintext, []byte(purpose))
}

// Open decrypts a value sealed for purpose.
func (s *Sealer) Open(purpose string, sealed []byte) ([]byte, error) {
	n := s.aead.NonceSize()
	if len(sealed) < n+s.aead.Overhead() {
		return nil, ErrUnseal
	}
	out, err := s.aead.Open(nil, sealed[:n], sealed[n:], []byte(purpose))
	if err != nil {
		return nil, ErrUnseal
	}
	return out, nil
}
