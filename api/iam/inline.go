package iam

import (
	"maps"
	"slices"

	"github.com/banyancloud/banyan/api/service"
)

// Inline policies: documents embedded in a user, group or role, named per holder.

func (f *front) putInline(c *service.Call, p principal, action, name, policyName, doc string) error {
	if _, err := f.authorizeNamed(c, p.kind, action, name, nil); err != nil {
		return err
	}
	if err := identityPolicy(doc); err != nil {
		return err
	}
	acct := c.Caller.AccountID
	return f.update(c, func(t *txn) error {
		e := find(t.st, p.kind, acct, name)
		if e == nil {
			return errNoSuch(p.kind, name)
		}
		inline := *inlineOf(e)
		if cur, ok := inline[policyName]; ok && cur == doc {
			return nil
		}
		// The quota is on the total of a holder's inline policies.
		total := policySize(doc)
		for n, d := range inline {
			if n != policyName {
				total += policySize(d)
			}
		}
		if total > p.inlineSize {
			return errLimitExceeded("Maximum policy size of %d bytes exceeded for %s %s", p.inlineSize, p.noun, e.Name)
		}
		n := clone(e)
		m := inlineOf(n)
		if *m == nil {
			*m = map[string]string{}
		}
		(*m)[policyName] = doc
		t.put(n)
		return nil
	})
}

func errNoSuchInline(p principal, policyName string) error {
	return errNoSuchEntity("The %s policy with name %s cannot be found.", p.noun, policyName)
}

func (f *front) getInline(c *service.Call, p principal, action, name, policyName string) (holder, doc string, err error) {
	e, err := f.authorizeNamed(c, p.kind, action, name, nil)
	if err != nil {
		return "", "", err
	}
	doc, ok := (*inlineOf(e))[policyName]
	if !ok {
		return "", "", errNoSuchInline(p, policyName)
	}
	return e.Name, encodeDocument(doc), nil
}

func (f *front) deleteInline(c *service.Call, p principal, action, name, policyName string) error {
	if _, err := f.authorizeNamed(c, p.kind, action, name, nil); err != nil {
		return err
	}
	acct := c.Caller.AccountID
	return f.update(c, func(t *txn) error {
		e := find(t.st, p.kind, acct, name)
		if e == nil {
			return errNoSuch(p.kind, name)
		}
		if _, ok := (*inlineOf(e))[policyName]; !ok {
			return errNoSuchInline(p, policyName)
		}
		n := clone(e)
		delete(*inlineOf(n), policyName)
		t.put(n)
		return nil
	})
}

func (f *front) listInline(c *service.Call, p principal, action, name string, marker *string, maxItems *int32) ([]string, *bool, *string, error) {
	e, err := f.authorizeNamed(c, p.kind, action, name, nil)
	if err != nil {
		return nil, nil, nil, err
	}
	names := slices.Collect(maps.Keys(*inlineOf(e)))
	page, truncated, next, err := paginate(names, func(s string) string { return s }, marker, maxItems)
	if page == nil && err == nil {
		page = []string{}
	}
	return page, truncated, next, err
}

func putArgs(member, name string, r textRule, policyName, doc string) error {
	var v check
	v.text(member, name, r)
	v.text("policyName", policyName, policyNameRule)
	v.text("policyDocument", doc, policyDocumentRule)
	return v.err()
}

func namedArgs(member, name string, r textRule, policyName string) error {
	var v check
	v.text(member, name, r)
	v.text("policyName", policyName, policyNameRule)
	return v.err()
}

func listArgs(member, name string, r textRule, marker *string, maxItems *int32) error {
	var v check
	v.text(member, name, r)
	v.paging(marker, maxItems)
	return v.err()
}

func (f *front) putUserPolicy(c *service.Call, in *PutUserPolicyRequest) (*none, error) {
	if err := putArgs("userName", in.UserName, existingUserNameRule, in.PolicyName, in.PolicyDocument); err != nil {
		return nil, err
	}
	return nil, f.putInline(c, users, "iam:PutUserPolicy", in.UserName, in.PolicyName, in.PolicyDocument)
}

func (f *front) getUserPolicy(c *service.Call, in *GetUserPolicyRequest) (*GetUserPolicyResponse, error) {
	if err := namedArgs("userName", in.UserName, existingUserNameRule, in.PolicyName); err != nil {
		return nil, err
	}
	holder, doc, err := f.getInline(c, users, "iam:GetUserPolicy", in.UserName, in.PolicyName)
	if err != nil {
		return nil, err
	}
	return &GetUserPolicyResponse{UserName: holder, PolicyName: in.PolicyName, PolicyDocument: doc}, nil
}

func (f *front) deleteUserPolicy(c *service.Call, in *DeleteUserPolicyRequest) (*none, error) {
	if err := namedArgs("userName", in.UserName, existingUserNameRule, in.PolicyName); err != nil {
		return nil, err
	}
	return nil, f.deleteInline(c, users, "iam:DeleteUserPolicy", in.UserName, in.PolicyName)
}

func (f *front) listUserPolicies(c *service.Call, in *ListUserPoliciesRequest) (*ListUserPoliciesResponse, error) {
	if err := listArgs("userName", in.UserName, existingUserNameRule, in.Marker, in.MaxItems); err != nil {
		return nil, err
	}
	names, truncated, marker, err := f.listInline(c, users, "iam:ListUserPolicies", in.UserName, in.Marker, in.MaxItems)
	if err != nil {
		return nil, err
	}
	return &ListUserPoliciesResponse{PolicyNames: names, IsTruncated: truncated, Marker: marker}, nil
}

func (f *front) putGroupPolicy(c *service.Call, in *PutGroupPolicyRequest) (*none, error) {
	if err := putArgs("groupName", in.GroupName, groupNameRule, in.PolicyName, in.PolicyDocument); err != nil {
		return nil, err
	}
	return nil, f.putInline(c, groups, "iam:PutGroupPolicy", in.GroupName, in.PolicyName, in.PolicyDocument)
}

func (f *front) getGroupPolicy(c *service.Call, in *GetGroupPolicyRequest) (*GetGroupPolicyResponse, error) {
	if err := namedArgs("groupName", in.GroupName, groupNameRule, in.PolicyName); err != nil {
		return nil, err
	}
	holder, doc, err := f.getInline(c, groups, "iam:GetGroupPolicy", in.GroupName, in.PolicyName)
	if err != nil {
		return nil, err
	}
	return &GetGroupPolicyResponse{GroupName: holder, PolicyName: in.PolicyName, PolicyDocument: doc}, nil
}

func (f *front) deleteGroupPolicy(c *service.Call, in *DeleteGroupPolicyRequest) (*none, error) {
	if err := namedArgs("groupName", in.GroupName, groupNameRule, in.PolicyName); err != nil {
		return nil, err
	}
	return nil, f.deleteInline(c, groups, "iam:DeleteGroupPolicy", in.GroupName, in.PolicyName)
}

func (f *front) listGroupPolicies(c *service.Call, in *ListGroupPoliciesRequest) (*ListGroupPoliciesResponse, error) {
	if err := listArgs("groupName", in.GroupName, groupNameRule, in.Marker, in.MaxItems); err != nil {
		return nil, err
	}
	names, truncated, marker, err := f.listInline(c, groups, "iam:ListGroupPolicies", in.GroupName, in.Marker, in.MaxItems)
	if err != nil {
		return nil, err
	}
	return &ListGroupPoliciesResponse{PolicyNames: names, IsTruncated: truncated, Marker: marker}, nil
}

func (f *front) putRolePolicy(c *service.Call, in *PutRolePolicyRequest) (*none, error) {
	if err := putArgs("roleName", in.RoleName, roleNameRule, in.PolicyName, in.PolicyDocument); err != nil {
		return nil, err
	}
	return nil, f.putInline(c, roles, "iam:PutRolePolicy", in.RoleName, in.PolicyName, in.PolicyDocument)
}

func (f *front) getRolePolicy(c *service.Call, in *GetRolePolicyRequest) (*GetRolePolicyResponse, error) {
	if err := namedArgs("roleName", in.RoleName, roleNameRule, in.PolicyName); err != nil {
		return nil, err
	}
	holder, doc, err := f.getInline(c, roles, "iam:GetRolePolicy", in.RoleName, in.PolicyName)
	if err != nil {
		return nil, err
	}
	return &GetRolePolicyResponse{RoleName: holder, PolicyName: in.PolicyName, PolicyDocument: doc}, nil
}

func (f *front) deleteRolePolicy(c *service.Call, in *DeleteRolePolicyRequest) (*none, error) {
	if err := namedArgs("roleName", in.RoleName, roleNameRule, in.PolicyName); err != nil {
		return nil, err
	}
	return nil, f.deleteInline(c, roles, "iam:DeleteRolePolicy", in.RoleName, in.PolicyName)
}

func (f *front) listRolePolicies(c *service.Call, in *ListRolePoliciesRequest) (*ListRolePoliciesResponse, error) {
	if err := listArgs("roleName", in.RoleName, roleNameRule, in.Marker, in.MaxItems); err != nil {
		return nil, err
	}
	names, truncated, marker, err := f.listInline(c, roles, "iam:ListRolePolicies", in.RoleName, in.Marker, in.MaxItems)
	if err != nil {
		return nil, err
	}
	return &ListRolePoliciesResponse{PolicyNames: names, IsTruncated: truncated, Marker: marker}, nil
}
