package ec2

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdk "github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

func tcp(from, to int32, cidrs ...string) types.IpPermission {
	p := types.IpPermission{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(from), ToPort: aws.Int32(to)}
	for _, c := range cidrs {
		p.IpRanges = append(p.IpRanges, types.IpRange{CidrIp: aws.String(c), Description: aws.String("from " + c)})
	}
	return p
}

func TestSecurityGroups(t *testing.T) {
	e := newEnv(t)
	c, acct := e.account("alice")
	bob, _ := e.account("bob")
	e.image(acct, "ami-00000000000000aaa")
	def := defaultGroupID(acct)

	// The default group is there before anything is recorded, with EC2's two rules.
	d := must(t, call(c.DescribeSecurityGroups(ctx, &sdk.DescribeSecurityGroupsInput{GroupNames: []string{"default"}})))
	if len(d.SecurityGroups) != 1 || aws.ToString(d.SecurityGroups[0].GroupId) != def ||
		len(d.SecurityGroups[0].IpPermissions) != 1 || aws.ToString(d.SecurityGroups[0].IpPermissions[0].UserIdGroupPairs[0].GroupId) != def ||
		len(d.SecurityGroups[0].IpPermissionsEgress) != 1 || aws.ToString(d.SecurityGroups[0].IpPermissionsEgress[0].IpRanges[0].CidrIp) != "0.0.0.0/0" {
		t.Fatalf("default group: %+v", d.SecurityGroups)
	}

	cr := must(t, call(c.CreateSecurityGroup(ctx, &sdk.CreateSecurityGroupInput{GroupName: aws.String("web"), Description: aws.String("web servers"),
		TagSpecifications: []types.TagSpecification{{ResourceType: types.ResourceTypeSecurityGroup, Tags: []types.Tag{{Key: aws.String("env"), Value: aws.String("prod")}}}}})))
	web := aws.ToString(cr.GroupId)
	if !groupIDRE.MatchString(web) {
		t.Fatalf("group ID %q", web)
	}
	_, err := c.CreateSecurityGroup(ctx, &sdk.CreateSecurityGroupInput{GroupName: aws.String("web"), Description: aws.String("again")})
	wantErr(t, err, "InvalidGroup.Duplicate", 400)
	_, err = c.CreateSecurityGroup(ctx, &sdk.CreateSecurityGroupInput{GroupName: aws.String("sg-x"), Description: aws.String("x")})
	wantErr(t, err, "InvalidParameterValue", 400)
	_, err = c.CreateSecurityGroup(ctx, &sdk.CreateSecurityGroupInput{GroupName: aws.String("x"), Description: aws.String("x"), VpcId: aws.String("vpc-0123456789abcdef0")})
	wantErr(t, err, "InvalidVpcID.NotFound", 400)

	// Authorize: rules with IDs, duplicates refused, bad input refused.
	a := must(t, call(c.AuthorizeSecurityGroupIngress(ctx, &sdk.AuthorizeSecurityGroupIngressInput{GroupId: aws.String(web),
		IpPermissions: []types.IpPermission{tcp(80, 80, "0.0.0.0/0", "10.0.0.0/8"), {IpProtocol: aws.String("icmp"), FromPort: aws.Int32(8), ToPort: aws.Int32(-1),
			UserIdGroupPairs: []types.UserIdGroupPair{{GroupId: aws.String(def)}}}}})))
	if len(a.SecurityGroupRules) != 3 || !strings.HasPrefix(aws.ToString(a.SecurityGroupRules[0].SecurityGroupRuleId), "sgr-") {
		t.Fatalf("authorized %+v", a.SecurityGroupRules)
	}
	_, err = c.AuthorizeSecurityGroupIngress(ctx, &sdk.AuthorizeSecurityGroupIngressInput{GroupId: aws.String(web), IpPermissions: []types.IpPermission{tcp(80, 80, "10.0.0.0/8")}})
	wantErr(t, err, "InvalidPermission.Duplicate", 400)
	for _, p := range []types.IpPermission{tcp(80, 70, "0.0.0.0/0"), tcp(1, 70000, "0.0.0.0/0"), tcp(22, 22, "10.0.0.300/8"), tcp(22, 22, "banana"),
		{IpProtocol: aws.String("tcp")}, {IpProtocol: aws.String("bogus"), IpRanges: []types.IpRange{{CidrIp: aws.String("0.0.0.0/0")}}},
		{IpProtocol: aws.String("-1"), Ipv6Ranges: []types.Ipv6Range{{CidrIpv6: aws.String("::/0")}}}, tcp(22, 22)} {
		_, err = c.AuthorizeSecurityGroupIngress(ctx, &sdk.AuthorizeSecurityGroupIngressInput{GroupId: aws.String(web), IpPermissions: []types.IpPermission{p}})
		if err == nil {
			t.Fatalf("authorized %+v", p)
		}
		if s := err.Error(); !strings.Contains(s, "InvalidParameterValue") && !strings.Contains(s, "MissingParameter") {
			t.Fatalf("%+v: %v", p, err)
		}
	}
	_, err = c.AuthorizeSecurityGroupIngress(ctx, &sdk.AuthorizeSecurityGroupIngressInput{GroupId: aws.String("sg-0123456789abcdef0"), IpPermissions: []types.IpPermission{tcp(1, 1, "0.0.0.0/0")}})
	wantErr(t, err, "InvalidGroup.NotFound", 400)
	_, err = bob.AuthorizeSecurityGroupIngress(ctx, &sdk.AuthorizeSecurityGroupIngressInput{GroupId: aws.String(web), IpPermissions: []types.IpPermission{tcp(1, 1, "0.0.0.0/0")}})
	wantErr(t, err, "InvalidGroup.NotFound", 400)
	_, err = c.AuthorizeSecurityGroupIngress(ctx, &sdk.AuthorizeSecurityGroupIngressInput{GroupId: aws.String("sg-nope"), IpPermissions: []types.IpPermission{tcp(1, 1, "0.0.0.0/0")}})
	wantErr(t, err, "InvalidGroupId.Malformed", 400)
	must(t, call(c.AuthorizeSecurityGroupEgress(ctx, &sdk.AuthorizeSecurityGroupEgressInput{GroupId: aws.String(web), IpPermissions: []types.IpPermission{tcp(5432, 5432, "172.31.0.0/16")}})))

	// Describe: filters, rules grouped into permissions, tags.
	for _, tc := range []struct {
		f    []types.Filter
		want int
	}{
		{filter("group-name", "web"), 1}, {filter("group-id", web), 1}, {filter("vpc-id", defaultVPCID(acct)), 2},
		{filter("ip-permission.from-port", "80"), 1}, {filter("ip-permission.cidr", "10.0.0.0/8"), 1},
		{filter("ip-permission.group-id", def), 2}, {filter("ip-permission.protocol", "icmp"), 1},
		{filter("egress.ip-permission.to-port", "5432"), 1}, {filter("tag:env", "prod"), 1}, {filter("tag:env", "dev"), 0},
	} {
		got := must(t, call(c.DescribeSecurityGroups(ctx, &sdk.DescribeSecurityGroupsInput{Filters: tc.f})))
		if len(got.SecurityGroups) != tc.want {
			t.Fatalf("filter %s=%v: %d groups, want %d", *tc.f[0].Name, tc.f[0].Values, len(got.SecurityGroups), tc.want)
		}
	}
	g := must(t, call(c.DescribeSecurityGroups(ctx, &sdk.DescribeSecurityGroupsInput{GroupIds: []string{web}}))).SecurityGroups[0]
	if len(g.IpPermissions) != 2 || len(g.IpPermissions[0].IpRanges) != 2 || aws.ToString(g.IpPermissions[0].IpRanges[1].Description) != "from 10.0.0.0/8" ||
		len(g.IpPermissionsEgress) != 2 || len(g.Tags) != 1 {
		t.Fatalf("web: %+v", g)
	}
	p1 := must(t, call(c.DescribeSecurityGroups(ctx, &sdk.DescribeSecurityGroupsInput{MaxResults: aws.Int32(5)})))
	if len(p1.SecurityGroups) != 2 || p1.NextToken != nil {
		t.Fatalf("page: %+v", p1)
	}
	_, err = c.DescribeSecurityGroups(ctx, &sdk.DescribeSecurityGroupsInput{GroupIds: []string{"sg-0123456789abcdef0"}})
	wantErr(t, err, "InvalidGroup.NotFound", 400)
	_, err = c.DescribeSecurityGroups(ctx, &sdk.DescribeSecurityGroupsInput{Filters: filter("nonsense", "x")})
	wantErr(t, err, "InvalidFilter", 400)
	if got := must(t, call(bob.DescribeSecurityGroups(ctx, &sdk.DescribeSecurityGroupsInput{}))); len(got.SecurityGroups) != 1 {
		t.Fatalf("bob sees %d groups", len(got.SecurityGroups))
	}
	rules := must(t, call(c.DescribeSecurityGroupRules(ctx, &sdk.DescribeSecurityGroupRulesInput{Filters: filter("group-id", web)})))
	if len(rules.SecurityGroupRules) != 5 {
		t.Fatalf("%d rules of web, want 5", len(rules.SecurityGroupRules))
	}

	// RunInstances in groups; the groups show on the instance and its interface, and
	// hold the group against deletion.
	r := must(t, call(c.RunInstances(ctx, &sdk.RunInstancesInput{ImageId: aws.String("ami-00000000000000aaa"), MinCount: aws.Int32(1), MaxCount: aws.Int32(1),
		SecurityGroupIds: []string{web}, SecurityGroups: []string{"default"}})))
	in := r.Instances[0]
	if len(in.SecurityGroups) != 2 || aws.ToString(in.SecurityGroups[0].GroupId) != web || aws.ToString(in.SecurityGroups[0].GroupName) != "web" {
		t.Fatalf("instance groups %+v", in.SecurityGroups)
	}
	_, err = c.RunInstances(ctx, &sdk.RunInstancesInput{ImageId: aws.String("ami-00000000000000aaa"), MinCount: aws.Int32(1), MaxCount: aws.Int32(1), SecurityGroups: []string{"nope"}})
	wantErr(t, err, "InvalidGroup.NotFound", 400)
	_, err = c.DeleteSecurityGroup(ctx, &sdk.DeleteSecurityGroupInput{GroupId: aws.String(web)})
	wantErr(t, err, "DependencyViolation", 400)
	_, err = c.DeleteSecurityGroup(ctx, &sdk.DeleteSecurityGroupInput{GroupName: aws.String("default")})
	wantErr(t, err, "CannotDelete", 400)

	iid := aws.ToString(in.InstanceId)
	must(t, call(c.ModifyInstanceAttribute(ctx, &sdk.ModifyInstanceAttributeInput{InstanceId: aws.String(iid), Groups: []string{def}})))
	attr := must(t, call(c.DescribeInstanceAttribute(ctx, &sdk.DescribeInstanceAttributeInput{InstanceId: aws.String(iid), Attribute: types.InstanceAttributeNameGroupSet})))
	if len(attr.Groups) != 1 || aws.ToString(attr.Groups[0].GroupId) != def {
		t.Fatalf("groupSet %+v", attr.Groups)
	}
	must(t, call(c.ModifyNetworkInterfaceAttribute(ctx, &sdk.ModifyNetworkInterfaceAttributeInput{NetworkInterfaceId: aws.String("eni-" + strings.TrimPrefix(iid, "i-")), Groups: []string{web}})))
	ni := must(t, call(c.DescribeNetworkInterfaces(ctx, &sdk.DescribeNetworkInterfacesInput{Filters: filter("group-name", "web")})))
	if len(ni.NetworkInterfaces) != 1 {
		t.Fatalf("interfaces in web: %d", len(ni.NetworkInterfaces))
	}
	_, err = c.ModifyInstanceAttribute(ctx, &sdk.ModifyInstanceAttributeInput{InstanceId: aws.String(iid), Groups: []string{"sg-0123456789abcdef0"}})
	wantErr(t, err, "InvalidGroup.NotFound", 400)

	// Revoke: by permission, by rule ID, and what is not there.
	rv := must(t, call(c.RevokeSecurityGroupIngress(ctx, &sdk.RevokeSecurityGroupIngressInput{GroupId: aws.String(web), IpPermissions: []types.IpPermission{tcp(80, 80, "10.0.0.0/8")}})))
	if len(rv.RevokedSecurityGroupRules) != 1 {
		t.Fatalf("revoked %+v", rv.RevokedSecurityGroupRules)
	}
	_, err = c.RevokeSecurityGroupIngress(ctx, &sdk.RevokeSecurityGroupIngressInput{GroupId: aws.String(web), IpPermissions: []types.IpPermission{tcp(80, 80, "10.0.0.0/8")}})
	wantErr(t, err, "InvalidPermission.NotFound", 400)
	must(t, call(c.RevokeSecurityGroupIngress(ctx, &sdk.RevokeSecurityGroupIngressInput{GroupId: aws.String(web), SecurityGroupRuleIds: []string{aws.ToString(a.SecurityGroupRules[2].SecurityGroupRuleId)}})))
	// The default group no longer referenced, and the instance back in default: web can go.
	must(t, call(c.ModifyInstanceAttribute(ctx, &sdk.ModifyInstanceAttributeInput{InstanceId: aws.String(iid), Groups: []string{def}})))
	must(t, call(c.DeleteSecurityGroup(ctx, &sdk.DeleteSecurityGroupInput{GroupId: aws.String(web)})))
	_, err = c.DeleteSecurityGroup(ctx, &sdk.DeleteSecurityGroupInput{GroupId: aws.String(web)})
	wantErr(t, err, "InvalidGroup.NotFound", 400)
}
