package ec2

import (
	"net/http"
	"net/netip"
	"slices"
	"strings"

	"github.com/banyancloud/banyan/api/awserr"
	"github.com/banyancloud/banyan/api/service"
	"github.com/banyancloud/banyan/cluster/state"
)

// Elastic IP addresses (Domain vpc), recorded in the replicated state
// (cluster/state/addresses.go): the address is picked from the cluster's pool in the
// apply, and the box that runs the associated instance answers for it
// (node/addresses.go). The instance's primary network interface is the only one, so an
// association names the instance, whichever of InstanceId and NetworkInterfaceId the
// caller used.
//
// An instance may also hold a public address EC2 gave it at launch (an Auto address:
// RunInstances' AssociatePublicIpAddress, or the subnet's MapPublicIpOnLaunch). It shows
// on the instance and its interface with IpOwnerId amazon and no allocation or
// association ID, and DescribeAddresses does not list it.

var (
	errAddressLimit          = ec2err("AddressLimitExceeded", http.StatusBadRequest)
	errAllocationNotFound    = ec2err("InvalidAllocationID.NotFound", http.StatusBadRequest)
	errAllocationMalformed   = ec2err("InvalidAllocationID.Malformed", http.StatusBadRequest)
	errAssociationNotFound   = ec2err("InvalidAssociationID.NotFound", http.StatusBadRequest)
	errAssociationMalformed  = ec2err("InvalidAssociationID.Malformed", http.StatusBadRequest)
	errAddressNotFound       = ec2err("InvalidAddress.NotFound", http.StatusBadRequest)
	errAddressMalformed      = ec2err("InvalidAddress.Malformed", http.StatusBadRequest)
	errAddressInUse          = ec2err("InvalidIPAddress.InUse", http.StatusBadRequest)
	errAddressAlreadyInUseBy = ec2err("Resource.AlreadyAssociated", http.StatusBadRequest)
	errAddressCapacity       = ec2err("InsufficientAddressCapacity", http.StatusInternalServerError)
)

// addressError is the front door's table for the state's Elastic IP codes, which are
// EC2's own.
func addressError(se *state.Error) *awserr.Error {
	m := map[state.Code]func(string, ...any) *awserr.Error{
		state.CodeAddressLimitExceeded: errAddressLimit, state.CodeAllocationNotFound: errAllocationNotFound,
		state.CodeAssociationNotFound: errAssociationNotFound, state.CodeAddressNotFound: errAddressNotFound,
		state.CodeAddressInUse: errAddressInUse, state.CodeAlreadyAssociated: errAddressAlreadyInUseBy,
		state.CodeInsufficientAddressCapacity: errAddressCapacity,
	}
	if e, ok := m[se.Code]; ok {
		return e("%s", se.Message)
	}
	return nil
}

var (
	allocationIDRE  = idPattern("eipalloc-")
	associationIDRE = idPattern("eipassoc-")
)

func (f *front) addressARN(account, allocationID string) string {
	return "arn:aws:ec2:" + f.deps.Region + ":" + account + ":elastic-ip/" + allocationID
}

// publicDNS is EC2's public host name of an address: ec2-a-b-c-d.compute-1.amazonaws.com
// in us-east-1, ec2-a-b-c-d.REGION.compute.amazonaws.com elsewhere.
func (f *front) publicDNS(ip string) string {
	domain := "compute-1.amazonaws.com"
	if f.deps.Region != "" && f.deps.Region != "us-east-1" {
		domain = f.deps.Region + ".compute.amazonaws.com"
	}
	return "ec2-" + strings.ReplaceAll(ip, ".", "-") + "." + domain
}

func checkPublicIP(ip string) error {
	if a, err := netip.ParseAddr(ip); err != nil || !a.Is4() {
		return errAddressMalformed("Invalid Elastic IP address '%s': not an IPv4 address.", ip)
	}
	return nil
}

// toAddress is an address as DescribeAddresses shows it.
func (f *front) toAddress(a *state.Address) Address {
	out := Address{AllocationId: ptr(a.AllocationID), PublicIp: ptr(a.PublicIP), Domain: ptr("vpc"),
		PublicIpv4Pool: ptr("amazon"), NetworkBorderGroup: ptr(f.deps.Region), Tags: tagList(a.Tags)}
	if in := f.st().Associated(a); in != nil {
		out.AssociationId, out.InstanceId = ptr(a.AssociationID), ptr(in.ID)
		out.NetworkInterfaceId, out.NetworkInterfaceOwnerId = ptr(networkInterfaceID(in.ID)), ptr(in.Account)
		if in.PrivateIP != "" {
			out.PrivateIpAddress = ptr(in.PrivateIP)
		}
	}
	return out
}

// ipOwner is an address's IpOwnerId: the account for an Elastic IP, amazon for the
// address EC2 gave the instance itself.
func ipOwner(a *state.Address) string {
	if a.Auto {
		return "amazon"
	}
	return a.Account
}

// setInstanceAddress shows an instance's public address in DescribeInstances: on the
// instance and on its network interface and primary private address (Association).
func (f *front) setInstanceAddress(out *Instance, inst *state.Instance) {
	a, ok := f.st().InstanceAddress(inst.ID)
	if !ok {
		return
	}
	dns := f.publicDNS(a.PublicIP)
	out.PublicIpAddress, out.PublicDnsName = ptr(a.PublicIP), ptr(dns)
	assoc := &InstanceNetworkInterfaceAssociation{IpOwnerId: ptr(ipOwner(a)), PublicDnsName: ptr(dns), PublicIp: ptr(a.PublicIP)}
	for i := range out.NetworkInterfaces {
		ni := &out.NetworkInterfaces[i]
		ni.Association = assoc
		for j := range ni.PrivateIpAddresses {
			if deref(ni.PrivateIpAddresses[j].Primary) {
				ni.PrivateIpAddresses[j].Association = assoc
			}
		}
	}
}

// interfaceAssociation is a network interface's Association in DescribeNetworkInterfaces.
func (f *front) interfaceAssociation(inst *state.Instance) *NetworkInterfaceAssociation {
	a, ok := f.st().InstanceAddress(inst.ID)
	if !ok {
		return nil
	}
	out := &NetworkInterfaceAssociation{IpOwnerId: ptr(ipOwner(a)), PublicDnsName: ptr(f.publicDNS(a.PublicIP)), PublicIp: ptr(a.PublicIP)}
	if !a.Auto {
		out.AllocationId, out.AssociationId = ptr(a.AllocationID), ptr(a.AssociationID)
	}
	return out
}

func (f *front) allocateAddress(c *service.Call, in *AllocateAddressRequest) (*AllocateAddressResult, error) {
	acct := c.Caller.AccountID
	if err := f.authorize(c, "AllocateAddress", in.DryRun, f.addressARN(acct, "*")); err != nil {
		return nil, err
	}
	switch d := deref(in.Domain); d {
	case "", "vpc":
	case "standard":
		return nil, errInvalidParameterValue("EC2-Classic addresses (Domain standard) are not supported: use Domain vpc")
	default:
		return nil, errInvalidParameterValue("Invalid value '%s' for domain.", d)
	}
	switch {
	case deref(in.CustomerOwnedIpv4Pool) != "":
		return nil, errInvalidParameterValue("Customer-owned address pools are not supported by this cloud")
	case deref(in.IpamPoolId) != "":
		return nil, errInvalidParameterValue("IPAM pools are not supported by this cloud")
	case deref(in.PublicIpv4Pool) != "" && deref(in.PublicIpv4Pool) != "amazon":
		return nil, errInvalidParameterValue("The public IPv4 pool '%s' does not exist: this cloud has one pool, amazon", deref(in.PublicIpv4Pool))
	case deref(in.NetworkBorderGroup) != "" && deref(in.NetworkBorderGroup) != f.deps.Region:
		return nil, errInvalidParameterValue("Invalid network border group '%s': this cloud's is %s", deref(in.NetworkBorderGroup), f.deps.Region)
	}
	if a := deref(in.Address); a != "" {
		if err := checkPublicIP(a); err != nil {
			return nil, err
		}
	}
	tags, err := specTags(in.TagSpecifications, "elastic-ip")
	if err != nil {
		return nil, err
	}
	var a state.Address
	if _, err := f.cluster.Apply(c.Ctx, &state.AllocateAddress{Account: acct, Address: deref(in.Address), Tags: tags}, &a); err != nil {
		return nil, err
	}
	return &AllocateAddressResult{AllocationId: ptr(a.AllocationID), PublicIp: ptr(a.PublicIP), Domain: ptr("vpc"),
		PublicIpv4Pool: ptr("amazon"), NetworkBorderGroup: ptr(f.deps.Region)}, nil
}

// addressOf checks an address named by allocation ID or public IP, one of them given.
func addressOf(allocationID, publicIP string) error {
	switch {
	case allocationID == "" && publicIP == "":
		return errMissingParameter("Either public IP or allocation id must be specified")
	case allocationID != "" && publicIP != "":
		return errInvalidParameterCombo("You may specify public IP or allocation id, but not both in the same call")
	case allocationID != "" && !allocationIDRE.MatchString(allocationID):
		return errAllocationMalformed("Invalid id: \"%s\" (expecting \"eipalloc-...\")", allocationID)
	case publicIP != "":
		return checkPublicIP(publicIP)
	}
	return nil
}

func (f *front) associateAddress(c *service.Call, in *AssociateAddressRequest) (*AssociateAddressResult, error) {
	acct := c.Caller.AccountID
	allocID, publicIP := deref(in.AllocationId), deref(in.PublicIp)
	instanceID, eni := deref(in.InstanceId), deref(in.NetworkInterfaceId)
	if err := addressOf(allocID, publicIP); err != nil {
		return nil, err
	}
	if instanceID == "" && eni == "" {
		return nil, errMissingParameter("Either instance ID or network interface ID must be specified")
	}
	if instanceID != "" && !instanceIDRE.MatchString(instanceID) {
		return nil, errInstanceMalformed("Invalid id: \"%s\"", instanceID)
	}
	if eni != "" {
		if err := eniKind.wellFormed([]string{eni}); err != nil {
			return nil, err
		}
		viaENI := "i-" + strings.TrimPrefix(eni, "eni-")
		if instanceID != "" && instanceID != viaENI {
			return nil, errInvalidParameterCombo("The network interface '%s' is not attached to instance '%s'", eni, instanceID)
		}
		instanceID = viaENI
	}
	resources := []string{f.arn(c, "instance", instanceID)}
	if allocID != "" {
		resources = append(resources, f.addressARN(acct, allocID))
	}
	if eni != "" {
		resources = append(resources, f.arn(c, "network-interface", eni))
	}
	if err := f.authorize(c, "AssociateAddress", in.DryRun, resources...); err != nil {
		return nil, err
	}
	inst, err := f.st().Instance(instanceID)
	if err != nil || inst.Account != acct {
		f.catchUp(c)
		inst, err = f.st().Instance(instanceID)
	}
	if err != nil || inst.Account != acct || (eni != "" && !hasInterface(inst)) {
		if eni != "" {
			return nil, errNetworkInterfaceNotFound("The networkInterface ID '%s' does not exist", eni)
		}
		return nil, errInstanceNotFound("The instance ID '%s' does not exist", instanceID)
	}
	if p := deref(in.PrivateIpAddress); p != "" && p != inst.PrivateIP {
		return nil, errInvalidParameterValue("The private IP address %s is not assigned to the network interface %s (its address is %s)", p, networkInterfaceID(inst.ID), inst.PrivateIP)
	}
	var assoc string
	cmd := &state.AssociateAddress{Account: acct, AllocationID: allocID, PublicIP: publicIP, InstanceID: instanceID,
		AllowReassociation: deref(in.AllowReassociation)}
	if _, err := f.cluster.Apply(c.Ctx, cmd, &assoc); err != nil {
		return nil, err
	}
	return &AssociateAddressResult{AssociationId: ptr(assoc)}, nil
}

func (f *front) disassociateAddress(c *service.Call, in *DisassociateAddressRequest) (*struct{}, error) {
	assoc, publicIP := deref(in.AssociationId), deref(in.PublicIp)
	switch {
	case assoc == "" && publicIP == "":
		return nil, errMissingParameter("Either public IP or association id must be specified")
	case assoc != "" && publicIP != "":
		return nil, errInvalidParameterCombo("You may specify public IP or association id, but not both in the same call")
	case assoc != "" && !associationIDRE.MatchString(assoc):
		return nil, errAssociationMalformed("Invalid id: \"%s\" (expecting \"eipassoc-...\")", assoc)
	case publicIP != "":
		if err := checkPublicIP(publicIP); err != nil {
			return nil, err
		}
	}
	if err := f.authorize(c, "DisassociateAddress", in.DryRun, f.addressARN(c.Caller.AccountID, "*")); err != nil {
		return nil, err
	}
	_, err := f.cluster.Apply(c.Ctx, &state.DisassociateAddress{Account: c.Caller.AccountID, AssociationID: assoc, PublicIP: publicIP}, nil)
	return nil, err
}

func (f *front) releaseAddress(c *service.Call, in *ReleaseAddressRequest) (*struct{}, error) {
	acct := c.Caller.AccountID
	allocID, publicIP := deref(in.AllocationId), deref(in.PublicIp)
	if err := addressOf(allocID, publicIP); err != nil {
		return nil, err
	}
	if g := deref(in.NetworkBorderGroup); g != "" && g != f.deps.Region {
		return nil, errInvalidParameterValue("Invalid network border group '%s': this cloud's is %s", g, f.deps.Region)
	}
	res := f.addressARN(acct, allocID)
	if allocID == "" {
		res = f.addressARN(acct, "*")
	}
	if err := f.authorize(c, "ReleaseAddress", in.DryRun, res); err != nil {
		return nil, err
	}
	_, err := f.cluster.Apply(c.Ctx, &state.ReleaseAddress{Account: acct, AllocationID: allocID, PublicIP: publicIP}, nil)
	return nil, err
}

var addressFilters = []string{"allocation-id", "association-id", "domain", "instance-id", "network-border-group",
	"network-interface-id", "network-interface-owner-id", "private-ip-address", "public-ip", "public-ipv4-pool", "tag-key"}

func addressAttrs(a Address) attrs {
	return attrs{"allocation-id": {deref(a.AllocationId)}, "association-id": {deref(a.AssociationId)},
		"domain": {deref(a.Domain)}, "instance-id": {deref(a.InstanceId)}, "network-border-group": {deref(a.NetworkBorderGroup)},
		"network-interface-id": {deref(a.NetworkInterfaceId)}, "network-interface-owner-id": {deref(a.NetworkInterfaceOwnerId)},
		"private-ip-address": {deref(a.PrivateIpAddress)}, "public-ip": {deref(a.PublicIp)}, "public-ipv4-pool": {deref(a.PublicIpv4Pool)}}
}

func (f *front) describeAddresses(c *service.Call, in *DescribeAddressesRequest) (*DescribeAddressesResult, error) {
	if err := f.authorize(c, "DescribeAddresses", in.DryRun); err != nil {
		return nil, err
	}
	fs, err := parseFilters(in.Filters, addressFilters...)
	if err != nil {
		return nil, err
	}
	for _, id := range in.AllocationIds {
		if !allocationIDRE.MatchString(id) {
			return nil, errAllocationMalformed("Invalid id: \"%s\" (expecting \"eipalloc-...\")", id)
		}
	}
	for _, ip := range in.PublicIps {
		if err := checkPublicIP(ip); err != nil {
			return nil, err
		}
	}
	var recs []*state.Address
	for pass := 0; pass < 2; pass++ {
		if recs, err = f.st().Addresses(c.Caller.AccountID); err != nil {
			return nil, err
		}
		if missingAddress(recs, in.AllocationIds, in.PublicIps) == nil {
			break
		}
		if pass == 0 {
			f.catchUp(c) // an address allocated through another box a moment ago
		}
	}
	if err := missingAddress(recs, in.AllocationIds, in.PublicIps); err != nil {
		return nil, err
	}
	out := []Address{}
	for _, r := range recs {
		if !selected(in.AllocationIds, r.AllocationID) || !selected(in.PublicIps, r.PublicIP) {
			continue
		}
		a := f.toAddress(r)
		if fs.match(addressAttrs(a).get, r.Tags) {
			out = append(out, a)
		}
	}
	return &DescribeAddressesResult{Addresses: out}, nil
}

// missingAddress is the error for the first asked-for allocation ID or address the
// account does not hold.
func missingAddress(recs []*state.Address, ids, ips []string) error {
	for _, id := range ids {
		if !slices.ContainsFunc(recs, func(a *state.Address) bool { return a.AllocationID == id }) {
			return errAllocationNotFound("The allocation ID '%s' does not exist", id)
		}
	}
	for _, ip := range ips {
		if !slices.ContainsFunc(recs, func(a *state.Address) bool { return a.PublicIP == ip }) {
			return errAddressNotFound("Address '%s' not found.", ip)
		}
	}
	return nil
}
