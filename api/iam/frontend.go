package iam

import (
	"time"

	"github.com/banyancloud/banyan/api/identity"
	"github.com/banyancloud/banyan/api/protocol/query"
	"github.com/banyancloud/banyan/api/service"
	"github.com/banyancloud/banyan/cluster/pki"
)

// front serves the IAM actions over one cluster.
type front struct {
	cluster service.Cluster
	sealer  *pki.Sealer // seals new secret access keys
	now     func() time.Time
}

// New returns the IAM front end as an RPC service for the front door.
func New(c service.Cluster, sealer *pki.Sealer) *service.RPC {
	f := &front{cluster: c, sealer: sealer, now: func() time.Time {
		// IAM's dates have whole seconds.
		return time.Now().UTC().Truncate(time.Second)
	}}
	return &service.RPC{Name: "iam", Codec: query.New(Service), Handlers: f.handlers(), MapError: MapError}
}

func (f *front) handlers() map[string]service.Handler {
	hs := f.actions()
	for name, h := range hs {
		hs[name] = requireMFASession(name, f.caughtUp(h))
	}
	return hs
}

// caughtUp runs h on a replica that has applied everything committed anywhere when the
// call arrived (ReadBarrier). Every answer IAM gives from the replica is then
// linearizable, not only read-your-writes on this box: a GetUser through one box sees a
// user created or deleted through another a moment before, and a CreateUser or
// DeleteUser never answers EntityAlreadyExists, NoSuchEntity or DeleteConflict from a
// replica that has not yet applied the write that made it untrue. (The successes were
// already decided in the FSM: IAMWrite is a compare-and-set on what was read.) IAM calls
// are rare next to S3's, so the round trip is cheap; authentication, which every
// service's call needs, still reads the local replica alone.
func (f *front) caughtUp(h service.Handler) service.Handler {
	if _, ok := f.cluster.(service.CatchUpper); !ok {
		return h
	}
	return func(c *service.Call, in any) (any, error) {
		if err := service.ReadBarrier(c.Ctx, f.cluster); err != nil {
			return nil, err
		}
		return h(c, in)
	}
}

func (f *front) actions() map[string]service.Handler {
	return map[string]service.Handler{
		"CreateUser":           handle(f.createUser),
		"GetUser":              handle(f.getUser),
		"ListUsers":            handle(f.listUsers),
		"UpdateUser":           handle(f.updateUser),
		"DeleteUser":           handle(f.deleteUser),
		"CreateAccessKey":      handle(f.createAccessKey),
		"ListAccessKeys":       handle(f.listAccessKeys),
		"UpdateAccessKey":      handle(f.updateAccessKey),
		"DeleteAccessKey":      handle(f.deleteAccessKey),
		"GetAccessKeyLastUsed": handle(f.getAccessKeyLastUsed),

		"CreateGroup":         handle(f.createGroup),
		"GetGroup":            handle(f.getGroup),
		"ListGroups":          handle(f.listGroups),
		"ListGroupsForUser":   handle(f.listGroupsForUser),
		"UpdateGroup":         handle(f.updateGroup),
		"AddUserToGroup":      handle(f.addUserToGroup),
		"RemoveUserFromGroup": handle(f.removeUserFromGroup),
		"DeleteGroup":         handle(f.deleteGroup),

		"CreateRole":             handle(f.createRole),
		"GetRole":                handle(f.getRole),
		"ListRoles":              handle(f.listRoles),
		"UpdateRole":             handle(f.updateRole),
		"UpdateRoleDescription":  handle(f.updateRoleDescription),
		"UpdateAssumeRolePolicy": handle(f.updateAssumeRolePolicy),
		"DeleteRole":             handle(f.deleteRole),

		"CreatePolicy":            handle(f.createPolicy),
		"GetPolicy":               handle(f.getPolicy),
		"ListPolicies":            handle(f.listPolicies),
		"DeletePolicy":            handle(f.deletePolicy),
		"CreatePolicyVersion":     handle(f.createPolicyVersion),
		"GetPolicyVersion":        handle(f.getPolicyVersion),
		"ListPolicyVersions":      handle(f.listPolicyVersions),
		"SetDefaultPolicyVersion": handle(f.setDefaultPolicyVersion),
		"DeletePolicyVersion":     handle(f.deletePolicyVersion),
		"ListEntitiesForPolicy":   handle(f.listEntitiesForPolicy),

		"AttachUserPolicy":          handle(f.attachUserPolicy),
		"AttachGroupPolicy":         handle(f.attachGroupPolicy),
		"AttachRolePolicy":          handle(f.attachRolePolicy),
		"DetachUserPolicy":          handle(f.detachUserPolicy),
		"DetachGroupPolicy":         handle(f.detachGroupPolicy),
		"DetachRolePolicy":          handle(f.detachRolePolicy),
		"ListAttachedUserPolicies":  handle(f.listAttachedUserPolicies),
		"ListAttachedGroupPolicies": handle(f.listAttachedGroupPolicies),
		"ListAttachedRolePolicies":  handle(f.listAttachedRolePolicies),

		"PutUserPolicy":     handle(f.putUserPolicy),
		"GetUserPolicy":     handle(f.getUserPolicy),
		"DeleteUserPolicy":  handle(f.deleteUserPolicy),
		"ListUserPolicies":  handle(f.listUserPolicies),
		"PutGroupPolicy":    handle(f.putGroupPolicy),
		"GetGroupPolicy":    handle(f.getGroupPolicy),
		"DeleteGroupPolicy": handle(f.deleteGroupPolicy),
		"ListGroupPolicies": handle(f.listGroupPolicies),
		"PutRolePolicy":     handle(f.putRolePolicy),
		"GetRolePolicy":     handle(f.getRolePolicy),
		"DeleteRolePolicy":  handle(f.deleteRolePolicy),
		"ListRolePolicies":  handle(f.listRolePolicies),

		"CreateInstanceProfile":         handle(f.createInstanceProfile),
		"GetInstanceProfile":            handle(f.getInstanceProfile),
		"ListInstanceProfiles":          handle(f.listInstanceProfiles),
		"ListInstanceProfilesForRole":   handle(f.listInstanceProfilesForRole),
		"AddRoleToInstanceProfile":      handle(f.addRoleToInstanceProfile),
		"RemoveRoleFromInstanceProfile": handle(f.removeRoleFromInstanceProfile),
		"DeleteInstanceProfile":         handle(f.deleteInstanceProfile),

		"CreateLoginProfile": handle(f.createLoginProfile),
		"GetLoginProfile":    handle(f.getLoginProfile),
		"UpdateLoginProfile": handle(f.updateLoginProfile),
		"DeleteLoginProfile": handle(f.deleteLoginProfile),

		"TagUser":      handle(f.tagUser),
		"UntagUser":    handle(f.untagUser),
		"ListUserTags": handle(f.listUserTags),
		"TagRole":      handle(f.tagRole),
		"UntagRole":    handle(f.untagRole),
		"ListRoleTags": handle(f.listRoleTags),

		"GetAccountSummary": func(c *service.Call, _ any) (any, error) { return wrap(f.getAccountSummary(c)) },
	}
}

// none is the output of actions that answer with no result element.
type none struct{}

// handle adapts a typed handler to service.Handler: the codec passes the generated input
// struct, and a nil typed output must reach the codec as a nil interface.
func handle[In, Out any](h func(c *service.Call, in *In) (*Out, error)) service.Handler {
	return func(c *service.Call, input any) (any, error) {
		in, _ := input.(*In)
		if in == nil {
			in = new(In)
		}
		return wrap(h(c, in))
	}
}

func wrap[Out any](out *Out, err error) (any, error) {
	if err != nil || out == nil {
		return nil, err
	}
	return out, nil
}

// selfUser resolves the optional UserName of the actions that default to the caller:
// an IAM user acts on itself, the root user on the account's root identity (root
// is true, name ""), and role sessions must name a user as AWS requires.
func selfUser(c *service.Call, userName *string) (name string, root bool, err error) {
	if userName != nil {
		return *userName, false, nil
	}
	switch c.Caller.Type {
	case identity.TypeUser:
		return c.Caller.UserName, false, nil
	case identity.TypeRoot:
		return "", true, nil
	}
	return "", false, errValidation("Must specify userName when calling with non-User credentials")
}
