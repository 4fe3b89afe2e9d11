package ec2

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdk "github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/banyancloud/banyan/cluster/state"
)

// TestSnapshots: a snapshot of an available volume is pending on a box holding a copy
// until that box reports it completed; volumes are created from it (not smaller),
// another account may only once granted createVolumePermission, and a deleted snapshot
// is gone from view at once.
func TestSnapshots(t *testing.T) {
	e := newEnv(t)
	alice, _ := e.account("alice")
	bob, bobID := e.account("bob")
	v := must(t, call(alice.CreateVolume(ctx, &sdk.CreateVolumeInput{AvailabilityZone: aws.String("us-east-1a"), Size: aws.Int32(2)})))
	volID := *v.VolumeId

	// Not available yet: IncorrectState.
	_, err := alice.CreateSnapshot(ctx, &sdk.CreateSnapshotInput{VolumeId: aws.String(volID)})
	wantErr(t, err, "IncorrectState", 400)
	rec, _ := e.local.State().Volume(volID)
	for _, n := range rec.Replicas {
		e.apply(&state.ReportVolume{ID: volID, Node: n, Event: state.VolumeEventReady})
	}
	snap := must(t, call(alice.CreateSnapshot(ctx, &sdk.CreateSnapshotInput{VolumeId: aws.String(volID), Description: aws.String("first"),
		TagSpecifications: []types.TagSpecification{{ResourceType: types.ResourceTypeSnapshot, Tags: []types.Tag{{Key: aws.String("k"), Value: aws.String("v")}}}}})))
	id := *snap.SnapshotId
	if snap.State != types.SnapshotStatePending || *snap.VolumeSize != 2 || *snap.Progress != "0%" {
		t.Fatalf("new snapshot %+v", snap)
	}
	srec, _ := e.local.State().Snapshot(id)
	if srec.Node != rec.Replicas[0] || srec.Parent != "" {
		t.Fatalf("snapshot taken by %q (parent %q), want a box with a copy: %v", srec.Node, srec.Parent, rec.Replicas)
	}
	// Pending snapshots cannot be restored.
	_, err = alice.CreateVolume(ctx, &sdk.CreateVolumeInput{AvailabilityZone: aws.String("us-east-1a"), SnapshotId: aws.String(id)})
	wantErr(t, err, "IncorrectState", 400)
	// A report from another attempt or box is ignored; the taker's counts.
	e.apply(&state.ReportSnapshot{ID: id, Node: "box9", Attempt: srec.Attempt, State: state.SnapshotCompleted, Manifest: "m"})
	e.apply(&state.ReportSnapshot{ID: id, Node: srec.Node, Attempt: srec.Attempt, Progress: 40})
	d := must(t, call(alice.DescribeSnapshots(ctx, &sdk.DescribeSnapshotsInput{OwnerIds: []string{"self"}})))
	if len(d.Snapshots) != 1 || *d.Snapshots[0].Progress != "40%" || d.Snapshots[0].State != types.SnapshotStatePending {
		t.Fatalf("describe while pending: %+v", d.Snapshots)
	}
	e.apply(&state.ReportSnapshot{ID: id, Node: srec.Node, Attempt: srec.Attempt, State: state.SnapshotCompleted, Manifest: "manifests/" + id,
		Extents: 512, Uploaded: 3})

	// Filters.
	for _, tc := range []struct {
		name, value string
		want        int
	}{{"status", "completed", 1}, {"status", "pending", 0}, {"volume-id", volID, 1}, {"snapshot-id", id, 1}, {"tag:k", "v", 1}, {"tag:k", "x", 0}, {"description", "fir*", 1}} {
		d := must(t, call(alice.DescribeSnapshots(ctx, &sdk.DescribeSnapshotsInput{Filters: []types.Filter{{Name: aws.String(tc.name), Values: []string{tc.value}}}})))
		if len(d.Snapshots) != tc.want {
			t.Fatalf("filter %s=%s matched %d, want %d", tc.name, tc.value, len(d.Snapshots), tc.want)
		}
	}
	_, err = alice.DescribeSnapshots(ctx, &sdk.DescribeSnapshotsInput{Filters: []types.Filter{{Name: aws.String("bogus"), Values: []string{"x"}}}})
	wantErr(t, err, "InvalidFilter", 400)
	_, err = alice.DescribeSnapshots(ctx, &sdk.DescribeSnapshotsInput{SnapshotIds: []string{"snap-0123456789abcdef0"}})
	wantErr(t, err, "InvalidSnapshot.NotFound", 400)
	_, err = alice.DescribeSnapshots(ctx, &sdk.DescribeSnapshotsInput{SnapshotIds: []string{"snap-nothex"}})
	wantErr(t, err, "InvalidSnapshotID.Malformed", 400)

	// A second snapshot's parent is the first.
	second := must(t, call(alice.CreateSnapshot(ctx, &sdk.CreateSnapshotInput{VolumeId: aws.String(volID)})))
	if r, _ := e.local.State().Snapshot(*second.SnapshotId); r.Parent != id {
		t.Fatalf("second snapshot's parent %q, want %s", r.Parent, id)
	}
	page1 := must(t, call(alice.DescribeSnapshots(ctx, &sdk.DescribeSnapshotsInput{MaxResults: aws.Int32(5)})))
	if len(page1.Snapshots) != 2 || page1.NextToken != nil {
		t.Fatalf("paging: %d snapshots, next %v", len(page1.Snapshots), page1.NextToken)
	}

	// Volumes from it: default size is the snapshot's, smaller is refused, larger fine.
	_, err = alice.CreateVolume(ctx, &sdk.CreateVolumeInput{AvailabilityZone: aws.String("us-east-1a"), SnapshotId: aws.String(id), Size: aws.Int32(1)})
	wantErr(t, err, "InvalidParameterValue", 400)
	nv := must(t, call(alice.CreateVolume(ctx, &sdk.CreateVolumeInput{AvailabilityZone: aws.String("us-east-1a"), SnapshotId: aws.String(id)})))
	if *nv.Size != 2 || *nv.SnapshotId != id {
		t.Fatalf("volume from snapshot: size %d snapshot %s", *nv.Size, *nv.SnapshotId)
	}
	must(t, call(alice.CreateVolume(ctx, &sdk.CreateVolumeInput{AvailabilityZone: aws.String("us-east-1a"), SnapshotId: aws.String(id), Size: aws.Int32(5)})))
	_, err = alice.CreateVolume(ctx, &sdk.CreateVolumeInput{AvailabilityZone: aws.String("us-east-1a"), SnapshotId: aws.String("snap-0123456789abcdef0")})
	wantErr(t, err, "InvalidSnapshot.NotFound", 400)

	// Another account sees nothing until granted.
	_, err = bob.CreateVolume(ctx, &sdk.CreateVolumeInput{AvailabilityZone: aws.String("us-east-1a"), SnapshotId: aws.String(id)})
	wantErr(t, err, "InvalidSnapshot.NotFound", 400)
	_, err = bob.DeleteSnapshot(ctx, &sdk.DeleteSnapshotInput{SnapshotId: aws.String(id)})
	wantErr(t, err, "InvalidSnapshot.NotFound", 400)
	_, err = alice.ModifySnapshotAttribute(ctx, &sdk.ModifySnapshotAttributeInput{SnapshotId: aws.String(id), Attribute: types.SnapshotAttributeNameCreateVolumePermission,
		CreateVolumePermission: &types.CreateVolumePermissionModifications{Add: []types.CreateVolumePermission{{UserId: aws.String("nope")}}}})
	wantErr(t, err, "InvalidParameterValue", 400)
	must(t, call(alice.ModifySnapshotAttribute(ctx, &sdk.ModifySnapshotAttributeInput{SnapshotId: aws.String(id), Attribute: types.SnapshotAttributeNameCreateVolumePermission,
		CreateVolumePermission: &types.CreateVolumePermissionModifications{Add: []types.CreateVolumePermission{{UserId: aws.String(bobID)}}}})))
	attr := must(t, call(alice.DescribeSnapshotAttribute(ctx, &sdk.DescribeSnapshotAttributeInput{SnapshotId: aws.String(id), Attribute: types.SnapshotAttributeNameCreateVolumePermission})))
	if len(attr.CreateVolumePermissions) != 1 || *attr.CreateVolumePermissions[0].UserId != bobID {
		t.Fatalf("permissions %+v", attr.CreateVolumePermissions)
	}
	bd := must(t, call(bob.DescribeSnapshots(ctx, &sdk.DescribeSnapshotsInput{RestorableByUserIds: []string{"self"}})))
	if len(bd.Snapshots) != 1 {
		t.Fatalf("bob sees %d snapshots restorable by him", len(bd.Snapshots))
	}
	if bd := must(t, call(bob.DescribeSnapshots(ctx, &sdk.DescribeSnapshotsInput{OwnerIds: []string{"self"}}))); len(bd.Snapshots) != 0 {
		t.Fatalf("bob owns %d snapshots", len(bd.Snapshots))
	}
	must(t, call(bob.CreateVolume(ctx, &sdk.CreateVolumeInput{AvailabilityZone: aws.String("us-east-1a"), SnapshotId: aws.String(id)})))
	cp := must(t, call(bob.CopySnapshot(ctx, &sdk.CopySnapshotInput{SourceRegion: aws.String("us-east-1"), SourceSnapshotId: aws.String(id)})))
	if r, _ := e.local.State().Snapshot(*cp.SnapshotId); r.Account != bobID || r.CopyOf != id || r.State != state.SnapshotPending {
		t.Fatalf("copy %+v", r)
	}
	_, err = bob.ModifySnapshotAttribute(ctx, &sdk.ModifySnapshotAttributeInput{SnapshotId: aws.String(id), Attribute: types.SnapshotAttributeNameCreateVolumePermission,
		CreateVolumePermission: &types.CreateVolumePermissionModifications{Add: []types.CreateVolumePermission{{Group: types.PermissionGroupAll}}}})
	wantErr(t, err, "InvalidSnapshot.NotFound", 400)

	// Delete: gone from view at once; the record stays, deleting, for the box to clean up.
	must(t, call(alice.DeleteSnapshot(ctx, &sdk.DeleteSnapshotInput{SnapshotId: aws.String(id)})))
	_, err = alice.DescribeSnapshots(ctx, &sdk.DescribeSnapshotsInput{SnapshotIds: []string{id}})
	wantErr(t, err, "InvalidSnapshot.NotFound", 400)
	_, err = alice.DeleteSnapshot(ctx, &sdk.DeleteSnapshotInput{SnapshotId: aws.String(id)})
	wantErr(t, err, "InvalidSnapshot.NotFound", 400)
	dr, _ := e.local.State().Snapshot(id)
	if dr.State != state.SnapshotDeleting {
		t.Fatalf("deleted snapshot is %s", dr.State)
	}
	if needed, why, _ := e.local.State().SnapshotNeeded(id); !needed {
		t.Fatal("a snapshot volumes still fill from is not needed")
	} else {
		t.Logf("kept: %s", why)
	}
	e.apply(&state.ReportSnapshot{ID: id, Node: dr.Node, Attempt: dr.Attempt, Gone: true})
	if _, err := e.local.State().Snapshot(id); err == nil {
		t.Fatal("the record stayed after its objects were reported gone")
	}
	// Bad input never a 500.
	_, err = alice.CreateSnapshot(ctx, &sdk.CreateSnapshotInput{VolumeId: aws.String("vol-0123456789abcdef0")})
	wantErr(t, err, "InvalidVolume.NotFound", 400)
	_, err = alice.CreateSnapshot(ctx, &sdk.CreateSnapshotInput{VolumeId: aws.String("")})
	wantErr(t, err, "MissingParameter", 400)
	_, err = alice.DescribeSnapshotAttribute(ctx, &sdk.DescribeSnapshotAttributeInput{SnapshotId: aws.String(*second.SnapshotId), Attribute: "bogus"})
	wantErr(t, err, "InvalidParameterValue", 400)
	_, err = alice.CopySnapshot(ctx, &sdk.CopySnapshotInput{SourceRegion: aws.String("eu-west-1"), SourceSnapshotId: aws.String(*second.SnapshotId)})
	wantErr(t, err, "InvalidParameterValue", 400)
	_, err = alice.CreateSnapshots(ctx, &sdk.CreateSnapshotsInput{InstanceSpecification: &types.InstanceSpecification{InstanceId: aws.String("i-0123456789abcdef0")}})
	wantErr(t, err, "InvalidInstanceID.NotFound", 400)
}
