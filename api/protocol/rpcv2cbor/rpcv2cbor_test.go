package rpcv2cbor_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"math"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"

	"github.com/banyancloud/banyan/api/awserr"
	"github.com/banyancloud/banyan/api/protocol"
	"github.com/banyancloud/banyan/api/protocol/internal/clienttest"
	"github.com/banyancloud/banyan/api/protocol/internal/testsvc/cloudwatch"
	"github.com/banyancloud/banyan/api/protocol/rpcv2cbor"
)

func ptr[T any](v T) *T { return &v }

var t0 = time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)

func handler(op *protocol.Operation, in any) (any, error) {
	switch in := in.(type) {
	case *cloudwatch.PutMetricDataInput, *cloudwatch.DeleteAlarmsInput:
		return nil, nil
	case *cloudwatch.ListMetricsInput:
		return &cloudwatch.ListMetricsOutput{Metrics: []cloudwatch.Metric{
			{Namespace: ptr("Banyan"), MetricName: ptr("Load"), Dimensions: []cloudwatch.Dimension{{Name: "Box", Value: "b1"}}},
		}, NextToken: ptr("n")}, nil
	case *cloudwatch.GetMetricDataInput:
		return &cloudwatch.GetMetricDataOutput{MetricDataResults: []cloudwatch.MetricDataResult{{
			Id: ptr(in.MetricDataQueries[0].Id), StatusCode: ptr("Complete"),
			Timestamps: []time.Time{t0, t0.Add(1500 * time.Millisecond)}, Values: []float64{1.5, -2},
		}}}, nil
	case *cloudwatch.GetMetricWidgetImageInput:
		return &cloudwatch.GetMetricWidgetImageOutput{MetricWidgetImage: []byte{0x89, 'P', 'N', 'G', 0}}, nil
	case *cloudwatch.DescribeAlarmsInput:
		return &cloudwatch.DescribeAlarmsOutput{MetricAlarms: []cloudwatch.MetricAlarm{{
			AlarmName: ptr("a"), ActionsEnabled: ptr(false), Threshold: ptr(0.0), EvaluationPeriods: ptr(int32(0)),
		}}}, nil
	case *cloudwatch.GetDashboardInput:
		return nil, cloudwatch.Errors["ResourceNotFound"].Error("Dashboard " + in.DashboardName + " does not exist")
	}
	return nil, awserr.InternalError
}

// TestBoto3CloudWatch drives the codec with botocore's own CBOR serializer and parser.
// botocore 1.43 ranks json above smithy-rpc-v2-cbor, so for CloudWatch (protocols
// [smithy-rpc-v2-cbor, json, query]) aws-cli v1 and boto3 speak awsJson 1.0 by default
// (see the awsjson tests); the script re-ranks the protocols to get the CBOR client
// that newer SDKs and services with only rpc-v2-cbor use.
func TestBoto3CloudWatch(t *testing.T) {
	srv := clienttest.Serve(t, rpcv2cbor.New(cloudwatch.Service), handler)
	out := clienttest.Boto3(t, srv.URL, `
import botocore.model
botocore.model.PRIORITY_ORDERED_SUPPORTED_PROTOCOLS = ('smithy-rpc-v2-cbor', 'json', 'query')
c = client('cloudwatch')
assert c.meta.service_model.resolved_protocol == 'smithy-rpc-v2-cbor'

ts = datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)
OUT['put'] = c.put_metric_data(Namespace='Banyan', MetricData=[
    {'MetricName': 'Load', 'Timestamp': ts, 'Value': 0.25, 'Unit': 'Percent',
     'Dimensions': [{'Name': 'Box', 'Value': 'b1'}], 'Values': [1.0, 2.5], 'Counts': [3, 4], 'StorageResolution': 1}])
OUT['list'] = c.list_metrics(Namespace='Banyan')
OUT['data'] = c.get_metric_data(StartTime=ts, EndTime=ts + datetime.timedelta(hours=1),
    MetricDataQueries=[{'Id': 'q1', 'Expression': 'SUM(x)', 'ReturnData': False}])
OUT['image'] = c.get_metric_widget_image(MetricWidget='{}')
OUT['alarms'] = c.describe_alarms()
c.delete_alarms(AlarmNames=['a'])
OUT['error'] = error_of(lambda: c.get_dashboard(DashboardName='nope'))
`)
	calls := srv.Calls()
	if len(calls) != 7 {
		t.Fatalf("decoded %d calls", len(calls))
	}
	put := calls[0]
	t.Logf("botocore sent %s %s: %x", put.Header.Get("Content-Type"), put.Header.Get("Smithy-Protocol"), put.Body)
	if put.Header.Get("Smithy-Protocol") != "rpc-v2-cbor" || put.Header.Get("Content-Type") != "application/cbor" {
		t.Errorf("headers %v", put.Header)
	}
	pm := put.Input.(*cloudwatch.PutMetricDataInput)
	d := pm.MetricData[0]
	if pm.Namespace != "Banyan" || d.MetricName != "Load" || !d.Timestamp.Equal(t0) || *d.Value != 0.25 || *d.Unit != "Percent" ||
		d.Dimensions[0] != (cloudwatch.Dimension{Name: "Box", Value: "b1"}) || len(d.Values) != 2 || d.Counts[1] != 4 || *d.StorageResolution != 1 {
		t.Errorf("PutMetricData decoded %+v", d)
	}
	gm := calls[2].Input.(*cloudwatch.GetMetricDataInput)
	if !gm.StartTime.Equal(t0) || !gm.EndTime.Equal(t0.Add(time.Hour)) || *gm.MetricDataQueries[0].ReturnData {
		t.Errorf("GetMetricData decoded %+v", gm)
	}

	m := out["list"].(map[string]any)["Metrics"].([]any)[0].(map[string]any)
	if m["MetricName"] != "Load" || m["Dimensions"].([]any)[0].(map[string]any)["Value"] != "b1" || out["list"].(map[string]any)["NextToken"] != "n" {
		t.Errorf("boto3 parsed %v", out["list"])
	}
	r := out["data"].(map[string]any)["MetricDataResults"].([]any)[0].(map[string]any)
	ts := r["Timestamps"].([]any)
	if r["Id"] != "q1" || ts[0] != "2024-01-02T03:04:05.000000Z" || ts[1] != "2024-01-02T03:04:06.500000Z" || r["Values"].([]any)[1] != float64(-2) {
		t.Errorf("boto3 parsed %v", r)
	}
	img := out["image"].(map[string]any)["MetricWidgetImage"].(map[string]any)["bytes"].([]any)
	if len(img) != 5 || img[0] != float64(0x89) {
		t.Errorf("blob %v", img)
	}
	alarm := out["alarms"].(map[string]any)["MetricAlarms"].([]any)[0].(map[string]any)
	if alarm["ActionsEnabled"] != false || alarm["Threshold"] != float64(0) || alarm["EvaluationPeriods"] != float64(0) {
		t.Errorf("zero values must survive: %v", alarm)
	}
	e := out["error"].(map[string]any)
	if e["Code"] != "ResourceNotFound" || e["Status"] != float64(404) || e["Message"] != "Dashboard nope does not exist" || e["Type"] != "Sender" || e["RequestId"] == "" {
		t.Errorf("boto3 error %v", e)
	}
}

// TestWireBytes pins the bytes botocore's own serializer produces for timestamps and
// blobs: tag 1 with an integer for whole seconds, major type 2 for blobs.
func TestWireBytes(t *testing.T) {
	b, err := rpcv2cbor.Marshal(&cloudwatch.MetricDataResult{Id: ptr("q"), Timestamps: []time.Time{t0}})
	if err != nil {
		t.Fatal(err)
	}
	// {"Id": "q", "Timestamps": [1(1704164645)]}
	want := "a2" + "624964" + "6171" + "6a54696d657374616d7073" + "81" + "c1" + "1a65937d25"
	if hex.EncodeToString(b) != want {
		t.Errorf("got  %x\nwant %s", b, want)
	}
	b, _ = rpcv2cbor.Marshal(&cloudwatch.GetMetricWidgetImageOutput{MetricWidgetImage: []byte{1, 2}})
	if want := "a1" + "714d6574726963576964676574496d616765" + "420102"; hex.EncodeToString(b) != want {
		t.Errorf("got  %x\nwant %s", b, want)
	}
	b, _ = rpcv2cbor.Marshal(&cloudwatch.MetricDataResult{Timestamps: []time.Time{t0.Add(500 * time.Millisecond)}})
	var back struct{ Timestamps []time.Time }
	if err := cbor.Unmarshal(b, &back); err != nil || !back.Timestamps[0].Equal(t0.Add(500*time.Millisecond)) {
		t.Errorf("fractional timestamp %x: %v %v", b, back, err)
	}
}

func TestDecodeErrors(t *testing.T) {
	c := rpcv2cbor.New(cloudwatch.Service)
	req := func(path string, body []byte) *http.Request {
		r := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
		r.Header.Set("Content-Type", "application/cbor")
		r.Header.Set("smithy-protocol", "rpc-v2-cbor")
		return r
	}
	enc := func(v any) []byte { b, _ := cbor.Marshal(v); return b }
	const base = "/service/GraniteServiceVersion20100801/operation/"
	for name, tc := range map[string]struct {
		r    *http.Request
		code string
	}{
		"unknown op":        {req(base+"Nope", nil), "UnknownOperationException"},
		"wrong service":     {req("/service/Other/operation/ListMetrics", nil), "UnknownOperationException"},
		"not cbor":          {req(base+"ListMetrics", []byte{0xff, 0x00}), "SerializationException"},
		"not a map":         {req(base+"ListMetrics", enc([]int{1})), "SerializationException"},
		"wrong type":        {req(base+"ListMetrics", enc(map[string]any{"Namespace": 5})), "SerializationException"},
		"missing required":  {req(base+"PutMetricData", enc(map[string]any{})), "ValidationException"},
		"nested wrong type": {req(base+"PutMetricData", enc(map[string]any{"Namespace": "n", "MetricData": []any{map[string]any{"MetricName": "m", "Timestamp": "soon"}}})), "SerializationException"},
		"int overflow":      {req(base+"GetMetricData", enc(map[string]any{"MaxDatapoints": int64(math.MaxInt32) + 1})), "SerializationException"},
	} {
		_, _, err := c.Decode(tc.r)
		var ae *awserr.Error
		if !errors.As(err, &ae) || ae.Code != tc.code {
			t.Errorf("%s: %v, want %s", name, err, tc.code)
		}
	}
	// A path prefix before /service/ is allowed, and an empty body is an empty input.
	op, in, err := c.Decode(req("/prefix"+base+"ListMetrics", nil))
	if err != nil || op.Name != "ListMetrics" || in.(*cloudwatch.ListMetricsInput).Namespace != nil {
		t.Errorf("empty body: %v %v", op, err)
	}
}

func FuzzCBORDecode(f *testing.F) {
	seeds := []any{
		map[string]any{"Namespace": "n", "MetricData": []any{map[string]any{"MetricName": "m", "Value": 1.5, "Timestamp": cbor.Tag{Number: 1, Content: 1704164645}}}},
		map[string]any{"Namespace": "n", "MetricData": []any{map[string]any{"MetricName": "m", "Dimensions": []any{map[string]any{"Name": "a", "Value": "b"}}, "Counts": []any{1.0, 2}}}},
		map[string]any{"Namespace": "n", "EntityMetricData": []any{map[string]any{"Entity": map[string]any{"KeyAttributes": map[string]any{"k": "v"}}}}},
		[]any{1, 2},
	}
	for _, s := range seeds {
		b, _ := cbor.Marshal(s)
		f.Add(b)
	}
	f.Add([]byte{0xbf, 0x69, 'N', 'a', 'm', 'e', 's', 'p', 'a', 'c', 'e', 0x61, 'x', 0xff}) // indefinite map
	f.Add([]byte{0xa1, 0x60, 0xc1, 0xfb, 0x7f, 0xf8, 0, 0, 0, 0, 0, 0})                     // tag 1 NaN
	f.Fuzz(func(t *testing.T, body []byte) {
		var in cloudwatch.PutMetricDataInput
		err := rpcv2cbor.Unmarshal(body, &in)
		if err != nil {
			return
		}
		if _, err := rpcv2cbor.Marshal(&in); err != nil {
			t.Fatalf("decoded input does not encode: %v", err)
		}
	})
}
