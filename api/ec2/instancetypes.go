package ec2

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/banyancloud/banyan/api/service"
	"github.com/banyancloud/banyan/cluster/state"
)

// instanceType is one entry of the catalogue of instance types Banyan offers.
type instanceType struct {
	Name      string
	VCPUs     int
	MemoryMiB int
}

// builtinTypes are Eucalyptus's m1.small… and AWS's sizes for the common types.
var builtinTypes = []instanceType{
	{"m1.small", 1, 1740}, // EC2's default when RunInstances names no type
	{"m1.medium", 1, 3840}, {"m1.large", 2, 7680}, {"c1.medium", 2, 1740}, {"c1.xlarge", 8, 7168},
	{"t2.nano", 1, 512}, {"t2.micro", 1, 1024}, {"t2.small", 1, 2048}, {"t2.medium", 2, 4096},
	{"t3.nano", 2, 512}, {"t3.micro", 2, 1024}, {"t3.small", 2, 2048}, {"t3.medium", 2, 4096}, {"t3.large", 2, 8192},
	{"m5.large", 2, 8192}, {"m5.xlarge", 4, 16384}, {"c5.large", 2, 4096},
}

var errInvalidInstanceType = ec2err("InvalidInstanceType", http.StatusBadRequest)

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// SettingInstanceTypes is the cluster setting that extends or changes the catalogue:
// "NAME=VCPUS:MEMORY_MIB,..." (NAME=- removes a type), e.g.
// `banyan setting set compute.instance_types m1.xlarge=4:15360,c5.large=-`.
const SettingInstanceTypes = "compute.instance_types"

// parseInstanceTypes applies a SettingInstanceTypes value to the built-in catalogue.
func parseInstanceTypes(v string) ([]instanceType, error) {
	out := slices.Clone(builtinTypes)
	for _, item := range strings.Split(v, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		name, spec, ok := strings.Cut(item, "=")
		if !ok || name == "" {
			return nil, fmt.Errorf("%q: want NAME=VCPUS:MEMORY_MIB or NAME=-", item)
		}
		out = slices.DeleteFunc(out, func(t instanceType) bool { return t.Name == name })
		if spec == "-" {
			continue
		}
		c, m, ok := strings.Cut(spec, ":")
		vcpus, err1 := strconv.Atoi(c)
		mem, err2 := strconv.Atoi(m)
		if !ok || err1 != nil || err2 != nil || vcpus < 1 || mem < 64 {
			return nil, fmt.Errorf("%q: want NAME=VCPUS:MEMORY_MIB with at least 1 vCPU and 64 MiB", item)
		}
		out = append(out, instanceType{name, vcpus, mem})
	}
	return out, nil
}

// instanceTypes is the catalogue in force: the built-in one as the setting changes it
// (a setting that does not parse is ignored, as if unset).
func (f *front) instanceTypes() []instanceType {
	if set, err := f.st().Setting(SettingInstanceTypes); err == nil {
		if types, err := parseInstanceTypes(set.Value); err == nil {
			return types
		}
		f.deps.Logger.Warn("ignoring a malformed instance type catalogue", "setting", SettingInstanceTypes)
	}
	return builtinTypes
}

func (f *front) lookupInstanceType(name string) (instanceType, bool) {
	for _, t := range f.instanceTypes() {
		if t.Name == name {
			return t, true
		}
	}
	return instanceType{}, false
}

var instanceTypeFilters = []string{"instance-type", "vcpu-info.default-vcpus", "memory-info.size-in-mib", "current-generation"}

func (f *front) describeInstanceTypes(c *service.Call, in *DescribeInstanceTypesRequest) (*DescribeInstanceTypesResult, error) {
	if err := f.authorize(c, "DescribeInstanceTypes", in.DryRun); err != nil {
		return nil, err
	}
	fs, err := parseFilters(in.Filters, instanceTypeFilters...)
	if err != nil {
		return nil, err
	}
	cat := f.instanceTypes()
	for _, n := range in.InstanceTypes {
		if !slices.ContainsFunc(cat, func(t instanceType) bool { return t.Name == n }) {
			return nil, errInvalidInstanceType("The following supplied instance types do not exist: [%s]", n)
		}
	}
	var kept []InstanceTypeInfo
	for _, t := range cat {
		if len(in.InstanceTypes) > 0 && !slices.Contains(in.InstanceTypes, t.Name) {
			continue
		}
		current := !strings.HasPrefix(t.Name, "m1.") && !strings.HasPrefix(t.Name, "c1.")
		attrs := map[string]string{"instance-type": t.Name, "vcpu-info.default-vcpus": strconv.Itoa(t.VCPUs),
			"memory-info.size-in-mib": strconv.Itoa(t.MemoryMiB), "current-generation": strconv.FormatBool(current)}
		if !fs.match(func(name string) []string { return []string{attrs[name]} }, nil) {
			continue
		}
		kept = append(kept, InstanceTypeInfo{InstanceType: ptr(t.Name), CurrentGeneration: ptr(current),
			VCpuInfo:                     &VCpuInfo{DefaultVCpus: ptr(int32(t.VCPUs)), DefaultCores: ptr(int32(t.VCPUs)), DefaultThreadsPerCore: ptr(int32(1))},
			MemoryInfo:                   &MemoryInfo{SizeInMiB: ptr(int64(t.MemoryMiB))},
			ProcessorInfo:                &ProcessorInfo{SupportedArchitectures: []string{"x86_64"}},
			SupportedRootDeviceTypes:     []string{"instance-store", "ebs"},
			SupportedVirtualizationTypes: []string{"hvm"}, SupportedUsageClasses: []string{"on-demand"},
			SupportedBootModes: []string{"legacy-bios"}, Hypervisor: ptr("kvm"), BareMetal: ptr(false),
			InstanceStorageSupported: ptr(false), FreeTierEligible: ptr(t.Name == "t2.micro")})
	}
	sort.Slice(kept, func(i, j int) bool { return *kept[i].InstanceType < *kept[j].InstanceType })
	items, next, err := page(kept, in.MaxResults, in.NextToken, 5, 100)
	if err != nil {
		return nil, err
	}
	if items == nil {
		items = []InstanceTypeInfo{}
	}
	return &DescribeInstanceTypesResult{InstanceTypes: items, NextToken: next}, nil
}

func (f *front) describeAccountAttributes(c *service.Call, in *DescribeAccountAttributesRequest) (*DescribeAccountAttributesResult, error) {
	if err := f.authorize(c, "DescribeAccountAttributes", in.DryRun); err != nil {
		return nil, err
	}
	all := []struct{ name, value string }{
		{"supported-platforms", "VPC"}, {"default-vpc", defaultVPCID(c.Caller.AccountID)}, {"max-instances", "1000"},
		{"max-elastic-ips", "5"}, {"vpc-max-elastic-ips", "5"}, {"vpc-max-security-groups-per-interface", "5"},
	}
	out := &DescribeAccountAttributesResult{AccountAttributes: []AccountAttribute{}}
	for _, a := range all {
		if len(in.AttributeNames) > 0 && !slices.Contains(in.AttributeNames, a.name) {
			continue
		}
		out.AccountAttributes = append(out.AccountAttributes, AccountAttribute{AttributeName: ptr(a.name),
			AttributeValues: []AccountAttributeValue{{AttributeValue: ptr(a.value)}}})
	}
	return out, nil
}

func (f *front) describeInstanceAttribute(c *service.Call, in *DescribeInstanceAttributeRequest) (*InstanceAttribute, error) {
	if err := f.authorize(c, "DescribeInstanceAttribute", in.DryRun, f.arn(c, "instance", in.InstanceId)); err != nil {
		return nil, err
	}
	list, err := f.ownInstances(c, []string{in.InstanceId})
	if err != nil {
		return nil, err
	}
	inst := list[0]
	out := &InstanceAttribute{InstanceId: ptr(inst.ID)}
	switch in.Attribute {
	case "instanceType":
		out.InstanceType = &AttributeValue{Value: ptr(inst.InstanceType)}
	case "userData":
		out.UserData = &AttributeValue{}
		if len(inst.UserData) > 0 {
			out.UserData.Value = ptr(b64(inst.UserData))
		}
	case "disableApiTermination":
		out.DisableApiTermination = &AttributeBooleanValue{Value: ptr(inst.DisableAPITermination)}
	case "disableApiStop":
		out.DisableApiStop = &AttributeBooleanValue{Value: ptr(false)}
	case "instanceInitiatedShutdownBehavior":
		out.InstanceInitiatedShutdownBehavior = &AttributeValue{Value: ptr("stop")}
	case "rootDeviceName":
		_, name := inst.RootDevice()
		out.RootDeviceName = &AttributeValue{Value: ptr(name)}
	case "blockDeviceMapping":
		out.BlockDeviceMappings = f.instanceMappings(inst)
	case "productCodes":
		out.ProductCodes = []ProductCode{}
	case "sourceDestCheck":
		out.SourceDestCheck = &AttributeBooleanValue{Value: ptr(true)}
	case "groupSet":
		out.Groups = f.instanceGroups(inst)
	case "ebsOptimized":
		out.EbsOptimized = &AttributeBooleanValue{Value: ptr(false)}
	case "enaSupport":
		out.EnaSupport = &AttributeBooleanValue{Value: ptr(false)}
	case "kernel":
		out.KernelId = &AttributeValue{}
	case "ramdisk":
		out.RamdiskId = &AttributeValue{}
	case "sriovNetSupport":
		out.SriovNetSupport = &AttributeValue{}
	default:
		return nil, errInvalidParameterValue("Value (%s) for parameter attribute is invalid. Unknown attribute.", in.Attribute)
	}
	return out, nil
}

func (f *front) modifyInstanceAttribute(c *service.Call, in *ModifyInstanceAttributeRequest) (*struct{}, error) {
	if err := f.authorize(c, "ModifyInstanceAttribute", in.DryRun, f.arn(c, "instance", in.InstanceId)); err != nil {
		return nil, err
	}
	if _, err := f.ownInstances(c, []string{in.InstanceId}); err != nil {
		return nil, err
	}
	if len(in.Groups) > 0 || deref(in.Attribute) == "groupSet" {
		groups := in.Groups
		if len(groups) == 0 && deref(in.Value) != "" {
			groups = []string{deref(in.Value)}
		}
		return nil, f.setInstanceGroups(c, in.InstanceId, groups)
	}
	if len(in.BlockDeviceMappings) > 0 {
		return nil, f.setDeleteOnTermination(c, in.InstanceId, in.BlockDeviceMappings) // blockdevices.go
	}
	cmd := &state.ModifyInstance{Account: c.Caller.AccountID, ID: in.InstanceId}
	// Two spellings: the typed member, or Attribute + Value.
	typeName, userData, protect := "", []byte(nil), (*bool)(nil)
	haveType, haveUD := false, false
	if in.InstanceType != nil {
		typeName, haveType = deref(in.InstanceType.Value), true
	}
	if in.UserData != nil {
		userData, haveUD = in.UserData.Value, true
	}
	if in.DisableApiTermination != nil {
		protect = in.DisableApiTermination.Value
	}
	switch a := deref(in.Attribute); a {
	case "":
	case "instanceType":
		typeName, haveType = deref(in.Value), true
	case "userData":
		userData, haveUD = []byte(deref(in.Value)), true
	case "disableApiTermination":
		v, err := strconv.ParseBool(deref(in.Value))
		if err != nil {
			return nil, errInvalidParameterValue("Value (%s) for parameter disableApiTermination is invalid. Expected 'true' or 'false'.", deref(in.Value))
		}
		protect = &v
	default:
		return nil, errInvalidParameterValue("Modifying the attribute %s is not supported by this cloud", a)
	}
	switch {
	case in.SourceDestCheck != nil, in.DisableApiStop != nil, in.Kernel != nil, in.Ramdisk != nil,
		in.EbsOptimized != nil, in.SriovNetSupport != nil, in.EnaSupport != nil, len(in.BlockDeviceMappings) > 0,
		in.InstanceInitiatedShutdownBehavior != nil:
		return nil, errInvalidParameterValue("Only instanceType, userData and disableApiTermination can be modified here")
	}
	if haveType {
		t, ok := f.lookupInstanceType(typeName)
		if !ok {
			return nil, errInvalidInstanceType("Invalid value '%s' for InstanceType.", typeName)
		}
		cmd.InstanceType, cmd.VCPUs, cmd.MemoryMiB = &t.Name, t.VCPUs, t.MemoryMiB
	}
	if haveUD {
		if len(userData) > maxUserData {
			return nil, errInvalidParameterValue("User data is limited to %d bytes", maxUserData)
		}
		cmd.UserData = &userData
	}
	if protect != nil {
		cmd.DisableAPITermination = protect
	}
	if cmd.InstanceType == nil && cmd.UserData == nil && cmd.DisableAPITermination == nil {
		return nil, errMissingParameter("The request must contain an attribute to modify")
	}
	_, err := f.cluster.Apply(c.Ctx, cmd, nil)
	return nil, err
}
