package state

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/hashicorp/go-memdb"
)

// Elastic IP addresses: public IPv4 addresses from the cluster's pool (the setting
// SettingPublicCIDR, addresses on the boxes' own LAN), allocated to an account and
// associated with one of its instances. The box that runs the instance answers for the
// address and NATs it 1:1 to the instance's private address (node/addresses.go); which
// box that is follows from the instance's Node, so nothing here names a box.
//
// An association with an instance that is terminated (or forgotten) counts as gone, as
// EC2 disassociates an address when its instance terminates: Associated says so, and
// every command treats such an address as free.
//
// The pool also gives the public addresses EC2 assigns instances itself at launch (not
// Elastic IPs): those are Address records too, marked Auto (publicips.go), so the NAT, DNS
// and metadata views serve both alike.

// Command types of public addresses (80-84; 84 is ModifySubnetAttribute, publicips.go).
const (
	CmdAllocateAddress     CommandType = 80
	CmdAssociateAddress    CommandType = 81
	CmdDisassociateAddress CommandType = 82
	CmdReleaseAddress      CommandType = 83
)

// Settings of Elastic IPs.
const (
	// SettingPublicCIDR is the pool public addresses are allocated from: IPv4 CIDRs,
	// comma separated, on the LAN of the boxes (a CIDR's network and broadcast
	// addresses are not given out when it is larger than a /31, nor the boxes' own).
	SettingPublicCIDR = "network.public_cidr"
	// SettingAddressLimit is how many addresses one account may hold (default
	// DefaultAddressLimit, EC2's default quota).
	SettingAddressLimit = "network.address_limit"
	// DefaultAddressLimit is EC2's default Elastic IP quota per region.
	DefaultAddressLimit = 5
)

// Domain error codes of Elastic IPs; they are EC2's own, so the front door's table
// passes them on unchanged.
const (
	CodeAddressLimitExceeded Code = "AddressLimitExceeded"
	CodeAllocationNotFound   Code = "InvalidAllocationID.NotFound"
	CodeAssociationNotFound  Code = "InvalidAssociationID.NotFound"
	CodeAddressNotFound      Code = "InvalidAddress.NotFound"
	CodeAddressInUse         Code = "InvalidIPAddress.InUse"
	CodeAlreadyAssociated    Code = "Resource.AlreadyAssociated"
)

const poolHint = "set the cluster's public address pool with `banyan setting set " + SettingPublicCIDR + " CIDR`"

// Address is one Elastic IP address of an account (Domain vpc), or, marked Auto, the
// public address an instance was given at launch.
type Address struct {
	AllocationID string // eipalloc-... (eipauto-... for an Auto address, never shown)
	Account      string
	PublicIP     string
	// InstanceID is the instance the address is associated with ("" for none);
	// AssociationID (eipassoc-...) names the association. Use Associated: an
	// association with a terminated instance is gone.
	InstanceID    string
	AssociationID string
	Tags          map[string]string
	// Auto marks a public IPv4 address EC2 gave the instance InstanceID itself
	// (publicips.go), not an Elastic IP: it has no association ID, is not the account's
	// to describe, associate or release, counts against no limit, and goes when the
	// instance stops or terminates or an Elastic IP replaces it.
	Auto        bool
	CreateIndex uint64
	ModifyIndex uint64
}

const tableAddresses = "addresses"

// AllocateAddress takes an address from the pool for an account: Address when given
// (it must be in the pool and free), else the lowest free one. It answers the Address.
type AllocateAddress struct {
	Account string
	Address string
	Tags    map[string]string
}

func (*AllocateAddress) CommandType() CommandType { return CmdAllocateAddress }

// AssociateAddress associates an account's address (by AllocationID, or PublicIP)
// with one of its instances. An address associated with another live instance needs
// AllowReassociation (else Resource.AlreadyAssociated); an instance that holds another
// address loses it, as the interface's primary private address takes one public
// address. It answers the association ID.
type AssociateAddress struct {
	Account            string
	AllocationID       string
	PublicIP           string
	InstanceID         string
	AllowReassociation bool
}

func (*AssociateAddress) CommandType() CommandType { return CmdAssociateAddress }

// DisassociateAddress ends an association, named by its ID (or the address).
type DisassociateAddress struct {
	Account       string
	AssociationID string
	PublicIP      string
}

func (*DisassociateAddress) CommandType() CommandType { return CmdDisassociateAddress }

// ReleaseAddress gives an address back to the pool; one that is associated is
// InvalidIPAddress.InUse.
type ReleaseAddress struct {
	Account      string
	AllocationID string
	PublicIP     string
}

func (*ReleaseAddress) CommandType() CommandType { return CmdReleaseAddress }

func init() {
	registerTable(&memdb.TableSchema{
		Name: tableAddresses,
		Indexes: map[string]*memdb.IndexSchema{
			"id":       {Name: "id", Unique: true, Indexer: &memdb.StringFieldIndex{Field: "AllocationID"}},
			"ip":       {Name: "ip", Unique: true, Indexer: &memdb.StringFieldIndex{Field: "PublicIP"}},
			"account":  {Name: "account", Indexer: &memdb.StringFieldIndex{Field: "Account"}},
			"instance": {Name: "instance", AllowMissing: true, Indexer: &memdb.StringFieldIndex{Field: "InstanceID"}},
			"assoc":    {Name: "assoc", AllowMissing: true, Indexer: &memdb.StringFieldIndex{Field: "AssociationID"}},
		},
	}, func() any { return new(Address) })
	registerCommand("AllocateAddress", applyAllocateAddress)
	registerCommand("AssociateAddress", applyAssociateAddress)
	registerCommand("DisassociateAddress", applyDisassociateAddress)
	registerCommand("ReleaseAddress", applyReleaseAddress)
}

// indexID derives an ID from the log index being applied, so every replica gives the
// same one.
func indexID(prefix string, parts ...any) string {
	h := sha256.Sum256(fmt.Append(nil, parts...))
	return prefix + hex.EncodeToString(h[:])[:17]
}

// ParsePublicPool parses the value of SettingPublicCIDR.
func ParsePublicPool(v string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(v, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		p, err := netip.ParsePrefix(f)
		if err != nil || !p.Addr().Is4() {
			return nil, Errorf(CodeInvalid, "%s: %q is not an IPv4 CIDR", SettingPublicCIDR, f)
		}
		out = append(out, p.Masked())
	}
	if len(out) == 0 {
		return nil, Errorf(CodeInvalid, "%s is empty", SettingPublicCIDR)
	}
	return out, nil
}

// poolHolds reports whether a is an address the pool gives out.
func poolHolds(pool []netip.Prefix, a netip.Addr) bool {
	for _, p := range pool {
		if !p.Contains(a) {
			continue
		}
		if p.Bits() < 31 && (a == p.Addr() || a == lastAddr(p)) {
			continue
		}
		return true
	}
	return false
}

func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().As4()
	n := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	n |= ^uint32(0) >> p.Bits()
	return netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)})
}

// boxAddrs are the registered boxes' own addresses, which the pool never gives out.
func boxAddrs(tx *Txn) (map[netip.Addr]bool, error) {
	nodes, err := list[Node](tx.Txn, tableNodes)
	if err != nil {
		return nil, err
	}
	out := map[netip.Addr]bool{}
	for _, n := range nodes {
		for _, hp := range []string{n.Addr, n.GossipAddr, n.APIAddr} {
			if host, _, err := net.SplitHostPort(hp); err == nil {
				if a, err := netip.ParseAddr(host); err == nil {
					out[a.Unmap()] = true
				}
			}
		}
	}
	return out, nil
}

// addressFree reports whether a pool address may be given out: no box has it and no
// address record (Elastic IP or an instance's own public address) holds it.
func addressFree(tx *Txn, boxes map[netip.Addr]bool, a netip.Addr) (bool, error) {
	if boxes[a] {
		return false, nil
	}
	obj, err := tx.First(tableAddresses, "ip", a.String())
	return obj == nil, err
}

// lowestFreeAddress is the lowest address of the pool that addressFree allows; the zero
// Addr when there is none. Elastic IPs and the public addresses instances get at launch
// (publicips.go) come from here alike, so the two never collide.
func lowestFreeAddress(tx *Txn, pool []netip.Prefix, boxes map[netip.Addr]bool) (netip.Addr, error) {
	for _, p := range pool {
		for a := p.Addr(); p.Contains(a); a = a.Next() {
			if !poolHolds(pool, a) {
				continue
			}
			ok, err := addressFree(tx, boxes, a)
			if err != nil {
				return netip.Addr{}, err
			}
			if ok {
				return a, nil
			}
		}
	}
	return netip.Addr{}, nil
}

func settingString(tx *Txn, key string) string {
	obj, err := tx.First(tableSettings, "id", key)
	if err != nil || obj == nil {
		return ""
	}
	return obj.(*Setting).Value
}

func addressLimit(tx *Txn) int {
	if n, err := strconv.Atoi(settingString(tx, SettingAddressLimit)); err == nil && n >= 0 {
		return n
	}
	return DefaultAddressLimit
}

func applyAllocateAddress(tx *Txn, c *AllocateAddress) (any, error) {
	if c.Account == "" {
		return nil, Errorf(CodeInvalid, "no account")
	}
	if len(c.Tags) > MaxTags {
		return nil, Errorf(CodeLimitExceeded, "The maximum number of tags is %d", MaxTags)
	}
	v := settingString(tx, SettingPublicCIDR)
	if v == "" {
		return nil, Errorf(CodeAddressLimitExceeded, "The maximum number of addresses has been reached: this cloud has no public addresses yet (%s).", poolHint)
	}
	pool, err := ParsePublicPool(v)
	if err != nil {
		return nil, Errorf(CodeAddressLimitExceeded, "The maximum number of addresses has been reached: the public address pool is unusable (%s); %s.", err, poolHint)
	}
	held, err := listBy[Address](tx.Txn, tableAddresses, "account", c.Account)
	if err != nil {
		return nil, err
	}
	held = slices.DeleteFunc(held, func(a *Address) bool { return a.Auto })
	if limit := addressLimit(tx); len(held) >= limit {
		return nil, Errorf(CodeAddressLimitExceeded, "The maximum number of addresses has been reached: the account holds %d of its %d (the setting %s).", len(held), limit, SettingAddressLimit)
	}
	boxes, err := boxAddrs(tx)
	if err != nil {
		return nil, err
	}
	var pick netip.Addr
	if c.Address != "" {
		a, err := netip.ParseAddr(c.Address)
		if err != nil || !a.Is4() {
			return nil, Errorf(CodeInvalid, "Invalid IPv4 address '%s'.", c.Address)
		}
		if !poolHolds(pool, a) || boxes[a] {
			return nil, Errorf(CodeInvalid, "The address '%s' is not in this cloud's public address pool (%s).", c.Address, v)
		}
		ok, err := addressFree(tx, boxes, a)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, Errorf(CodeAddressInUse, "The address '%s' is already allocated.", c.Address)
		}
		pick = a
	} else {
		if pick, err = lowestFreeAddress(tx, pool, boxes); err != nil {
			return nil, err
		}
		if !pick.IsValid() {
			return nil, Errorf(CodeAddressLimitExceeded, "The maximum number of addresses has been reached: every address of the public pool (%s) is allocated.", v)
		}
	}
	addr := &Address{AllocationID: indexID("eipalloc-", tx.Index, "allocation"), Account: c.Account, PublicIP: pick.String(),
		Tags: maps.Clone(c.Tags), CreateIndex: tx.Index, ModifyIndex: tx.Index}
	if err := tx.Insert(tableAddresses, addr); err != nil {
		return nil, err
	}
	return addr, nil
}

// ownAddress finds one of the account's Elastic IP addresses by allocation ID, else by
// address (an instance's Auto address is none of them).
func ownAddress(tx *Txn, account, allocationID, publicIP string) (*Address, error) {
	var obj any
	var err error
	switch {
	case allocationID != "":
		obj, err = tx.First(tableAddresses, "id", allocationID)
		if err == nil && (obj == nil || obj.(*Address).Account != account || obj.(*Address).Auto) {
			return nil, Errorf(CodeAllocationNotFound, "The allocation ID '%s' does not exist", allocationID)
		}
	case publicIP != "":
		obj, err = tx.First(tableAddresses, "ip", publicIP)
		if err == nil && (obj == nil || obj.(*Address).Account != account || obj.(*Address).Auto) {
			return nil, Errorf(CodeAddressNotFound, "Address '%s' not found.", publicIP)
		}
	default:
		return nil, Errorf(CodeInvalid, "an address needs an allocation ID or a public IP")
	}
	if err != nil {
		return nil, err
	}
	return obj.(*Address), nil
}

// liveInstance is the instance an association names, when it still counts: the
// instance exists and is not terminated.
func liveInstance(tx *memdb.Txn, id string) *Instance {
	if id == "" {
		return nil
	}
	obj, err := tx.First(tableInstances, "id", id)
	if err != nil || obj == nil {
		return nil
	}
	in := obj.(*Instance)
	if in.State == InstanceTerminated || in.Desired == InstanceTerminated {
		return nil
	}
	return in
}

func applyAssociateAddress(tx *Txn, c *AssociateAddress) (any, error) {
	a, err := ownAddress(tx, c.Account, c.AllocationID, c.PublicIP)
	if err != nil {
		return nil, err
	}
	obj, err := tx.First(tableInstances, "id", c.InstanceID)
	if err != nil {
		return nil, err
	}
	if obj == nil || obj.(*Instance).Account != c.Account {
		return nil, Errorf(CodeNotFound, "The instance ID '%s' does not exist", c.InstanceID)
	}
	in := obj.(*Instance)
	if liveInstance(tx.Txn, in.ID) == nil {
		return nil, Errorf(CodeIncorrectState, "The instance '%s' is not in a valid state for this operation.", in.ID)
	}
	cur := liveInstance(tx.Txn, a.InstanceID)
	if cur != nil {
		if cur.ID == in.ID {
			return a.AssociationID, nil // already so
		}
		if !c.AllowReassociation {
			return nil, Errorf(CodeAlreadyAssociated, "resource %s is already associated with associate-id %s", a.AllocationID, a.AssociationID)
		}
	}
	// The instance's primary address holds one public address: another one goes (an
	// Auto one back to the pool, as EC2 releases it).
	others, err := listBy[Address](tx.Txn, tableAddresses, "instance", in.ID)
	if err != nil {
		return nil, err
	}
	for _, o := range others {
		if o.AllocationID == a.AllocationID {
			continue
		}
		if o.Auto {
			if err := tx.Delete(tableAddresses, o); err != nil {
				return nil, err
			}
			continue
		}
		n := *o
		n.InstanceID, n.AssociationID, n.ModifyIndex = "", "", tx.Index
		if err := tx.Insert(tableAddresses, &n); err != nil {
			return nil, err
		}
	}
	n := *a
	n.InstanceID, n.AssociationID, n.ModifyIndex = in.ID, indexID("eipassoc-", tx.Index, a.AllocationID), tx.Index
	if err := tx.Insert(tableAddresses, &n); err != nil {
		return nil, err
	}
	// The instance the address moved away from gets a public address of its own again,
	// as on DisassociateAddress.
	if cur != nil {
		if err := restorePublicIP(tx, cur); err != nil {
			return nil, err
		}
	}
	return n.AssociationID, nil
}

func applyDisassociateAddress(tx *Txn, c *DisassociateAddress) (any, error) {
	var a *Address
	if c.AssociationID != "" {
		obj, err := tx.First(tableAddresses, "assoc", c.AssociationID)
		if err != nil {
			return nil, err
		}
		if obj == nil || obj.(*Address).Account != c.Account || liveInstance(tx.Txn, obj.(*Address).InstanceID) == nil {
			return nil, Errorf(CodeAssociationNotFound, "The association ID '%s' does not exist", c.AssociationID)
		}
		a = obj.(*Address)
	} else {
		var err error
		if a, err = ownAddress(tx, c.Account, "", c.PublicIP); err != nil {
			return nil, err
		}
		if liveInstance(tx.Txn, a.InstanceID) == nil {
			return nil, nil // EC2 answers success for an address that is not associated
		}
	}
	in := liveInstance(tx.Txn, a.InstanceID)
	n := *a
	n.InstanceID, n.AssociationID, n.ModifyIndex = "", "", tx.Index
	if err := tx.Insert(tableAddresses, &n); err != nil {
		return nil, err
	}
	return nil, restorePublicIP(tx, in)
}

func applyReleaseAddress(tx *Txn, c *ReleaseAddress) (any, error) {
	a, err := ownAddress(tx, c.Account, c.AllocationID, c.PublicIP)
	if err != nil {
		return nil, err
	}
	if liveInstance(tx.Txn, a.InstanceID) != nil {
		return nil, Errorf(CodeAddressInUse, "Address %s is in use.", a.PublicIP)
	}
	return nil, tx.Delete(tableAddresses, a)
}

// Associated is the instance an address is associated with, or nil: the association
// counts while the instance exists and is not terminated.
func (s *Store) Associated(a *Address) *Instance {
	return liveInstance(s.ReadTxn(), a.InstanceID)
}

// Addresses lists an account's Elastic IP addresses ("" for every account), ordered by
// allocation ID; the Auto addresses of instances are not among them.
func (s *Store) Addresses(account string) ([]*Address, error) {
	tx := s.ReadTxn()
	var out []*Address
	var err error
	if account == "" {
		out, err = list[Address](tx, tableAddresses)
	} else {
		out, err = listBy[Address](tx, tableAddresses, "account", account)
	}
	return slices.DeleteFunc(out, func(a *Address) bool { return a.Auto }), err
}

// InstanceAddress is the public address associated with an instance, if any: an
// Elastic IP, or the instance's own Auto address.
func (s *Store) InstanceAddress(instanceID string) (*Address, bool) {
	tx := s.ReadTxn()
	if liveInstance(tx, instanceID) == nil {
		return nil, false
	}
	obj, err := tx.First(tableAddresses, "instance", instanceID)
	if err != nil || obj == nil {
		return nil, false
	}
	return obj.(*Address), true
}

// Mapping is one public address a box answers for: the address, and the private
// address of the instance placed there that it is NATed to.
type Mapping struct {
	PublicIP   netip.Addr
	PrivateIP  netip.Addr
	InstanceID string
}

// NATView is what a box's NAT is computed from: the public addresses associated with
// live instances placed on the box, every allocated public address (so that the box can
// tell one it must drop), and the pool, read in one snapshot, with a channel closed
// when the addresses, the instances or the pool change.
type NATView struct {
	Mappings  []Mapping
	Allocated []netip.Addr
	Pool      []netip.Prefix // nil when the setting is unset or unusable
	Changed   <-chan struct{}
}

// NAT reads the NATView of box node; Changed is closed on a change or when ctx ends (a
// nil ctx watches nothing and leaves Changed nil).
func (s *Store) NAT(ctx context.Context, node string) (*NATView, error) {
	tx := s.ReadTxn()
	ws := memdb.NewWatchSet()
	it, err := tx.Get(tableAddresses, "id")
	if err != nil {
		return nil, err
	}
	ws.Add(it.WatchCh())
	iit, err := tx.Get(tableInstances, "id")
	if err != nil {
		return nil, err
	}
	ws.Add(iit.WatchCh())
	ch, obj, err := tx.FirstWatch(tableSettings, "id", SettingPublicCIDR)
	if err != nil {
		return nil, err
	}
	ws.Add(ch)
	v := &NATView{}
	if obj != nil {
		v.Pool, _ = ParsePublicPool(obj.(*Setting).Value)
	}
	for o := it.Next(); o != nil; o = it.Next() {
		a := o.(*Address)
		pub, err := netip.ParseAddr(a.PublicIP)
		if err != nil {
			continue
		}
		v.Allocated = append(v.Allocated, pub)
		in := liveInstance(tx, a.InstanceID)
		if in == nil || in.Node != node {
			continue
		}
		priv, err := netip.ParseAddr(in.PrivateIP)
		if err != nil || !priv.Is4() {
			continue
		}
		v.Mappings = append(v.Mappings, Mapping{PublicIP: pub, PrivateIP: priv, InstanceID: in.ID})
	}
	if ctx == nil {
		return v, nil
	}
	changed := make(chan struct{})
	go func() {
		ws.WatchCtx(ctx)
		close(changed)
	}()
	v.Changed = changed
	return v, nil
}

// PublicAddresses maps each instance that has a live association to its public
// address (for DNS and the metadata service).
func (s *Store) PublicAddresses() map[string]netip.Addr {
	tx := s.ReadTxn()
	it, err := tx.Get(tableAddresses, "id")
	if err != nil {
		return nil
	}
	out := map[string]netip.Addr{}
	for o := it.Next(); o != nil; o = it.Next() {
		a := o.(*Address)
		if liveInstance(tx, a.InstanceID) == nil {
			continue
		}
		if pub, err := netip.ParseAddr(a.PublicIP); err == nil {
			out[a.InstanceID] = pub
		}
	}
	return out
}

// AddressesChanged returns a channel closed on the next change of the addresses table
// (or when ctx ends).
func (s *Store) AddressesChanged(ctx context.Context) <-chan struct{} {
	ch := make(chan struct{})
	it, err := s.ReadTxn().Get(tableAddresses, "id")
	if err != nil {
		close(ch)
		return ch
	}
	w := it.WatchCh()
	go func() {
		select {
		case <-w:
		case <-ctx.Done():
		}
		close(ch)
	}()
	return ch
}

func addressTags(o any) (map[string]string, string) {
	a := o.(*Address)
	return a.Tags, a.Account
}

func setAddressTags(o any, t map[string]string) any {
	c := *o.(*Address)
	c.Tags = maps.Clone(t)
	return &c
}
