package ec2

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/banyancloud/banyan/api/service"
	"github.com/banyancloud/banyan/cluster/state"
)

// maxUserData is EC2's limit on decoded user data.
const maxUserData = 16 << 10

var instanceIDRE = regexp.MustCompile(`^i-[0-9a-f]{8}([0-9a-f]{9})?$`)

var stateCodes = map[string]int32{
	state.InstancePending: 0, state.InstanceRunning: 16, state.InstanceShuttingDown: 32,
	state.InstanceTerminated: 48, state.InstanceStopping: 64, state.InstanceStopped: 80,
}

func instanceState(name string) *InstanceState {
	return &InstanceState{Code: ptr(stateCodes[name]), Name: ptr(name)}
}

// macOf derives an instance's MAC from its ID: locally administered, stable.
func macOf(id string) string {
	h := sha256.Sum256([]byte(id))
	return fmt.Sprintf("02:%02x:%02x:%02x:%02x:%02x", h[0], h[1], h[2], h[3], h[4])
}

func (f *front) runInstances(c *service.Call, in *RunInstancesRequest) (*Reservation, error) {
	acct := c.Caller.AccountID
	imageID := deref(in.ImageId)
	res := []string{f.arn(c, "instance", "*")}
	if imageID != "" {
		res = append(res, "arn:aws:ec2:"+f.deps.Region+"::image/"+imageID)
	}
	if err := f.authorize(c, "RunInstances", in.DryRun, res...); err != nil {
		return nil, err
	}
	if imageID == "" {
		return nil, errMissingParameter("The request must contain the parameter ImageId")
	}
	if in.MinCount < 1 {
		return nil, errInvalidParameterValue("Value (%d) for parameter minCount is invalid. Expected a positive integer.", in.MinCount)
	}
	if in.MaxCount < in.MinCount {
		return nil, errInvalidParameterValue("Value (%d) for parameter maxCount is invalid. Expected a value greater than or equal to minCount (%d).", in.MaxCount, in.MinCount)
	}
	if in.MaxCount > 1000 {
		return nil, errInvalidParameterValue("Value (%d) for parameter maxCount is invalid. Expected a value of at most 1000.", in.MaxCount)
	}
	im, err := f.launchableImage(c, imageID)
	if err != nil {
		return nil, err
	}
	typeName := deref(in.InstanceType)
	if typeName == "" {
		typeName = "m1.small"
	}
	it, ok := f.lookupInstanceType(typeName)
	if !ok {
		return nil, errInvalidParameterValue("Invalid value '%s' for InstanceType.", typeName)
	}
	keyName := deref(in.KeyName)
	if keyName != "" {
		if _, err := f.st().KeyPair(acct, keyName); err != nil {
			f.catchUp(c)
			if _, err := f.st().KeyPair(acct, keyName); err != nil {
				return nil, errKeyPairNotFound("The key pair '%s' does not exist", keyName)
			}
		}
	}
	var userData []byte
	if ud := deref(in.UserData); ud != "" {
		userData, err = base64.StdEncoding.DecodeString(ud)
		if err != nil {
			return nil, errInvalidParameterValue("Invalid BASE64 encoding of user data.")
		}
		if len(userData) > maxUserData {
			return nil, errInvalidParameterValue("User data is limited to %d bytes", maxUserData)
		}
	}
	zone := ""
	if in.Placement != nil {
		zone = deref(in.Placement.AvailabilityZone)
	}
	if zone != "" && !slices.Contains(f.zones(), zone) {
		return nil, errInvalidParameterValue("Invalid availability zone: [%s]", zone)
	}
	subnetID, groupIDs, associatePublicIP, err := launchInterface(in)
	if err != nil {
		return nil, err
	}
	if subnetID != "" {
		z, err := f.subnetZone(acct, subnetID) // vpc.go
		if err != nil {
			return nil, err
		}
		if zone != "" && zone != z {
			return nil, errInvalidParameterValue("Value (%s) for parameter availabilityZone is invalid. Subnet '%s' is in the availability zone %s", zone, subnetID, z)
		}
		zone = z
	}
	tags, err := specTags(in.TagSpecifications, "instance")
	if err != nil {
		return nil, err
	}
	groups, err := f.launchGroups(c, groupIDs, in.SecurityGroups)
	if err != nil {
		return nil, err
	}
	rootType, rootName, mappings, err := f.launchMappings(c, im, in.BlockDeviceMappings) // blockdevices.go
	if err != nil {
		return nil, err
	}
	volumeTags, err := specTags(in.TagSpecifications, "volume")
	if err != nil {
		return nil, err
	}
	reservation := f.deps.NewID("r-")
	var batch []state.Instance
	for i := range int(in.MaxCount) {
		id := f.deps.NewID("i-")
		batch = append(batch, state.Instance{
			ID: id, Account: acct, ReservationID: reservation, ImageID: im.ID, InstanceType: it.Name,
			KeyName: keyName, VCPUs: it.VCPUs, MemoryMiB: it.MemoryMiB, UserData: userData,
			ClientToken: deref(in.ClientToken), LaunchIndex: i, Tags: tags, Zone: zone, MAC: macOf(id),
			SecurityGroups: groups, RootDeviceType: rootType, RootDeviceName: rootName,
		})
		for _, bd := range mappings {
			bd.VolumeID, bd.Tags = f.deps.NewID("vol-"), volumeTags
			batch[i].BlockDevices = append(batch[i].BlockDevices, bd)
		}
	}
	var rr state.RunResult
	replicas := 0
	if len(mappings) > 0 {
		replicas = f.replicaCount(zone)
	}
	if _, err := f.cluster.Apply(c.Ctx, &state.RunInstances{Instances: batch, MinCount: int(in.MinCount),
		LiveNodes: f.deps.Live(), Now: f.deps.Now(), VolumeReplicas: replicas, AssociatePublicIP: associatePublicIP}, &rr); err != nil {
		return nil, err
	}
	out := &Reservation{ReservationId: ptr(rr.ReservationID), OwnerId: ptr(acct), Groups: []GroupIdentifier{}}
	for _, id := range rr.IDs {
		inst, err := f.st().Instance(id)
		if err != nil {
			return nil, err
		}
		out.Instances = append(out.Instances, f.toInstance(inst))
	}
	return out, nil
}

// launchInterface reads where RunInstances puts the instance's one network interface:
// the subnet and security group IDs at the top level, or in NetworkInterfaces, which may
// then hold only that interface (DeviceIndex 0, made at launch) with its subnet, groups
// and AssociatePublicIpAddress (nil: the subnet's MapPublicIpOnLaunch decides, in the
// apply). Everything else an interface could ask for is refused rather than ignored.
func launchInterface(in *RunInstancesRequest) (subnetID string, groupIDs []string, associatePublicIP *bool, err error) {
	if len(in.NetworkInterfaces) == 0 {
		return deref(in.SubnetId), in.SecurityGroupIds, nil, nil
	}
	switch {
	case deref(in.SubnetId) != "":
		return "", nil, nil, errInvalidParameterCombo("Network interfaces and an instance-level subnet ID may not be specified on the same request")
	case len(in.SecurityGroupIds) > 0 || len(in.SecurityGroups) > 0:
		return "", nil, nil, errInvalidParameterCombo("Network interfaces and an instance-level security groups may not be specified on the same request")
	case deref(in.PrivateIpAddress) != "":
		return "", nil, nil, errInvalidParameterCombo("Network interfaces and an instance-level private IP address may not be specified on the same request")
	case len(in.NetworkInterfaces) > 1:
		return "", nil, nil, errInvalidParameterValue("Only one network interface, the primary one (device index 0), can be specified: instances of this cloud have one")
	}
	ni := in.NetworkInterfaces[0]
	if ni.DeviceIndex == nil {
		return "", nil, nil, errInvalidParameterValue("Each network interface requires a device index.")
	}
	if *ni.DeviceIndex != 0 {
		return "", nil, nil, errInvalidParameterValue("Value (%d) for parameter deviceIndex is invalid: the instance's one network interface has device index 0", *ni.DeviceIndex)
	}
	if deref(ni.PrivateIpAddress) != "" && in.MaxCount > 1 {
		return "", nil, nil, errInvalidParameterCombo("A private IP address cannot be specified when launching more than one instance")
	}
	unsupported := ""
	switch {
	case deref(ni.NetworkInterfaceId) != "":
		unsupported = "NetworkInterfaceId (an existing interface)"
	case deref(ni.PrivateIpAddress) != "" || len(ni.PrivateIpAddresses) > 0 || deref(ni.SecondaryPrivateIpAddressCount) > 0:
		unsupported = "PrivateIpAddress (the zone's subnet gives the lowest free address)"
	case deref(ni.Ipv6AddressCount) > 0 || len(ni.Ipv6Addresses) > 0 || deref(ni.PrimaryIpv6) ||
		len(ni.Ipv4Prefixes) > 0 || deref(ni.Ipv4PrefixCount) > 0 || len(ni.Ipv6Prefixes) > 0 || deref(ni.Ipv6PrefixCount) > 0:
		unsupported = "IPv6 addresses or prefixes"
	case deref(ni.AssociateCarrierIpAddress):
		unsupported = "AssociateCarrierIpAddress"
	case deref(ni.InterfaceType) != "" && deref(ni.InterfaceType) != "interface":
		unsupported = "InterfaceType " + deref(ni.InterfaceType)
	case deref(ni.NetworkCardIndex) != 0:
		unsupported = "NetworkCardIndex"
	case ni.DeleteOnTermination != nil && !*ni.DeleteOnTermination:
		unsupported = "DeleteOnTermination false (the interface goes with its instance)"
	case deref(ni.Description) != "":
		unsupported = "Description"
	case ni.EnaSrdSpecification != nil || ni.ConnectionTrackingSpecification != nil || ni.EnaQueueCount != nil:
		unsupported = "ENA or connection tracking options"
	}
	if unsupported != "" {
		return "", nil, nil, errInvalidParameterValue("The network interface's %s is not supported by this cloud", unsupported)
	}
	return deref(ni.SubnetId), ni.Groups, ni.AssociatePublicIpAddress, nil
}

// launchableImage finds an image the caller may launch: its own, a public one, or one
// whose owner granted the caller's account.
func (f *front) launchableImage(c *service.Call, id string) (*state.Image, error) {
	if !strings.HasPrefix(id, "ami-") {
		return nil, errAMIMalformed("Invalid id: \"%s\" (expecting \"ami-...\")", id)
	}
	im, err := f.st().Image(id)
	if err != nil {
		f.catchUp(c)
		im, err = f.st().Image(id)
	}
	if err != nil || !canLaunch(im, c.Caller.AccountID) || im.State == state.ImageDeregistered {
		return nil, errAMINotFound("The image id '[%s]' does not exist", id)
	}
	if im.State != state.ImageAvailable {
		return nil, errInvalidParameterValue("Image %s is not available (state %s).", id, im.State)
	}
	return im, nil
}

func canLaunch(im *state.Image, account string) bool {
	return im.Account == account || im.Public || slices.Contains(im.LaunchAccounts, account)
}

func (f *front) toInstance(in *state.Instance) Instance {
	out := Instance{
		InstanceId: ptr(in.ID), ImageId: ptr(in.ImageID), InstanceType: ptr(in.InstanceType),
		State: instanceState(in.State), AmiLaunchIndex: ptr(int32(in.LaunchIndex)),
		LaunchTime: ptr(in.LaunchTime), Placement: &Placement{AvailabilityZone: ptr(in.Zone), Tenancy: ptr("default")},
		Architecture: ptr("x86_64"), Hypervisor: ptr("xen"), VirtualizationType: ptr("hvm"),
		Monitoring: &Monitoring{State: ptr("disabled")}, StateTransitionReason: ptr(in.TransitionReason),
		PrivateDnsName: ptr(""), PublicDnsName: ptr(""), Tags: tagList(in.Tags),
		SecurityGroups: []GroupIdentifier{}, ClientToken: ptr(in.ClientToken),
	}
	f.setInstanceNetwork(&out, in)
	f.setInstanceAddress(&out, in)
	rootType, rootName := in.RootDevice()
	out.RootDeviceType, out.RootDeviceName = ptr(rootType), ptr(rootName)
	out.BlockDeviceMappings = f.instanceMappings(in)
	if in.KeyName != "" {
		out.KeyName = ptr(in.KeyName)
	}
	if in.PrivateIP != "" {
		out.PrivateIpAddress = ptr(in.PrivateIP)
		out.PrivateDnsName = ptr("ip-" + strings.ReplaceAll(in.PrivateIP, ".", "-") + "." + privateDomain(f.deps.Region))
	}
	if in.StateReason != "" {
		code, _, _ := strings.Cut(in.StateReason, ": ")
		out.StateReason = &StateReason{Code: ptr(code), Message: ptr(in.StateReason)}
	}
	return out
}

func privateDomain(region string) string {
	if region == "us-east-1" {
		return "ec2.internal"
	}
	return region + ".compute.internal"
}

// ownInstances resolves instance IDs of the caller's account: a malformed ID is
// InvalidInstanceID.Malformed, one that is not the caller's InvalidInstanceID.NotFound.
func (f *front) ownInstances(c *service.Call, ids []string) ([]*state.Instance, error) {
	if len(ids) == 0 {
		return nil, errMissingParameter("The request must contain the parameter InstanceId")
	}
	var out, missing []string
	var found []*state.Instance
	for _, id := range ids {
		if !instanceIDRE.MatchString(id) {
			return nil, errInstanceMalformed("Invalid id: \"%s\"", id)
		}
		out = append(out, id)
	}
	for pass := 0; pass < 2; pass++ {
		found, missing = found[:0], missing[:0]
		for _, id := range out {
			in, err := f.st().Instance(id)
			if err != nil || in.Account != c.Caller.AccountID {
				missing = append(missing, id)
				continue
			}
			found = append(found, in)
		}
		if len(missing) == 0 {
			return found, nil
		}
		f.catchUp(c)
	}
	if len(missing) == 1 {
		return nil, errInstanceNotFound("The instance ID '%s' does not exist", missing[0])
	}
	return nil, errInstanceNotFound("The instance IDs '%s' do not exist", strings.Join(missing, ", "))
}

var instanceFilters = []string{"instance-id", "instance-state-name", "instance-state-code", "instance-type", "image-id",
	"availability-zone", "private-ip-address", "reservation-id", "key-name", "tag-key", "vpc-id", "subnet-id",
	"network-interface.network-interface-id", "instance.group-id", "instance.group-name", "root-device-type", "root-device-name"}

func (f *front) describeInstances(c *service.Call, in *DescribeInstancesRequest) (*DescribeInstancesResult, error) {
	if err := f.authorize(c, "DescribeInstances", in.DryRun); err != nil {
		return nil, err
	}
	if len(in.InstanceIds) > 0 && in.MaxResults != nil {
		return nil, errInvalidParameterCombo("The parameter instancesSet cannot be used with the parameter maxResults")
	}
	fs, err := parseFilters(in.Filters, instanceFilters...)
	if err != nil {
		return nil, err
	}
	var list []*state.Instance
	if len(in.InstanceIds) > 0 {
		if list, err = f.ownInstances(c, in.InstanceIds); err != nil {
			return nil, err
		}
	} else if list, err = f.st().Instances(c.Caller.AccountID); err != nil {
		return nil, err
	}
	var kept []*state.Instance
	for _, inst := range list {
		if fs.match(func(name string) []string { return instanceAttr(inst, name) }, inst.Tags) {
			kept = append(kept, inst)
		}
	}
	sort.SliceStable(kept, func(i, j int) bool {
		if kept[i].ReservationID != kept[j].ReservationID {
			return kept[i].LaunchTime.Before(kept[j].LaunchTime) || kept[i].LaunchTime.Equal(kept[j].LaunchTime) && kept[i].ReservationID < kept[j].ReservationID
		}
		return kept[i].LaunchIndex < kept[j].LaunchIndex
	})
	pageItems, next, err := page(kept, in.MaxResults, in.NextToken, 5, 1000)
	if err != nil {
		return nil, err
	}
	out := &DescribeInstancesResult{NextToken: next, Reservations: []Reservation{}}
	idx := map[string]int{}
	for _, inst := range pageItems {
		i, ok := idx[inst.ReservationID]
		if !ok {
			i = len(out.Reservations)
			idx[inst.ReservationID] = i
			out.Reservations = append(out.Reservations, Reservation{ReservationId: ptr(inst.ReservationID), OwnerId: ptr(inst.Account), Groups: []GroupIdentifier{}})
		}
		out.Reservations[i].Instances = append(out.Reservations[i].Instances, f.toInstance(inst))
	}
	return out, nil
}

func instanceAttr(in *state.Instance, name string) []string {
	switch name {
	case "instance-id":
		return []string{in.ID}
	case "instance-state-name":
		return []string{in.State}
	case "instance-state-code":
		return []string{fmt.Sprint(stateCodes[in.State])}
	case "instance-type":
		return []string{in.InstanceType}
	case "image-id":
		return []string{in.ImageID}
	case "availability-zone":
		return []string{in.Zone}
	case "private-ip-address":
		return []string{in.PrivateIP}
	case "reservation-id":
		return []string{in.ReservationID}
	case "key-name":
		return []string{in.KeyName}
	case "root-device-type", "root-device-name":
		typ, dev := in.RootDevice()
		if name == "root-device-type" {
			return []string{typ}
		}
		return []string{dev}
	}
	if !hasInterface(in) {
		return nil
	}
	switch name {
	case "vpc-id":
		return []string{defaultVPCID(in.Account)}
	case "subnet-id":
		return []string{defaultSubnetID(in.Account, in.Zone)}
	case "network-interface.network-interface-id":
		return []string{networkInterfaceID(in.ID)}
	case "instance.group-id":
		return in.GroupIDs()
	case "instance.group-name":
		return []string{"default"}
	}
	return nil
}

func (f *front) changeInstances(c *service.Call, action, verb string, ids []string, dryRun *bool) ([]InstanceStateChange, error) {
	var arns []string
	for _, id := range ids {
		arns = append(arns, f.arn(c, "instance", id))
	}
	if err := f.authorize(c, verb, dryRun, arns...); err != nil {
		return nil, err
	}
	if _, err := f.ownInstances(c, ids); err != nil {
		return nil, err
	}
	var changes []state.StateChange
	if _, err := f.cluster.Apply(c.Ctx, &state.SetInstances{Account: c.Caller.AccountID, IDs: ids, Action: action, Now: f.deps.Now()}, &changes); err != nil {
		return nil, err
	}
	out := []InstanceStateChange{}
	for _, ch := range changes {
		out = append(out, InstanceStateChange{InstanceId: ptr(ch.ID), PreviousState: instanceState(ch.Previous), CurrentState: instanceState(ch.Current)})
	}
	return out, nil
}

func (f *front) terminateInstances(c *service.Call, in *TerminateInstancesRequest) (*TerminateInstancesResult, error) {
	ch, err := f.changeInstances(c, state.ActionTerminate, "TerminateInstances", in.InstanceIds, in.DryRun)
	if err != nil {
		return nil, err
	}
	return &TerminateInstancesResult{TerminatingInstances: ch}, nil
}

func (f *front) stopInstances(c *service.Call, in *StopInstancesRequest) (*StopInstancesResult, error) {
	action := state.ActionStop
	if deref(in.Force) {
		action = state.ActionForceStop
	}
	ch, err := f.changeInstances(c, action, "StopInstances", in.InstanceIds, in.DryRun)
	if err != nil {
		return nil, err
	}
	return &StopInstancesResult{StoppingInstances: ch}, nil
}

func (f *front) startInstances(c *service.Call, in *StartInstancesRequest) (*StartInstancesResult, error) {
	ch, err := f.changeInstances(c, state.ActionStart, "StartInstances", in.InstanceIds, in.DryRun)
	if err != nil {
		return nil, err
	}
	return &StartInstancesResult{StartingInstances: ch}, nil
}

func (f *front) rebootInstances(c *service.Call, in *RebootInstancesRequest) (*struct{}, error) {
	_, err := f.changeInstances(c, state.ActionReboot, "RebootInstances", in.InstanceIds, in.DryRun)
	return nil, err
}

func (f *front) describeInstanceStatus(c *service.Call, in *DescribeInstanceStatusRequest) (*DescribeInstanceStatusResult, error) {
	if err := f.authorize(c, "DescribeInstanceStatus", in.DryRun); err != nil {
		return nil, err
	}
	var list []*state.Instance
	var err error
	if len(in.InstanceIds) > 0 {
		list, err = f.ownInstances(c, in.InstanceIds)
	} else {
		list, err = f.st().Instances(c.Caller.AccountID)
	}
	if err != nil {
		return nil, err
	}
	live := map[string]bool{}
	for _, n := range f.deps.Live() {
		live[n] = true
	}
	out := &DescribeInstanceStatusResult{InstanceStatuses: []InstanceStatus{}}
	for _, inst := range list {
		if !deref(in.IncludeAllInstances) && inst.State != state.InstanceRunning {
			continue
		}
		st := InstanceStatus{InstanceId: ptr(inst.ID), AvailabilityZone: ptr(inst.Zone), InstanceState: instanceState(inst.State)}
		switch {
		case inst.State == state.InstancePending:
			st.InstanceStatus, st.SystemStatus = statusSummary("initializing"), statusSummary("initializing")
		case inst.State != state.InstanceRunning:
			st.InstanceStatus, st.SystemStatus = &InstanceStatusSummary{Status: ptr("not-applicable")}, &InstanceStatusSummary{Status: ptr("not-applicable")}
		case !live[inst.Node]:
			// The box it runs on does not answer: AWS's "system status check failed".
			st.InstanceStatus, st.SystemStatus = statusSummary("impaired"), statusSummary("impaired")
		default:
			st.InstanceStatus, st.SystemStatus = statusSummary("ok"), statusSummary("ok")
		}
		st.Events = recoveryEvents(inst, f.deps.Now())
		out.InstanceStatuses = append(out.InstanceStatuses, st)
	}
	return out, nil
}

// recoveryEvents shows the instance's last recovery off a failed box
// (cluster/state/recovery.go) for a week, as EC2 shows a completed event: a system-reboot
// whose description starts with [Completed].
func recoveryEvents(in *state.Instance, now time.Time) []InstanceStatusEvent {
	r := in.Recovery
	if r == nil || now.Sub(r.At) > 7*24*time.Hour {
		return nil
	}
	at := r.At.UTC()
	return []InstanceStatusEvent{{
		InstanceEventId: ptr(fmt.Sprintf("instance-event-%016x", uint64(at.UnixNano()))),
		Code:            ptr("system-reboot"),
		Description:     ptr(fmt.Sprintf("[Completed] The instance was restarted on another box (%s) because its box %s stopped answering.", r.To, r.From)),
		NotBefore:       &at,
		NotAfter:        &at,
	}}
}

func statusSummary(s string) *InstanceStatusSummary {
	detail := "passed"
	switch s {
	case "impaired":
		detail = "failed"
	case "initializing":
		detail = "initializing"
	}
	return &InstanceStatusSummary{Status: ptr(s), Details: []InstanceStatusDetails{{Name: ptr("reachability"), Status: ptr(detail)}}}
}

func (f *front) getConsoleOutput(c *service.Call, in *GetConsoleOutputRequest) (*GetConsoleOutputResult, error) {
	if err := f.authorize(c, "GetConsoleOutput", in.DryRun, f.arn(c, "instance", in.InstanceId)); err != nil {
		return nil, err
	}
	list, err := f.ownInstances(c, []string{in.InstanceId})
	if err != nil {
		return nil, err
	}
	inst := list[0]
	out := &GetConsoleOutputResult{InstanceId: ptr(inst.ID), Timestamp: ptr(f.deps.Now())}
	if inst.State == state.InstanceTerminated || inst.Node == "" {
		return out, nil
	}
	b, err := f.deps.Console(c.Ctx, inst.Node, inst.ID)
	if err != nil {
		if errors.Is(err, c.Ctx.Err()) {
			return nil, err
		}
		// The box is down or never started the VM: EC2 answers with no output then.
		f.deps.Logger.Info("console output unavailable", "instance", inst.ID, "node", inst.Node, "err", err)
		return out, nil
	}
	if len(b) > 0 {
		out.Output = ptr(base64.StdEncoding.EncodeToString(b))
	}
	return out, nil
}
