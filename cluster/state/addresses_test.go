package state

import (
	"net/netip"
	"testing"
	"time"
)

func (c *computeFSM) allocate(account, want string) (*Address, *Error) {
	c.t.Helper()
	r := c.apply(&AllocateAddress{Account: account, Address: want})
	if r.Err != nil {
		return nil, r.Err
	}
	var a Address
	if err := Unmarshal(r.Value, &a); err != nil {
		c.t.Fatal(err)
	}
	return &a, nil
}

func (c *computeFSM) associate(account, alloc, instance string, reassoc bool) (string, *Error) {
	c.t.Helper()
	r := c.apply(&AssociateAddress{Account: account, AllocationID: alloc, InstanceID: instance, AllowReassociation: reassoc})
	if r.Err != nil {
		return "", r.Err
	}
	var id string
	if err := Unmarshal(r.Value, &id); err != nil {
		c.t.Fatal(err)
	}
	return id, nil
}

func wantErr(t *testing.T, err *Error, code Code) {
	t.Helper()
	if err == nil || err.Code != code {
		t.Fatalf("want %s, got %+v", code, err)
	}
}

func TestAllocateAddressFromThePool(t *testing.T) {
	c := newComputeFSM(t)
	// No pool yet: EC2's limit error, saying what to set.
	_, err := c.allocate("111", "")
	wantErr(t, err, CodeAddressLimitExceeded)

	// A /30 gives its two host addresses; a box's own address is never given.
	wantCode(t, c.apply(&RegisterNode{Node: Node{Name: "b1", Addr: "192.0.2.2:7947", APIAddr: "192.0.2.2:8773"}}), "")
	wantCode(t, c.apply(&SetSetting{Key: SettingPublicCIDR, Value: "192.0.2.0/30, 198.51.100.7/32"}), "")
	a, err := c.allocate("111", "")
	if err != nil || a.PublicIP != "192.0.2.1" || a.AllocationID == "" || a.Account != "111" {
		t.Fatalf("first: %+v %v", a, err)
	}
	b, err := c.allocate("222", "")
	if err != nil || b.PublicIP != "198.51.100.7" || b.AllocationID == a.AllocationID {
		t.Fatalf("second: %+v %v", b, err)
	}
	_, err = c.allocate("111", "")
	wantErr(t, err, CodeAddressLimitExceeded) // pool empty

	// A wanted address: it must be in the pool and free.
	_, err = c.allocate("111", "192.0.2.1")
	wantErr(t, err, CodeAddressInUse)
	_, err = c.allocate("111", "203.0.113.9")
	wantErr(t, err, CodeInvalid)
	_, err = c.allocate("111", "192.0.2.3") // the /30's broadcast address
	wantErr(t, err, CodeInvalid)
	_, err = c.allocate("111", "not-an-ip")
	wantErr(t, err, CodeInvalid)

	// Released addresses go back; another account's cannot be released.
	wantCode(t, c.apply(&ReleaseAddress{Account: "111", AllocationID: b.AllocationID}), CodeAllocationNotFound)
	wantCode(t, c.apply(&ReleaseAddress{Account: "111", PublicIP: b.PublicIP}), CodeAddressNotFound)
	wantCode(t, c.apply(&ReleaseAddress{Account: "222", AllocationID: b.AllocationID}), "")
	wantCode(t, c.apply(&ReleaseAddress{Account: "222", AllocationID: b.AllocationID}), CodeAllocationNotFound)
	if again, err := c.allocate("111", "198.51.100.7"); err != nil || again.PublicIP != "198.51.100.7" {
		t.Fatalf("after release: %+v %v", again, err)
	}

	// The account limit.
	wantCode(t, c.apply(&SetSetting{Key: SettingPublicCIDR, Value: "203.0.113.0/24"}), "")
	wantCode(t, c.apply(&SetSetting{Key: SettingAddressLimit, Value: "3"}), "")
	if _, err := c.allocate("111", ""); err != nil {
		t.Fatal(err)
	}
	_, err = c.allocate("111", "")
	wantErr(t, err, CodeAddressLimitExceeded)
	if _, err := c.allocate("333", ""); err != nil {
		t.Fatalf("another account is under its own limit: %v", err)
	}
	held, _ := c.f.store.Addresses("111")
	if len(held) != 3 {
		t.Fatalf("111 holds %d addresses", len(held))
	}

	// An unusable pool is said so, not a 500.
	wantCode(t, c.apply(&SetSetting{Key: SettingPublicCIDR, Value: "banana"}), "")
	_, err = c.allocate("444", "")
	wantErr(t, err, CodeAddressLimitExceeded)
}

func TestAssociateAddress(t *testing.T) {
	c := newComputeFSM(t, Box{Node: "a", Zone: "us-east-1a", VCPUs: 8, MemoryMiB: 8192},
		Box{Node: "b", Zone: "us-east-1a", VCPUs: 8, MemoryMiB: 8192})
	wantCode(t, c.apply(&SetSetting{Key: SettingPublicCIDR, Value: "192.0.2.128/25"}), "")
	res, err := c.run(2, 2, "us-east-1a", nil)
	if err != nil {
		t.Fatal(err)
	}
	i1, i2 := res.IDs[0], res.IDs[1]
	a, aerr := c.allocate("111", "")
	if aerr != nil {
		t.Fatal(aerr)
	}
	b, _ := c.allocate("111", "")
	other, _ := c.allocate("222", "")

	// Someone else's address or instance: not found.
	_, aerr = c.associate("222", a.AllocationID, i1, false)
	wantErr(t, aerr, CodeAllocationNotFound)
	_, aerr = c.associate("222", other.AllocationID, i1, false)
	wantErr(t, aerr, CodeNotFound)
	_, aerr = c.associate("111", a.AllocationID, "i-00000000", false)
	wantErr(t, aerr, CodeNotFound)

	assoc, aerr := c.associate("111", a.AllocationID, i1, false)
	if aerr != nil || assoc == "" {
		t.Fatalf("associate: %q %v", assoc, aerr)
	}
	if again, aerr := c.associate("111", a.AllocationID, i1, false); aerr != nil || again != assoc {
		t.Fatalf("the same association again: %q %v", again, aerr)
	}
	if got, ok := c.f.store.InstanceAddress(i1); !ok || got.PublicIP != a.PublicIP {
		t.Fatalf("instance address %+v %v", got, ok)
	}
	// Moving it needs AllowReassociation.
	_, aerr = c.associate("111", a.AllocationID, i2, false)
	wantErr(t, aerr, CodeAlreadyAssociated)
	wantCode(t, c.apply(&ReleaseAddress{Account: "111", AllocationID: a.AllocationID}), CodeAddressInUse)
	moved, aerr := c.associate("111", a.AllocationID, i2, true)
	if aerr != nil || moved == assoc {
		t.Fatalf("reassociate: %q %v", moved, aerr)
	}
	if _, ok := c.f.store.InstanceAddress(i1); ok {
		t.Fatal("i1 kept the address after it moved")
	}
	// The NAT view of each box follows the instance's box.
	in2, _ := c.f.store.Instance(i2)
	for _, box := range []string{"a", "b"} {
		v, err := c.f.store.NAT(nil, box)
		if err != nil {
			t.Fatal(err)
		}
		if len(v.Allocated) != 3 || len(v.Pool) != 1 {
			t.Fatalf("box %s view %+v", box, v)
		}
		want := 0
		if box == in2.Node {
			want = 1
		}
		if len(v.Mappings) != want {
			t.Fatalf("box %s mappings %+v (i2 on %s)", box, v.Mappings, in2.Node)
		}
		if want == 1 && (v.Mappings[0].PublicIP != netip.MustParseAddr(a.PublicIP) || v.Mappings[0].PrivateIP.String() != in2.PrivateIP) {
			t.Fatalf("mapping %+v", v.Mappings[0])
		}
	}

	// A second address on the same instance replaces the first.
	if _, aerr := c.associate("111", b.AllocationID, i2, false); aerr != nil {
		t.Fatal(aerr)
	}
	if got, _ := c.f.store.InstanceAddress(i2); got.AllocationID != b.AllocationID {
		t.Fatalf("i2 has %+v", got)
	}
	wantCode(t, c.apply(&DisassociateAddress{Account: "111", AssociationID: moved}), CodeAssociationNotFound)
	wantCode(t, c.apply(&ReleaseAddress{Account: "111", AllocationID: a.AllocationID}), "")

	// Disassociate: by ID; another account's is not found.
	bAssoc, _ := c.f.store.InstanceAddress(i2)
	wantCode(t, c.apply(&DisassociateAddress{Account: "222", AssociationID: bAssoc.AssociationID}), CodeAssociationNotFound)
	wantCode(t, c.apply(&DisassociateAddress{Account: "111", AssociationID: bAssoc.AssociationID}), "")
	wantCode(t, c.apply(&DisassociateAddress{Account: "111", AssociationID: bAssoc.AssociationID}), CodeAssociationNotFound)

	// Termination ends the association: the address may be released.
	if _, aerr := c.associate("111", b.AllocationID, i1, false); aerr != nil {
		t.Fatal(aerr)
	}
	wantCode(t, c.apply(&ReleaseAddress{Account: "111", AllocationID: b.AllocationID}), CodeAddressInUse)
	wantCode(t, c.apply(&SetInstances{Account: "111", IDs: []string{i1}, Action: ActionTerminate, Now: time.Unix(2, 0)}), "")
	if _, ok := c.f.store.InstanceAddress(i1); ok {
		t.Fatal("a terminating instance keeps its public address")
	}
	_, aerr = c.associate("111", b.AllocationID, i1, false)
	wantErr(t, aerr, CodeIncorrectState)
	if _, aerr := c.associate("111", b.AllocationID, i2, false); aerr != nil {
		t.Fatalf("an address of a terminated instance is free: %v", aerr)
	}
	wantCode(t, c.apply(&DisassociateAddress{Account: "111", PublicIP: b.PublicIP}), "")
	wantCode(t, c.apply(&ReleaseAddress{Account: "111", PublicIP: b.PublicIP}), "")
}

func TestAddressTags(t *testing.T) {
	c := newComputeFSM(t)
	wantCode(t, c.apply(&SetSetting{Key: SettingPublicCIDR, Value: "192.0.2.9/32"}), "")
	a, err := c.allocate("111", "")
	if err != nil {
		t.Fatal(err)
	}
	wantCode(t, c.apply(&TagResources{Account: "111", IDs: []string{a.AllocationID}, Set: map[string]string{"Name": "web"}}), "")
	wantCode(t, c.apply(&TagResources{Account: "222", IDs: []string{a.AllocationID}, Set: map[string]string{"Name": "x"}}), CodeNotFound)
	got, _ := c.f.store.Addresses("111")
	if len(got) != 1 || got[0].Tags["Name"] != "web" {
		t.Fatalf("tags %+v", got)
	}
}
