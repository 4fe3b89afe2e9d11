package iam

import (
	"github.com/banyancloud/banyan/api/awserr"
	"github.com/banyancloud/banyan/api/identity"
	"github.com/banyancloud/banyan/api/service"
	"github.com/banyancloud/banyan/cluster/state"
)

// maxKeysPerUser is IAM's fixed quota of access keys per user (and for the root user).
const maxKeysPerUser = 2

// userKeys returns the access keys of a user of account ("" for the root user's).
func userKeys(st *state.Store, account, userName string) []*state.Entity {
	var out []*state.Entity
	for _, k := range list(st, state.KindAccessKey, account) {
		if k.AccessKey.UserName == userName {
			out = append(out, k)
		}
	}
	return out
}

// findKey returns the access key id if it belongs to owner ("" for root) in account.
func findKey(st *state.Store, account, owner, id string) *state.Entity {
	k, err := st.IAMEntityByAlt("accesskey/" + id)
	if err != nil || k.Kind != state.KindAccessKey || k.Account != account || k.AccessKey.UserName != owner {
		return nil
	}
	return k
}

// keyOwner resolves and authorizes the user whose keys an action works on: the named
// user, or the caller itself when no name is given. It returns the owner's canonical
// name ("" for the root user) and its ARN.
func (f *front) keyOwner(c *service.Call, action string, userName *string) (owner string, err error) {
	name, root, err := selfUser(c, userName)
	if err != nil {
		return "", err
	}
	if root {
		return "", c.Authorize(action, identity.RootARN(c.Caller.AccountID))
	}
	e, err := f.authorizeUser(c, action, name)
	if err != nil {
		return "", err
	}
	return e.Name, nil
}

// keyHolder is the entity that a key's creation touches so that the per-user quota and
// the user's deletion stay consistent with concurrent key creations: the user, or the
// account for root keys.
func keyHolder(st *state.Store, account, owner string) *state.Entity {
	if owner == "" {
		return get(st, state.KindAccount, "", account)
	}
	return get(st, state.KindUser, account, owner)
}

func (f *front) createAccessKey(c *service.Call, in *CreateAccessKeyRequest) (*CreateAccessKeyResponse, error) {
	var v check
	v.opt("userName", in.UserName, existingUserNameRule)
	if err := v.err(); err != nil {
		return nil, err
	}
	owner, err := f.keyOwner(c, "iam:CreateAccessKey", in.UserName)
	if err != nil {
		return nil, err
	}
	acct := c.Caller.AccountID
	secret := NewSecretKey()
	sealed := f.sealer.Seal(identity.PurposeSecretKey, []byte(secret))
	var key *state.AccessKey
	err = f.update(c, func(t *txn) error {
		holder := keyHolder(t.st, acct, owner)
		if holder == nil {
			return errNoSuchUser(orDefault(in.UserName, owner))
		}
		if len(userKeys(t.st, acct, owner)) >= maxKeysPerUser {
			return errLimitExceeded("Cannot exceed quota for AccessKeysPerUser: %d", maxKeysPerUser)
		}
		id := NewID("AKIA")
		key = &state.AccessKey{ID: id, UserName: owner, SecretSealed: sealed, Status: "Active", CreatedAt: f.now()}
		t.put(&state.Entity{Kind: state.KindAccessKey, Account: acct, Name: id, Alt: "accesskey/" + id, AccessKey: key})
		t.touch(holder)
		return nil
	})
	if err != nil {
		return nil, err
	}
	// The only time the secret leaves the cluster in the clear.
	return &CreateAccessKeyResponse{AccessKey: &AccessKey{
		UserName: owner, AccessKeyId: key.ID, Status: key.Status, SecretAccessKey: secret, CreateDate: ptr(key.CreatedAt),
	}}, nil
}

func keyMetadata(k *state.AccessKey) AccessKeyMetadata {
	m := AccessKeyMetadata{AccessKeyId: ptr(k.ID), Status: ptr(k.Status), CreateDate: ptr(k.CreatedAt)}
	if k.UserName != "" {
		m.UserName = ptr(k.UserName)
	}
	return m
}

func (f *front) listAccessKeys(c *service.Call, in *ListAccessKeysRequest) (*ListAccessKeysResponse, error) {
	var v check
	v.opt("userName", in.UserName, existingUserNameRule)
	v.paging(in.Marker, in.MaxItems)
	if err := v.err(); err != nil {
		return nil, err
	}
	owner, err := f.keyOwner(c, "iam:ListAccessKeys", in.UserName)
	if err != nil {
		return nil, err
	}
	var keys []AccessKeyMetadata
	for _, k := range userKeys(f.cluster.State(), c.Caller.AccountID, owner) {
		keys = append(keys, keyMetadata(k.AccessKey))
	}
	page, truncated, marker, err := paginate(keys, func(m AccessKeyMetadata) string { return *m.AccessKeyId }, in.Marker, in.MaxItems)
	if err != nil {
		return nil, err
	}
	return &ListAccessKeysResponse{AccessKeyMetadata: page, IsTruncated: truncated, Marker: marker}, nil
}

func errNoSuchKey(id string) error {
	return errNoSuchEntity("The Access Key with id %s cannot be found.", id)
}

func (f *front) updateAccessKey(c *service.Call, in *UpdateAccessKeyRequest) (*none, error) {
	var v check
	v.opt("userName", in.UserName, existingUserNameRule)
	v.text("accessKeyId", in.AccessKeyId, accessKeyIDRule)
	v.enum("status", &in.Status, "Active", "Inactive", "Expired")
	if err := v.err(); err != nil {
		return nil, err
	}
	owner, err := f.keyOwner(c, "iam:UpdateAccessKey", in.UserName)
	if err != nil {
		return nil, err
	}
	if in.Status == "Expired" {
		return nil, errInvalidInput("The status of an access key can only be set to Active or Inactive.")
	}
	acct := c.Caller.AccountID
	return nil, f.update(c, func(t *txn) error {
		k := findKey(t.st, acct, owner, in.AccessKeyId)
		if k == nil {
			return errNoSuchKey(in.AccessKeyId)
		}
		if k.AccessKey.Status == in.Status {
			return nil
		}
		k2 := clone(k)
		k2.AccessKey.Status = in.Status
		t.put(k2)
		return nil
	})
}

func (f *front) deleteAccessKey(c *service.Call, in *DeleteAccessKeyRequest) (*none, error) {
	var v check
	v.opt("userName", in.UserName, existingUserNameRule)
	v.text("accessKeyId", in.AccessKeyId, accessKeyIDRule)
	if err := v.err(); err != nil {
		return nil, err
	}
	owner, err := f.keyOwner(c, "iam:DeleteAccessKey", in.UserName)
	if err != nil {
		return nil, err
	}
	acct := c.Caller.AccountID
	return nil, f.update(c, func(t *txn) error {
		k := findKey(t.st, acct, owner, in.AccessKeyId)
		if k == nil {
			return errNoSuchKey(in.AccessKeyId)
		}
		t.del(k)
		return nil
	})
}

// getAccessKeyLastUsed answers for keys of the caller's account only; like AWS, a key it
// cannot see is refused rather than reported missing, so key IDs of other accounts
// cannot be probed. Banyan does not record key use (that would be a Raft write per
// request), so the answer is AWS's "never used": N/A.
func (f *front) getAccessKeyLastUsed(c *service.Call, in *GetAccessKeyLastUsedRequest) (*GetAccessKeyLastUsedResponse, error) {
	var v check
	v.text("accessKeyId", in.AccessKeyId, accessKeyIDRule)
	if err := v.err(); err != nil {
		return nil, err
	}
	acct := c.Caller.AccountID
	k, err := f.cluster.State().IAMEntityByAlt("accesskey/" + in.AccessKeyId)
	if err != nil || k.Kind != state.KindAccessKey || k.Account != acct {
		return nil, awserr.AccessDenied.WithMessage("User: %s is not authorized to perform: iam:GetAccessKeyLastUsed on resource: access key %s", c.Caller.ARN, in.AccessKeyId)
	}
	resource := identity.RootARN(acct)
	if k.AccessKey.UserName != "" {
		resource = userARN(acct, "/", k.AccessKey.UserName)
		if u := get(f.cluster.State(), state.KindUser, acct, k.AccessKey.UserName); u != nil {
			resource = u.User.ARN
		}
	}
	if err := c.Authorize("iam:GetAccessKeyLastUsed", resource); err != nil {
		return nil, err
	}
	used := &AccessKeyLastUsed{ServiceName: "N/A", Region: "N/A"}
	if !k.AccessKey.LastUsed.IsZero() {
		used.LastUsedDate = ptr(k.AccessKey.LastUsed)
	}
	out := &GetAccessKeyLastUsedResponse{AccessKeyLastUsed: used}
	if k.AccessKey.UserName != "" {
		out.UserName = ptr(k.AccessKey.UserName)
	}
	return out, nil
}
