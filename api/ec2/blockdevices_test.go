package ec2

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdk "github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/banyancloud/banyan/cluster/state"
)

// TestBootFromVolumeAPI: imported images are instance-store; RegisterImage with a root
// mapping on a snapshot makes an EBS-backed image; RunInstances of it makes the mapped
// volumes (root at least the snapshot's size, overrides by device name) attached to the
// instance, which DescribeInstances and DescribeVolumes show; ModifyInstanceAttribute
// changes DeleteOnTermination; CreateImage snapshots the volumes and the image is
// available once they complete; a mapped snapshot cannot be deleted.
func TestBootFromVolumeAPI(t *testing.T) {
	e := newEnv(t)
	c, _ := e.account("alice")
	e.apply(&state.ReportBox{Box: state.Box{Node: "box3", Zone: "us-east-1a", VCPUs: 2, MemoryMiB: 4096, DiskGiB: 100, Hypervisor: state.HypervisorUp}})
	e.live = []string{"box1", "box2", "box3"}
	zone := &types.Placement{AvailabilityZone: aws.String("us-east-1a")}

	readyVolume := func(id string) {
		rec, _ := e.local.State().Volume(id)
		for _, n := range rec.Replicas {
			e.apply(&state.ReportVolume{ID: id, Node: n, Event: state.VolumeEventReady})
		}
	}
	completeSnapshot := func(id string) {
		s, _ := e.local.State().Snapshot(id)
		e.apply(&state.ReportSnapshot{ID: id, Node: s.Node, Attempt: s.Attempt, State: state.SnapshotCompleted, Manifest: "manifests/" + id})
	}
	v := must(t, call(c.CreateVolume(ctx, &sdk.CreateVolumeInput{AvailabilityZone: aws.String("us-east-1a"), Size: aws.Int32(2)})))
	readyVolume(*v.VolumeId)
	snap := must(t, call(c.CreateSnapshot(ctx, &sdk.CreateSnapshotInput{VolumeId: v.VolumeId})))
	completeSnapshot(*snap.SnapshotId)

	// An imported image is instance-store.
	own := must(t, call(c.DescribeImages(ctx, &sdk.DescribeImagesInput{Owners: []string{"self"}})))
	if len(own.Images) != 0 {
		t.Fatalf("images before: %+v", own.Images)
	}
	acct := must(t, call(c.DescribeImages(ctx, &sdk.DescribeImagesInput{}))) // none yet
	_ = acct

	root := func(size int32) types.BlockDeviceMapping {
		m := types.BlockDeviceMapping{DeviceName: aws.String("/dev/xvda"), Ebs: &types.EbsBlockDevice{SnapshotId: snap.SnapshotId, VolumeType: types.VolumeTypeGp3}}
		if size > 0 {
			m.Ebs.VolumeSize = aws.Int32(size)
		}
		return m
	}
	data := types.BlockDeviceMapping{DeviceName: aws.String("/dev/sdf"), Ebs: &types.EbsBlockDevice{VolumeSize: aws.Int32(1)}}
	_, err := c.RegisterImage(ctx, &sdk.RegisterImageInput{Name: aws.String("small"), RootDeviceName: aws.String("/dev/xvda"),
		BlockDeviceMappings: []types.BlockDeviceMapping{root(1)}})
	wantErr(t, err, "InvalidBlockDeviceMapping", 400)
	_, err = c.RegisterImage(ctx, &sdk.RegisterImageInput{Name: aws.String("noroot"), RootDeviceName: aws.String("/dev/xvda"),
		BlockDeviceMappings: []types.BlockDeviceMapping{data}})
	wantErr(t, err, "InvalidBlockDeviceMapping", 400)
	_, err = c.RegisterImage(ctx, &sdk.RegisterImageInput{Name: aws.String("missing"), RootDeviceName: aws.String("/dev/xvda"),
		BlockDeviceMappings: []types.BlockDeviceMapping{{DeviceName: aws.String("/dev/xvda"), Ebs: &types.EbsBlockDevice{SnapshotId: aws.String("snap-0123456789abcdef0")}}}})
	wantErr(t, err, "InvalidSnapshot.NotFound", 400)
	reg := must(t, call(c.RegisterImage(ctx, &sdk.RegisterImageInput{Name: aws.String("boot"), RootDeviceName: aws.String("/dev/xvda"),
		BlockDeviceMappings: []types.BlockDeviceMapping{root(0), data}})))
	imgs := must(t, call(c.DescribeImages(ctx, &sdk.DescribeImagesInput{ImageIds: []string{*reg.ImageId}})))
	im := imgs.Images[0]
	if im.RootDeviceType != types.DeviceTypeEbs || *im.RootDeviceName != "/dev/xvda" || len(im.BlockDeviceMappings) != 2 ||
		*im.BlockDeviceMappings[0].Ebs.SnapshotId != *snap.SnapshotId || *im.BlockDeviceMappings[0].Ebs.VolumeSize != 2 ||
		!*im.BlockDeviceMappings[0].Ebs.DeleteOnTermination || *im.BlockDeviceMappings[1].Ebs.VolumeSize != 1 {
		t.Fatalf("EBS image %+v", im)
	}
	byType := must(t, call(c.DescribeImages(ctx, &sdk.DescribeImagesInput{Filters: []types.Filter{{Name: aws.String("root-device-type"), Values: []string{"ebs"}}}})))
	if len(byType.Images) != 1 {
		t.Fatalf("root-device-type=ebs found %d images", len(byType.Images))
	}
	e.image("000000000000", "ami-00000000000000aaa")
	e.apply(&state.PutImage{Image: state.Image{ID: "ami-00000000000000aaa", Account: "000000000000", Name: "img", State: state.ImageAvailable, Public: true, ObjectKey: "k"}})
	imported := must(t, call(c.DescribeImages(ctx, &sdk.DescribeImagesInput{ImageIds: []string{"ami-00000000000000aaa"}}))).Images[0]
	if imported.RootDeviceType != types.DeviceTypeInstanceStore || *imported.RootDeviceName != "/dev/sda1" || len(imported.BlockDeviceMappings) != 0 {
		t.Fatalf("imported image %+v", imported)
	}

	// Launch: the root override below the snapshot's size is refused.
	_, err = c.RunInstances(ctx, &sdk.RunInstancesInput{ImageId: reg.ImageId, MinCount: aws.Int32(1), MaxCount: aws.Int32(1), Placement: zone,
		BlockDeviceMappings: []types.BlockDeviceMapping{root(1)}})
	wantErr(t, err, "InvalidBlockDeviceMapping", 400)
	run := must(t, call(c.RunInstances(ctx, &sdk.RunInstancesInput{ImageId: reg.ImageId, MinCount: aws.Int32(1), MaxCount: aws.Int32(1), Placement: zone,
		InstanceType: types.InstanceTypeT2Micro, TagSpecifications: []types.TagSpecification{{ResourceType: types.ResourceTypeVolume,
			Tags: []types.Tag{{Key: aws.String("role"), Value: aws.String("boot")}}}},
		BlockDeviceMappings: []types.BlockDeviceMapping{root(4),
			{DeviceName: aws.String("/dev/sdf"), Ebs: &types.EbsBlockDevice{DeleteOnTermination: aws.Bool(false)}},
			{DeviceName: aws.String("/dev/sdg"), Ebs: &types.EbsBlockDevice{VolumeSize: aws.Int32(3), VolumeType: types.VolumeTypeGp2}}}})))
	inst := run.Instances[0]
	if inst.RootDeviceType != types.DeviceTypeEbs || *inst.RootDeviceName != "/dev/xvda" || len(inst.BlockDeviceMappings) != 3 {
		t.Fatalf("launched %+v", inst)
	}
	byDev := map[string]types.InstanceBlockDeviceMapping{}
	for _, m := range inst.BlockDeviceMappings {
		byDev[*m.DeviceName] = m
	}
	rootVol := *byDev["/dev/xvda"].Ebs.VolumeId
	if !*byDev["/dev/xvda"].Ebs.DeleteOnTermination || *byDev["/dev/sdf"].Ebs.DeleteOnTermination || byDev["/dev/xvda"].Ebs.Status != types.AttachmentStatusAttaching {
		t.Fatalf("mappings %+v %+v", *byDev["/dev/xvda"].Ebs, *byDev["/dev/sdf"].Ebs)
	}
	vols := must(t, call(c.DescribeVolumes(ctx, &sdk.DescribeVolumesInput{VolumeIds: []string{rootVol, *byDev["/dev/sdg"].Ebs.VolumeId}})))
	for _, vol := range vols.Volumes {
		want := map[string]int32{rootVol: 4}[*vol.VolumeId]
		if want == 0 {
			want = 3
		}
		if *vol.Size != want || vol.State != types.VolumeStateInUse || len(vol.Attachments) != 1 || *vol.Attachments[0].InstanceId != *inst.InstanceId ||
			len(vol.Tags) != 1 || *vol.Tags[0].Value != "boot" {
			t.Fatalf("launch volume %+v", vol)
		}
	}
	if *vols.Volumes[0].VolumeId == rootVol && *vols.Volumes[0].SnapshotId != *snap.SnapshotId || vols.Volumes[0].VolumeType == "" {
		t.Fatalf("root volume %+v", vols.Volumes[0])
	}

	// DeleteOnTermination through ModifyInstanceAttribute.
	must(t, call(c.ModifyInstanceAttribute(ctx, &sdk.ModifyInstanceAttributeInput{InstanceId: inst.InstanceId,
		BlockDeviceMappings: []types.InstanceBlockDeviceMappingSpecification{{DeviceName: aws.String("/dev/xvda"),
			Ebs: &types.EbsInstanceBlockDeviceSpecification{DeleteOnTermination: aws.Bool(false)}}}})))
	_, err = c.ModifyInstanceAttribute(ctx, &sdk.ModifyInstanceAttributeInput{InstanceId: inst.InstanceId,
		BlockDeviceMappings: []types.InstanceBlockDeviceMappingSpecification{{DeviceName: aws.String("/dev/sdz"),
			Ebs: &types.EbsInstanceBlockDeviceSpecification{DeleteOnTermination: aws.Bool(false)}}}})
	wantErr(t, err, "InvalidBlockDeviceMapping", 400)
	attr := must(t, call(c.DescribeInstanceAttribute(ctx, &sdk.DescribeInstanceAttributeInput{InstanceId: inst.InstanceId, Attribute: types.InstanceAttributeNameBlockDeviceMapping})))
	for _, m := range attr.BlockDeviceMappings {
		if *m.DeviceName == "/dev/xvda" && *m.Ebs.DeleteOnTermination {
			t.Fatal("DeleteOnTermination of the root still true")
		}
	}

	// CreateImage: not of an instance-store instance; of this one, pending until its
	// snapshots complete.
	plain := must(t, call(c.RunInstances(ctx, &sdk.RunInstancesInput{ImageId: aws.String("ami-00000000000000aaa"), MinCount: aws.Int32(1), MaxCount: aws.Int32(1)})))
	if plain.Instances[0].RootDeviceType != types.DeviceTypeInstanceStore || len(plain.Instances[0].BlockDeviceMappings) != 0 {
		t.Fatalf("instance-store instance %+v", plain.Instances[0])
	}
	_, err = c.CreateImage(ctx, &sdk.CreateImageInput{InstanceId: plain.Instances[0].InstanceId, Name: aws.String("nope")})
	wantErr(t, err, "InvalidParameterValue", 400)
	ci := must(t, call(c.CreateImage(ctx, &sdk.CreateImageInput{InstanceId: inst.InstanceId, Name: aws.String("from-instance")})))
	made := must(t, call(c.DescribeImages(ctx, &sdk.DescribeImagesInput{ImageIds: []string{*ci.ImageId}}))).Images[0]
	if made.State != types.ImageStatePending || len(made.BlockDeviceMappings) != 3 || *made.RootDeviceName != "/dev/xvda" {
		t.Fatalf("created image %+v", made)
	}
	for _, m := range made.BlockDeviceMappings {
		completeSnapshot(*m.Ebs.SnapshotId)
	}
	made = must(t, call(c.DescribeImages(ctx, &sdk.DescribeImagesInput{ImageIds: []string{*ci.ImageId}}))).Images[0]
	if made.State != types.ImageStateAvailable || *made.BlockDeviceMappings[0].Ebs.VolumeSize != 4 {
		t.Fatalf("created image after its snapshots %+v", made)
	}
	_, err = c.DeleteSnapshot(ctx, &sdk.DeleteSnapshotInput{SnapshotId: made.BlockDeviceMappings[0].Ebs.SnapshotId})
	wantErr(t, err, "InvalidSnapshot.InUse", 400)
}
