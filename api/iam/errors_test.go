package iam

import (
	"errors"
	"testing"

	"github.com/banyancloud/banyan/api/awserr"
	"github.com/banyancloud/banyan/cluster/state"
)

func TestMapError(t *testing.T) {
	cases := []struct {
		err    error
		code   string
		status int
	}{
		{state.Errorf(state.CodeNotFound, "x"), "NoSuchEntity", 404},
		{state.Errorf(state.CodeAlreadyExists, "x"), "EntityAlreadyExists", 409},
		{state.Errorf(state.CodeConflict, "x"), "ConcurrentModification", 409},
		{state.Errorf(state.CodeInvalid, "x"), "InvalidInput", 400},
		{errors.New("disk on fire"), "ServiceFailure", 500},
		{awserr.AccessDenied, "AccessDenied", 403},
	}
	for _, c := range cases {
		if got := MapError(c.err); got.Code != c.code || got.HTTPStatus != c.status {
			t.Errorf("%v: got %s %d, want %s %d", c.err, got.Code, got.HTTPStatus, c.code, c.status)
		}
	}
	if MapError(errors.New("disk on fire")).SenderFault() {
		t.Error("a server failure reported as the sender's fault")
	}
}
