package sigv4

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/banyancloud/banyan/api/awserr"
)

// Test credentials used against the recording server.
const (
	testKeyID  = "AKIDBANYANTEST000001"
	testSecret = "banyan/test+secret/0123456789ABCDEFGHIJ"
)

// seen is what the recording server observed for one request.
type seen struct {
	method, path, query string
	header              http.Header // as received, before Verify touched it
	res                 *Result
	err                 error // from Verify, or from reading the body
	body                []byte
	trailer             http.Header
}

func (s seen) String() string {
	mode := "-"
	if s.res != nil {
		mode = s.res.Payload.String()
	}
	var sums []string
	for k := range s.header {
		if strings.HasPrefix(k, "X-Amz-Checksum-") || k == "Content-Md5" || k == "X-Amz-Sdk-Checksum-Algorithm" {
			sums = append(sums, k)
		}
	}
	slices.Sort(sums)
	return fmt.Sprintf("%s %s mode=%s content-sha256=%q encoding=%q x-amz-trailer=%q checksum-headers=%v err=%v",
		s.method, s.path, mode, s.header.Get("X-Amz-Content-Sha256"), s.header.Get("Content-Encoding"), s.header.Get("X-Amz-Trailer"), sums, s.err)
}

// recorder is an AWS endpoint double: it runs the real Verifier on every request, reads the
// body through what Verify installed, records everything and answers just enough for the
// SDKs and the CLI to consider the call a success.
type recorder struct {
	t  testing.TB
	v  *Verifier
	mu sync.Mutex
	ss []seen
}

func newRecorder(t testing.TB, tls bool) (*httptest.Server, *recorder) {
	rec := &recorder{t: t, v: &Verifier{
		Credentials: staticStore{testKeyID: {AccessKeyID: testKeyID, SecretAccessKey: testSecret, Principal: "tester"}},
	}}
	var ts *httptest.Server
	if tls {
		ts = httptest.NewTLSServer(rec)
	} else {
		ts = httptest.NewServer(rec)
	}
	t.Cleanup(ts.Close)
	return ts, rec
}

func (rec *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s := seen{method: r.Method, path: r.URL.EscapedPath(), query: r.URL.RawQuery, header: r.Header.Clone()}
	s.res, s.err = rec.v.Verify(r)
	if s.err == nil {
		s.body, s.err = io.ReadAll(r.Body)
		s.trailer = s.res.Trailer()
	}
	rec.mu.Lock()
	rec.ss = append(rec.ss, s)
	rec.mu.Unlock()

	if s.err != nil {
		e := awserr.As(s.err)
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(e.HTTPStatus)
		fmt.Fprintf(w, "<Error><Code>%s</Code><Message>%s</Message></Error>", e.Code, e.Message)
		return
	}
	service := ""
	if s.res != nil {
		service = s.res.Service
	}
	w.Header().Set("Content-Type", "text/xml")
	switch {
	case service == "sts":
		fmt.Fprint(w, `<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult>`+
			`<Arn>arn:aws:iam::123456789012:user/tester</Arn><UserId>AIDATESTER</UserId><Account>123456789012</Account>`+
			`</GetCallerIdentityResult><ResponseMetadata><RequestId>1</RequestId></ResponseMetadata></GetCallerIdentityResponse>`)
	case service == "iam":
		fmt.Fprint(w, `<ListUsersResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><ListUsersResult><Users/>`+
			`<IsTruncated>false</IsTruncated></ListUsersResult><ResponseMetadata><RequestId>1</RequestId></ResponseMetadata></ListUsersResponse>`)
	case strings.Contains(r.URL.RawQuery, "list-type=2"):
		fmt.Fprint(w, `<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>bkt</Name><KeyCount>0</KeyCount><IsTruncated>false</IsTruncated></ListBucketResult>`)
	case strings.HasSuffix(r.URL.RawQuery, "delete") || strings.Contains(r.URL.RawQuery, "delete="):
		fmt.Fprint(w, `<DeleteResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"></DeleteResult>`)
	case r.Method == http.MethodPut:
		w.Header().Set("ETag", `"d41d8cd98f00b204e9800998ecf8427e"`)
	case r.Method == http.MethodGet:
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Last-Modified", time.Now().UTC().Format(http.TimeFormat))
		fmt.Fprint(w, "object bytes")
	}
}

func (rec *recorder) all() []seen {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]seen(nil), rec.ss...)
}

// only returns the single request recorded, failing if there were others or it failed.
func (rec *recorder) only(t testing.TB) seen {
	t.Helper()
	ss := rec.all()
	if len(ss) != 1 {
		for _, s := range ss {
			t.Log(s)
		}
		t.Fatalf("recorded %d requests, want 1", len(ss))
	}
	if ss[0].err != nil {
		t.Fatalf("%v", ss[0])
	}
	return ss[0]
}

func (rec *recorder) reset() {
	rec.mu.Lock()
	rec.ss = nil
	rec.mu.Unlock()
}
