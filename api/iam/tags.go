package iam

import (
	"slices"
	"strings"

	"github.com/banyancloud/banyan/api/service"
	"github.com/banyancloud/banyan/cluster/state"
)

// maxTags is IAM's quota of tags per resource, and per request.
const maxTags = 50

// newTags checks a request's tags beyond the model's patterns, as IAM does: keys are
// case-insensitive, so two spellings of one key are a duplicate, and the aws: prefix is
// AWS's own.
func newTags(in []Tag) ([]state.Tag, error) {
	seen := map[string]bool{}
	var out []state.Tag
	for _, t := range in {
		k := strings.ToLower(t.Key)
		if seen[k] {
			return nil, errInvalidInput("Duplicate tag keys found. Please note that Tag keys are case insensitive.")
		}
		if strings.HasPrefix(k, "aws:") {
			return nil, errInvalidInput("User-defined tag keys can't start with 'aws:'. This prefix is reserved for AWS internal use.")
		}
		seen[k] = true
		out = append(out, state.Tag{Key: t.Key, Value: t.Value})
	}
	return out, nil
}

// mergeTags returns cur with add applied: a key already present (in any case) gets the
// new spelling and value.
func mergeTags(cur, add []state.Tag) []state.Tag {
	out := slices.Clone(cur)
	for _, t := range add {
		i := slices.IndexFunc(out, func(o state.Tag) bool { return strings.EqualFold(o.Key, t.Key) })
		if i >= 0 {
			out[i] = t
		} else {
			out = append(out, t)
		}
	}
	return out
}

func removeTags(cur []state.Tag, keys []string) []state.Tag {
	return slices.DeleteFunc(slices.Clone(cur), func(t state.Tag) bool {
		return slices.ContainsFunc(keys, func(k string) bool { return strings.EqualFold(k, t.Key) })
	})
}

func tagsOut(ts []state.Tag) []Tag {
	if len(ts) == 0 {
		return nil
	}
	out := make([]Tag, len(ts))
	for i, t := range ts {
		out[i] = Tag{Key: t.Key, Value: t.Value}
	}
	return out
}

// requestTagContext is the condition keys of a request that sets tags, so that policies
// can govern which tags a caller may set.
func requestTagContext(tags []Tag) map[string][]string {
	if len(tags) == 0 {
		return nil
	}
	ctx := map[string][]string{}
	for _, t := range tags {
		ctx["aws:RequestTag/"+t.Key] = []string{t.Value}
		ctx["aws:TagKeys"] = append(ctx["aws:TagKeys"], t.Key)
	}
	return ctx
}

// tagEntity adds or replaces tags on the user or role named name.
func (f *front) tagEntity(c *service.Call, kind, action, name string, in []Tag) error {
	if _, err := f.authorizeNamed(c, kind, action, name, requestTagContext(in)); err != nil {
		return err
	}
	tags, err := newTags(in)
	if err != nil {
		return err
	}
	acct := c.Caller.AccountID
	return f.update(c, func(t *txn) error {
		e := find(t.st, kind, acct, name)
		if e == nil {
			return errNoSuch(kind, name)
		}
		merged := mergeTags(*tagsOf(e), tags)
		if len(merged) > maxTags {
			return errLimitExceeded("Cannot exceed quota for TagsPer%s: %d", strings.ToUpper(kind[:1])+kind[1:], maxTags)
		}
		n := clone(e)
		*tagsOf(n) = merged
		t.put(n)
		return nil
	})
}

func (f *front) untagEntity(c *service.Call, kind, action, name string, keys []string) error {
	if _, err := f.authorizeNamed(c, kind, action, name, map[string][]string{"aws:TagKeys": keys}); err != nil {
		return err
	}
	acct := c.Caller.AccountID
	return f.update(c, func(t *txn) error {
		e := find(t.st, kind, acct, name)
		if e == nil {
			return errNoSuch(kind, name)
		}
		kept := removeTags(*tagsOf(e), keys)
		if len(kept) == len(*tagsOf(e)) {
			return nil
		}
		n := clone(e)
		*tagsOf(n) = kept
		t.put(n)
		return nil
	})
}

func (f *front) listEntityTags(c *service.Call, kind, action, name string, marker *string, maxItems *int32) ([]Tag, *bool, *string, error) {
	e, err := f.authorizeNamed(c, kind, action, name, nil)
	if err != nil {
		return nil, nil, nil, err
	}
	tags := tagsOut(*tagsOf(e))
	return paginate(tags, func(t Tag) string { return t.Key }, marker, maxItems)
}

func (f *front) tagUser(c *service.Call, in *TagUserRequest) (*none, error) {
	var v check
	v.text("userName", in.UserName, existingUserNameRule)
	v.tags("tags", in.Tags)
	if err := v.err(); err != nil {
		return nil, err
	}
	return nil, f.tagEntity(c, state.KindUser, "iam:TagUser", in.UserName, in.Tags)
}

func (f *front) untagUser(c *service.Call, in *UntagUserRequest) (*none, error) {
	var v check
	v.text("userName", in.UserName, existingUserNameRule)
	v.tagKeys("tagKeys", in.TagKeys)
	if err := v.err(); err != nil {
		return nil, err
	}
	return nil, f.untagEntity(c, state.KindUser, "iam:UntagUser", in.UserName, in.TagKeys)
}

func (f *front) listUserTags(c *service.Call, in *ListUserTagsRequest) (*ListUserTagsResponse, error) {
	var v check
	v.text("userName", in.UserName, existingUserNameRule)
	v.paging(in.Marker, in.MaxItems)
	if err := v.err(); err != nil {
		return nil, err
	}
	tags, truncated, marker, err := f.listEntityTags(c, state.KindUser, "iam:ListUserTags", in.UserName, in.Marker, in.MaxItems)
	if err != nil {
		return nil, err
	}
	return &ListUserTagsResponse{Tags: tags, IsTruncated: truncated, Marker: marker}, nil
}

func (f *front) tagRole(c *service.Call, in *TagRoleRequest) (*none, error) {
	var v check
	v.text("roleName", in.RoleName, roleNameRule)
	v.tags("tags", in.Tags)
	if err := v.err(); err != nil {
		return nil, err
	}
	return nil, f.tagEntity(c, state.KindRole, "iam:TagRole", in.RoleName, in.Tags)
}

func (f *front) untagRole(c *service.Call, in *UntagRoleRequest) (*none, error) {
	var v check
	v.text("roleName", in.RoleName, roleNameRule)
	v.tagKeys("tagKeys", in.TagKeys)
	if err := v.err(); err != nil {
		return nil, err
	}
	return nil, f.untagEntity(c, state.KindRole, "iam:UntagRole", in.RoleName, in.TagKeys)
}

func (f *front) listRoleTags(c *service.Call, in *ListRoleTagsRequest) (*ListRoleTagsResponse, error) {
	var v check
	v.text("roleName", in.RoleName, roleNameRule)
	v.paging(in.Marker, in.MaxItems)
	if err := v.err(); err != nil {
		return nil, err
	}
	tags, truncated, marker, err := f.listEntityTags(c, state.KindRole, "iam:ListRoleTags", in.RoleName, in.Marker, in.MaxItems)
	if err != nil {
		return nil, err
	}
	return &ListRoleTagsResponse{Tags: tags, IsTruncated: truncated, Marker: marker}, nil
}
