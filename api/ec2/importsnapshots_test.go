package ec2

import (
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdk "github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	sdkiam "github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/banyancloud/banyan/cluster/state"
)

func userBucket(bucket, key string) *types.UserBucket {
	return &types.UserBucket{S3Bucket: aws.String(bucket), S3Key: aws.String(key)}
}

// TestImportSnapshotRefusesBadInput: every malformed or unsupported request gets EC2's
// error and records no task.
func TestImportSnapshotRefusesBadInput(t *testing.T) {
	e := newEnv(t)
	c, acct := e.account("alice")
	e.sources["s3://disks/disk.raw"] = 64 << 20
	e.sources["s3://disks/empty"] = 0
	good := func() *types.SnapshotDiskContainer {
		return &types.SnapshotDiskContainer{Format: aws.String("RAW"), UserBucket: userBucket("disks", "disk.raw")}
	}
	for _, tc := range []struct {
		name   string
		in     *sdk.ImportSnapshotInput
		code   string
		status int
	}{
		{"no disk container", &sdk.ImportSnapshotInput{}, "MissingParameter", 400},
		{"no bucket", &sdk.ImportSnapshotInput{DiskContainer: &types.SnapshotDiskContainer{Format: aws.String("RAW")}}, "MissingParameter", 400},
		{"no key", &sdk.ImportSnapshotInput{DiskContainer: &types.SnapshotDiskContainer{Format: aws.String("RAW"), UserBucket: userBucket("disks", "")}}, "MissingParameter", 400},
		{"no format", &sdk.ImportSnapshotInput{DiskContainer: &types.SnapshotDiskContainer{UserBucket: userBucket("disks", "disk.raw")}}, "MissingParameter", 400},
		{"ova", &sdk.ImportSnapshotInput{DiskContainer: &types.SnapshotDiskContainer{Format: aws.String("ova"), UserBucket: userBucket("disks", "disk.raw")}}, "InvalidParameterValue", 400},
		{"vhdx", &sdk.ImportSnapshotInput{DiskContainer: &types.SnapshotDiskContainer{Format: aws.String("VHDX"), UserBucket: userBucket("disks", "disk.raw")}}, "InvalidParameterValue", 400},
		{"https url", &sdk.ImportSnapshotInput{DiskContainer: &types.SnapshotDiskContainer{Format: aws.String("RAW"), Url: aws.String("https://example.com/disk.raw")}}, "InvalidParameterValue", 400},
		{"url and bucket", &sdk.ImportSnapshotInput{DiskContainer: &types.SnapshotDiskContainer{Format: aws.String("RAW"), Url: aws.String("s3://disks/disk.raw"), UserBucket: userBucket("disks", "disk.raw")}}, "InvalidParameterCombination", 400},
		{"encrypted", &sdk.ImportSnapshotInput{DiskContainer: good(), Encrypted: aws.Bool(true)}, "InvalidParameterValue", 400},
		{"kms key", &sdk.ImportSnapshotInput{DiskContainer: good(), KmsKeyId: aws.String("alias/aws/ebs")}, "InvalidParameterCombination", 400},
		{"long description", &sdk.ImportSnapshotInput{DiskContainer: good(), Description: aws.String(strings.Repeat("d", 256))}, "InvalidParameterValue", 400},
		{"tags for a snapshot", &sdk.ImportSnapshotInput{DiskContainer: good(), TagSpecifications: []types.TagSpecification{{ResourceType: types.ResourceTypeSnapshot,
			Tags: []types.Tag{{Key: aws.String("k"), Value: aws.String("v")}}}}}, "InvalidParameterValue", 400},
		{"missing object", &sdk.ImportSnapshotInput{DiskContainer: &types.SnapshotDiskContainer{Format: aws.String("RAW"), UserBucket: userBucket("disks", "nope")}}, "InvalidParameterValue", 400},
		{"missing bucket", &sdk.ImportSnapshotInput{DiskContainer: &types.SnapshotDiskContainer{Format: aws.String("RAW"), UserBucket: userBucket("other", "disk.raw")}}, "InvalidParameterValue", 400},
		{"empty object", &sdk.ImportSnapshotInput{DiskContainer: &types.SnapshotDiskContainer{Format: aws.String("RAW"), UserBucket: userBucket("disks", "empty")}}, "InvalidParameterValue", 400},
		{"dry run", &sdk.ImportSnapshotInput{DiskContainer: good(), DryRun: aws.Bool(true)}, "DryRunOperation", 412},
	} {
		_, err := c.ImportSnapshot(ctx, tc.in)
		t.Run(tc.name, func(t *testing.T) { wantErr(t, err, tc.code, tc.status) })
	}
	if tasks, _, _ := e.local.State().ImportSnapshotTasks(acct); len(tasks) != 0 {
		t.Fatalf("refused requests recorded %d tasks", len(tasks))
	}

	// Task IDs: malformed ones and unknown ones.
	for _, id := range []string{"import-snap-xyz", "import-ami-0123456789abcdef0", "snap-0123456789abcdef0"} {
		_, err := c.DescribeImportSnapshotTasks(ctx, &sdk.DescribeImportSnapshotTasksInput{ImportTaskIds: []string{id}})
		wantErr(t, err, "InvalidConversionTaskId.Malformed", 400)
	}
	_, err := c.DescribeImportSnapshotTasks(ctx, &sdk.DescribeImportSnapshotTasksInput{ImportTaskIds: []string{"import-snap-0123456789abcdef0"}})
	wantErr(t, err, "InvalidConversionTaskId.Malformed", 400)
	_, err = c.CancelImportTask(ctx, &sdk.CancelImportTaskInput{ImportTaskId: aws.String("import-snap-zz")})
	wantErr(t, err, "InvalidConversionTaskId.Malformed", 400)
	_, err = c.CancelImportTask(ctx, &sdk.CancelImportTaskInput{ImportTaskId: aws.String("import-snap-0123456789abcdef0")})
	wantErr(t, err, "InvalidConversionTaskId.Malformed", 400)
	_, err = c.DescribeImportSnapshotTasks(ctx, &sdk.DescribeImportSnapshotTasksInput{Filters: []types.Filter{{Name: aws.String("bogus"), Values: []string{"x"}}}})
	wantErr(t, err, "InvalidFilter", 400)
}

// TestImportSnapshotTasks: a task is shown as AWS shows it while active, once completed
// (with the snapshot, which is vol-ffffffff's and restorable) and once cancelled; a
// ClientToken makes a retried call return the first task; another account sees none of
// it; a user needs s3:GetObject on the object as well as ec2:ImportSnapshot.
func TestImportSnapshotTasks(t *testing.T) {
	e := newEnv(t)
	c, acct := e.account("alice")
	bob, _ := e.account("bob")
	e.sources["s3://disks/disk.raw"] = 64<<20 + 512
	e.sources["s3://disks/disk.vmdk"] = 20 << 20

	r := must(t, call(c.ImportSnapshot(ctx, &sdk.ImportSnapshotInput{Description: aws.String("my disk"), ClientToken: aws.String("tok-1"),
		RoleName:      aws.String("vmimport"),
		DiskContainer: &types.SnapshotDiskContainer{Format: aws.String("raw"), Description: aws.String("the raw one"), UserBucket: userBucket("disks", "disk.raw")},
		TagSpecifications: []types.TagSpecification{{ResourceType: types.ResourceTypeImportSnapshotTask,
			Tags: []types.Tag{{Key: aws.String("team"), Value: aws.String("blue")}}}}})))
	id := aws.ToString(r.ImportTaskId)
	d := r.SnapshotTaskDetail
	if !importSnapshotTaskIDRE.MatchString(id) || aws.ToString(r.Description) != "my disk" || len(r.Tags) != 1 ||
		aws.ToString(d.Status) != "active" || aws.ToString(d.StatusMessage) != "pending" || aws.ToString(d.Format) != "RAW" ||
		aws.ToFloat64(d.DiskImageSize) != 64<<20+512 || aws.ToString(d.Description) != "the raw one" || aws.ToString(d.Progress) == "" ||
		d.SnapshotId != nil || aws.ToString(d.UserBucket.S3Bucket) != "disks" || aws.ToString(d.UserBucket.S3Key) != "disk.raw" {
		t.Fatalf("ImportSnapshot answered %s %+v", id, d)
	}
	// The same client token again: the same task. For another object: a mismatch.
	again := must(t, call(c.ImportSnapshot(ctx, &sdk.ImportSnapshotInput{Description: aws.String("my disk"), ClientToken: aws.String("tok-1"),
		DiskContainer: &types.SnapshotDiskContainer{Format: aws.String("RAW"), Description: aws.String("the raw one"), UserBucket: userBucket("disks", "disk.raw")}})))
	if aws.ToString(again.ImportTaskId) != id {
		t.Fatalf("a retried call made task %s, want %s", aws.ToString(again.ImportTaskId), id)
	}
	_, err := c.ImportSnapshot(ctx, &sdk.ImportSnapshotInput{ClientToken: aws.String("tok-1"),
		DiskContainer: &types.SnapshotDiskContainer{Format: aws.String("VMDK"), UserBucket: userBucket("disks", "disk.vmdk")}})
	wantErr(t, err, "IdempotentParameterMismatch", 400)
	vm := must(t, call(c.ImportSnapshot(ctx, &sdk.ImportSnapshotInput{
		DiskContainer: &types.SnapshotDiskContainer{Format: aws.String("VMDK"), Url: aws.String("s3://disks/disk.vmdk")}})))
	vmID := aws.ToString(vm.ImportTaskId)

	// Describe: all, by ID, by state, in pages; bob sees nothing.
	all := must(t, call(c.DescribeImportSnapshotTasks(ctx, &sdk.DescribeImportSnapshotTasksInput{})))
	if len(all.ImportSnapshotTasks) != 2 || aws.ToString(all.ImportSnapshotTasks[0].ImportTaskId) != id {
		t.Fatalf("describe all: %+v", all.ImportSnapshotTasks)
	}
	p1 := must(t, call(c.DescribeImportSnapshotTasks(ctx, &sdk.DescribeImportSnapshotTasksInput{MaxResults: aws.Int32(1)})))
	if len(p1.ImportSnapshotTasks) != 1 || p1.NextToken == nil {
		t.Fatalf("first page: %d tasks, next %v", len(p1.ImportSnapshotTasks), p1.NextToken)
	}
	p2 := must(t, call(c.DescribeImportSnapshotTasks(ctx, &sdk.DescribeImportSnapshotTasksInput{MaxResults: aws.Int32(1), NextToken: p1.NextToken})))
	if len(p2.ImportSnapshotTasks) != 1 || p2.NextToken != nil || aws.ToString(p2.ImportSnapshotTasks[0].ImportTaskId) != vmID {
		t.Fatalf("second page: %+v next %v", p2.ImportSnapshotTasks, p2.NextToken)
	}
	if b := must(t, call(bob.DescribeImportSnapshotTasks(ctx, &sdk.DescribeImportSnapshotTasksInput{}))); len(b.ImportSnapshotTasks) != 0 {
		t.Fatalf("bob sees %d of alice's tasks", len(b.ImportSnapshotTasks))
	}
	_, err = bob.DescribeImportSnapshotTasks(ctx, &sdk.DescribeImportSnapshotTasksInput{ImportTaskIds: []string{id}})
	wantErr(t, err, "InvalidConversionTaskId.Malformed", 400)
	_, err = bob.CancelImportTask(ctx, &sdk.CancelImportTaskInput{ImportTaskId: aws.String(id)})
	wantErr(t, err, "InvalidConversionTaskId.Malformed", 400)

	// The importer completes the raw one (as node/importsnapshots.go does).
	rec, _ := e.local.State().ImportSnapshotTask(id)
	var attempt uint64
	if _, err := e.local.Apply(ctx, &state.ClaimImportSnapshotTask{ID: id, Node: "box1"}, &attempt); err != nil {
		t.Fatal(err)
	}
	e.apply(&state.ReportImportSnapshotTask{ID: id, Node: "box1", Attempt: attempt, Progress: 42, Message: "converting"})
	if d := must(t, call(c.DescribeImportSnapshotTasks(ctx, &sdk.DescribeImportSnapshotTasksInput{ImportTaskIds: []string{id}}))); aws.ToString(d.ImportSnapshotTasks[0].SnapshotTaskDetail.Progress) != "42" ||
		aws.ToString(d.ImportSnapshotTasks[0].SnapshotTaskDetail.StatusMessage) != "converting" {
		t.Fatalf("progress: %+v", d.ImportSnapshotTasks[0].SnapshotTaskDetail)
	}
	e.apply(&state.CompleteImportSnapshotTask{ID: id, Node: "box1", Attempt: attempt, VolumeSizeGiB: 1, Manifest: "manifests/" + rec.SnapshotID,
		Extents: 256, Uploaded: 17, Zero: 239, Now: time.Now()})
	done := must(t, call(c.DescribeImportSnapshotTasks(ctx, &sdk.DescribeImportSnapshotTasksInput{Filters: []types.Filter{{Name: aws.String("task-state"), Values: []string{"completed"}}}})))
	if len(done.ImportSnapshotTasks) != 1 {
		t.Fatalf("completed tasks: %+v", done.ImportSnapshotTasks)
	}
	dd := done.ImportSnapshotTasks[0].SnapshotTaskDetail
	if aws.ToString(dd.Status) != "completed" || aws.ToString(dd.SnapshotId) != rec.SnapshotID || dd.Progress != nil || dd.StatusMessage != nil {
		t.Fatalf("completed task detail %+v", dd)
	}
	snaps := must(t, call(c.DescribeSnapshots(ctx, &sdk.DescribeSnapshotsInput{SnapshotIds: []string{rec.SnapshotID}})))
	s := snaps.Snapshots[0]
	if aws.ToString(s.VolumeId) != "vol-ffffffff" || aws.ToInt32(s.VolumeSize) != 1 || s.State != types.SnapshotStateCompleted ||
		aws.ToString(s.OwnerId) != acct || !strings.Contains(aws.ToString(s.Description), id) {
		t.Fatalf("imported snapshot %+v", s)
	}
	v := must(t, call(c.CreateVolume(ctx, &sdk.CreateVolumeInput{AvailabilityZone: aws.String("us-east-1a"), SnapshotId: aws.String(rec.SnapshotID)})))
	if aws.ToInt32(v.Size) != 1 {
		t.Fatalf("volume from the imported snapshot is %d GiB", aws.ToInt32(v.Size))
	}
	_, err = c.CancelImportTask(ctx, &sdk.CancelImportTaskInput{ImportTaskId: aws.String(id)})
	wantErr(t, err, "IncorrectState", 400)

	// Cancel the other one: deleting, then deleted once the importer is done.
	cr := must(t, call(c.CancelImportTask(ctx, &sdk.CancelImportTaskInput{ImportTaskId: aws.String(vmID), CancelReason: aws.String("wrong disk")})))
	if aws.ToString(cr.State) != "deleting" || aws.ToString(cr.PreviousState) != "active" || aws.ToString(cr.ImportTaskId) != vmID {
		t.Fatalf("CancelImportTask: %+v", cr)
	}
	_, err = c.CancelImportTask(ctx, &sdk.CancelImportTaskInput{ImportTaskId: aws.String(vmID)})
	wantErr(t, err, "IncorrectState", 400)
	e.apply(&state.ReportImportSnapshotTask{ID: vmID, Cancelled: true, Message: "Cancelled by the user"})
	gone := must(t, call(c.DescribeImportSnapshotTasks(ctx, &sdk.DescribeImportSnapshotTasksInput{ImportTaskIds: []string{vmID}})))
	if gd := gone.ImportSnapshotTasks[0].SnapshotTaskDetail; aws.ToString(gd.Status) != "deleted" || aws.ToString(gd.StatusMessage) != "Cancelled by the user" ||
		aws.ToString(gd.Format) != "VMDK" || aws.ToString(gd.UserBucket.S3Key) != "disk.vmdk" {
		t.Fatalf("cancelled task %+v", gd)
	}

	// A user allowed ec2:ImportSnapshot but not s3:GetObject on the object is refused.
	admin := sdkiam.NewFromConfig(e.config(e.roots[0].AccessKeyID, e.roots[0].SecretAccessKey))
	user := func(name, policy string) *sdk.Client {
		must(t, call(admin.CreateUser(ctx, &sdkiam.CreateUserInput{UserName: aws.String(name)})))
		must(t, call(admin.PutUserPolicy(ctx, &sdkiam.PutUserPolicyInput{UserName: aws.String(name), PolicyName: aws.String("p"), PolicyDocument: aws.String(policy)})))
		k := must(t, call(admin.CreateAccessKey(ctx, &sdkiam.CreateAccessKeyInput{UserName: aws.String(name)})))
		return sdk.NewFromConfig(e.config(*k.AccessKey.AccessKeyId, *k.AccessKey.SecretAccessKey))
	}
	in := &sdk.ImportSnapshotInput{DiskContainer: &types.SnapshotDiskContainer{Format: aws.String("RAW"), UserBucket: userBucket("disks", "disk.raw")}}
	ec2Only := user("ec2only", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ec2:*","Resource":"*"}]}`)
	_, err = ec2Only.ImportSnapshot(ctx, in)
	wantErr(t, err, "UnauthorizedOperation", 403)
	s3Only := user("s3only", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}`)
	_, err = s3Only.ImportSnapshot(ctx, in)
	wantErr(t, err, "UnauthorizedOperation", 403)
	both := user("both", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ec2:ImportSnapshot","Resource":"*"},
		{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::disks/*"}]}`)
	must(t, call(both.ImportSnapshot(ctx, in)))
}
