package ec2

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/netip"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/banyancloud/banyan/api/awserr"
	"github.com/banyancloud/banyan/api/service"
	"github.com/banyancloud/banyan/cluster/state"
)

// The default VPC. Every account has one, laid out as AWS lays out a default VPC:
// 172.31.0.0/16, one default /20 subnet per availability zone (state.ZoneSubnet), a
// default security group, a main route table and an internet gateway. None of it is
// stored: it is derived from the account, the cluster's zones and the account's
// instances, so its IDs are stable hashes and it needs no migration when real VPCs come.

const (
	defaultVPCCIDR = "172.31.0.0/16"
	anywhereCIDR   = "0.0.0.0/0"
	// subnetReserved is what AWS keeps of every subnet: network, router, DNS, future
	// use and broadcast.
	subnetReserved = 5
)

var (
	errVpcNotFound              = ec2err("InvalidVpcID.NotFound", http.StatusBadRequest)
	errVpcMalformed             = ec2err("InvalidVpcID.Malformed", http.StatusBadRequest)
	errSubnetNotFound           = ec2err("InvalidSubnetID.NotFound", http.StatusBadRequest)
	errSubnetMalformed          = ec2err("InvalidSubnetID.Malformed", http.StatusBadRequest)
	errGroupNotFound            = ec2err("InvalidGroup.NotFound", http.StatusBadRequest)
	errGroupMalformed           = ec2err("InvalidGroupId.Malformed", http.StatusBadRequest)
	errNetworkInterfaceNotFound = ec2err("InvalidNetworkInterfaceID.NotFound", http.StatusBadRequest)
	errNetworkInterfaceMalform  = ec2err("InvalidNetworkInterfaceId.Malformed", http.StatusBadRequest)
	errRouteTableNotFound       = ec2err("InvalidRouteTableID.NotFound", http.StatusBadRequest)
	errRouteTableMalformed      = ec2err("InvalidRouteTableId.Malformed", http.StatusBadRequest)
	errGatewayNotFound          = ec2err("InvalidInternetGatewayID.NotFound", http.StatusBadRequest)
	errGatewayMalformed         = ec2err("InvalidInternetGatewayId.Malformed", http.StatusBadRequest)
)

// derivedID makes prefix + 17 hex digits of sha256 of the parts joined by "/": the ID
// of a resource that exists by definition rather than by record.
func derivedID(prefix string, parts ...string) string {
	h := sha256.Sum256([]byte(strings.Join(parts, "/")))
	return prefix + hex.EncodeToString(h[:])[:17]
}

func defaultVPCID(account string) string { return derivedID("vpc-", account) }
func defaultSubnetID(account, zone string) string {
	return derivedID("subnet-", account, "subnet", zone)
}
func defaultGroupID(account string) string {
	return derivedID("sg-", account, "security-group", "default")
}
func mainRouteTableID(account string) string {
	return derivedID("rtb-", account, "route-table", "main")
}
func defaultGatewayID(account string) string     { return derivedID("igw-", account, "internet-gateway") }
func defaultDhcpOptionsID(account string) string { return derivedID("dopt-", account, "dhcp-options") }

// networkInterfaceID is an instance's primary network interface: the instance ID's hex
// under eni-, so either names the other.
func networkInterfaceID(instanceID string) string {
	return "eni-" + strings.TrimPrefix(instanceID, "i-")
}

func networkAttachmentID(instanceID string) string {
	return "eni-attach-" + strings.TrimPrefix(instanceID, "i-")
}

// idPattern is EC2's resource ID form: prefix and 8 or 17 lowercase hex digits.
func idPattern(prefix string) *regexp.Regexp {
	return regexp.MustCompile(`^` + regexp.QuoteMeta(prefix) + `[0-9a-f]{8}([0-9a-f]{9})?$`)
}

var (
	vpcIDRE    = idPattern("vpc-")
	subnetIDRE = idPattern("subnet-")
	groupIDRE  = idPattern("sg-")
	eniIDRE    = idPattern("eni-")
	rtbIDRE    = idPattern("rtb-")
	igwIDRE    = idPattern("igw-")
)

// idKind is how one kind of resource ID is checked and reported.
type idKind struct {
	re        *regexp.Regexp
	prefix    string
	noun      string
	malformed func(string, ...any) *awserr.Error
	notFound  func(string, ...any) *awserr.Error
}

var (
	vpcKind    = idKind{vpcIDRE, "vpc-", "vpc", errVpcMalformed, errVpcNotFound}
	subnetKind = idKind{subnetIDRE, "subnet-", "subnet", errSubnetMalformed, errSubnetNotFound}
	groupKind  = idKind{groupIDRE, "sg-", "security group", errGroupMalformed, errGroupNotFound}
	eniKind    = idKind{eniIDRE, "eni-", "networkInterface", errNetworkInterfaceMalform, errNetworkInterfaceNotFound}
	rtbKind    = idKind{rtbIDRE, "rtb-", "routeTable", errRouteTableMalformed, errRouteTableNotFound}
	igwKind    = idKind{igwIDRE, "igw-", "internetGateway", errGatewayMalformed, errGatewayNotFound}
)

// wellFormed checks the form of every ID asked for.
func (k idKind) wellFormed(ids []string) error {
	for _, id := range ids {
		if !k.re.MatchString(id) {
			return k.malformed("Invalid id: \"%s\" (expecting \"%s...\")", id, k.prefix)
		}
	}
	return nil
}

// exist answers NotFound naming every asked-for ID that have does not know.
func (k idKind) exist(ids []string, have map[string]bool) error {
	var missing []string
	for _, id := range ids {
		if !have[id] {
			missing = append(missing, id)
		}
	}
	switch len(missing) {
	case 0:
		return nil
	case 1:
		return k.notFound("The %s ID '%s' does not exist", k.noun, missing[0])
	}
	return k.notFound("The %s IDs '%s' do not exist", k.noun, strings.Join(missing, ", "))
}

// attrs are a resource's values for the describe filters.
type attrs map[string][]string

func (a attrs) get(name string) []string { return a[name] }

func boolStr(b bool) string { return strconv.FormatBool(b) }

// selected reports whether id passes an ID list (an empty list passes everything).
func selected(ids []string, id string) bool {
	if len(ids) == 0 {
		return true
	}
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

// ---- VPCs

func (f *front) defaultVPC(account string) Vpc {
	id := defaultVPCID(account)
	return Vpc{
		VpcId: ptr(id), OwnerId: ptr(account), CidrBlock: ptr(defaultVPCCIDR), State: ptr("available"),
		IsDefault: ptr(true), InstanceTenancy: ptr("default"), DhcpOptionsId: ptr(defaultDhcpOptionsID(account)),
		CidrBlockAssociationSet: []VpcCidrBlockAssociation{{
			AssociationId: ptr(derivedID("vpc-cidr-assoc-", account, "cidr", defaultVPCCIDR)), CidrBlock: ptr(defaultVPCCIDR),
			CidrBlockState: &VpcCidrBlockState{State: ptr("associated")},
		}},
		BlockPublicAccessStates: &BlockPublicAccessStates{InternetGatewayBlockMode: ptr("off")},
		Tags:                    []Tag{},
	}
}

var vpcFilters = []string{"vpc-id", "is-default", "cidr", "state", "owner-id", "dhcp-options-id",
	"cidr-block-association.cidr-block", "cidr-block-association.association-id", "cidr-block-association.state", "tag-key"}

func vpcAttrs(v Vpc) attrs {
	a := attrs{"vpc-id": {deref(v.VpcId)}, "is-default": {boolStr(deref(v.IsDefault))}, "cidr": {deref(v.CidrBlock)},
		"state": {deref(v.State)}, "owner-id": {deref(v.OwnerId)}, "dhcp-options-id": {deref(v.DhcpOptionsId)}}
	for _, as := range v.CidrBlockAssociationSet {
		a["cidr-block-association.cidr-block"] = append(a["cidr-block-association.cidr-block"], deref(as.CidrBlock))
		a["cidr-block-association.association-id"] = append(a["cidr-block-association.association-id"], deref(as.AssociationId))
		if as.CidrBlockState != nil {
			a["cidr-block-association.state"] = append(a["cidr-block-association.state"], deref(as.CidrBlockState.State))
		}
	}
	return a
}

// vpcs lists the account's VPCs: its default VPC.
func (f *front) vpcs(account string) []Vpc { return []Vpc{f.defaultVPC(account)} }

func (f *front) describeVpcs(c *service.Call, in *DescribeVpcsRequest) (*DescribeVpcsResult, error) {
	if err := f.authorize(c, "DescribeVpcs", in.DryRun); err != nil {
		return nil, err
	}
	fs, err := parseFilters(in.Filters, vpcFilters...)
	if err != nil {
		return nil, err
	}
	if err := vpcKind.wellFormed(in.VpcIds); err != nil {
		return nil, err
	}
	all := f.vpcs(c.Caller.AccountID)
	have := map[string]bool{}
	var kept []Vpc
	for _, v := range all {
		have[deref(v.VpcId)] = true
		if selected(in.VpcIds, deref(v.VpcId)) && fs.match(vpcAttrs(v).get, nil) {
			kept = append(kept, v)
		}
	}
	if err := vpcKind.exist(in.VpcIds, have); err != nil {
		return nil, err
	}
	items, next, err := page(kept, in.MaxResults, in.NextToken, 5, 1000)
	if err != nil {
		return nil, err
	}
	return &DescribeVpcsResult{Vpcs: append([]Vpc{}, items...), NextToken: next}, nil
}

// ownVPC checks that id names one of the caller's VPCs.
func (f *front) ownVPC(c *service.Call, id string) error {
	if id == "" {
		return errMissingParameter("The request must contain the parameter VpcId")
	}
	if err := vpcKind.wellFormed([]string{id}); err != nil {
		return err
	}
	have := map[string]bool{}
	for _, v := range f.vpcs(c.Caller.AccountID) {
		have[deref(v.VpcId)] = true
	}
	return vpcKind.exist([]string{id}, have)
}

func (f *front) describeVpcAttribute(c *service.Call, in *DescribeVpcAttributeRequest) (*DescribeVpcAttributeResult, error) {
	res := "*"
	if in.VpcId != "" {
		res = f.arn(c, "vpc", in.VpcId)
	}
	if err := f.authorize(c, "DescribeVpcAttribute", in.DryRun, res); err != nil {
		return nil, err
	}
	if in.Attribute == "" {
		return nil, errMissingParameter("The request must contain the parameter Attribute")
	}
	if err := f.ownVPC(c, in.VpcId); err != nil {
		return nil, err
	}
	out := &DescribeVpcAttributeResult{VpcId: ptr(in.VpcId)}
	switch in.Attribute {
	case "enableDnsSupport":
		out.EnableDnsSupport = &AttributeBooleanValue{Value: ptr(true)}
	case "enableDnsHostnames":
		out.EnableDnsHostnames = &AttributeBooleanValue{Value: ptr(true)}
	case "enableNetworkAddressUsageMetrics":
		out.EnableNetworkAddressUsageMetrics = &AttributeBooleanValue{Value: ptr(false)}
	default:
		return nil, errInvalidParameterValue("Value (%s) for parameter attribute is invalid. Unknown attribute.", in.Attribute)
	}
	return out, nil
}

// ---- Subnets

// usedAddresses counts, per default subnet, the cluster's addresses in use: the
// allocator hands them out cluster-wide, so that is what is left to launch into.
func (f *front) usedAddresses() (map[netip.Prefix]int, error) {
	insts, err := f.st().Instances("")
	if err != nil {
		return nil, err
	}
	used := map[netip.Prefix]int{}
	for _, in := range insts {
		if in.State == state.InstanceTerminated || in.PrivateIP == "" {
			continue
		}
		a, err := netip.ParseAddr(in.PrivateIP)
		if err != nil {
			continue
		}
		if p, err := state.ZoneSubnet(in.Zone); err == nil && p.Contains(a) {
			used[p]++
		}
	}
	return used, nil
}

// subnets lists the account's subnets: the default subnet of each zone, in zone order.
func (f *front) subnets(account string) ([]Subnet, error) {
	used, err := f.usedAddresses()
	if err != nil {
		return nil, err
	}
	zones := f.zones()
	ids := f.zoneIDs(zones)
	var out []Subnet
	for _, z := range zones {
		p, err := state.ZoneSubnet(z)
		if err != nil {
			continue // a zone name the address plan has no room for
		}
		id := defaultSubnetID(account, z)
		free := 1<<(32-p.Bits()) - subnetReserved - used[p]
		out = append(out, Subnet{
			SubnetId: ptr(id), SubnetArn: ptr("arn:aws:ec2:" + f.deps.Region + ":" + account + ":subnet/" + id),
			VpcId: ptr(defaultVPCID(account)), OwnerId: ptr(account), State: ptr("available"),
			CidrBlock: ptr(p.String()), AvailabilityZone: ptr(z), AvailabilityZoneId: ptr(ids[z]),
			AvailableIpAddressCount: ptr(int32(max(free, 0))), DefaultForAz: ptr(true),
			MapPublicIpOnLaunch:        ptr(f.st().MapPublicIPOnLaunch(account, z)),
			MapCustomerOwnedIpOnLaunch: ptr(false), AssignIpv6AddressOnCreation: ptr(false),
			Ipv6CidrBlockAssociationSet: []SubnetIpv6CidrBlockAssociation{}, EnableDns64: ptr(false), Ipv6Native: ptr(false),
			PrivateDnsNameOptionsOnLaunch: &PrivateDnsNameOptionsOnLaunch{HostnameType: ptr("ip-name"),
				EnableResourceNameDnsARecord: ptr(false), EnableResourceNameDnsAAAARecord: ptr(false)},
			BlockPublicAccessStates: &BlockPublicAccessStates{InternetGatewayBlockMode: ptr("off")},
			Tags:                    []Tag{},
		})
	}
	return out, nil
}

// subnetZone is the zone of one of the account's default subnets, named by its ID.
func (f *front) subnetZone(account, id string) (string, error) {
	if err := subnetKind.wellFormed([]string{id}); err != nil {
		return "", err
	}
	for _, z := range f.zones() {
		if _, err := state.ZoneSubnet(z); err == nil && defaultSubnetID(account, z) == id {
			return z, nil
		}
	}
	return "", subnetKind.exist([]string{id}, nil)
}

// modifySubnetAttribute sets MapPublicIpOnLaunch of a default subnet, the one attribute
// this cloud's subnets let change (one attribute a call, as EC2 has it).
func (f *front) modifySubnetAttribute(c *service.Call, in *ModifySubnetAttributeRequest) (*struct{}, error) {
	res := "*"
	if in.SubnetId != "" {
		res = f.arn(c, "subnet", in.SubnetId)
	}
	if err := f.authorize(c, "ModifySubnetAttribute", nil, res); err != nil {
		return nil, err
	}
	if in.SubnetId == "" {
		return nil, errMissingParameter("The request must contain the parameter SubnetId")
	}
	zone, err := f.subnetZone(c.Caller.AccountID, in.SubnetId)
	if err != nil {
		return nil, err
	}
	n := 0
	for _, set := range []bool{in.AssignIpv6AddressOnCreation != nil, in.MapPublicIpOnLaunch != nil,
		in.MapCustomerOwnedIpOnLaunch != nil || in.CustomerOwnedIpv4Pool != nil, in.EnableDns64 != nil,
		in.PrivateDnsHostnameTypeOnLaunch != nil, in.EnableResourceNameDnsARecordOnLaunch != nil,
		in.EnableResourceNameDnsAAAARecordOnLaunch != nil, in.EnableLniAtDeviceIndex != nil, in.DisableLniAtDeviceIndex != nil} {
		if set {
			n++
		}
	}
	switch {
	case n == 0:
		return nil, errMissingParameter("The request must contain an attribute to modify")
	case n > 1:
		return nil, errInvalidParameterCombo("Only one attribute can be modified at a time")
	case in.MapPublicIpOnLaunch == nil:
		return nil, errInvalidParameterValue("Only the subnet attribute MapPublicIpOnLaunch can be modified in this cloud")
	case in.MapPublicIpOnLaunch.Value == nil:
		return nil, errMissingParameter("The request must contain the parameter MapPublicIpOnLaunch.Value")
	}
	_, err = f.cluster.Apply(c.Ctx, &state.ModifySubnetAttribute{Account: c.Caller.AccountID, Zone: zone,
		MapPublicIPOnLaunch: in.MapPublicIpOnLaunch.Value}, nil)
	return nil, err
}

var subnetFilters = []string{"subnet-id", "vpc-id", "availability-zone", "availability-zone-id", "default-for-az",
	"defaultForAz", "cidr-block", "cidr", "cidrBlock", "state", "owner-id", "subnet-arn", "available-ip-address-count",
	"map-public-ip-on-launch", "ipv6-native", "tag-key"}

func subnetAttrs(s Subnet) attrs {
	return attrs{"subnet-id": {deref(s.SubnetId)}, "vpc-id": {deref(s.VpcId)}, "availability-zone": {deref(s.AvailabilityZone)},
		"availability-zone-id": {deref(s.AvailabilityZoneId)}, "default-for-az": {boolStr(deref(s.DefaultForAz))},
		"defaultForAz": {boolStr(deref(s.DefaultForAz))}, "cidr-block": {deref(s.CidrBlock)}, "cidr": {deref(s.CidrBlock)},
		"cidrBlock": {deref(s.CidrBlock)}, "state": {deref(s.State)}, "owner-id": {deref(s.OwnerId)},
		"subnet-arn": {deref(s.SubnetArn)}, "available-ip-address-count": {strconv.Itoa(int(deref(s.AvailableIpAddressCount)))},
		"map-public-ip-on-launch": {boolStr(deref(s.MapPublicIpOnLaunch))}, "ipv6-native": {boolStr(deref(s.Ipv6Native))}}
}

func (f *front) describeSubnets(c *service.Call, in *DescribeSubnetsRequest) (*DescribeSubnetsResult, error) {
	if err := f.authorize(c, "DescribeSubnets", in.DryRun); err != nil {
		return nil, err
	}
	fs, err := parseFilters(in.Filters, subnetFilters...)
	if err != nil {
		return nil, err
	}
	if err := subnetKind.wellFormed(in.SubnetIds); err != nil {
		return nil, err
	}
	all, err := f.subnets(c.Caller.AccountID)
	if err != nil {
		return nil, err
	}
	have := map[string]bool{}
	var kept []Subnet
	for _, s := range all {
		have[deref(s.SubnetId)] = true
		if selected(in.SubnetIds, deref(s.SubnetId)) && fs.match(subnetAttrs(s).get, nil) {
			kept = append(kept, s)
		}
	}
	if err := subnetKind.exist(in.SubnetIds, have); err != nil {
		return nil, err
	}
	items, next, err := page(kept, in.MaxResults, in.NextToken, 5, 1000)
	if err != nil {
		return nil, err
	}
	return &DescribeSubnetsResult{Subnets: append([]Subnet{}, items...), NextToken: next}, nil
}

// ---- Security groups: securitygroups.go

// ---- Network interfaces

// hasInterface reports whether an instance has its network interface: it has an
// address and is not terminated (EC2 deletes the primary interface with the instance).
func hasInterface(inst *state.Instance) bool {
	return inst.State != state.InstanceTerminated && inst.PrivateIP != "" && inst.Zone != ""
}

func (f *front) privateDNS(ip string) string {
	return "ip-" + strings.ReplaceAll(ip, ".", "-") + "." + privateDomain(f.deps.Region)
}

// networkInterface is an instance's primary network interface, in its subnet.
func (f *front) networkInterface(inst *state.Instance, zoneIDs map[string]string) NetworkInterface {
	dns := f.privateDNS(inst.PrivateIP)
	ni := NetworkInterface{
		NetworkInterfaceId: ptr(networkInterfaceID(inst.ID)),
		Attachment: &NetworkInterfaceAttachment{
			AttachmentId: ptr(networkAttachmentID(inst.ID)), InstanceId: ptr(inst.ID), InstanceOwnerId: ptr(inst.Account),
			DeviceIndex: ptr(int32(0)), NetworkCardIndex: ptr(int32(0)), Status: ptr("attached"),
			AttachTime: ptr(inst.LaunchTime), DeleteOnTermination: ptr(true),
		},
		AvailabilityZone: ptr(inst.Zone), AvailabilityZoneId: ptr(zoneIDs[inst.Zone]), Description: ptr(""),
		Groups: f.instanceGroups(inst), InterfaceType: ptr("interface"), Ipv6Addresses: []NetworkInterfaceIpv6Address{},
		MacAddress: ptr(inst.MAC), OwnerId: ptr(inst.Account), PrivateDnsName: ptr(dns), PrivateIpAddress: ptr(inst.PrivateIP),
		PrivateIpAddresses: []NetworkInterfacePrivateIpAddress{{Primary: ptr(true), PrivateIpAddress: ptr(inst.PrivateIP), PrivateDnsName: ptr(dns)}},
		RequesterManaged:   ptr(false), SourceDestCheck: ptr(true), Status: ptr("in-use"),
		SubnetId: ptr(defaultSubnetID(inst.Account, inst.Zone)), VpcId: ptr(defaultVPCID(inst.Account)), TagSet: []Tag{},
	}
	ni.Association = f.interfaceAssociation(inst) // addresses.go
	return ni
}

// setInstanceNetwork fills an instance record's network shapes from the same source
// DescribeNetworkInterfaces, DescribeSubnets and DescribeSecurityGroups answer from.
func (f *front) setInstanceNetwork(out *Instance, inst *state.Instance) {
	if inst.State == state.InstanceTerminated {
		out.SecurityGroups = []GroupIdentifier{}
		out.NetworkInterfaces = []InstanceNetworkInterface{}
		return
	}
	out.SecurityGroups = f.instanceGroups(inst)
	if inst.Zone != "" {
		out.VpcId = ptr(defaultVPCID(inst.Account))
		out.SubnetId = ptr(defaultSubnetID(inst.Account, inst.Zone))
	}
	out.NetworkInterfaces = []InstanceNetworkInterface{}
	if !hasInterface(inst) {
		return
	}
	ni := f.networkInterface(inst, nil)
	var addrs []InstancePrivateIpAddress
	for _, a := range ni.PrivateIpAddresses {
		addrs = append(addrs, InstancePrivateIpAddress{Primary: a.Primary, PrivateIpAddress: a.PrivateIpAddress, PrivateDnsName: a.PrivateDnsName})
	}
	at := ni.Attachment
	out.NetworkInterfaces = []InstanceNetworkInterface{{
		NetworkInterfaceId: ni.NetworkInterfaceId, Description: ni.Description, Groups: ni.Groups, Ipv6Addresses: []InstanceIpv6Address{},
		MacAddress: ni.MacAddress, OwnerId: ni.OwnerId, PrivateDnsName: ni.PrivateDnsName, PrivateIpAddress: ni.PrivateIpAddress,
		PrivateIpAddresses: addrs, SourceDestCheck: ni.SourceDestCheck, Status: ni.Status, SubnetId: ni.SubnetId, VpcId: ni.VpcId,
		InterfaceType: ni.InterfaceType,
		Attachment: &InstanceNetworkInterfaceAttachment{AttachmentId: at.AttachmentId, AttachTime: at.AttachTime,
			DeleteOnTermination: at.DeleteOnTermination, DeviceIndex: at.DeviceIndex, NetworkCardIndex: at.NetworkCardIndex, Status: at.Status},
	}}
	out.SourceDestCheck = ni.SourceDestCheck
}

var eniFilters = []string{"network-interface-id", "attachment.instance-id", "attachment.attachment-id", "attachment.status",
	"attachment.device-index", "attachment.instance-owner-id", "attachment.delete-on-termination", "subnet-id", "vpc-id",
	"private-ip-address", "addresses.private-ip-address", "addresses.primary", "mac-address", "availability-zone",
	"availability-zone-id", "status", "owner-id", "group-id", "group-name", "interface-type", "private-dns-name",
	"requester-managed", "source-dest-check", "description", "tag-key"}

func eniAttrs(n NetworkInterface) attrs {
	a := attrs{"network-interface-id": {deref(n.NetworkInterfaceId)}, "subnet-id": {deref(n.SubnetId)}, "vpc-id": {deref(n.VpcId)},
		"private-ip-address": {deref(n.PrivateIpAddress)}, "mac-address": {deref(n.MacAddress)},
		"availability-zone": {deref(n.AvailabilityZone)}, "availability-zone-id": {deref(n.AvailabilityZoneId)},
		"status": {deref(n.Status)}, "owner-id": {deref(n.OwnerId)}, "interface-type": {deref(n.InterfaceType)},
		"private-dns-name": {deref(n.PrivateDnsName)}, "requester-managed": {boolStr(deref(n.RequesterManaged))},
		"source-dest-check": {boolStr(deref(n.SourceDestCheck))}, "description": {deref(n.Description)}}
	if at := n.Attachment; at != nil {
		a["attachment.instance-id"] = []string{deref(at.InstanceId)}
		a["attachment.attachment-id"] = []string{deref(at.AttachmentId)}
		a["attachment.status"] = []string{deref(at.Status)}
		a["attachment.device-index"] = []string{strconv.Itoa(int(deref(at.DeviceIndex)))}
		a["attachment.instance-owner-id"] = []string{deref(at.InstanceOwnerId)}
		a["attachment.delete-on-termination"] = []string{boolStr(deref(at.DeleteOnTermination))}
	}
	for _, p := range n.PrivateIpAddresses {
		a["addresses.private-ip-address"] = append(a["addresses.private-ip-address"], deref(p.PrivateIpAddress))
		a["addresses.primary"] = append(a["addresses.primary"], boolStr(deref(p.Primary)))
		a["private-ip-address"] = append(a["private-ip-address"], deref(p.PrivateIpAddress))
	}
	for _, g := range n.Groups {
		a["group-id"] = append(a["group-id"], deref(g.GroupId))
		a["group-name"] = append(a["group-name"], deref(g.GroupName))
	}
	return a
}

// networkInterfaces lists the account's network interfaces: one per instance that has
// one, in instance ID order.
func (f *front) networkInterfaces(account string) ([]NetworkInterface, error) {
	insts, err := f.st().Instances(account)
	if err != nil {
		return nil, err
	}
	sort.Slice(insts, func(i, j int) bool { return insts[i].ID < insts[j].ID })
	zoneIDs := f.zoneIDs(f.zones())
	var out []NetworkInterface
	for _, in := range insts {
		if in.Account == account && hasInterface(in) {
			out = append(out, f.networkInterface(in, zoneIDs))
		}
	}
	return out, nil
}

func (f *front) describeNetworkInterfaces(c *service.Call, in *DescribeNetworkInterfacesRequest) (*DescribeNetworkInterfacesResult, error) {
	if err := f.authorize(c, "DescribeNetworkInterfaces", in.DryRun); err != nil {
		return nil, err
	}
	fs, err := parseFilters(in.Filters, eniFilters...)
	if err != nil {
		return nil, err
	}
	if err := eniKind.wellFormed(in.NetworkInterfaceIds); err != nil {
		return nil, err
	}
	var all []NetworkInterface
	have := map[string]bool{}
	for pass := 0; pass < 2; pass++ {
		if all, err = f.networkInterfaces(c.Caller.AccountID); err != nil {
			return nil, err
		}
		have = map[string]bool{}
		for _, n := range all {
			have[deref(n.NetworkInterfaceId)] = true
		}
		if eniKind.exist(in.NetworkInterfaceIds, have) == nil {
			break
		}
		f.catchUp(c) // an instance launched through another box a moment ago
	}
	if err := eniKind.exist(in.NetworkInterfaceIds, have); err != nil {
		return nil, err
	}
	var kept []NetworkInterface
	for _, n := range all {
		if selected(in.NetworkInterfaceIds, deref(n.NetworkInterfaceId)) && fs.match(eniAttrs(n).get, nil) {
			kept = append(kept, n)
		}
	}
	items, next, err := page(kept, in.MaxResults, in.NextToken, 5, 1000)
	if err != nil {
		return nil, err
	}
	return &DescribeNetworkInterfacesResult{NetworkInterfaces: append([]NetworkInterface{}, items...), NextToken: next}, nil
}

// ---- Route tables and internet gateways

func (f *front) routeTables(account string) []RouteTable {
	id := mainRouteTableID(account)
	return []RouteTable{{
		RouteTableId: ptr(id), VpcId: ptr(defaultVPCID(account)), OwnerId: ptr(account),
		Routes: []Route{
			{DestinationCidrBlock: ptr(defaultVPCCIDR), GatewayId: ptr("local"), Origin: ptr("CreateRouteTable"), State: ptr("active")},
			{DestinationCidrBlock: ptr(anywhereCIDR), GatewayId: ptr(defaultGatewayID(account)), Origin: ptr("CreateRoute"), State: ptr("active")},
		},
		Associations: []RouteTableAssociation{{
			Main: ptr(true), RouteTableAssociationId: ptr(derivedID("rtbassoc-", account, "route-table", "main", "association")),
			RouteTableId: ptr(id), AssociationState: &RouteTableAssociationState{State: ptr("associated")},
		}},
		PropagatingVgws: []PropagatingVgw{}, Tags: []Tag{},
	}}
}

var routeTableFilters = []string{"route-table-id", "vpc-id", "owner-id", "association.main", "association.route-table-id",
	"association.route-table-association-id", "association.subnet-id", "association.gateway-id",
	"route.destination-cidr-block", "route.gateway-id", "route.origin", "route.state", "tag-key"}

func routeTableAttrs(t RouteTable) attrs {
	a := attrs{"route-table-id": {deref(t.RouteTableId)}, "vpc-id": {deref(t.VpcId)}, "owner-id": {deref(t.OwnerId)}}
	for _, as := range t.Associations {
		a["association.main"] = append(a["association.main"], boolStr(deref(as.Main)))
		a["association.route-table-id"] = append(a["association.route-table-id"], deref(as.RouteTableId))
		a["association.route-table-association-id"] = append(a["association.route-table-association-id"], deref(as.RouteTableAssociationId))
		if as.SubnetId != nil {
			a["association.subnet-id"] = append(a["association.subnet-id"], *as.SubnetId)
		}
		if as.GatewayId != nil {
			a["association.gateway-id"] = append(a["association.gateway-id"], *as.GatewayId)
		}
	}
	for _, r := range t.Routes {
		a["route.destination-cidr-block"] = append(a["route.destination-cidr-block"], deref(r.DestinationCidrBlock))
		a["route.gateway-id"] = append(a["route.gateway-id"], deref(r.GatewayId))
		a["route.origin"] = append(a["route.origin"], deref(r.Origin))
		a["route.state"] = append(a["route.state"], deref(r.State))
	}
	return a
}

func (f *front) describeRouteTables(c *service.Call, in *DescribeRouteTablesRequest) (*DescribeRouteTablesResult, error) {
	if err := f.authorize(c, "DescribeRouteTables", in.DryRun); err != nil {
		return nil, err
	}
	fs, err := parseFilters(in.Filters, routeTableFilters...)
	if err != nil {
		return nil, err
	}
	if err := rtbKind.wellFormed(in.RouteTableIds); err != nil {
		return nil, err
	}
	have := map[string]bool{}
	var kept []RouteTable
	for _, t := range f.routeTables(c.Caller.AccountID) {
		have[deref(t.RouteTableId)] = true
		if selected(in.RouteTableIds, deref(t.RouteTableId)) && fs.match(routeTableAttrs(t).get, nil) {
			kept = append(kept, t)
		}
	}
	if err := rtbKind.exist(in.RouteTableIds, have); err != nil {
		return nil, err
	}
	items, next, err := page(kept, in.MaxResults, in.NextToken, 5, 100)
	if err != nil {
		return nil, err
	}
	return &DescribeRouteTablesResult{RouteTables: append([]RouteTable{}, items...), NextToken: next}, nil
}

func (f *front) internetGateways(account string) []InternetGateway {
	return []InternetGateway{{
		InternetGatewayId: ptr(defaultGatewayID(account)), OwnerId: ptr(account), Tags: []Tag{},
		Attachments: []InternetGatewayAttachment{{State: ptr("available"), VpcId: ptr(defaultVPCID(account))}},
	}}
}

var gatewayFilters = []string{"internet-gateway-id", "attachment.vpc-id", "attachment.state", "owner-id", "tag-key"}

func gatewayAttrs(g InternetGateway) attrs {
	a := attrs{"internet-gateway-id": {deref(g.InternetGatewayId)}, "owner-id": {deref(g.OwnerId)}}
	for _, at := range g.Attachments {
		a["attachment.vpc-id"] = append(a["attachment.vpc-id"], deref(at.VpcId))
		a["attachment.state"] = append(a["attachment.state"], deref(at.State))
	}
	return a
}

func (f *front) describeInternetGateways(c *service.Call, in *DescribeInternetGatewaysRequest) (*DescribeInternetGatewaysResult, error) {
	if err := f.authorize(c, "DescribeInternetGateways", in.DryRun); err != nil {
		return nil, err
	}
	fs, err := parseFilters(in.Filters, gatewayFilters...)
	if err != nil {
		return nil, err
	}
	if err := igwKind.wellFormed(in.InternetGatewayIds); err != nil {
		return nil, err
	}
	have := map[string]bool{}
	var kept []InternetGateway
	for _, g := range f.internetGateways(c.Caller.AccountID) {
		have[deref(g.InternetGatewayId)] = true
		if selected(in.InternetGatewayIds, deref(g.InternetGatewayId)) && fs.match(gatewayAttrs(g).get, nil) {
			kept = append(kept, g)
		}
	}
	if err := igwKind.exist(in.InternetGatewayIds, have); err != nil {
		return nil, err
	}
	items, next, err := page(kept, in.MaxResults, in.NextToken, 5, 1000)
	if err != nil {
		return nil, err
	}
	return &DescribeInternetGatewaysResult{InternetGateways: append([]InternetGateway{}, items...), NextToken: next}, nil
}
