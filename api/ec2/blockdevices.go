package ec2

import (
	"net/http"
	"regexp"
	"slices"
	"sort"

	"github.com/banyancloud/banyan/api/awserr"
	"github.com/banyancloud/banyan/api/service"
	"github.com/banyancloud/banyan/cluster/state"
)

// Boot from volume: EBS-backed images (RegisterImage with a root mapping that names a
// snapshot, CreateImage of an EBS-backed instance), the block device mappings of a
// launch, and what DescribeImages and DescribeInstances show of them. The volumes of a
// launch are made in RunInstances' apply (cluster/state/blockdevices.go).

var (
	errInvalidBlockDeviceMapping = ec2err("InvalidBlockDeviceMapping", http.StatusBadRequest)
	// rootDeviceRE are the root device names a guest's first disk (vda) answers to.
	rootDeviceRE = regexp.MustCompile(`^/dev/(sda1?|xvda|vda)$`)
)

// blockDeviceError maps the state's block device codes (EC2's own) to EC2 errors.
func blockDeviceError(se *state.Error) *awserr.Error {
	switch se.Code {
	case state.CodeInvalidBlockDeviceMapping:
		return errInvalidBlockDeviceMapping("%s", se.Message)
	case state.CodeSnapshotInUse:
		return errSnapshotInUse("%s", se.Message)
	}
	return nil
}

// mappingVolume checks one EBS mapping's volume and fills EBS's defaults: the snapshot's
// size, gp2, DeleteOnTermination true, the type's IOPS and throughput.
func (f *front) mappingVolume(c *service.Call, bd *state.BlockDevice, size *int32, typ *string, iops, thr *int32, del *bool) error {
	if size != nil {
		bd.VolumeSizeGiB = int(*size)
	}
	if typ != nil {
		bd.VolumeType = *typ
	}
	if iops != nil {
		bd.Iops = int(*iops)
	}
	if thr != nil {
		bd.Throughput = int(*thr)
	}
	if del != nil {
		bd.DeleteOnTermination = *del
	}
	if bd.SnapshotID != "" {
		s, err := f.visibleSnapshot(c, bd.SnapshotID, false)
		if err != nil {
			return err
		}
		if s.State != state.SnapshotCompleted {
			return errInvalidBlockDeviceMapping("Snapshot '%s' of %s is not 'completed'; it is %s.", s.ID, bd.DeviceName, s.State)
		}
		if bd.VolumeSizeGiB == 0 {
			bd.VolumeSizeGiB = s.VolumeSizeGiB
		}
		if bd.VolumeSizeGiB < s.VolumeSizeGiB {
			return errInvalidBlockDeviceMapping("Volume of size %dGB is smaller than snapshot '%s', expect size >= %dGB", bd.VolumeSizeGiB, s.ID, s.VolumeSizeGiB)
		}
	}
	if bd.VolumeSizeGiB == 0 {
		return errInvalidBlockDeviceMapping("The device %s needs a volume size or a snapshot.", bd.DeviceName)
	}
	if bd.VolumeType == "" {
		bd.VolumeType = "gp2"
	}
	lim, ok := volumeTypes[bd.VolumeType]
	if !ok {
		return errInvalidParameterValue("Value (%s) for parameter volumeType is invalid. Valid values are standard, io1, io2, gp2, gp3, sc1, st1.", bd.VolumeType)
	}
	if bd.VolumeSizeGiB < lim.minGiB || bd.VolumeSizeGiB > lim.maxGiB {
		return errInvalidBlockDeviceMapping("Volume of %dGiB is out of range for %s volumes (%d-%d GiB).", bd.VolumeSizeGiB, bd.VolumeType, lim.minGiB, lim.maxGiB)
	}
	switch {
	case bd.VolumeType == "gp3" && bd.Iops == 0:
		bd.Iops = 3000
	case bd.VolumeType == "gp2":
		bd.Iops = min(max(100, 3*bd.VolumeSizeGiB), 16000)
	case (bd.VolumeType == "io1" || bd.VolumeType == "io2") && bd.Iops == 0:
		return errMissingParameter("The parameter iops must be specified for %s volumes.", bd.VolumeType)
	}
	if bd.VolumeType == "gp3" && bd.Throughput == 0 {
		bd.Throughput = 125
	}
	return nil
}

func checkDeviceName(name string) error {
	if !rootDeviceRE.MatchString(name) && !deviceRE.MatchString(name) {
		return errInvalidBlockDeviceMapping("Invalid device name %s", name)
	}
	return nil
}

// imageMappings reads RegisterImage's mappings: EBS ones only (instance store volumes
// are not offered), NoDevice ones dropped, each device once.
func (f *front) imageMappings(c *service.Call, in []BlockDeviceMapping) ([]state.BlockDevice, error) {
	var out []state.BlockDevice
	for _, m := range in {
		name := deref(m.DeviceName)
		if name == "" {
			return nil, errMissingParameter("The request must contain the parameter BlockDeviceMapping.DeviceName")
		}
		if err := checkDeviceName(name); err != nil {
			return nil, err
		}
		if slices.ContainsFunc(out, func(bd state.BlockDevice) bool { return bd.DeviceName == name }) {
			return nil, errInvalidBlockDeviceMapping("The device %s is mapped more than once", name)
		}
		if m.NoDevice != nil {
			continue
		}
		if m.VirtualName != nil || m.Ebs == nil {
			return nil, errInvalidBlockDeviceMapping("The device %s: only EBS volumes can be mapped in this cloud (no instance store volumes)", name)
		}
		e := m.Ebs
		if deref(e.Encrypted) || deref(e.KmsKeyId) != "" {
			return nil, errInvalidParameterValue("Encrypted volumes are not supported by this cloud")
		}
		bd := state.BlockDevice{DeviceName: name, SnapshotID: deref(e.SnapshotId), DeleteOnTermination: true}
		if err := f.mappingVolume(c, &bd, e.VolumeSize, e.VolumeType, e.Iops, e.Throughput, e.DeleteOnTermination); err != nil {
			return nil, err
		}
		out = append(out, bd)
	}
	return out, nil
}

// registerEBSImage registers an EBS-backed image: its root device's mapping names a
// completed snapshot the caller may use.
func (f *front) registerEBSImage(c *service.Call, in *RegisterImageRequest) (*RegisterImageResult, error) {
	if in.ImageLocation != nil {
		return nil, errInvalidParameterCombo("ImageLocation cannot be combined with an EBS root device mapping")
	}
	root := deref(in.RootDeviceName)
	if root == "" {
		return nil, errMissingParameter("The request must contain the parameter rootDeviceName")
	}
	if !rootDeviceRE.MatchString(root) {
		return nil, errInvalidParameterValue("Invalid root device name %s: the root device is /dev/sda1, /dev/xvda or /dev/vda", root)
	}
	bds, err := f.imageMappings(c, in.BlockDeviceMappings)
	if err != nil {
		return nil, err
	}
	im := state.Image{RootDeviceName: root, BlockDevices: bds}
	rd := im.RootDevice()
	if rd == nil {
		return nil, errInvalidBlockDeviceMapping("The root device %s must be mapped to an EBS snapshot", root)
	}
	if err := f.imageNameFree(c.Caller.AccountID, in.Name); err != nil {
		return nil, err
	}
	tags, err := specTags(in.TagSpecifications, "image")
	if err != nil {
		return nil, err
	}
	im.ID, im.Account, im.Name, im.Description = f.deps.NewID("ami-"), c.Caller.AccountID, in.Name, deref(in.Description)
	im.State, im.Architecture, im.CreationDate, im.Tags = state.ImageAvailable, "x86_64", f.deps.Now(), tags
	im.VirtualSize = int64(rd.VolumeSizeGiB) << 30
	if _, err := f.cluster.Apply(c.Ctx, &state.PutImage{Image: im, Create: true}, nil); err != nil {
		return nil, err
	}
	return &RegisterImageResult{ImageId: ptr(im.ID)}, nil
}

// launchMappings are the EBS volumes a launch makes: the image's mappings with the
// request's overrides by device name (size, type, DeleteOnTermination; NoDevice drops a
// non-root one; new devices add volumes, empty or from a snapshot). The root device's
// volume must stay at least as large as its snapshot.
func (f *front) launchMappings(c *service.Call, im *state.Image, req []BlockDeviceMapping) (rootType, rootName string, bds []state.BlockDevice, err error) {
	rootType = im.RootDeviceType()
	rootName = state.DefaultRootDeviceName
	if rootType == state.RootDeviceEBS {
		rootName = im.RootDeviceName
		bds = slices.Clone(im.BlockDevices)
	}
	seen := map[string]bool{}
	for _, m := range req {
		name := deref(m.DeviceName)
		if name == "" {
			return "", "", nil, errMissingParameter("The request must contain the parameter BlockDeviceMapping.DeviceName")
		}
		if err := checkDeviceName(name); err != nil {
			return "", "", nil, err
		}
		if seen[name] {
			return "", "", nil, errInvalidBlockDeviceMapping("The device %s is mapped more than once", name)
		}
		seen[name] = true
		i := slices.IndexFunc(bds, func(bd state.BlockDevice) bool { return bd.DeviceName == name })
		if name == rootName && rootType != state.RootDeviceEBS {
			return "", "", nil, errInvalidBlockDeviceMapping("The root device %s of an instance-store image cannot be mapped", name)
		}
		if m.NoDevice != nil {
			if name == rootName {
				return "", "", nil, errInvalidBlockDeviceMapping("The root device %s cannot be suppressed", name)
			}
			if i >= 0 {
				bds = slices.Delete(bds, i, i+1)
			}
			continue
		}
		if m.VirtualName != nil || m.Ebs == nil {
			return "", "", nil, errInvalidBlockDeviceMapping("The device %s: only EBS volumes can be mapped in this cloud (no instance store volumes)", name)
		}
		e := m.Ebs
		if deref(e.Encrypted) || deref(e.KmsKeyId) != "" {
			return "", "", nil, errInvalidParameterValue("Encrypted volumes are not supported by this cloud")
		}
		bd := state.BlockDevice{DeviceName: name, DeleteOnTermination: true}
		if i >= 0 {
			bd = bds[i]
			if e.SnapshotId != nil && *e.SnapshotId != bd.SnapshotID {
				if name == rootName {
					return "", "", nil, errInvalidBlockDeviceMapping("The snapshot of the root device %s cannot be changed at launch", name)
				}
				bd.SnapshotID, bd.VolumeSizeGiB = *e.SnapshotId, 0
			}
			if e.VolumeType != nil && *e.VolumeType != bd.VolumeType {
				bd.Iops, bd.Throughput = 0, 0 // the new type's defaults
			}
		} else {
			bd.SnapshotID = deref(e.SnapshotId)
		}
		if err := f.mappingVolume(c, &bd, e.VolumeSize, e.VolumeType, e.Iops, e.Throughput, e.DeleteOnTermination); err != nil {
			return "", "", nil, err
		}
		if i >= 0 {
			bds[i] = bd
		} else {
			bds = append(bds, bd)
		}
	}
	if rootType == state.RootDeviceEBS {
		// The image's own mappings are checked again: the snapshot may be gone.
		for i := range bds {
			if !seen[bds[i].DeviceName] && bds[i].SnapshotID != "" {
				if err := f.mappingVolume(c, &bds[i], nil, nil, nil, nil, nil); err != nil {
					return "", "", nil, err
				}
			}
		}
	}
	sort.SliceStable(bds, func(i, j int) bool { return bds[i].DeviceName == rootName && bds[j].DeviceName != rootName })
	return rootType, rootName, bds, nil
}

// toImageMappings is what DescribeImages shows of an image's mappings.
func toImageMappings(im *state.Image) []BlockDeviceMapping {
	out := []BlockDeviceMapping{}
	for _, bd := range im.BlockDevices {
		e := &EbsBlockDevice{DeleteOnTermination: ptr(bd.DeleteOnTermination), VolumeSize: ptr(int32(bd.VolumeSizeGiB)),
			VolumeType: ptr(bd.VolumeType), Encrypted: ptr(false)}
		if bd.SnapshotID != "" {
			e.SnapshotId = ptr(bd.SnapshotID)
		}
		if bd.Iops > 0 && bd.VolumeType != "gp2" {
			e.Iops = ptr(int32(bd.Iops))
		}
		if bd.Throughput > 0 {
			e.Throughput = ptr(int32(bd.Throughput))
		}
		out = append(out, BlockDeviceMapping{DeviceName: ptr(bd.DeviceName), Ebs: e})
	}
	return out
}

// instanceMappings is what DescribeInstances shows: every volume attached to it.
func (f *front) instanceMappings(in *state.Instance) []InstanceBlockDeviceMapping {
	out := []InstanceBlockDeviceMapping{}
	vols, err := f.st().InstanceVolumes(in.Account, in.ID)
	if err != nil {
		return out
	}
	for _, v := range vols {
		a := v.Attachment
		out = append(out, InstanceBlockDeviceMapping{DeviceName: ptr(a.Device), Ebs: &EbsInstanceBlockDevice{
			VolumeId: ptr(v.ID), Status: ptr(a.State), AttachTime: ptr(a.AttachTime), DeleteOnTermination: ptr(a.DeleteOnTermination)}})
	}
	return out
}

// createImage makes an EBS-backed image of an instance: a snapshot of each of its
// volumes (crash-consistent: the guest is not rebooted, whatever NoReboot says), the
// image pending until they complete.
func (f *front) createImage(c *service.Call, in *CreateImageRequest) (*CreateImageResult, error) {
	if err := f.authorize(c, "CreateImage", in.DryRun, f.arn(c, "instance", in.InstanceId), f.arn(c, "image", "*"), f.arn(c, "snapshot", "*")); err != nil {
		return nil, err
	}
	if err := checkImageName(in.Name); err != nil {
		return nil, err
	}
	if len(in.BlockDeviceMappings) > 0 {
		return nil, errInvalidParameterValue("Changing the block device mappings in CreateImage is not supported by this cloud")
	}
	list, err := f.ownInstances(c, []string{in.InstanceId})
	if err != nil {
		return nil, err
	}
	if typ, _ := list[0].RootDevice(); typ != state.RootDeviceEBS {
		return nil, errInvalidParameterValue("The instance '%s' is backed by instance store; CreateImage needs an EBS-backed instance", in.InstanceId)
	}
	if err := f.imageNameFree(c.Caller.AccountID, in.Name); err != nil {
		return nil, err
	}
	tags, err := specTags(in.TagSpecifications, "image")
	if err != nil {
		return nil, err
	}
	vols, err := f.st().InstanceVolumes(c.Caller.AccountID, in.InstanceId)
	if err != nil {
		return nil, err
	}
	snaps := make([]string, len(vols)+2) // a volume attached meanwhile gets one too
	for i := range snaps {
		snaps[i] = f.deps.NewID("snap-")
	}
	im := state.Image{ID: f.deps.NewID("ami-"), Account: c.Caller.AccountID, Name: in.Name, Description: deref(in.Description),
		Architecture: "x86_64", CreationDate: f.deps.Now(), Tags: tags}
	if _, err := f.cluster.Apply(c.Ctx, &state.CreateImage{Image: im, InstanceID: in.InstanceId, SnapshotIDs: snaps,
		LiveNodes: f.deps.Live(), Now: f.deps.Now()}, nil); err != nil {
		return nil, snapErr(err)
	}
	return &CreateImageResult{ImageId: ptr(im.ID)}, nil
}

// setDeleteOnTermination is ModifyInstanceAttribute's blockDeviceMapping.
func (f *front) setDeleteOnTermination(c *service.Call, id string, in []InstanceBlockDeviceMappingSpecification) error {
	devices := map[string]bool{}
	for _, m := range in {
		name := deref(m.DeviceName)
		if name == "" {
			return errMissingParameter("The request must contain the parameter BlockDeviceMapping.DeviceName")
		}
		if m.Ebs == nil || m.Ebs.DeleteOnTermination == nil || m.Ebs.VolumeId != nil || m.VirtualName != nil || m.NoDevice != nil {
			return errInvalidParameterValue("Only Ebs.DeleteOnTermination of a mapped device can be modified")
		}
		devices[name] = *m.Ebs.DeleteOnTermination
	}
	_, err := f.cluster.Apply(c.Ctx, &state.SetDeleteOnTermination{Account: c.Caller.AccountID, InstanceID: id, Devices: devices}, nil)
	return err
}
