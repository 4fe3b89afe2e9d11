package ec2

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdk "github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/banyancloud/banyan/cluster/state"
)

func TestElasticIPs(t *testing.T) {
	e := newEnv(t)
	c, acct := e.account("alice")
	bob, _ := e.account("bob")
	e.image(acct, "ami-00000000000000aaa")

	// No pool: EC2's limit error, never a 500.
	_, err := c.AllocateAddress(ctx, &sdk.AllocateAddressInput{Domain: types.DomainTypeVpc})
	wantErr(t, err, "AddressLimitExceeded", 400)
	e.apply(&state.SetSetting{Key: state.SettingPublicCIDR, Value: "192.0.2.128/25"})

	// Bad input.
	_, err = c.AllocateAddress(ctx, &sdk.AllocateAddressInput{Domain: types.DomainTypeStandard})
	wantErr(t, err, "InvalidParameterValue", 400)
	_, err = c.AllocateAddress(ctx, &sdk.AllocateAddressInput{Address: aws.String("banana")})
	wantErr(t, err, "InvalidAddress.Malformed", 400)
	_, err = c.AllocateAddress(ctx, &sdk.AllocateAddressInput{Address: aws.String("203.0.113.1")})
	wantErr(t, err, "InvalidParameterValue", 400)
	_, err = c.AllocateAddress(ctx, &sdk.AllocateAddressInput{DryRun: aws.Bool(true)})
	wantErr(t, err, "DryRunOperation", 412)

	al := must(t, call(c.AllocateAddress(ctx, &sdk.AllocateAddressInput{Domain: types.DomainTypeVpc,
		TagSpecifications: []types.TagSpecification{{ResourceType: types.ResourceTypeElasticIp, Tags: []types.Tag{{Key: aws.String("Name"), Value: aws.String("web")}}}}})))
	alloc, pub := aws.ToString(al.AllocationId), aws.ToString(al.PublicIp)
	if !allocationIDRE.MatchString(alloc) || pub != "192.0.2.129" || al.Domain != types.DomainTypeVpc {
		t.Fatalf("allocated %+v", al)
	}

	r := must(t, call(c.RunInstances(ctx, &sdk.RunInstancesInput{ImageId: aws.String("ami-00000000000000aaa"), MinCount: aws.Int32(2), MaxCount: aws.Int32(2)})))
	i1, i2 := aws.ToString(r.Instances[0].InstanceId), aws.ToString(r.Instances[1].InstanceId)

	for _, tc := range []struct {
		in   *sdk.AssociateAddressInput
		code string
	}{
		{&sdk.AssociateAddressInput{InstanceId: aws.String(i1)}, "MissingParameter"},
		{&sdk.AssociateAddressInput{AllocationId: aws.String(alloc)}, "MissingParameter"},
		{&sdk.AssociateAddressInput{AllocationId: aws.String(alloc), PublicIp: aws.String(pub), InstanceId: aws.String(i1)}, "InvalidParameterCombination"},
		{&sdk.AssociateAddressInput{AllocationId: aws.String("eipalloc-zz"), InstanceId: aws.String(i1)}, "InvalidAllocationID.Malformed"},
		{&sdk.AssociateAddressInput{AllocationId: aws.String("eipalloc-0123456789abcdef0"), InstanceId: aws.String(i1)}, "InvalidAllocationID.NotFound"},
		{&sdk.AssociateAddressInput{AllocationId: aws.String(alloc), InstanceId: aws.String("i-nope")}, "InvalidInstanceID.Malformed"},
		{&sdk.AssociateAddressInput{AllocationId: aws.String(alloc), InstanceId: aws.String("i-0123456789abcdef0")}, "InvalidInstanceID.NotFound"},
		{&sdk.AssociateAddressInput{AllocationId: aws.String(alloc), NetworkInterfaceId: aws.String("eni-0123456789abcdef0")}, "InvalidNetworkInterfaceID.NotFound"},
		{&sdk.AssociateAddressInput{AllocationId: aws.String(alloc), NetworkInterfaceId: aws.String(networkInterfaceID(i2)), InstanceId: aws.String(i1)}, "InvalidParameterCombination"},
		{&sdk.AssociateAddressInput{AllocationId: aws.String(alloc), InstanceId: aws.String(i1), PrivateIpAddress: aws.String("172.31.99.99")}, "InvalidParameterValue"},
		{&sdk.AssociateAddressInput{PublicIp: aws.String("300.1.1.1"), InstanceId: aws.String(i1)}, "InvalidAddress.Malformed"},
		{&sdk.AssociateAddressInput{PublicIp: aws.String("192.0.2.200"), InstanceId: aws.String(i1)}, "InvalidAddress.NotFound"},
	} {
		_, err := c.AssociateAddress(ctx, tc.in)
		wantErr(t, err, tc.code, 400)
	}
	// Another account sees neither the address nor the instance.
	_, err = bob.AssociateAddress(ctx, &sdk.AssociateAddressInput{AllocationId: aws.String(alloc), InstanceId: aws.String(i1)})
	wantErr(t, err, "InvalidInstanceID.NotFound", 400)
	bobAl := must(t, call(bob.AllocateAddress(ctx, &sdk.AllocateAddressInput{})))
	_, err = bob.AssociateAddress(ctx, &sdk.AssociateAddressInput{AllocationId: aws.String(alloc), InstanceId: bobAl.AllocationId})
	wantErr(t, err, "InvalidInstanceID.Malformed", 400)
	_, err = c.ReleaseAddress(ctx, &sdk.ReleaseAddressInput{AllocationId: bobAl.AllocationId})
	wantErr(t, err, "InvalidAllocationID.NotFound", 400)

	as := must(t, call(c.AssociateAddress(ctx, &sdk.AssociateAddressInput{AllocationId: aws.String(alloc), InstanceId: aws.String(i1)})))
	assoc := aws.ToString(as.AssociationId)
	if !associationIDRE.MatchString(assoc) {
		t.Fatalf("association %q", assoc)
	}

	// DescribeInstances and DescribeNetworkInterfaces show it.
	d := must(t, call(c.DescribeInstances(ctx, &sdk.DescribeInstancesInput{InstanceIds: []string{i1}})))
	inst := d.Reservations[0].Instances[0]
	if aws.ToString(inst.PublicIpAddress) != pub || aws.ToString(inst.PublicDnsName) != "ec2-192-0-2-129.compute-1.amazonaws.com" ||
		inst.NetworkInterfaces[0].Association == nil || aws.ToString(inst.NetworkInterfaces[0].Association.PublicIp) != pub ||
		aws.ToString(inst.NetworkInterfaces[0].PrivateIpAddresses[0].Association.PublicDnsName) != aws.ToString(inst.PublicDnsName) {
		t.Fatalf("instance %+v", inst)
	}
	ni := must(t, call(c.DescribeNetworkInterfaces(ctx, &sdk.DescribeNetworkInterfacesInput{NetworkInterfaceIds: []string{networkInterfaceID(i1)}})))
	if a := ni.NetworkInterfaces[0].Association; a == nil || aws.ToString(a.AllocationId) != alloc || aws.ToString(a.AssociationId) != assoc {
		t.Fatalf("interface association %+v", ni.NetworkInterfaces[0].Association)
	}

	// Moving it: refused without AllowReassociation, done with it (by network interface).
	_, err = c.AssociateAddress(ctx, &sdk.AssociateAddressInput{AllocationId: aws.String(alloc), InstanceId: aws.String(i2)})
	wantErr(t, err, "Resource.AlreadyAssociated", 400)
	_, err = c.ReleaseAddress(ctx, &sdk.ReleaseAddressInput{AllocationId: aws.String(alloc)})
	wantErr(t, err, "InvalidIPAddress.InUse", 400)
	as2 := must(t, call(c.AssociateAddress(ctx, &sdk.AssociateAddressInput{AllocationId: aws.String(alloc),
		NetworkInterfaceId: aws.String(networkInterfaceID(i2)), AllowReassociation: aws.Bool(true)})))
	if aws.ToString(as2.AssociationId) == assoc {
		t.Fatal("a new association kept the old ID")
	}
	d = must(t, call(c.DescribeInstances(ctx, &sdk.DescribeInstancesInput{InstanceIds: []string{i1, i2}})))
	for _, res := range d.Reservations {
		for _, in := range res.Instances {
			want := ""
			if aws.ToString(in.InstanceId) == i2 {
				want = pub
			}
			if aws.ToString(in.PublicIpAddress) != want {
				t.Fatalf("%s shows public address %q, want %q", aws.ToString(in.InstanceId), aws.ToString(in.PublicIpAddress), want)
			}
		}
	}

	// DescribeAddresses: ids, addresses, filters; another account's are not there.
	da := must(t, call(c.DescribeAddresses(ctx, &sdk.DescribeAddressesInput{AllocationIds: []string{alloc}})))
	if len(da.Addresses) != 1 || aws.ToString(da.Addresses[0].InstanceId) != i2 || aws.ToString(da.Addresses[0].AssociationId) != aws.ToString(as2.AssociationId) ||
		aws.ToString(da.Addresses[0].NetworkInterfaceId) != networkInterfaceID(i2) || aws.ToString(da.Addresses[0].PrivateIpAddress) == "" ||
		len(da.Addresses[0].Tags) != 1 {
		t.Fatalf("describe %+v", da.Addresses)
	}
	for _, tc := range []struct {
		f    types.Filter
		want int
	}{
		{types.Filter{Name: aws.String("instance-id"), Values: []string{i2}}, 1},
		{types.Filter{Name: aws.String("instance-id"), Values: []string{i1}}, 0},
		{types.Filter{Name: aws.String("public-ip"), Values: []string{"192.0.2.*"}}, 1},
		{types.Filter{Name: aws.String("domain"), Values: []string{"vpc"}}, 1},
		{types.Filter{Name: aws.String("tag:Name"), Values: []string{"web"}}, 1},
		{types.Filter{Name: aws.String("tag:Name"), Values: []string{"db"}}, 0},
	} {
		got := must(t, call(c.DescribeAddresses(ctx, &sdk.DescribeAddressesInput{Filters: []types.Filter{tc.f}})))
		if len(got.Addresses) != tc.want {
			t.Errorf("filter %s=%v: %d addresses, want %d", aws.ToString(tc.f.Name), tc.f.Values, len(got.Addresses), tc.want)
		}
	}
	_, err = c.DescribeAddresses(ctx, &sdk.DescribeAddressesInput{Filters: []types.Filter{{Name: aws.String("color"), Values: []string{"x"}}}})
	wantErr(t, err, "InvalidFilter", 400)
	_, err = c.DescribeAddresses(ctx, &sdk.DescribeAddressesInput{PublicIps: []string{aws.ToString(bobAl.PublicIp)}})
	wantErr(t, err, "InvalidAddress.NotFound", 400)
	_, err = c.DescribeAddresses(ctx, &sdk.DescribeAddressesInput{AllocationIds: []string{aws.ToString(bobAl.AllocationId)}})
	wantErr(t, err, "InvalidAllocationID.NotFound", 400)
	_, err = c.DescribeAddresses(ctx, &sdk.DescribeAddressesInput{AllocationIds: []string{"eipalloc-x"}})
	wantErr(t, err, "InvalidAllocationID.Malformed", 400)
	_, err = c.DescribeAddresses(ctx, &sdk.DescribeAddressesInput{PublicIps: []string{"1.2.3"}})
	wantErr(t, err, "InvalidAddress.Malformed", 400)

	// Disassociate and release.
	_, err = c.DisassociateAddress(ctx, &sdk.DisassociateAddressInput{})
	wantErr(t, err, "MissingParameter", 400)
	_, err = c.DisassociateAddress(ctx, &sdk.DisassociateAddressInput{AssociationId: aws.String("eipassoc-zz")})
	wantErr(t, err, "InvalidAssociationID.Malformed", 400)
	_, err = c.DisassociateAddress(ctx, &sdk.DisassociateAddressInput{AssociationId: aws.String(assoc)}) // the old one
	wantErr(t, err, "InvalidAssociationID.NotFound", 400)
	_, err = bob.DisassociateAddress(ctx, &sdk.DisassociateAddressInput{AssociationId: as2.AssociationId})
	wantErr(t, err, "InvalidAssociationID.NotFound", 400)
	must(t, call(c.DisassociateAddress(ctx, &sdk.DisassociateAddressInput{AssociationId: as2.AssociationId})))
	da = must(t, call(c.DescribeAddresses(ctx, &sdk.DescribeAddressesInput{PublicIps: []string{pub}})))
	if len(da.Addresses) != 1 || da.Addresses[0].AssociationId != nil || da.Addresses[0].InstanceId != nil {
		t.Fatalf("after disassociate %+v", da.Addresses)
	}
	_, err = c.ReleaseAddress(ctx, &sdk.ReleaseAddressInput{})
	wantErr(t, err, "MissingParameter", 400)
	must(t, call(c.ReleaseAddress(ctx, &sdk.ReleaseAddressInput{AllocationId: aws.String(alloc)})))
	_, err = c.ReleaseAddress(ctx, &sdk.ReleaseAddressInput{AllocationId: aws.String(alloc)})
	wantErr(t, err, "InvalidAllocationID.NotFound", 400)

	// The account's limit (5) is EC2's AddressLimitExceeded.
	for range 5 {
		must(t, call(c.AllocateAddress(ctx, &sdk.AllocateAddressInput{})))
	}
	_, err = c.AllocateAddress(ctx, &sdk.AllocateAddressInput{})
	wantErr(t, err, "AddressLimitExceeded", 400)
}

// publicIP is what DescribeInstances shows of an instance's public address: the
// address, and the IpOwnerId of its interface's association ("" for none).
func publicIP(t *testing.T, c *sdk.Client, id string) (string, string) {
	t.Helper()
	d := must(t, call(c.DescribeInstances(ctx, &sdk.DescribeInstancesInput{InstanceIds: []string{id}})))
	in := d.Reservations[0].Instances[0]
	ip, owner := aws.ToString(in.PublicIpAddress), ""
	if len(in.NetworkInterfaces) > 0 && in.NetworkInterfaces[0].Association != nil {
		a := in.NetworkInterfaces[0].Association
		owner = aws.ToString(a.IpOwnerId)
		if aws.ToString(a.PublicIp) != ip || aws.ToString(in.NetworkInterfaces[0].PrivateIpAddresses[0].Association.PublicIp) != ip {
			t.Fatalf("instance %s shows %q, its interface %+v", id, ip, a)
		}
	}
	return ip, owner
}

func TestPublicIPOnLaunch(t *testing.T) {
	e := newEnv(t)
	c, acct := e.account("alice")
	bob, _ := e.account("bob")
	e.image(acct, "ami-00000000000000aaa")
	subnetOf := map[string]string{}
	for _, s := range must(t, call(c.DescribeSubnets(ctx, &sdk.DescribeSubnetsInput{}))).Subnets {
		subnetOf[aws.ToString(s.AvailabilityZone)] = aws.ToString(s.SubnetId)
	}
	bobSubnet := aws.ToString(must(t, call(bob.DescribeSubnets(ctx, &sdk.DescribeSubnetsInput{}))).Subnets[0].SubnetId)
	run := func(in *sdk.RunInstancesInput) (*sdk.RunInstancesOutput, error) {
		in.ImageId, in.InstanceType = aws.String("ami-00000000000000aaa"), types.InstanceTypeT2Nano
		if in.MinCount == nil {
			in.MinCount, in.MaxCount = aws.Int32(1), aws.Int32(1)
		}
		return c.RunInstances(ctx, in)
	}
	eth0 := func(associate bool, subnet string, groups ...string) []types.InstanceNetworkInterfaceSpecification {
		ni := types.InstanceNetworkInterfaceSpecification{DeviceIndex: aws.Int32(0), AssociatePublicIpAddress: aws.Bool(associate), Groups: groups}
		if subnet != "" {
			ni.SubnetId = aws.String(subnet)
		}
		return []types.InstanceNetworkInterfaceSpecification{ni}
	}

	// No pool: a launch that asks for a public address fails whole.
	_, err := run(&sdk.RunInstancesInput{NetworkInterfaces: eth0(true, "")})
	wantErr(t, err, "InsufficientAddressCapacity", 500)
	if d := must(t, call(c.DescribeInstances(ctx, &sdk.DescribeInstancesInput{}))); len(d.Reservations) != 0 {
		t.Fatalf("a failed launch left %+v", d.Reservations)
	}
	e.apply(&state.SetSetting{Key: state.SettingPublicCIDR, Value: "192.0.2.0/29"})

	// What RunInstances cannot do with NetworkInterfaces is refused with EC2's errors.
	for _, tc := range []struct {
		in   *sdk.RunInstancesInput
		code string
	}{
		{&sdk.RunInstancesInput{NetworkInterfaces: eth0(true, ""), SubnetId: aws.String(subnetOf["us-east-1a"])}, "InvalidParameterCombination"},
		{&sdk.RunInstancesInput{NetworkInterfaces: eth0(true, ""), SecurityGroupIds: []string{defaultGroupID(acct)}}, "InvalidParameterCombination"},
		{&sdk.RunInstancesInput{NetworkInterfaces: eth0(true, ""), SecurityGroups: []string{"default"}}, "InvalidParameterCombination"},
		{&sdk.RunInstancesInput{NetworkInterfaces: []types.InstanceNetworkInterfaceSpecification{{AssociatePublicIpAddress: aws.Bool(true)}}}, "InvalidParameterValue"},
		{&sdk.RunInstancesInput{NetworkInterfaces: []types.InstanceNetworkInterfaceSpecification{{DeviceIndex: aws.Int32(1), AssociatePublicIpAddress: aws.Bool(true)}}}, "InvalidParameterValue"},
		{&sdk.RunInstancesInput{NetworkInterfaces: append(eth0(true, ""), types.InstanceNetworkInterfaceSpecification{DeviceIndex: aws.Int32(1)})}, "InvalidParameterValue"},
		{&sdk.RunInstancesInput{NetworkInterfaces: []types.InstanceNetworkInterfaceSpecification{{DeviceIndex: aws.Int32(0), NetworkInterfaceId: aws.String("eni-0123456789abcdef0")}}}, "InvalidParameterValue"},
		{&sdk.RunInstancesInput{NetworkInterfaces: []types.InstanceNetworkInterfaceSpecification{{DeviceIndex: aws.Int32(0), Ipv6AddressCount: aws.Int32(1)}}}, "InvalidParameterValue"},
		{&sdk.RunInstancesInput{NetworkInterfaces: []types.InstanceNetworkInterfaceSpecification{{DeviceIndex: aws.Int32(0), PrivateIpAddress: aws.String("172.31.0.50")}}}, "InvalidParameterValue"},
		{&sdk.RunInstancesInput{NetworkInterfaces: []types.InstanceNetworkInterfaceSpecification{{DeviceIndex: aws.Int32(0), PrivateIpAddress: aws.String("172.31.0.50")}},
			MinCount: aws.Int32(2), MaxCount: aws.Int32(2)}, "InvalidParameterCombination"},
		{&sdk.RunInstancesInput{NetworkInterfaces: eth0(true, "subnet-zz")}, "InvalidSubnetID.Malformed"},
		{&sdk.RunInstancesInput{NetworkInterfaces: eth0(true, bobSubnet)}, "InvalidSubnetID.NotFound"},
		{&sdk.RunInstancesInput{NetworkInterfaces: eth0(true, subnetOf["us-east-1a"]), Placement: &types.Placement{AvailabilityZone: aws.String("us-east-1b")}}, "InvalidParameterValue"},
		{&sdk.RunInstancesInput{NetworkInterfaces: eth0(true, "", "sg-0123456789abcdef0")}, "InvalidGroup.NotFound"},
		{&sdk.RunInstancesInput{SubnetId: aws.String(bobSubnet)}, "InvalidSubnetID.NotFound"},
	} {
		_, err := run(tc.in)
		wantErr(t, err, tc.code, 400)
	}

	// AssociatePublicIpAddress: the address is shown on the instance and its interface,
	// owned by amazon; the subnet names the zone, Groups the security groups.
	r := must(t, call(run(&sdk.RunInstancesInput{NetworkInterfaces: eth0(true, subnetOf["us-east-1b"], defaultGroupID(acct))})))
	i1 := aws.ToString(r.Instances[0].InstanceId)
	if aws.ToString(r.Instances[0].Placement.AvailabilityZone) != "us-east-1b" || aws.ToString(r.Instances[0].PublicIpAddress) != "192.0.2.1" ||
		len(r.Instances[0].SecurityGroups) != 1 || aws.ToString(r.Instances[0].SecurityGroups[0].GroupId) != defaultGroupID(acct) {
		t.Fatalf("launched %+v", r.Instances[0])
	}
	if ip, owner := publicIP(t, c, i1); ip != "192.0.2.1" || owner != "amazon" {
		t.Fatalf("public address %q owned by %q", ip, owner)
	}
	d := must(t, call(c.DescribeInstances(ctx, &sdk.DescribeInstancesInput{InstanceIds: []string{i1}})))
	if dns := aws.ToString(d.Reservations[0].Instances[0].PublicDnsName); dns != "ec2-192-0-2-1.compute-1.amazonaws.com" {
		t.Fatalf("public DNS name %q", dns)
	}
	ni := must(t, call(c.DescribeNetworkInterfaces(ctx, &sdk.DescribeNetworkInterfacesInput{NetworkInterfaceIds: []string{networkInterfaceID(i1)}})))
	if a := ni.NetworkInterfaces[0].Association; a == nil || aws.ToString(a.PublicIp) != "192.0.2.1" || aws.ToString(a.IpOwnerId) != "amazon" ||
		a.AllocationId != nil || a.AssociationId != nil {
		t.Fatalf("interface association %+v", a)
	}
	// DescribeAddresses does not list it: it is no Elastic IP.
	if da := must(t, call(c.DescribeAddresses(ctx, &sdk.DescribeAddressesInput{}))); len(da.Addresses) != 0 {
		t.Fatalf("DescribeAddresses lists %+v", da.Addresses)
	}
	_, err = c.DescribeAddresses(ctx, &sdk.DescribeAddressesInput{PublicIps: []string{"192.0.2.1"}})
	wantErr(t, err, "InvalidAddress.NotFound", 400)
	_, err = c.DisassociateAddress(ctx, &sdk.DisassociateAddressInput{PublicIp: aws.String("192.0.2.1")})
	wantErr(t, err, "InvalidAddress.NotFound", 400)

	// Without it the subnet decides: off by default, on after ModifySubnetAttribute.
	r = must(t, call(run(&sdk.RunInstancesInput{Placement: &types.Placement{AvailabilityZone: aws.String("us-east-1a")}})))
	if ip, _ := publicIP(t, c, aws.ToString(r.Instances[0].InstanceId)); ip != "" {
		t.Fatalf("a launch into a subnet that does not map public addresses got %q", ip)
	}
	must(t, call(c.ModifySubnetAttribute(ctx, &sdk.ModifySubnetAttributeInput{SubnetId: aws.String(subnetOf["us-east-1a"]),
		MapPublicIpOnLaunch: &types.AttributeBooleanValue{Value: aws.Bool(true)}})))
	r = must(t, call(run(&sdk.RunInstancesInput{SubnetId: aws.String(subnetOf["us-east-1a"])})))
	i2 := aws.ToString(r.Instances[0].InstanceId)
	if ip, owner := publicIP(t, c, i2); ip != "192.0.2.2" || owner != "amazon" || aws.ToString(r.Instances[0].Placement.AvailabilityZone) != "us-east-1a" {
		t.Fatalf("a launch into a subnet that maps public addresses got %q (%q) in %s", ip, owner, aws.ToString(r.Instances[0].Placement.AvailabilityZone))
	}
	r = must(t, call(run(&sdk.RunInstancesInput{SubnetId: aws.String(subnetOf["us-east-1b"])})))
	if ip, _ := publicIP(t, c, aws.ToString(r.Instances[0].InstanceId)); ip != "" || aws.ToString(r.Instances[0].Placement.AvailabilityZone) != "us-east-1b" {
		t.Fatalf("us-east-1b's subnet was not modified, yet the launch got %q", ip)
	}
	r = must(t, call(run(&sdk.RunInstancesInput{NetworkInterfaces: eth0(false, subnetOf["us-east-1a"])})))
	if ip, _ := publicIP(t, c, aws.ToString(r.Instances[0].InstanceId)); ip != "" {
		t.Fatalf("AssociatePublicIpAddress false still got %q", ip)
	}

	// Stop releases the address; start gives a new one.
	must(t, call(c.StopInstances(ctx, &sdk.StopInstancesInput{InstanceIds: []string{i1}})))
	if ip, _ := publicIP(t, c, i1); ip != "" {
		t.Fatalf("a stopping instance shows %q", ip)
	}
	r = must(t, call(run(&sdk.RunInstancesInput{NetworkInterfaces: eth0(true, "")})))
	if ip, _ := publicIP(t, c, aws.ToString(r.Instances[0].InstanceId)); ip != "192.0.2.1" {
		t.Fatalf("the released address was not given again: %q", ip)
	}
	e.apply(&state.ReportInstance{ID: i1, Node: "box2", Generation: 2, State: state.InstanceStopped})
	must(t, call(c.StartInstances(ctx, &sdk.StartInstancesInput{InstanceIds: []string{i1}})))
	if ip, owner := publicIP(t, c, i1); ip != "192.0.2.3" || owner != "amazon" {
		t.Fatalf("after start: %q (%q)", ip, owner)
	}

	// An Elastic IP replaces it; DescribeAddresses lists that one only.
	al := must(t, call(c.AllocateAddress(ctx, &sdk.AllocateAddressInput{})))
	must(t, call(c.AssociateAddress(ctx, &sdk.AssociateAddressInput{AllocationId: al.AllocationId, InstanceId: aws.String(i2)})))
	if ip, owner := publicIP(t, c, i2); ip != aws.ToString(al.PublicIp) || owner != acct {
		t.Fatalf("with an Elastic IP: %q (%q)", ip, owner)
	}
	if da := must(t, call(c.DescribeAddresses(ctx, &sdk.DescribeAddressesInput{}))); len(da.Addresses) != 1 || aws.ToString(da.Addresses[0].InstanceId) != i2 {
		t.Fatalf("DescribeAddresses %+v", da.Addresses)
	}

	// Termination releases it.
	must(t, call(c.TerminateInstances(ctx, &sdk.TerminateInstancesInput{InstanceIds: []string{i1}})))
	if ip, _ := publicIP(t, c, i1); ip != "" {
		t.Fatalf("a terminated instance shows %q", ip)
	}
}
