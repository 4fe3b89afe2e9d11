package iam

import (
	"strings"

	"github.com/banyancloud/banyan/api/iampolicy"
	"github.com/banyancloud/banyan/api/identity"
	"github.com/banyancloud/banyan/api/service"
	"github.com/banyancloud/banyan/cluster/state"
)

// Role quotas and defaults (AWS's).
const (
	defaultSessionDuration = 3600
	maxSessionDuration     = 43200
	maxTrustPolicySize     = 2048
)

func roleShape(r *state.Role, full bool) Role {
	out := Role{
		Path: r.Path, RoleName: r.Name, RoleId: r.ID, Arn: r.ARN, CreateDate: r.CreatedAt,
		AssumeRolePolicyDocument: ptr(encodeDocument(r.TrustPolicy)),
		MaxSessionDuration:       ptr(r.MaxSessionDuration),
	}
	if r.Description != "" {
		out.Description = ptr(r.Description)
	}
	if full {
		out.Tags = tagsOut(r.Tags)
		out.PermissionsBoundary = boundaryShape(r.Boundary)
		out.RoleLastUsed = &RoleLastUsed{} // Banyan does not record role use
	}
	return out
}

// trustPolicy validates a role's trust policy document.
func trustPolicy(doc string) error {
	if _, err := iampolicy.Parse(doc, iampolicy.TrustPolicy); err != nil {
		return err
	}
	if policySize(doc) > maxTrustPolicySize {
		return errLimitExceeded("Cannot exceed quota for ACLSizePerRole: %d", maxTrustPolicySize)
	}
	return nil
}

func (f *front) createRole(c *service.Call, in *CreateRoleRequest) (*CreateRoleResponse, error) {
	var v check
	v.opt("path", in.Path, pathRule)
	v.text("roleName", in.RoleName, roleNameRule)
	v.text("assumeRolePolicyDocument", in.AssumeRolePolicyDocument, policyDocumentRule)
	v.opt("description", in.Description, roleDescriptionRule)
	v.rng("maxSessionDuration", in.MaxSessionDuration, defaultSessionDuration, maxSessionDuration)
	v.opt("permissionsBoundary", in.PermissionsBoundary, arnRule)
	v.tags("tags", in.Tags)
	if err := v.err(); err != nil {
		return nil, err
	}
	acct, path := c.Caller.AccountID, orDefault(in.Path, "/")
	arn := roleARN(acct, path, in.RoleName)
	if err := c.AuthorizeCheck(identity.Check{Action: "iam:CreateRole", Resource: arn, Context: requestTagContext(in.Tags)}); err != nil {
		return nil, err
	}
	if err := trustPolicy(in.AssumeRolePolicyDocument); err != nil {
		return nil, err
	}
	tags, err := newTags(in.Tags)
	if err != nil {
		return nil, err
	}
	r := &state.Role{
		ID: NewID("AROA"), Name: in.RoleName, Path: path, ARN: arn, Description: orDefault(in.Description, ""),
		TrustPolicy: in.AssumeRolePolicyDocument, MaxSessionDuration: defaultSessionDuration, CreatedAt: f.now(), Tags: tags,
	}
	if in.MaxSessionDuration != nil {
		r.MaxSessionDuration = *in.MaxSessionDuration
	}
	err = f.update(c, func(t *txn) error {
		if find(t.st, state.KindRole, acct, in.RoleName) != nil {
			return errAlreadyExists("Role with name %s already exists.", in.RoleName)
		}
		if in.PermissionsBoundary != nil {
			if err := useBoundary(t, acct, *in.PermissionsBoundary); err != nil {
				return err
			}
			r.Boundary = *in.PermissionsBoundary
		}
		t.put(&state.Entity{Kind: state.KindRole, Account: acct, Name: r.Name, Alt: foldKey(state.KindRole, acct, r.Name), Role: r})
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := roleShape(r, true)
	out.RoleLastUsed = nil
	return &CreateRoleResponse{Role: &out}, nil
}

func (f *front) getRole(c *service.Call, in *GetRoleRequest) (*GetRoleResponse, error) {
	var v check
	v.text("roleName", in.RoleName, roleNameRule)
	if err := v.err(); err != nil {
		return nil, err
	}
	e, err := f.authorizeNamed(c, state.KindRole, "iam:GetRole", in.RoleName, nil)
	if err != nil {
		return nil, err
	}
	out := roleShape(e.Role, true)
	return &GetRoleResponse{Role: &out}, nil
}

func (f *front) listRoles(c *service.Call, in *ListRolesRequest) (*ListRolesResponse, error) {
	var v check
	v.opt("pathPrefix", in.PathPrefix, pathPrefixRule)
	v.paging(in.Marker, in.MaxItems)
	if err := v.err(); err != nil {
		return nil, err
	}
	if err := c.Authorize("iam:ListRoles", "*"); err != nil {
		return nil, err
	}
	prefix := orDefault(in.PathPrefix, "/")
	var rs []Role
	for _, e := range list(f.cluster.State(), state.KindRole, c.Caller.AccountID) {
		if strings.HasPrefix(e.Role.Path, prefix) {
			rs = append(rs, roleShape(e.Role, false))
		}
	}
	page, truncated, marker, err := paginate(rs, func(r Role) string { return r.RoleName }, in.Marker, in.MaxItems)
	if err != nil {
		return nil, err
	}
	return &ListRolesResponse{Roles: page, IsTruncated: truncated, Marker: marker}, nil
}

// changeRole applies change to the role named name after authorizing action on it.
func (f *front) changeRole(c *service.Call, action, name string, change func(r *state.Role)) (*state.Role, error) {
	if _, err := f.authorizeNamed(c, state.KindRole, action, name, nil); err != nil {
		return nil, err
	}
	return f.modifyRole(c, name, change)
}

// modifyRole applies change to the role named name; the caller has authorized it.
func (f *front) modifyRole(c *service.Call, name string, change func(r *state.Role)) (*state.Role, error) {
	acct := c.Caller.AccountID
	var out *state.Role
	err := f.update(c, func(t *txn) error {
		e := find(t.st, state.KindRole, acct, name)
		if e == nil {
			return errNoSuch(state.KindRole, name)
		}
		n := clone(e)
		change(n.Role)
		out = n.Role
		t.put(n)
		return nil
	})
	return out, err
}

func (f *front) updateRole(c *service.Call, in *UpdateRoleRequest) (*UpdateRoleResponse, error) {
	var v check
	v.text("roleName", in.RoleName, roleNameRule)
	v.opt("description", in.Description, roleDescriptionRule)
	v.rng("maxSessionDuration", in.MaxSessionDuration, defaultSessionDuration, maxSessionDuration)
	if err := v.err(); err != nil {
		return nil, err
	}
	_, err := f.changeRole(c, "iam:UpdateRole", in.RoleName, func(r *state.Role) {
		if in.Description != nil {
			r.Description = *in.Description
		}
		if in.MaxSessionDuration != nil {
			r.MaxSessionDuration = *in.MaxSessionDuration
		}
	})
	if err != nil {
		return nil, err
	}
	return &UpdateRoleResponse{}, nil
}

func (f *front) updateRoleDescription(c *service.Call, in *UpdateRoleDescriptionRequest) (*UpdateRoleDescriptionResponse, error) {
	var v check
	v.text("roleName", in.RoleName, roleNameRule)
	v.text("description", in.Description, roleDescriptionRule)
	if err := v.err(); err != nil {
		return nil, err
	}
	r, err := f.changeRole(c, "iam:UpdateRoleDescription", in.RoleName, func(r *state.Role) { r.Description = in.Description })
	if err != nil {
		return nil, err
	}
	out := roleShape(r, true)
	return &UpdateRoleDescriptionResponse{Role: &out}, nil
}

func (f *front) updateAssumeRolePolicy(c *service.Call, in *UpdateAssumeRolePolicyRequest) (*none, error) {
	var v check
	v.text("roleName", in.RoleName, roleNameRule)
	v.text("policyDocument", in.PolicyDocument, policyDocumentRule)
	if err := v.err(); err != nil {
		return nil, err
	}
	if _, err := f.authorizeNamed(c, state.KindRole, "iam:UpdateAssumeRolePolicy", in.RoleName, nil); err != nil {
		return nil, err
	}
	if err := trustPolicy(in.PolicyDocument); err != nil {
		return nil, err
	}
	_, err := f.modifyRole(c, in.RoleName, func(r *state.Role) { r.TrustPolicy = in.PolicyDocument })
	return nil, err
}

func (f *front) deleteRole(c *service.Call, in *DeleteRoleRequest) (*none, error) {
	var v check
	v.text("roleName", in.RoleName, roleNameRule)
	if err := v.err(); err != nil {
		return nil, err
	}
	if _, err := f.authorizeNamed(c, state.KindRole, "iam:DeleteRole", in.RoleName, nil); err != nil {
		return nil, err
	}
	acct := c.Caller.AccountID
	return nil, f.update(c, func(t *txn) error {
		r := find(t.st, state.KindRole, acct, in.RoleName)
		switch {
		case r == nil:
			return errNoSuch(state.KindRole, in.RoleName)
		case len(profilesWithRole(t.st, acct, r.Name)) > 0:
			return errDeleteConflict("Cannot delete entity, must remove roles from instance profile first.")
		case len(r.Role.Inline) > 0:
			return errDeleteConflict("Cannot delete entity, must delete policies first.")
		case len(r.Role.Attached) > 0:
			return errDeleteConflict("Cannot delete entity, must detach all policies first.")
		}
		t.del(r)
		return nil
	})
}
