package state

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/hashicorp/go-memdb"
)

// Instance is one EC2 instance: what its owner asked for (Desired, RebootSeq), where the
// scheduler put it (Node, Zone, PrivateIP), and what the agent on that box last reported
// (State, StateReason). The front end records intent; the box converges and reports.
type Instance struct {
	ID            string
	Account       string
	ReservationID string
	ImageID       string
	InstanceType  string
	KeyName       string
	VCPUs         int
	MemoryMiB     int
	UserData      []byte
	ClientToken   string
	LaunchIndex   int
	LaunchTime    time.Time
	Tags          map[string]string

	Zone      string
	Node      string
	PrivateIP string
	MAC       string
	// SecurityGroups are the IDs of the instance's security groups (GroupIDs).
	SecurityGroups []string
	// PublicIPOnLaunch is whether the instance's interface has a public IPv4 address
	// from the pool while it is meant to run, decided at launch (publicips.go): given
	// at launch and at each start, released at stop and termination, and replaced by an
	// Elastic IP while one is associated.
	PublicIPOnLaunch bool

	// Desired is running, stopped or terminated; Generation counts its changes so that a
	// box's report about an older intent is ignored. RebootSeq counts RebootInstances.
	Desired    string
	Generation uint64
	RebootSeq  uint64

	// State is EC2's instance state name; StateReason is "Code: message" when the state
	// was not the owner's doing, TransitionReason the EC2 StateTransitionReason.
	State            string
	StateReason      string
	TransitionReason string
	StateChange      time.Time
	// Rebooted is the RebootSeq the box last carried out.
	Rebooted uint64
	// DisableAPITermination refuses TerminateInstances (EC2's termination protection).
	DisableAPITermination bool
	// RootDeviceType is ebs for an instance that boots from a volume (blockdevices.go),
	// else instance-store ("" in records older than it); RootDeviceName its root device.
	// BlockDevices are the launch's EBS mappings: RunInstances makes and attaches a volume
	// for each (VolumeID given by the front end).
	RootDeviceType string
	RootDeviceName string
	BlockDevices   []BlockDevice
	// Recovery is the last move of the instance off a failed box (recovery.go).
	Recovery *InstanceRecovery

	CreateIndex uint64
	ModifyIndex uint64
}

// EC2 instance state names.
const (
	InstancePending      = "pending"
	InstanceRunning      = "running"
	InstanceStopping     = "stopping"
	InstanceStopped      = "stopped"
	InstanceShuttingDown = "shutting-down"
	InstanceTerminated   = "terminated"
)

const tableInstances = "instances"

// RunInstances places new instances on boxes and records them as pending. Placement
// happens in the apply function, against the replicated capacity, so two concurrent
// calls can never both take the last room on a box. LiveNodes is the caller's view of
// which boxes are up (gossip is not replicated); only those are considered.
type RunInstances struct {
	Instances []Instance
	MinCount  int
	LiveNodes []string
	Now       time.Time
	// VolumeReplicas is how many copies each launch volume gets (as CreateVolume's Replicas).
	VolumeReplicas int
	// AssociatePublicIP is the launch's AssociatePublicIpAddress: whether each instance
	// gets a public IPv4 address; nil leaves it to the MapPublicIpOnLaunch of the subnet
	// (zone) it is placed in.
	AssociatePublicIP *bool
}

func (*RunInstances) CommandType() CommandType { return CmdRunInstances }

// RunResult is what RunInstances answers: the IDs of the instances of the reservation
// (those of the first call when ClientToken made this a retry).
type RunResult struct {
	ReservationID string
	IDs           []string
}

// Instance actions of SetInstances.
const (
	ActionStart     = "start"
	ActionStop      = "stop"
	ActionForceStop = "force-stop"
	ActionReboot    = "reboot"
	ActionTerminate = "terminate"
)

// SetInstances changes what the owner wants of some instances.
type SetInstances struct {
	Account string
	IDs     []string
	Action  string
	Now     time.Time
}

func (*SetInstances) CommandType() CommandType { return CmdSetInstances }

// StateChange is one instance's state before and after a SetInstances.
type StateChange struct {
	ID       string
	Previous string
	Current  string
}

// ReportInstance is a box's report of what an instance is doing there. It is ignored
// when it comes from another box than the one the instance is placed on, or answers an
// older Generation than the current intent.
type ReportInstance struct {
	ID         string
	Node       string
	Generation uint64
	State      string
	Reason     string
	Rebooted   uint64
	Now        time.Time
}

func (*ReportInstance) CommandType() CommandType { return CmdReportInstance }

// ForgetInstances removes terminated instances for good (EC2 shows a terminated
// instance for about an hour).
type ForgetInstances struct {
	IDs []string
}

func (*ForgetInstances) CommandType() CommandType { return CmdForgetInstances }

func init() {
	registerTable(&memdb.TableSchema{
		Name: tableInstances,
		Indexes: map[string]*memdb.IndexSchema{
			"id":      {Name: "id", Unique: true, Indexer: &memdb.StringFieldIndex{Field: "ID"}},
			"account": {Name: "account", Indexer: &memdb.StringFieldIndex{Field: "Account"}},
			"node":    {Name: "node", AllowMissing: true, Indexer: &memdb.StringFieldIndex{Field: "Node"}},
			"ip":      {Name: "ip", AllowMissing: true, Indexer: &memdb.StringFieldIndex{Field: "PrivateIP"}},
			"token": {Name: "token", AllowMissing: true, Indexer: &memdb.CompoundIndex{Indexes: []memdb.Indexer{
				&memdb.StringFieldIndex{Field: "Account"}, &memdb.StringFieldIndex{Field: "ClientToken"}}}},
		},
	}, func() any { return new(Instance) })
	registerCommand("RunInstances", applyRunInstances)
	registerCommand("SetInstances", applySetInstances)
	registerCommand("ReportInstance", applyReportInstance)
	registerCommand("ForgetInstances", applyForgetInstances)
}

// CodeInsufficientCapacity: no box has room for the instances asked for.
const CodeInsufficientCapacity Code = "InsufficientCapacity"

// CodeIncorrectState: the instance's state does not allow the action.
const CodeIncorrectState Code = "IncorrectState"

func applyRunInstances(tx *Txn, c *RunInstances) (any, error) {
	if len(c.Instances) == 0 {
		return nil, Errorf(CodeInvalid, "no instances to run")
	}
	first := c.Instances[0]
	if first.ClientToken != "" {
		it, err := tx.Get(tableInstances, "token", first.Account, first.ClientToken)
		if err != nil {
			return nil, err
		}
		res := RunResult{}
		for obj := it.Next(); obj != nil; obj = it.Next() {
			in := obj.(*Instance)
			res.ReservationID = in.ReservationID
			res.IDs = append(res.IDs, in.ID)
		}
		if len(res.IDs) > 0 {
			return res, nil
		}
	}
	sched, err := newScheduler(tx, c.LiveNodes)
	if err != nil {
		return nil, err
	}
	res := RunResult{ReservationID: first.ReservationID}
	for i := range c.Instances {
		in := c.Instances[i]
		if old, err := tx.First(tableInstances, "id", in.ID); err != nil {
			return nil, err
		} else if old != nil {
			return nil, Errorf(CodeAlreadyExists, "instance %s exists", in.ID)
		}
		if err := prepareInstanceGroups(tx, &in); err != nil {
			return nil, err
		}
		box, err := sched.place(&in)
		if err != nil {
			if i >= c.MinCount && c.MinCount > 0 {
				break // MaxCount is a wish, MinCount a requirement
			}
			return nil, err
		}
		ip, err := allocatePrivateIP(tx, box.Zone)
		if err != nil {
			return nil, err
		}
		in.Node, in.Zone, in.PrivateIP = box.Node, box.Zone, ip
		in.PublicIPOnLaunch = mapPublicIPOnLaunch(tx.Txn, in.Account, in.Zone)
		if c.AssociatePublicIP != nil {
			in.PublicIPOnLaunch = *c.AssociatePublicIP
		}
		if in.PublicIPOnLaunch {
			if err := assignPublicIP(tx, &in); err != nil {
				if i >= c.MinCount && c.MinCount > 0 && errors.Is(err, &Error{Code: CodeInsufficientAddressCapacity}) {
					break // as for capacity: MinCount must have addresses, MaxCount is a wish
				}
				return nil, err
			}
		}
		in.Desired, in.State, in.Generation = InstanceRunning, InstancePending, 1
		in.LaunchTime, in.StateChange = c.Now, c.Now
		in.CreateIndex, in.ModifyIndex = tx.Index, tx.Index
		if err := launchVolumes(tx, &in, c); err != nil {
			return nil, err
		}
		if err := tx.Insert(tableInstances, &in); err != nil {
			return nil, err
		}
		res.IDs = append(res.IDs, in.ID)
	}
	return res, nil
}

func applySetInstances(tx *Txn, c *SetInstances) (any, error) {
	var changes []StateChange
	var updated []*Instance
	for _, id := range c.IDs {
		obj, err := tx.First(tableInstances, "id", id)
		if err != nil {
			return nil, err
		}
		if obj == nil || obj.(*Instance).Account != c.Account {
			return nil, Errorf(CodeNotFound, "The instance ID '%s' does not exist", id)
		}
		in := *obj.(*Instance)
		prev := in.State
		switch c.Action {
		case ActionTerminate:
			if in.DisableAPITermination && in.Desired != InstanceTerminated {
				return nil, Errorf(CodeOperationNotPermitted, "The instance '%s' may not be terminated. Modify its 'disableApiTermination' instance attribute and try again.", id)
			}
			if in.Desired != InstanceTerminated {
				in.Desired = InstanceTerminated
				in.Generation++
				if in.State != InstanceTerminated {
					in.State = InstanceShuttingDown
				}
				in.TransitionReason = userInitiated(c.Now)
			}
			if err := releasePublicIP(tx, in.ID); err != nil {
				return nil, err
			}
		case ActionStop, ActionForceStop:
			switch in.State {
			case InstanceTerminated, InstanceShuttingDown:
				return nil, Errorf(CodeIncorrectState, "The instance '%s' is not in a state from which it can be stopped.", id)
			}
			if in.Desired == InstanceRunning {
				in.Desired = InstanceStopped
				in.Generation++
				in.State = InstanceStopping
				in.TransitionReason = userInitiated(c.Now)
				if err := releasePublicIP(tx, in.ID); err != nil {
					return nil, err
				}
			}
		case ActionStart:
			switch in.State {
			case InstanceTerminated, InstanceShuttingDown, InstanceStopping:
				return nil, Errorf(CodeIncorrectState, "The instance '%s' is not in a state from which it can be started.", id)
			}
			if in.Desired == InstanceStopped {
				sched, err := newScheduler(tx, nil)
				if err != nil {
					return nil, err
				}
				if !sched.fits(in.Node, &in) {
					return nil, Errorf(CodeInsufficientCapacity, "There is not enough capacity on box %s to start instance %s.", in.Node, id)
				}
				in.Desired = InstanceRunning
				in.Generation++
				in.State = InstancePending
				in.StateReason, in.TransitionReason = "", ""
				if in.PublicIPOnLaunch {
					// A new public address, unless an Elastic IP stayed associated.
					if eip, err := hasElasticIP(tx, in.ID); err != nil {
						return nil, err
					} else if !eip {
						if err := assignPublicIP(tx, &in); err != nil {
							return nil, err
						}
					}
				}
			}
		case ActionReboot:
			if in.State == InstanceTerminated || in.State == InstanceShuttingDown {
				return nil, Errorf(CodeIncorrectState, "The instance '%s' is not in a state from which it can be rebooted.", id)
			}
			in.RebootSeq++
		default:
			return nil, Errorf(CodeInvalid, "unknown instance action %q", c.Action)
		}
		if in.State != prev {
			in.StateChange = c.Now
		}
		in.ModifyIndex = tx.Index
		changes = append(changes, StateChange{ID: id, Previous: prev, Current: in.State})
		updated = append(updated, &in)
	}
	for _, in := range updated {
		if err := tx.Insert(tableInstances, in); err != nil {
			return nil, err
		}
	}
	return changes, nil
}

func userInitiated(t time.Time) string {
	return fmt.Sprintf("User initiated (%s)", t.UTC().Format("2006-01-02 15:04:05 MST"))
}

func applyReportInstance(tx *Txn, c *ReportInstance) (any, error) {
	obj, err := tx.First(tableInstances, "id", c.ID)
	if err != nil || obj == nil {
		return nil, err // a report about a forgotten instance changes nothing
	}
	in := *obj.(*Instance)
	if in.Node != c.Node || c.Generation < in.Generation {
		return nil, nil
	}
	prev := in.State
	in.StateReason = c.Reason
	if c.Rebooted > in.Rebooted {
		in.Rebooted = c.Rebooted
	}
	switch c.State {
	case InstanceRunning:
		if in.Desired == InstanceRunning {
			in.State = InstanceRunning
		}
	case InstanceStopped:
		if in.Desired == InstanceStopped {
			in.State = InstanceStopped
		}
	case InstanceTerminated:
		in.State = InstanceTerminated
		in.Desired = InstanceTerminated
	case InstancePending, InstanceStopping, InstanceShuttingDown:
		// progress only; the reason says what the box is doing
	default:
		return nil, Errorf(CodeInvalid, "unknown instance state %q", c.State)
	}
	if in.State == InstanceTerminated {
		in.PrivateIP = "" // the address goes back to the subnet
		if err := releaseVolumes(tx, in.ID); err != nil {
			return nil, err
		}
		if err := releasePublicIP(tx, in.ID); err != nil {
			return nil, err
		}
	}
	if in.State != prev {
		in.StateChange = c.Now
	}
	in.ModifyIndex = tx.Index
	return nil, tx.Insert(tableInstances, &in)
}

func applyForgetInstances(tx *Txn, c *ForgetInstances) (any, error) {
	for _, id := range c.IDs {
		obj, err := tx.First(tableInstances, "id", id)
		if err != nil {
			return nil, err
		}
		if obj != nil && obj.(*Instance).State == InstanceTerminated {
			if err := tx.Delete(tableInstances, obj); err != nil {
				return nil, err
			}
			if err := releasePublicIP(tx, id); err != nil {
				return nil, err
			}
		}
	}
	return nil, nil
}

// Instance returns one instance, or an error matching ErrNotFound.
func (s *Store) Instance(id string) (*Instance, error) {
	obj, err := s.ReadTxn().First(tableInstances, "id", id)
	if err != nil {
		return nil, err
	}
	if obj == nil {
		return nil, Errorf(CodeNotFound, "The instance ID '%s' does not exist", id)
	}
	return obj.(*Instance), nil
}

// Instances lists an account's instances ("" for every account), ordered by ID.
func (s *Store) Instances(account string) ([]*Instance, error) {
	tx := s.ReadTxn()
	if account == "" {
		return list[Instance](tx, tableInstances)
	}
	return listBy[Instance](tx, tableInstances, "account", account)
}

// InstancesOn lists the instances placed on a box.
func (s *Store) InstancesOn(node string) ([]*Instance, <-chan struct{}, error) {
	it, err := s.ReadTxn().Get(tableInstances, "node", node)
	if err != nil {
		return nil, nil, err
	}
	var out []*Instance
	for obj := it.Next(); obj != nil; obj = it.Next() {
		out = append(out, obj.(*Instance))
	}
	return out, it.WatchCh(), nil
}

// InstanceByIP returns the instance that holds a private address.
func (s *Store) InstanceByIP(ip string) (*Instance, error) {
	it, err := s.ReadTxn().Get(tableInstances, "ip", ip)
	if err != nil {
		return nil, err
	}
	for obj := it.Next(); obj != nil; obj = it.Next() {
		if in := obj.(*Instance); in.State != InstanceTerminated {
			return in, nil
		}
	}
	return nil, Errorf(CodeNotFound, "no instance holds %s", ip)
}

func listBy[T any](tx *memdb.Txn, table, index string, args ...any) ([]*T, error) {
	it, err := tx.Get(table, index, args...)
	if err != nil {
		return nil, err
	}
	var out []*T
	for obj := it.Next(); obj != nil; obj = it.Next() {
		out = append(out, obj.(*T))
	}
	return out, nil
}

// ZoneSubnet is the default VPC subnet of an availability zone, as AWS lays out a
// default VPC (172.31.0.0/16, one /20 per zone): the zone's last letter picks it, so a
// zone keeps its subnet whatever other zones come and go.
func ZoneSubnet(zone string) (netip.Prefix, error) {
	if zone == "" {
		return netip.Prefix{}, Errorf(CodeInvalid, "no availability zone")
	}
	k := int(zone[len(zone)-1] - 'a')
	if k < 0 || k >= 16 {
		return netip.Prefix{}, Errorf(CodeInvalid, "availability zone %q does not end in a letter a-p", zone)
	}
	return netip.PrefixFrom(netip.AddrFrom4([4]byte{172, 31, byte(16 * k), 0}), 20), nil
}

// allocatePrivateIP takes the lowest free address of the zone's subnet. As in AWS, the
// first four addresses (network, router, DNS, reserved) and the last are never given.
func allocatePrivateIP(tx *Txn, zone string) (string, error) {
	p, err := ZoneSubnet(zone)
	if err != nil {
		return "", err
	}
	a := p.Addr()
	for range 4 {
		a = a.Next()
	}
	for ; p.Contains(a.Next()); a = a.Next() {
		it, err := tx.Get(tableInstances, "ip", a.String())
		if err != nil {
			return "", err
		}
		taken := false
		for obj := it.Next(); obj != nil; obj = it.Next() {
			if obj.(*Instance).State != InstanceTerminated {
				taken = true
			}
		}
		if !taken {
			return a.String(), nil
		}
	}
	return "", Errorf(CodeInsufficientCapacity, "subnet %s of zone %s has no free address", p, zone)
}

// Settings the scheduler reads.
const (
	// SettingCPUOvercommit is how many vCPUs a box offers per host CPU (Eucalyptus's
	// MAX_CORES as a ratio); default 4.
	SettingCPUOvercommit = "compute.cpu_overcommit"
	// SettingMemoryOvercommit is the same for memory; default 1.
	SettingMemoryOvercommit = "compute.memory_overcommit"
)

// scheduler places instances on boxes: among the live boxes whose hypervisor is up and
// that have room, in the asked zone if any, it takes the zone with the fewest instances
// of this call, then the box with the fewest instances, then the emptiest one.
type scheduler struct {
	boxes []*schedBox
}

type schedBox struct {
	*Box
	vcpus, mem  int // used
	placed, all int // instances placed by this call, instances in all
	cpuCap      int
	memCap      int
}

func newScheduler(tx *Txn, live []string) (*scheduler, error) {
	cpuRatio, memRatio := settingFloat(tx, SettingCPUOvercommit, 4), settingFloat(tx, SettingMemoryOvercommit, 1)
	boxes, err := list[Box](tx.Txn, tableBoxes)
	if err != nil {
		return nil, err
	}
	s := &scheduler{}
	for _, b := range boxes {
		if live != nil && !slices.Contains(live, b.Node) {
			continue
		}
		sb := &schedBox{Box: b, cpuCap: int(float64(b.VCPUs) * cpuRatio), memCap: int(float64(b.MemoryMiB) * memRatio)}
		ins, err := listBy[Instance](tx.Txn, tableInstances, "node", b.Node)
		if err != nil {
			return nil, err
		}
		for _, in := range ins {
			if in.Desired == InstanceRunning || in.State == InstanceStopping || in.State == InstanceShuttingDown {
				sb.vcpus += in.VCPUs
				sb.mem += in.MemoryMiB
				sb.all++
			}
		}
		s.boxes = append(s.boxes, sb)
	}
	return s, nil
}

func (s *scheduler) room(b *schedBox, in *Instance) bool {
	return b.Hypervisor == HypervisorUp && b.vcpus+in.VCPUs <= b.cpuCap && b.mem+in.MemoryMiB <= b.memCap
}

// fits reports whether the instance fits on the named box now.
func (s *scheduler) fits(node string, in *Instance) bool {
	for _, b := range s.boxes {
		if b.Node == node {
			return s.room(b, in)
		}
	}
	return false
}

func (s *scheduler) place(in *Instance) (*Box, error) {
	placedInZone := map[string]int{}
	for _, b := range s.boxes {
		placedInZone[b.Zone] += b.placed
	}
	var best *schedBox
	for _, b := range s.boxes {
		if (in.Zone != "" && b.Zone != in.Zone) || !s.room(b, in) {
			continue
		}
		if best == nil || less(b, best, placedInZone) {
			best = b
		}
	}
	if best == nil {
		where := "any box"
		if in.Zone != "" {
			where = "availability zone " + in.Zone
		}
		return nil, Errorf(CodeInsufficientCapacity, "We currently do not have sufficient %s capacity in %s to run the requested instances.", in.InstanceType, where)
	}
	best.vcpus += in.VCPUs
	best.mem += in.MemoryMiB
	best.placed++
	best.all++
	return best.Box, nil
}

func less(a, b *schedBox, placedInZone map[string]int) bool {
	if za, zb := placedInZone[a.Zone], placedInZone[b.Zone]; za != zb {
		return za < zb
	}
	if a.placed != b.placed {
		return a.placed < b.placed
	}
	if a.all != b.all {
		return a.all < b.all
	}
	fa, fb := float64(a.mem)/float64(max(a.memCap, 1)), float64(b.mem)/float64(max(b.memCap, 1))
	if fa != fb {
		return fa < fb
	}
	return a.Node < b.Node
}

func settingFloat(tx *Txn, key string, def float64) float64 {
	obj, err := tx.First(tableSettings, "id", key)
	if err != nil || obj == nil {
		return def
	}
	var f float64
	if _, err := fmt.Sscan(obj.(*Setting).Value, &f); err != nil || f <= 0 {
		return def
	}
	return f
}
