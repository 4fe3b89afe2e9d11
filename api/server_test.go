package api_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/hashicorp/raft"

	"github.com/banyancloud/banyan/api"
	"github.com/banyancloud/banyan/api/iam"
	"github.com/banyancloud/banyan/api/identity"
	"github.com/banyancloud/banyan/api/sigv4"
	"github.com/banyancloud/banyan/api/sts"
	"github.com/banyancloud/banyan/cluster/pki"
	"github.com/banyancloud/banyan/cluster/state"
)

// fsmCluster is a test double for service.Cluster: it applies commands straight to the
// real state machine, with no Raft in between.
type fsmCluster struct {
	mu    sync.Mutex
	st    *state.Store
	fsm   *state.FSM
	index uint64
}

func newFSMCluster() *fsmCluster {
	st := state.NewStore()
	return &fsmCluster{st: st, fsm: state.NewFSM(st, slog.New(slog.NewTextHandler(io.Discard, nil)))}
}

func (c *fsmCluster) State() *state.Store { return c.st }

func (c *fsmCluster) Apply(_ context.Context, cmd state.Command, out any) (uint64, error) {
	data, err := state.Encode(cmd)
	if err != nil {
		return 0, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.index++
	res := c.fsm.Apply(&raft.Log{Index: c.index, Type: raft.LogCommand, Data: data}).(*state.Result)
	if res.Err != nil {
		return res.Index, res.Err
	}
	if out != nil && len(res.Value) > 0 {
		return res.Index, state.Unmarshal(res.Value, out)
	}
	return res.Index, nil
}

func newFrontDoor(t *testing.T) (*httptest.Server, *iam.RootCredentials) {
	t.Helper()
	c := newFSMCluster()
	sealer, _ := pki.NewSealer(make([]byte, 32))
	creds, err := iam.CreateAccount(context.Background(), c, nil, sealer, "admin", true)
	if err != nil {
		t.Fatal(err)
	}
	dir := &identity.Directory{Store: c.st, Sealer: sealer}
	s := &api.Server{Verifier: &sigv4.Verifier{Credentials: dir}, Authorizer: &identity.Authorizer{Store: c.st},
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	s.Register(iam.New(c, sealer))
	s.Register(sts.New(c, dir))
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return srv, creds
}

type awsError struct {
	Code, Message string
}

func decodeError(t *testing.T, body []byte) awsError {
	var doc struct {
		Error awsError `xml:"Error"`
	}
	if err := xml.Unmarshal(body, &doc); err != nil {
		t.Fatalf("error body is not an AWS query error: %v\n%s", err, body)
	}
	return doc.Error
}

func TestFrontDoorBadInput(t *testing.T) {
	srv, creds := newFrontDoor(t)
	key := aws.Credentials{AccessKeyID: creds.AccessKeyID, SecretAccessKey: creds.SecretAccessKey}

	signed := func(service, body string, mutate func(*http.Request)) *http.Request {
		r, _ := http.NewRequest("POST", srv.URL+"/", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
		sum := sha256.Sum256([]byte(body))
		if err := v4.NewSigner().SignHTTP(context.Background(), key, r, hex.EncodeToString(sum[:]), service, "us-east-1", time.Now()); err != nil {
			t.Fatal(err)
		}
		if mutate != nil {
			mutate(r)
		}
		return r
	}
	big := "Action=GetCallerIdentity&Version=2011-06-15&Pad=" + strings.Repeat("x", 9<<20)
	cases := []struct {
		name   string
		req    *http.Request
		status int
		code   string
	}{
		{"works", signed("sts", "Action=GetCallerIdentity&Version=2011-06-15", nil), 200, ""},
		{"unsigned", func() *http.Request {
			r, _ := http.NewRequest("POST", srv.URL+"/", strings.NewReader("Action=GetCallerIdentity&Version=2011-06-15"))
			return r
		}(), 403, "MissingAuthenticationToken"},
		{"wrong signature", signed("sts", "Action=GetCallerIdentity&Version=2011-06-15", func(r *http.Request) {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "Signature=", "Signature=00", 1)[:len(r.Header.Get("Authorization"))])
		}), 403, "SignatureDoesNotMatch"},
		{"tampered body", signed("sts", "Action=GetCallerIdentity&Version=2011-06-15", func(r *http.Request) {
			tampered := "Action=GetSessionToken&Version=2011-06-15xx"
			r.Body, r.ContentLength = io.NopCloser(strings.NewReader(tampered)), int64(len(tampered))
			r.GetBody = nil
		}), 403, "SignatureDoesNotMatch"},
		{"missing date header", signed("sts", "Action=GetCallerIdentity&Version=2011-06-15", func(r *http.Request) {
			r.Header.Del("X-Amz-Date")
		}), 400, "IncompleteSignature"},
		{"malformed authorization", signed("sts", "Action=GetCallerIdentity&Version=2011-06-15", func(r *http.Request) {
			r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=garbage")
		}), 400, "IncompleteSignature"},
		{"unknown action", signed("sts", "Action=FlyToTheMoon&Version=2011-06-15", nil), 400, "InvalidAction"},
		{"missing action", signed("iam", "Version=2010-05-08", nil), 400, ""},
		{"malformed query", signed("iam", "Action=ListUsers&Version=2010-05-08&MaxItems=%zz", nil), 400, ""},
		{"bad parameter type", signed("iam", "Action=ListUsers&Version=2010-05-08&MaxItems=lots", nil), 400, ""},
		{"body over the limit", signed("sts", big, nil), 413, "RequestEntityTooLarge"},
		{"unknown service", signed("quantum", "Action=X", nil), 400, "UnknownService"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := http.DefaultClient.Do(tc.req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.Header.Get("x-amzn-RequestId") == "" {
				t.Error("no request ID")
			}
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d\n%s", resp.StatusCode, tc.status, body)
			}
			if tc.status == 200 {
				return
			}
			e := decodeError(t, body)
			if e.Code == "" || e.Message == "" || (tc.code != "" && e.Code != tc.code) {
				t.Fatalf("error %+v, want code %q\n%s", e, tc.code, bytes.TrimSpace(body))
			}
		})
	}
}

// A request announcing Expect: 100-continue with an empty body gets "100 Continue" before
// its answer, as from S3. Without it botocore keeps the final answer's status line on the
// keep-alive connection and misreads the next response on it (aws-cli then stalls for 60 s
// after syncing an empty file). Two requests on one connection show both answers whole.
func TestEmptyBodyExpectContinue(t *testing.T) {
	srv, _ := newFrontDoor(t)
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(conn)
	for i := range 2 {
		fmt.Fprintf(conn, "PUT /bucket/empty%d HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 0\r\n\r\n", i)
		status, err := br.ReadString('\n')
		if err != nil || !strings.HasPrefix(status, "HTTP/1.1 100 ") {
			t.Fatalf("request %d: first line %q, %v; want 100 Continue", i, status, err)
		}
		for { // the interim response's header block
			line, err := br.ReadString('\n')
			if err != nil {
				t.Fatal(err)
			}
			if line == "\r\n" {
				break
			}
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("request %d: final answer: %v", i, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden && resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("request %d: unsigned PUT answered %d", i, resp.StatusCode)
		}
	}
}
