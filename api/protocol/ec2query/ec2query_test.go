package ec2query_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/banyancloud/banyan/api/awserr"
	"github.com/banyancloud/banyan/api/protocol"
	"github.com/banyancloud/banyan/api/protocol/ec2query"
	"github.com/banyancloud/banyan/api/protocol/internal/clienttest"
	"github.com/banyancloud/banyan/api/protocol/internal/testsvc/ec2"
)

var launched = time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)

func ptr[T any](v T) *T { return &v }

func handler(op *protocol.Operation, in any) (any, error) {
	switch in := in.(type) {
	case *ec2.DescribeInstancesRequest:
		return &ec2.DescribeInstancesResult{Reservations: []ec2.Reservation{{
			ReservationId: ptr("r-1"), OwnerId: ptr("123456789012"),
			Instances: []ec2.Instance{{
				InstanceId: ptr("i-0abc"), ImageId: ptr("ami-1"), InstanceType: ptr("t3.micro"),
				LaunchTime: &launched, State: &ec2.InstanceState{Code: ptr(int32(16)), Name: ptr("running")},
				Placement: &ec2.Placement{AvailabilityZone: ptr("banyan-1a")},
				Tags:      []ec2.Tag{{Key: ptr("Name"), Value: ptr("web & db")}},
			}},
		}}}, nil
	case *ec2.RunInstancesRequest:
		return &ec2.Reservation{ReservationId: ptr("r-2"), Instances: []ec2.Instance{{InstanceId: ptr("i-new")}}}, nil
	case *ec2.ImportKeyPairRequest:
		return &ec2.ImportKeyPairResult{KeyName: &in.KeyName, KeyFingerprint: ptr("fp")}, nil
	case *ec2.TerminateInstancesRequest:
		return nil, awserr.New("InvalidInstanceID.NotFound", http.StatusBadRequest, "The instance ID '"+in.InstanceIds[0]+"' does not exist")
	}
	return nil, awserr.InternalError
}

func TestBoto3EC2(t *testing.T) {
	srv := clienttest.Serve(t, ec2query.New(ec2.Service), handler)
	out := clienttest.Boto3(t, srv.URL, `
c = client('ec2')
OUT['describe'] = c.describe_instances(InstanceIds=['i-0abc', 'i-0def'], Filters=[{'Name': 'tag:Name', 'Values': ['a', 'b']}])
OUT['run'] = c.run_instances(ImageId='ami-1', MinCount=1, MaxCount=2, UserData='#!/bin/sh',
    BlockDeviceMappings=[{'DeviceName': '/dev/sda1', 'Ebs': {'VolumeSize': 8, 'DeleteOnTermination': False}}],
    TagSpecifications=[{'ResourceType': 'instance', 'Tags': [{'Key': 'Name', 'Value': 'web'}]}])
OUT['key'] = c.import_key_pair(KeyName='k', PublicKeyMaterial=b'ssh-ed25519 AAAA')
OUT['error'] = error_of(lambda: c.terminate_instances(InstanceIds=['i-bad']))
`)
	calls := srv.Calls()
	if len(calls) != 4 {
		t.Fatalf("decoded %d calls", len(calls))
	}
	t.Logf("botocore sent: %s", calls[1].Body)
	di := calls[0].Input.(*ec2.DescribeInstancesRequest)
	if len(di.InstanceIds) != 2 || di.InstanceIds[1] != "i-0def" || len(di.Filters) != 1 || *di.Filters[0].Name != "tag:Name" || len(di.Filters[0].Values) != 2 {
		t.Errorf("DescribeInstances decoded %+v", di)
	}
	ri := calls[1].Input.(*ec2.RunInstancesRequest)
	bdm := ri.BlockDeviceMappings
	if ri.MinCount != 1 || ri.MaxCount != 2 || *ri.UserData == "" || len(bdm) != 1 || *bdm[0].Ebs.VolumeSize != 8 || *bdm[0].Ebs.DeleteOnTermination ||
		len(ri.TagSpecifications) != 1 || *ri.TagSpecifications[0].Tags[0].Value != "web" {
		t.Errorf("RunInstances decoded %+v", ri)
	}
	if k := calls[2].Input.(*ec2.ImportKeyPairRequest); string(k.PublicKeyMaterial) != "ssh-ed25519 AAAA" {
		t.Errorf("blob decoded as %q", k.PublicKeyMaterial)
	}

	inst := out["describe"].(map[string]any)["Reservations"].([]any)[0].(map[string]any)["Instances"].([]any)[0].(map[string]any)
	if inst["InstanceId"] != "i-0abc" || inst["LaunchTime"] != "2024-05-06T07:08:09.000000Z" ||
		inst["State"].(map[string]any)["Name"] != "running" || inst["State"].(map[string]any)["Code"] != float64(16) ||
		inst["Tags"].([]any)[0].(map[string]any)["Value"] != "web & db" {
		t.Errorf("boto3 parsed %v", inst)
	}
	if out["run"].(map[string]any)["ReservationId"] != "r-2" || out["key"].(map[string]any)["KeyName"] != "k" {
		t.Errorf("boto3 parsed %v %v", out["run"], out["key"])
	}
	e := out["error"].(map[string]any)
	if e["Code"] != "InvalidInstanceID.NotFound" || e["Status"] != float64(400) || e["RequestId"] == "" {
		t.Errorf("boto3 error %v", e)
	}
}

func TestDocuments(t *testing.T) {
	got := string(ec2query.AppendResponse(nil, ec2.XMLNamespace, ec2.Operations["ImportKeyPair"],
		&ec2.ImportKeyPairResult{KeyName: ptr("k"), Tags: []ec2.Tag{{Key: ptr("a"), Value: ptr("b")}}}, "id-1"))
	want := `<?xml version="1.0" encoding="UTF-8"?>` + "\n" +
		`<ImportKeyPairResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>id-1</requestId>` +
		`<keyName>k</keyName><tagSet><item><key>a</key><value>b</value></item></tagSet></ImportKeyPairResponse>`
	if got != want {
		t.Errorf("response\n got %s\nwant %s", got, want)
	}
	w := httptest.NewRecorder()
	ec2query.New(ec2.Service).WriteError(w, nil, awserr.New("UnauthorizedOperation", 403, "You are not authorized <x>."), "id-2")
	want = `<?xml version="1.0" encoding="UTF-8"?>` + "\n" +
		`<Response><Errors><Error><Code>UnauthorizedOperation</Code><Message>You are not authorized &lt;x&gt;.</Message></Error></Errors><RequestID>id-2</RequestID></Response>`
	if w.Code != 403 || w.Body.String() != want {
		t.Errorf("error %d\n got %s\nwant %s", w.Code, w.Body, want)
	}
}

func TestDecodeErrors(t *testing.T) {
	c := ec2query.New(ec2.Service)
	for body, code := range map[string]string{
		"Action=TerminateInstances":                                   "MissingParameter",
		"Action=RunInstances&ImageId=a&MinCount=1&MaxCount=x":         "InvalidParameterValue",
		"Action=DescribeInstances&MaxResults=1.5":                     "InvalidParameterValue",
		"Action=DescribeFoo":                                          "InvalidAction",
		"Action=ImportKeyPair&KeyName=k&PublicKeyMaterial=not*base64": "InvalidParameterValue",
	} {
		r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		_, _, err := c.Decode(r)
		var ae *awserr.Error
		if !errors.As(err, &ae) || ae.Code != code || ae.HTTPStatus != 400 {
			t.Errorf("%s: %v, want %s", body, err, code)
		}
	}
}
