package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
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
	fmt.Printf("%-58s %9s %9s %9s %9s %6s\n", "", "wire p50", "wire p99", "SDK p50", "SDK p99", "calls")
	raw := &rawEC2{endpoint: endpoint, creds: aws.Credentials{AccessKeyID: creds[0], SecretAccessKey: creds[1]},
		client: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8}}}
	runs := []struct {
		name   string
		n      int
		params url.Values
		call   func() error
	}{
		{"floor: DescribeRegions (signed call, nothing to read)", 200, url.Values{"Action": {"DescribeRegions"}}, func() error {
			_, err := c.DescribeRegions(ctx, &ec2.DescribeRegionsInput{})
			return err
		}},
		{"DescribeInstances --instance-ids (one)", 200, url.Values{"Action": {"DescribeInstances"}, "InstanceId.1": {tagged}}, func() error {
			_, err := c.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{tagged}})
			return err
		}},
		{"DescribeInstances --filters tag:bench (matches 1 in 1000)", 50,
			url.Values{"Action": {"DescribeInstances"}, "Filter.1.Name": {"tag:bench"}, "Filter.1.Value.1": {"tagged"}}, func() error {
				_, err := c.DescribeInstances(ctx, &ec2.DescribeInstancesInput{Filters: []types.Filter{{Name: aws.String("tag:bench"), Values: []string{"tagged"}}}})
				return err
			}},
		{"DescribeInstances --max-results 1000 (first page)", 20, url.Values{"Action": {"DescribeInstances"}, "MaxResults": {"1000"}}, func() error {
			_, err := c.DescribeInstances(ctx, &ec2.DescribeInstancesInput{MaxResults: aws.Int32(1000)})
			return err
		}},
		{fmt.Sprintf("DescribeInstances, all %d in one answer", records), 5, url.Values{"Action": {"DescribeInstances"}}, func() error {
			_, err := c.DescribeInstances(ctx, &ec2.DescribeInstancesInput{})
			return err
		}},
	}
	for _, r := range runs {
		var wire, sdk []time.Duration
		for range r.n {
			t0 := time.Now()
			if err := raw.call(ctx, r.params); err != nil {
				return fmt.Errorf("%s: %w", r.name, err)
			}
			wire = append(wire, time.Since(t0))
			t0 = time.Now()
			if err := r.call(); err != nil {
				return fmt.Errorf("%s: %w", r.name, err)
			}
			sdk = append(sdk, time.Since(t0))
		}
		w, k := summarize(wire), summarize(sdk)
		fmt.Printf("%-58s %9.1f %9.1f %9.1f %9.1f %6d\n", r.name, ms(w.p50), ms(w.p99), ms(k.p50), ms(k.p99), k.n)
	}
	fmt.Println("wire: signed request, whole response read, not decoded (the server's part); SDK: aws-sdk-go-v2 decoding it too, on the same cores")
	fmt.Println("goal: DescribeInstances p99 < 100 ms with 10,000 records (one instance, a filter, a page)")
	return nil
}

// rawEC2 sends signed EC2 query requests and reads whole responses without decoding
// them: the server's part of a call's latency.
type rawEC2 struct {
	endpoint string
	creds    aws.Credentials
	client   *http.Client
}

func (r *rawEC2) call(ctx context.Context, params url.Values) error {
	params.Set("Version", "2016-11-15")
	body := params.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.endpoint+"/", strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	sum := sha256.Sum256([]byte(body))
	if err := v4.NewSigner().SignHTTP(ctx, r.creds, req, hex.EncodeToString(sum[:]), "ec2", "us-east-1", time.Now()); err != nil {
		return err
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s answered %s (%d bytes)", params.Get("Action"), resp.Status, n)
	}
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
