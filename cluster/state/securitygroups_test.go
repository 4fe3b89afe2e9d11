package state

import (
	"errors"
	"testing"
)

func wantCode(t *testing.T, r *Result, code Code) {
	t.Helper()
	if code == "" {
		if r.Err != nil {
			t.Fatalf("unexpected error %s: %s", r.Err.Code, r.Err.Message)
		}
		return
	}
	if r.Err == nil || r.Err.Code != code {
		t.Fatalf("want %s, got %+v", code, r.Err)
	}
}

func TestSecurityGroupLifecycle(t *testing.T) {
	c := newComputeFSM(t, Box{Node: "a", Zone: "us-east-1a", VCPUs: 8, MemoryMiB: 8192})
	def := DefaultSecurityGroupID("111")

	wantCode(t, c.apply(&CreateSecurityGroup{Group: SecurityGroup{ID: "sg-1", Account: "111", Name: "web"}}), "")
	wantCode(t, c.apply(&CreateSecurityGroup{Group: SecurityGroup{ID: "sg-2", Account: "111", Name: "WEB"}}), CodeGroupDuplicate)
	wantCode(t, c.apply(&CreateSecurityGroup{Group: SecurityGroup{ID: "sg-3", Account: "111", Name: "default"}}), CodeGroupReserved)

	// The default group was made on first use, with EC2's two rules.
	d, err := c.f.store.SecurityGroup(def)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Ingress) != 1 || d.Ingress[0].Group != def || len(d.Egress) != 1 || d.Egress[0].CIDR != "0.0.0.0/0" {
		t.Fatalf("default group %+v", d)
	}
	web, _ := c.f.store.SecurityGroup("sg-1")
	if len(web.Egress) != 1 || web.Egress[0].ID == "" || len(web.Ingress) != 0 {
		t.Fatalf("new group %+v", web)
	}

	ssh := SecurityGroupRule{Protocol: "tcp", FromPort: 22, ToPort: 22, CIDR: "10.0.0.0/8"}
	r := c.apply(&AuthorizeSecurityGroupRules{Account: "111", GroupID: "sg-1", Rules: []SecurityGroupRule{ssh}})
	wantCode(t, r, "")
	var added []SecurityGroupRule
	if err := Unmarshal(r.Value, &added); err != nil || len(added) != 1 || added[0].ID == "" {
		t.Fatalf("added %+v %v", added, err)
	}
	wantCode(t, c.apply(&AuthorizeSecurityGroupRules{Account: "111", GroupID: "sg-1", Rules: []SecurityGroupRule{ssh}}), CodePermissionDuplicate)
	wantCode(t, c.apply(&AuthorizeSecurityGroupRules{Account: "222", GroupID: "sg-1", Rules: []SecurityGroupRule{ssh}}), CodeGroupNotFound)
	wantCode(t, c.apply(&AuthorizeSecurityGroupRules{Account: "111", GroupID: "sg-1",
		Rules: []SecurityGroupRule{{Protocol: "-1", FromPort: -1, ToPort: -1, Group: "sg-nope"}}}), CodeGroupNotFound)
	// The default group references sg-1: sg-1 cannot go while it does.
	wantCode(t, c.apply(&AuthorizeSecurityGroupRules{Account: "111", GroupID: def,
		Rules: []SecurityGroupRule{{Protocol: "-1", FromPort: -1, ToPort: -1, Group: "sg-1"}}}), "")
	wantCode(t, c.apply(&DeleteSecurityGroup{Account: "111", ID: "sg-1"}), CodeDependencyViolation)
	wantCode(t, c.apply(&RevokeSecurityGroupRules{Account: "111", GroupID: def,
		Rules: []SecurityGroupRule{{Protocol: "-1", FromPort: -1, ToPort: -1, Group: "sg-1"}}}), "")
	wantCode(t, c.apply(&RevokeSecurityGroupRules{Account: "111", GroupID: "sg-1", Rules: []SecurityGroupRule{{Protocol: "udp", FromPort: 1, ToPort: 2, CIDR: "1.2.3.4/32"}}}), CodePermissionNotFound)
	wantCode(t, c.apply(&RevokeSecurityGroupRules{Account: "111", GroupID: "sg-1", RuleIDs: []string{"sgr-0123"}}), CodePermissionNotFound)
	wantCode(t, c.apply(&RevokeSecurityGroupRules{Account: "111", GroupID: "sg-1", RuleIDs: []string{added[0].ID}}), "")

	// An instance in sg-1 holds it; a terminated one does not.
	res, err := c.run(1, 1, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	in, _ := c.f.store.Instance(res.IDs[0])
	if len(in.SecurityGroups) != 1 || in.SecurityGroups[0] != def {
		t.Fatalf("instance groups %v", in.SecurityGroups)
	}
	wantCode(t, c.apply(&SetInstanceGroups{Account: "111", InstanceID: in.ID, Groups: []string{"sg-1", def}}), "")
	wantCode(t, c.apply(&SetInstanceGroups{Account: "111", InstanceID: in.ID, Groups: []string{"sg-x"}}), CodeGroupNotFound)
	wantCode(t, c.apply(&DeleteSecurityGroup{Account: "111", ID: "sg-1"}), CodeDependencyViolation)
	wantCode(t, c.apply(&DeleteSecurityGroup{Account: "111", ID: def}), CodeCannotDelete)
	wantCode(t, c.apply(&SetInstanceGroups{Account: "111", InstanceID: in.ID, Groups: []string{def}}), "")
	wantCode(t, c.apply(&DeleteSecurityGroup{Account: "111", ID: "sg-1"}), "")
	if _, err := c.f.store.SecurityGroup("sg-1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleted group: %v", err)
	}

	// Tags go through TagResources like every EC2 resource's.
	wantCode(t, c.apply(&TagResources{Account: "111", IDs: []string{def}, Set: map[string]string{"env": "prod"}}), "")
	if d, _ := c.f.store.SecurityGroup(def); d.Tags["env"] != "prod" {
		t.Fatalf("tags %v", d.Tags)
	}
}

func TestSecurityGroupRunInstancesChecksGroups(t *testing.T) {
	c := newComputeFSM(t, Box{Node: "a", Zone: "us-east-1a", VCPUs: 8, MemoryMiB: 8192})
	r := c.apply(&RunInstances{Instances: []Instance{{ID: "i-1", Account: "111", VCPUs: 1, MemoryMiB: 256,
		SecurityGroups: []string{"sg-missing"}}}, MinCount: 1})
	wantCode(t, r, CodeGroupNotFound)
}
