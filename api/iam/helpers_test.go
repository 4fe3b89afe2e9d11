package iam

import (
	"context"
	"crypto/rand"
	"errors"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	sdkiam "github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/smithy-go"

	"github.com/banyancloud/banyan/api"
	"github.com/banyancloud/banyan/api/identity"
	"github.com/banyancloud/banyan/api/sigv4"
	"github.com/banyancloud/banyan/cluster/pki"
	"github.com/banyancloud/banyan/cluster/state"
)

func TestMain(m *testing.M) {
	passwordIterations = 1000 // the production count costs ~0.3 s per hash
	os.Exit(m.Run())
}

var ctx = context.Background()

// testEnv is the real front door (api.Server with SigV4 and policy evaluation) serving
// the IAM front end over a fakeCluster, on a loopback HTTP server.
type testEnv struct {
	t       *testing.T
	cluster *fakeCluster
	sealer  *pki.Sealer
	url     string
}

func newEnv(t *testing.T) *testEnv {
	t.Helper()
	key := make([]byte, 32)
	rand.Read(key)
	sealer, err := pki.NewSealer(key)
	if err != nil {
		t.Fatal(err)
	}
	fc := newFakeCluster()
	srv := &api.Server{
		Verifier:   &sigv4.Verifier{Credentials: &identity.Directory{Store: fc.State(), Sealer: sealer}},
		Authorizer: &identity.Authorizer{Store: fc.State()},
		Log:        slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	srv.Register(New(fc, sealer))
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return &testEnv{t: t, cluster: fc, sealer: sealer, url: ts.URL}
}

// account creates a tenant and returns a client signed with its root key.
func (e *testEnv) account(name string) (*sdkiam.Client, *RootCredentials) {
	e.t.Helper()
	existing, _ := e.cluster.State().IAMEntities(state.KindAccount, "")
	root, err := CreateAccount(ctx, e.cluster, existing, e.sealer, name, false)
	if err != nil {
		e.t.Fatal(err)
	}
	return e.client(root.AccessKeyID, root.SecretAccessKey), root
}

func (e *testEnv) client(akid, secret string) *sdkiam.Client {
	return sdkiam.NewFromConfig(aws.Config{
		Region:           "us-east-1",
		Credentials:      credentials.NewStaticCredentialsProvider(akid, secret, ""),
		BaseEndpoint:     aws.String(e.url),
		RetryMaxAttempts: 1,
	})
}

// userClient creates an IAM user with an access key through admin and returns a client
// signed as that user.
func (e *testEnv) userClient(admin *sdkiam.Client, name string) *sdkiam.Client {
	e.t.Helper()
	must(e.t, call(admin.CreateUser(ctx, &sdkiam.CreateUserInput{UserName: aws.String(name)})))
	k := must(e.t, call(admin.CreateAccessKey(ctx, &sdkiam.CreateAccessKeyInput{UserName: aws.String(name)})))
	return e.client(*k.AccessKey.AccessKeyId, *k.AccessKey.SecretAccessKey)
}

type result[T any] struct {
	v   T
	err error
}

func call[T any](v T, err error) result[T] { return result[T]{v, err} }

// must returns the output of an SDK call that has to succeed.
func must[T any](t *testing.T, r result[T]) T {
	t.Helper()
	if r.err != nil {
		t.Fatalf("unexpected error: %v", r.err)
	}
	return r.v
}

// wantErr checks that an SDK call failed with an AWS error code and HTTP status.
func wantErr(t *testing.T, err error, code string, status int) *smithy.GenericAPIError {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("want %s (%d), got %v", code, status, err)
	}
	var re *awshttp.ResponseError
	if !errors.As(err, &re) {
		t.Fatalf("want %s (%d), got %v with no HTTP response", code, status, err)
	}
	if ae.ErrorCode() != code || re.HTTPStatusCode() != status {
		t.Fatalf("want %s (%d), got %s (%d): %s", code, status, ae.ErrorCode(), re.HTTPStatusCode(), ae.ErrorMessage())
	}
	return &smithy.GenericAPIError{Code: ae.ErrorCode(), Message: ae.ErrorMessage(), Fault: ae.ErrorFault()}
}

func fail[T any](t *testing.T, r result[T], code string, status int) *smithy.GenericAPIError {
	t.Helper()
	return wantErr(t, r.err, code, status)
}

const (
	allowAll = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`
	allowIAM = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:*","Resource":"*"}]}`
	trustEC2 = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}`
)

func errorsAs(err error, target any) bool { return errors.As(err, target) }

// mustAccount returns the account ID of a client's caller.
func mustAccount(t *testing.T, e *testEnv, c *sdkiam.Client) string {
	t.Helper()
	u := must(t, call(c.GetUser(ctx, &sdkiam.GetUserInput{})))
	arn := *u.User.Arn // arn:aws:iam::ACCOUNT:...
	return arn[len("arn:aws:iam::") : len("arn:aws:iam::")+12]
}

// policy creates a managed policy and returns its ARN.
func (e *testEnv) policy(c *sdkiam.Client, name, doc string) *string {
	e.t.Helper()
	return must(e.t, call(c.CreatePolicy(ctx, &sdkiam.CreatePolicyInput{PolicyName: aws.String(name), PolicyDocument: aws.String(doc)}))).Policy.Arn
}
