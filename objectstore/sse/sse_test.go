package sse

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	mrand "math/rand/v2"
	"testing"
)

func seal(t *testing.T, plain []byte, k ObjectKey, part int) []byte {
	t.Helper()
	out, err := io.ReadAll(Encrypt(bytes.NewReader(plain), k, part, int64(len(plain))))
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(out)) != SealedSize(int64(len(plain))) {
		t.Fatalf("%d plain bytes sealed to %d, SealedSize says %d", len(plain), len(out), SealedSize(int64(len(plain))))
	}
	return out
}

func random(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func TestSizes(t *testing.T) {
	for _, n := range []int64{0, 1, PackageSize - 1, PackageSize, PackageSize + 1, 3*PackageSize + 5, 5 << 30} {
		s := SealedSize(n)
		if got, err := PlainSize(s); err != nil || got != n {
			t.Fatalf("PlainSize(SealedSize(%d)=%d) = %d, %v", n, s, got, err)
		}
	}
	for _, bad := range []int64{0, Overhead - 1, PackageSize + Overhead + 1, PackageSize + 2*Overhead - 1} {
		if _, err := PlainSize(bad); !errors.Is(err, ErrSize) {
			t.Fatalf("PlainSize(%d): %v, want ErrSize", bad, err)
		}
	}
}

func TestRoundTripAndRanges(t *testing.T) {
	k := NewObjectKey()
	sizes := []int{0, 1, PackageSize - 1, PackageSize, PackageSize + 1, 3*PackageSize + 17}
	for _, n := range sizes {
		plain := random(n)
		stored := seal(t, plain, k, 1)
		if bytes.Contains(stored, plain) && n > 16 {
			t.Fatalf("%d bytes: the plaintext is in the stored bytes", n)
		}
		parts := []Part{{Number: 1, Size: int64(len(stored))}}
		ranges := [][2]int64{{0, int64(n)}}
		for range 20 {
			if n == 0 {
				break
			}
			off := mrand.Int64N(int64(n))
			ranges = append(ranges, [2]int64{off, 1 + mrand.Int64N(int64(n)-off)})
		}
		for _, r := range ranges {
			p, err := NewPlan(parts, r[0], r[1])
			if err != nil {
				t.Fatal(err)
			}
			// Only the planned stored bytes are handed over, as a ranged GET would.
			got, err := io.ReadAll(p.Decrypt(bytes.NewReader(stored[p.StoredOffset:p.StoredOffset+p.StoredLength]), k))
			if err != nil {
				t.Fatalf("%d bytes, range %v: %v", n, r, err)
			}
			if !bytes.Equal(got, plain[r[0]:r[0]+r[1]]) {
				t.Fatalf("%d bytes, range %v: wrong plaintext", n, r)
			}
			if p.StoredLength > r[1]+2*(PackageSize+Overhead) {
				t.Fatalf("range %v reads %d stored bytes", r, p.StoredLength)
			}
		}
	}
}

// A multipart object: each part its own stream under its own key; a range across the
// boundary decrypts from both.
func TestRangeAcrossParts(t *testing.T) {
	k := NewObjectKey()
	p1, p2, p3 := random(2*PackageSize+100), random(PackageSize), random(7)
	s1, s2, s3 := seal(t, p1, k, 1), seal(t, p2, k, 2), seal(t, p3, k, 5)
	stored := append(append(append([]byte{}, s1...), s2...), s3...)
	plain := append(append(append([]byte{}, p1...), p2...), p3...)
	parts := []Part{{1, int64(len(s1))}, {2, int64(len(s2))}, {5, int64(len(s3))}}
	for _, r := range [][2]int64{{0, int64(len(plain))}, {int64(len(p1)) - 10, 20}, {int64(len(p1)) - 1, int64(len(p2)) + 3}, {int64(len(plain)) - 3, 3}} {
		p, err := NewPlan(parts, r[0], r[1])
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(p.Decrypt(bytes.NewReader(stored[p.StoredOffset:p.StoredOffset+p.StoredLength]), k))
		if err != nil || !bytes.Equal(got, plain[r[0]:r[0]+r[1]]) {
			t.Fatalf("range %v: %v (equal %v)", r, err, bytes.Equal(got, plain[r[0]:r[0]+r[1]]))
		}
	}
	if _, err := NewPlan(parts, int64(len(plain)), 1); err == nil {
		t.Fatal("a range past the end was planned")
	}
}

func decryptAll(stored []byte, k ObjectKey, plainLen int64, parts []Part) error {
	p, err := NewPlan(parts, 0, plainLen)
	if err != nil {
		return err
	}
	_, err = io.ReadAll(p.Decrypt(bytes.NewReader(stored), k))
	return err
}

func TestTamperDetected(t *testing.T) {
	k := NewObjectKey()
	plain := random(3*PackageSize + 9)
	stored := seal(t, plain, k, 1)
	n := int64(len(plain))
	parts := []Part{{1, int64(len(stored))}}
	if err := decryptAll(stored, k, n, parts); err != nil {
		t.Fatal(err)
	}
	for _, at := range []int{0, 5, nonceSize + 3, PackageSize + Overhead + 1, len(stored) - 1} {
		bad := bytes.Clone(stored)
		bad[at] ^= 1
		if err := decryptAll(bad, k, n, parts); !errors.Is(err, ErrTampered) {
			t.Fatalf("flipped byte %d: %v, want ErrTampered", at, err)
		}
	}
	// Two packages swapped.
	pk := PackageSize + Overhead
	swapped := bytes.Clone(stored)
	copy(swapped[:pk], stored[pk:2*pk])
	copy(swapped[pk:2*pk], stored[:pk])
	if err := decryptAll(swapped, k, n, parts); !errors.Is(err, ErrTampered) {
		t.Fatalf("swapped packages: %v", err)
	}
	// Cut at a package boundary, the size shortened to match: the final flag is missing.
	cut := stored[:2*pk]
	if err := decryptAll(cut, k, 2*PackageSize, []Part{{1, int64(len(cut))}}); !errors.Is(err, ErrTampered) {
		t.Fatalf("truncated stream: %v", err)
	}
	// The right bytes under another part's key.
	if err := decryptAll(stored, k, n, []Part{{2, int64(len(stored))}}); !errors.Is(err, ErrTampered) {
		t.Fatalf("another part's key: %v", err)
	}
	// Another object's key.
	if err := decryptAll(stored, NewObjectKey(), n, parts); !errors.Is(err, ErrTampered) {
		t.Fatalf("wrong key: %v", err)
	}
	// Short stored bytes.
	if err := decryptAll(stored[:len(stored)-1], k, n, parts); err == nil {
		t.Fatal("short stored stream decrypted")
	}
}

func TestEncryptChecksSize(t *testing.T) {
	k := NewObjectKey()
	for _, tc := range []struct{ have, declared int }{{10, 11}, {12, 11}, {PackageSize + 1, PackageSize}, {0, 1}} {
		_, err := io.ReadAll(Encrypt(bytes.NewReader(random(tc.have)), k, 1, int64(tc.declared)))
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("%d bytes declared %d: %v", tc.have, tc.declared, err)
		}
	}
	// Unknown size: whatever arrives.
	plain := random(PackageSize + 3)
	out, err := io.ReadAll(Encrypt(bytes.NewReader(plain), k, 1, -1))
	if err != nil || int64(len(out)) != SealedSize(int64(len(plain))) {
		t.Fatalf("unknown size: %d bytes, %v", len(out), err)
	}
	// The source's own error comes through unchanged.
	boom := errors.New("boom")
	_, err = io.ReadAll(Encrypt(io.MultiReader(bytes.NewReader(random(100)), &failing{boom}), k, 1, 200))
	if !errors.Is(err, boom) {
		t.Fatalf("source error: %v", err)
	}
}

type failing struct{ err error }

func (f *failing) Read([]byte) (int, error) { return 0, f.err }

func TestSealedKeys(t *testing.T) {
	kek := ClusterKEK(random(32))
	k := NewObjectKey()
	sealed := SealKey(kek, k, "b/k")
	if got, err := UnsealKey(kek, sealed, "b/k"); err != nil || got != k {
		t.Fatalf("unseal: %v", err)
	}
	if _, err := UnsealKey(kek, sealed, "b/other"); !errors.Is(err, ErrTampered) {
		t.Fatalf("other context: %v", err)
	}
	if _, err := UnsealKey(ClusterKEK(random(32)), sealed, "b/k"); !errors.Is(err, ErrTampered) {
		t.Fatalf("other cluster: %v", err)
	}
	if _, err := UnsealKey(kek, sealed[:10], "b/k"); !errors.Is(err, ErrTampered) {
		t.Fatalf("short: %v", err)
	}
	ck, salt := random(32), NewSalt()
	check := KeyCheck(ck, salt)
	if !KeyMatches(ck, salt, check) || KeyMatches(random(32), salt, check) {
		t.Fatal("key check")
	}
	if e := k.ETag("d41d8cd98f00b204e9800998ecf8427e"); len(e) != 32 || e == "d41d8cd98f00b204e9800998ecf8427e" {
		t.Fatalf("ETag %q", e)
	}
}

func BenchmarkEncrypt(b *testing.B) {
	k := NewObjectKey()
	plain := random(16 << 20)
	b.SetBytes(int64(len(plain)))
	for b.Loop() {
		io.Copy(io.Discard, Encrypt(bytes.NewReader(plain), k, 1, int64(len(plain))))
	}
}

func BenchmarkDecrypt(b *testing.B) {
	k := NewObjectKey()
	plain := random(16 << 20)
	stored, _ := io.ReadAll(Encrypt(bytes.NewReader(plain), k, 1, int64(len(plain))))
	p, _ := NewPlan([]Part{{1, int64(len(stored))}}, 0, int64(len(plain)))
	b.SetBytes(int64(len(plain)))
	for b.Loop() {
		io.Copy(io.Discard, p.Decrypt(bytes.NewReader(stored), k))
	}
}
