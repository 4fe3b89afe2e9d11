package ec2

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdk "github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/banyancloud/banyan/cluster/state"
)

func filter(name string, values ...string) []types.Filter {
	return []types.Filter{{Name: aws.String(name), Values: values}}
}

func TestDefaultVPC(t *testing.T) {
	e := newEnv(t)
	c, acct := e.account("alice")
	bob, bobAcct := e.account("bob")

	d := must(t, call(c.DescribeVpcs(ctx, &sdk.DescribeVpcsInput{})))
	if len(d.Vpcs) != 1 {
		t.Fatalf("%d VPCs, want 1", len(d.Vpcs))
	}
	v := d.Vpcs[0]
	id := aws.ToString(v.VpcId)
	if !vpcIDRE.MatchString(id) || aws.ToString(v.CidrBlock) != "172.31.0.0/16" || !aws.ToBool(v.IsDefault) ||
		v.State != types.VpcStateAvailable || aws.ToString(v.OwnerId) != acct || v.InstanceTenancy != types.TenancyDefault ||
		!strings.HasPrefix(aws.ToString(v.DhcpOptionsId), "dopt-") || len(v.CidrBlockAssociationSet) != 1 ||
		aws.ToString(v.CidrBlockAssociationSet[0].CidrBlock) != "172.31.0.0/16" ||
		v.CidrBlockAssociationSet[0].CidrBlockState.State != types.VpcCidrBlockStateCodeAssociated {
		t.Fatalf("default VPC: %+v", v)
	}
	// Stable: asked again, the same ID; another account, another one.
	if again := must(t, call(c.DescribeVpcs(ctx, &sdk.DescribeVpcsInput{}))); aws.ToString(again.Vpcs[0].VpcId) != id {
		t.Fatalf("VPC ID changed: %s then %s", id, aws.ToString(again.Vpcs[0].VpcId))
	}
	bv := must(t, call(bob.DescribeVpcs(ctx, &sdk.DescribeVpcsInput{})))
	if len(bv.Vpcs) != 1 || aws.ToString(bv.Vpcs[0].VpcId) == id || aws.ToString(bv.Vpcs[0].OwnerId) != bobAcct {
		t.Fatalf("bob's VPC: %+v", bv.Vpcs)
	}

	for _, tc := range []struct {
		f    []types.Filter
		want int
	}{
		{filter("is-default", "true"), 1}, {filter("is-default", "false"), 0},
		{filter("cidr", "172.31.0.0/16"), 1}, {filter("cidr", "10.0.0.0/16"), 0},
		{filter("state", "available"), 1}, {filter("owner-id", acct), 1}, {filter("owner-id", bobAcct), 0},
		{filter("vpc-id", "vpc-*"), 1}, {filter("vpc-id", aws.ToString(bv.Vpcs[0].VpcId)), 0},
		{filter("tag:Name", "x"), 0},
	} {
		got := must(t, call(c.DescribeVpcs(ctx, &sdk.DescribeVpcsInput{Filters: tc.f})))
		if len(got.Vpcs) != tc.want {
			t.Fatalf("filter %s=%v: %d VPCs, want %d", *tc.f[0].Name, tc.f[0].Values, len(got.Vpcs), tc.want)
		}
	}
	if got := must(t, call(c.DescribeVpcs(ctx, &sdk.DescribeVpcsInput{VpcIds: []string{id}}))); len(got.Vpcs) != 1 {
		t.Fatalf("by ID: %+v", got.Vpcs)
	}
	_, err := c.DescribeVpcs(ctx, &sdk.DescribeVpcsInput{VpcIds: []string{aws.ToString(bv.Vpcs[0].VpcId)}})
	wantErr(t, err, "InvalidVpcID.NotFound", 400)
	_, err = c.DescribeVpcs(ctx, &sdk.DescribeVpcsInput{VpcIds: []string{"vpc-nope"}})
	wantErr(t, err, "InvalidVpcID.Malformed", 400)
	_, err = c.DescribeVpcs(ctx, &sdk.DescribeVpcsInput{Filters: filter("colour", "blue")})
	wantErr(t, err, "InvalidFilter", 400)
	_, err = c.DescribeVpcs(ctx, &sdk.DescribeVpcsInput{DryRun: aws.Bool(true)})
	wantErr(t, err, "DryRunOperation", 412)
	_, err = c.DescribeVpcs(ctx, &sdk.DescribeVpcsInput{MaxResults: aws.Int32(1)})
	wantErr(t, err, "InvalidParameterValue", 400)

	// Attributes: DNS on, as in a default VPC.
	dns := must(t, call(c.DescribeVpcAttribute(ctx, &sdk.DescribeVpcAttributeInput{VpcId: aws.String(id), Attribute: types.VpcAttributeNameEnableDnsSupport})))
	if aws.ToString(dns.VpcId) != id || dns.EnableDnsSupport == nil || !aws.ToBool(dns.EnableDnsSupport.Value) || dns.EnableDnsHostnames != nil {
		t.Fatalf("enableDnsSupport: %+v", dns)
	}
	hn := must(t, call(c.DescribeVpcAttribute(ctx, &sdk.DescribeVpcAttributeInput{VpcId: aws.String(id), Attribute: types.VpcAttributeNameEnableDnsHostnames})))
	if hn.EnableDnsHostnames == nil || !aws.ToBool(hn.EnableDnsHostnames.Value) {
		t.Fatalf("enableDnsHostnames: %+v", hn)
	}
	_, err = c.DescribeVpcAttribute(ctx, &sdk.DescribeVpcAttributeInput{VpcId: aws.String(id), Attribute: "colour"})
	wantErr(t, err, "InvalidParameterValue", 400)
	_, err = c.DescribeVpcAttribute(ctx, &sdk.DescribeVpcAttributeInput{VpcId: bv.Vpcs[0].VpcId, Attribute: types.VpcAttributeNameEnableDnsSupport})
	wantErr(t, err, "InvalidVpcID.NotFound", 400)
	_, err = c.DescribeVpcAttribute(ctx, &sdk.DescribeVpcAttributeInput{VpcId: aws.String("junk"), Attribute: types.VpcAttributeNameEnableDnsSupport})
	wantErr(t, err, "InvalidVpcID.Malformed", 400)
	_, err = c.DescribeVpcAttribute(ctx, &sdk.DescribeVpcAttributeInput{VpcId: aws.String(id), Attribute: types.VpcAttributeNameEnableDnsSupport, DryRun: aws.Bool(true)})
	wantErr(t, err, "DryRunOperation", 412)

	// The account attribute SDKs and Terraform read to find the default VPC.
	aa := must(t, call(c.DescribeAccountAttributes(ctx, &sdk.DescribeAccountAttributesInput{AttributeNames: []types.AccountAttributeName{types.AccountAttributeNameDefaultVpc}})))
	if len(aa.AccountAttributes) != 1 || aws.ToString(aa.AccountAttributes[0].AttributeValues[0].AttributeValue) != id {
		t.Fatalf("default-vpc attribute: %+v", aa.AccountAttributes)
	}
}

func TestDefaultSubnets(t *testing.T) {
	e := newEnv(t)
	c, acct := e.account("alice")
	bob, _ := e.account("bob")
	vpc := defaultVPCID(acct)

	d := must(t, call(c.DescribeSubnets(ctx, &sdk.DescribeSubnetsInput{})))
	if len(d.Subnets) != 2 {
		t.Fatalf("%d subnets, want one per zone (2)", len(d.Subnets))
	}
	azs := must(t, call(c.DescribeAvailabilityZones(ctx, &sdk.DescribeAvailabilityZonesInput{})))
	zoneID := map[string]string{}
	for _, z := range azs.AvailabilityZones {
		zoneID[aws.ToString(z.ZoneName)] = aws.ToString(z.ZoneId)
	}
	want := map[string]string{"us-east-1a": "172.31.0.0/20", "us-east-1b": "172.31.16.0/20"}
	subnetOf := map[string]string{}
	for _, s := range d.Subnets {
		z := aws.ToString(s.AvailabilityZone)
		if aws.ToString(s.CidrBlock) != want[z] || aws.ToString(s.AvailabilityZoneId) != zoneID[z] || zoneID[z] == "" ||
			!aws.ToBool(s.DefaultForAz) || aws.ToBool(s.MapPublicIpOnLaunch) || s.MapPublicIpOnLaunch == nil ||
			aws.ToString(s.VpcId) != vpc || s.State != types.SubnetStateAvailable || aws.ToInt32(s.AvailableIpAddressCount) != 4091 ||
			!subnetIDRE.MatchString(aws.ToString(s.SubnetId)) || aws.ToString(s.OwnerId) != acct ||
			aws.ToString(s.SubnetArn) != "arn:aws:ec2:us-east-1:"+acct+":subnet/"+aws.ToString(s.SubnetId) {
			t.Fatalf("subnet of %s: %+v", z, s)
		}
		subnetOf[z] = aws.ToString(s.SubnetId)
	}
	if subnetOf["us-east-1a"] == subnetOf["us-east-1b"] {
		t.Fatal("two zones share a subnet ID")
	}
	bs := must(t, call(bob.DescribeSubnets(ctx, &sdk.DescribeSubnetsInput{Filters: filter("availability-zone", "us-east-1a")})))
	if len(bs.Subnets) != 1 || aws.ToString(bs.Subnets[0].SubnetId) == subnetOf["us-east-1a"] || aws.ToString(bs.Subnets[0].VpcId) == vpc {
		t.Fatalf("bob's subnet in us-east-1a: %+v", bs.Subnets)
	}

	for _, tc := range []struct {
		f    []types.Filter
		want int
	}{
		{filter("availability-zone", "us-east-1b"), 1}, {filter("availability-zone", "us-east-1*"), 2},
		{filter("default-for-az", "true"), 2}, {filter("default-for-az", "false"), 0},
		{filter("cidr-block", "172.31.16.0/20"), 1}, {filter("vpc-id", vpc), 2}, {filter("vpc-id", "vpc-00000000"), 0},
		{filter("subnet-id", subnetOf["us-east-1a"]), 1}, {filter("state", "available"), 2},
	} {
		got := must(t, call(c.DescribeSubnets(ctx, &sdk.DescribeSubnetsInput{Filters: tc.f})))
		if len(got.Subnets) != tc.want {
			t.Fatalf("filter %s=%v: %d subnets, want %d", *tc.f[0].Name, tc.f[0].Values, len(got.Subnets), tc.want)
		}
	}
	got := must(t, call(c.DescribeSubnets(ctx, &sdk.DescribeSubnetsInput{SubnetIds: []string{subnetOf["us-east-1b"]}})))
	if len(got.Subnets) != 1 || aws.ToString(got.Subnets[0].AvailabilityZone) != "us-east-1b" {
		t.Fatalf("by ID: %+v", got.Subnets)
	}
	_, err := c.DescribeSubnets(ctx, &sdk.DescribeSubnetsInput{SubnetIds: []string{aws.ToString(bs.Subnets[0].SubnetId)}})
	wantErr(t, err, "InvalidSubnetID.NotFound", 400)
	_, err = c.DescribeSubnets(ctx, &sdk.DescribeSubnetsInput{SubnetIds: []string{"subnet-XYZ"}})
	wantErr(t, err, "InvalidSubnetID.Malformed", 400)
	_, err = c.DescribeSubnets(ctx, &sdk.DescribeSubnetsInput{Filters: filter("zone", "us-east-1a")})
	wantErr(t, err, "InvalidFilter", 400)
	_, err = c.DescribeSubnets(ctx, &sdk.DescribeSubnetsInput{DryRun: aws.Bool(true)})
	wantErr(t, err, "DryRunOperation", 412)

	// Instances take addresses out of their zone's subnet, and show its IDs.
	e.image(acct, "ami-00000000000000aaa")
	r := must(t, call(c.RunInstances(ctx, &sdk.RunInstancesInput{ImageId: aws.String("ami-00000000000000aaa"), MinCount: aws.Int32(2), MaxCount: aws.Int32(2)})))
	for _, in := range r.Instances {
		z := aws.ToString(in.Placement.AvailabilityZone)
		if aws.ToString(in.VpcId) != vpc || aws.ToString(in.SubnetId) != subnetOf[z] || subnetOf[z] == "" {
			t.Fatalf("instance in %s: VpcId %s SubnetId %s, want %s %s", z, aws.ToString(in.VpcId), aws.ToString(in.SubnetId), vpc, subnetOf[z])
		}
	}
	d = must(t, call(c.DescribeSubnets(ctx, &sdk.DescribeSubnetsInput{})))
	for _, s := range d.Subnets {
		if aws.ToInt32(s.AvailableIpAddressCount) != 4090 {
			t.Fatalf("subnet %s: %d addresses available after one launch, want 4090", aws.ToString(s.CidrBlock), aws.ToInt32(s.AvailableIpAddressCount))
		}
	}
	_, err = c.DescribeSubnets(ctx, &sdk.DescribeSubnetsInput{MaxResults: aws.Int32(5), NextToken: aws.String("x")})
	wantErr(t, err, "InvalidNextToken", 400)
}

func TestDefaultSecurityGroup(t *testing.T) {
	e := newEnv(t)
	c, acct := e.account("alice")
	bob, _ := e.account("bob")

	d := must(t, call(c.DescribeSecurityGroups(ctx, &sdk.DescribeSecurityGroupsInput{})))
	if len(d.SecurityGroups) != 1 {
		t.Fatalf("%d security groups, want 1", len(d.SecurityGroups))
	}
	g := d.SecurityGroups[0]
	id := aws.ToString(g.GroupId)
	if !groupIDRE.MatchString(id) || aws.ToString(g.GroupName) != "default" || aws.ToString(g.Description) != "default VPC security group" ||
		aws.ToString(g.VpcId) != defaultVPCID(acct) || aws.ToString(g.OwnerId) != acct {
		t.Fatalf("default group: %+v", g)
	}
	if len(g.IpPermissions) != 1 || aws.ToString(g.IpPermissions[0].IpProtocol) != "-1" || len(g.IpPermissions[0].UserIdGroupPairs) != 1 ||
		aws.ToString(g.IpPermissions[0].UserIdGroupPairs[0].GroupId) != id || aws.ToString(g.IpPermissions[0].UserIdGroupPairs[0].UserId) != acct ||
		len(g.IpPermissions[0].IpRanges) != 0 {
		t.Fatalf("default group ingress: %+v", g.IpPermissions)
	}
	if len(g.IpPermissionsEgress) != 1 || aws.ToString(g.IpPermissionsEgress[0].IpProtocol) != "-1" || len(g.IpPermissionsEgress[0].IpRanges) != 1 ||
		aws.ToString(g.IpPermissionsEgress[0].IpRanges[0].CidrIp) != "0.0.0.0/0" {
		t.Fatalf("default group egress: %+v", g.IpPermissionsEgress)
	}
	bg := must(t, call(bob.DescribeSecurityGroups(ctx, &sdk.DescribeSecurityGroupsInput{GroupNames: []string{"default"}})))
	if len(bg.SecurityGroups) != 1 || aws.ToString(bg.SecurityGroups[0].GroupId) == id {
		t.Fatalf("bob's default group: %+v", bg.SecurityGroups)
	}

	for _, tc := range []struct {
		f    []types.Filter
		want int
	}{
		{filter("group-name", "default"), 1}, {filter("group-name", "web"), 0}, {filter("group-id", id), 1},
		{filter("vpc-id", defaultVPCID(acct)), 1}, {filter("vpc-id", aws.ToString(bg.SecurityGroups[0].VpcId)), 0},
	} {
		got := must(t, call(c.DescribeSecurityGroups(ctx, &sdk.DescribeSecurityGroupsInput{Filters: tc.f})))
		if len(got.SecurityGroups) != tc.want {
			t.Fatalf("filter %s=%v: %d groups, want %d", *tc.f[0].Name, tc.f[0].Values, len(got.SecurityGroups), tc.want)
		}
	}
	if got := must(t, call(c.DescribeSecurityGroups(ctx, &sdk.DescribeSecurityGroupsInput{GroupIds: []string{id}}))); len(got.SecurityGroups) != 1 {
		t.Fatalf("by ID: %+v", got.SecurityGroups)
	}
	_, err := c.DescribeSecurityGroups(ctx, &sdk.DescribeSecurityGroupsInput{GroupNames: []string{"web"}})
	wantErr(t, err, "InvalidGroup.NotFound", 400)
	_, err = c.DescribeSecurityGroups(ctx, &sdk.DescribeSecurityGroupsInput{GroupIds: []string{aws.ToString(bg.SecurityGroups[0].GroupId)}})
	wantErr(t, err, "InvalidGroup.NotFound", 400)
	_, err = c.DescribeSecurityGroups(ctx, &sdk.DescribeSecurityGroupsInput{GroupIds: []string{"default"}})
	wantErr(t, err, "InvalidGroupId.Malformed", 400)
	_, err = c.DescribeSecurityGroups(ctx, &sdk.DescribeSecurityGroupsInput{Filters: filter("name", "default")})
	wantErr(t, err, "InvalidFilter", 400)
	_, err = c.DescribeSecurityGroups(ctx, &sdk.DescribeSecurityGroupsInput{DryRun: aws.Bool(true)})
	wantErr(t, err, "DryRunOperation", 412)
}

func TestNetworkInterfaces(t *testing.T) {
	e := newEnv(t)
	c, acct := e.account("alice")
	bob, bobAcct := e.account("bob")
	e.image(acct, "ami-00000000000000aaa")
	e.image(bobAcct, "ami-00000000000000bbb")

	if got := must(t, call(c.DescribeNetworkInterfaces(ctx, &sdk.DescribeNetworkInterfacesInput{}))); len(got.NetworkInterfaces) != 0 {
		t.Fatalf("%d interfaces before any instance", len(got.NetworkInterfaces))
	}
	r := must(t, call(c.RunInstances(ctx, &sdk.RunInstancesInput{ImageId: aws.String("ami-00000000000000aaa"), MinCount: aws.Int32(2), MaxCount: aws.Int32(2)})))
	must(t, call(bob.RunInstances(ctx, &sdk.RunInstancesInput{ImageId: aws.String("ami-00000000000000bbb"), MinCount: aws.Int32(1), MaxCount: aws.Int32(1)})))
	subnets := must(t, call(c.DescribeSubnets(ctx, &sdk.DescribeSubnetsInput{})))
	subnetOf := map[string]string{}
	for _, s := range subnets.Subnets {
		subnetOf[aws.ToString(s.AvailabilityZone)] = aws.ToString(s.SubnetId)
	}
	sg := defaultGroupID(acct)

	d := must(t, call(c.DescribeNetworkInterfaces(ctx, &sdk.DescribeNetworkInterfacesInput{})))
	if len(d.NetworkInterfaces) != 2 {
		t.Fatalf("alice has %d interfaces, want 2", len(d.NetworkInterfaces))
	}
	byInstance := map[string]types.NetworkInterface{}
	for _, n := range d.NetworkInterfaces {
		byInstance[aws.ToString(n.Attachment.InstanceId)] = n
	}
	for _, in := range r.Instances {
		iid := aws.ToString(in.InstanceId)
		n, ok := byInstance[iid]
		st, _ := e.local.State().Instance(iid)
		z := st.Zone
		ip := st.PrivateIP
		if !ok || aws.ToString(n.NetworkInterfaceId) != "eni-"+strings.TrimPrefix(iid, "i-") ||
			aws.ToInt32(n.Attachment.DeviceIndex) != 0 || n.Attachment.Status != types.AttachmentStatusAttached ||
			!strings.HasPrefix(aws.ToString(n.Attachment.AttachmentId), "eni-attach-") ||
			aws.ToString(n.MacAddress) != st.MAC || aws.ToString(n.PrivateIpAddress) != ip ||
			len(n.PrivateIpAddresses) != 1 || aws.ToString(n.PrivateIpAddresses[0].PrivateIpAddress) != ip || !aws.ToBool(n.PrivateIpAddresses[0].Primary) ||
			aws.ToString(n.PrivateDnsName) != "ip-"+strings.ReplaceAll(ip, ".", "-")+".ec2.internal" ||
			aws.ToString(n.SubnetId) != subnetOf[z] || aws.ToString(n.VpcId) != defaultVPCID(acct) || aws.ToString(n.AvailabilityZone) != z ||
			len(n.Groups) != 1 || aws.ToString(n.Groups[0].GroupId) != sg || aws.ToString(n.Groups[0].GroupName) != "default" ||
			n.Status != types.NetworkInterfaceStatusInUse || n.InterfaceType != types.NetworkInterfaceTypeInterface ||
			aws.ToString(n.OwnerId) != acct || !aws.ToBool(n.SourceDestCheck) {
			t.Fatalf("interface of %s: %+v (attachment %+v)", iid, n, n.Attachment)
		}
	}

	// The instance records carry the same shapes.
	di := must(t, call(c.DescribeInstances(ctx, &sdk.DescribeInstancesInput{})))
	for _, res := range di.Reservations {
		for _, in := range res.Instances {
			n := byInstance[aws.ToString(in.InstanceId)]
			if aws.ToString(in.VpcId) != aws.ToString(n.VpcId) || aws.ToString(in.SubnetId) != aws.ToString(n.SubnetId) ||
				len(in.SecurityGroups) != 1 || aws.ToString(in.SecurityGroups[0].GroupId) != sg || aws.ToString(in.SecurityGroups[0].GroupName) != "default" ||
				len(in.NetworkInterfaces) != 1 || aws.ToString(in.NetworkInterfaces[0].NetworkInterfaceId) != aws.ToString(n.NetworkInterfaceId) ||
				aws.ToString(in.NetworkInterfaces[0].MacAddress) != aws.ToString(n.MacAddress) ||
				aws.ToString(in.NetworkInterfaces[0].PrivateIpAddress) != aws.ToString(in.PrivateIpAddress) ||
				aws.ToInt32(in.NetworkInterfaces[0].Attachment.DeviceIndex) != 0 || len(in.NetworkInterfaces[0].Groups) != 1 {
				t.Fatalf("instance %s network shapes: %+v", aws.ToString(in.InstanceId), in)
			}
		}
	}

	// Filters.
	first := r.Instances[0]
	firstENI := byInstance[aws.ToString(first.InstanceId)]
	for _, tc := range []struct {
		f    []types.Filter
		want int
	}{
		{filter("attachment.instance-id", aws.ToString(first.InstanceId)), 1},
		{filter("network-interface-id", aws.ToString(firstENI.NetworkInterfaceId)), 1},
		{filter("network-interface-id", "eni-*"), 2},
		{filter("subnet-id", aws.ToString(firstENI.SubnetId)), 1},
		{filter("vpc-id", defaultVPCID(acct)), 2}, {filter("vpc-id", defaultVPCID(bobAcct)), 0},
		{filter("private-ip-address", aws.ToString(firstENI.PrivateIpAddress)), 1},
		{filter("mac-address", aws.ToString(firstENI.MacAddress)), 1},
		{filter("availability-zone", aws.ToString(firstENI.AvailabilityZone)), 1},
		{filter("status", "in-use"), 2}, {filter("status", "available"), 0},
		{filter("group-id", sg), 2},
	} {
		got := must(t, call(c.DescribeNetworkInterfaces(ctx, &sdk.DescribeNetworkInterfacesInput{Filters: tc.f})))
		if len(got.NetworkInterfaces) != tc.want {
			t.Fatalf("filter %s=%v: %d interfaces, want %d", *tc.f[0].Name, tc.f[0].Values, len(got.NetworkInterfaces), tc.want)
		}
	}
	got := must(t, call(c.DescribeNetworkInterfaces(ctx, &sdk.DescribeNetworkInterfacesInput{NetworkInterfaceIds: []string{aws.ToString(firstENI.NetworkInterfaceId)}})))
	if len(got.NetworkInterfaces) != 1 {
		t.Fatalf("by ID: %+v", got.NetworkInterfaces)
	}

	// Bob sees his own interface only, and none of alice's.
	bd := must(t, call(bob.DescribeNetworkInterfaces(ctx, &sdk.DescribeNetworkInterfacesInput{})))
	if len(bd.NetworkInterfaces) != 1 || aws.ToString(bd.NetworkInterfaces[0].OwnerId) != bobAcct ||
		aws.ToString(bd.NetworkInterfaces[0].VpcId) != defaultVPCID(bobAcct) || aws.ToString(bd.NetworkInterfaces[0].Groups[0].GroupId) != defaultGroupID(bobAcct) {
		t.Fatalf("bob's interfaces: %+v", bd.NetworkInterfaces)
	}
	_, err := bob.DescribeNetworkInterfaces(ctx, &sdk.DescribeNetworkInterfacesInput{NetworkInterfaceIds: []string{aws.ToString(firstENI.NetworkInterfaceId)}})
	wantErr(t, err, "InvalidNetworkInterfaceID.NotFound", 400)
	if got := must(t, call(bob.DescribeNetworkInterfaces(ctx, &sdk.DescribeNetworkInterfacesInput{Filters: filter("attachment.instance-id", aws.ToString(first.InstanceId))}))); len(got.NetworkInterfaces) != 0 {
		t.Fatalf("bob finds alice's interface by filter: %+v", got.NetworkInterfaces)
	}
	_, err = c.DescribeNetworkInterfaces(ctx, &sdk.DescribeNetworkInterfacesInput{NetworkInterfaceIds: []string{"i-00000000000000001"}})
	wantErr(t, err, "InvalidNetworkInterfaceId.Malformed", 400)
	_, err = c.DescribeNetworkInterfaces(ctx, &sdk.DescribeNetworkInterfacesInput{Filters: filter("instance-id", "x")})
	wantErr(t, err, "InvalidFilter", 400)
	_, err = c.DescribeNetworkInterfaces(ctx, &sdk.DescribeNetworkInterfacesInput{DryRun: aws.Bool(true)})
	wantErr(t, err, "DryRunOperation", 412)

	// Paging.
	p1 := must(t, call(c.DescribeNetworkInterfaces(ctx, &sdk.DescribeNetworkInterfacesInput{MaxResults: aws.Int32(5)})))
	if len(p1.NetworkInterfaces) != 2 || p1.NextToken != nil {
		t.Fatalf("page of 5: %d, next %v", len(p1.NetworkInterfaces), p1.NextToken)
	}

	// A terminated instance has no interface any more, nor network shapes.
	iid := aws.ToString(first.InstanceId)
	must(t, call(c.TerminateInstances(ctx, &sdk.TerminateInstancesInput{InstanceIds: []string{iid}})))
	st, _ := e.local.State().Instance(iid)
	e.apply(&state.ReportInstance{ID: iid, Node: st.Node, Generation: st.Generation, State: state.InstanceTerminated})
	if got := must(t, call(c.DescribeNetworkInterfaces(ctx, &sdk.DescribeNetworkInterfacesInput{}))); len(got.NetworkInterfaces) != 1 {
		t.Fatalf("%d interfaces after terminating one of two", len(got.NetworkInterfaces))
	}
	_, err = c.DescribeNetworkInterfaces(ctx, &sdk.DescribeNetworkInterfacesInput{NetworkInterfaceIds: []string{aws.ToString(firstENI.NetworkInterfaceId)}})
	wantErr(t, err, "InvalidNetworkInterfaceID.NotFound", 400)
	ti := must(t, call(c.DescribeInstances(ctx, &sdk.DescribeInstancesInput{InstanceIds: []string{iid}})))
	if in := ti.Reservations[0].Instances[0]; in.VpcId != nil || len(in.NetworkInterfaces) != 0 || len(in.SecurityGroups) != 0 {
		t.Fatalf("terminated instance keeps network shapes: %+v", in)
	}
}

func TestRouteTablesAndGateways(t *testing.T) {
	e := newEnv(t)
	c, acct := e.account("alice")
	bob, bobAcct := e.account("bob")
	vpc, igw := defaultVPCID(acct), defaultGatewayID(acct)

	gw := must(t, call(c.DescribeInternetGateways(ctx, &sdk.DescribeInternetGatewaysInput{})))
	if len(gw.InternetGateways) != 1 {
		t.Fatalf("%d internet gateways, want 1", len(gw.InternetGateways))
	}
	g := gw.InternetGateways[0]
	if aws.ToString(g.InternetGatewayId) != igw || !igwIDRE.MatchString(igw) || aws.ToString(g.OwnerId) != acct ||
		len(g.Attachments) != 1 || aws.ToString(g.Attachments[0].VpcId) != vpc || g.Attachments[0].State != types.AttachmentStatus("available") {
		t.Fatalf("internet gateway: %+v", g)
	}
	for _, tc := range []struct {
		f    []types.Filter
		want int
	}{
		{filter("attachment.vpc-id", vpc), 1}, {filter("attachment.vpc-id", defaultVPCID(bobAcct)), 0},
		{filter("internet-gateway-id", igw), 1}, {filter("attachment.state", "available"), 1},
	} {
		got := must(t, call(c.DescribeInternetGateways(ctx, &sdk.DescribeInternetGatewaysInput{Filters: tc.f})))
		if len(got.InternetGateways) != tc.want {
			t.Fatalf("filter %s=%v: %d gateways, want %d", *tc.f[0].Name, tc.f[0].Values, len(got.InternetGateways), tc.want)
		}
	}
	_, err := c.DescribeInternetGateways(ctx, &sdk.DescribeInternetGatewaysInput{InternetGatewayIds: []string{defaultGatewayID(bobAcct)}})
	wantErr(t, err, "InvalidInternetGatewayID.NotFound", 400)
	_, err = c.DescribeInternetGateways(ctx, &sdk.DescribeInternetGatewaysInput{InternetGatewayIds: []string{"gw-1"}})
	wantErr(t, err, "InvalidInternetGatewayId.Malformed", 400)
	_, err = c.DescribeInternetGateways(ctx, &sdk.DescribeInternetGatewaysInput{DryRun: aws.Bool(true)})
	wantErr(t, err, "DryRunOperation", 412)

	rt := must(t, call(c.DescribeRouteTables(ctx, &sdk.DescribeRouteTablesInput{})))
	if len(rt.RouteTables) != 1 {
		t.Fatalf("%d route tables, want 1", len(rt.RouteTables))
	}
	tb := rt.RouteTables[0]
	if !rtbIDRE.MatchString(aws.ToString(tb.RouteTableId)) || aws.ToString(tb.VpcId) != vpc || aws.ToString(tb.OwnerId) != acct ||
		len(tb.Associations) != 1 || !aws.ToBool(tb.Associations[0].Main) || aws.ToString(tb.Associations[0].RouteTableId) != aws.ToString(tb.RouteTableId) ||
		len(tb.Routes) != 2 ||
		aws.ToString(tb.Routes[0].DestinationCidrBlock) != "172.31.0.0/16" || aws.ToString(tb.Routes[0].GatewayId) != "local" ||
		aws.ToString(tb.Routes[1].DestinationCidrBlock) != "0.0.0.0/0" || aws.ToString(tb.Routes[1].GatewayId) != igw ||
		tb.Routes[1].State != types.RouteStateActive {
		t.Fatalf("main route table: %+v", tb)
	}
	for _, tc := range []struct {
		f    []types.Filter
		want int
	}{
		{filter("association.main", "true"), 1}, {filter("association.main", "false"), 0},
		{filter("vpc-id", vpc), 1}, {filter("route.gateway-id", igw), 1}, {filter("route.destination-cidr-block", "0.0.0.0/0"), 1},
		{filter("association.subnet-id", defaultSubnetID(acct, "us-east-1a")), 0},
	} {
		got := must(t, call(c.DescribeRouteTables(ctx, &sdk.DescribeRouteTablesInput{Filters: tc.f})))
		if len(got.RouteTables) != tc.want {
			t.Fatalf("filter %s=%v: %d route tables, want %d", *tc.f[0].Name, tc.f[0].Values, len(got.RouteTables), tc.want)
		}
	}
	brt := must(t, call(bob.DescribeRouteTables(ctx, &sdk.DescribeRouteTablesInput{})))
	if len(brt.RouteTables) != 1 || aws.ToString(brt.RouteTables[0].RouteTableId) == aws.ToString(tb.RouteTableId) {
		t.Fatalf("bob's route table: %+v", brt.RouteTables)
	}
	_, err = c.DescribeRouteTables(ctx, &sdk.DescribeRouteTablesInput{RouteTableIds: []string{aws.ToString(brt.RouteTables[0].RouteTableId)}})
	wantErr(t, err, "InvalidRouteTableID.NotFound", 400)
	_, err = c.DescribeRouteTables(ctx, &sdk.DescribeRouteTablesInput{RouteTableIds: []string{"rtb-?"}})
	wantErr(t, err, "InvalidRouteTableId.Malformed", 400)
	_, err = c.DescribeRouteTables(ctx, &sdk.DescribeRouteTablesInput{Filters: filter("route.instance-id", "i-1")})
	wantErr(t, err, "InvalidFilter", 400)
	_, err = c.DescribeRouteTables(ctx, &sdk.DescribeRouteTablesInput{DryRun: aws.Bool(true)})
	wantErr(t, err, "DryRunOperation", 412)
}

func TestModifySubnetAttribute(t *testing.T) {
	e := newEnv(t)
	c, _ := e.account("alice")
	bob, _ := e.account("bob")
	subnetOf := map[string]string{}
	for _, s := range must(t, call(c.DescribeSubnets(ctx, &sdk.DescribeSubnetsInput{}))).Subnets {
		subnetOf[aws.ToString(s.AvailabilityZone)] = aws.ToString(s.SubnetId)
	}
	on := &types.AttributeBooleanValue{Value: aws.Bool(true)}
	for _, tc := range []struct {
		in   *sdk.ModifySubnetAttributeInput
		code string
	}{
		{&sdk.ModifySubnetAttributeInput{SubnetId: aws.String("subnet-XYZ"), MapPublicIpOnLaunch: on}, "InvalidSubnetID.Malformed"},
		{&sdk.ModifySubnetAttributeInput{SubnetId: aws.String("subnet-0123456789abcdef0"), MapPublicIpOnLaunch: on}, "InvalidSubnetID.NotFound"},
		{&sdk.ModifySubnetAttributeInput{SubnetId: aws.String(subnetOf["us-east-1a"])}, "MissingParameter"},
		{&sdk.ModifySubnetAttributeInput{SubnetId: aws.String(subnetOf["us-east-1a"]), MapPublicIpOnLaunch: &types.AttributeBooleanValue{}}, "MissingParameter"},
		{&sdk.ModifySubnetAttributeInput{SubnetId: aws.String(subnetOf["us-east-1a"]), MapPublicIpOnLaunch: on, EnableDns64: on}, "InvalidParameterCombination"},
		{&sdk.ModifySubnetAttributeInput{SubnetId: aws.String(subnetOf["us-east-1a"]), AssignIpv6AddressOnCreation: on}, "InvalidParameterValue"},
	} {
		_, err := c.ModifySubnetAttribute(ctx, tc.in)
		wantErr(t, err, tc.code, 400)
	}
	// Another account's subnet is not found.
	_, err := bob.ModifySubnetAttribute(ctx, &sdk.ModifySubnetAttributeInput{SubnetId: aws.String(subnetOf["us-east-1a"]), MapPublicIpOnLaunch: on})
	wantErr(t, err, "InvalidSubnetID.NotFound", 400)

	must(t, call(c.ModifySubnetAttribute(ctx, &sdk.ModifySubnetAttributeInput{SubnetId: aws.String(subnetOf["us-east-1a"]), MapPublicIpOnLaunch: on})))
	got := must(t, call(c.DescribeSubnets(ctx, &sdk.DescribeSubnetsInput{Filters: filter("map-public-ip-on-launch", "true")})))
	if len(got.Subnets) != 1 || aws.ToString(got.Subnets[0].SubnetId) != subnetOf["us-east-1a"] || !aws.ToBool(got.Subnets[0].MapPublicIpOnLaunch) {
		t.Fatalf("subnets mapping public addresses: %+v", got.Subnets)
	}
	if bs := must(t, call(bob.DescribeSubnets(ctx, &sdk.DescribeSubnetsInput{Filters: filter("map-public-ip-on-launch", "true")}))); len(bs.Subnets) != 0 {
		t.Fatalf("another account's subnets changed: %+v", bs.Subnets)
	}
	must(t, call(c.ModifySubnetAttribute(ctx, &sdk.ModifySubnetAttributeInput{SubnetId: aws.String(subnetOf["us-east-1a"]),
		MapPublicIpOnLaunch: &types.AttributeBooleanValue{Value: aws.Bool(false)}})))
	if got := must(t, call(c.DescribeSubnets(ctx, &sdk.DescribeSubnetsInput{Filters: filter("map-public-ip-on-launch", "true")}))); len(got.Subnets) != 0 {
		t.Fatalf("after turning it off: %+v", got.Subnets)
	}
}
