package ec2

import (
	"net/http"
	"net/netip"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/banyancloud/banyan/api/awserr"
	"github.com/banyancloud/banyan/api/service"
	"github.com/banyancloud/banyan/cluster/state"
)

// Security groups of the default VPC, recorded in the replicated state
// (cluster/state/securitygroups.go) and enforced by every box's firewall. Each account
// has its default group: it is shown from the moment the account exists (its ID is
// derived from the account) and recorded by the first command that needs it.

var (
	errGroupDuplicate      = ec2err("InvalidGroup.Duplicate", http.StatusBadRequest)
	errGroupReserved       = ec2err("InvalidGroup.Reserved", http.StatusBadRequest)
	errPermissionDuplicate = ec2err("InvalidPermission.Duplicate", http.StatusBadRequest)
	errPermissionNotFound  = ec2err("InvalidPermission.NotFound", http.StatusBadRequest)
	errPermissionMalformed = ec2err("InvalidPermission.Malformed", http.StatusBadRequest)
	errDependencyViolation = ec2err("DependencyViolation", http.StatusBadRequest)
	errCannotDelete        = ec2err("CannotDelete", http.StatusBadRequest)
	errRulesLimit          = ec2err("RulesPerSecurityGroupLimitExceeded", http.StatusBadRequest)
	errGroupsPerInstance   = ec2err("SecurityGroupsPerInstanceLimitExceeded", http.StatusBadRequest)
	errRuleMalformed       = ec2err("InvalidSecurityGroupRuleId.Malformed", http.StatusBadRequest)
	errRuleNotFound        = ec2err("InvalidSecurityGroupRuleId.NotFound", http.StatusBadRequest)
)

// securityGroupError is the front door's table for the state's security group codes,
// which are EC2's own.
func securityGroupError(se *state.Error) *awserr.Error {
	m := map[state.Code]func(string, ...any) *awserr.Error{
		state.CodeGroupDuplicate: errGroupDuplicate, state.CodeGroupNotFound: errGroupNotFound,
		state.CodeGroupReserved: errGroupReserved, state.CodePermissionDuplicate: errPermissionDuplicate,
		state.CodePermissionNotFound: errPermissionNotFound, state.CodeDependencyViolation: errDependencyViolation,
		state.CodeCannotDelete: errCannotDelete, state.CodeRulesLimitExceeded: errRulesLimit,
		state.CodeGroupsPerInstanceOver: errGroupsPerInstance,
	}
	if e, ok := m[se.Code]; ok {
		return e("%s", se.Message)
	}
	return nil
}

var ruleIDRE = idPattern("sgr-")

// groupRecords lists the account's groups by ID, with its default group whether or
// not it is recorded yet.
func (f *front) groupRecords(account string) []*state.SecurityGroup {
	recs, _ := f.st().SecurityGroups(account)
	def := state.DefaultSecurityGroupID(account)
	if !slices.ContainsFunc(recs, func(g *state.SecurityGroup) bool { return g.ID == def }) {
		d := state.DefaultSecurityGroup(account)
		recs = append(recs, &d)
	}
	sort.Slice(recs, func(i, j int) bool { return recs[i].ID < recs[j].ID })
	return recs
}

// findGroup finds one of the caller's groups by ID or (in the default VPC) by name,
// catching up with the leader once before answering InvalidGroup.NotFound.
func (f *front) findGroup(c *service.Call, id, name string) (*state.SecurityGroup, error) {
	if id != "" {
		if err := groupKind.wellFormed([]string{id}); err != nil {
			return nil, err
		}
	}
	for pass := 0; pass < 2; pass++ {
		for _, g := range f.groupRecords(c.Caller.AccountID) {
			if (id != "" && g.ID == id) || (id == "" && name != "" && g.Name == name) {
				return g, nil
			}
		}
		if pass == 0 {
			f.catchUp(c)
		}
	}
	if id != "" {
		return nil, errGroupNotFound("The security group '%s' does not exist", id)
	}
	if name == "" {
		return nil, errMissingParameter("The request must contain the parameter groupId or groupName")
	}
	return nil, errGroupNotFound("The security group '%s' does not exist in default VPC '%s'", name, defaultVPCID(c.Caller.AccountID))
}

func (f *front) groupARN(account, id string) string {
	return "arn:aws:ec2:" + f.deps.Region + ":" + account + ":security-group/" + id
}

func ruleProtocol(r state.SecurityGroupRule) (proto string, from, to *int32) {
	if r.Protocol == "-1" {
		return "-1", nil, nil
	}
	return r.Protocol, ptr(r.FromPort), ptr(r.ToPort)
}

// permissions groups rules into EC2's IpPermissions: one per protocol and port range,
// in the order the rules were made.
func (f *front) permissions(g *state.SecurityGroup, rules []state.SecurityGroupRule, names map[string]string) []IpPermission {
	out := []IpPermission{}
	index := map[string]int{}
	for _, r := range rules {
		proto, from, to := ruleProtocol(r)
		key := proto + "/" + strconv.Itoa(int(r.FromPort)) + "/" + strconv.Itoa(int(r.ToPort))
		i, ok := index[key]
		if !ok {
			i = len(out)
			index[key] = i
			out = append(out, IpPermission{IpProtocol: ptr(proto), FromPort: from, ToPort: to, IpRanges: []IpRange{},
				UserIdGroupPairs: []UserIdGroupPair{}, Ipv6Ranges: []Ipv6Range{}, PrefixListIds: []PrefixListId{}})
		}
		var desc *string
		if r.Description != "" {
			desc = ptr(r.Description)
		}
		if r.CIDR != "" {
			out[i].IpRanges = append(out[i].IpRanges, IpRange{CidrIp: ptr(r.CIDR), Description: desc})
		} else {
			p := UserIdGroupPair{GroupId: ptr(r.Group), UserId: ptr(g.Account), Description: desc}
			if n, ok := names[r.Group]; ok {
				p.GroupName = ptr(n)
			}
			out[i].UserIdGroupPairs = append(out[i].UserIdGroupPairs, p)
		}
	}
	return out
}

func (f *front) toSecurityGroup(g *state.SecurityGroup, names map[string]string) SecurityGroup {
	return SecurityGroup{
		GroupId: ptr(g.ID), GroupName: ptr(g.Name), Description: ptr(g.Description),
		VpcId: ptr(defaultVPCID(g.Account)), OwnerId: ptr(g.Account), SecurityGroupArn: ptr(f.groupARN(g.Account, g.ID)),
		IpPermissions: f.permissions(g, g.Ingress, names), IpPermissionsEgress: f.permissions(g, g.Egress, names),
		Tags: append([]Tag{}, tagList(g.Tags)...),
	}
}

func groupNames(recs []*state.SecurityGroup) map[string]string {
	names := map[string]string{}
	for _, g := range recs {
		names[g.ID] = g.Name
	}
	return names
}

// securityGroups lists the account's security groups: the one source of the groups
// that instances and network interfaces show.
func (f *front) securityGroups(account string) []SecurityGroup {
	recs := f.groupRecords(account)
	names := groupNames(recs)
	var out []SecurityGroup
	for _, g := range recs {
		out = append(out, f.toSecurityGroup(g, names))
	}
	return out
}

// instanceGroups are the security groups of an instance (and of its network interface).
func (f *front) instanceGroups(inst *state.Instance) []GroupIdentifier {
	names := groupNames(f.groupRecords(inst.Account))
	out := []GroupIdentifier{}
	for _, id := range inst.GroupIDs() {
		gi := GroupIdentifier{GroupId: ptr(id)}
		if n, ok := names[id]; ok {
			gi.GroupName = ptr(n)
		}
		out = append(out, gi)
	}
	return out
}

var groupFilters = []string{"group-name", "group-id", "vpc-id", "owner-id", "description",
	"ip-permission.protocol", "ip-permission.from-port", "ip-permission.to-port", "ip-permission.group-id",
	"ip-permission.group-name", "ip-permission.user-id", "ip-permission.cidr", "ip-permission.ipv6-cidr",
	"ip-permission.prefix-list-id",
	"egress.ip-permission.protocol", "egress.ip-permission.from-port", "egress.ip-permission.to-port",
	"egress.ip-permission.group-id", "egress.ip-permission.group-name", "egress.ip-permission.user-id",
	"egress.ip-permission.cidr", "egress.ip-permission.ipv6-cidr", "egress.ip-permission.prefix-list-id", "tag-key"}

func groupAttrs(g SecurityGroup) attrs {
	a := attrs{"group-name": {deref(g.GroupName)}, "group-id": {deref(g.GroupId)}, "vpc-id": {deref(g.VpcId)},
		"owner-id": {deref(g.OwnerId)}, "description": {deref(g.Description)}}
	add := func(prefix string, perms []IpPermission) {
		for _, p := range perms {
			a[prefix+"protocol"] = append(a[prefix+"protocol"], deref(p.IpProtocol))
			if p.FromPort != nil {
				a[prefix+"from-port"] = append(a[prefix+"from-port"], strconv.Itoa(int(*p.FromPort)))
				a[prefix+"to-port"] = append(a[prefix+"to-port"], strconv.Itoa(int(deref(p.ToPort))))
			}
			for _, u := range p.UserIdGroupPairs {
				a[prefix+"group-id"] = append(a[prefix+"group-id"], deref(u.GroupId))
				a[prefix+"group-name"] = append(a[prefix+"group-name"], deref(u.GroupName))
				a[prefix+"user-id"] = append(a[prefix+"user-id"], deref(u.UserId))
			}
			for _, r := range p.IpRanges {
				a[prefix+"cidr"] = append(a[prefix+"cidr"], deref(r.CidrIp))
			}
		}
	}
	add("ip-permission.", g.IpPermissions)
	add("egress.ip-permission.", g.IpPermissionsEgress)
	return a
}

func tagMap(ts []Tag) map[string]string {
	m := map[string]string{}
	for _, t := range ts {
		m[deref(t.Key)] = deref(t.Value)
	}
	return m
}

func (f *front) describeSecurityGroups(c *service.Call, in *DescribeSecurityGroupsRequest) (*DescribeSecurityGroupsResult, error) {
	if err := f.authorize(c, "DescribeSecurityGroups", in.DryRun); err != nil {
		return nil, err
	}
	fs, err := parseFilters(in.Filters, groupFilters...)
	if err != nil {
		return nil, err
	}
	if err := groupKind.wellFormed(in.GroupIds); err != nil {
		return nil, err
	}
	if in.MaxResults != nil && (len(in.GroupIds) > 0 || len(in.GroupNames) > 0) {
		return nil, errInvalidParameterCombo("The parameter groupName or groupId cannot be used with the parameter maxResults")
	}
	var all []SecurityGroup
	for pass := 0; pass < 2; pass++ {
		all = f.securityGroups(c.Caller.AccountID)
		if missingGroup(all, in.GroupIds, in.GroupNames) == "" {
			break
		}
		if pass == 0 {
			f.catchUp(c) // a group made through another box a moment ago
		}
	}
	if m := missingGroup(all, in.GroupIds, in.GroupNames); m != "" {
		if groupIDRE.MatchString(m) {
			return nil, errGroupNotFound("The security group '%s' does not exist", m)
		}
		return nil, errGroupNotFound("The security group '%s' does not exist in default VPC '%s'", m, defaultVPCID(c.Caller.AccountID))
	}
	var kept []SecurityGroup
	for _, g := range all {
		if selected(in.GroupIds, deref(g.GroupId)) && selected(in.GroupNames, deref(g.GroupName)) && fs.match(groupAttrs(g).get, tagMap(g.Tags)) {
			kept = append(kept, g)
		}
	}
	items, next, err := page(kept, in.MaxResults, in.NextToken, 5, 1000)
	if err != nil {
		return nil, err
	}
	return &DescribeSecurityGroupsResult{SecurityGroups: append([]SecurityGroup{}, items...), NextToken: next}, nil
}

// missingGroup names the first asked-for ID or name that the account has no group for.
func missingGroup(all []SecurityGroup, ids, names []string) string {
	haveID, haveName := map[string]bool{}, map[string]bool{}
	for _, g := range all {
		haveID[deref(g.GroupId)], haveName[deref(g.GroupName)] = true, true
	}
	for _, id := range ids {
		if !haveID[id] {
			return id
		}
	}
	for _, n := range names {
		if !haveName[n] {
			return n
		}
	}
	return ""
}

// EC2's characters for VPC security group names and descriptions.
var groupTextRE = regexp.MustCompile(`^[a-zA-Z0-9 ._\-:/()#,@\[\]+=&;{}!$*]*$`)

func (f *front) createSecurityGroup(c *service.Call, in *CreateSecurityGroupRequest) (*CreateSecurityGroupResult, error) {
	acct := c.Caller.AccountID
	if err := f.authorize(c, "CreateSecurityGroup", in.DryRun, f.groupARN(acct, "*")); err != nil {
		return nil, err
	}
	switch {
	case in.GroupName == "":
		return nil, errMissingParameter("The request must contain the parameter GroupName")
	case in.Description == "":
		return nil, errMissingParameter("The request must contain the parameter GroupDescription")
	case len(in.GroupName) > 255 || !groupTextRE.MatchString(in.GroupName):
		return nil, errInvalidParameterValue("Invalid security group name '%s': up to 255 characters of a-z, A-Z, 0-9, spaces and ._-:/()#,@[]+=&;{}!$*", in.GroupName)
	case strings.HasPrefix(strings.ToLower(in.GroupName), "sg-"):
		return nil, errInvalidParameterValue("Group names may not be in the format sg-*.")
	case len(in.Description) > 255 || !groupTextRE.MatchString(in.Description):
		return nil, errInvalidParameterValue("Invalid security group description: up to 255 characters of a-z, A-Z, 0-9, spaces and ._-:/()#,@[]+=&;{}!$*")
	}
	if v := deref(in.VpcId); v != "" && v != defaultVPCID(acct) {
		if err := vpcKind.wellFormed([]string{v}); err != nil {
			return nil, err
		}
		return nil, errVpcNotFound("The vpc ID '%s' does not exist", v)
	}
	tags, err := specTags(in.TagSpecifications, "security-group")
	if err != nil {
		return nil, err
	}
	g := state.SecurityGroup{ID: f.deps.NewID("sg-"), Account: acct, Name: in.GroupName, Description: in.Description, Tags: tags}
	if _, err := f.cluster.Apply(c.Ctx, &state.CreateSecurityGroup{Group: g}, nil); err != nil {
		return nil, err
	}
	return &CreateSecurityGroupResult{GroupId: ptr(g.ID), SecurityGroupArn: ptr(f.groupARN(acct, g.ID)), Tags: append([]Tag{}, tagList(tags)...)}, nil
}

func (f *front) deleteSecurityGroup(c *service.Call, in *DeleteSecurityGroupRequest) (*DeleteSecurityGroupResult, error) {
	acct := c.Caller.AccountID
	if err := f.authorize(c, "DeleteSecurityGroup", in.DryRun, f.groupARN(acct, deref(in.GroupId))); err != nil {
		return nil, err
	}
	g, err := f.findGroup(c, deref(in.GroupId), deref(in.GroupName))
	if err != nil {
		return nil, err
	}
	if _, err := f.cluster.Apply(c.Ctx, &state.DeleteSecurityGroup{Account: acct, ID: g.ID}, nil); err != nil {
		return nil, err
	}
	return &DeleteSecurityGroupResult{Return: ptr(true), GroupId: ptr(g.ID)}, nil
}

// legacyPermission is the one permission of the old top-level parameters (CidrIp,
// IpProtocol, FromPort, ToPort, SourceSecurityGroupName), if any were given.
func legacyPermission(cidr, proto *string, from, to *int32, srcName, srcOwner *string) []IpPermission {
	if cidr == nil && proto == nil && from == nil && to == nil && srcName == nil {
		return nil
	}
	p := IpPermission{IpProtocol: proto, FromPort: from, ToPort: to}
	if cidr != nil {
		p.IpRanges = []IpRange{{CidrIp: cidr}}
	}
	if srcName != nil {
		p.UserIdGroupPairs = []UserIdGroupPair{{GroupName: srcName, UserId: srcOwner}}
		if p.IpProtocol == nil {
			p.IpProtocol = ptr("-1") // a source group alone means all traffic from it
		}
	}
	return []IpPermission{p}
}

// normalProtocol is EC2's spelling of a rule's protocol: tcp, udp, icmp, -1, or the
// number of any other protocol.
func normalProtocol(p string) (string, error) {
	switch l := strings.ToLower(strings.TrimSpace(p)); l {
	case "-1", "all":
		return "-1", nil
	case "tcp", "6":
		return "tcp", nil
	case "udp", "17":
		return "udp", nil
	case "icmp", "1":
		return "icmp", nil
	case "icmpv6", "58":
		return "", errInvalidParameterValue("IPv6 rules (protocol '%s') are not supported by this cloud: its instances have IPv4 addresses only", p)
	case "":
		return "", errMissingParameter("The request must contain the parameter ipProtocol")
	default:
		n, err := strconv.Atoi(l)
		if err != nil || n < 0 || n > 255 {
			return "", errInvalidParameterValue("Invalid value '%s' for IP protocol. Unknown protocol.", p)
		}
		return strconv.Itoa(n), nil
	}
}

// rulesOf turns IpPermissions into one state rule per source, checking them as EC2
// does.
func (f *front) rulesOf(c *service.Call, perms []IpPermission) ([]state.SecurityGroupRule, error) {
	if len(perms) == 0 {
		return nil, errMissingParameter("The request must contain the parameter ipPermissions")
	}
	var out []state.SecurityGroupRule
	for _, p := range perms {
		proto, err := normalProtocol(deref(p.IpProtocol))
		if err != nil {
			return nil, err
		}
		from, to := int32(-1), int32(-1)
		switch proto {
		case "tcp", "udp":
			if p.FromPort == nil || p.ToPort == nil {
				return nil, errInvalidParameterValue("Invalid value for portRange. Must specify both from and to ports with TCP/UDP.")
			}
			from, to = *p.FromPort, *p.ToPort
			if from == -1 && to == -1 {
				from, to = 0, 65535
			}
			if from < 0 || from > 65535 || to < 0 || to > 65535 || from > to {
				return nil, errInvalidParameterValue("Invalid TCP/UDP port range %d-%d: ports are 0-65535, from at most to.", from, to)
			}
		case "icmp":
			if p.FromPort != nil {
				from = *p.FromPort
			}
			if p.ToPort != nil {
				to = *p.ToPort
			}
			if from < -1 || from > 255 || to < -1 || to > 255 || (from == -1 && to != -1) {
				return nil, errInvalidParameterValue("Invalid ICMP type %d, code %d: each is -1 (any) or 0-255, and a code needs a type.", from, to)
			}
		}
		if len(p.Ipv6Ranges) > 0 {
			return nil, errInvalidParameterValue("IPv6 rules are not supported by this cloud: its instances have IPv4 addresses only")
		}
		if len(p.PrefixListIds) > 0 {
			return nil, errInvalidParameterValue("Prefix lists are not supported by this cloud")
		}
		if len(p.IpRanges) == 0 && len(p.UserIdGroupPairs) == 0 {
			return nil, errMissingParameter("The permission must name a source or destination: IpRanges or UserIdGroupPairs")
		}
		base := state.SecurityGroupRule{Protocol: proto, FromPort: from, ToPort: to}
		for _, r := range p.IpRanges {
			cidr := strings.TrimSpace(deref(r.CidrIp))
			pfx, err := netip.ParsePrefix(cidr)
			if err != nil || !pfx.Addr().Is4() {
				return nil, errInvalidParameterValue("CIDR block %s is malformed", cidr)
			}
			d := deref(r.Description)
			if len(d) > 255 || !groupTextRE.MatchString(d) {
				return nil, errInvalidParameterValue("Invalid rule description: up to 255 characters of a-z, A-Z, 0-9, spaces and ._-:/()#,@[]+=&;{}!$*")
			}
			rule := base
			rule.CIDR, rule.Description = pfx.Masked().String(), d
			out = append(out, rule)
		}
		for _, u := range p.UserIdGroupPairs {
			if owner := deref(u.UserId); owner != "" && owner != c.Caller.AccountID {
				return nil, errInvalidParameterValue("Rules may refer only to the account's own security groups, not to account %s's", owner)
			}
			if deref(u.VpcPeeringConnectionId) != "" {
				return nil, errInvalidParameterValue("VPC peering is not supported by this cloud")
			}
			g, err := f.findGroup(c, deref(u.GroupId), deref(u.GroupName))
			if err != nil {
				return nil, err
			}
			d := deref(u.Description)
			if len(d) > 255 || !groupTextRE.MatchString(d) {
				return nil, errInvalidParameterValue("Invalid rule description: up to 255 characters of a-z, A-Z, 0-9, spaces and ._-:/()#,@[]+=&;{}!$*")
			}
			rule := base
			rule.Group, rule.Description = g.ID, d
			out = append(out, rule)
		}
	}
	return out, nil
}

func (f *front) toRule(g *state.SecurityGroup, r state.SecurityGroupRule, egress bool) SecurityGroupRule {
	proto, from, to := ruleProtocol(r)
	if from == nil {
		from, to = ptr(int32(-1)), ptr(int32(-1))
	}
	out := SecurityGroupRule{SecurityGroupRuleId: ptr(r.ID), GroupId: ptr(g.ID), GroupOwnerId: ptr(g.Account), IsEgress: ptr(egress),
		IpProtocol: ptr(proto), FromPort: from, ToPort: to, Tags: []Tag{},
		SecurityGroupRuleArn: ptr("arn:aws:ec2:" + f.deps.Region + ":" + g.Account + ":security-group-rule/" + r.ID)}
	if r.Description != "" {
		out.Description = ptr(r.Description)
	}
	if r.CIDR != "" {
		out.CidrIpv4 = ptr(r.CIDR)
	} else {
		out.ReferencedGroupInfo = &ReferencedSecurityGroup{GroupId: ptr(r.Group), UserId: ptr(g.Account)}
	}
	return out
}

// authorizeRules is AuthorizeSecurityGroupIngress and ...Egress.
func (f *front) authorizeRules(c *service.Call, action string, dryRun *bool, id, name string, perms []IpPermission, egress bool) ([]SecurityGroupRule, error) {
	if err := f.authorize(c, action, dryRun, f.groupARN(c.Caller.AccountID, id)); err != nil {
		return nil, err
	}
	g, err := f.findGroup(c, id, name)
	if err != nil {
		return nil, err
	}
	rules, err := f.rulesOf(c, perms)
	if err != nil {
		return nil, err
	}
	var added []state.SecurityGroupRule
	if _, err := f.cluster.Apply(c.Ctx, &state.AuthorizeSecurityGroupRules{Account: c.Caller.AccountID, GroupID: g.ID, Egress: egress, Rules: rules}, &added); err != nil {
		return nil, err
	}
	out := []SecurityGroupRule{}
	for _, r := range added {
		out = append(out, f.toRule(g, r, egress))
	}
	return out, nil
}

func (f *front) authorizeSecurityGroupIngress(c *service.Call, in *AuthorizeSecurityGroupIngressRequest) (*AuthorizeSecurityGroupIngressResult, error) {
	perms := append(legacyPermission(in.CidrIp, in.IpProtocol, in.FromPort, in.ToPort, in.SourceSecurityGroupName, in.SourceSecurityGroupOwnerId), in.IpPermissions...)
	rules, err := f.authorizeRules(c, "AuthorizeSecurityGroupIngress", in.DryRun, deref(in.GroupId), deref(in.GroupName), perms, false)
	if err != nil {
		return nil, err
	}
	return &AuthorizeSecurityGroupIngressResult{Return: ptr(true), SecurityGroupRules: rules}, nil
}

func (f *front) authorizeSecurityGroupEgress(c *service.Call, in *AuthorizeSecurityGroupEgressRequest) (*AuthorizeSecurityGroupEgressResult, error) {
	perms := append(legacyPermission(in.CidrIp, in.IpProtocol, in.FromPort, in.ToPort, in.SourceSecurityGroupName, in.SourceSecurityGroupOwnerId), in.IpPermissions...)
	if in.GroupId == "" {
		return nil, errMissingParameter("The request must contain the parameter groupId")
	}
	rules, err := f.authorizeRules(c, "AuthorizeSecurityGroupEgress", in.DryRun, in.GroupId, "", perms, true)
	if err != nil {
		return nil, err
	}
	return &AuthorizeSecurityGroupEgressResult{Return: ptr(true), SecurityGroupRules: rules}, nil
}

// revokeRules is RevokeSecurityGroupIngress and ...Egress: by permission or by rule ID.
func (f *front) revokeRules(c *service.Call, action string, dryRun *bool, id, name string, perms []IpPermission, ruleIDs []string, egress bool) ([]RevokedSecurityGroupRule, error) {
	if err := f.authorize(c, action, dryRun, f.groupARN(c.Caller.AccountID, id)); err != nil {
		return nil, err
	}
	g, err := f.findGroup(c, id, name)
	if err != nil {
		return nil, err
	}
	for _, r := range ruleIDs {
		if !ruleIDRE.MatchString(r) {
			return nil, errRuleMalformed("Invalid id: \"%s\" (expecting \"sgr-...\")", r)
		}
	}
	if len(perms) > 0 && len(ruleIDs) > 0 {
		return nil, errInvalidParameterCombo("The parameter SecurityGroupRuleIds cannot be used with IpPermissions")
	}
	var rules []state.SecurityGroupRule
	if len(ruleIDs) == 0 {
		if rules, err = f.rulesOf(c, perms); err != nil {
			return nil, err
		}
	}
	var removed []state.SecurityGroupRule
	if _, err := f.cluster.Apply(c.Ctx, &state.RevokeSecurityGroupRules{Account: c.Caller.AccountID, GroupID: g.ID, Egress: egress,
		Rules: rules, RuleIDs: ruleIDs}, &removed); err != nil {
		return nil, err
	}
	out := []RevokedSecurityGroupRule{}
	for _, r := range removed {
		sr := f.toRule(g, r, egress)
		rr := RevokedSecurityGroupRule{SecurityGroupRuleId: sr.SecurityGroupRuleId, GroupId: sr.GroupId, IsEgress: sr.IsEgress,
			IpProtocol: sr.IpProtocol, FromPort: sr.FromPort, ToPort: sr.ToPort, CidrIpv4: sr.CidrIpv4, Description: sr.Description}
		if r.Group != "" {
			rr.ReferencedGroupId = ptr(r.Group)
		}
		out = append(out, rr)
	}
	return out, nil
}

func (f *front) revokeSecurityGroupIngress(c *service.Call, in *RevokeSecurityGroupIngressRequest) (*RevokeSecurityGroupIngressResult, error) {
	perms := append(legacyPermission(in.CidrIp, in.IpProtocol, in.FromPort, in.ToPort, in.SourceSecurityGroupName, in.SourceSecurityGroupOwnerId), in.IpPermissions...)
	rules, err := f.revokeRules(c, "RevokeSecurityGroupIngress", in.DryRun, deref(in.GroupId), deref(in.GroupName), perms, in.SecurityGroupRuleIds, false)
	if err != nil {
		return nil, err
	}
	return &RevokeSecurityGroupIngressResult{Return: ptr(true), RevokedSecurityGroupRules: rules}, nil
}

func (f *front) revokeSecurityGroupEgress(c *service.Call, in *RevokeSecurityGroupEgressRequest) (*RevokeSecurityGroupEgressResult, error) {
	if in.GroupId == "" {
		return nil, errMissingParameter("The request must contain the parameter groupId")
	}
	perms := append(legacyPermission(in.CidrIp, in.IpProtocol, in.FromPort, in.ToPort, in.SourceSecurityGroupName, in.SourceSecurityGroupOwnerId), in.IpPermissions...)
	rules, err := f.revokeRules(c, "RevokeSecurityGroupEgress", in.DryRun, in.GroupId, "", perms, in.SecurityGroupRuleIds, true)
	if err != nil {
		return nil, err
	}
	return &RevokeSecurityGroupEgressResult{Return: ptr(true), RevokedSecurityGroupRules: rules}, nil
}

var ruleFilters = []string{"group-id", "security-group-rule-id", "tag-key"}

func (f *front) describeSecurityGroupRules(c *service.Call, in *DescribeSecurityGroupRulesRequest) (*DescribeSecurityGroupRulesResult, error) {
	if err := f.authorize(c, "DescribeSecurityGroupRules", in.DryRun); err != nil {
		return nil, err
	}
	fs, err := parseFilters(in.Filters, ruleFilters...)
	if err != nil {
		return nil, err
	}
	for _, r := range in.SecurityGroupRuleIds {
		if !ruleIDRE.MatchString(r) {
			return nil, errRuleMalformed("Invalid id: \"%s\" (expecting \"sgr-...\")", r)
		}
	}
	var all []SecurityGroupRule
	for pass := 0; pass < 2; pass++ {
		all = nil
		for _, g := range f.groupRecords(c.Caller.AccountID) {
			for _, r := range g.Ingress {
				all = append(all, f.toRule(g, r, false))
			}
			for _, r := range g.Egress {
				all = append(all, f.toRule(g, r, true))
			}
		}
		if missingRule(all, in.SecurityGroupRuleIds) == "" {
			break
		}
		if pass == 0 {
			f.catchUp(c)
		}
	}
	if m := missingRule(all, in.SecurityGroupRuleIds); m != "" {
		return nil, errRuleNotFound("The security group rule ID '%s' does not exist", m)
	}
	var kept []SecurityGroupRule
	for _, r := range all {
		a := attrs{"group-id": {deref(r.GroupId)}, "security-group-rule-id": {deref(r.SecurityGroupRuleId)}}
		if selected(in.SecurityGroupRuleIds, deref(r.SecurityGroupRuleId)) && fs.match(a.get, nil) {
			kept = append(kept, r)
		}
	}
	items, next, err := page(kept, in.MaxResults, in.NextToken, 5, 1000)
	if err != nil {
		return nil, err
	}
	return &DescribeSecurityGroupRulesResult{SecurityGroupRules: append([]SecurityGroupRule{}, items...), NextToken: next}, nil
}

func missingRule(all []SecurityGroupRule, ids []string) string {
	have := map[string]bool{}
	for _, r := range all {
		have[deref(r.SecurityGroupRuleId)] = true
	}
	for _, id := range ids {
		if !have[id] {
			return id
		}
	}
	return ""
}

// launchGroups resolves RunInstances' SecurityGroupIds and SecurityGroups (names) to
// group IDs; none is the default group (filled in by the state).
func (f *front) launchGroups(c *service.Call, ids, names []string) ([]string, error) {
	var out []string
	for _, id := range ids {
		g, err := f.findGroup(c, id, "")
		if err != nil {
			return nil, err
		}
		out = append(out, g.ID)
	}
	for _, n := range names {
		if n == "" {
			return nil, errInvalidParameterValue("Security group names must not be empty")
		}
		g, err := f.findGroup(c, "", n)
		if err != nil {
			return nil, err
		}
		out = append(out, g.ID)
	}
	if len(out) > state.MaxGroupsPerInstance {
		return nil, errGroupsPerInstance("The maximum number of security groups per interface has been reached.")
	}
	return out, nil
}

// setInstanceGroups changes an instance's groups live (ModifyInstanceAttribute groupSet,
// ModifyNetworkInterfaceAttribute).
func (f *front) setInstanceGroups(c *service.Call, instanceID string, groups []string) error {
	if len(groups) == 0 {
		return errMissingParameter("The request must contain at least one security group")
	}
	ids, err := f.launchGroups(c, groups, nil)
	if err != nil {
		return err
	}
	_, err = f.cluster.Apply(c.Ctx, &state.SetInstanceGroups{Account: c.Caller.AccountID, InstanceID: instanceID, Groups: ids}, nil)
	return err
}

func (f *front) modifyNetworkInterfaceAttribute(c *service.Call, in *ModifyNetworkInterfaceAttributeRequest) (*struct{}, error) {
	if err := f.authorize(c, "ModifyNetworkInterfaceAttribute", in.DryRun, f.arn(c, "network-interface", in.NetworkInterfaceId)); err != nil {
		return nil, err
	}
	if err := eniKind.wellFormed([]string{in.NetworkInterfaceId}); err != nil {
		return nil, err
	}
	instanceID := "i-" + strings.TrimPrefix(in.NetworkInterfaceId, "eni-")
	inst, err := f.st().Instance(instanceID)
	if err != nil {
		f.catchUp(c)
		inst, err = f.st().Instance(instanceID)
	}
	if err != nil || inst.Account != c.Caller.AccountID || !hasInterface(inst) {
		return nil, errNetworkInterfaceNotFound("The networkInterface ID '%s' does not exist", in.NetworkInterfaceId)
	}
	switch {
	case in.Description != nil, in.SourceDestCheck != nil, in.Attachment != nil, in.EnaSrdSpecification != nil,
		in.ConnectionTrackingSpecification != nil, in.AssociatePublicIpAddress != nil, in.EnablePrimaryIpv6 != nil,
		len(in.AssociatedSubnetIds) > 0:
		return nil, errInvalidParameterValue("Only the security groups of a network interface can be modified here")
	}
	return nil, f.setInstanceGroups(c, inst.ID, in.Groups)
}
