package ec2

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdk "github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/banyancloud/banyan/cluster/state"
)

// readyVolume creates an available volume of size GiB and type in us-east-1a.
func (e *testEnv) readyVolume(c *sdk.Client, size int32, typ types.VolumeType) string {
	e.t.Helper()
	v := must(e.t, call(c.CreateVolume(ctx, &sdk.CreateVolumeInput{AvailabilityZone: aws.String("us-east-1a"), Size: aws.Int32(size), VolumeType: typ})))
	rec, err := e.local.State().Volume(*v.VolumeId)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, n := range rec.Replicas {
		e.apply(&state.ReportVolume{ID: rec.ID, Node: n, Event: state.VolumeEventReady})
	}
	return rec.ID
}

func TestModifyVolume(t *testing.T) {
	e := newEnv(t)
	c, _ := e.account("alice")
	other, _ := e.account("bob")
	id := e.readyVolume(c, 10, types.VolumeTypeGp2)
	std := e.readyVolume(c, 10, types.VolumeTypeStandard)

	// Bad input: EC2's errors, nothing recorded.
	_, err := c.ModifyVolume(ctx, &sdk.ModifyVolumeInput{VolumeId: aws.String("vol-nope"), Size: aws.Int32(20)})
	wantErr(t, err, "InvalidVolumeID.Malformed", 400)
	_, err = c.ModifyVolume(ctx, &sdk.ModifyVolumeInput{VolumeId: aws.String("vol-0123456789abcdef0"), Size: aws.Int32(20)})
	wantErr(t, err, "InvalidVolume.NotFound", 400)
	_, err = other.ModifyVolume(ctx, &sdk.ModifyVolumeInput{VolumeId: aws.String(id), Size: aws.Int32(20)})
	wantErr(t, err, "InvalidVolume.NotFound", 400)
	_, err = c.ModifyVolume(ctx, &sdk.ModifyVolumeInput{VolumeId: aws.String(id)})
	wantErr(t, err, "MissingParameter", 400)
	_, err = c.ModifyVolume(ctx, &sdk.ModifyVolumeInput{VolumeId: aws.String(id), Size: aws.Int32(5)})
	wantErr(t, err, "InvalidParameterValue", 400)
	_, err = c.ModifyVolume(ctx, &sdk.ModifyVolumeInput{VolumeId: aws.String(id), Size: aws.Int32(10)})
	wantErr(t, err, "InvalidParameterValue", 400) // changes nothing
	_, err = c.ModifyVolume(ctx, &sdk.ModifyVolumeInput{VolumeId: aws.String(id), VolumeType: "gp9"})
	wantErr(t, err, "InvalidParameterValue", 400)
	_, err = c.ModifyVolume(ctx, &sdk.ModifyVolumeInput{VolumeId: aws.String(id), VolumeType: types.VolumeTypeStandard})
	wantErr(t, err, "UnsupportedOperation", 400)
	_, err = c.ModifyVolume(ctx, &sdk.ModifyVolumeInput{VolumeId: aws.String(std), Size: aws.Int32(20)})
	wantErr(t, err, "UnsupportedOperation", 400)
	_, err = c.ModifyVolume(ctx, &sdk.ModifyVolumeInput{VolumeId: aws.String(id), VolumeType: types.VolumeTypeSt1})
	wantErr(t, err, "InvalidParameterValue", 400) // st1 starts at 125 GiB
	_, err = c.ModifyVolume(ctx, &sdk.ModifyVolumeInput{VolumeId: aws.String(id), Iops: aws.Int32(500)})
	wantErr(t, err, "InvalidParameterCombination", 400) // gp2 takes no IOPS
	_, err = c.ModifyVolume(ctx, &sdk.ModifyVolumeInput{VolumeId: aws.String(id), VolumeType: types.VolumeTypeGp3, Iops: aws.Int32(100)})
	wantErr(t, err, "InvalidParameterValue", 400)
	_, err = c.ModifyVolume(ctx, &sdk.ModifyVolumeInput{VolumeId: aws.String(id), VolumeType: types.VolumeTypeGp3, Throughput: aws.Int32(5000)})
	wantErr(t, err, "InvalidParameterValue", 400)
	_, err = c.ModifyVolume(ctx, &sdk.ModifyVolumeInput{VolumeId: aws.String(id), Throughput: aws.Int32(200)})
	wantErr(t, err, "InvalidParameterCombination", 400)
	_, err = c.ModifyVolume(ctx, &sdk.ModifyVolumeInput{VolumeId: aws.String(id), MultiAttachEnabled: aws.Bool(true)})
	wantErr(t, err, "InvalidParameterValue", 400)
	_, err = c.ModifyVolume(ctx, &sdk.ModifyVolumeInput{VolumeId: aws.String(id), Size: aws.Int32(20), DryRun: aws.Bool(true)})
	wantErr(t, err, "DryRunOperation", 412)
	_, err = c.DescribeVolumesModifications(ctx, &sdk.DescribeVolumesModificationsInput{VolumeIds: []string{id}})
	wantErr(t, err, "InvalidVolumeModification.NotFound", 400)

	// Grow and change to gp3: the type's defaults fill in IOPS and throughput.
	out := must(t, call(c.ModifyVolume(ctx, &sdk.ModifyVolumeInput{VolumeId: aws.String(id), Size: aws.Int32(20), VolumeType: types.VolumeTypeGp3})))
	m := out.VolumeModification
	if m.ModificationState != types.VolumeModificationStateModifying || *m.OriginalSize != 10 || *m.TargetSize != 20 ||
		m.OriginalVolumeType != types.VolumeTypeGp2 || m.TargetVolumeType != types.VolumeTypeGp3 || *m.OriginalIops != 100 ||
		*m.TargetIops != 3000 || *m.TargetThroughput != 125 || m.OriginalThroughput != nil || *m.Progress != 0 || m.StartTime == nil || m.EndTime != nil {
		t.Fatalf("ModifyVolume answered %+v", m)
	}
	_, err = c.ModifyVolume(ctx, &sdk.ModifyVolumeInput{VolumeId: aws.String(id), Size: aws.Int32(30)})
	wantErr(t, err, "IncorrectModificationState", 400)

	describe := func(in *sdk.DescribeVolumesModificationsInput) []types.VolumeModification {
		t.Helper()
		return must(t, call(c.DescribeVolumesModifications(ctx, in))).VolumesModifications
	}
	if got := describe(&sdk.DescribeVolumesModificationsInput{VolumeIds: []string{id}}); len(got) != 1 || got[0].ModificationState != types.VolumeModificationStateModifying {
		t.Fatalf("described: %+v", got)
	}
	if got := describe(&sdk.DescribeVolumesModificationsInput{Filters: []types.Filter{{Name: aws.String("modification-state"), Values: []string{"completed"}}}}); len(got) != 0 {
		t.Fatalf("filter modification-state=completed matched a modifying one: %+v", got)
	}
	if got := describe(&sdk.DescribeVolumesModificationsInput{Filters: []types.Filter{{Name: aws.String("target-size"), Values: []string{"20"}},
		{Name: aws.String("original-volume-type"), Values: []string{"gp2"}}}}); len(got) != 1 {
		t.Fatalf("filters target-size and original-volume-type: %+v", got)
	}
	_, err = c.DescribeVolumesModifications(ctx, &sdk.DescribeVolumesModificationsInput{Filters: []types.Filter{{Name: aws.String("size"), Values: []string{"1"}}}})
	wantErr(t, err, "InvalidFilter", 400)
	if got := must(t, call(other.DescribeVolumesModifications(ctx, &sdk.DescribeVolumesModificationsInput{}))); len(got.VolumesModifications) != 0 {
		t.Fatalf("another account sees %+v", got.VolumesModifications)
	}

	// The boxes report their copies grown: optimizing, the volume has its new size; then completed.
	rec, _ := e.local.State().Volume(id)
	for _, n := range rec.Replicas {
		e.apply(&state.ReportVolumeModification{VolumeID: id, Node: n, Event: state.ModEventGrown})
	}
	vols := must(t, call(c.DescribeVolumes(ctx, &sdk.DescribeVolumesInput{VolumeIds: []string{id}}))).Volumes
	if *vols[0].Size != 20 || vols[0].VolumeType != types.VolumeTypeGp3 || *vols[0].Iops != 3000 {
		t.Fatalf("volume while optimizing: %+v", vols[0])
	}
	e.apply(&state.ReportVolumeModification{VolumeID: id, Node: rec.Replicas[0], Event: state.ModEventOptimized, Now: rec.CreateTime})
	got := describe(&sdk.DescribeVolumesModificationsInput{VolumeIds: []string{id}})
	if got[0].ModificationState != types.VolumeModificationStateCompleted || *got[0].Progress != 100 || got[0].EndTime == nil {
		t.Fatalf("completed: %+v", got[0])
	}

	// Six hours between modifications, unless the setting says otherwise.
	_, err = c.ModifyVolume(ctx, &sdk.ModifyVolumeInput{VolumeId: aws.String(id), Size: aws.Int32(30)})
	wantErr(t, err, "VolumeModificationRateExceeded", 400)
	e.apply(&state.SetSetting{Key: SettingVolumeModificationInterval, Value: "0s"})
	must(t, call(c.ModifyVolume(ctx, &sdk.ModifyVolumeInput{VolumeId: aws.String(id), Iops: aws.Int32(4000)})))

	// Paging over several volumes' modifications.
	for range 3 {
		v := e.readyVolume(c, 1, types.VolumeTypeGp2)
		must(t, call(c.ModifyVolume(ctx, &sdk.ModifyVolumeInput{VolumeId: aws.String(v), Size: aws.Int32(2)})))
	}
	var all []string
	in := &sdk.DescribeVolumesModificationsInput{MaxResults: aws.Int32(2)}
	for {
		p := must(t, call(c.DescribeVolumesModifications(ctx, in)))
		for _, m := range p.VolumesModifications {
			all = append(all, *m.VolumeId)
		}
		if p.NextToken == nil {
			break
		}
		in.NextToken = p.NextToken
	}
	if len(all) != 4 {
		t.Fatalf("paged through %d modifications, want 4: %v", len(all), all)
	}
}

func TestVolumeAttributes(t *testing.T) {
	e := newEnv(t)
	c, _ := e.account("alice")
	other, _ := e.account("bob")
	id := e.readyVolume(c, 1, types.VolumeTypeGp2)

	a := must(t, call(c.DescribeVolumeAttribute(ctx, &sdk.DescribeVolumeAttributeInput{VolumeId: aws.String(id), Attribute: types.VolumeAttributeNameAutoEnableIO})))
	if *a.VolumeId != id || a.AutoEnableIO == nil || *a.AutoEnableIO.Value {
		t.Fatalf("autoEnableIO of a new volume: %+v", a)
	}
	must(t, call(c.ModifyVolumeAttribute(ctx, &sdk.ModifyVolumeAttributeInput{VolumeId: aws.String(id), AutoEnableIO: &types.AttributeBooleanValue{Value: aws.Bool(true)}})))
	a = must(t, call(c.DescribeVolumeAttribute(ctx, &sdk.DescribeVolumeAttributeInput{VolumeId: aws.String(id), Attribute: types.VolumeAttributeNameAutoEnableIO})))
	if !*a.AutoEnableIO.Value {
		t.Fatal("autoEnableIO not set")
	}
	p := must(t, call(c.DescribeVolumeAttribute(ctx, &sdk.DescribeVolumeAttributeInput{VolumeId: aws.String(id), Attribute: types.VolumeAttributeNameProductCodes})))
	if p.AutoEnableIO != nil || len(p.ProductCodes) != 0 {
		t.Fatalf("productCodes: %+v", p)
	}

	_, err := c.DescribeVolumeAttribute(ctx, &sdk.DescribeVolumeAttributeInput{VolumeId: aws.String(id), Attribute: "size"})
	wantErr(t, err, "InvalidParameterValue", 400)
	_, err = other.DescribeVolumeAttribute(ctx, &sdk.DescribeVolumeAttributeInput{VolumeId: aws.String(id), Attribute: types.VolumeAttributeNameAutoEnableIO})
	wantErr(t, err, "InvalidVolume.NotFound", 400)
	_, err = other.ModifyVolumeAttribute(ctx, &sdk.ModifyVolumeAttributeInput{VolumeId: aws.String(id), AutoEnableIO: &types.AttributeBooleanValue{Value: aws.Bool(false)}})
	wantErr(t, err, "InvalidVolume.NotFound", 400)
	_, err = c.ModifyVolumeAttribute(ctx, &sdk.ModifyVolumeAttributeInput{VolumeId: aws.String(id)})
	wantErr(t, err, "MissingParameter", 400)
	_, err = c.ModifyVolumeAttribute(ctx, &sdk.ModifyVolumeAttributeInput{VolumeId: aws.String(id), DryRun: aws.Bool(true),
		AutoEnableIO: &types.AttributeBooleanValue{Value: aws.Bool(false)}})
	wantErr(t, err, "DryRunOperation", 412)
}
