package iam

import (
	"slices"
	"strings"

	"github.com/banyancloud/banyan/api/service"
)

// Managed policy attachments. The attachment is stored on the user, group or role (where
// policy evaluation reads it) and counted on the policy (AttachmentCount, and what makes
// DeletePolicy refuse); both change in one write.

// attachPolicy attaches a managed policy of the caller's account to a principal.
func (f *front) attachPolicy(c *service.Call, p principal, action, name, arn string) error {
	if err := checkARN(arn); err != nil {
		return err
	}
	if _, err := f.authorizeNamed(c, p.kind, action, name, map[string][]string{"iam:PolicyARN": {arn}}); err != nil {
		return err
	}
	acct := c.Caller.AccountID
	return f.update(c, func(t *txn) error {
		e := find(t.st, p.kind, acct, name)
		if e == nil {
			return errNoSuch(p.kind, name)
		}
		pol := policyByARN(t.st, acct, arn)
		if pol == nil {
			return errNotAttachable(arn)
		}
		attached := *attachedOf(e)
		if slices.Contains(attached, arn) {
			return nil // attaching twice is not an error
		}
		if len(attached) >= maxAttached {
			return errLimitExceeded("Cannot exceed quota for %s: %d", p.quota, maxAttached)
		}
		n := clone(e)
		*attachedOf(n) = append(*attachedOf(n), arn)
		t.put(n)
		pn := clone(pol)
		pn.Policy.Attachments++
		t.put(pn)
		return nil
	})
}

func (f *front) detachPolicy(c *service.Call, p principal, action, name, arn string) error {
	if err := checkARN(arn); err != nil {
		return err
	}
	if _, err := f.authorizeNamed(c, p.kind, action, name, map[string][]string{"iam:PolicyARN": {arn}}); err != nil {
		return err
	}
	acct := c.Caller.AccountID
	return f.update(c, func(t *txn) error {
		e := find(t.st, p.kind, acct, name)
		if e == nil {
			return errNoSuch(p.kind, name)
		}
		i := slices.Index(*attachedOf(e), arn)
		if i < 0 {
			return errPolicyNotFound(arn)
		}
		n := clone(e)
		*attachedOf(n) = slices.Delete(*attachedOf(n), i, i+1)
		t.put(n)
		if pol := policyByARN(t.st, acct, arn); pol != nil && pol.Policy.Attachments > 0 {
			pn := clone(pol)
			pn.Policy.Attachments--
			t.put(pn)
		}
		return nil
	})
}

func (f *front) listAttached(c *service.Call, p principal, action, name string, pathPrefix, marker *string, maxItems *int32) ([]AttachedPolicy, *bool, *string, error) {
	e, err := f.authorizeNamed(c, p.kind, action, name, nil)
	if err != nil {
		return nil, nil, nil, err
	}
	prefix := orDefault(pathPrefix, "/")
	var out []AttachedPolicy
	for _, arn := range *attachedOf(e) {
		pol := policyByARN(f.cluster.State(), c.Caller.AccountID, arn)
		if pol == nil || !strings.HasPrefix(pol.Policy.Path, prefix) {
			continue
		}
		out = append(out, AttachedPolicy{PolicyName: ptr(pol.Policy.Name), PolicyArn: ptr(arn)})
	}
	return paginate(out, func(a AttachedPolicy) string { return *a.PolicyName }, marker, maxItems)
}

func attachArgs(member, name string, r textRule, arn string) error {
	var v check
	v.text(member, name, r)
	v.text("policyArn", arn, arnRule)
	return v.err()
}

func listAttachedArgs(member, name string, r textRule, pathPrefix, marker *string, maxItems *int32) error {
	var v check
	v.text(member, name, r)
	v.opt("pathPrefix", pathPrefix, policyPathRule)
	v.paging(marker, maxItems)
	return v.err()
}

func (f *front) attachUserPolicy(c *service.Call, in *AttachUserPolicyRequest) (*none, error) {
	if err := attachArgs("userName", in.UserName, userNameRule, in.PolicyArn); err != nil {
		return nil, err
	}
	return nil, f.attachPolicy(c, users, "iam:AttachUserPolicy", in.UserName, in.PolicyArn)
}

func (f *front) attachGroupPolicy(c *service.Call, in *AttachGroupPolicyRequest) (*none, error) {
	if err := attachArgs("groupName", in.GroupName, groupNameRule, in.PolicyArn); err != nil {
		return nil, err
	}
	return nil, f.attachPolicy(c, groups, "iam:AttachGroupPolicy", in.GroupName, in.PolicyArn)
}

func (f *front) attachRolePolicy(c *service.Call, in *AttachRolePolicyRequest) (*none, error) {
	if err := attachArgs("roleName", in.RoleName, roleNameRule, in.PolicyArn); err != nil {
		return nil, err
	}
	return nil, f.attachPolicy(c, roles, "iam:AttachRolePolicy", in.RoleName, in.PolicyArn)
}

func (f *front) detachUserPolicy(c *service.Call, in *DetachUserPolicyRequest) (*none, error) {
	if err := attachArgs("userName", in.UserName, userNameRule, in.PolicyArn); err != nil {
		return nil, err
	}
	return nil, f.detachPolicy(c, users, "iam:DetachUserPolicy", in.UserName, in.PolicyArn)
}

func (f *front) detachGroupPolicy(c *service.Call, in *DetachGroupPolicyRequest) (*none, error) {
	if err := attachArgs("groupName", in.GroupName, groupNameRule, in.PolicyArn); err != nil {
		return nil, err
	}
	return nil, f.detachPolicy(c, groups, "iam:DetachGroupPolicy", in.GroupName, in.PolicyArn)
}

func (f *front) detachRolePolicy(c *service.Call, in *DetachRolePolicyRequest) (*none, error) {
	if err := attachArgs("roleName", in.RoleName, roleNameRule, in.PolicyArn); err != nil {
		return nil, err
	}
	return nil, f.detachPolicy(c, roles, "iam:DetachRolePolicy", in.RoleName, in.PolicyArn)
}

func (f *front) listAttachedUserPolicies(c *service.Call, in *ListAttachedUserPoliciesRequest) (*ListAttachedUserPoliciesResponse, error) {
	if err := listAttachedArgs("userName", in.UserName, userNameRule, in.PathPrefix, in.Marker, in.MaxItems); err != nil {
		return nil, err
	}
	ps, truncated, marker, err := f.listAttached(c, users, "iam:ListAttachedUserPolicies", in.UserName, in.PathPrefix, in.Marker, in.MaxItems)
	if err != nil {
		return nil, err
	}
	return &ListAttachedUserPoliciesResponse{AttachedPolicies: ps, IsTruncated: truncated, Marker: marker}, nil
}

func (f *front) listAttachedGroupPolicies(c *service.Call, in *ListAttachedGroupPoliciesRequest) (*ListAttachedGroupPoliciesResponse, error) {
	if err := listAttachedArgs("groupName", in.GroupName, groupNameRule, in.PathPrefix, in.Marker, in.MaxItems); err != nil {
		return nil, err
	}
	ps, truncated, marker, err := f.listAttached(c, groups, "iam:ListAttachedGroupPolicies", in.GroupName, in.PathPrefix, in.Marker, in.MaxItems)
	if err != nil {
		return nil, err
	}
	return &ListAttachedGroupPoliciesResponse{AttachedPolicies: ps, IsTruncated: truncated, Marker: marker}, nil
}

func (f *front) listAttachedRolePolicies(c *service.Call, in *ListAttachedRolePoliciesRequest) (*ListAttachedRolePoliciesResponse, error) {
	if err := listAttachedArgs("roleName", in.RoleName, roleNameRule, in.PathPrefix, in.Marker, in.MaxItems); err != nil {
		return nil, err
	}
	ps, truncated, marker, err := f.listAttached(c, roles, "iam:ListAttachedRolePolicies", in.RoleName, in.PathPrefix, in.Marker, in.MaxItems)
	if err != nil {
		return nil, err
	}
	return &ListAttachedRolePoliciesResponse{AttachedPolicies: ps, IsTruncated: truncated, Marker: marker}, nil
}
