package ec2

import (
	"errors"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/banyancloud/banyan/api/service"
	"github.com/banyancloud/banyan/cluster/state"
)

// EBS snapshots: the front end records a pending snapshot and the box that takes it
// (the volume's primary, or a box holding a copy) uploads the extents changed since the
// volume's previous snapshot to the object store (node/snapshots.go, blockstore/snapshot).

var (
	snapshotIDRE         = regexp.MustCompile(`^snap-[0-9a-f]{8}([0-9a-f]{9})?$`)
	errSnapshotMalformed = ec2err("InvalidSnapshotID.Malformed", http.StatusBadRequest)
	errSnapshotInUse     = ec2err("InvalidSnapshot.InUse", http.StatusBadRequest)
)

// snapErr gives a state error EC2's snapshot wording.
func snapErr(err error) error {
	var se *state.Error
	if !errors.As(err, &se) {
		return err
	}
	switch se.Code {
	case state.CodeNotFound:
		if strings.Contains(se.Message, "snapshot") {
			return errSnapshotNotFound("%s", se.Message)
		}
	case state.CodeIncorrectState:
		return errIncorrectVolState("%s", se.Message)
	case state.CodeInsufficientCapacity:
		if strings.Contains(se.Message, "snapshot") {
			return ec2err("InsufficientCapacity", http.StatusServiceUnavailable)("%s", se.Message)
		}
	}
	return volErr(err)
}

func (f *front) toSnapshot(s *state.Snapshot) Snapshot {
	out := Snapshot{SnapshotId: ptr(s.ID), VolumeId: ptr(s.VolumeID), State: ptr(s.State), StartTime: ptr(s.StartTime),
		Progress: ptr(strconv.Itoa(s.Progress) + "%"), OwnerId: ptr(s.Account), Description: ptr(s.Description),
		VolumeSize: ptr(int32(s.VolumeSizeGiB)), Encrypted: ptr(false), StorageTier: ptr("standard"), Tags: tagList(s.Tags)}
	if s.State == state.SnapshotError && s.StateMessage != "" {
		out.StateMessage = ptr(s.StateMessage)
	}
	if s.CopyOf != "" {
		// EC2 shows a copy's volume as the fake vol-ffffffff.
		out.VolumeId = ptr("vol-ffffffff")
	}
	if s.State == state.SnapshotCompleted {
		out.FullSnapshotSizeInBytes = ptr(int64(s.VolumeSizeGiB) << 30)
	}
	return out
}

func (f *front) createSnapshot(c *service.Call, in *CreateSnapshotRequest) (*Snapshot, error) {
	if err := f.authorize(c, "CreateSnapshot", in.DryRun, f.arn(c, "volume", in.VolumeId), f.arn(c, "snapshot", "*")); err != nil {
		return nil, err
	}
	tags, err := specTags(in.TagSpecifications, "snapshot")
	if err != nil {
		return nil, err
	}
	v, err := f.ownVolume(c, in.VolumeId)
	if err != nil {
		return nil, err
	}
	if len(deref(in.Description)) > 255 {
		return nil, errInvalidParameterValue("The description may be at most 255 characters long")
	}
	s, err := f.newSnapshot(c, v, deref(in.Description), tags)
	if err != nil {
		return nil, err
	}
	out := f.toSnapshot(s)
	return &out, nil
}

func (f *front) newSnapshot(c *service.Call, v *state.Volume, desc string, tags map[string]string) (*state.Snapshot, error) {
	s := state.Snapshot{ID: f.deps.NewID("snap-"), Account: c.Caller.AccountID, VolumeID: v.ID, VolumeSizeGiB: v.SizeGiB,
		Description: desc, StartTime: f.deps.Now(), Tags: tags}
	if _, err := f.cluster.Apply(c.Ctx, &state.CreateSnapshot{Snapshot: s, LiveNodes: f.deps.Live()}, nil); err != nil {
		return nil, snapErr(err)
	}
	s.State = state.SnapshotPending
	return &s, nil
}

// createSnapshots snapshots every EBS volume attached to an instance (the root disk is
// the instance's own, not an EBS volume), each crash-consistent on its own.
func (f *front) createSnapshots(c *service.Call, in *CreateSnapshotsRequest) (*CreateSnapshotsResult, error) {
	if in.InstanceSpecification == nil || in.InstanceSpecification.InstanceId == "" {
		return nil, errMissingParameter("The request must contain the parameter InstanceSpecification.InstanceId")
	}
	id := in.InstanceSpecification.InstanceId
	if err := f.authorize(c, "CreateSnapshots", in.DryRun, f.arn(c, "instance", id), f.arn(c, "snapshot", "*")); err != nil {
		return nil, err
	}
	if _, err := f.ownInstances(c, []string{id}); err != nil {
		return nil, err
	}
	tags, err := specTags(in.TagSpecifications, "snapshot")
	if err != nil {
		return nil, err
	}
	vols, _, err := f.st().Volumes(c.Caller.AccountID)
	if err != nil {
		return nil, err
	}
	sort.Slice(vols, func(i, j int) bool { return vols[i].ID < vols[j].ID })
	out := &CreateSnapshotsResult{Snapshots: []SnapshotInfo{}}
	for _, v := range vols {
		if v.Attachment == nil || v.Attachment.InstanceID != id || slices.Contains(in.InstanceSpecification.ExcludeDataVolumeIds, v.ID) {
			continue
		}
		t := tags
		if deref(in.CopyTagsFromSource) == "volume" {
			t = map[string]string{}
			for k, val := range v.Tags {
				t[k] = val
			}
			for k, val := range tags {
				t[k] = val
			}
		}
		s, err := f.newSnapshot(c, v, deref(in.Description), t)
		if err != nil {
			return nil, err
		}
		out.Snapshots = append(out.Snapshots, SnapshotInfo{SnapshotId: ptr(s.ID), VolumeId: ptr(v.ID), State: ptr(s.State),
			VolumeSize: ptr(int32(s.VolumeSizeGiB)), StartTime: ptr(s.StartTime), Progress: ptr("0%"), OwnerId: ptr(s.Account),
			Description: ptr(s.Description), Encrypted: ptr(false), Tags: tagList(s.Tags), AvailabilityZone: ptr(v.Zone)})
	}
	return out, nil
}

// visibleSnapshot finds a snapshot the caller owns (own) or may use, catching up once.
func (f *front) visibleSnapshot(c *service.Call, id string, own bool) (*state.Snapshot, error) {
	if id == "" {
		return nil, errMissingParameter("The request must contain the parameter SnapshotId")
	}
	if !snapshotIDRE.MatchString(id) {
		return nil, errSnapshotMalformed("Invalid id: \"%s\"", id)
	}
	ok := func(s *state.Snapshot) bool {
		return s.State != state.SnapshotDeleting && (s.Account == c.Caller.AccountID || !own && s.MayCreateVolume(c.Caller.AccountID))
	}
	s, err := f.st().Snapshot(id)
	if err != nil || !ok(s) {
		f.catchUp(c)
		s, err = f.st().Snapshot(id)
	}
	if err != nil || !ok(s) {
		return nil, errSnapshotNotFound("The snapshot '%s' does not exist.", id)
	}
	return s, nil
}

func (f *front) deleteSnapshot(c *service.Call, in *DeleteSnapshotRequest) (*struct{}, error) {
	if err := f.authorize(c, "DeleteSnapshot", in.DryRun, f.arn(c, "snapshot", in.SnapshotId)); err != nil {
		return nil, err
	}
	s, err := f.visibleSnapshot(c, in.SnapshotId, true)
	if err != nil {
		return nil, err
	}
	// A snapshot an EBS-backed image maps is InvalidSnapshot.InUse (decided in the apply).
	_, err = f.cluster.Apply(c.Ctx, &state.DeleteSnapshot{Account: c.Caller.AccountID, ID: s.ID, LiveNodes: f.deps.Live()}, nil)
	return nil, snapErr(err)
}

var snapshotFilters = []string{"description", "owner-id", "owner-alias", "progress", "snapshot-id", "start-time", "status",
	"volume-id", "volume-size", "encrypted", "storage-tier", "tag-key"}

func snapshotAttr(s *state.Snapshot, name string) []string {
	switch name {
	case "description":
		return []string{s.Description}
	case "owner-id":
		return []string{s.Account}
	case "progress":
		return []string{strconv.Itoa(s.Progress) + "%"}
	case "snapshot-id":
		return []string{s.ID}
	case "start-time":
		return []string{s.StartTime.UTC().Format("2006-01-02T15:04:05.000Z")}
	case "status":
		return []string{s.State}
	case "volume-id":
		return []string{s.VolumeID}
	case "volume-size":
		return []string{strconv.Itoa(s.VolumeSizeGiB)}
	case "encrypted":
		return []string{"false"}
	case "storage-tier":
		return []string{"standard"}
	}
	return nil
}

func (f *front) describeSnapshots(c *service.Call, in *DescribeSnapshotsRequest) (*DescribeSnapshotsResult, error) {
	if err := f.authorize(c, "DescribeSnapshots", in.DryRun); err != nil {
		return nil, err
	}
	if len(in.SnapshotIds) > 0 && in.MaxResults != nil {
		return nil, errInvalidParameterCombo("The parameter snapshotSet cannot be used with the parameter maxResults")
	}
	fs, err := parseFilters(in.Filters, snapshotFilters...)
	if err != nil {
		return nil, err
	}
	for _, id := range in.SnapshotIds {
		if !snapshotIDRE.MatchString(id) {
			return nil, errSnapshotMalformed("Invalid id: \"%s\"", id)
		}
	}
	me := c.Caller.AccountID
	owners := map[string]bool{}
	for _, o := range in.OwnerIds {
		switch {
		case o == "self":
			owners[me] = true
		case o == "amazon" || o == "aws-marketplace" || accountIDRE.MatchString(o):
			owners[o] = true
		default:
			return nil, errInvalidParameterValue("Invalid value '%s' for ownerId", o)
		}
	}
	restorable := map[string]bool{}
	for _, u := range in.RestorableByUserIds {
		if u == "self" {
			u = me
		}
		restorable[u] = true
	}
	visible := func(s *state.Snapshot) bool {
		if s.State == state.SnapshotDeleting || !(s.Account == me || s.MayCreateVolume(me)) {
			return false
		}
		if len(owners) > 0 && !owners[s.Account] {
			return false
		}
		if len(restorable) > 0 {
			hit := false
			for u := range restorable {
				hit = hit || s.MayCreateVolume(u)
			}
			if !hit {
				return false
			}
		}
		return true
	}
	list, err := listWanting(f, c, in.SnapshotIds, func(s *state.Snapshot) string { return s.ID },
		func() ([]*state.Snapshot, error) {
			all, _, err := f.st().Snapshots()
			return slices.DeleteFunc(all, func(s *state.Snapshot) bool { return !visible(s) }), err
		},
		func(id string) error { return errSnapshotNotFound("The snapshot '%s' does not exist.", id) })
	if err != nil {
		return nil, err
	}
	kept := selectSorted(list, in.SnapshotIds, fs, func(s *state.Snapshot) string { return s.ID }, snapshotAttr,
		func(s *state.Snapshot) map[string]string { return s.Tags })
	items, next, err := page(kept, in.MaxResults, in.NextToken, 5, 1000)
	if err != nil {
		return nil, err
	}
	out := &DescribeSnapshotsResult{Snapshots: []Snapshot{}, NextToken: next}
	for _, s := range items {
		out.Snapshots = append(out.Snapshots, f.toSnapshot(s))
	}
	return out, nil
}

func (f *front) copySnapshot(c *service.Call, in *CopySnapshotRequest) (*CopySnapshotResult, error) {
	if err := f.authorize(c, "CopySnapshot", in.DryRun, f.arn(c, "snapshot", in.SourceSnapshotId), f.arn(c, "snapshot", "*")); err != nil {
		return nil, err
	}
	if in.SourceRegion == "" {
		return nil, errMissingParameter("The request must contain the parameter SourceRegion")
	}
	if in.SourceRegion != f.deps.Region {
		return nil, errInvalidParameterValue("Snapshots can be copied only within region %s of this cloud, not from %s", f.deps.Region, in.SourceRegion)
	}
	if r := deref(in.DestinationRegion); r != "" && r != f.deps.Region {
		return nil, errInvalidParameterValue("Snapshots can be copied only within region %s of this cloud", f.deps.Region)
	}
	if deref(in.Encrypted) || deref(in.KmsKeyId) != "" {
		return nil, errInvalidParameterValue("Encrypted snapshots are not supported by this cloud")
	}
	src, err := f.visibleSnapshot(c, in.SourceSnapshotId, false)
	if err != nil {
		return nil, err
	}
	if src.State != state.SnapshotCompleted {
		return nil, errIncorrectVolState("Snapshot '%s' is not 'completed'; it is %s.", src.ID, src.State)
	}
	tags, err := specTags(in.TagSpecifications, "snapshot")
	if err != nil {
		return nil, err
	}
	desc := deref(in.Description)
	if desc == "" {
		desc = "[Copied " + src.ID + " from " + in.SourceRegion + "]"
	}
	s := state.Snapshot{ID: f.deps.NewID("snap-"), Account: c.Caller.AccountID, CopyOf: src.ID, Description: desc,
		StartTime: f.deps.Now(), Tags: tags}
	if _, err := f.cluster.Apply(c.Ctx, &state.CreateSnapshot{Snapshot: s, LiveNodes: f.deps.Live()}, nil); err != nil {
		return nil, snapErr(err)
	}
	return &CopySnapshotResult{SnapshotId: ptr(s.ID), Tags: tagList(tags)}, nil
}

func (f *front) describeSnapshotAttribute(c *service.Call, in *DescribeSnapshotAttributeRequest) (*DescribeSnapshotAttributeResult, error) {
	if err := f.authorize(c, "DescribeSnapshotAttribute", in.DryRun, f.arn(c, "snapshot", in.SnapshotId)); err != nil {
		return nil, err
	}
	s, err := f.visibleSnapshot(c, in.SnapshotId, true)
	if err != nil {
		return nil, err
	}
	out := &DescribeSnapshotAttributeResult{SnapshotId: ptr(s.ID)}
	switch in.Attribute {
	case "createVolumePermission":
		out.CreateVolumePermissions = []CreateVolumePermission{}
		for _, a := range s.CreateVolumePermissions {
			if a == "all" {
				out.CreateVolumePermissions = append(out.CreateVolumePermissions, CreateVolumePermission{Group: ptr("all")})
			} else {
				out.CreateVolumePermissions = append(out.CreateVolumePermissions, CreateVolumePermission{UserId: ptr(a)})
			}
		}
	case "productCodes":
		out.ProductCodes = []ProductCode{}
	case "":
		return nil, errMissingParameter("The request must contain the parameter Attribute")
	default:
		return nil, errInvalidParameterValue("Value (%s) for parameter attribute is invalid. Valid values are createVolumePermission, productCodes.", in.Attribute)
	}
	return out, nil
}

// permissionList turns createVolumePermission entries into account IDs and "all".
func permissionList(perms []CreateVolumePermission) ([]string, error) {
	var out []string
	for _, p := range perms {
		switch {
		case p.Group != nil && *p.Group == "all":
			out = append(out, "all")
		case p.Group != nil:
			return nil, errInvalidParameterValue("Value (%s) for parameter group is invalid. Only 'all' is supported.", *p.Group)
		case p.UserId != nil && accountIDRE.MatchString(*p.UserId):
			out = append(out, *p.UserId)
		case p.UserId != nil:
			return nil, errInvalidParameterValue("Value (%s) for parameter userId is invalid. It must be a 12-digit account ID.", *p.UserId)
		}
	}
	return out, nil
}

func (f *front) modifySnapshotAttribute(c *service.Call, in *ModifySnapshotAttributeRequest) (*struct{}, error) {
	if err := f.authorize(c, "ModifySnapshotAttribute", in.DryRun, f.arn(c, "snapshot", in.SnapshotId)); err != nil {
		return nil, err
	}
	if a := deref(in.Attribute); a != "" && a != "createVolumePermission" {
		return nil, errInvalidParameterValue("Value (%s) for parameter attribute is invalid. Only createVolumePermission can be modified.", a)
	}
	s, err := f.visibleSnapshot(c, in.SnapshotId, true)
	if err != nil {
		return nil, err
	}
	cmd := &state.SetSnapshotAttribute{Account: c.Caller.AccountID, ID: s.ID}
	if m := in.CreateVolumePermission; m != nil {
		if cmd.Add, err = permissionList(m.Add); err != nil {
			return nil, err
		}
		if cmd.Remove, err = permissionList(m.Remove); err != nil {
			return nil, err
		}
	}
	// The older form: OperationType with UserId.N and UserGroup.N.
	var named []CreateVolumePermission
	for _, u := range in.UserIds {
		named = append(named, CreateVolumePermission{UserId: ptr(u)})
	}
	for _, g := range in.GroupNames {
		named = append(named, CreateVolumePermission{Group: ptr(g)})
	}
	if len(named) > 0 {
		list, err := permissionList(named)
		if err != nil {
			return nil, err
		}
		switch deref(in.OperationType) {
		case "add":
			cmd.Add = append(cmd.Add, list...)
		case "remove":
			cmd.Remove = append(cmd.Remove, list...)
		default:
			return nil, errMissingParameter("The request must contain the parameter OperationType (add or remove)")
		}
	}
	if len(cmd.Add)+len(cmd.Remove) == 0 {
		return nil, errMissingParameter("The request must contain the parameter createVolumePermission")
	}
	_, err = f.cluster.Apply(c.Ctx, cmd, nil)
	return nil, snapErr(err)
}

func (f *front) resetSnapshotAttribute(c *service.Call, in *ResetSnapshotAttributeRequest) (*struct{}, error) {
	if err := f.authorize(c, "ResetSnapshotAttribute", in.DryRun, f.arn(c, "snapshot", in.SnapshotId)); err != nil {
		return nil, err
	}
	if in.Attribute != "createVolumePermission" {
		return nil, errInvalidParameterValue("Value (%s) for parameter attribute is invalid. Only createVolumePermission can be reset.", in.Attribute)
	}
	s, err := f.visibleSnapshot(c, in.SnapshotId, true)
	if err != nil {
		return nil, err
	}
	_, err = f.cluster.Apply(c.Ctx, &state.SetSnapshotAttribute{Account: c.Caller.AccountID, ID: s.ID, Reset: true}, nil)
	return nil, snapErr(err)
}
