package state

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/hashicorp/go-memdb"
)

// SecurityGroup is an EC2 security group of an account's default VPC: a name, and the
// rules that say what may reach (Ingress) and leave (Egress) the instances that are its
// members. Every account has the group named "default" (DefaultSecurityGroupID), made
// by the first command that needs it, admitting everything from its own members and
// letting everything out.
type SecurityGroup struct {
	ID          string
	Account     string
	Name        string
	Description string
	Ingress     []SecurityGroupRule
	Egress      []SecurityGroupRule
	Tags        map[string]string
	CreateIndex uint64
	ModifyIndex uint64
}

// SecurityGroupRule is one rule of a group, as EC2's security group rules are: one
// protocol, one port range and one source (or, for egress, destination), a CIDR or a
// group whose members' private addresses it stands for.
type SecurityGroupRule struct {
	ID string // sgr-...
	// Protocol is "-1" (everything), "tcp", "udp", "icmp", or an IP protocol number.
	Protocol string
	// FromPort and ToPort are the port range for tcp and udp, the ICMP type and code for
	// icmp (-1: any), and -1 for the others.
	FromPort, ToPort int32
	CIDR             string // IPv4 CIDR, or "" when Group is set
	Group            string // the referenced group's ID
	Description      string
}

// same reports whether two rules permit the same traffic (descriptions and IDs aside).
func (r SecurityGroupRule) same(o SecurityGroupRule) bool {
	return r.Protocol == o.Protocol && r.FromPort == o.FromPort && r.ToPort == o.ToPort && r.CIDR == o.CIDR && r.Group == o.Group
}

// EC2's limits.
const (
	// MaxRulesPerGroup is the rules of one direction one group may hold.
	MaxRulesPerGroup = 60
	// MaxGroupsPerInstance is the groups one network interface may be in.
	MaxGroupsPerInstance = 5
	// DefaultSecurityGroupName is the name of every account's default group.
	DefaultSecurityGroupName = "default"
)

// Domain error codes of security groups; they are EC2's own, so the front door's table
// passes them on unchanged.
const (
	CodeGroupDuplicate        Code = "InvalidGroup.Duplicate"
	CodeGroupNotFound         Code = "InvalidGroup.NotFound"
	CodeGroupReserved         Code = "InvalidGroup.Reserved"
	CodePermissionDuplicate   Code = "InvalidPermission.Duplicate"
	CodePermissionNotFound    Code = "InvalidPermission.NotFound"
	CodeDependencyViolation   Code = "DependencyViolation"
	CodeCannotDelete          Code = "CannotDelete"
	CodeRulesLimitExceeded    Code = "RulesPerSecurityGroupLimitExceeded"
	CodeGroupsPerInstanceOver Code = "SecurityGroupsPerInstanceLimitExceeded"
)

const tableSecurityGroups = "securitygroups"

// DefaultSecurityGroupID is the ID of an account's default group: derived from the
// account (as the default VPC's IDs are), so it is the same before and after the group
// is first recorded.
func DefaultSecurityGroupID(account string) string {
	h := sha256.Sum256([]byte(account + "/security-group/default"))
	return "sg-" + hex.EncodeToString(h[:])[:17]
}

// DefaultSecurityGroup is what an account's default group holds when it is made.
func DefaultSecurityGroup(account string) SecurityGroup {
	id := DefaultSecurityGroupID(account)
	return SecurityGroup{ID: id, Account: account, Name: DefaultSecurityGroupName, Description: "default VPC security group",
		Ingress: []SecurityGroupRule{{ID: ruleID(id, "default-ingress"), Protocol: "-1", FromPort: -1, ToPort: -1, Group: id}},
		Egress:  []SecurityGroupRule{{ID: ruleID(id, "default-egress"), Protocol: "-1", FromPort: -1, ToPort: -1, CIDR: "0.0.0.0/0"}},
	}
}

// ruleID derives a rule's ID from where it was made, so that every replica applying the
// same command gives the same ID.
func ruleID(parts ...any) string {
	h := sha256.Sum256(fmt.Append(nil, parts...))
	return "sgr-" + hex.EncodeToString(h[:])[:17]
}

// GroupIDs are the security groups of an instance; one recorded before groups were
// real resources is in its account's default group.
func (in *Instance) GroupIDs() []string {
	if len(in.SecurityGroups) == 0 {
		return []string{DefaultSecurityGroupID(in.Account)}
	}
	return in.SecurityGroups
}

// CreateSecurityGroup records a new group. A group without Egress rules gets EC2's
// allow-all egress rule; rule IDs are given in the apply.
type CreateSecurityGroup struct {
	Group SecurityGroup
}

func (*CreateSecurityGroup) CommandType() CommandType { return CmdCreateSecurityGroup }

// DeleteSecurityGroup removes a group that no instance uses and no other group's rule
// references; the default group cannot be deleted.
type DeleteSecurityGroup struct {
	Account string
	ID      string
}

func (*DeleteSecurityGroup) CommandType() CommandType { return CmdDeleteSecurityGroup }

// AuthorizeSecurityGroupRules adds rules to a group, all or none: one that permits what
// a rule of the group (or of this call) already permits is InvalidPermission.Duplicate.
// It answers the rules as recorded, with their IDs.
type AuthorizeSecurityGroupRules struct {
	Account string
	GroupID string
	Egress  bool
	Rules   []SecurityGroupRule
}

func (*AuthorizeSecurityGroupRules) CommandType() CommandType { return CmdAuthorizeSecurityGroupRules }

// RevokeSecurityGroupRules removes rules from a group, named by what they permit
// (Rules) or by ID (RuleIDs), all or none: one the group does not have is
// InvalidPermission.NotFound. It answers the rules removed.
type RevokeSecurityGroupRules struct {
	Account string
	GroupID string
	Egress  bool
	Rules   []SecurityGroupRule
	RuleIDs []string
}

func (*RevokeSecurityGroupRules) CommandType() CommandType { return CmdRevokeSecurityGroupRules }

// SetInstanceGroups replaces the security groups of an instance (its primary network
// interface), live.
type SetInstanceGroups struct {
	Account    string
	InstanceID string
	Groups     []string
}

func (*SetInstanceGroups) CommandType() CommandType { return CmdSetInstanceGroups }

// EnsureDefaultSecurityGroup records the account's default group if it is not yet.
type EnsureDefaultSecurityGroup struct {
	Account string
}

func (*EnsureDefaultSecurityGroup) CommandType() CommandType { return CmdEnsureDefaultSecurityGroup }

func init() {
	registerTable(&memdb.TableSchema{
		Name: tableSecurityGroups,
		Indexes: map[string]*memdb.IndexSchema{
			"id":      {Name: "id", Unique: true, Indexer: &memdb.StringFieldIndex{Field: "ID"}},
			"account": {Name: "account", Indexer: &memdb.StringFieldIndex{Field: "Account"}},
			"name": {Name: "name", Unique: true, Indexer: &memdb.CompoundIndex{Indexes: []memdb.Indexer{
				&memdb.StringFieldIndex{Field: "Account"}, &memdb.StringFieldIndex{Field: "Name", Lowercase: true}}}},
		},
	}, func() any { return new(SecurityGroup) })
	registerCommand("CreateSecurityGroup", applyCreateSecurityGroup)
	registerCommand("DeleteSecurityGroup", applyDeleteSecurityGroup)
	registerCommand("AuthorizeSecurityGroupRules", applyAuthorizeSecurityGroupRules)
	registerCommand("RevokeSecurityGroupRules", applyRevokeSecurityGroupRules)
	registerCommand("SetInstanceGroups", applySetInstanceGroups)
	registerCommand("EnsureDefaultSecurityGroup", applyEnsureDefaultSecurityGroup)
}

// ensureDefaultGroup records the account's default group unless it exists.
func ensureDefaultGroup(tx *Txn, account string) error {
	if account == "" {
		return Errorf(CodeInvalid, "no account")
	}
	obj, err := tx.First(tableSecurityGroups, "id", DefaultSecurityGroupID(account))
	if err != nil || obj != nil {
		return err
	}
	g := DefaultSecurityGroup(account)
	g.CreateIndex, g.ModifyIndex = tx.Index, tx.Index
	return tx.Insert(tableSecurityGroups, &g)
}

// ownGroup finds one of the account's groups, making the default group on first use.
func ownGroup(tx *Txn, account, id string) (*SecurityGroup, error) {
	if id == DefaultSecurityGroupID(account) {
		if err := ensureDefaultGroup(tx, account); err != nil {
			return nil, err
		}
	}
	obj, err := tx.First(tableSecurityGroups, "id", id)
	if err != nil {
		return nil, err
	}
	if obj == nil || obj.(*SecurityGroup).Account != account {
		return nil, Errorf(CodeGroupNotFound, "The security group '%s' does not exist", id)
	}
	return obj.(*SecurityGroup), nil
}

func applyEnsureDefaultSecurityGroup(tx *Txn, c *EnsureDefaultSecurityGroup) (any, error) {
	return nil, ensureDefaultGroup(tx, c.Account)
}

func applyCreateSecurityGroup(tx *Txn, c *CreateSecurityGroup) (any, error) {
	g := c.Group
	if g.Account == "" || g.ID == "" || g.Name == "" {
		return nil, Errorf(CodeInvalid, "a security group needs an account, an ID and a name")
	}
	if err := ensureDefaultGroup(tx, g.Account); err != nil {
		return nil, err
	}
	if strings.EqualFold(g.Name, DefaultSecurityGroupName) {
		return nil, Errorf(CodeGroupReserved, "The security group name 'default' is reserved.")
	}
	if old, err := tx.First(tableSecurityGroups, "name", g.Account, g.Name); err != nil {
		return nil, err
	} else if old != nil {
		return nil, Errorf(CodeGroupDuplicate, "The security group '%s' already exists for VPC", g.Name)
	}
	if old, err := tx.First(tableSecurityGroups, "id", g.ID); err != nil {
		return nil, err
	} else if old != nil {
		return nil, Errorf(CodeGroupDuplicate, "The security group '%s' already exists", g.ID)
	}
	g.Ingress = slices.Clone(g.Ingress)
	if len(g.Egress) == 0 {
		g.Egress = []SecurityGroupRule{{Protocol: "-1", FromPort: -1, ToPort: -1, CIDR: "0.0.0.0/0"}}
	} else {
		g.Egress = slices.Clone(g.Egress)
	}
	for i := range g.Ingress {
		g.Ingress[i].ID = ruleID(g.ID, tx.Index, "in", i)
	}
	for i := range g.Egress {
		g.Egress[i].ID = ruleID(g.ID, tx.Index, "out", i)
	}
	g.CreateIndex, g.ModifyIndex = tx.Index, tx.Index
	return nil, tx.Insert(tableSecurityGroups, &g)
}

func applyDeleteSecurityGroup(tx *Txn, c *DeleteSecurityGroup) (any, error) {
	g, err := ownGroup(tx, c.Account, c.ID)
	if err != nil {
		return nil, err
	}
	if g.Name == DefaultSecurityGroupName {
		return nil, Errorf(CodeCannotDelete, "the specified group: \"%s\" name: \"default\" cannot be deleted by a user", g.ID)
	}
	ins, err := listBy[Instance](tx.Txn, tableInstances, "account", c.Account)
	if err != nil {
		return nil, err
	}
	for _, in := range ins {
		if in.State != InstanceTerminated && slices.Contains(in.GroupIDs(), g.ID) {
			return nil, Errorf(CodeDependencyViolation, "resource %s has a dependent object (instance %s)", g.ID, in.ID)
		}
	}
	groups, err := listBy[SecurityGroup](tx.Txn, tableSecurityGroups, "account", c.Account)
	if err != nil {
		return nil, err
	}
	for _, o := range groups {
		if o.ID == g.ID {
			continue
		}
		for _, r := range slices.Concat(o.Ingress, o.Egress) {
			if r.Group == g.ID {
				return nil, Errorf(CodeDependencyViolation, "resource %s has a dependent object (a rule of %s)", g.ID, o.ID)
			}
		}
	}
	return nil, tx.Delete(tableSecurityGroups, g)
}

func applyAuthorizeSecurityGroupRules(tx *Txn, c *AuthorizeSecurityGroupRules) (any, error) {
	g, err := ownGroup(tx, c.Account, c.GroupID)
	if err != nil {
		return nil, err
	}
	if len(c.Rules) == 0 {
		return nil, Errorf(CodeInvalid, "no rules to authorize")
	}
	cur := g.Ingress
	if c.Egress {
		cur = g.Egress
	}
	next := slices.Clone(cur)
	var added []SecurityGroupRule
	for i, r := range c.Rules {
		if (r.CIDR == "") == (r.Group == "") {
			return nil, Errorf(CodeInvalid, "a rule needs one CIDR or one group")
		}
		if r.Group != "" && r.Group != g.ID {
			if _, err := ownGroup(tx, c.Account, r.Group); err != nil {
				return nil, err
			}
		}
		for _, o := range next {
			if o.same(r) {
				return nil, Errorf(CodePermissionDuplicate, "the specified rule \"%s\" already exists", describeRule(r, c.Egress))
			}
		}
		r.ID = ruleID(g.ID, tx.Index, i)
		next = append(next, r)
		added = append(added, r)
	}
	if len(next) > MaxRulesPerGroup {
		return nil, Errorf(CodeRulesLimitExceeded, "The maximum number of rules per security group has been reached.")
	}
	ng := *g
	if c.Egress {
		ng.Egress = next
	} else {
		ng.Ingress = next
	}
	ng.ModifyIndex = tx.Index
	return added, tx.Insert(tableSecurityGroups, &ng)
}

// describeRule is how EC2's messages name a rule.
func describeRule(r SecurityGroupRule, egress bool) string {
	peer := r.CIDR
	if peer == "" {
		peer = r.Group
	}
	dir := "ingress"
	if egress {
		dir = "egress"
	}
	return fmt.Sprintf("peer: %s, %s, from port: %d, to port: %d, %s", peer, strings.ToUpper(r.Protocol), r.FromPort, r.ToPort, dir)
}

func applyRevokeSecurityGroupRules(tx *Txn, c *RevokeSecurityGroupRules) (any, error) {
	g, err := ownGroup(tx, c.Account, c.GroupID)
	if err != nil {
		return nil, err
	}
	cur := g.Ingress
	if c.Egress {
		cur = g.Egress
	}
	gone := map[string]bool{}
	for _, id := range c.RuleIDs {
		found := false
		for _, o := range cur {
			if o.ID == id {
				gone[id], found = true, true
			}
		}
		if !found {
			return nil, Errorf(CodePermissionNotFound, "The security group rule ID '%s' does not exist in security group '%s'", id, g.ID)
		}
	}
	for _, r := range c.Rules {
		found := false
		for _, o := range cur {
			if o.same(r) {
				gone[o.ID], found = true, true
			}
		}
		if !found {
			return nil, Errorf(CodePermissionNotFound, "The specified rule does not exist in this security group.")
		}
	}
	if len(gone) == 0 {
		return nil, Errorf(CodeInvalid, "no rules to revoke")
	}
	var kept, removed []SecurityGroupRule
	for _, o := range cur {
		if gone[o.ID] {
			removed = append(removed, o)
		} else {
			kept = append(kept, o)
		}
	}
	ng := *g
	if c.Egress {
		ng.Egress = kept
	} else {
		ng.Ingress = kept
	}
	ng.ModifyIndex = tx.Index
	return removed, tx.Insert(tableSecurityGroups, &ng)
}

// checkGroups verifies an instance's groups: its account's, at most five, no repeats;
// none means the default group, which is made on first use.
func checkGroups(tx *Txn, account string, ids []string) ([]string, error) {
	if len(ids) == 0 {
		ids = []string{DefaultSecurityGroupID(account)}
	}
	if len(ids) > MaxGroupsPerInstance {
		return nil, Errorf(CodeGroupsPerInstanceOver, "The maximum number of security groups per interface has been reached.")
	}
	var out []string
	for _, id := range ids {
		if _, err := ownGroup(tx, account, id); err != nil {
			return nil, err
		}
		if !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out, nil
}

// prepareInstanceGroups checks the groups of an instance about to be recorded by
// RunInstances and fills in the default group when none was asked for.
func prepareInstanceGroups(tx *Txn, in *Instance) error {
	ids, err := checkGroups(tx, in.Account, in.SecurityGroups)
	if err != nil {
		return err
	}
	in.SecurityGroups = ids
	return nil
}

func applySetInstanceGroups(tx *Txn, c *SetInstanceGroups) (any, error) {
	obj, err := tx.First(tableInstances, "id", c.InstanceID)
	if err != nil {
		return nil, err
	}
	if obj == nil || obj.(*Instance).Account != c.Account {
		return nil, Errorf(CodeNotFound, "The instance ID '%s' does not exist", c.InstanceID)
	}
	if len(c.Groups) == 0 {
		return nil, Errorf(CodeInvalid, "an instance needs at least one security group")
	}
	in := *obj.(*Instance)
	if in.State == InstanceTerminated {
		return nil, Errorf(CodeIncorrectState, "The instance '%s' is terminated.", c.InstanceID)
	}
	ids, err := checkGroups(tx, c.Account, c.Groups)
	if err != nil {
		return nil, err
	}
	in.SecurityGroups = ids
	in.ModifyIndex = tx.Index
	return nil, tx.Insert(tableInstances, &in)
}

// SecurityGroups lists an account's recorded groups ("" for every account), ordered by
// ID. The default group appears once a command has needed it.
func (s *Store) SecurityGroups(account string) ([]*SecurityGroup, error) {
	tx := s.ReadTxn()
	if account == "" {
		return list[SecurityGroup](tx, tableSecurityGroups)
	}
	return listBy[SecurityGroup](tx, tableSecurityGroups, "account", account)
}

// SecurityGroup returns a group by ID, or an error matching ErrNotFound.
func (s *Store) SecurityGroup(id string) (*SecurityGroup, error) {
	obj, err := s.ReadTxn().First(tableSecurityGroups, "id", id)
	if err != nil {
		return nil, err
	}
	if obj == nil {
		return nil, Errorf(CodeNotFound, "The security group '%s' does not exist", id)
	}
	return obj.(*SecurityGroup), nil
}

// FirewallView is what a box's firewall is computed from: every instance and every
// security group (source-group rules name members on any box), read in one snapshot,
// with a channel closed when either table changes.
type FirewallView struct {
	Instances []*Instance
	Groups    map[string]*SecurityGroup
	Changed   <-chan struct{}
}

// Firewall reads the FirewallView; Changed is closed on a change or when ctx ends (a
// nil ctx watches nothing and leaves Changed nil).
func (s *Store) Firewall(ctx context.Context) (*FirewallView, error) {
	tx := s.ReadTxn()
	ws := memdb.NewWatchSet()
	it, err := tx.Get(tableInstances, "id")
	if err != nil {
		return nil, err
	}
	ws.Add(it.WatchCh())
	v := &FirewallView{Groups: map[string]*SecurityGroup{}}
	for obj := it.Next(); obj != nil; obj = it.Next() {
		v.Instances = append(v.Instances, obj.(*Instance))
	}
	git, err := tx.Get(tableSecurityGroups, "id")
	if err != nil {
		return nil, err
	}
	ws.Add(git.WatchCh())
	for obj := git.Next(); obj != nil; obj = git.Next() {
		g := obj.(*SecurityGroup)
		v.Groups[g.ID] = g
	}
	if ctx == nil {
		return v, nil
	}
	ch := make(chan struct{})
	go func() {
		ws.WatchCtx(ctx)
		close(ch)
	}()
	v.Changed = ch
	return v, nil
}

// securityGroupTags gives TagResources its view of a group's tags.
func securityGroupTags(o any) (map[string]string, string) {
	g := o.(*SecurityGroup)
	return g.Tags, g.Account
}

func setSecurityGroupTags(o any, t map[string]string) any {
	c := *o.(*SecurityGroup)
	c.Tags = maps.Clone(t)
	return &c
}
