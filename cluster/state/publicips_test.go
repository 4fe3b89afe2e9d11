package state

import (
	"fmt"
	"testing"
	"time"
)

// runPublic launches n instances of an account (at least min) with RunInstances'
// AssociatePublicIP.
func (c *computeFSM) runPublic(account string, n, min int, associate *bool) (RunResult, *Error) {
	c.t.Helper()
	var ins []Instance
	for i := range n {
		ins = append(ins, Instance{ID: fmt.Sprintf("i-%04d%04d", c.idx, i), Account: account, ReservationID: fmt.Sprintf("r-%d", c.idx),
			InstanceType: "t3.micro", VCPUs: 1, MemoryMiB: 256, LaunchIndex: i})
	}
	r := c.apply(&RunInstances{Instances: ins, MinCount: min, Now: time.Unix(1, 0), AssociatePublicIP: associate})
	if r.Err != nil {
		return RunResult{}, r.Err
	}
	var res RunResult
	if err := Unmarshal(r.Value, &res); err != nil {
		c.t.Fatal(err)
	}
	return res, nil
}

// publicIP is the public address the instance holds ("" for none), and whether it is an
// Auto one.
func (c *computeFSM) publicIP(id string) (string, bool) {
	a, ok := c.f.store.InstanceAddress(id)
	if !ok {
		return "", false
	}
	return a.PublicIP, a.Auto
}

func (c *computeFSM) wantPublicIP(id, ip string, auto bool) {
	c.t.Helper()
	if got, gotAuto := c.publicIP(id); got != ip || (ip != "" && gotAuto != auto) {
		c.t.Fatalf("%s holds public address %q (auto %v), want %q (auto %v)", id, got, gotAuto, ip, auto)
	}
}

// addressRows counts every record of the addresses table, Auto ones included.
func (c *computeFSM) addressRows() int {
	all, err := list[Address](c.f.store.ReadTxn(), tableAddresses)
	if err != nil {
		c.t.Fatal(err)
	}
	return len(all)
}

func (c *computeFSM) setInstances(id, action string) *Result {
	return c.apply(&SetInstances{Account: "111", IDs: []string{id}, Action: action, Now: time.Unix(2, 0)})
}

func TestPublicIPOnLaunch(t *testing.T) {
	yes, no := new(bool), new(bool)
	*yes = true
	c := newComputeFSM(t, Box{Node: "a", Zone: "us-east-1a", VCPUs: 8, MemoryMiB: 8192})

	// No pool: asking for a public address fails the launch whole.
	_, err := c.runPublic("111", 1, 1, yes)
	wantErr(t, err, CodeInsufficientAddressCapacity)
	if ins, _ := c.f.store.Instances(""); len(ins) != 0 {
		t.Fatalf("a failed launch left %d instances", len(ins))
	}

	// A /30 has two addresses: the Elastic IP takes the lowest, the launch the next.
	wantCode(t, c.apply(&SetSetting{Key: SettingPublicCIDR, Value: "192.0.2.0/30"}), "")
	eip, err := c.allocate("111", "")
	if err != nil || eip.PublicIP != "192.0.2.1" {
		t.Fatalf("allocate: %+v %v", eip, err)
	}
	res, err := c.runPublic("111", 1, 1, yes)
	if err != nil {
		t.Fatal(err)
	}
	i1 := res.IDs[0]
	c.wantPublicIP(i1, "192.0.2.2", true)
	if in, _ := c.f.store.Instance(i1); !in.PublicIPOnLaunch {
		t.Fatal("the instance does not record its wish")
	}
	// It is no Elastic IP: not listed, not the account's to release or associate.
	if eips, _ := c.f.store.Addresses("111"); len(eips) != 1 || eips[0].AllocationID != eip.AllocationID {
		t.Fatalf("Elastic IPs %+v", eips)
	}
	wantCode(t, c.apply(&ReleaseAddress{Account: "111", PublicIP: "192.0.2.2"}), CodeAddressNotFound)
	wantCode(t, c.apply(&DisassociateAddress{Account: "111", PublicIP: "192.0.2.2"}), CodeAddressNotFound)
	_, err = c.allocate("222", "192.0.2.2")
	wantErr(t, err, CodeAddressInUse)
	// The box NATs it like an Elastic IP, and DNS and the metadata service see it.
	v, _ := c.f.store.NAT(nil, "a")
	in1, _ := c.f.store.Instance(i1)
	if len(v.Mappings) != 1 || v.Mappings[0].PublicIP.String() != "192.0.2.2" || v.Mappings[0].PrivateIP.String() != in1.PrivateIP || len(v.Allocated) != 2 {
		t.Fatalf("NAT view %+v", v)
	}
	if pub := c.f.store.PublicAddresses()[i1]; pub.String() != "192.0.2.2" {
		t.Fatalf("public addresses %v", c.f.store.PublicAddresses())
	}

	// The pool is empty now: a launch that needs an address fails whole, one that does
	// not goes on.
	_, err = c.runPublic("111", 2, 1, yes)
	wantErr(t, err, CodeInsufficientAddressCapacity)
	if ins, _ := c.f.store.Instances(""); len(ins) != 1 || c.addressRows() != 2 {
		t.Fatalf("a failed launch left %d instances, %d addresses", len(ins), c.addressRows())
	}
	plain, err := c.runPublic("111", 1, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.wantPublicIP(plain.IDs[0], "", false)

	// Stop releases it; another account's Elastic IP may take it, and then there is none
	// to start with.
	wantCode(t, c.setInstances(i1, ActionStop), "")
	c.wantPublicIP(i1, "", false)
	other, err := c.allocate("222", "")
	if err != nil || other.PublicIP != "192.0.2.2" {
		t.Fatalf("the released address: %+v %v", other, err)
	}
	wantCode(t, c.apply(&ReportInstance{ID: i1, Node: "a", Generation: 2, State: InstanceStopped}), "")
	wantCode(t, c.setInstances(i1, ActionStart), CodeInsufficientAddressCapacity)
	if in, _ := c.f.store.Instance(i1); in.Desired != InstanceStopped || in.State != InstanceStopped {
		t.Fatalf("a failed start changed the instance: %s/%s", in.Desired, in.State)
	}
	// Start gives a new one.
	wantCode(t, c.apply(&ReleaseAddress{Account: "222", AllocationID: other.AllocationID}), "")
	wantCode(t, c.setInstances(i1, ActionStart), "")
	c.wantPublicIP(i1, "192.0.2.2", true)

	// An Elastic IP replaces it (the address goes back to the pool) and stays through a
	// stop and start, which gives no second address.
	if _, err := c.associate("111", eip.AllocationID, i1, false); err != nil {
		t.Fatal(err)
	}
	c.wantPublicIP(i1, "192.0.2.1", false)
	if c.addressRows() != 1 {
		t.Fatalf("%d address records after the Elastic IP replaced the auto one", c.addressRows())
	}
	wantCode(t, c.setInstances(i1, ActionStop), "")
	wantCode(t, c.apply(&ReportInstance{ID: i1, Node: "a", Generation: 4, State: InstanceStopped}), "")
	wantCode(t, c.setInstances(i1, ActionStart), "")
	c.wantPublicIP(i1, "192.0.2.1", false)
	if c.addressRows() != 1 {
		t.Fatalf("%d address records after a start with an Elastic IP", c.addressRows())
	}
	// Disassociating it gives the instance a new public address, as EC2 does.
	wantCode(t, c.apply(&DisassociateAddress{Account: "111", PublicIP: eip.PublicIP}), "")
	c.wantPublicIP(i1, "192.0.2.2", true)

	// Termination releases it; the next launch gets it.
	wantCode(t, c.setInstances(i1, ActionTerminate), "")
	c.wantPublicIP(i1, "", false)
	if c.addressRows() != 1 {
		t.Fatalf("%d address records after termination", c.addressRows())
	}
	res, err = c.runPublic("111", 1, 1, yes)
	if err != nil {
		t.Fatal(err)
	}
	c.wantPublicIP(res.IDs[0], "192.0.2.2", true)

	// An explicit false is kept: no address, none at start either.
	res, err = c.runPublic("111", 1, 1, no)
	if err != nil {
		t.Fatal(err)
	}
	c.wantPublicIP(res.IDs[0], "", false)
}

func TestPublicIPMaxCountAndReports(t *testing.T) {
	yes := new(bool)
	*yes = true
	c := newComputeFSM(t, Box{Node: "a", Zone: "us-east-1a", VCPUs: 8, MemoryMiB: 8192})
	wantCode(t, c.apply(&SetSetting{Key: SettingPublicCIDR, Value: "198.51.100.10/32, 198.51.100.11/32"}), "")

	// MinCount must have addresses, MaxCount is a wish.
	res, err := c.runPublic("111", 3, 1, yes)
	if err != nil || len(res.IDs) != 2 {
		t.Fatalf("3 wanted, 1 required, 2 addresses: %v %v", res.IDs, err)
	}
	c.wantPublicIP(res.IDs[0], "198.51.100.10", true)
	c.wantPublicIP(res.IDs[1], "198.51.100.11", true)
	// The Elastic IP limit does not count them.
	wantCode(t, c.apply(&SetSetting{Key: SettingAddressLimit, Value: "1"}), "")
	wantCode(t, c.apply(&SetSetting{Key: SettingPublicCIDR, Value: "198.51.100.10/31, 198.51.100.12/32"}), "")
	eip, aerr := c.allocate("111", "")
	if aerr != nil || eip.PublicIP != "198.51.100.12" {
		t.Fatalf("allocate beside auto addresses: %+v %v", eip, aerr)
	}

	// An Elastic IP moved to another instance gives the one it left a new address.
	if _, err := c.associate("111", eip.AllocationID, res.IDs[0], false); err != nil {
		t.Fatal(err)
	}
	c.wantPublicIP(res.IDs[0], "198.51.100.12", false)
	if _, err := c.associate("111", eip.AllocationID, res.IDs[1], true); err != nil {
		t.Fatal(err)
	}
	c.wantPublicIP(res.IDs[1], "198.51.100.12", false)
	c.wantPublicIP(res.IDs[0], "198.51.100.10", true)

	// A box's report of termination releases it too, and forgetting leaves nothing.
	wantCode(t, c.apply(&ReportInstance{ID: res.IDs[0], Node: "a", Generation: 1, State: InstanceTerminated}), "")
	c.wantPublicIP(res.IDs[0], "", false)
	wantCode(t, c.apply(&ForgetInstances{IDs: []string{res.IDs[0]}}), "")
	if c.addressRows() != 1 {
		t.Fatalf("%d address records, want the Elastic IP", c.addressRows())
	}
}

func TestModifySubnetAttribute(t *testing.T) {
	no := new(bool)
	c := newComputeFSM(t, Box{Node: "a", Zone: "us-east-1a", VCPUs: 8, MemoryMiB: 8192})
	wantCode(t, c.apply(&SetSetting{Key: SettingPublicCIDR, Value: "192.0.2.0/29"}), "")
	if c.f.store.MapPublicIPOnLaunch("111", "us-east-1a") {
		t.Fatal("a default subnet maps public addresses before it is asked to")
	}
	on := true
	wantCode(t, c.apply(&ModifySubnetAttribute{Account: "111", Zone: "us-east-1a", MapPublicIPOnLaunch: &on}), "")
	wantCode(t, c.apply(&ModifySubnetAttribute{Account: "111", Zone: "us-east-1a"}), CodeInvalid)
	wantCode(t, c.apply(&ModifySubnetAttribute{Account: "111", Zone: "nowhere-9", MapPublicIPOnLaunch: &on}), CodeInvalid)
	if !c.f.store.MapPublicIPOnLaunch("111", "us-east-1a") || c.f.store.MapPublicIPOnLaunch("222", "us-east-1a") ||
		c.f.store.MapPublicIPOnLaunch("111", "us-east-1b") {
		t.Fatal("the attribute is per account and zone")
	}

	// The subnet decides when the launch does not say; AssociatePublicIpAddress wins.
	res, err := c.runPublic("111", 1, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.wantPublicIP(res.IDs[0], "192.0.2.1", true)
	res, err = c.runPublic("222", 1, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.wantPublicIP(res.IDs[0], "", false)
	res, err = c.runPublic("111", 1, 1, no)
	if err != nil {
		t.Fatal(err)
	}
	c.wantPublicIP(res.IDs[0], "", false)

	// Turning it off changes what later launches get, not what instances hold.
	off := false
	wantCode(t, c.apply(&ModifySubnetAttribute{Account: "111", Zone: "us-east-1a", MapPublicIPOnLaunch: &off}), "")
	res2, err := c.runPublic("111", 1, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.wantPublicIP(res2.IDs[0], "", false)
	if c.addressRows() != 1 {
		t.Fatalf("%d address records", c.addressRows())
	}
}
