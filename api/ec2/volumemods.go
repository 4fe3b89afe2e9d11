package ec2

import (
	"errors"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/banyancloud/banyan/api/service"
	"github.com/banyancloud/banyan/cluster/state"
)

// EBS volume modifications (Elastic Volumes) and volume attributes. ModifyVolume
// records the targets through Raft (cluster/state/volumemods.go); the replica boxes grow
// their copies and the primary grows the volume it serves (node/volumeresize.go), and the
// record goes modifying → optimizing → completed as they report.

// SettingVolumeModificationInterval is the cluster setting for how long after a
// modification of a volume starts the next may start (a Go duration; EC2's rule is
// 6 hours, the default; "0s" lifts it).
const SettingVolumeModificationInterval = "blockstore.volume_modification_interval"

const defaultModificationInterval = 6 * time.Hour

var (
	errIncorrectModState   = ec2err("IncorrectModificationState", http.StatusBadRequest)
	errModRateExceeded     = ec2err("VolumeModificationRateExceeded", http.StatusBadRequest)
	errModNotFound         = ec2err("InvalidVolumeModification.NotFound", http.StatusBadRequest)
	errUnsupportedModifyOp = ec2err("UnsupportedOperation", http.StatusBadRequest)
)

// modifyLimits are each type's limits for ModifyVolume, as the botocore model documents
// them: sizes in GiB, IOPS (0: the type takes none), throughput in MiB/s (gp3 only).
var modifyLimits = map[string]struct{ minGiB, maxGiB, minIops, maxIops int }{
	"gp2": {1, 16384, 0, 0}, "gp3": {1, 65536, 3000, 80000}, "io1": {4, 16384, 100, 64000},
	"io2": {4, 65536, 100, 256000}, "st1": {125, 16384, 0, 0}, "sc1": {125, 16384, 0, 0},
}

func (f *front) modificationInterval() time.Duration {
	if set, err := f.st().Setting(SettingVolumeModificationInterval); err == nil {
		if d, err := time.ParseDuration(set.Value); err == nil && d >= 0 {
			return d
		}
	}
	return defaultModificationInterval
}

// gp2Iops is gp2's baseline: 3 IOPS per GiB, 100 to 16,000.
func gp2Iops(sizeGiB int) int { return min(max(100, 3*sizeGiB), 16000) }

func (f *front) modifyVolume(c *service.Call, in *ModifyVolumeRequest) (*ModifyVolumeResult, error) {
	if err := f.authorize(c, "ModifyVolume", in.DryRun, f.arn(c, "volume", in.VolumeId)); err != nil {
		return nil, err
	}
	v, err := f.ownVolume(c, in.VolumeId)
	if err != nil {
		return nil, err
	}
	if in.Size == nil && in.VolumeType == nil && in.Iops == nil && in.Throughput == nil && in.MultiAttachEnabled == nil {
		return nil, errMissingParameter("The request must contain at least one of the parameters size, volumeType, iops, throughput and multiAttachEnabled.")
	}
	if deref(in.MultiAttachEnabled) {
		return nil, errInvalidParameterValue("Multi-Attach is not supported by this cloud")
	}
	if v.VolumeType == "standard" {
		return nil, errUnsupportedModifyOp("Volume '%s' is a previous-generation magnetic (standard) volume, which cannot be modified.", v.ID)
	}
	typ := v.VolumeType
	if in.VolumeType != nil {
		typ = *in.VolumeType
	}
	lim, ok := modifyLimits[typ]
	if !ok {
		if typ == "standard" {
			return nil, errUnsupportedModifyOp("A volume cannot be modified to the previous-generation magnetic (standard) type.")
		}
		return nil, errInvalidParameterValue("Value (%s) for parameter volumeType is invalid. Valid values are io1, io2, gp2, gp3, sc1, st1.", typ)
	}
	size := v.SizeGiB
	if in.Size != nil {
		size = int(*in.Size)
		if size < v.SizeGiB {
			return nil, errInvalidParameterValue("New size cannot be smaller than existing size (%d GiB).", v.SizeGiB)
		}
	}
	if size < lim.minGiB || size > lim.maxGiB {
		return nil, errInvalidParameterValue("Volume of %dGiB is out of range for %s volumes (%d-%d GiB).", size, typ, lim.minGiB, lim.maxGiB)
	}
	iops, thr := v.Iops, v.Throughput
	switch {
	case in.Iops != nil && lim.maxIops == 0:
		return nil, errInvalidParameterCombo("The parameter iops is not supported for %s volumes.", typ)
	case in.Iops != nil:
		iops = int(*in.Iops)
	case typ != v.VolumeType && lim.maxIops > 0:
		iops = 3000 // the model's default when changing to gp3, io1 or io2
	case lim.maxIops == 0:
		iops = 0
	}
	if typ == "gp2" {
		iops = gp2Iops(size)
	}
	if lim.maxIops > 0 && (iops < lim.minIops || iops > lim.maxIops) {
		return nil, errInvalidParameterValue("Value (%d) for parameter iops is invalid. %s volumes take %d to %d IOPS.", iops, typ, lim.minIops, lim.maxIops)
	}
	switch {
	case in.Throughput != nil && typ != "gp3":
		return nil, errInvalidParameterCombo("The parameter throughput is not supported for %s volumes.", typ)
	case in.Throughput != nil:
		thr = int(*in.Throughput)
	case typ == "gp3" && v.VolumeType != "gp3":
		thr = 125
	case typ != "gp3":
		thr = 0
	}
	if typ == "gp3" && (thr < 125 || thr > 2000) {
		return nil, errInvalidParameterValue("Value (%d) for parameter throughput is invalid. gp3 volumes take 125 to 2000 MiB/s.", thr)
	}
	var m state.VolumeModification
	if _, err := f.cluster.Apply(c.Ctx, &state.ModifyVolume{Account: c.Caller.AccountID, VolumeID: v.ID, TargetSizeGiB: size,
		TargetType: typ, TargetIops: iops, TargetThroughput: thr, Now: f.deps.Now(), MinInterval: f.modificationInterval()}, &m); err != nil {
		return nil, volModErr(err)
	}
	return &ModifyVolumeResult{VolumeModification: toVolumeModification(&m)}, nil
}

// volModErr gives a state error of a modification EC2's code.
func volModErr(err error) error {
	var se *state.Error
	if errors.As(err, &se) {
		switch se.Code {
		case state.CodeIncorrectModificationState:
			return errIncorrectModState("%s", se.Message)
		case state.CodeVolumeModificationRateExceeded:
			return errModRateExceeded("%s", se.Message)
		case state.CodeInvalid:
			return errInvalidParameterValue("%s", se.Message)
		}
	}
	return volErr(err)
}

func toVolumeModification(m *state.VolumeModification) *VolumeModification {
	out := &VolumeModification{VolumeId: ptr(m.VolumeID), ModificationState: ptr(m.State), Progress: ptr(int64(m.Progress)),
		StartTime: ptr(m.StartTime), OriginalSize: ptr(int32(m.OriginalSizeGiB)), TargetSize: ptr(int32(m.TargetSizeGiB)),
		OriginalVolumeType: ptr(m.OriginalType), TargetVolumeType: ptr(m.TargetType),
		OriginalMultiAttachEnabled: ptr(false), TargetMultiAttachEnabled: ptr(false)}
	if m.StatusMessage != "" {
		out.StatusMessage = ptr(m.StatusMessage)
	}
	if m.OriginalIops > 0 {
		out.OriginalIops = ptr(int32(m.OriginalIops))
	}
	if m.TargetIops > 0 {
		out.TargetIops = ptr(int32(m.TargetIops))
	}
	if m.OriginalThroughput > 0 {
		out.OriginalThroughput = ptr(int32(m.OriginalThroughput))
	}
	if m.TargetThroughput > 0 {
		out.TargetThroughput = ptr(int32(m.TargetThroughput))
	}
	if !m.EndTime.IsZero() {
		out.EndTime = ptr(m.EndTime)
	}
	return out
}

var volumeModFilters = []string{"modification-state", "original-iops", "original-size", "original-volume-type",
	"originalMultiAttachEnabled", "start-time", "target-iops", "target-size", "target-volume-type",
	"targetMultiAttachEnabled", "volume-id"}

func volumeModAttr(m *state.VolumeModification, name string) []string {
	switch name {
	case "modification-state":
		return []string{m.State}
	case "original-iops":
		return []string{strconv.Itoa(m.OriginalIops)}
	case "original-size":
		return []string{strconv.Itoa(m.OriginalSizeGiB)}
	case "original-volume-type":
		return []string{m.OriginalType}
	case "originalMultiAttachEnabled", "targetMultiAttachEnabled":
		return []string{"false"}
	case "start-time":
		return []string{m.StartTime.UTC().Format("2006-01-02T15:04:05.000Z")}
	case "target-iops":
		return []string{strconv.Itoa(m.TargetIops)}
	case "target-size":
		return []string{strconv.Itoa(m.TargetSizeGiB)}
	case "target-volume-type":
		return []string{m.TargetType}
	case "volume-id":
		return []string{m.VolumeID}
	}
	return nil
}

func (f *front) describeVolumesModifications(c *service.Call, in *DescribeVolumesModificationsRequest) (*DescribeVolumesModificationsResult, error) {
	if err := f.authorize(c, "DescribeVolumesModifications", in.DryRun); err != nil {
		return nil, err
	}
	fs, err := parseFilters(in.Filters, volumeModFilters...)
	if err != nil {
		return nil, err
	}
	for _, id := range in.VolumeIds {
		if !volumeIDRE.MatchString(id) {
			return nil, errVolumeMalformed("Invalid id: \"%s\"", id)
		}
	}
	vols, err := f.ownVolumes(c, in.VolumeIds)
	if err != nil {
		return nil, err
	}
	mods, err := f.st().VolumeModifications(c.Caller.AccountID)
	if err != nil {
		return nil, err
	}
	byID := map[string]*state.VolumeModification{}
	for _, m := range mods {
		byID[m.VolumeID] = m
	}
	var kept []*state.VolumeModification
	for _, v := range vols {
		if v.State == state.VolumeDeleting || len(in.VolumeIds) > 0 && !slices.Contains(in.VolumeIds, v.ID) {
			continue
		}
		m := byID[v.ID]
		if m == nil {
			if len(in.VolumeIds) > 0 {
				return nil, errModNotFound("Modification for volume '%s' does not exist.", v.ID)
			}
			continue
		}
		if fs.match(func(name string) []string { return volumeModAttr(m, name) }, nil) {
			kept = append(kept, m)
		}
	}
	sort.Slice(kept, func(i, j int) bool { return kept[i].VolumeID < kept[j].VolumeID })
	items, next, err := page(kept, in.MaxResults, in.NextToken, 1, 500)
	if err != nil {
		return nil, err
	}
	out := &DescribeVolumesModificationsResult{VolumesModifications: []VolumeModification{}, NextToken: next}
	for _, m := range items {
		out.VolumesModifications = append(out.VolumesModifications, *toVolumeModification(m))
	}
	return out, nil
}

func (f *front) describeVolumeAttribute(c *service.Call, in *DescribeVolumeAttributeRequest) (*DescribeVolumeAttributeResult, error) {
	if err := f.authorize(c, "DescribeVolumeAttribute", in.DryRun, f.arn(c, "volume", in.VolumeId)); err != nil {
		return nil, err
	}
	if in.Attribute == "" {
		return nil, errMissingParameter("The request must contain the parameter attribute")
	}
	if in.Attribute != "autoEnableIO" && in.Attribute != "productCodes" {
		return nil, errInvalidParameterValue("Value (%s) for parameter attribute is invalid. Valid values are autoEnableIO, productCodes.", in.Attribute)
	}
	v, err := f.ownVolume(c, in.VolumeId)
	if err != nil {
		return nil, err
	}
	out := &DescribeVolumeAttributeResult{VolumeId: ptr(v.ID)}
	if in.Attribute == "autoEnableIO" {
		out.AutoEnableIO = &AttributeBooleanValue{Value: ptr(v.AutoEnableIO)}
	} else {
		// No volume here carries AWS Marketplace product codes.
		out.ProductCodes = []ProductCode{}
	}
	return out, nil
}

func (f *front) modifyVolumeAttribute(c *service.Call, in *ModifyVolumeAttributeRequest) (*struct{}, error) {
	if err := f.authorize(c, "ModifyVolumeAttribute", in.DryRun, f.arn(c, "volume", in.VolumeId)); err != nil {
		return nil, err
	}
	v, err := f.ownVolume(c, in.VolumeId)
	if err != nil {
		return nil, err
	}
	if in.AutoEnableIO == nil || in.AutoEnableIO.Value == nil {
		return nil, errMissingParameter("The request must contain the parameter autoEnableIO")
	}
	_, err = f.cluster.Apply(c.Ctx, &state.SetVolumeAttribute{Account: c.Caller.AccountID, VolumeID: v.ID, AutoEnableIO: *in.AutoEnableIO.Value}, nil)
	return nil, volErr(err)
}
