package iam

import (
	"strings"

	"github.com/banyancloud/banyan/api/identity"
	"github.com/banyancloud/banyan/api/service"
	"github.com/banyancloud/banyan/cluster/state"
)

func errNoSuchUser(name string) error {
	return errNoSuchEntity("The user with name %s cannot be found.", name)
}

func userShape(u *state.User, full bool) User {
	out := User{Path: u.Path, UserName: u.Name, UserId: u.ID, Arn: u.ARN, CreateDate: u.CreatedAt}
	if full {
		out.Tags = tagsOut(u.Tags)
		out.PermissionsBoundary = boundaryShape(u.Boundary)
	}
	return out
}

func (f *front) createUser(c *service.Call, in *CreateUserRequest) (*CreateUserResponse, error) {
	var v check
	v.opt("path", in.Path, pathRule)
	v.text("userName", in.UserName, userNameRule)
	v.opt("permissionsBoundary", in.PermissionsBoundary, arnRule)
	v.tags("tags", in.Tags)
	if err := v.err(); err != nil {
		return nil, err
	}
	acct, path := c.Caller.AccountID, orDefault(in.Path, "/")
	arn := userARN(acct, path, in.UserName)
	if err := c.AuthorizeCheck(identity.Check{Action: "iam:CreateUser", Resource: arn, Context: requestTagContext(in.Tags)}); err != nil {
		return nil, err
	}
	tags, err := newTags(in.Tags)
	if err != nil {
		return nil, err
	}
	u := &state.User{ID: NewID("AIDA"), Name: in.UserName, Path: path, ARN: arn, CreatedAt: f.now(), Tags: tags}
	err = f.update(c, func(t *txn) error {
		if find(t.st, state.KindUser, acct, in.UserName) != nil {
			return errAlreadyExists("User with name %s already exists.", in.UserName)
		}
		if in.PermissionsBoundary != nil {
			if err := useBoundary(t, acct, *in.PermissionsBoundary); err != nil {
				return err
			}
			u.Boundary = *in.PermissionsBoundary
		}
		t.put(&state.Entity{Kind: state.KindUser, Account: acct, Name: u.Name, Alt: foldKey(state.KindUser, acct, u.Name), User: u})
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := userShape(u, true)
	return &CreateUserResponse{User: &out}, nil
}

func (f *front) getUser(c *service.Call, in *GetUserRequest) (*GetUserResponse, error) {
	var v check
	v.opt("userName", in.UserName, existingUserNameRule)
	if err := v.err(); err != nil {
		return nil, err
	}
	name, root, err := selfUser(c, in.UserName)
	if err != nil {
		return nil, err
	}
	acct := c.Caller.AccountID
	if root {
		if err := c.Authorize("iam:GetUser", identity.RootARN(acct)); err != nil {
			return nil, err
		}
		// The root user has no name or path; AWS answers with its ID and ARN only.
		out := &User{UserId: acct, Arn: identity.RootARN(acct)}
		if a := get(f.cluster.State(), state.KindAccount, "", acct); a != nil {
			out.CreateDate = a.AccountBody.CreatedAt
		}
		return &GetUserResponse{User: out}, nil
	}
	e, err := f.authorizeUser(c, "iam:GetUser", name)
	if err != nil {
		return nil, err
	}
	out := userShape(e.User, true)
	return &GetUserResponse{User: &out}, nil
}

func (f *front) listUsers(c *service.Call, in *ListUsersRequest) (*ListUsersResponse, error) {
	var v check
	v.opt("pathPrefix", in.PathPrefix, pathPrefixRule)
	v.paging(in.Marker, in.MaxItems)
	if err := v.err(); err != nil {
		return nil, err
	}
	if err := c.Authorize("iam:ListUsers", "*"); err != nil {
		return nil, err
	}
	prefix := orDefault(in.PathPrefix, "/")
	var users []User
	for _, e := range list(f.cluster.State(), state.KindUser, c.Caller.AccountID) {
		if strings.HasPrefix(e.User.Path, prefix) {
			users = append(users, userShape(e.User, false))
		}
	}
	page, truncated, marker, err := paginate(users, func(u User) string { return u.UserName }, in.Marker, in.MaxItems)
	if err != nil {
		return nil, err
	}
	return &ListUsersResponse{Users: page, IsTruncated: truncated, Marker: marker}, nil
}

// updateUser renames and/or moves a user. A rename rewrites everything keyed by the
// user's name (its access keys' owner, its login profile) in the same write.
func (f *front) updateUser(c *service.Call, in *UpdateUserRequest) (*none, error) {
	var v check
	v.text("userName", in.UserName, existingUserNameRule)
	v.opt("newPath", in.NewPath, pathRule)
	v.opt("newUserName", in.NewUserName, userNameRule)
	if err := v.err(); err != nil {
		return nil, err
	}
	acct := c.Caller.AccountID
	e, err := f.authorizeUser(c, "iam:UpdateUser", in.UserName)
	if err != nil {
		return nil, err
	}
	// AWS requires permission on the user's new identity as well as on the old one.
	newName, newPath := orDefault(in.NewUserName, e.User.Name), orDefault(in.NewPath, e.User.Path)
	if err := c.Authorize("iam:UpdateUser", userARN(acct, newPath, newName)); err != nil {
		return nil, err
	}
	return nil, f.update(c, func(t *txn) error {
		e := find(t.st, state.KindUser, acct, in.UserName)
		if e == nil {
			return errNoSuchUser(in.UserName)
		}
		newName, newPath := orDefault(in.NewUserName, e.User.Name), orDefault(in.NewPath, e.User.Path)
		if newName == e.Name && newPath == e.User.Path {
			return nil
		}
		if newName == e.Name {
			n := clone(e)
			n.User.Path, n.User.ARN = newPath, userARN(acct, newPath, newName)
			t.put(n)
			return nil
		}
		if o := find(t.st, state.KindUser, acct, newName); o != nil && o.Name != e.Name {
			return errAlreadyExists("User with name %s already exists.", newName)
		}
		n := renamed(e, newName)
		n.User.Name, n.User.Path, n.User.ARN = newName, newPath, userARN(acct, newPath, newName)
		t.del(e)
		t.put(n)
		for _, k := range userKeys(t.st, acct, e.Name) {
			k2 := clone(k)
			k2.AccessKey.UserName = newName
			t.put(k2)
		}
		if lp := get(t.st, state.KindLoginProfile, acct, e.Name); lp != nil {
			lp2 := renamed(lp, newName)
			lp2.LoginProfile.UserName = newName
			t.del(lp)
			t.put(lp2)
		}
		return nil
	})
}

func (f *front) deleteUser(c *service.Call, in *DeleteUserRequest) (*none, error) {
	var v check
	v.text("userName", in.UserName, existingUserNameRule)
	if err := v.err(); err != nil {
		return nil, err
	}
	if _, err := f.authorizeUser(c, "iam:DeleteUser", in.UserName); err != nil {
		return nil, err
	}
	acct := c.Caller.AccountID
	return nil, f.update(c, func(t *txn) error {
		e := find(t.st, state.KindUser, acct, in.UserName)
		switch {
		case e == nil:
			return errNoSuchUser(in.UserName)
		case get(t.st, state.KindLoginProfile, acct, e.Name) != nil:
			return errDeleteConflict("Cannot delete entity, must delete login profile first.")
		case len(userKeys(t.st, acct, e.Name)) > 0:
			return errDeleteConflict("Cannot delete entity, must delete access keys first.")
		case len(e.User.Inline) > 0:
			return errDeleteConflict("Cannot delete entity, must delete policies first.")
		case len(e.User.Attached) > 0:
			return errDeleteConflict("Cannot delete entity, must detach all policies first.")
		case len(e.User.Groups) > 0:
			return errDeleteConflict("Cannot delete entity, must remove users from group first.")
		}
		t.del(e)
		return nil
	})
}
