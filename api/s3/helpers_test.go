package s3

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	sdks3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	"github.com/hashicorp/raft"

	"github.com/banyancloud/banyan/api/awserr"
	"github.com/banyancloud/banyan/api/iam"
	"github.com/banyancloud/banyan/api/identity"
	"github.com/banyancloud/banyan/api/protocol/restxml"
	"github.com/banyancloud/banyan/api/service"
	"github.com/banyancloud/banyan/api/sigv4"
	"github.com/banyancloud/banyan/cluster/pki"
	"github.com/banyancloud/banyan/cluster/state"
	"github.com/banyancloud/banyan/objectstore"
)

var ctx = context.Background()

// newObjectLayer makes the object layer under test: the memObjects double, unless a
// build tag swaps in the real store (realstore_test.go).
var newObjectLayer = func(t *testing.T) objectstore.ObjectLayer { return newMemObjects() }

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
	return &fsmCluster{st: st, fsm: state.NewFSM(st, slog.New(slog.DiscardHandler))}
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

// testEnv is the S3 front end over memObjects and an fsmCluster, behind a small front
// door that does what api.Server does for S3: verify SigV4 (anonymous allowed), build
// the Call, hand over.
type testEnv struct {
	t       *testing.T
	url     string
	cluster *fsmCluster
	objects objectstore.ObjectLayer
	front   *Frontend
	sealer  *pki.Sealer
	iam     *service.RPC
	root    *iam.RootCredentials

	httpClient *http.Client
	tenants    []*iam.RootCredentials
}

func newEnv(t *testing.T) *testEnv { return startEnv(t, false) }

// newTLSEnv serves over TLS, where aws-sdk-go-v2 streams unseekable bodies as
// aws-chunked with a trailing checksum.
func newTLSEnv(t *testing.T) *testEnv { return startEnv(t, true) }

func startEnv(t *testing.T, useTLS bool) *testEnv {
	t.Helper()
	c := newFSMCluster()
	sealer, err := pki.NewSealer(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	root, err := iam.CreateAccount(ctx, c, nil, sealer, "admin", true)
	if err != nil {
		t.Fatal(err)
	}
	objects := newObjectLayer(t)
	authz := &identity.Authorizer{Store: c.st}
	front := New(c, objects, authz, "us-east-1")
	front.Domains = []string{"s3.test"}
	if testing.Verbose() {
		front.Log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	verifier := &sigv4.Verifier{Credentials: &identity.Directory{Store: c.st, Sealer: sealer}}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reqID := restxml.NewRequestID()
		if os.Getenv("S3_DEBUG") != "" {
			fmt.Println(r.Method, r.URL, r.Header, r.ContentLength)
		}
		tok := r.Header.Get("X-Amz-Security-Token")
		if tok == "" {
			tok = r.URL.Query().Get("X-Amz-Security-Token")
		}
		r = r.WithContext(identity.WithSessionToken(r.Context(), tok))
		res, err := verifier.Verify(r)
		if err != nil {
			restxml.WriteError(w, r, awserr.As(err), r.URL.Path, reqID, "host")
			return
		}
		caller, _ := res.Credential.Principal.(*identity.Caller)
		if caller == nil {
			caller = identity.Anonymous
		}
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
		ip, _ := netip.ParseAddr(host)
		region := res.Region // the region the client signed for, as the front door passes it
		if region == "" {
			region = "us-east-1"
		}
		call := &service.Call{Ctx: r.Context(), Caller: caller, RequestID: reqID, Region: region,
			HTTP: r, SourceIP: ip, Authorizer: authz, Secure: r.TLS != nil}
		front.ServeS3(w, r, call)
	})
	var srv *httptest.Server
	if useTLS {
		srv = httptest.NewTLSServer(h)
	} else {
		srv = httptest.NewServer(h)
	}
	t.Cleanup(srv.Close)
	return &testEnv{t: t, url: srv.URL, cluster: c, objects: objects, front: front, sealer: sealer,
		iam: iam.New(c, sealer), root: root, httpClient: srv.Client()}
}

func (e *testEnv) client(keyID, secret string) *sdks3.Client {
	return sdks3.New(sdks3.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(e.url), UsePathStyle: true,
		Credentials:      credentials.NewStaticCredentialsProvider(keyID, secret, ""),
		RetryMaxAttempts: 1, HTTPClient: e.httpClient,
	})
}

func (e *testEnv) rootClient() *sdks3.Client {
	return e.client(e.root.AccessKeyID, e.root.SecretAccessKey)
}

// newUser makes an IAM user in the admin account with an inline policy (none if
// policy is "") and returns its keys, through the IAM front end's own handlers.
func (e *testEnv) newUser(name, policy string) (string, string) {
	e.t.Helper()
	rootCaller := &identity.Caller{Type: identity.TypeRoot, AccountID: e.root.AccountID,
		ARN: "arn:aws:iam::" + e.root.AccountID + ":root", UserID: e.root.AccountID}
	call := func() *service.Call {
		return &service.Call{Ctx: ctx, Caller: rootCaller, RequestID: "t", Region: "us-east-1",
			Authorizer: &identity.Authorizer{Store: e.cluster.st}}
	}
	if _, err := e.iam.Handlers["CreateUser"](call(), &iam.CreateUserRequest{UserName: name}); err != nil {
		e.t.Fatal(err)
	}
	if policy != "" {
		if _, err := e.iam.Handlers["PutUserPolicy"](call(), &iam.PutUserPolicyRequest{UserName: name, PolicyName: "p", PolicyDocument: policy}); err != nil {
			e.t.Fatal(err)
		}
	}
	out, err := e.iam.Handlers["CreateAccessKey"](call(), &iam.CreateAccessKeyRequest{UserName: aws.String(name)})
	if err != nil {
		e.t.Fatal(err)
	}
	k := out.(*iam.CreateAccessKeyResponse).AccessKey
	return k.AccessKeyId, k.SecretAccessKey
}

// apiCode returns the AWS error code and HTTP status of an SDK error.
func apiCode(err error) (string, int) {
	if err == nil {
		return "", 200
	}
	code := ""
	var ae smithy.APIError
	if errors.As(err, &ae) {
		code = ae.ErrorCode()
	}
	status := 0
	var re interface{ HTTPStatusCode() int }
	if errors.As(err, &re) {
		status = re.HTTPStatusCode()
	}
	return code, status
}

func wantCode(t *testing.T, err error, code string, status int) {
	t.Helper()
	c, s := apiCode(err)
	if c != code || s != status {
		t.Fatalf("got %q %d (%v), want %q %d", c, s, err, code, status)
	}
}

// raw sends an unsigned (anonymous) request.
func (e *testEnv) raw(method, path string, body []byte, hdr map[string]string) (*http.Response, []byte) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.url+path, bytes.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	if body == nil {
		req.Body = nil
		req.ContentLength = 0
	}
	for k, v := range hdr {
		if strings.EqualFold(k, "Host") {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func errorCode(body []byte) string {
	var doc struct {
		Code string `xml:"Code"`
	}
	_ = xml.Unmarshal(body, &doc)
	return doc.Code
}

// iamTenant creates a second account and returns a client with its root keys.
func iamTenant(e *testEnv, name string) (*sdks3.Client, error) {
	creds, err := iam.CreateAccount(ctx, e.cluster, nil, e.sealer, name, false)
	if err != nil {
		return nil, err
	}
	e.tenants = append(e.tenants, creds)
	return e.client(creds.AccessKeyID, creds.SecretAccessKey), nil
}

// signed sends a request signed by the root key with an unsigned payload, for cases
// the SDK will not produce (missing lengths, odd headers).
func (e *testEnv) signed(method, path string, body io.Reader, length int64, hdr map[string]string) (*http.Response, []byte) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.url+path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	req.ContentLength = length
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	req.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
	creds := aws.Credentials{AccessKeyID: e.root.AccessKeyID, SecretAccessKey: e.root.SecretAccessKey}
	if err := v4.NewSigner().SignHTTP(ctx, creds, req, "UNSIGNED-PAYLOAD", "s3", "us-east-1", time.Now()); err != nil {
		e.t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// accountOf returns the ID of the account named name.
func (e *testEnv) accountOf(t *testing.T, name string) string {
	t.Helper()
	for _, b := range e.tenants {
		if b.AccountName == name {
			return b.AccountID
		}
	}
	t.Fatalf("no account %s", name)
	return ""
}
