package iam

import (
	"slices"
	"strings"

	"github.com/banyancloud/banyan/api/service"
	"github.com/banyancloud/banyan/cluster/state"
)

// maxGroupsPerUser is IAM's quota of groups one user can be in.
const maxGroupsPerUser = 10

func groupShape(g *state.Group) Group {
	return Group{Path: g.Path, GroupName: g.Name, GroupId: g.ID, Arn: g.ARN, CreateDate: g.CreatedAt}
}

// members returns the users of account in group (membership is kept on the users, where
// policy evaluation reads it).
func members(st *state.Store, account, group string) []*state.Entity {
	var out []*state.Entity
	for _, u := range list(st, state.KindUser, account) {
		if slices.Contains(u.User.Groups, group) {
			out = append(out, u)
		}
	}
	return out
}

func (f *front) createGroup(c *service.Call, in *CreateGroupRequest) (*CreateGroupResponse, error) {
	var v check
	v.opt("path", in.Path, pathRule)
	v.text("groupName", in.GroupName, groupNameRule)
	if err := v.err(); err != nil {
		return nil, err
	}
	acct, path := c.Caller.AccountID, orDefault(in.Path, "/")
	arn := groupARN(acct, path, in.GroupName)
	if err := c.Authorize("iam:CreateGroup", arn); err != nil {
		return nil, err
	}
	g := &state.Group{ID: NewID("AGPA"), Name: in.GroupName, Path: path, ARN: arn, CreatedAt: f.now()}
	err := f.update(c, func(t *txn) error {
		if find(t.st, state.KindGroup, acct, in.GroupName) != nil {
			return errAlreadyExists("Group with name %s already exists.", in.GroupName)
		}
		t.put(&state.Entity{Kind: state.KindGroup, Account: acct, Name: g.Name, Alt: foldKey(state.KindGroup, acct, g.Name), Group: g})
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := groupShape(g)
	return &CreateGroupResponse{Group: &out}, nil
}

func (f *front) getGroup(c *service.Call, in *GetGroupRequest) (*GetGroupResponse, error) {
	var v check
	v.text("groupName", in.GroupName, groupNameRule)
	v.paging(in.Marker, in.MaxItems)
	if err := v.err(); err != nil {
		return nil, err
	}
	g, err := f.authorizeNamed(c, state.KindGroup, "iam:GetGroup", in.GroupName, nil)
	if err != nil {
		return nil, err
	}
	var us []User
	for _, u := range members(f.cluster.State(), c.Caller.AccountID, g.Name) {
		us = append(us, userShape(u.User, false))
	}
	page, truncated, marker, err := paginate(us, func(u User) string { return u.UserName }, in.Marker, in.MaxItems)
	if err != nil {
		return nil, err
	}
	out := groupShape(g.Group)
	return &GetGroupResponse{Group: &out, Users: page, IsTruncated: truncated, Marker: marker}, nil
}

func (f *front) listGroups(c *service.Call, in *ListGroupsRequest) (*ListGroupsResponse, error) {
	var v check
	v.opt("pathPrefix", in.PathPrefix, pathPrefixRule)
	v.paging(in.Marker, in.MaxItems)
	if err := v.err(); err != nil {
		return nil, err
	}
	if err := c.Authorize("iam:ListGroups", "*"); err != nil {
		return nil, err
	}
	prefix := orDefault(in.PathPrefix, "/")
	var gs []Group
	for _, e := range list(f.cluster.State(), state.KindGroup, c.Caller.AccountID) {
		if strings.HasPrefix(e.Group.Path, prefix) {
			gs = append(gs, groupShape(e.Group))
		}
	}
	page, truncated, marker, err := paginate(gs, func(g Group) string { return g.GroupName }, in.Marker, in.MaxItems)
	if err != nil {
		return nil, err
	}
	return &ListGroupsResponse{Groups: page, IsTruncated: truncated, Marker: marker}, nil
}

func (f *front) listGroupsForUser(c *service.Call, in *ListGroupsForUserRequest) (*ListGroupsForUserResponse, error) {
	var v check
	v.text("userName", in.UserName, existingUserNameRule)
	v.paging(in.Marker, in.MaxItems)
	if err := v.err(); err != nil {
		return nil, err
	}
	u, err := f.authorizeUser(c, "iam:ListGroupsForUser", in.UserName)
	if err != nil {
		return nil, err
	}
	var gs []Group
	for _, name := range u.User.Groups {
		if g := get(f.cluster.State(), state.KindGroup, c.Caller.AccountID, name); g != nil {
			gs = append(gs, groupShape(g.Group))
		}
	}
	page, truncated, marker, err := paginate(gs, func(g Group) string { return g.GroupName }, in.Marker, in.MaxItems)
	if err != nil {
		return nil, err
	}
	return &ListGroupsForUserResponse{Groups: page, IsTruncated: truncated, Marker: marker}, nil
}

// updateGroup renames and/or moves a group; a rename rewrites the group name in every
// member's list in the same write.
func (f *front) updateGroup(c *service.Call, in *UpdateGroupRequest) (*none, error) {
	var v check
	v.text("groupName", in.GroupName, groupNameRule)
	v.opt("newPath", in.NewPath, pathRule)
	v.opt("newGroupName", in.NewGroupName, groupNameRule)
	if err := v.err(); err != nil {
		return nil, err
	}
	acct := c.Caller.AccountID
	g, err := f.authorizeNamed(c, state.KindGroup, "iam:UpdateGroup", in.GroupName, nil)
	if err != nil {
		return nil, err
	}
	if err := c.Authorize("iam:UpdateGroup", groupARN(acct, orDefault(in.NewPath, g.Group.Path), orDefault(in.NewGroupName, g.Name))); err != nil {
		return nil, err
	}
	return nil, f.update(c, func(t *txn) error {
		g := find(t.st, state.KindGroup, acct, in.GroupName)
		if g == nil {
			return errNoSuch(state.KindGroup, in.GroupName)
		}
		newName, newPath := orDefault(in.NewGroupName, g.Name), orDefault(in.NewPath, g.Group.Path)
		switch {
		case newName == g.Name && newPath == g.Group.Path:
			return nil
		case newName == g.Name:
			n := clone(g)
			n.Group.Path, n.Group.ARN = newPath, groupARN(acct, newPath, newName)
			t.put(n)
			return nil
		}
		if o := find(t.st, state.KindGroup, acct, newName); o != nil && o.Name != g.Name {
			return errAlreadyExists("Group with name %s already exists.", newName)
		}
		n := renamed(g, newName)
		n.Group.Name, n.Group.Path, n.Group.ARN = newName, newPath, groupARN(acct, newPath, newName)
		t.del(g)
		t.put(n)
		for _, u := range members(t.st, acct, g.Name) {
			u2 := clone(u)
			u2.User.Groups[slices.Index(u2.User.Groups, g.Name)] = newName
			t.put(u2)
		}
		return nil
	})
}

func (f *front) addUserToGroup(c *service.Call, in *AddUserToGroupRequest) (*none, error) {
	var v check
	v.text("groupName", in.GroupName, groupNameRule)
	v.text("userName", in.UserName, existingUserNameRule)
	if err := v.err(); err != nil {
		return nil, err
	}
	if _, err := f.authorizeNamed(c, state.KindGroup, "iam:AddUserToGroup", in.GroupName, nil); err != nil {
		return nil, err
	}
	acct := c.Caller.AccountID
	return nil, f.update(c, func(t *txn) error {
		g := find(t.st, state.KindGroup, acct, in.GroupName)
		if g == nil {
			return errNoSuch(state.KindGroup, in.GroupName)
		}
		u := find(t.st, state.KindUser, acct, in.UserName)
		if u == nil {
			return errNoSuchUser(in.UserName)
		}
		if slices.Contains(u.User.Groups, g.Name) {
			return nil // already a member: AWS succeeds
		}
		if len(u.User.Groups) >= maxGroupsPerUser {
			return errLimitExceeded("Cannot exceed quota for GroupsPerUser: %d", maxGroupsPerUser)
		}
		u2 := clone(u)
		u2.User.Groups = append(u2.User.Groups, g.Name)
		t.put(u2)
		t.touch(g) // a concurrent DeleteGroup must see the new member
		return nil
	})
}

func (f *front) removeUserFromGroup(c *service.Call, in *RemoveUserFromGroupRequest) (*none, error) {
	var v check
	v.text("groupName", in.GroupName, groupNameRule)
	v.text("userName", in.UserName, existingUserNameRule)
	if err := v.err(); err != nil {
		return nil, err
	}
	if _, err := f.authorizeNamed(c, state.KindGroup, "iam:RemoveUserFromGroup", in.GroupName, nil); err != nil {
		return nil, err
	}
	acct := c.Caller.AccountID
	return nil, f.update(c, func(t *txn) error {
		g := find(t.st, state.KindGroup, acct, in.GroupName)
		if g == nil {
			return errNoSuch(state.KindGroup, in.GroupName)
		}
		u := find(t.st, state.KindUser, acct, in.UserName)
		if u == nil {
			return errNoSuchUser(in.UserName)
		}
		i := slices.Index(u.User.Groups, g.Name)
		if i < 0 {
			return errNoSuchEntity("The user with name %s is not in group %s.", u.Name, g.Name)
		}
		u2 := clone(u)
		u2.User.Groups = slices.Delete(u2.User.Groups, i, i+1)
		t.put(u2)
		return nil
	})
}

func (f *front) deleteGroup(c *service.Call, in *DeleteGroupRequest) (*none, error) {
	var v check
	v.text("groupName", in.GroupName, groupNameRule)
	if err := v.err(); err != nil {
		return nil, err
	}
	if _, err := f.authorizeNamed(c, state.KindGroup, "iam:DeleteGroup", in.GroupName, nil); err != nil {
		return nil, err
	}
	acct := c.Caller.AccountID
	return nil, f.update(c, func(t *txn) error {
		g := find(t.st, state.KindGroup, acct, in.GroupName)
		switch {
		case g == nil:
			return errNoSuch(state.KindGroup, in.GroupName)
		case len(members(t.st, acct, g.Name)) > 0:
			return errDeleteConflict("Cannot delete entity, must remove users from group first.")
		case len(g.Group.Inline) > 0:
			return errDeleteConflict("Cannot delete entity, must delete policies first.")
		case len(g.Group.Attached) > 0:
			return errDeleteConflict("Cannot delete entity, must detach all policies first.")
		}
		t.del(g)
		return nil
	})
}
