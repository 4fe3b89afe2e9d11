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

// EBS volumes: the front end records intent (a volume and where its replicas go, an
// attachment and its primary) and the boxes converge (node/volumes.go): the replica boxes
// make their copies, the instance's box plugs the volume into the domain over NBD.

// SettingVolumeReplicas is the cluster setting for how many boxes hold each volume:
// "auto" (3 when the zone has at least 3 boxes, else 2) or a number.
const SettingVolumeReplicas = "blockstore.replicas"

var (
	volumeIDRE           = regexp.MustCompile(`^vol-[0-9a-f]{8}([0-9a-f]{9})?$`)
	deviceRE             = regexp.MustCompile(`^/dev/(sd[b-z]|xvd[b-z]|vd[b-z])$`)
	errVolumeNotFound    = ec2err("InvalidVolume.NotFound", http.StatusBadRequest)
	errVolumeMalformed   = ec2err("InvalidVolumeID.Malformed", http.StatusBadRequest)
	errVolumeInUse       = ec2err("VolumeInUse", http.StatusBadRequest)
	errIncorrectVolState = ec2err("IncorrectState", http.StatusBadRequest)
	errSnapshotNotFound  = ec2err("InvalidSnapshot.NotFound", http.StatusBadRequest)
)

// volumeTypes are EBS's types with their size limits in GiB and default IOPS/throughput.
var volumeTypes = map[string]struct{ minGiB, maxGiB int }{
	"gp2": {1, 16384}, "gp3": {1, 16384}, "io1": {4, 16384}, "io2": {4, 65536},
	"st1": {125, 16384}, "sc1": {125, 16384}, "standard": {1, 1024},
}

// volErr gives a state error EC2's volume wording.
func volErr(err error) error {
	var se *state.Error
	if !errors.As(err, &se) {
		return err
	}
	switch se.Code {
	case state.CodeNotFound:
		if strings.Contains(se.Message, "volume") {
			return errVolumeNotFound("%s", se.Message)
		}
	case state.CodeIncorrectState:
		return errIncorrectVolState("%s", se.Message)
	case state.CodeIncorrectInstanceState:
		return errIncorrectInstanceState("%s", se.Message)
	case state.CodeInUse:
		return errInvalidParameterValue("%s", se.Message)
	case state.CodeInsufficientCapacity:
		return ec2err("InsufficientVolumeCapacity", http.StatusServiceUnavailable)("%s", se.Message)
	}
	return err
}

func (f *front) replicaCount(zone string) int {
	n := 0
	if boxes, err := f.st().Boxes(); err == nil {
		for _, b := range boxes {
			if b.Zone == zone {
				n++
			}
		}
	}
	if set, err := f.st().Setting(SettingVolumeReplicas); err == nil && set.Value != "auto" {
		if r, err := strconv.Atoi(set.Value); err == nil && r > 0 {
			return r
		}
	}
	if n >= 3 {
		return 3
	}
	return 2
}

func (f *front) createVolume(c *service.Call, in *CreateVolumeRequest) (*Volume, error) {
	if err := f.authorize(c, "CreateVolume", in.DryRun, f.arn(c, "volume", "*")); err != nil {
		return nil, err
	}
	zone := deref(in.AvailabilityZone)
	if zone == "" {
		return nil, errMissingParameter("The request must contain the parameter AvailabilityZone")
	}
	if !slices.Contains(f.zones(), zone) {
		return nil, errInvalidParameterValue("Invalid availability zone: [%s]", zone)
	}
	var snap *state.Snapshot
	if id := deref(in.SnapshotId); id != "" {
		s, err := f.visibleSnapshot(c, id, false)
		if err != nil {
			return nil, err
		}
		if s.State != state.SnapshotCompleted {
			return nil, errIncorrectVolState("Snapshot '%s' is not 'completed'; it is %s.", s.ID, s.State)
		}
		snap = s
	}
	if deref(in.Encrypted) || deref(in.KmsKeyId) != "" {
		return nil, errInvalidParameterValue("Encrypted volumes are not supported by this cloud")
	}
	if deref(in.MultiAttachEnabled) {
		return nil, errInvalidParameterValue("Multi-Attach is not supported by this cloud")
	}
	typ := deref(in.VolumeType)
	if typ == "" {
		typ = "gp2"
	}
	lim, ok := volumeTypes[typ]
	if !ok {
		return nil, errInvalidParameterValue("Value (%s) for parameter volumeType is invalid. Valid values are standard, io1, io2, gp2, gp3, sc1, st1.", typ)
	}
	if in.Size == nil && snap == nil {
		return nil, errMissingParameter("The request must contain the parameter size or snapshotId")
	}
	var size int
	if in.Size != nil {
		size = int(*in.Size)
	} else {
		size = snap.VolumeSizeGiB
	}
	if snap != nil && size < snap.VolumeSizeGiB {
		return nil, errInvalidParameterValue("Volume of %dGiB is smaller than snapshot '%s', expect size >= %dGiB", size, snap.ID, snap.VolumeSizeGiB)
	}
	if size < lim.minGiB || size > lim.maxGiB {
		return nil, errInvalidParameterValue("Volume of %dGiB is out of range for %s volumes (%d-%d GiB).", size, typ, lim.minGiB, lim.maxGiB)
	}
	iops, thr := int(deref(in.Iops)), int(deref(in.Throughput))
	switch {
	case typ == "gp3" && iops == 0:
		iops = 3000
	case typ == "gp2":
		iops = min(max(100, 3*size), 16000)
	case (typ == "io1" || typ == "io2") && iops == 0:
		return nil, errMissingParameter("The parameter iops must be specified for %s volumes.", typ)
	}
	if typ == "gp3" && thr == 0 {
		thr = 125
	}
	tags, err := specTags(in.TagSpecifications, "volume")
	if err != nil {
		return nil, err
	}
	v := state.Volume{ID: f.deps.NewID("vol-"), Account: c.Caller.AccountID, Zone: zone, SizeGiB: size,
		VolumeType: typ, Iops: iops, Throughput: thr, CreateTime: f.deps.Now(), Tags: tags, SnapshotID: deref(in.SnapshotId)}
	if _, err := f.cluster.Apply(c.Ctx, &state.CreateVolume{Volume: v, Replicas: f.replicaCount(zone), LiveNodes: f.deps.Live()}, nil); err != nil {
		return nil, snapErr(err)
	}
	v.State = state.VolumeCreating
	out := f.toVolume(&v)
	return &out, nil
}

func (f *front) toVolume(v *state.Volume) Volume {
	out := Volume{VolumeId: ptr(v.ID), Size: ptr(int32(v.SizeGiB)), AvailabilityZone: ptr(v.Zone), State: ptr(v.State),
		CreateTime: ptr(v.CreateTime), VolumeType: ptr(v.VolumeType), Encrypted: ptr(false), MultiAttachEnabled: ptr(false),
		Tags: tagList(v.Tags), Attachments: []VolumeAttachment{}, SnapshotId: ptr(v.SnapshotID)}
	if v.Iops > 0 {
		out.Iops = ptr(int32(v.Iops))
	}
	if v.Throughput > 0 {
		out.Throughput = ptr(int32(v.Throughput))
	}
	if v.State == state.VolumeDeleting {
		out.State = ptr("deleting")
	}
	if a := v.Attachment; a != nil {
		out.Attachments = append(out.Attachments, VolumeAttachment{VolumeId: ptr(v.ID), InstanceId: ptr(a.InstanceID),
			Device: ptr(a.Device), State: ptr(a.State), AttachTime: ptr(a.AttachTime), DeleteOnTermination: ptr(a.DeleteOnTermination)})
	}
	return out
}

var volumeFilters = []string{"volume-id", "status", "size", "availability-zone", "volume-type", "attachment.instance-id",
	"attachment.device", "attachment.status", "attachment.delete-on-termination", "snapshot-id", "encrypted", "tag-key"}

func (f *front) describeVolumes(c *service.Call, in *DescribeVolumesRequest) (*DescribeVolumesResult, error) {
	if err := f.authorize(c, "DescribeVolumes", in.DryRun); err != nil {
		return nil, err
	}
	if len(in.VolumeIds) > 0 && in.MaxResults != nil {
		return nil, errInvalidParameterCombo("The parameter volumeSet cannot be used with the parameter maxResults")
	}
	fs, err := parseFilters(in.Filters, volumeFilters...)
	if err != nil {
		return nil, err
	}
	for _, id := range in.VolumeIds {
		if !volumeIDRE.MatchString(id) {
			return nil, errVolumeMalformed("Invalid id: \"%s\"", id)
		}
	}
	list, err := f.ownVolumes(c, in.VolumeIds)
	if err != nil {
		return nil, err
	}
	kept := selectSorted(list, in.VolumeIds, fs, func(v *state.Volume) string { return v.ID }, volumeAttr,
		func(v *state.Volume) map[string]string { return v.Tags })
	items, next, err := page(kept, in.MaxResults, in.NextToken, 5, 500)
	if err != nil {
		return nil, err
	}
	out := &DescribeVolumesResult{Volumes: []Volume{}, NextToken: next}
	for _, v := range items {
		out.Volumes = append(out.Volumes, f.toVolume(v))
	}
	return out, nil
}

func volumeAttr(v *state.Volume, name string) []string {
	a := v.Attachment
	switch name {
	case "volume-id":
		return []string{v.ID}
	case "status":
		return []string{v.State}
	case "size":
		return []string{strconv.Itoa(v.SizeGiB)}
	case "availability-zone":
		return []string{v.Zone}
	case "volume-type":
		return []string{v.VolumeType}
	case "snapshot-id":
		return []string{v.SnapshotID}
	case "encrypted":
		return []string{"false"}
	}
	if a == nil {
		return nil
	}
	switch name {
	case "attachment.instance-id":
		return []string{a.InstanceID}
	case "attachment.device":
		return []string{a.Device}
	case "attachment.status":
		return []string{a.State}
	case "attachment.delete-on-termination":
		return []string{strconv.FormatBool(a.DeleteOnTermination)}
	}
	return nil
}

// ownVolumes lists the caller's volumes, making sure the IDs asked for are among them
// (malformed ones were refused before).
func (f *front) ownVolumes(c *service.Call, ids []string) ([]*state.Volume, error) {
	return listWanting(f, c, ids, func(v *state.Volume) string { return v.ID },
		func() ([]*state.Volume, error) {
			l, _, err := f.st().Volumes(c.Caller.AccountID)
			return l, err
		},
		func(id string) error { return errVolumeNotFound("The volume '%s' does not exist.", id) })
}

// ownVolume checks a volume ID and finds it among the caller's, catching up once.
func (f *front) ownVolume(c *service.Call, id string) (*state.Volume, error) {
	if id == "" {
		return nil, errMissingParameter("The request must contain the parameter VolumeId")
	}
	if !volumeIDRE.MatchString(id) {
		return nil, errVolumeMalformed("Invalid id: \"%s\"", id)
	}
	v, err := f.st().Volume(id)
	if err != nil || v.Account != c.Caller.AccountID {
		f.catchUp(c)
		v, err = f.st().Volume(id)
	}
	if err != nil || v.Account != c.Caller.AccountID {
		return nil, errVolumeNotFound("The volume '%s' does not exist.", id)
	}
	return v, nil
}

func (f *front) deleteVolume(c *service.Call, in *DeleteVolumeRequest) (*struct{}, error) {
	if err := f.authorize(c, "DeleteVolume", in.DryRun, f.arn(c, "volume", in.VolumeId)); err != nil {
		return nil, err
	}
	v, err := f.ownVolume(c, in.VolumeId)
	if err != nil {
		return nil, err
	}
	if v.Attachment != nil {
		return nil, errVolumeInUse("Volume %s is currently attached to %s", v.ID, v.Attachment.InstanceID)
	}
	_, err = f.cluster.Apply(c.Ctx, &state.DeleteVolume{Account: c.Caller.AccountID, ID: v.ID}, nil)
	var se *state.Error
	if errors.As(err, &se) && se.Code == state.CodeIncorrectState {
		return nil, errVolumeInUse("%s", se.Message)
	}
	return nil, volErr(err)
}

func (f *front) attachVolume(c *service.Call, in *AttachVolumeRequest) (*VolumeAttachment, error) {
	if err := f.authorize(c, "AttachVolume", in.DryRun, f.arn(c, "volume", in.VolumeId), f.arn(c, "instance", in.InstanceId)); err != nil {
		return nil, err
	}
	if in.Device == "" {
		return nil, errMissingParameter("The request must contain the parameter device")
	}
	if !deviceRE.MatchString(in.Device) {
		return nil, errInvalidParameterValue("Value (%s) for parameter device is invalid. %s is not a valid EBS device name.", in.Device, in.Device)
	}
	if _, err := f.ownVolume(c, in.VolumeId); err != nil {
		return nil, err
	}
	if _, err := f.ownInstances(c, []string{in.InstanceId}); err != nil {
		return nil, err
	}
	now := f.deps.Now()
	if _, err := f.cluster.Apply(c.Ctx, &state.AttachVolume{Account: c.Caller.AccountID, VolumeID: in.VolumeId,
		InstanceID: in.InstanceId, Device: in.Device, Now: now}, nil); err != nil {
		return nil, volErr(err)
	}
	return &VolumeAttachment{VolumeId: ptr(in.VolumeId), InstanceId: ptr(in.InstanceId), Device: ptr(in.Device),
		State: ptr(state.AttachmentAttaching), AttachTime: ptr(now), DeleteOnTermination: ptr(false)}, nil
}

func (f *front) detachVolume(c *service.Call, in *DetachVolumeRequest) (*VolumeAttachment, error) {
	if err := f.authorize(c, "DetachVolume", in.DryRun, f.arn(c, "volume", in.VolumeId)); err != nil {
		return nil, err
	}
	v, err := f.ownVolume(c, in.VolumeId)
	if err != nil {
		return nil, err
	}
	a := v.Attachment
	if a == nil {
		return nil, errIncorrectVolState("Volume '%s' is in the 'available' state.", v.ID)
	}
	if id := deref(in.InstanceId); id != "" && id != a.InstanceID {
		return nil, errInvalidParameterValue("Volume %s is not attached to instance %s", v.ID, id)
	}
	if dev := deref(in.Device); dev != "" && dev != a.Device {
		return nil, errInvalidParameterValue("Volume %s is not attached at %s", v.ID, dev)
	}
	if _, err := f.cluster.Apply(c.Ctx, &state.DetachVolume{Account: c.Caller.AccountID, VolumeID: v.ID,
		InstanceID: deref(in.InstanceId), Force: deref(in.Force)}, nil); err != nil {
		return nil, volErr(err)
	}
	return &VolumeAttachment{VolumeId: ptr(v.ID), InstanceId: ptr(a.InstanceID), Device: ptr(a.Device),
		State: ptr(state.AttachmentDetaching), AttachTime: ptr(a.AttachTime), DeleteOnTermination: ptr(a.DeleteOnTermination)}, nil
}

// describeVolumeStatus reports each volume's health as EC2's status checks do: ok while
// every box holding a copy is up, warning (io-enabled still passed: the guest's I/O goes
// on, on the copies left) while some are down, impaired when none is or the volume failed.
func (f *front) describeVolumeStatus(c *service.Call, in *DescribeVolumeStatusRequest) (*DescribeVolumeStatusResult, error) {
	if err := f.authorize(c, "DescribeVolumeStatus", in.DryRun); err != nil {
		return nil, err
	}
	if len(in.VolumeIds) > 0 && in.MaxResults != nil {
		return nil, errInvalidParameterCombo("The parameter volumeSet cannot be used with the parameter maxResults")
	}
	fs, err := parseFilters(in.Filters, "volume-status.status", "availability-zone", "volume-status.details-name", "volume-status.details-status")
	if err != nil {
		return nil, err
	}
	for _, id := range in.VolumeIds {
		if !volumeIDRE.MatchString(id) {
			return nil, errVolumeMalformed("Invalid id: \"%s\"", id)
		}
	}
	list, err := f.ownVolumes(c, in.VolumeIds)
	if err != nil {
		return nil, err
	}
	live := map[string]bool{}
	for _, n := range f.deps.Live() {
		live[n] = true
	}
	var kept []VolumeStatusItem
	for _, v := range list {
		if len(in.VolumeIds) > 0 && !slices.Contains(in.VolumeIds, v.ID) || v.State == state.VolumeDeleting {
			continue
		}
		up := 0
		for _, n := range v.Replicas {
			if live[n] {
				up++
			}
		}
		status, io := "ok", "passed"
		switch {
		case v.State == state.VolumeError || up == 0:
			status, io = "impaired", "failed"
		case v.State == state.VolumeCreating:
			status, io = "insufficient-data", "insufficient-data"
		case up < len(v.Replicas):
			status = "warning"
		}
		attrs := map[string]string{"volume-status.status": status, "availability-zone": v.Zone,
			"volume-status.details-name": "io-enabled", "volume-status.details-status": io}
		if !fs.match(func(name string) []string { return []string{attrs[name]} }, nil) {
			continue
		}
		kept = append(kept, VolumeStatusItem{VolumeId: ptr(v.ID), AvailabilityZone: ptr(v.Zone),
			VolumeStatus: &VolumeStatusInfo{Status: ptr(status), Details: []VolumeStatusDetails{
				{Name: ptr("io-enabled"), Status: ptr(io)}, {Name: ptr("io-performance"), Status: ptr("not-applicable")}}},
			Actions: []VolumeStatusAction{}, Events: []VolumeStatusEvent{}})
	}
	sort.Slice(kept, func(i, j int) bool { return *kept[i].VolumeId < *kept[j].VolumeId })
	items, next, err := page(kept, in.MaxResults, in.NextToken, 5, 1000)
	if err != nil {
		return nil, err
	}
	if items == nil {
		items = []VolumeStatusItem{}
	}
	return &DescribeVolumeStatusResult{VolumeStatuses: items, NextToken: next}, nil
}
