package iam

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/banyancloud/banyan/api/identity"
	"github.com/banyancloud/banyan/cluster/pki"
	"github.com/banyancloud/banyan/cluster/state"
)

// Applier submits a write to the cluster: a *cluster.Node, or a *cluster.Client used by
// the admin verbs.
type Applier interface {
	Apply(ctx context.Context, cmd state.Command, out any) (uint64, error)
}

// RootCredentials are an account's root access key.
type RootCredentials struct {
	AccountID       string
	AccountName     string
	AccessKeyID     string
	SecretAccessKey string
}

var accountName = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9._-]{0,62}$`)

// CreateAccount creates a tenant account with a root access key. It is an admin
// operation of the banyan binary (and of cluster creation, for the admin account), not
// an AWS API action.
//
// existing lists the accounts there are (the caller may read them from a local replica
// or over node RPC); names are unique.
func CreateAccount(ctx context.Context, c Applier, existing []*state.Entity, sealer *pki.Sealer, name string, admin bool) (*RootCredentials, error) {
	if !accountName.MatchString(name) {
		return nil, fmt.Errorf("invalid account name %q: use 1-63 of letters, digits, . _ -", name)
	}
	accounts := existing
	for _, a := range accounts {
		if a.AccountBody.Name == name {
			return nil, fmt.Errorf("an account named %q already exists (%s)", name, a.Name)
		}
	}
	now := time.Now().UTC()
	for attempt := 0; attempt < 5; attempt++ {
		id := NewAccountID()
		akid, secret := NewID("AKIA"), NewSecretKey()
		_, err := c.Apply(ctx, &state.IAMWrite{Put: []state.IAMPut{
			{Entity: state.Entity{Kind: state.KindAccount, Name: id, AccountBody: &state.Account{ID: id, Name: name, Admin: admin, CreatedAt: now}}},
			{Entity: state.Entity{Kind: state.KindAccessKey, Account: id, Name: akid, Alt: "accesskey/" + akid,
				AccessKey: &state.AccessKey{ID: akid, SecretSealed: sealer.Seal(identity.PurposeSecretKey, []byte(secret)), Status: "Active", CreatedAt: now}}},
		}}, nil)
		if errors.Is(err, state.ErrAlreadyExists) {
			continue // an account ID or key ID collision: draw again
		}
		if err != nil {
			return nil, err
		}
		return &RootCredentials{AccountID: id, AccountName: name, AccessKeyID: akid, SecretAccessKey: secret}, nil
	}
	return nil, errors.New("could not draw a free account ID")
}

// RootCredentialsOf returns an account's first active root key, unsealed (for `banyan
// credentials`, run as root on a member box). keys are the account's access keys.
func RootCredentialsOf(acct *state.Entity, keys []*state.Entity, sealer *pki.Sealer) (*RootCredentials, error) {
	accountID := acct.Name
	for _, k := range keys {
		if k.AccessKey.UserName == "" && k.AccessKey.Status == "Active" {
			secret, err := sealer.Open(identity.PurposeSecretKey, k.AccessKey.SecretSealed)
			if err != nil {
				return nil, err
			}
			return &RootCredentials{AccountID: accountID, AccountName: acct.AccountBody.Name, AccessKeyID: k.Name, SecretAccessKey: string(secret)}, nil
		}
	}
	return nil, fmt.Errorf("account %s has no active root access key", accountID)
}
