package awsjson_test

import (
	"errors"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/banyancloud/banyan/api/awserr"
	"github.com/banyancloud/banyan/api/protocol"
	"github.com/banyancloud/banyan/api/protocol/awsjson"
	"github.com/banyancloud/banyan/api/protocol/internal/clienttest"
	"github.com/banyancloud/banyan/api/protocol/internal/testsvc/cloudwatch"
	"github.com/banyancloud/banyan/api/protocol/internal/testsvc/dynamodb"
)

func ptr[T any](v T) *T { return &v }

var t0 = time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)

func handler(op *protocol.Operation, in any) (any, error) {
	switch in := in.(type) {
	case *cloudwatch.PutMetricDataInput:
		return nil, nil
	case *cloudwatch.GetMetricDataInput:
		return &cloudwatch.GetMetricDataOutput{MetricDataResults: []cloudwatch.MetricDataResult{{
			Id: ptr(in.MetricDataQueries[0].Id), Timestamps: []time.Time{t0, t0.Add(250 * time.Millisecond)},
			Values: []float64{1.5, math.Inf(1)}, Label: ptr("é \"quoted\"\n"),
		}}}, nil
	case *cloudwatch.GetMetricWidgetImageInput:
		return &cloudwatch.GetMetricWidgetImageOutput{MetricWidgetImage: []byte{0x89, 'P', 'N', 'G'}}, nil
	case *cloudwatch.DescribeAlarmsInput:
		return &cloudwatch.DescribeAlarmsOutput{MetricAlarms: []cloudwatch.MetricAlarm{{
			AlarmName: ptr("a"), ActionsEnabled: ptr(false), StateUpdatedTimestamp: &t0,
		}}}, nil
	case *cloudwatch.GetDashboardInput:
		return nil, cloudwatch.Errors["ResourceNotFound"].Error("Dashboard " + in.DashboardName + " does not exist")
	}
	return nil, awserr.InternalError
}

// TestBoto3CloudWatch is the path aws-cli v1 takes for CloudWatch: botocore 1.43 ranks
// json first among the model's protocols [smithy-rpc-v2-cbor, json, query].
func TestBoto3CloudWatch(t *testing.T) {
	srv := clienttest.Serve(t, awsjson.New(cloudwatch.Service), handler)
	out := clienttest.Boto3(t, srv.URL, `
c = client('cloudwatch')
OUT['protocol'] = c.meta.service_model.resolved_protocol
ts = datetime.datetime(2024, 1, 2, 3, 4, 5, 500000, tzinfo=datetime.timezone.utc)
c.put_metric_data(Namespace='Banyan', MetricData=[{'MetricName': 'Load', 'Timestamp': ts, 'Value': 0.25,
    'Dimensions': [{'Name': 'Box', 'Value': 'b1'}]}])
OUT['data'] = c.get_metric_data(StartTime=ts, EndTime=ts, MetricDataQueries=[{'Id': 'q1', 'Expression': 'x'}])
OUT['image'] = c.get_metric_widget_image(MetricWidget='{}')
OUT['alarms'] = c.describe_alarms(AlarmNames=['a'])
OUT['error'] = error_of(lambda: c.get_dashboard(DashboardName='nope'))
`)
	if out["protocol"] != "json" {
		t.Logf("botocore now resolves CloudWatch to %v", out["protocol"])
	}
	calls := srv.Calls()
	if len(calls) != 5 {
		t.Fatalf("decoded %d calls", len(calls))
	}
	put := calls[0]
	t.Logf("botocore sent %s %s %s: %s", put.Header.Get("X-Amz-Target"), put.Header.Get("Content-Type"), put.Header.Get("X-Amzn-Query-Mode"), put.Body)
	d := put.Input.(*cloudwatch.PutMetricDataInput).MetricData[0]
	// botocore's json serializer sends whole epoch seconds: the .5 s is its loss, not ours.
	if d.MetricName != "Load" || !d.Timestamp.Equal(t0) || *d.Value != 0.25 || d.Dimensions[0].Value != "b1" {
		t.Errorf("decoded %+v", d)
	}
	r := out["data"].(map[string]any)["MetricDataResults"].([]any)[0].(map[string]any)
	if r["Label"] != "é \"quoted\"\n" || r["Timestamps"].([]any)[1] != "2024-01-02T03:04:05.250000Z" {
		t.Errorf("boto3 parsed %v", r)
	}
	if img := out["image"].(map[string]any)["MetricWidgetImage"].(map[string]any)["bytes"].([]any); len(img) != 4 || img[0] != float64(0x89) {
		t.Errorf("blob %v", img)
	}
	alarm := out["alarms"].(map[string]any)["MetricAlarms"].([]any)[0].(map[string]any)
	if alarm["ActionsEnabled"] != false || alarm["StateUpdatedTimestamp"] != "2024-01-02T03:04:05.000000Z" {
		t.Errorf("boto3 parsed %v", alarm)
	}
	e := out["error"].(map[string]any)
	if e["Code"] != "ResourceNotFound" || e["Status"] != float64(404) || e["Type"] != "Sender" || e["Message"] != "Dashboard nope does not exist" || e["RequestId"] == "" {
		t.Errorf("boto3 error %v", e)
	}
}

func TestMarshal(t *testing.T) {
	got, err := awsjson.Marshal(&cloudwatch.MetricDataResult{
		Id: ptr("q"), Timestamps: []time.Time{t0, t0.Add(1500 * time.Millisecond)}, Values: []float64{math.NaN(), 1e300, 0.1},
		Label: ptr("<\x01\xff>"),
	})
	want := `{"Id":"q","Label":"<\u0001\ufffd>","Timestamps":[1704164645,1704164646.5],"Values":["NaN",1e+300,0.1]}`
	if err != nil || string(got) != want {
		t.Errorf("got  %s\nwant %s (%v)", got, want, err)
	}
	got, _ = awsjson.Marshal(&dynamodb.ListTablesOutput{})
	if string(got) != `{}` {
		t.Errorf("empty output %s", got)
	}
	got, _ = awsjson.Marshal(&dynamodb.GetItemOutput{Item: map[string]dynamodb.AttributeValue{
		"b": {M: map[string]dynamodb.AttributeValue{"x": {BOOL: ptr(false)}}}, "a": {B: []byte("hi"), L: []dynamodb.AttributeValue{{N: ptr("1")}}},
	}})
	if want := `{"Item":{"a":{"B":"aGk=","L":[{"N":"1"}]},"b":{"M":{"x":{"BOOL":false}}}}}`; string(got) != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func TestDecode(t *testing.T) {
	c := awsjson.New(dynamodb.Service)
	req := func(target, body string) *http.Request {
		r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
		r.Header.Set("X-Amz-Target", target)
		r.Header.Set("Content-Type", "application/x-amz-json-1.0")
		return r
	}
	op, in, err := c.Decode(req("DynamoDB_20120810.PutItem", `{"TableName":"t","Item":{"k":{"S":"v"},"n":{"L":[{"N":"1"},{"M":{"x":{"NULL":true}}}]},"b":{"B":"aGk="}}}`))
	if err != nil || op.Name != "PutItem" {
		t.Fatal(op, err)
	}
	pi := in.(*dynamodb.PutItemInput)
	if pi.TableName != "t" || *pi.Item["k"].S != "v" || *pi.Item["n"].L[1].M["x"].NULL != true || string(pi.Item["b"].B) != "hi" {
		t.Errorf("decoded %+v", pi)
	}
	for name, tc := range map[string]struct{ target, body, code string }{
		"no target":      {"", `{}`, "MissingAction"},
		"wrong prefix":   {"Other.PutItem", `{}`, "UnknownOperationException"},
		"unknown op":     {"DynamoDB_20120810.Nope", `{}`, "UnknownOperationException"},
		"malformed":      {"DynamoDB_20120810.ListTables", `{"Limit":`, "SerializationException"},
		"not an object":  {"DynamoDB_20120810.ListTables", `[1]`, "SerializationException"},
		"trailing data":  {"DynamoDB_20120810.ListTables", `{} {}`, "SerializationException"},
		"wrong type":     {"DynamoDB_20120810.ListTables", `{"Limit":"ten"}`, "SerializationException"},
		"fraction":       {"DynamoDB_20120810.ListTables", `{"Limit":1.5}`, "SerializationException"},
		"missing member": {"DynamoDB_20120810.PutItem", `{"Item":{}}`, "ValidationException"},
	} {
		_, _, err := c.Decode(req(tc.target, tc.body))
		var ae *awserr.Error
		if !errors.As(err, &ae) || ae.Code != tc.code || ae.HTTPStatus != 400 {
			t.Errorf("%s: %v, want %s", name, err, tc.code)
		}
	}
	// An empty body is an empty input; null members are absent.
	_, in, err = c.Decode(req("DynamoDB_20120810.ListTables", ``))
	if err != nil || in.(*dynamodb.ListTablesInput).Limit != nil {
		t.Errorf("empty body: %v", err)
	}
	_, in, err = c.Decode(req("DynamoDB_20120810.ListTables", `{"Limit":null,"ExclusiveStartTableName":"x"}`))
	if err != nil || in.(*dynamodb.ListTablesInput).Limit != nil || *in.(*dynamodb.ListTablesInput).ExclusiveStartTableName != "x" {
		t.Errorf("null member: %v", err)
	}
}

func TestWriteError(t *testing.T) {
	w := httptest.NewRecorder()
	awsjson.New(cloudwatch.Service).WriteError(w, nil, awserr.New("Throttling", 400, "Rate \"exceeded\""), "rid")
	if w.Body.String() != `{"__type":"Throttling","message":"Rate \"exceeded\""}` || w.Code != 400 ||
		w.Header().Get("x-amzn-RequestId") != "rid" || w.Header().Get("x-amzn-query-error") != "Throttling;Sender" ||
		w.Header().Get("Content-Type") != "application/x-amz-json-1.0" {
		t.Errorf("%d %v %s", w.Code, w.Header(), w.Body)
	}
}

func FuzzJSONDecode(f *testing.F) {
	for _, s := range []string{
		`{"TableName":"t","Item":{"k":{"S":"v"},"n":{"L":[{"N":"1"},{"M":{"x":{"NULL":true}}}]}}}`,
		`{"TableName":"t","Item":{"b":{"B":"aGk="},"s":{"SS":["a","b"]}},"Expected":{"k":{"Exists":false}}}`,
		`{"TableName":"t","Item":{},"ReturnValues":null}`,
		`{"TableName":5}`,
		`[[[[[[[[[[[[]]]]]]]]]]]]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var in dynamodb.PutItemInput
		if err := awsjson.Unmarshal(body, &in); err != nil {
			return
		}
		if _, err := awsjson.Marshal(&in); err != nil {
			t.Fatalf("decoded input does not encode: %v", err)
		}
	})
}
