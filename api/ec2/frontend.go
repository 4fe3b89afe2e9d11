package ec2

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/banyancloud/banyan/api/awserr"
	"github.com/banyancloud/banyan/api/protocol/ec2query"
	"github.com/banyancloud/banyan/api/service"
	"github.com/banyancloud/banyan/cluster/state"
)

// Deps is what the front end needs from the rest of the box that the replicated state
// does not hold.
type Deps struct {
	Region string
	// Live names the boxes that are up now (gossip plus node RPC evidence): the
	// scheduler considers only those, and instances elsewhere show impaired.
	Live func() []string
	// Console returns an instance's console log from the box it runs on.
	Console func(ctx context.Context, node, instanceID string) ([]byte, error)
	// ImportSource checks that s3://bucket/key exists and the account owns the bucket,
	// and returns its size.
	ImportSource func(ctx context.Context, account, bucket, key string) (int64, error)
	// NewID makes prefix + 17 hex digits (node.NewEC2ID).
	NewID  func(prefix string) string
	Now    func() time.Time
	Logger *slog.Logger
}

type front struct {
	cluster service.Cluster
	deps    Deps
}

// New returns the EC2 front end as an RPC service for the front door.
func New(c service.Cluster, d Deps) *service.RPC {
	if d.Now == nil {
		d.Now = func() time.Time { return time.Now().UTC() }
	}
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	f := &front{cluster: c, deps: d}
	return &service.RPC{Name: "ec2", Codec: ec2query.New(Service), Handlers: f.handlers(), MapError: MapError}
}

func (f *front) handlers() map[string]service.Handler {
	return map[string]service.Handler{
		"RunInstances":              handle(f.runInstances),
		"DescribeInstances":         handle(f.describeInstances),
		"TerminateInstances":        handle(f.terminateInstances),
		"StopInstances":             handle(f.stopInstances),
		"StartInstances":            handle(f.startInstances),
		"RebootInstances":           handle(f.rebootInstances),
		"DescribeInstanceStatus":    handle(f.describeInstanceStatus),
		"GetConsoleOutput":          handle(f.getConsoleOutput),
		"DescribeInstanceAttribute": handle(f.describeInstanceAttribute),
		"ModifyInstanceAttribute":   handle(f.modifyInstanceAttribute),
		"DescribeInstanceTypes":     handle(f.describeInstanceTypes),
		"DescribeAccountAttributes": handle(f.describeAccountAttributes),
		"ImportImage":               handle(f.importImage),
		"DescribeImportImageTasks":  handle(f.describeImportImageTasks),
		"CancelImportTask":          handle(f.cancelImportTask),
		"DescribeImages":            handle(f.describeImages),
		"DeregisterImage":           handle(f.deregisterImage),
		"DescribeImageAttribute":    handle(f.describeImageAttribute),
		"ModifyImageAttribute":      handle(f.modifyImageAttribute),
		"ResetImageAttribute":       handle(f.resetImageAttribute),
		"CopyImage":                 handle(f.copyImage),
		"RegisterImage":             handle(f.registerImage),
		"CreateImage":               handle(f.createImage),
		"CreateKeyPair":             handle(f.createKeyPair),
		"ImportKeyPair":             handle(f.importKeyPair),
		"DescribeKeyPairs":          handle(f.describeKeyPairs),
		"DeleteKeyPair":             handle(f.deleteKeyPair),
		"CreateTags":                handle(f.createTags),
		"DeleteTags":                handle(f.deleteTags),
		"DescribeTags":              handle(f.describeTags),
		"DescribeAvailabilityZones": handle(f.describeAvailabilityZones),
		"CreateVolume":              handle(f.createVolume),
		"DeleteVolume":              handle(f.deleteVolume),
		"DescribeVolumes":           handle(f.describeVolumes),
		"AttachVolume":              handle(f.attachVolume),
		"DetachVolume":              handle(f.detachVolume),
		"DescribeVolumeStatus":      handle(f.describeVolumeStatus),
		"CreateSnapshot":            handle(f.createSnapshot),
		"CreateSnapshots":           handle(f.createSnapshots),
		"DeleteSnapshot":            handle(f.deleteSnapshot),
		"DescribeSnapshots":         handle(f.describeSnapshots),
		"CopySnapshot":              handle(f.copySnapshot),
		"DescribeSnapshotAttribute": handle(f.describeSnapshotAttribute),
		"ModifySnapshotAttribute":   handle(f.modifySnapshotAttribute),
		"ResetSnapshotAttribute":    handle(f.resetSnapshotAttribute),
		"DescribeRegions":           handle(f.describeRegions),
		"DescribeVpcs":              handle(f.describeVpcs),
		"DescribeVpcAttribute":      handle(f.describeVpcAttribute),
		"DescribeSubnets":           handle(f.describeSubnets),
		"ModifySubnetAttribute":     handle(f.modifySubnetAttribute),
		"DescribeSecurityGroups":    handle(f.describeSecurityGroups),
		"DescribeNetworkInterfaces": handle(f.describeNetworkInterfaces),
		"DescribeRouteTables":       handle(f.describeRouteTables),
		"DescribeInternetGateways":  handle(f.describeInternetGateways),
		// Security groups (securitygroups.go).
		"CreateSecurityGroup":             handle(f.createSecurityGroup),
		"DeleteSecurityGroup":             handle(f.deleteSecurityGroup),
		"AuthorizeSecurityGroupIngress":   handle(f.authorizeSecurityGroupIngress),
		"AuthorizeSecurityGroupEgress":    handle(f.authorizeSecurityGroupEgress),
		"RevokeSecurityGroupIngress":      handle(f.revokeSecurityGroupIngress),
		"RevokeSecurityGroupEgress":       handle(f.revokeSecurityGroupEgress),
		"DescribeSecurityGroupRules":      handle(f.describeSecurityGroupRules),
		"ModifyNetworkInterfaceAttribute": handle(f.modifyNetworkInterfaceAttribute),
		// Volume modifications and attributes (volumemods.go).
		"ModifyVolume":                 handle(f.modifyVolume),
		"DescribeVolumesModifications": handle(f.describeVolumesModifications),
		"DescribeVolumeAttribute":      handle(f.describeVolumeAttribute),
		"ModifyVolumeAttribute":        handle(f.modifyVolumeAttribute),
		// Elastic IP addresses (addresses.go).
		"AllocateAddress":     handle(f.allocateAddress),
		"AssociateAddress":    handle(f.associateAddress),
		"DisassociateAddress": handle(f.disassociateAddress),
		"ReleaseAddress":      handle(f.releaseAddress),
		"DescribeAddresses":   handle(f.describeAddresses),
		// ImportSnapshot (importsnapshots.go); CancelImportTask serves both kinds of task.
		"ImportSnapshot":              handle(f.importSnapshot),
		"DescribeImportSnapshotTasks": handle(f.describeImportSnapshotTasks),
	}
}

func handle[In, Out any](h func(c *service.Call, in *In) (*Out, error)) service.Handler {
	return func(c *service.Call, input any) (any, error) {
		in, _ := input.(*In)
		if in == nil {
			in = new(In)
		}
		out, err := h(c, in)
		if err != nil || out == nil {
			return nil, err
		}
		return out, nil
	}
}

func (f *front) st() *state.Store { return f.cluster.State() }

func (f *front) arn(c *service.Call, kind, id string) string {
	return "arn:aws:ec2:" + f.deps.Region + ":" + c.Caller.AccountID + ":" + kind + "/" + id
}

// authorize checks ec2:action on each resource (or "*"), and honours DryRun as EC2
// does: an allowed dry run answers DryRunOperation.
func (f *front) authorize(c *service.Call, action string, dryRun *bool, resources ...string) error {
	if len(resources) == 0 {
		resources = []string{"*"}
	}
	for _, r := range resources {
		if err := c.Authorize("ec2:"+action, r); err != nil {
			var ae *awserr.Error
			if errors.As(err, &ae) && ae.Code == awserr.AccessDenied.Code {
				// EC2's word for a call IAM policy does not allow.
				return errUnauthorized("You are not authorized to perform this operation. %s", ae.Message)
			}
			return err
		}
	}
	if dryRun != nil && *dryRun {
		return errDryRun
	}
	return nil
}

// catchUp brings the replica up to date before answering "not found" (a resource made
// through another box a moment ago).
func (f *front) catchUp(c *service.Call) {
	if cu, ok := f.cluster.(service.CatchUpper); ok {
		cu.CatchUp(c.Ctx)
	}
}

func ptr[T any](v T) *T { return &v }

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// filters is a DescribeX filter set: a resource passes when, for every filter, one of
// the filter's values matches (EC2's * and ? wildcards).
type filters map[string][]string

func parseFilters(fs []Filter, known ...string) (filters, error) {
	out := filters{}
	for _, fl := range fs {
		name := deref(fl.Name)
		ok := strings.HasPrefix(name, "tag:")
		for _, k := range known {
			ok = ok || k == name
		}
		if !ok {
			return nil, errInvalidFilter("The filter '%s' is invalid", name)
		}
		out[name] = append(out[name], fl.Values...)
	}
	return out, nil
}

// match reports whether the resource with the given attribute values and tags passes.
func (fs filters) match(attr func(name string) []string, tags map[string]string) bool {
	for name, want := range fs {
		var have []string
		switch {
		case strings.HasPrefix(name, "tag:"):
			if v, ok := tags[strings.TrimPrefix(name, "tag:")]; ok {
				have = []string{v}
			}
		case name == "tag-key":
			for k := range tags {
				have = append(have, k)
			}
		default:
			have = attr(name)
		}
		if !anyMatch(want, have) {
			return false
		}
	}
	return true
}

func anyMatch(patterns, values []string) bool {
	for _, p := range patterns {
		for _, v := range values {
			if wildcard(p, v) {
				return true
			}
		}
	}
	return false
}

// wildcard matches EC2 filter values: * any run, ? any one character.
func wildcard(p, s string) bool {
	for len(p) > 0 {
		switch p[0] {
		case '*':
			for i := len(s); i >= 0; i-- {
				if wildcard(p[1:], s[i:]) {
					return true
				}
			}
			return false
		case '?':
			if len(s) == 0 {
				return false
			}
		default:
			if len(s) == 0 || s[0] != p[0] {
				return false
			}
		}
		p, s = p[1:], s[1:]
	}
	return len(s) == 0
}

// page cuts items at MaxResults after the position NextToken names (an offset).
func page[T any](items []T, max *int32, token *string, lo, hi int32) ([]T, *string, error) {
	start := 0
	if t := deref(token); t != "" {
		n, err := strconv.Atoi(t)
		if err != nil || n < 0 || n > len(items) {
			return nil, nil, errInvalidNextToken("The token '%s' is invalid.", t)
		}
		start = n
	}
	if max == nil {
		return items[start:], nil, nil
	}
	if *max < lo || *max > hi {
		return nil, nil, errInvalidParameterValue("Value ( %d ) for parameter maxResults is invalid. Expecting a value between %d and %d.", *max, lo, hi)
	}
	end := min(start+int(*max), len(items))
	var next *string
	if end < len(items) {
		next = ptr(strconv.Itoa(end))
	}
	return items[start:end], next, nil
}

func tagList(m map[string]string) []Tag {
	var out []Tag
	for k, v := range m {
		out = append(out, Tag{Key: ptr(k), Value: ptr(v)})
	}
	return out
}

// specTags collects the tags of the TagSpecifications for one resource type.
func specTags(specs []TagSpecification, resourceType string) (map[string]string, error) {
	var out map[string]string
	for _, s := range specs {
		if deref(s.ResourceType) != resourceType {
			continue
		}
		for _, t := range s.Tags {
			if deref(t.Key) == "" {
				return nil, errInvalidParameterValue("Tag keys must not be empty")
			}
			if out == nil {
				out = map[string]string{}
			}
			out[deref(t.Key)] = deref(t.Value)
		}
	}
	if len(out) > state.MaxTags {
		return nil, errTagLimitExceeded("The maximum number of tags is %d", state.MaxTags)
	}
	return out, nil
}
