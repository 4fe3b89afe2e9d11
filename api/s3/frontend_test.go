package s3

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/banyancloud/banyan/api/identity"
	"github.com/banyancloud/banyan/api/service"
)

// A handler that answers success without authorizing is turned into an InternalError.
func TestGuardRefusesUnauthorizedSuccess(t *testing.T) {
	rec := httptest.NewRecorder()
	r := httptest.NewRequest("GET", "/b/k", nil)
	call := &service.Call{Caller: identity.Anonymous, RequestID: "r"}
	g := &guardWriter{ResponseWriter: rec, call: call, log: New(nil, nil, nil, "").Log}
	g.req = &request{r: r, w: g, call: call}
	g.WriteHeader(http.StatusOK)
	g.Write([]byte("secret"))
	if rec.Code != 500 || errorCode(rec.Body.Bytes()) != "InternalError" {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
}

func TestAddressing(t *testing.T) {
	f := New(nil, nil, nil, "us-east-1")
	f.Domains = []string{"s3.example.com"}
	for _, tc := range []struct{ host, path, bucket, key string }{
		{"s3.example.com", "/b/k/x", "b", "k/x"},
		{"b.s3.example.com:8773", "/k/x", "b", "k/x"},
		{"my.bucket.s3.example.com", "/", "my.bucket", ""},
		{"10.0.0.1:8773", "/b", "b", ""},
		{"10.0.0.1:8773", "/", "", ""},
		{"s3.example.com", "/b/a%2Fb", "b", "a/b"},
	} {
		u, _ := url.Parse("http://" + tc.host + tc.path)
		r := &http.Request{Host: tc.host, URL: u}
		b, k := f.address(r)
		if b != tc.bucket || k != tc.key {
			t.Errorf("%s%s: %q %q", tc.host, tc.path, b, k)
		}
	}
}

func TestBucketNames(t *testing.T) {
	for name, ok := range map[string]bool{"abc": true, "a.b-c": true, "ab": false, "ABC": false, "1.2.3.4": false,
		"a..b": false, "a.-b": false, "xn--x": false, "b-s3alias": false, "abc.": false, "a_b": false, "123": true} {
		if validBucketName(name) != ok {
			t.Errorf("%q: %v", name, !ok)
		}
	}
}

func TestClaims(t *testing.T) {
	for _, tc := range []struct {
		method, target, ctype string
		want                  bool
	}{
		{"GET", "/bucket/key", "", true},
		{"OPTIONS", "/bucket/key", "", true},
		{"PUT", "/bucket/key", "text/plain", true},
		{"POST", "/bucket?delete", "application/xml", true},
		{"POST", "/", "application/x-www-form-urlencoded; charset=utf-8", false},
		{"GET", "/?Action=DescribeInstances&Version=2016-11-15", "", false},
		{"POST", "/", "application/x-amz-json-1.1", false},
		{"POST", "/bucket/key", "multipart/form-data", false},
		{"POST", "/bucket", "multipart/form-data; boundary=x", true}, // a browser-based upload
	} {
		r := httptest.NewRequest(tc.method, tc.target, nil)
		if tc.ctype != "" {
			r.Header.Set("Content-Type", tc.ctype)
		}
		if got := Claims(r); got != tc.want {
			t.Errorf("%s %s %s: %v", tc.method, tc.target, tc.ctype, got)
		}
	}
}
