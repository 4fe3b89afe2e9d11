package iam

import (
	"slices"
	"strings"

	"github.com/banyancloud/banyan/api/identity"
	"github.com/banyancloud/banyan/api/service"
	"github.com/banyancloud/banyan/cluster/state"
)

// maxRolesPerProfile is IAM's fixed quota of roles in one instance profile.
const maxRolesPerProfile = 1

// profilesWithRole returns the instance profiles of account that hold the role.
func profilesWithRole(st *state.Store, account, role string) []*state.Entity {
	var out []*state.Entity
	for _, ip := range list(st, state.KindInstanceProfile, account) {
		if slices.Contains(ip.InstanceProfile.Roles, role) {
			out = append(out, ip)
		}
	}
	return out
}

func (f *front) profileShape(st *state.Store, ip *state.Entity) InstanceProfile {
	p := ip.InstanceProfile
	out := InstanceProfile{
		Path: p.Path, InstanceProfileName: p.Name, InstanceProfileId: p.ID, Arn: p.ARN, CreateDate: p.CreatedAt,
		Roles: []Role{}, Tags: tagsOut(p.Tags),
	}
	for _, name := range p.Roles {
		if r := get(st, state.KindRole, ip.Account, name); r != nil {
			out.Roles = append(out.Roles, roleShape(r.Role, false))
		}
	}
	return out
}

func (f *front) createInstanceProfile(c *service.Call, in *CreateInstanceProfileRequest) (*CreateInstanceProfileResponse, error) {
	var v check
	v.text("instanceProfileName", in.InstanceProfileName, profileNameRule)
	v.opt("path", in.Path, pathRule)
	v.tags("tags", in.Tags)
	if err := v.err(); err != nil {
		return nil, err
	}
	acct, path := c.Caller.AccountID, orDefault(in.Path, "/")
	arn := profileARN(acct, path, in.InstanceProfileName)
	if err := c.AuthorizeCheck(identity.Check{Action: "iam:CreateInstanceProfile", Resource: arn, Context: requestTagContext(in.Tags)}); err != nil {
		return nil, err
	}
	tags, err := newTags(in.Tags)
	if err != nil {
		return nil, err
	}
	p := &state.InstanceProfile{ID: NewID("AIPA"), Name: in.InstanceProfileName, Path: path, ARN: arn, CreatedAt: f.now(), Tags: tags}
	e := &state.Entity{Kind: state.KindInstanceProfile, Account: acct, Name: p.Name, Alt: foldKey(state.KindInstanceProfile, acct, p.Name), InstanceProfile: p}
	err = f.update(c, func(t *txn) error {
		if find(t.st, state.KindInstanceProfile, acct, p.Name) != nil {
			return errAlreadyExists("Instance Profile %s already exists.", p.Name)
		}
		t.put(e)
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := f.profileShape(f.cluster.State(), e)
	return &CreateInstanceProfileResponse{InstanceProfile: &out}, nil
}

func (f *front) getInstanceProfile(c *service.Call, in *GetInstanceProfileRequest) (*GetInstanceProfileResponse, error) {
	var v check
	v.text("instanceProfileName", in.InstanceProfileName, profileNameRule)
	if err := v.err(); err != nil {
		return nil, err
	}
	ip, err := f.authorizeNamed(c, state.KindInstanceProfile, "iam:GetInstanceProfile", in.InstanceProfileName, nil)
	if err != nil {
		return nil, err
	}
	out := f.profileShape(f.cluster.State(), ip)
	return &GetInstanceProfileResponse{InstanceProfile: &out}, nil
}

func (f *front) listInstanceProfiles(c *service.Call, in *ListInstanceProfilesRequest) (*ListInstanceProfilesResponse, error) {
	var v check
	v.opt("pathPrefix", in.PathPrefix, pathPrefixRule)
	v.paging(in.Marker, in.MaxItems)
	if err := v.err(); err != nil {
		return nil, err
	}
	if err := c.Authorize("iam:ListInstanceProfiles", "*"); err != nil {
		return nil, err
	}
	st, prefix := f.cluster.State(), orDefault(in.PathPrefix, "/")
	var ps []InstanceProfile
	for _, e := range list(st, state.KindInstanceProfile, c.Caller.AccountID) {
		if strings.HasPrefix(e.InstanceProfile.Path, prefix) {
			ps = append(ps, f.profileShape(st, e))
		}
	}
	page, truncated, marker, err := paginate(ps, func(p InstanceProfile) string { return p.InstanceProfileName }, in.Marker, in.MaxItems)
	if err != nil {
		return nil, err
	}
	return &ListInstanceProfilesResponse{InstanceProfiles: page, IsTruncated: truncated, Marker: marker}, nil
}

func (f *front) listInstanceProfilesForRole(c *service.Call, in *ListInstanceProfilesForRoleRequest) (*ListInstanceProfilesForRoleResponse, error) {
	var v check
	v.text("roleName", in.RoleName, roleNameRule)
	v.paging(in.Marker, in.MaxItems)
	if err := v.err(); err != nil {
		return nil, err
	}
	r, err := f.authorizeNamed(c, state.KindRole, "iam:ListInstanceProfilesForRole", in.RoleName, nil)
	if err != nil {
		return nil, err
	}
	st := f.cluster.State()
	var ps []InstanceProfile
	for _, e := range profilesWithRole(st, c.Caller.AccountID, r.Name) {
		ps = append(ps, f.profileShape(st, e))
	}
	page, truncated, marker, err := paginate(ps, func(p InstanceProfile) string { return p.InstanceProfileName }, in.Marker, in.MaxItems)
	if err != nil {
		return nil, err
	}
	return &ListInstanceProfilesForRoleResponse{InstanceProfiles: page, IsTruncated: truncated, Marker: marker}, nil
}

func profileRoleArgs(profile, role string) error {
	var v check
	v.text("instanceProfileName", profile, profileNameRule)
	v.text("roleName", role, roleNameRule)
	return v.err()
}

// addRoleToInstanceProfile also needs iam:PassRole on the role, as in AWS: whoever can
// launch an instance with the profile gets the role's permissions.
func (f *front) addRoleToInstanceProfile(c *service.Call, in *AddRoleToInstanceProfileRequest) (*none, error) {
	if err := profileRoleArgs(in.InstanceProfileName, in.RoleName); err != nil {
		return nil, err
	}
	if _, err := f.authorizeNamed(c, state.KindInstanceProfile, "iam:AddRoleToInstanceProfile", in.InstanceProfileName, nil); err != nil {
		return nil, err
	}
	if _, err := f.authorizeNamed(c, state.KindRole, "iam:PassRole", in.RoleName, nil); err != nil {
		return nil, err
	}
	acct := c.Caller.AccountID
	return nil, f.update(c, func(t *txn) error {
		ip := find(t.st, state.KindInstanceProfile, acct, in.InstanceProfileName)
		if ip == nil {
			return errNoSuch(state.KindInstanceProfile, in.InstanceProfileName)
		}
		r := find(t.st, state.KindRole, acct, in.RoleName)
		if r == nil {
			return errNoSuch(state.KindRole, in.RoleName)
		}
		if len(ip.InstanceProfile.Roles) >= maxRolesPerProfile {
			return errLimitExceeded("Cannot exceed quota for InstanceSessionsPerInstanceProfile: %d", maxRolesPerProfile)
		}
		n := clone(ip)
		n.InstanceProfile.Roles = append(n.InstanceProfile.Roles, r.Name)
		t.put(n)
		t.touch(r) // a concurrent DeleteRole must see the new profile
		return nil
	})
}

func (f *front) removeRoleFromInstanceProfile(c *service.Call, in *RemoveRoleFromInstanceProfileRequest) (*none, error) {
	if err := profileRoleArgs(in.InstanceProfileName, in.RoleName); err != nil {
		return nil, err
	}
	if _, err := f.authorizeNamed(c, state.KindInstanceProfile, "iam:RemoveRoleFromInstanceProfile", in.InstanceProfileName, nil); err != nil {
		return nil, err
	}
	acct := c.Caller.AccountID
	return nil, f.update(c, func(t *txn) error {
		ip := find(t.st, state.KindInstanceProfile, acct, in.InstanceProfileName)
		if ip == nil {
			return errNoSuch(state.KindInstanceProfile, in.InstanceProfileName)
		}
		r := find(t.st, state.KindRole, acct, in.RoleName)
		if r == nil {
			return errNoSuch(state.KindRole, in.RoleName)
		}
		i := slices.Index(ip.InstanceProfile.Roles, r.Name)
		if i < 0 {
			return errNoSuchEntity("The role with name %s is not in instance profile %s.", r.Name, ip.Name)
		}
		n := clone(ip)
		n.InstanceProfile.Roles = slices.Delete(n.InstanceProfile.Roles, i, i+1)
		t.put(n)
		return nil
	})
}

func (f *front) deleteInstanceProfile(c *service.Call, in *DeleteInstanceProfileRequest) (*none, error) {
	var v check
	v.text("instanceProfileName", in.InstanceProfileName, profileNameRule)
	if err := v.err(); err != nil {
		return nil, err
	}
	if _, err := f.authorizeNamed(c, state.KindInstanceProfile, "iam:DeleteInstanceProfile", in.InstanceProfileName, nil); err != nil {
		return nil, err
	}
	acct := c.Caller.AccountID
	return nil, f.update(c, func(t *txn) error {
		ip := find(t.st, state.KindInstanceProfile, acct, in.InstanceProfileName)
		switch {
		case ip == nil:
			return errNoSuch(state.KindInstanceProfile, in.InstanceProfileName)
		case len(ip.InstanceProfile.Roles) > 0:
			return errDeleteConflict("Cannot delete entity, must remove roles from instance profile first.")
		}
		t.del(ip)
		return nil
	})
}
