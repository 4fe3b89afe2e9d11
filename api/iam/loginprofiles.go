package iam

import (
	"unicode/utf8"

	"github.com/banyancloud/banyan/api/service"
	"github.com/banyancloud/banyan/cluster/state"
)

// minPasswordLength is the password rule Banyan applies: AWS's default password policy
// length (Banyan has no account password policy actions yet).
const minPasswordLength = 8

func errNoSuchLoginProfile(user string) error {
	return errNoSuchEntity("Login Profile for User %s cannot be found.", user)
}

func checkPassword(password string) error {
	if utf8.RuneCountInString(password) < minPasswordLength {
		return errPasswordPolicy("Password should have a minimum length of %d", minPasswordLength)
	}
	return nil
}

// loginUser resolves the user a login profile action works on (the caller itself when no
// name is given) and authorizes the action on it.
func (f *front) loginUser(c *service.Call, action string, userName *string) (*state.Entity, error) {
	name, root, err := selfUser(c, userName)
	if err != nil {
		return nil, err
	}
	if root {
		return nil, errValidation("Must specify userName when calling with non-User credentials")
	}
	return f.authorizeUser(c, action, name)
}

func loginProfileShape(lp *state.LoginProfile) *LoginProfile {
	return &LoginProfile{UserName: lp.UserName, CreateDate: lp.CreatedAt, PasswordResetRequired: ptr(lp.ResetRequired)}
}

func (f *front) createLoginProfile(c *service.Call, in *CreateLoginProfileRequest) (*CreateLoginProfileResponse, error) {
	var v check
	v.opt("userName", in.UserName, userNameRule)
	v.opt("password", in.Password, passwordRule)
	if in.Password == nil {
		v.problems = append(v.problems, "Value null at 'password' failed to satisfy constraint: Member must not be null")
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	u, err := f.loginUser(c, "iam:CreateLoginProfile", in.UserName)
	if err != nil {
		return nil, err
	}
	if err := checkPassword(*in.Password); err != nil {
		return nil, err
	}
	hash, err := hashPassword(*in.Password)
	if err != nil {
		return nil, err
	}
	acct := c.Caller.AccountID
	lp := &state.LoginProfile{UserName: u.Name, PasswordHash: hash, ResetRequired: in.PasswordResetRequired != nil && *in.PasswordResetRequired, CreatedAt: f.now()}
	err = f.update(c, func(t *txn) error {
		u := find(t.st, state.KindUser, acct, lp.UserName)
		if u == nil {
			return errNoSuchUser(lp.UserName)
		}
		if get(t.st, state.KindLoginProfile, acct, u.Name) != nil {
			return errAlreadyExists("Login Profile for user %s already exists.", u.Name)
		}
		t.put(&state.Entity{Kind: state.KindLoginProfile, Account: acct, Name: u.Name, LoginProfile: lp})
		t.touch(u) // a concurrent DeleteUser must see the profile
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &CreateLoginProfileResponse{LoginProfile: loginProfileShape(lp)}, nil
}

func (f *front) getLoginProfile(c *service.Call, in *GetLoginProfileRequest) (*GetLoginProfileResponse, error) {
	var v check
	v.opt("userName", in.UserName, userNameRule)
	if err := v.err(); err != nil {
		return nil, err
	}
	u, err := f.loginUser(c, "iam:GetLoginProfile", in.UserName)
	if err != nil {
		return nil, err
	}
	lp := get(f.cluster.State(), state.KindLoginProfile, c.Caller.AccountID, u.Name)
	if lp == nil {
		return nil, errNoSuchLoginProfile(u.Name)
	}
	return &GetLoginProfileResponse{LoginProfile: loginProfileShape(lp.LoginProfile)}, nil
}

func (f *front) updateLoginProfile(c *service.Call, in *UpdateLoginProfileRequest) (*none, error) {
	var v check
	v.text("userName", in.UserName, userNameRule)
	v.opt("password", in.Password, passwordRule)
	if err := v.err(); err != nil {
		return nil, err
	}
	u, err := f.authorizeUser(c, "iam:UpdateLoginProfile", in.UserName)
	if err != nil {
		return nil, err
	}
	var hash []byte
	if in.Password != nil {
		if err := checkPassword(*in.Password); err != nil {
			return nil, err
		}
		if hash, err = hashPassword(*in.Password); err != nil {
			return nil, err
		}
	}
	acct := c.Caller.AccountID
	return nil, f.update(c, func(t *txn) error {
		lp := get(t.st, state.KindLoginProfile, acct, u.Name)
		if lp == nil {
			return errNoSuchLoginProfile(u.Name)
		}
		n := clone(lp)
		if hash != nil {
			n.LoginProfile.PasswordHash = hash
		}
		if in.PasswordResetRequired != nil {
			n.LoginProfile.ResetRequired = *in.PasswordResetRequired
		}
		t.put(n)
		return nil
	})
}

func (f *front) deleteLoginProfile(c *service.Call, in *DeleteLoginProfileRequest) (*none, error) {
	var v check
	v.opt("userName", in.UserName, userNameRule)
	if err := v.err(); err != nil {
		return nil, err
	}
	u, err := f.loginUser(c, "iam:DeleteLoginProfile", in.UserName)
	if err != nil {
		return nil, err
	}
	acct := c.Caller.AccountID
	return nil, f.update(c, func(t *txn) error {
		lp := get(t.st, state.KindLoginProfile, acct, u.Name)
		if lp == nil {
			return errNoSuchLoginProfile(u.Name)
		}
		t.del(lp)
		return nil
	})
}
