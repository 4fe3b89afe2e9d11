package ec2

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdk "github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/banyancloud/banyan/cluster/state"
)

// TestVolumeStatus: ok while every box with a copy is up, warning while some are down,
// impaired when none is.
func TestVolumeStatus(t *testing.T) {
	e := newEnv(t)
	c, _ := e.account("alice")
	// box1 and box2 are in different zones: give us-east-1a a second box.
	e.apply(&state.ReportBox{Box: state.Box{Node: "box3", Zone: "us-east-1a", VCPUs: 2, MemoryMiB: 4096, DiskGiB: 100, Hypervisor: state.HypervisorUp}})
	e.live = []string{"box1", "box2", "box3"}
	v := must(t, call(c.CreateVolume(ctx, &sdk.CreateVolumeInput{AvailabilityZone: aws.String("us-east-1a"), Size: aws.Int32(1)})))
	id := *v.VolumeId
	status := func() string {
		t.Helper()
		st := must(t, call(c.DescribeVolumeStatus(ctx, &sdk.DescribeVolumeStatusInput{VolumeIds: []string{id}})))
		return string(st.VolumeStatuses[0].VolumeStatus.Status)
	}
	if s := status(); s != "insufficient-data" {
		t.Fatalf("status while creating: %s", s)
	}
	rec, _ := e.local.State().Volume(id)
	for _, n := range rec.Replicas {
		e.apply(&state.ReportVolume{ID: id, Node: n, Event: state.VolumeEventReady})
	}
	if s := status(); s != "ok" {
		t.Fatalf("status with every copy's box up: %s", s)
	}
	e.live = []string{rec.Replicas[0], "box2"}
	if s := status(); s != "warning" {
		t.Fatalf("status with one copy's box down: %s", s)
	}
	e.live = []string{"box2"}
	if s := status(); s != "impaired" {
		t.Fatalf("status with every copy's box down: %s", s)
	}
	got := must(t, call(c.DescribeVolumeStatus(ctx, &sdk.DescribeVolumeStatusInput{Filters: []types.Filter{{Name: aws.String("volume-status.status"), Values: []string{"ok"}}}})))
	if len(got.VolumeStatuses) != 0 {
		t.Fatalf("filter status=ok matched an impaired volume")
	}
	_, err := c.DescribeVolumeStatus(ctx, &sdk.DescribeVolumeStatusInput{VolumeIds: []string{"vol-0123456789abcdef0"}})
	wantErr(t, err, "InvalidVolume.NotFound", 400)
}
