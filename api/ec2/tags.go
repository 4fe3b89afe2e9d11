package ec2

import (
	"errors"
	"sort"
	"strings"

	"github.com/banyancloud/banyan/api/service"
	"github.com/banyancloud/banyan/cluster/state"
)

// resourceType names a resource ID's kind as DescribeTags and TagSpecifications do.
func resourceType(id string) string {
	switch {
	case strings.HasPrefix(id, "i-"):
		return "instance"
	case strings.HasPrefix(id, "ami-"):
		return "image"
	case strings.HasPrefix(id, "key-"):
		return "key-pair"
	case strings.HasPrefix(id, "import-ami-"):
		return "import-image-task"
	case strings.HasPrefix(id, "import-snap-"):
		return "import-snapshot-task"
	case strings.HasPrefix(id, "vol-"):
		return "volume"
	case strings.HasPrefix(id, "snap-"):
		return "snapshot"
	case strings.HasPrefix(id, "eipalloc-"):
		return "elastic-ip"
	}
	return ""
}

func checkTagIDs(ids []string) error {
	if len(ids) == 0 {
		return errMissingParameter("The request must contain the parameter resourceIdSet")
	}
	for _, id := range ids {
		if resourceType(id) == "" {
			return errInvalidID("The ID '%s' is not valid", id)
		}
	}
	return nil
}

func (f *front) tagARNs(c *service.Call, ids []string) []string {
	var out []string
	for _, id := range ids {
		out = append(out, f.arn(c, resourceType(id), id))
	}
	return out
}

func (f *front) createTags(c *service.Call, in *CreateTagsRequest) (*struct{}, error) {
	if err := checkTagIDs(in.Resources); err != nil {
		return nil, err
	}
	if err := f.authorize(c, "CreateTags", in.DryRun, f.tagARNs(c, in.Resources)...); err != nil {
		return nil, err
	}
	if len(in.Tags) == 0 {
		return nil, errMissingParameter("The request must contain the parameter tagSet")
	}
	set := map[string]string{}
	for _, t := range in.Tags {
		k := deref(t.Key)
		switch {
		case k == "":
			return nil, errInvalidParameterValue("Tag keys must not be empty")
		case len(k) > 128:
			return nil, errInvalidParameterValue("Tag key exceeds the maximum length of 128 characters")
		case strings.HasPrefix(strings.ToLower(k), "aws:"):
			return nil, errInvalidParameterValue("Tag keys starting with 'aws:' are reserved for internal use")
		case len(deref(t.Value)) > 256:
			return nil, errInvalidParameterValue("Tag value exceeds the maximum length of 256 characters")
		}
		set[k] = deref(t.Value)
	}
	return nil, f.applyTags(c, &state.TagResources{Account: c.Caller.AccountID, IDs: in.Resources, Set: set})
}

func (f *front) deleteTags(c *service.Call, in *DeleteTagsRequest) (*struct{}, error) {
	if err := checkTagIDs(in.Resources); err != nil {
		return nil, err
	}
	if err := f.authorize(c, "DeleteTags", in.DryRun, f.tagARNs(c, in.Resources)...); err != nil {
		return nil, err
	}
	cmd := &state.TagResources{Account: c.Caller.AccountID, IDs: in.Resources, Remove: map[string]string{}, RemoveAll: len(in.Tags) == 0}
	for _, t := range in.Tags {
		if t.Value == nil {
			cmd.RemoveAny = append(cmd.RemoveAny, deref(t.Key))
		} else {
			cmd.Remove[deref(t.Key)] = *t.Value
		}
	}
	return nil, f.applyTags(c, cmd)
}

// applyTags applies a tag change, catching up once when a resource is not found (made
// through another box a moment ago).
func (f *front) applyTags(c *service.Call, cmd *state.TagResources) error {
	_, err := f.cluster.Apply(c.Ctx, cmd, nil)
	if err == nil {
		return nil
	}
	if errors.Is(err, state.ErrNotFound) {
		f.catchUp(c)
		_, err = f.cluster.Apply(c.Ctx, cmd, nil)
	}
	return err
}

var tagFilters = []string{"key", "value", "resource-id", "resource-type"}

func (f *front) describeTags(c *service.Call, in *DescribeTagsRequest) (*DescribeTagsResult, error) {
	if err := f.authorize(c, "DescribeTags", in.DryRun); err != nil {
		return nil, err
	}
	fs, err := parseFilters(in.Filters, tagFilters...)
	if err != nil {
		return nil, err
	}
	acct := c.Caller.AccountID
	var all []TagDescription
	add := func(id string, tags map[string]string) {
		for k, v := range tags {
			td := TagDescription{Key: ptr(k), Value: ptr(v), ResourceId: ptr(id), ResourceType: ptr(resourceType(id))}
			if fs.match(func(name string) []string {
				switch name {
				case "key":
					return []string{k}
				case "value":
					return []string{v}
				case "resource-id":
					return []string{id}
				case "resource-type":
					return []string{resourceType(id)}
				}
				return nil
			}, nil) {
				all = append(all, td)
			}
		}
	}
	insts, err := f.st().Instances(acct)
	if err != nil {
		return nil, err
	}
	for _, x := range insts {
		add(x.ID, x.Tags)
	}
	images, err := f.st().Images()
	if err != nil {
		return nil, err
	}
	for _, x := range images {
		if x.Account == acct && x.State != state.ImageDeregistered {
			add(x.ID, x.Tags)
		}
	}
	keys, err := f.st().KeyPairs(acct)
	if err != nil {
		return nil, err
	}
	for _, x := range keys {
		add(x.ID, x.Tags)
	}
	tasks, _, err := f.st().ImportTasks(acct)
	if err != nil {
		return nil, err
	}
	for _, x := range tasks {
		add(x.ID, x.Tags)
	}
	vols, _, err := f.st().Volumes(acct)
	if err != nil {
		return nil, err
	}
	for _, x := range vols {
		add(x.ID, x.Tags)
	}
	snaps, _, err := f.st().Snapshots()
	if err != nil {
		return nil, err
	}
	for _, x := range snaps {
		if x.Account == acct && x.State != state.SnapshotDeleting {
			add(x.ID, x.Tags)
		}
	}
	sort.Slice(all, func(i, j int) bool {
		if *all[i].ResourceId != *all[j].ResourceId {
			return *all[i].ResourceId < *all[j].ResourceId
		}
		return *all[i].Key < *all[j].Key
	})
	items, next, err := page(all, in.MaxResults, in.NextToken, 5, 1000)
	if err != nil {
		return nil, err
	}
	return &DescribeTagsResult{Tags: items, NextToken: next}, nil
}
