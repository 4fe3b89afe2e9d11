package iam

import (
	"github.com/banyancloud/banyan/api/identity"
	"github.com/banyancloud/banyan/api/service"
	"github.com/banyancloud/banyan/cluster/state"
)

// What the actions on users, groups, roles and instance profiles share: finding one by
// name, authorizing on its ARN, and reaching the policies a principal holds.

// rootPathARN is the ARN an entity of kind named name has at path "/".
func rootPathARN(kind, account, name string) string {
	switch kind {
	case state.KindUser:
		return userARN(account, "/", name)
	case state.KindGroup:
		return groupARN(account, "/", name)
	case state.KindRole:
		return roleARN(account, "/", name)
	case state.KindInstanceProfile:
		return profileARN(account, "/", name)
	}
	return "*"
}

// errNoSuch is NoSuchEntity for a named entity, in IAM's words for each kind.
func errNoSuch(kind, name string) error {
	switch kind {
	case state.KindUser:
		return errNoSuchUser(name)
	case state.KindGroup:
		return errNoSuchEntity("The group with name %s cannot be found.", name)
	case state.KindRole:
		return errNoSuchEntity("The role with name %s cannot be found.", name)
	case state.KindInstanceProfile:
		return errNoSuchEntity("Instance Profile %s cannot be found.", name)
	}
	return errNoSuchEntity("%s cannot be found.", name)
}

// arnOr is the ARN to authorize an action on: the entity's own, or for an entity that
// does not exist, the ARN it would have at the root path (AWS authorizes before it
// reports NoSuchEntity, so a caller without permission learns nothing).
func arnOr(e *state.Entity, fallback string) string {
	switch {
	case e == nil:
		return fallback
	case e.User != nil:
		return e.User.ARN
	case e.Group != nil:
		return e.Group.ARN
	case e.Role != nil:
		return e.Role.ARN
	case e.Policy != nil:
		return e.Policy.ARN
	case e.InstanceProfile != nil:
		return e.InstanceProfile.ARN
	}
	return fallback
}

// authorizeNamed finds the entity of kind named name in the caller's account,
// authorizes action on it (with optional condition keys), and only then reports
// NoSuchEntity if there is none.
func (f *front) authorizeNamed(c *service.Call, kind, action, name string, context map[string][]string) (*state.Entity, error) {
	acct := c.Caller.AccountID
	e := find(f.cluster.State(), kind, acct, name)
	chk := identity.Check{Action: action, Resource: arnOr(e, rootPathARN(kind, acct, name)), Context: context}
	if err := c.AuthorizeCheck(chk); err != nil {
		return nil, err
	}
	if e == nil {
		return nil, errNoSuch(kind, name)
	}
	return e, nil
}

func (f *front) authorizeUser(c *service.Call, action, name string) (*state.Entity, error) {
	return f.authorizeNamed(c, state.KindUser, action, name, nil)
}

// principal describes one kind of policy holder: users, groups or roles.
type principal struct {
	kind  string // state.KindUser, ...
	noun  string // "user", as IAM's messages say it
	quota string // the quota name of attached managed policies
	// inlineSize is the quota on the total size of the inline policies of one holder.
	inlineSize int
}

var (
	users  = principal{kind: state.KindUser, noun: "user", quota: "PoliciesPerUser", inlineSize: 2048}
	groups = principal{kind: state.KindGroup, noun: "group", quota: "PoliciesPerGroup", inlineSize: 5120}
	roles  = principal{kind: state.KindRole, noun: "role", quota: "PoliciesPerRole", inlineSize: 10240}
)

// maxAttached is IAM's default quota of managed policies attached to one user, group or
// role.
const maxAttached = 10

// attachedOf and inlineOf reach the policies of a user, group or role entity.
func attachedOf(e *state.Entity) *[]string {
	switch {
	case e.User != nil:
		return &e.User.Attached
	case e.Group != nil:
		return &e.Group.Attached
	case e.Role != nil:
		return &e.Role.Attached
	}
	panic("iam: entity " + e.Key() + " holds no policies")
}

func inlineOf(e *state.Entity) *map[string]string {
	switch {
	case e.User != nil:
		return &e.User.Inline
	case e.Group != nil:
		return &e.Group.Inline
	case e.Role != nil:
		return &e.Role.Inline
	}
	panic("iam: entity " + e.Key() + " holds no policies")
}

// tagsOf reaches the tags of a taggable entity.
func tagsOf(e *state.Entity) *[]state.Tag {
	switch {
	case e.User != nil:
		return &e.User.Tags
	case e.Role != nil:
		return &e.Role.Tags
	case e.Policy != nil:
		return &e.Policy.Tags
	case e.InstanceProfile != nil:
		return &e.InstanceProfile.Tags
	}
	panic("iam: entity " + e.Key() + " has no tags")
}
