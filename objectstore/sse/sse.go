// Package sse is the cryptography of S3 server-side encryption: the at-rest format of
// an encrypted object's bytes, the per-object data keys and how they are sealed. It
// knows nothing of S3 headers (api/s3 does) nor of disks (objectstore stores what the
// encrypting reader yields like any other body).
//
// # Format
//
// An object (each part of a multipart object on its own) is a stream of packages, each
// holding PackageSize plaintext bytes (the last one fewer, possibly none):
//
//	nonce (12 random bytes) || AES-256-GCM(stream key, nonce, plaintext, AAD) (plaintext + 16-byte tag)
//
// with AAD = the package's sequence number in its stream (8 bytes, big-endian) || 1 if
// it is the stream's last package, else 0. A package decrypts on its own, so a ranged
// read fetches and decrypts only the packages it touches; the sequence number in the
// AAD refuses packages moved or swapped, and the final flag refuses a stream cut at a
// package boundary. The stored size is a pure function of the plaintext size
// (SealedSize) and back (PlainSize), so nothing but the key needs recording.
//
// # Keys
//
// Every object (or multipart upload) gets a random 256-bit ObjectKey. Part N's stream
// key is HMAC-SHA256(object key, "banyan/sse/v1/part" || N); a plain PUT is part 1.
// The object key is stored only sealed (SealKey, AES-256-GCM bound to the bucket and
// key) under a key-encryption key: for SSE-S3 one derived from the cluster key
// (ClusterKEK), for SSE-C one derived from the customer's key (CustomerKEK), which is
// never stored; a salted HMAC of it (KeyCheck) tells a wrong key from a corrupt record.
// Nonces are random: one stream key serves a part uploaded several times, and 96-bit
// random nonces keep collisions negligible far beyond S3's 5 TiB objects.
package sse

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
)

// PackageSize is the plaintext bytes per package.
const PackageSize = 64 << 10

const (
	nonceSize = 12
	tagSize   = 16
	// Overhead is what each package adds to its plaintext.
	Overhead = nonceSize + tagSize
)

// Errors.
var (
	// ErrTampered: a package or a sealed key failed authentication (wrong key, or the
	// stored bytes were changed).
	ErrTampered = errors.New("sse: encrypted data failed authentication")
	// ErrSize: a stored size no encrypted stream can have.
	ErrSize = errors.New("sse: not the size of an encrypted stream")
)

// packages is the number of packages a stream of plain bytes has (at least one, so
// that even an empty stream carries its final flag).
func packages(plain int64) int64 {
	if plain <= 0 {
		return 1
	}
	return (plain + PackageSize - 1) / PackageSize
}

// SealedSize is the stored size of a stream of plain bytes; -1 stays -1 (unknown).
func SealedSize(plain int64) int64 {
	if plain < 0 {
		return -1
	}
	return plain + packages(plain)*Overhead
}

// PlainSize is the plaintext size of a stored stream of sealed bytes.
func PlainSize(sealed int64) (int64, error) {
	if sealed < Overhead {
		return 0, ErrSize
	}
	n := (sealed + PackageSize + Overhead - 1) / (PackageSize + Overhead)
	plain := sealed - n*Overhead
	if plain < 0 || SealedSize(plain) != sealed {
		return 0, ErrSize
	}
	return plain, nil
}

// ObjectKey is one object's (or one multipart upload's) data key.
type ObjectKey [32]byte

// NewObjectKey returns a random object key.
func NewObjectKey() ObjectKey {
	var k ObjectKey
	if _, err := rand.Read(k[:]); err != nil {
		panic("sse: crypto/rand failed: " + err.Error())
	}
	return k
}

func mac(key []byte, parts ...[]byte) []byte {
	h := hmac.New(sha256.New, key)
	for _, p := range parts {
		h.Write(p)
	}
	return h.Sum(nil)
}

// streamKey is the key of part n's stream.
func (k ObjectKey) streamKey(part int) []byte {
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], uint32(part))
	return mac(k[:], []byte("banyan/sse/v1/part"), n[:])
}

// ETag is the ETag shown for an object whose body's MD5 is md5hex when that MD5 must
// not be revealed (SSE-C): an HMAC of it under the object key, as long as an MD5.
func (k ObjectKey) ETag(md5hex string) string {
	raw, _ := hex.DecodeString(md5hex)
	return hex.EncodeToString(mac(k[:], []byte("banyan/sse/v1/etag"), raw)[:16])
}

// ClusterKEK derives the key-encryption key of SSE-S3 from the cluster key.
func ClusterKEK(clusterKey []byte) [32]byte {
	return [32]byte(mac(clusterKey, []byte("banyan/sse/v1/sse-s3-kek")))
}

// ManagedKEK derives the key-encryption key of an account's managed KMS key (SSE-KMS with
// aws/s3) from the cluster key: one key per account, none stored.
func ManagedKEK(clusterKey []byte, account string) [32]byte {
	return [32]byte(mac(clusterKey, []byte("banyan/sse/v1/sse-kms-aws-s3-kek/"), []byte(account)))
}

// CustomerKEK derives the key-encryption key of SSE-C from the customer's 256-bit key.
func CustomerKEK(customerKey []byte) [32]byte {
	return [32]byte(mac(customerKey, []byte("banyan/sse/v1/sse-c-kek")))
}

// NewSalt returns a random salt for KeyCheck.
func NewSalt() []byte {
	s := make([]byte, 16)
	if _, err := rand.Read(s); err != nil {
		panic("sse: crypto/rand failed: " + err.Error())
	}
	return s
}

// KeyCheck is the salted HMAC of a customer key that is stored instead of the key, to
// check the key a later request brings.
func KeyCheck(customerKey, salt []byte) []byte {
	return mac(customerKey, []byte("banyan/sse/v1/sse-c-check"), salt)
}

// KeyMatches reports in constant time whether customerKey is the key check was made of.
func KeyMatches(customerKey, salt, check []byte) bool {
	return hmac.Equal(KeyCheck(customerKey, salt), check)
}

func newGCM(key []byte) cipher.AEAD {
	block, err := aes.NewCipher(key)
	if err != nil {
		panic("sse: " + err.Error()) // keys are always 32 bytes here
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		panic("sse: " + err.Error())
	}
	return aead
}

// SealKey encrypts an object key under kek, bound to context (the bucket and key the
// object lives under), as nonce || ciphertext || tag.
func SealKey(kek [32]byte, k ObjectKey, context string) []byte {
	aead := newGCM(kek[:])
	nonce := make([]byte, nonceSize, nonceSize+len(k)+tagSize)
	if _, err := rand.Read(nonce); err != nil {
		panic("sse: crypto/rand failed: " + err.Error())
	}
	return aead.Seal(nonce, nonce, k[:], []byte(context))
}

// UnsealKey opens a key sealed by SealKey with the same kek and context.
func UnsealKey(kek [32]byte, sealed []byte, context string) (ObjectKey, error) {
	var k ObjectKey
	if len(sealed) != nonceSize+len(k)+tagSize {
		return k, ErrTampered
	}
	plain, err := newGCM(kek[:]).Open(nil, sealed[:nonceSize], sealed[nonceSize:], []byte(context))
	if err != nil {
		return k, ErrTampered
	}
	copy(k[:], plain)
	return k, nil
}

func aad(seq uint64, final bool) []byte {
	var a [9]byte
	binary.BigEndian.PutUint64(a[:8], seq)
	if final {
		a[8] = 1
	}
	return a[:]
}

// Encrypt returns the stored form of part's stream: it reads src to its end, which
// must come after exactly size bytes (size < 0: any number), and yields SealedSize of
// them. Memory is two packages.
func Encrypt(src io.Reader, k ObjectKey, part int, size int64) io.Reader {
	return &encReader{src: src, aead: newGCM(k.streamKey(part)), want: size,
		buf: make([]byte, PackageSize+1), out: make([]byte, 0, PackageSize+Overhead)}
}

type encReader struct {
	src  io.Reader
	aead cipher.AEAD
	want int64
	seen int64
	seq  uint64
	buf  []byte // plaintext read ahead: one byte past a package tells it is not the last
	have int
	out  []byte
	off  int
	done bool
	err  error
}

func (e *encReader) Read(p []byte) (int, error) {
	for e.off == len(e.out) {
		if e.err != nil {
			return 0, e.err
		}
		if e.done {
			return 0, io.EOF
		}
		e.fill()
	}
	n := copy(p, e.out[e.off:])
	e.off += n
	return n, nil
}

// fill seals the next package into out.
func (e *encReader) fill() {
	n, err := io.ReadFull(e.src, e.buf[e.have:])
	e.have += n
	e.seen += int64(n)
	if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
		e.err = err
		return
	}
	final := e.have <= PackageSize
	if e.want >= 0 && (e.seen > e.want || final && e.seen != e.want) {
		e.err = fmt.Errorf("sse: the body has %d bytes or more, declared %d: %w", e.seen, e.want, io.ErrUnexpectedEOF)
		return
	}
	plen := min(e.have, PackageSize)
	e.out = e.out[:nonceSize]
	if _, err := rand.Read(e.out); err != nil {
		panic("sse: crypto/rand failed: " + err.Error())
	}
	e.out = e.aead.Seal(e.out, e.out[:nonceSize], e.buf[:plen], aad(e.seq, final))
	e.off = 0
	e.seq++
	if final {
		e.done = true
		e.have = 0
		return
	}
	e.buf[0] = e.buf[PackageSize]
	e.have = 1
}

// Part is one encrypted stream of an object, in the object's order: its part number
// (1 for an object from a single PUT) and its stored (sealed) size.
type Part struct {
	Number int
	Size   int64
}

// Plan is how a plaintext range of an object is read: which stored bytes to fetch
// (StoredOffset, StoredLength) and how to decrypt them (Decrypt).
type Plan struct {
	StoredOffset, StoredLength int64
	parts                      []Part
	part                       int    // index of the first part read
	seq                        uint64 // its first package
	skip                       int64  // plaintext bytes of that package before the range
	length                     int64  // plaintext bytes to yield
}

// NewPlan plans reading length plaintext bytes at off of an object made of parts.
// The range must lie within the object (the caller has checked it against PlainSize).
func NewPlan(parts []Part, off, length int64) (*Plan, error) {
	p := &Plan{parts: parts, length: length}
	if length <= 0 {
		return p, nil
	}
	end := off + length - 1 // last plaintext byte
	var plainStart, storedStart int64
	found := false
	for i, pt := range parts {
		plain, err := PlainSize(pt.Size)
		if err != nil {
			return nil, err
		}
		if !found && off < plainStart+plain {
			rel := off - plainStart
			p.part, p.seq, p.skip = i, uint64(rel/PackageSize), rel%PackageSize
			p.StoredOffset = storedStart + int64(p.seq)*(PackageSize+Overhead)
			found = true
		}
		if found && end < plainStart+plain {
			rel := end - plainStart
			last := rel / PackageSize
			pkgEnd := storedStart + last*(PackageSize+Overhead) + min(PackageSize, plain-last*PackageSize) + Overhead
			p.StoredLength = pkgEnd - p.StoredOffset
			return p, nil
		}
		plainStart += plain
		storedStart += pt.Size
	}
	return nil, fmt.Errorf("sse: range %d+%d is outside the object's %d bytes", off, length, plainStart)
}

// Decrypt returns the plaintext of the planned range from stored, which yields the
// planned stored bytes. A package that fails authentication fails the read with
// ErrTampered; no byte of it is returned.
func (p *Plan) Decrypt(stored io.Reader, k ObjectKey) io.Reader {
	return &decReader{p: *p, src: stored, key: k, buf: make([]byte, PackageSize+Overhead)}
}

type decReader struct {
	p        Plan
	src      io.Reader
	key      ObjectKey
	aead     cipher.AEAD
	aeadPart int
	buf      []byte
	out      []byte
	err      error
}

func (d *decReader) Read(b []byte) (int, error) {
	for len(d.out) == 0 {
		if d.err != nil {
			return 0, d.err
		}
		if d.p.length <= 0 {
			return 0, io.EOF
		}
		d.next()
	}
	n := copy(b, d.out)
	d.out = d.out[n:]
	return n, nil
}

// next decrypts one package into out.
func (d *decReader) next() {
	pt := d.p.parts[d.p.part]
	plain, err := PlainSize(pt.Size)
	if err != nil {
		d.err = err
		return
	}
	if d.aead == nil || d.aeadPart != d.p.part {
		d.aead, d.aeadPart = newGCM(d.key.streamKey(pt.Number)), d.p.part
	}
	last := uint64(packages(plain) - 1)
	plen := min(PackageSize, plain-int64(d.p.seq)*PackageSize)
	pkg := d.buf[:plen+Overhead]
	if _, err := io.ReadFull(d.src, pkg); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		d.err = fmt.Errorf("sse: reading package %d of part %d: %w", d.p.seq, pt.Number, err)
		return
	}
	out, err := d.aead.Open(pkg[nonceSize:nonceSize], pkg[:nonceSize], pkg[nonceSize:], aad(d.p.seq, d.p.seq == last))
	if err != nil {
		d.err = fmt.Errorf("%w: package %d of part %d", ErrTampered, d.p.seq, pt.Number)
		return
	}
	out = out[d.p.skip:]
	d.p.skip = 0
	if int64(len(out)) > d.p.length {
		out = out[:d.p.length]
	}
	d.p.length -= int64(len(out))
	d.out = out
	if d.p.seq == last {
		d.p.part++
		d.p.seq = 0
	} else {
		d.p.seq++
	}
}
