package pki

import (
	"errors"
	"testing"
)

func TestSealRoundTripAndPurposeBinding(t *testing.T) {
	s, err := NewSealer(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	sealed := s.Seal("secret-access-key", []byte("wJalrXUtnFEMI"))
	got, err := s.Open("secret-access-key", sealed)
	if err != nil || string(got) != "wJalrXUtnFEMI" {
		t.Fatalf("round trip: %q %v", got, err)
	}
	if _, err := s.Open("sts-session", sealed); !errors.Is(err, ErrUnseal) {
		t.Fatalf("opened under another purpose: %v", err)
	}
	sealed[len(sealed)-1] ^= 1
	if _, err := s.Open("secret-access-key", sealed); !errors.Is(err, ErrUnseal) {
		t.Fatalf("opened a tampered value: %v", err)
	}
	other, _ := NewSealer(append(make([]byte, 31), 1))
	if _, err := other.Open("secret-access-key", s.Seal("secret-access-key", []byte("x"))); !errors.Is(err, ErrUnseal) {
		t.Fatal("opened with another cluster's key")
	}
}

func TestTokenRoundTrip(t *testing.T) {
	ca, err := NewCA("c1")
	if err != nil {
		t.Fatal(err)
	}
	tok := NewToken(ca.Fingerprint())
	back, err := ParseToken(tok.String())
	if err != nil || back != tok {
		t.Fatalf("round trip: %v %v", back, err)
	}
	for _, bad := range []string{"", "BNY1", "BNY2.aa.bb", "BNY1." + tok.String()[5:69] + ".zz", "BNY1.abc." + tok.Secret} {
		if _, err := ParseToken(bad); !errors.Is(err, ErrBadToken) {
			t.Errorf("ParseToken(%q) = %v, want ErrBadToken", bad, err)
		}
	}
}
