package state

import (
	"errors"

	"github.com/hashicorp/go-memdb"
)

// Public IPv4 addresses EC2 assigns on launch (not Elastic IPs). An instance whose launch
// asked for one (RunInstances' NetworkInterfaces AssociatePublicIpAddress, else the
// MapPublicIpOnLaunch of the default subnet it is placed in) records the wish
// (Instance.PublicIPOnLaunch) and, while it is meant to run, holds an address from the
// same pool and allocator as Elastic IPs: an Address record marked Auto and associated
// with it, so the box's NAT (node/addresses.go), DNS and the metadata service answer for
// it as for an Elastic IP. As EC2 does, the address is released when the instance stops
// or terminates and a new one is given when it starts; associating an Elastic IP
// releases it, and disassociating that Elastic IP gives the instance a new one. All of
// it is decided in the apply functions, so replicas agree.

// CmdModifySubnetAttribute sets an attribute of an account's default subnet.
const CmdModifySubnetAttribute CommandType = 84

// CodeInsufficientAddressCapacity: the pool has no free address for an instance that
// wants one (EC2's own code).
const CodeInsufficientAddressCapacity Code = "InsufficientAddressCapacity"

// Subnet is what is recorded of one of an account's default subnets (one per zone; the
// subnet itself is derived, api/ec2/vpc.go): the attributes ModifySubnetAttribute set.
// A subnet without a record has the defaults (MapPublicIPOnLaunch false: the pool is
// addresses of the boxes' LAN, so instances get one only when asked).
type Subnet struct {
	ID                  string // account/zone
	Account             string
	Zone                string
	MapPublicIPOnLaunch bool
	ModifyIndex         uint64
}

const tableSubnets = "subnets"

// ModifySubnetAttribute sets MapPublicIPOnLaunch of the account's default subnet of a
// zone: whether instances launched there without AssociatePublicIpAddress get a public
// address.
type ModifySubnetAttribute struct {
	Account             string
	Zone                string
	MapPublicIPOnLaunch *bool
}

func (*ModifySubnetAttribute) CommandType() CommandType { return CmdModifySubnetAttribute }

func init() {
	registerTable(&memdb.TableSchema{
		Name: tableSubnets,
		Indexes: map[string]*memdb.IndexSchema{
			"id": {Name: "id", Unique: true, Indexer: &memdb.StringFieldIndex{Field: "ID"}},
		},
	}, func() any { return new(Subnet) })
	registerCommand("ModifySubnetAttribute", applyModifySubnetAttribute)
}

func subnetKey(account, zone string) string { return account + "/" + zone }

func applyModifySubnetAttribute(tx *Txn, c *ModifySubnetAttribute) (any, error) {
	if c.Account == "" {
		return nil, Errorf(CodeInvalid, "no account")
	}
	if _, err := ZoneSubnet(c.Zone); err != nil {
		return nil, err
	}
	if c.MapPublicIPOnLaunch == nil {
		return nil, Errorf(CodeInvalid, "no subnet attribute to modify")
	}
	s := Subnet{ID: subnetKey(c.Account, c.Zone), Account: c.Account, Zone: c.Zone}
	if obj, err := tx.First(tableSubnets, "id", s.ID); err != nil {
		return nil, err
	} else if obj != nil {
		s = *obj.(*Subnet)
	}
	s.MapPublicIPOnLaunch, s.ModifyIndex = *c.MapPublicIPOnLaunch, tx.Index
	return nil, tx.Insert(tableSubnets, &s)
}

func mapPublicIPOnLaunch(tx *memdb.Txn, account, zone string) bool {
	obj, err := tx.First(tableSubnets, "id", subnetKey(account, zone))
	return err == nil && obj != nil && obj.(*Subnet).MapPublicIPOnLaunch
}

// MapPublicIPOnLaunch is the attribute of the account's default subnet of a zone.
func (s *Store) MapPublicIPOnLaunch(account, zone string) bool {
	return mapPublicIPOnLaunch(s.ReadTxn(), account, zone)
}

// assignPublicIP gives an instance a public address from the pool, replacing the Auto
// one it may hold; no free address is InsufficientAddressCapacity.
func assignPublicIP(tx *Txn, in *Instance) error {
	if err := releasePublicIP(tx, in.ID); err != nil {
		return err
	}
	v := settingString(tx, SettingPublicCIDR)
	if v == "" {
		return Errorf(CodeInsufficientAddressCapacity, "There are not enough free public addresses to satisfy your request: this cloud has no public addresses yet (%s).", poolHint)
	}
	pool, err := ParsePublicPool(v)
	if err != nil {
		return Errorf(CodeInsufficientAddressCapacity, "There are not enough free public addresses to satisfy your request: the public address pool is unusable (%s); %s.", err, poolHint)
	}
	boxes, err := boxAddrs(tx)
	if err != nil {
		return err
	}
	pick, err := lowestFreeAddress(tx, pool, boxes)
	if err != nil {
		return err
	}
	if !pick.IsValid() {
		return Errorf(CodeInsufficientAddressCapacity, "There are not enough free public addresses to satisfy your request: every address of the public pool (%s) is taken.", v)
	}
	return tx.Insert(tableAddresses, &Address{AllocationID: indexID("eipauto-", tx.Index, in.ID), Account: in.Account,
		PublicIP: pick.String(), InstanceID: in.ID, Auto: true, CreateIndex: tx.Index, ModifyIndex: tx.Index})
}

// releasePublicIP gives an instance's Auto address back to the pool.
func releasePublicIP(tx *Txn, instanceID string) error {
	held, err := listBy[Address](tx.Txn, tableAddresses, "instance", instanceID)
	if err != nil {
		return err
	}
	for _, a := range held {
		if a.Auto {
			if err := tx.Delete(tableAddresses, a); err != nil {
				return err
			}
		}
	}
	return nil
}

// hasElasticIP reports whether an Elastic IP is associated with the instance.
func hasElasticIP(tx *Txn, instanceID string) (bool, error) {
	held, err := listBy[Address](tx.Txn, tableAddresses, "instance", instanceID)
	for _, a := range held {
		if !a.Auto {
			return true, err
		}
	}
	return false, err
}

// restorePublicIP gives an instance that launched with a public address, is meant to
// run and lost its Elastic IP a public address again, as EC2 does. It is best effort:
// with the pool empty the instance goes without until its next start.
func restorePublicIP(tx *Txn, in *Instance) error {
	if in == nil || !in.PublicIPOnLaunch || in.Desired != InstanceRunning {
		return nil
	}
	if eip, err := hasElasticIP(tx, in.ID); err != nil || eip {
		return err
	}
	err := assignPublicIP(tx, in)
	if errors.Is(err, &Error{Code: CodeInsufficientAddressCapacity}) {
		return nil
	}
	return err
}
