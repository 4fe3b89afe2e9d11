package main

// ImportSnapshot end to end in the box lab, with the installed aws-cli: the test guest's
// raw disk is uploaded to S3 and imported as an EBS snapshot (vol-ffffffff's, 1 GiB), as
// is a streamOptimized VMDK of it; an object that is not a disk image fails its task with
// a ClientError; bad requests get EC2's errors at once. The raw snapshot is registered as
// an EBS-backed image and an instance boots from it.

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/banyancloud/banyan/packaging/boxlab"
)

type cliSnapshotTask struct {
	ImportTaskId       string
	Description        string
	SnapshotTaskDetail struct {
		Status, StatusMessage, Progress, SnapshotId, Format string
		DiskImageSize                                       float64
		UserBucket                                          struct{ S3Bucket, S3Key string }
	}
}

// importSnapshot starts an import and waits until its task is completed or deleted.
func (a *labCLI) importSnapshot(format, key string) (cliSnapshotTask, time.Duration) {
	a.t.Helper()
	var imp cliSnapshotTask
	start := time.Now()
	a.must(&imp, "ec2", "import-snapshot", "--description", "e2e "+key,
		"--disk-container", "Format="+format+",UserBucket={S3Bucket=disks,S3Key="+key+"}")
	if imp.SnapshotTaskDetail.Status != "active" || imp.SnapshotTaskDetail.Format != format {
		a.t.Fatalf("import-snapshot answered %+v", imp)
	}
	var task cliSnapshotTask
	waitFor(a.t, 4*time.Minute, "the import of "+key, func() error {
		var d struct{ ImportSnapshotTasks []cliSnapshotTask }
		if err := a.run(&d, "ec2", "describe-import-snapshot-tasks", "--import-task-ids", imp.ImportTaskId); err != nil {
			return err
		}
		task = d.ImportSnapshotTasks[0]
		if s := task.SnapshotTaskDetail.Status; s == "completed" || s == "deleted" {
			return nil
		}
		return fmt.Errorf("%s: %s %s%%", task.SnapshotTaskDetail.Status, task.SnapshotTaskDetail.StatusMessage, task.SnapshotTaskDetail.Progress)
	})
	return task, time.Since(start)
}

func TestBoxLabImportSnapshot(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("the box lab needs root")
	}
	if _, err := exec.LookPath("aws"); err != nil {
		t.Skip("aws-cli is not installed")
	}
	raw := filepath.Join(filepath.Dir(guestImage(t)), "banyan-guest.raw")
	rawInfo, err := os.Stat(raw)
	if err != nil {
		t.Fatal(err)
	}
	lab := boxlab.Start(t, boxlab.Config{Boxes: 2, Banyan: banyanBin})
	aws := &labCLI{t: t, lab: lab, endpoint: lab.Box(1).Endpoint()}

	vmdk := filepath.Join(lab.Dir(), "guest.vmdk")
	if out, err := exec.Command("qemu-img", "convert", "-f", "raw", "-O", "vmdk", "-o", "subformat=streamOptimized", raw, vmdk).CombinedOutput(); err != nil {
		t.Fatalf("qemu-img convert: %v %s", err, out)
	}
	notes := filepath.Join(lab.Dir(), "notes.txt")
	if err := os.WriteFile(notes, []byte(strings.Repeat("not a disk image\n", 4096)), 0o644); err != nil {
		t.Fatal(err)
	}
	aws.must(nil, "s3", "mb", "s3://disks")
	for file, key := range map[string]string{raw: "guest.raw", vmdk: "guest.vmdk", notes: "notes.txt"} {
		aws.must(nil, "s3", "cp", file, "s3://disks/"+key)
	}

	// Bad requests are refused at once.
	fails := func(cli *labCLI, code string, args ...string) {
		t.Helper()
		if err := cli.run(nil, args...); err == nil || !strings.Contains(err.Error(), code) {
			t.Fatalf("aws %s: %v, want %s", strings.Join(args, " "), err, code)
		}
	}
	fails(aws, "InvalidParameterValue", "ec2", "import-snapshot", "--disk-container", "Format=RAW,UserBucket={S3Bucket=disks,S3Key=missing.raw}")
	fails(aws, "InvalidParameterValue", "ec2", "import-snapshot", "--disk-container", "Format=RAW,UserBucket={S3Bucket=nobucket,S3Key=guest.raw}")
	fails(aws, "InvalidParameterValue", "ec2", "import-snapshot", "--disk-container", "Format=OVA,UserBucket={S3Bucket=disks,S3Key=guest.raw}")
	fails(aws, "InvalidParameterValue", "ec2", "import-snapshot", "--encrypted", "--disk-container", "Format=RAW,UserBucket={S3Bucket=disks,S3Key=guest.raw}")
	fails(aws, "InvalidConversionTaskId.Malformed", "ec2", "describe-import-snapshot-tasks", "--import-task-ids", "import-snap-bogus")
	fails(aws, "InvalidConversionTaskId.Malformed", "ec2", "cancel-import-task", "--import-task-id", "import-snap-bogus")
	// Another account may not import from this account's bucket.
	out, err := lab.Box(0).Exec(context.Background(), lab.Banyan(), "account", "create", "tenant2", "--data-dir", lab.Box(0).DataDir())
	if err != nil {
		t.Fatalf("account create: %v %s", err, out)
	}
	tenant := &labCLI{t: t, lab: lab, endpoint: aws.endpoint, env: []string{"AWS_SHARED_CREDENTIALS_FILE=/dev/null"}}
	for _, line := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(line, "aws_access_key_id = "); ok {
			tenant.env = append(tenant.env, "AWS_ACCESS_KEY_ID="+v)
		}
		if v, ok := strings.CutPrefix(line, "aws_secret_access_key = "); ok {
			tenant.env = append(tenant.env, "AWS_SECRET_ACCESS_KEY="+v)
		}
	}
	if len(tenant.env) != 3 {
		t.Fatalf("no keys in the output of account create:\n%s", out)
	}
	fails(tenant, "InvalidParameterValue", "ec2", "import-snapshot", "--disk-container", "Format=RAW,UserBucket={S3Bucket=disks,S3Key=guest.raw}")

	// An object that is not a disk image fails its task.
	if task, _ := aws.importSnapshot("VMDK", "notes.txt"); task.SnapshotTaskDetail.Status != "deleted" ||
		!strings.HasPrefix(task.SnapshotTaskDetail.StatusMessage, "ClientError: Disk validation failed") {
		t.Fatalf("a text file imported as VMDK: %+v", task.SnapshotTaskDetail)
	}

	// The raw disk and a VMDK of it.
	task, took := aws.importSnapshot("RAW", "guest.raw")
	d := task.SnapshotTaskDetail
	if d.Status != "completed" || !strings.HasPrefix(d.SnapshotId, "snap-") || d.DiskImageSize != float64(rawInfo.Size()) ||
		d.UserBucket.S3Bucket != "disks" || d.UserBucket.S3Key != "guest.raw" || task.Description != "e2e guest.raw" {
		t.Fatalf("raw import: %+v", task)
	}
	t.Logf("the %d MiB raw disk was a completed snapshot %.1fs after import-snapshot", rawInfo.Size()>>20, took.Seconds())
	vmTask, vmTook := aws.importSnapshot("VMDK", "guest.vmdk")
	if vmTask.SnapshotTaskDetail.Status != "completed" {
		t.Fatalf("vmdk import: %+v", vmTask.SnapshotTaskDetail)
	}
	t.Logf("the VMDK of it was a completed snapshot %.1fs after import-snapshot", vmTook.Seconds())
	var snaps struct {
		Snapshots []struct {
			SnapshotId, VolumeId, State, Description string
			VolumeSize                               int
		}
	}
	aws.must(&snaps, "ec2", "describe-snapshots", "--snapshot-ids", d.SnapshotId, vmTask.SnapshotTaskDetail.SnapshotId)
	if len(snaps.Snapshots) != 2 {
		t.Fatalf("describe-snapshots: %+v", snaps.Snapshots)
	}
	for _, s := range snaps.Snapshots {
		if s.VolumeId != "vol-ffffffff" || s.State != "completed" || s.VolumeSize != 1 || !strings.Contains(s.Description, "import-snap-") {
			t.Fatalf("imported snapshot %+v", s)
		}
	}

	// An EBS-backed image of the raw one boots.
	var reg struct{ ImageId string }
	aws.must(&reg, "ec2", "register-image", "--name", "imported-e2e", "--architecture", "x86_64", "--root-device-name", "/dev/xvda",
		"--block-device-mappings", "DeviceName=/dev/xvda,Ebs={SnapshotId="+d.SnapshotId+"}")
	var run struct{ Instances []cliInstance }
	start := time.Now()
	aws.must(&run, "ec2", "run-instances", "--image-id", reg.ImageId, "--instance-type", "t2.nano")
	id := run.Instances[0].InstanceId
	aws.waitState(3*time.Minute, "running", id)
	waitFor(t, 4*time.Minute, "the guest booted from the imported snapshot", func() error {
		if out := aws.console(id); !strings.Contains(out, "banyan-guest: booted") {
			return fmt.Errorf("not yet:\n%s", lastLines(out, 8))
		}
		return nil
	})
	t.Logf("%s booted from the imported snapshot %.1fs after run-instances", id, time.Since(start).Seconds())
	aws.must(nil, "ec2", "terminate-instances", "--instance-ids", id)
}
