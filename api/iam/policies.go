package iam

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/banyancloud/banyan/api/iampolicy"
	"github.com/banyancloud/banyan/api/identity"
	"github.com/banyancloud/banyan/api/service"
	"github.com/banyancloud/banyan/cluster/state"
)

// Managed policy quotas (AWS's).
const (
	maxPolicyVersions = 5
	maxPolicySize     = 6144
)

// policyByARN returns the customer managed policy of account with exactly this ARN, or
// nil.
func policyByARN(st *state.Store, account, arn string) *state.Entity {
	name, ok := parsePolicyARN(account, arn)
	if !ok {
		return nil
	}
	e := get(st, state.KindPolicy, account, name)
	if e == nil || e.Policy.ARN != arn {
		return nil
	}
	return e
}

// checkARN rejects what is not an ARN at all, as IAM does before looking anything up.
func checkARN(arn string) error {
	if !strings.HasPrefix(arn, "arn:") || strings.Count(arn, ":") < 5 {
		return errInvalidInput("ARN %s is not valid.", arn)
	}
	return nil
}

// identityPolicy validates a managed or inline policy document.
func identityPolicy(doc string) error {
	_, err := iampolicy.Parse(doc, iampolicy.IdentityPolicy)
	return err
}

// boundaryUses counts, per policy ARN, the users and roles of account that use it as
// their permissions boundary.
func boundaryUses(st *state.Store, account string) map[string]int {
	n := map[string]int{}
	for _, u := range list(st, state.KindUser, account) {
		if u.User.Boundary != "" {
			n[u.User.Boundary]++
		}
	}
	for _, r := range list(st, state.KindRole, account) {
		if r.Role.Boundary != "" {
			n[r.Role.Boundary]++
		}
	}
	return n
}

// useBoundary checks that arn names a managed policy of account and touches it, so that
// a concurrent DeletePolicy sees its new use.
func useBoundary(t *txn, account, arn string) error {
	p := policyByARN(t.st, account, arn)
	if p == nil {
		return errNoSuchEntity("Scope ARN: %s does not exist or is not attachable.", arn)
	}
	t.touch(p)
	return nil
}

func boundaryShape(arn string) *AttachedPermissionsBoundary {
	if arn == "" {
		return nil
	}
	return &AttachedPermissionsBoundary{PermissionsBoundaryType: ptr("PermissionsBoundaryPolicy"), PermissionsBoundaryArn: ptr(arn)}
}

// policyShape is a policy as IAM describes it. Only GetPolicy answers with the
// description, as AWS's does.
func policyShape(p *state.ManagedPolicy, boundaryCount int, withDescription bool) Policy {
	out := Policy{
		PolicyName: ptr(p.Name), PolicyId: ptr(p.ID), Arn: ptr(p.ARN), Path: ptr(p.Path),
		DefaultVersionId: ptr(p.DefaultVersion), AttachmentCount: ptr(int32(p.Attachments)),
		PermissionsBoundaryUsageCount: ptr(int32(boundaryCount)), IsAttachable: ptr(true),
		CreateDate: ptr(p.CreatedAt), UpdateDate: ptr(p.UpdatedAt),
	}
	if withDescription && p.Description != "" {
		out.Description = ptr(p.Description)
	}
	return out
}

func versionShape(p *state.ManagedPolicy, v state.PolicyVersion, withDocument bool) PolicyVersion {
	out := PolicyVersion{VersionId: ptr(v.ID), IsDefaultVersion: ptr(v.ID == p.DefaultVersion), CreateDate: ptr(v.CreatedAt)}
	if withDocument {
		out.Document = ptr(encodeDocument(v.Document))
	}
	return out
}

// authorizePolicy authorizes action on a policy ARN and returns the policy (nil if the
// caller's account has none with that ARN; the caller words the NoSuchEntity).
func (f *front) authorizePolicy(c *service.Call, action, arn string) (*state.Entity, error) {
	if err := checkARN(arn); err != nil {
		return nil, err
	}
	// Another account's policy is authorized as that account's resource, so that only
	// a policy of its owner could let the caller in (Banyan has no AWS managed
	// policies, so "aws" is left to NoSuchEntity).
	chk := identity.Check{Action: action, Resource: arn}
	if acct := strings.SplitN(arn, ":", 6)[4]; acct != "aws" && acct != c.Caller.AccountID {
		chk.ResourceAccount = acct
	}
	if err := c.AuthorizeCheck(chk); err != nil {
		return nil, err
	}
	return policyByARN(f.cluster.State(), c.Caller.AccountID, arn), nil
}

func errPolicyNotFound(arn string) error { return errNoSuchEntity("Policy %s was not found.", arn) }

func errNotAttachable(arn string) error {
	return errNoSuchEntity("Policy %s does not exist or is not attachable.", arn)
}

func errNoSuchVersion(arn, version string) error {
	return errNoSuchEntity("Policy %s version %s does not exist or is not attachable.", arn, version)
}

// checkDocumentSize applies the managed policy size quota.
func checkDocumentSize(doc string) error {
	if policySize(doc) > maxPolicySize {
		return errLimitExceeded("Cannot exceed quota for PolicySize: %d", maxPolicySize)
	}
	return nil
}

func (f *front) createPolicy(c *service.Call, in *CreatePolicyRequest) (*CreatePolicyResponse, error) {
	var v check
	v.text("policyName", in.PolicyName, policyNameRule)
	v.opt("path", in.Path, policyPathRule)
	v.text("policyDocument", in.PolicyDocument, policyDocumentRule)
	v.opt("description", in.Description, policyDescRule)
	v.tags("tags", in.Tags)
	if err := v.err(); err != nil {
		return nil, err
	}
	acct, path := c.Caller.AccountID, orDefault(in.Path, "/")
	arn := policyARN(acct, path, in.PolicyName)
	if err := c.AuthorizeCheck(identity.Check{Action: "iam:CreatePolicy", Resource: arn, Context: requestTagContext(in.Tags)}); err != nil {
		return nil, err
	}
	if err := identityPolicy(in.PolicyDocument); err != nil {
		return nil, err
	}
	if err := checkDocumentSize(in.PolicyDocument); err != nil {
		return nil, err
	}
	tags, err := newTags(in.Tags)
	if err != nil {
		return nil, err
	}
	now := f.now()
	p := &state.ManagedPolicy{
		ID: NewID("ANPA"), Name: in.PolicyName, Path: path, ARN: arn, Description: orDefault(in.Description, ""),
		DefaultVersion: "v1", NextVersion: 2, Versions: []state.PolicyVersion{{ID: "v1", Document: in.PolicyDocument, CreatedAt: now}},
		CreatedAt: now, UpdatedAt: now, Tags: tags,
	}
	err = f.update(c, func(t *txn) error {
		if find(t.st, state.KindPolicy, acct, in.PolicyName) != nil {
			return errAlreadyExists("A policy called %s already exists. Duplicate names are not allowed.", in.PolicyName)
		}
		t.put(&state.Entity{Kind: state.KindPolicy, Account: acct, Name: p.Name, Alt: foldKey(state.KindPolicy, acct, p.Name), Policy: p})
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := policyShape(p, 0, false)
	out.Tags = tagsOut(p.Tags)
	return &CreatePolicyResponse{Policy: &out}, nil
}

func (f *front) getPolicy(c *service.Call, in *GetPolicyRequest) (*GetPolicyResponse, error) {
	var v check
	v.text("policyArn", in.PolicyArn, arnRule)
	if err := v.err(); err != nil {
		return nil, err
	}
	p, err := f.authorizePolicy(c, "iam:GetPolicy", in.PolicyArn)
	if err != nil {
		return nil, err
	}
	if p == nil {
		return nil, errPolicyNotFound(in.PolicyArn)
	}
	out := policyShape(p.Policy, boundaryUses(f.cluster.State(), c.Caller.AccountID)[p.Policy.ARN], true)
	out.Tags = tagsOut(p.Policy.Tags)
	return &GetPolicyResponse{Policy: &out}, nil
}

// listPolicies lists the account's customer managed policies. Banyan has no AWS managed
// policies, so Scope=AWS is always empty.
func (f *front) listPolicies(c *service.Call, in *ListPoliciesRequest) (*ListPoliciesResponse, error) {
	var v check
	v.enum("scope", in.Scope, "All", "AWS", "Local")
	v.opt("pathPrefix", in.PathPrefix, policyPathRule)
	v.enum("policyUsageFilter", in.PolicyUsageFilter, "PermissionsPolicy", "PermissionsBoundary")
	v.paging(in.Marker, in.MaxItems)
	if err := v.err(); err != nil {
		return nil, err
	}
	if err := c.Authorize("iam:ListPolicies", "*"); err != nil {
		return nil, err
	}
	var ps []Policy
	if orDefault(in.Scope, "All") != "AWS" {
		st, acct := f.cluster.State(), c.Caller.AccountID
		uses := boundaryUses(st, acct)
		prefix, usage := orDefault(in.PathPrefix, "/"), orDefault(in.PolicyUsageFilter, "")
		onlyAttached := in.OnlyAttached != nil && *in.OnlyAttached
		for _, e := range list(st, state.KindPolicy, acct) {
			p := e.Policy
			if !strings.HasPrefix(p.Path, prefix) {
				continue
			}
			if onlyAttached {
				asPolicy, asBoundary := p.Attachments > 0, uses[p.ARN] > 0
				if usage == "PermissionsPolicy" && !asPolicy || usage == "PermissionsBoundary" && !asBoundary || !asPolicy && !asBoundary {
					continue
				}
			}
			ps = append(ps, policyShape(p, uses[p.ARN], false))
		}
	}
	page, truncated, marker, err := paginate(ps, func(p Policy) string { return *p.PolicyName }, in.Marker, in.MaxItems)
	if err != nil {
		return nil, err
	}
	return &ListPoliciesResponse{Policies: page, IsTruncated: truncated, Marker: marker}, nil
}

func (f *front) deletePolicy(c *service.Call, in *DeletePolicyRequest) (*none, error) {
	var v check
	v.text("policyArn", in.PolicyArn, arnRule)
	if err := v.err(); err != nil {
		return nil, err
	}
	if _, err := f.authorizePolicy(c, "iam:DeletePolicy", in.PolicyArn); err != nil {
		return nil, err
	}
	acct := c.Caller.AccountID
	return nil, f.update(c, func(t *txn) error {
		p := policyByARN(t.st, acct, in.PolicyArn)
		switch {
		case p == nil:
			return errPolicyNotFound(in.PolicyArn)
		case p.Policy.Attachments > 0 || boundaryUses(t.st, acct)[p.Policy.ARN] > 0:
			return errDeleteConflict("Cannot delete a policy attached to entities.")
		case len(p.Policy.Versions) > 1:
			return errDeleteConflict("This policy has more than one version. Before you delete a policy, you must delete the policy's versions. The default version is deleted with the policy.")
		}
		t.del(p)
		return nil
	})
}

func (f *front) createPolicyVersion(c *service.Call, in *CreatePolicyVersionRequest) (*CreatePolicyVersionResponse, error) {
	var v check
	v.text("policyArn", in.PolicyArn, arnRule)
	v.text("policyDocument", in.PolicyDocument, policyDocumentRule)
	if err := v.err(); err != nil {
		return nil, err
	}
	if _, err := f.authorizePolicy(c, "iam:CreatePolicyVersion", in.PolicyArn); err != nil {
		return nil, err
	}
	if err := identityPolicy(in.PolicyDocument); err != nil {
		return nil, err
	}
	if err := checkDocumentSize(in.PolicyDocument); err != nil {
		return nil, err
	}
	acct := c.Caller.AccountID
	var out PolicyVersion
	err := f.update(c, func(t *txn) error {
		p := policyByARN(t.st, acct, in.PolicyArn)
		if p == nil {
			return errNotAttachable(in.PolicyArn)
		}
		if len(p.Policy.Versions) >= maxPolicyVersions {
			return errLimitExceeded("A managed policy can have up to %d versions. Before you create a new version, you must delete an existing version.", maxPolicyVersions)
		}
		n := clone(p)
		ver := state.PolicyVersion{ID: "v" + strconv.Itoa(n.Policy.NextVersion), Document: in.PolicyDocument, CreatedAt: f.now()}
		n.Policy.NextVersion++
		n.Policy.Versions = append(n.Policy.Versions, ver)
		n.Policy.UpdatedAt = ver.CreatedAt
		if in.SetAsDefault != nil && *in.SetAsDefault {
			n.Policy.DefaultVersion = ver.ID
		}
		out = versionShape(n.Policy, ver, false)
		t.put(n)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &CreatePolicyVersionResponse{PolicyVersion: &out}, nil
}

// versionArgs validates the PolicyArn and VersionId of the version actions.
func versionArgs(arn, version string) error {
	var v check
	v.text("policyArn", arn, arnRule)
	v.text("versionId", version, versionIDRule)
	return v.err()
}

func findVersion(p *state.ManagedPolicy, id string) int {
	return slices.IndexFunc(p.Versions, func(v state.PolicyVersion) bool { return v.ID == id })
}

func (f *front) getPolicyVersion(c *service.Call, in *GetPolicyVersionRequest) (*GetPolicyVersionResponse, error) {
	if err := versionArgs(in.PolicyArn, in.VersionId); err != nil {
		return nil, err
	}
	p, err := f.authorizePolicy(c, "iam:GetPolicyVersion", in.PolicyArn)
	if err != nil {
		return nil, err
	}
	if p == nil {
		return nil, errPolicyNotFound(in.PolicyArn)
	}
	i := findVersion(p.Policy, in.VersionId)
	if i < 0 {
		return nil, errNoSuchVersion(in.PolicyArn, in.VersionId)
	}
	out := versionShape(p.Policy, p.Policy.Versions[i], true)
	return &GetPolicyVersionResponse{PolicyVersion: &out}, nil
}

func (f *front) listPolicyVersions(c *service.Call, in *ListPolicyVersionsRequest) (*ListPolicyVersionsResponse, error) {
	var v check
	v.text("policyArn", in.PolicyArn, arnRule)
	v.paging(in.Marker, in.MaxItems)
	if err := v.err(); err != nil {
		return nil, err
	}
	p, err := f.authorizePolicy(c, "iam:ListPolicyVersions", in.PolicyArn)
	if err != nil {
		return nil, err
	}
	if p == nil {
		return nil, errPolicyNotFound(in.PolicyArn)
	}
	vs := make([]PolicyVersion, len(p.Policy.Versions))
	for i, ver := range p.Policy.Versions {
		vs[i] = versionShape(p.Policy, ver, false)
	}
	// Newest first, as IAM lists them.
	newestFirst := func(v PolicyVersion) string {
		n, _ := strconv.Atoi(strings.TrimPrefix(*v.VersionId, "v"))
		return fmt.Sprintf("%019d", 1<<62-n)
	}
	page, truncated, marker, err := paginate(vs, newestFirst, in.Marker, in.MaxItems)
	if err != nil {
		return nil, err
	}
	return &ListPolicyVersionsResponse{Versions: page, IsTruncated: truncated, Marker: marker}, nil
}

func (f *front) setDefaultPolicyVersion(c *service.Call, in *SetDefaultPolicyVersionRequest) (*none, error) {
	if err := versionArgs(in.PolicyArn, in.VersionId); err != nil {
		return nil, err
	}
	if _, err := f.authorizePolicy(c, "iam:SetDefaultPolicyVersion", in.PolicyArn); err != nil {
		return nil, err
	}
	acct := c.Caller.AccountID
	return nil, f.update(c, func(t *txn) error {
		p := policyByARN(t.st, acct, in.PolicyArn)
		if p == nil {
			return errPolicyNotFound(in.PolicyArn)
		}
		if findVersion(p.Policy, in.VersionId) < 0 {
			return errNoSuchVersion(in.PolicyArn, in.VersionId)
		}
		if p.Policy.DefaultVersion == in.VersionId {
			return nil
		}
		n := clone(p)
		n.Policy.DefaultVersion = in.VersionId
		t.put(n)
		return nil
	})
}

func (f *front) deletePolicyVersion(c *service.Call, in *DeletePolicyVersionRequest) (*none, error) {
	if err := versionArgs(in.PolicyArn, in.VersionId); err != nil {
		return nil, err
	}
	if _, err := f.authorizePolicy(c, "iam:DeletePolicyVersion", in.PolicyArn); err != nil {
		return nil, err
	}
	acct := c.Caller.AccountID
	return nil, f.update(c, func(t *txn) error {
		p := policyByARN(t.st, acct, in.PolicyArn)
		if p == nil {
			return errPolicyNotFound(in.PolicyArn)
		}
		i := findVersion(p.Policy, in.VersionId)
		switch {
		case i < 0:
			return errNoSuchVersion(in.PolicyArn, in.VersionId)
		case p.Policy.DefaultVersion == in.VersionId:
			return errDeleteConflict("Cannot delete the default version of a policy.")
		}
		n := clone(p)
		n.Policy.Versions = slices.Delete(n.Policy.Versions, i, i+1)
		t.put(n)
		return nil
	})
}

func (f *front) listEntitiesForPolicy(c *service.Call, in *ListEntitiesForPolicyRequest) (*ListEntitiesForPolicyResponse, error) {
	var v check
	v.text("policyArn", in.PolicyArn, arnRule)
	v.enum("entityFilter", in.EntityFilter, "User", "Role", "Group", "LocalManagedPolicy", "AWSManagedPolicy")
	v.opt("pathPrefix", in.PathPrefix, pathRule)
	v.enum("policyUsageFilter", in.PolicyUsageFilter, "PermissionsPolicy", "PermissionsBoundary")
	v.paging(in.Marker, in.MaxItems)
	if err := v.err(); err != nil {
		return nil, err
	}
	p, err := f.authorizePolicy(c, "iam:ListEntitiesForPolicy", in.PolicyArn)
	if err != nil {
		return nil, err
	}
	if p == nil {
		return nil, errPolicyNotFound(in.PolicyArn)
	}
	arn, filter, usage := p.Policy.ARN, orDefault(in.EntityFilter, ""), orDefault(in.PolicyUsageFilter, "")
	prefix := orDefault(in.PathPrefix, "/")
	uses := func(attached []string, boundary string) bool {
		return usage != "PermissionsBoundary" && slices.Contains(attached, arn) || usage != "PermissionsPolicy" && boundary == arn
	}
	// One listing of all three kinds, so that one Marker pages through them.
	type holder struct {
		key  string
		kind string
		name string
		id   string
	}
	var hs []holder
	st, acct := f.cluster.State(), c.Caller.AccountID
	if filter == "" || filter == "Group" {
		for _, e := range list(st, state.KindGroup, acct) {
			if strings.HasPrefix(e.Group.Path, prefix) && uses(e.Group.Attached, "") {
				hs = append(hs, holder{"1/" + e.Name, state.KindGroup, e.Name, e.Group.ID})
			}
		}
	}
	if filter == "" || filter == "Role" {
		for _, e := range list(st, state.KindRole, acct) {
			if strings.HasPrefix(e.Role.Path, prefix) && uses(e.Role.Attached, e.Role.Boundary) {
				hs = append(hs, holder{"2/" + e.Name, state.KindRole, e.Name, e.Role.ID})
			}
		}
	}
	if filter == "" || filter == "User" {
		for _, e := range list(st, state.KindUser, acct) {
			if strings.HasPrefix(e.User.Path, prefix) && uses(e.User.Attached, e.User.Boundary) {
				hs = append(hs, holder{"3/" + e.Name, state.KindUser, e.Name, e.User.ID})
			}
		}
	}
	page, truncated, marker, err := paginate(hs, func(h holder) string { return h.key }, in.Marker, in.MaxItems)
	if err != nil {
		return nil, err
	}
	out := &ListEntitiesForPolicyResponse{IsTruncated: truncated, Marker: marker}
	for _, h := range page {
		switch h.kind {
		case state.KindGroup:
			out.PolicyGroups = append(out.PolicyGroups, PolicyGroup{GroupName: ptr(h.name), GroupId: ptr(h.id)})
		case state.KindRole:
			out.PolicyRoles = append(out.PolicyRoles, PolicyRole{RoleName: ptr(h.name), RoleId: ptr(h.id)})
		case state.KindUser:
			out.PolicyUsers = append(out.PolicyUsers, PolicyUser{UserName: ptr(h.name), UserId: ptr(h.id)})
		}
	}
	return out, nil
}
