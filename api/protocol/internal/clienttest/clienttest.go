// Package clienttest serves a codec over HTTP for tests and drives it with the real
// clients Banyan promises to speak to: boto3/botocore from Python (skipped when absent)
// and, in the codec tests themselves, aws-sdk-go-v2.
package clienttest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"sync"
	"testing"

	"github.com/banyancloud/banyan/api/awserr"
	"github.com/banyancloud/banyan/api/protocol"
)

// Call is one request the server decoded.
type Call struct {
	Op     string
	Input  any
	Header http.Header
	Body   []byte // the raw request body
}

// Server is a test server answering with one codec and a handler.
type Server struct {
	*httptest.Server
	mu    sync.Mutex
	calls []Call
}

// Handler answers a decoded call with an output or an error.
type Handler func(op *protocol.Operation, in any) (any, error)

// Serve starts a server that decodes with p, records the call and answers with h's
// output or error.
func Serve(t testing.TB, p protocol.Protocol, h Handler) *Server {
	s := &Server{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(raw))
		id := protocol.NewRequestID()
		op, in, err := p.Decode(r)
		if err != nil {
			p.WriteError(w, r, awserr.As(err), id)
			return
		}
		s.mu.Lock()
		s.calls = append(s.calls, Call{Op: op.Name, Input: in, Header: r.Header.Clone(), Body: raw})
		s.mu.Unlock()
		out, err := h(op, in)
		if err != nil {
			p.WriteError(w, r, awserr.As(err), id)
			return
		}
		if err := p.WriteResponse(w, r, op, out, id); err != nil {
			t.Errorf("WriteResponse %s: %v", op.Name, err)
		}
	}))
	t.Cleanup(s.Close)
	return s
}

// Calls returns the calls decoded so far.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Call(nil), s.calls...)
}

// Last returns the last decoded call, failing the test when there is none.
func (s *Server) Last(t testing.TB) Call {
	t.Helper()
	calls := s.Calls()
	if len(calls) == 0 {
		t.Fatal("the server decoded no call")
	}
	return calls[len(calls)-1]
}

const prelude = `
import json, sys, datetime, boto3, botocore
from botocore.config import Config
def client(name):
    return boto3.client(name, region_name='us-east-1', endpoint_url=ENDPOINT,
        aws_access_key_id='AKIDEXAMPLE', aws_secret_access_key='secret',
        config=Config(retries={'max_attempts': 1}))
def error_of(fn):
    try:
        fn()
    except botocore.exceptions.ClientError as e:
        return {'Code': e.response['Error'].get('Code'), 'Message': e.response['Error'].get('Message'),
                'Status': e.response['ResponseMetadata'].get('HTTPStatusCode'),
                'RequestId': e.response['ResponseMetadata'].get('RequestId'),
                'Type': e.response['Error'].get('Type')}
    return None
def clean(x):
    if isinstance(x, dict):
        return {k: clean(v) for k, v in x.items() if k != 'ResponseMetadata'}
    if isinstance(x, list):
        return [clean(v) for v in x]
    if isinstance(x, datetime.datetime):
        return x.astimezone(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%S.%fZ')
    if isinstance(x, bytes):
        return {'bytes': list(x)}
    return x
OUT = {}
`

// Boto3 runs a Python script with boto3 against endpoint and returns what it put in
// the OUT dict, cleaned of response metadata (datetimes as ISO 8601 UTC with
// microseconds, bytes as {"bytes": [...]}). The script can use client(name) and
// error_of(fn). The test is skipped when python3 or boto3 is missing.
func Boto3(t testing.TB, endpoint, script string) map[string]any {
	t.Helper()
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not installed")
	}
	src := "ENDPOINT = " + strconvQuote(endpoint) + "\n" + prelude + script +
		"\nprint(json.dumps(clean(OUT)))\n"
	cmd := exec.Command(py, "-c", src)
	cmd.Env = append(os.Environ(), "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null",
		"AWS_EC2_METADATA_DISABLED=true", "AWS_RETRY_MODE=standard")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if bytes.Contains(stderr.Bytes(), []byte("No module named 'boto3'")) {
			t.Skip("boto3 not installed")
		}
		t.Fatalf("python: %v\n%s", err, stderr.String())
	}
	var out map[string]any
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		t.Fatalf("python output %q: %v\n%s", stdout.String(), err, stderr.String())
	}
	return out
}

func strconvQuote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
