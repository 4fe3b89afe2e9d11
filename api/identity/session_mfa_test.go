package identity

import (
	"testing"

	"github.com/banyancloud/banyan/cluster/pki"
)

func TestSessionIssuedWithoutMFA(t *testing.T) {
	var none *Session
	for _, tc := range []struct {
		name string
		s    *Session
		want bool
	}{
		{"no session", none, false},
		{"GetSessionToken, user", &Session{AccountID: "111122223333", UserName: "u"}, true},
		{"GetSessionToken, root", &Session{AccountID: "111122223333", IsRoot: true}, true},
		{"GetSessionToken with MFA", &Session{AccountID: "111122223333", UserName: "u", MFA: true}, false},
		{"AssumeRole", &Session{AccountID: "111122223333", RoleARN: "arn:aws:iam::111122223333:role/r", RoleName: "r"}, false},
	} {
		if got := tc.s.IssuedWithoutMFA(); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
	// The flag travels in the token, and tokens sealed before it existed open without.
	sealer, _ := pki.NewSealer(make([]byte, 32))
	d := &Directory{Sealer: sealer}
	tok, err := d.SealSession(&Session{AccountID: "111122223333", UserName: "u", MFA: true})
	if err != nil {
		t.Fatal(err)
	}
	s, err := d.OpenSession(tok)
	if err != nil || !s.MFA || s.IssuedWithoutMFA() {
		t.Fatalf("%+v %v", s, err)
	}
}
