package main

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/banyancloud/banyan/cluster"
	"github.com/banyancloud/banyan/cluster/state"
	"github.com/banyancloud/banyan/node"
)

// describeBench measures DescribeInstances on one real server holding `records`
// instance records. The records are placed on boxes that exist only as capacity reports
// (no agent runs them), submitted through the admin client: what is measured is the read
// path of every DescribeInstances, front door to local replica and back. Beside it, the
// same server's cheapest signed EC2 call (DescribeRegions) is the floor.
func describeBench(bin, dir string, records int) error {
	procs, endpoint, creds, err := startS3Servers(bin, dir, 1, 1)
	defer stopAll(procs)
	if err != nil {
		return err
	}
	ctx := context.Background()
	d, err := node.Open(filepath.Join(dir, "n1"))
	if err != nil {
		return err
	}
	adm := cluster.NewClient("127.0.4.1:7947", d.TLS)
	defer adm.Close()

	// Capacity for the records: 100 reported boxes of 4096 vCPUs and 4 TiB each, in five
	// zones (a zone's /20 holds 4091 instances).
	var boxes []string
	for i := range 100 {
		name := fmt.Sprintf("bench-box-%03d", i)
		boxes = append(boxes, name)
		if _, err := adm.Submit(ctx, &state.ReportBox{Box: state.Box{Node: name, Zone: "us-east-1" + string(rune('a'+i%5)), VCPUs: 4096, MemoryMiB: 4 << 20,
			DiskGiB: 1 << 20, Accel: "tcg", Hypervisor: state.HypervisorUp}}, nil); err != nil {
			return fmt.Errorf("reporting bench boxes: %w", err)
		}
	}
	c := ec2.New(ec2.Options{Region: "us-east-1", BaseEndpoint: aws.String(endpoint),
		Credentials: credentials.NewStaticCredentialsProvider(creds[0], creds[1], ""),
		HTTPClient:  &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8}}})
	acct, err := callerAccount(ctx, endpoint, creds)
	if err != nil {
		return err
	}
	start := time.Now()
	var tagged string
	for n := 0; n < records; {
		batch := min(500, records-n)
		var insts []state.Instance
		for i := range batch {
			id := node.NewEC2ID("i-")
			tags := map[string]string{"Name": fmt.Sprintf("web-%d", n+i)}
			if (n+i)%1000 == 0 {
				tags["bench"] = "tagged"
				tagged = id
			}
			insts = append(insts, state.Instance{ID: id, Account: acct, ReservationID: node.NewEC2ID("r-"), ImageID: "ami-0000000000bench",
				InstanceType: "t2.micro", VCPUs: 1, MemoryMiB: 1024, LaunchIndex: 0, Tags: tags, MAC: "02:00:00:00:00:01"})
		}
		if _, err := adm.Submit(ctx, &state.RunInstances{Instances: insts, MinCount: batch, LiveNodes: boxes, Now: time.Now().UTC()}, nil); err != nil {
			return fmt.Errorf("recording instances: %w", err)
		}
		n += batch
	}
	fmt.Printf("\nDescribeInstances, one server, %d instance records (recorded in %.1fs)\n", records, time.Since(start).Seconds())
	fmt.Printf("%-58s %9s %9s %9s\n", "", "p50 ms", "p99 ms", "calls")
	runs := []struct {
		name string
		n    int
		call func() error
	}{
		{"floor: DescribeRegions (signed call, nothing to read)", 200, func() error {
			_, err := c.DescribeRegions(ctx, &ec2.DescribeRegionsInput{})
			return err
		}},
		{"DescribeInstances --instance-ids (one)", 200, func() error {
			_, err := c.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{tagged}})
			return err
		}},
		{"DescribeInstances --filters tag:bench (matches 1 in 1000)", 50, func() error {
			_, err := c.DescribeInstances(ctx, &ec2.DescribeInstancesInput{Filters: []types.Filter{{Name: aws.String("tag:bench"), Values: []string{"tagged"}}}})
			return err
		}},
		{"DescribeInstances --max-results 1000 (first page)", 20, func() error {
			_, err := c.DescribeInstances(ctx, &ec2.DescribeInstancesInput{MaxResults: aws.Int32(1000)})
			return err
		}},
		{fmt.Sprintf("DescribeInstances, all %d in one answer", records), 5, func() error {
			_, err := c.DescribeInstances(ctx, &ec2.DescribeInstancesInput{})
			return err
		}},
	}
	for _, r := range runs {
		var ds []time.Duration
		for range r.n {
			t0 := time.Now()
			if err := r.call(); err != nil {
				return fmt.Errorf("%s: %w", r.name, err)
			}
			ds = append(ds, time.Since(t0))
		}
		s := summarize(ds)
		fmt.Printf("%-58s %9.1f %9.1f %9d\n", r.name, ms(s.p50), ms(s.p99), s.n)
	}
	fmt.Println("goal: DescribeInstances p99 < 100 ms with 10,000 records (one instance, a filter, a page)")
	return nil
}

// callerAccount is the account ID the credentials act for (the owner of the records).
func callerAccount(ctx context.Context, endpoint string, creds [2]string) (string, error) {
	c := sts.New(sts.Options{Region: "us-east-1", BaseEndpoint: aws.String(endpoint),
		Credentials: credentials.NewStaticCredentialsProvider(creds[0], creds[1], "")})
	out, err := c.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return "", err
	}
	return aws.ToString(out.Account), nil
}
