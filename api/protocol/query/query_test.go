package query_test

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/banyancloud/banyan/api/awserr"
	"github.com/banyancloud/banyan/api/protocol"
	"github.com/banyancloud/banyan/api/protocol/internal/testsvc/iam"
	"github.com/banyancloud/banyan/api/protocol/internal/testsvc/sts"
	"github.com/banyancloud/banyan/api/protocol/query"
)

func post(body string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	return r
}

func decodeErr(t *testing.T, c *query.Codec, r *http.Request) *awserr.Error {
	t.Helper()
	_, _, err := c.Decode(r)
	var ae *awserr.Error
	if !errors.As(err, &ae) {
		t.Fatalf("Decode error %v, want an *awserr.Error", err)
	}
	return ae
}

func TestDecodeErrors(t *testing.T) {
	c := query.New(iam.Service)
	for _, tc := range []struct {
		name, body string
		code, msg  string
	}{
		{"missing action", "Version=2010-05-08", "MissingAction", ""},
		{"unknown action", "Action=Nope&Version=2010-05-08", "InvalidAction", "Could not find operation Nope for version 2010-05-08."},
		{"missing required", "Action=CreateUser&Version=2010-05-08",
			"ValidationError", "1 validation error detected: Value null at 'userName' failed to satisfy constraint: Member must not be null"},
		{"missing nested required", "Action=CreateUser&UserName=a&Tags.member.1.Key=k",
			"ValidationError", "1 validation error detected: Value null at 'tags.1.member.value' failed to satisfy constraint: Member must not be null"},
		{"bad integer", "Action=ListUsers&MaxItems=ten", "ValidationError", ""},
		{"integer overflow", "Action=ListUsers&MaxItems=99999999999", "ValidationError", ""},
		{"bad escape", "Action=ListUsers&PathPrefix=%zz", "MalformedQueryString", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := decodeErr(t, c, post(tc.body))
			if e.Code != tc.code || e.HTTPStatus != http.StatusBadRequest || (tc.msg != "" && e.Message != tc.msg) {
				t.Errorf("got %s %d %q, want %s %q", e.Code, e.HTTPStatus, e.Message, tc.code, tc.msg)
			}
		})
	}
}

func TestDecodeForms(t *testing.T) {
	c := query.New(iam.Service)

	// GET with the parameters in the query string.
	r := httptest.NewRequest(http.MethodGet, "/?Action=ListUsers&MaxItems=5&Marker=m%2B1&Unknown=x", nil)
	op, in, err := c.Decode(r)
	if err != nil || op.Name != "ListUsers" {
		t.Fatal(op, err)
	}
	lu := in.(*iam.ListUsersRequest)
	if *lu.MaxItems != 5 || *lu.Marker != "m+1" || lu.PathPrefix != nil {
		t.Errorf("GET decoded %+v", lu)
	}

	// "Tags=" is how clients send an empty list: present, zero length.
	_, in, err = c.Decode(post("Action=CreateUser&UserName=u&Tags="))
	if err != nil {
		t.Fatal(err)
	}
	if cu := in.(*iam.CreateUserRequest); cu.Tags == nil || len(cu.Tags) != 0 {
		t.Errorf("empty list decoded as %#v", cu.Tags)
	}

	// Out-of-order indices come back in index order; maps use entry.N.key/value.
	_, in, err = c.Decode(post("Action=TagUser&UserName=u&Tags.member.2.Key=b&Tags.member.2.Value=2&Tags.member.1.Key=a&Tags.member.1.Value=1"))
	if err != nil {
		t.Fatal(err)
	}
	if tags := in.(*iam.TagUserRequest).Tags; len(tags) != 2 || tags[0].Key != "a" || tags[1].Key != "b" {
		t.Errorf("tags %+v", tags)
	}

	// Operations without an input shape decode to nil.
	op, in, err = c.Decode(post("Action=GetAccountSummary"))
	if err != nil || op.Name != "GetAccountSummary" || in != nil {
		t.Errorf("GetAccountSummary: %v %v %v", op, in, err)
	}
}

func TestDecodeTimestampsAndBlobs(t *testing.T) {
	type input struct {
		When  time.Time         `query:"When"`
		Maybe *time.Time        `query:"Maybe"`
		Data  []byte            `query:"Data"`
		Flags []bool            `query:"Flag,flat"`
		Attrs map[string]string `query:"Attrs"`
	}
	var in input
	err := query.Unmarshal(url.Values{
		"When":                {"2024-03-01T12:30:45.123456Z"},
		"Maybe":               {"2024-03-01T12:30:45+02:00"},
		"Data":                {"aGVsbG8="},
		"Flag.1":              {"true"},
		"Flag.2":              {"false"},
		"Attrs.entry.1.key":   {"k"},
		"Attrs.entry.1.value": {"v"},
	}, &in)
	if err != nil {
		t.Fatal(err)
	}
	if !in.When.Equal(time.Date(2024, 3, 1, 12, 30, 45, 123456000, time.UTC)) || !in.Maybe.Equal(time.Date(2024, 3, 1, 10, 30, 45, 0, time.UTC)) {
		t.Errorf("times %v %v", in.When, in.Maybe)
	}
	if string(in.Data) != "hello" || len(in.Flags) != 2 || !in.Flags[0] || in.Flags[1] || in.Attrs["k"] != "v" {
		t.Errorf("decoded %+v", in)
	}
	var bad input
	err = query.Unmarshal(url.Values{"When": {"yesterday"}}, &bad)
	var ie *protocol.InputError
	if !errors.As(err, &ie) || ie.Path != "When" || ie.Kind != "timestamp" {
		t.Errorf("bad timestamp: %v", err)
	}
}

func TestBodyLimitsAndGzip(t *testing.T) {
	c := query.New(iam.Service)
	c.MaxBodyBytes = 64
	e := decodeErr(t, c, post("Action=ListUsers&Marker="+strings.Repeat("x", 100)))
	if e.Code != "RequestEntityTooLarge" || e.HTTPStatus != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized body: %v", e)
	}

	var zipped bytes.Buffer
	zw := gzip.NewWriter(&zipped)
	io.WriteString(zw, "Action=ListUsers&Marker="+strings.Repeat("y", 10000))
	zw.Close()
	r := post(zipped.String())
	r.Header.Set("Content-Encoding", "gzip")
	if e := decodeErr(t, c, r); e.Code != "RequestEntityTooLarge" {
		t.Errorf("gzip bomb: %v", e)
	}

	c.MaxBodyBytes = 0
	r = post(zipped.String())
	r.Header.Set("Content-Encoding", "gzip")
	_, in, err := c.Decode(r)
	if err != nil || len(*in.(*iam.ListUsersRequest).Marker) != 10000 {
		t.Errorf("gzip body: %v", err)
	}
}

func TestResponseDocuments(t *testing.T) {
	op := sts.Operations["GetCallerIdentity"]
	got := string(query.AppendResponse(nil, sts.XMLNamespace, op, &sts.GetCallerIdentityResponse{
		UserId: ptr("AIDA<1>"), Account: ptr("123456789012"),
	}, "req-1"))
	want := `<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult>` +
		`<UserId>AIDA&lt;1&gt;</UserId><Account>123456789012</Account></GetCallerIdentityResult>` +
		`<ResponseMetadata><RequestId>req-1</RequestId></ResponseMetadata></GetCallerIdentityResponse>`
	if got != want {
		t.Errorf("response\n got %s\nwant %s", got, want)
	}

	got = string(query.AppendResponse(nil, iam.XMLNamespace, iam.Operations["DeleteUser"], nil, "req-2"))
	want = `<DeleteUserResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><ResponseMetadata><RequestId>req-2</RequestId></ResponseMetadata></DeleteUserResponse>`
	if got != want {
		t.Errorf("no-output response\n got %s\nwant %s", got, want)
	}

	w := httptest.NewRecorder()
	query.New(iam.Service).WriteError(w, post(""), iam.Errors["NoSuchEntityException"].Error("no \"such\" user"), "req-3")
	want = `<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><Error><Type>Sender</Type><Code>NoSuchEntity</Code>` +
		`<Message>no &quot;such&quot; user</Message></Error><RequestId>req-3</RequestId></ErrorResponse>`
	if w.Code != http.StatusNotFound || w.Body.String() != want || w.Header().Get("Content-Type") != "text/xml" {
		t.Errorf("error %d %s\n got %s\nwant %s", w.Code, w.Header(), w.Body, want)
	}
}

func ptr[T any](v T) *T { return &v }

func FuzzQueryDecode(f *testing.F) {
	for _, seed := range []string{
		"Action=CreateUser&UserName=a&Tags.member.1.Key=k&Tags.member.1.Value=v",
		"Action=ListUsers&MaxItems=3&Marker=x",
		"Action=TagUser&UserName=u&Tags=",
		"Action=CreateUser&UserName=a&Tags.member.99999999999.Key=k",
		"Action=CreateUser&UserName.a.b=1&Tags.member.1=x&Tags.member.01.Key=y",
		"Action=SimulateCustomPolicy&PolicyInputList.member.1=p&ContextEntries.member.1.ContextKeyValues.member.1=v&ActionNames.member.1=s3:Get",
		"Action=%zz",
	} {
		f.Add(seed)
	}
	c := query.New(iam.Service)
	f.Fuzz(func(t *testing.T, body string) {
		op, in, err := c.Decode(post(body))
		if err != nil {
			var ae *awserr.Error
			if !errors.As(err, &ae) || ae.HTTPStatus < 400 {
				t.Fatalf("Decode error %T %v is not an AWS error", err, err)
			}
			return
		}
		// Whatever decoded must encode.
		query.AppendResponse(nil, iam.XMLNamespace, op, in, "id")
	})
}

func BenchmarkDecodeCreateUser(b *testing.B) {
	values, _ := url.ParseQuery("Action=CreateUser&Version=2010-05-08&UserName=alice&Path=%2F&Tags.member.1.Key=team&Tags.member.1.Value=storage&Tags.member.2.Key=env&Tags.member.2.Value=prod")
	c := query.New(iam.Service)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, _, err := c.DecodeValues(values); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeListUsers(b *testing.B) {
	out := &iam.ListUsersResponse{IsTruncated: ptr(false)}
	for i := 0; i < 100; i++ {
		out.Users = append(out.Users, iam.User{Path: "/", UserName: "user", UserId: "AIDAEXAMPLE", Arn: "arn:aws:iam::123456789012:user/user", CreateDate: time.Now()})
	}
	op := iam.Operations["ListUsers"]
	var buf []byte
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		buf = query.AppendResponse(buf[:0], iam.XMLNamespace, op, out, "id")
	}
	b.SetBytes(int64(len(buf)))
}
