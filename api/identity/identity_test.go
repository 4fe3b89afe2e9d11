package identity

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/banyancloud/banyan/api/awserr"
	"github.com/banyancloud/banyan/api/sigv4"
	"github.com/banyancloud/banyan/cluster/pki"
	"github.com/banyancloud/banyan/cluster/state"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

const acct = "111122223333"

// newStore builds a replica by applying commands to the real FSM, as Raft would.
func newStore(t *testing.T, writes ...*state.IAMWrite) *state.Store {
	t.Helper()
	st := state.NewStore()
	fsm := state.NewFSM(st, slog.New(slog.NewTextHandler(io.Discard, nil)))
	for i, w := range writes {
		data, err := state.Encode(w)
		if err != nil {
			t.Fatal(err)
		}
		if r := fsm.Apply(&raft.Log{Index: uint64(i + 1), Type: raft.LogCommand, Data: data}).(*state.Result); r.Err != nil {
			t.Fatal(r.Err)
		}
	}
	return st
}

func policy(name, doc string) state.IAMPut {
	return state.IAMPut{Entity: state.Entity{Kind: state.KindPolicy, Account: acct, Name: name, Policy: &state.ManagedPolicy{
		Name: name, ARN: "arn:aws:iam::" + acct + ":policy/" + name, DefaultVersion: "v1",
		Versions: []state.PolicyVersion{{ID: "v1", Document: doc}}}}}
}

func TestPermissionsBoundaryLimits(t *testing.T) {
	user := state.User{Name: "bob", ARN: "arn:aws:iam::" + acct + ":user/bob", ID: "AIDABOB"}
	user.Inline = map[string]string{"all": `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`}
	user.Boundary = "arn:aws:iam::" + acct + ":policy/only-iam-read"
	st := newStore(t, &state.IAMWrite{Put: []state.IAMPut{
		{Entity: state.Entity{Kind: state.KindUser, Account: acct, Name: "bob", User: &user}},
		policy("only-iam-read", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:Get*","Resource":"*"}]}`),
	}})
	a := &Authorizer{Store: st}
	bob := &Caller{Type: TypeUser, AccountID: acct, ARN: user.ARN, UserID: user.ID, UserName: "bob"}
	if err := a.Authorize(bob, Check{Action: "iam:GetUser", Resource: user.ARN}); err != nil {
		t.Fatalf("inside the boundary: %v", err)
	}
	err := a.Authorize(bob, Check{Action: "iam:DeleteUser", Resource: user.ARN})
	if !errors.Is(err, awserr.AccessDenied) {
		t.Fatalf("outside the boundary: %v", err)
	}
}

func TestCrossAccountFromARN(t *testing.T) {
	st := newStore(t)
	a := &Authorizer{Store: st}
	root := &Caller{Type: TypeRoot, AccountID: "999988887777", ARN: RootARN("999988887777"), UserID: "999988887777"}
	if err := a.Authorize(root, Check{Action: "iam:GetPolicy", Resource: "arn:aws:iam::" + acct + ":policy/x"}); !errors.Is(err, awserr.AccessDenied) {
		t.Fatalf("another account's root reached into %s: %v", acct, err)
	}
	if err := a.Authorize(root, Check{Action: "iam:GetPolicy", Resource: "arn:aws:iam::999988887777:policy/x"}); err != nil {
		t.Fatalf("root in its own account: %v", err)
	}
}

func TestSessionCredentialsExpire(t *testing.T) {
	sealer, _ := pki.NewSealer(make([]byte, 32))
	d := &Directory{Store: newStore(t), Sealer: sealer}
	issued := time.Now().UTC().Truncate(time.Second)
	s := &Session{AccessKeyID: "ASIATESTTESTTESTTEST", Secret: "secret", AccountID: acct, Issued: issued,
		Expires: issued.Add(15 * time.Minute), RoleARN: "arn:aws:iam::" + acct + ":role/r", RoleID: "AROAR", RoleName: "r", SessionName: "s"}
	tok, err := d.SealSession(s)
	if err != nil {
		t.Fatal(err)
	}
	sign := func(at time.Time) error {
		r := httptest.NewRequest("POST", "http://127.0.0.1/", nil)
		r.Header.Set("X-Amz-Security-Token", tok)
		err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: s.AccessKeyID, SecretAccessKey: s.Secret, SessionToken: tok},
			r, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "sts", "us-east-1", at)
		if err != nil {
			t.Fatal(err)
		}
		v := &sigv4.Verifier{Credentials: d, Now: func() time.Time { return at }}
		res, err := v.Verify(r.WithContext(WithSessionToken(r.Context(), tok)))
		if err == nil && res.Credential.Principal.(*Caller).Type != TypeAssumedRole {
			t.Fatalf("session caller: %+v", res.Credential.Principal)
		}
		return err
	}
	if err := sign(issued.Add(time.Minute)); err != nil {
		t.Fatalf("a fresh session was refused: %v", err)
	}
	if err := sign(issued.Add(16 * time.Minute)); err == nil || !errors.Is(err, awserr.ExpiredToken) && !isCode(err, "ExpiredToken") {
		t.Fatalf("an expired session: %v", err)
	}
}

func isCode(err error, code string) bool {
	var e *awserr.Error
	return errors.As(err, &e) && e.Code == code
}
