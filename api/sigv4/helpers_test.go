package sigv4

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/banyancloud/banyan/api/awserr"
)

// staticStore is a CredentialStore double holding a fixed set of keys.
type staticStore map[string]Credential

func (s staticStore) LookupAccessKey(_ context.Context, id string) (Credential, error) {
	c, ok := s[id]
	if !ok {
		return Credential{}, fmt.Errorf("access key %s: %w", id, ErrUnknownAccessKey)
	}
	return c, nil
}

func fixedClock(t time.Time) func() time.Time { return func() time.Time { return t } }

func mustTime(t testing.TB, s string) time.Time {
	t.Helper()
	tm, err := time.Parse(iso8601, s)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

// rawRequest builds the *http.Request Go's server would hand a handler for the raw HTTP/1.1
// text of the test suite files: the request line kept as sent (it may hold spaces and raw
// UTF-8, which no real client sends but the vectors do), Host moved to r.Host, continuation
// lines folded as textproto folds them.
func rawRequest(t testing.TB, raw string) *http.Request {
	t.Helper()
	head, body, _ := strings.Cut(raw, "\n\n")
	lines := strings.Split(head, "\n")
	method, rest, _ := strings.Cut(lines[0], " ")
	uri := strings.TrimSuffix(rest, " HTTP/1.1")
	r := &http.Request{
		Method:     method,
		RequestURI: uri,
		Header:     http.Header{},
		Proto:      "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
	}
	p, q, _ := strings.Cut(uri, "?")
	r.URL = &url.URL{Path: p, RawQuery: q}
	var last string
	for _, l := range lines[1:] {
		if l == "" {
			continue
		}
		if l[0] == ' ' || l[0] == '\t' {
			vals := r.Header[last]
			vals[len(vals)-1] += " " + strings.TrimSpace(l)
			continue
		}
		k, v, ok := strings.Cut(l, ":")
		if !ok {
			t.Fatalf("bad header line %q", l)
		}
		last = http.CanonicalHeaderKey(k)
		r.Header.Add(last, strings.TrimSpace(v))
	}
	r.Host = r.Header.Get("Host")
	delete(r.Header, "Host")
	r.ContentLength = int64(len(body))
	if cl := r.Header.Get("Content-Length"); cl != "" {
		n, err := strconv.ParseInt(cl, 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		r.ContentLength = n
		body = body[:min(int64(len(body)), n)]
	}
	r.Body = io.NopCloser(strings.NewReader(body))
	if len(body) == 0 {
		r.Body = http.NoBody
	}
	return r.WithContext(context.Background())
}

// wantCode fails unless err carries the AWS code and HTTP status.
func wantCode(t testing.TB, err error, code string, status int) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %s (%d)", code, status)
	}
	var e *awserr.Error
	if !errors.As(err, &e) {
		t.Fatalf("got %T %v, want *awserr.Error %s", err, err, code)
	}
	if e.Code != code || e.HTTPStatus != status {
		t.Fatalf("got %s (%d) %q, want %s (%d)", e.Code, e.HTTPStatus, e.Message, code, status)
	}
}

// readAll reads a verified body, returning what a handler would see.
func readAll(t testing.TB, r *http.Request) ([]byte, error) {
	t.Helper()
	if r.Body == nil {
		return nil, nil
	}
	return io.ReadAll(r.Body)
}
