package ec2

import (
	"context"
	"crypto/md5"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	sdk "github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	sdkiam "github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/smithy-go"
	"golang.org/x/crypto/ssh"

	"github.com/banyancloud/banyan/api"
	"github.com/banyancloud/banyan/api/iam"
	"github.com/banyancloud/banyan/api/identity"
	"github.com/banyancloud/banyan/api/sigv4"
	"github.com/banyancloud/banyan/cluster/pki"
	"github.com/banyancloud/banyan/cluster/state"
)

var ctx = context.Background()

// testEnv is the real front door (SigV4, policy evaluation, the EC2 query protocol)
// serving the EC2 front end over state.Local (a test double of the cluster's write path)
// on a loopback HTTP server, with the aws-sdk-go-v2 EC2 client.
type testEnv struct {
	t       *testing.T
	local   *state.Local
	sealer  *pki.Sealer
	url     string
	live    []string
	sources map[string]int64 // s3://bucket/key → size, for ImportImage
	roots   []*iam.RootCredentials
}

func newEnv(t *testing.T) *testEnv {
	t.Helper()
	key := make([]byte, 32)
	rand.Read(key)
	sealer, err := pki.NewSealer(key)
	if err != nil {
		t.Fatal(err)
	}
	e := &testEnv{t: t, local: state.NewLocal(), sealer: sealer, live: []string{"box1", "box2"}, sources: map[string]int64{}}
	srv := &api.Server{
		Verifier:   &sigv4.Verifier{Credentials: &identity.Directory{Store: e.local.State(), Sealer: sealer}},
		Authorizer: &identity.Authorizer{Store: e.local.State()},
		Log:        slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	n := 0
	srv.Register(New(e.local, Deps{
		Region: "us-east-1",
		Live:   func() []string { return e.live },
		Console: func(ctx context.Context, node, id string) ([]byte, error) {
			return []byte("console of " + id + " on " + node), nil
		},
		ImportSource: func(ctx context.Context, account, bucket, key string) (int64, error) {
			size, ok := e.sources["s3://"+bucket+"/"+key]
			if !ok {
				return 0, errors.New("no such object")
			}
			return size, nil
		},
		NewID:  func(prefix string) string { n++; return fmt.Sprintf("%s%017x", prefix, n) },
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}))
	srv.Register(iam.New(e.local, sealer))
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	e.url = ts.URL
	for i, b := range []string{"box1", "box2"} {
		e.apply(&state.ReportBox{Box: state.Box{Node: b, Zone: "us-east-1" + string(rune('a'+i)), VCPUs: 2, MemoryMiB: 4096, DiskGiB: 100, Accel: "tcg", Hypervisor: state.HypervisorUp}})
	}
	return e
}

func (e *testEnv) apply(cmd state.Command) {
	e.t.Helper()
	if _, err := e.local.Apply(ctx, cmd, nil); err != nil {
		e.t.Fatal(err)
	}
}

// account creates a tenant and returns an EC2 client signed with its root key.
func (e *testEnv) account(name string) (*sdk.Client, string) {
	e.t.Helper()
	existing, _ := e.local.State().IAMEntities(state.KindAccount, "")
	root, err := iam.CreateAccount(ctx, e.local, existing, e.sealer, name, false)
	if err != nil {
		e.t.Fatal(err)
	}
	e.roots = append(e.roots, root)
	return sdk.NewFromConfig(e.config(root.AccessKeyID, root.SecretAccessKey)), root.AccountID
}

func (e *testEnv) config(akid, secret string) aws.Config {
	return aws.Config{
		Region:           "us-east-1",
		Credentials:      credentials.NewStaticCredentialsProvider(akid, secret, ""),
		BaseEndpoint:     aws.String(e.url),
		RetryMaxAttempts: 1,
	}
}

// image registers an available image of account, as the importer does when it is done.
func (e *testEnv) image(account, id string) {
	e.apply(&state.PutImage{Create: true, Image: state.Image{ID: id, Account: account, Name: "img-" + id,
		State: state.ImageAvailable, Architecture: "x86_64", ObjectKey: id + ".qcow2", SizeBytes: 1 << 20, VirtualSize: 1 << 30}})
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
func wantErr(t *testing.T, err error, code string, status int) {
	t.Helper()
	var ae smithy.APIError
	var re *awshttp.ResponseError
	if !errors.As(err, &ae) || !errors.As(err, &re) {
		t.Fatalf("want %s (%d), got %v", code, status, err)
	}
	if ae.ErrorCode() != code || re.HTTPStatusCode() != status {
		t.Fatalf("want %s (%d), got %s (%d): %s", code, status, ae.ErrorCode(), re.HTTPStatusCode(), ae.ErrorMessage())
	}
}

func TestKeyPairs(t *testing.T) {
	e := newEnv(t)
	c, _ := e.account("alice")

	kp := must(t, call(c.CreateKeyPair(ctx, &sdk.CreateKeyPairInput{KeyName: aws.String("main")})))
	if !strings.HasPrefix(*kp.KeyPairId, "key-") || !strings.Contains(*kp.KeyMaterial, "BEGIN RSA PRIVATE KEY") {
		t.Fatalf("CreateKeyPair: %+v", kp)
	}
	// EC2's fingerprint of a key it made: SHA-1 of the PKCS#8 private key.
	block, _ := pem.Decode([]byte(*kp.KeyMaterial))
	priv, err := x509.ParsePKCS1PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	pkcs8, _ := x509.MarshalPKCS8PrivateKey(priv)
	if sum := sha1.Sum(pkcs8); *kp.KeyFingerprint != colonHex(sum[:]) {
		t.Fatalf("fingerprint %s, want SHA-1 of PKCS#8", *kp.KeyFingerprint)
	}
	_, err = c.CreateKeyPair(ctx, &sdk.CreateKeyPairInput{KeyName: aws.String("main")})
	wantErr(t, err, "InvalidKeyPair.Duplicate", 400)

	ed := must(t, call(c.CreateKeyPair(ctx, &sdk.CreateKeyPairInput{KeyName: aws.String("ed"), KeyType: types.KeyTypeEd25519})))
	if _, err := ssh.ParseRawPrivateKey([]byte(*ed.KeyMaterial)); err != nil {
		t.Fatalf("ed25519 key material does not parse: %v", err)
	}

	// Imported RSA key: MD5 of the DER public key.
	rk, _ := rsa.GenerateKey(rand.Reader, 2048)
	pub, _ := ssh.NewPublicKey(&rk.PublicKey)
	imp := must(t, call(c.ImportKeyPair(ctx, &sdk.ImportKeyPairInput{KeyName: aws.String("imported"), PublicKeyMaterial: ssh.MarshalAuthorizedKey(pub)})))
	der, _ := x509.MarshalPKIXPublicKey(&rk.PublicKey)
	if sum := md5.Sum(der); *imp.KeyFingerprint != colonHex(sum[:]) {
		t.Fatalf("imported fingerprint %s, want MD5 of DER public key", *imp.KeyFingerprint)
	}
	_, err = c.ImportKeyPair(ctx, &sdk.ImportKeyPairInput{KeyName: aws.String("junk"), PublicKeyMaterial: []byte("ssh-rsa not-a-key")})
	wantErr(t, err, "InvalidKey.Format", 400)

	all := must(t, call(c.DescribeKeyPairs(ctx, &sdk.DescribeKeyPairsInput{})))
	if len(all.KeyPairs) != 3 {
		t.Fatalf("%d key pairs, want 3", len(all.KeyPairs))
	}
	one := must(t, call(c.DescribeKeyPairs(ctx, &sdk.DescribeKeyPairsInput{Filters: []types.Filter{{Name: aws.String("key-type"), Values: []string{"ed25519"}}}, IncludePublicKey: aws.Bool(true)})))
	if len(one.KeyPairs) != 1 || *one.KeyPairs[0].KeyName != "ed" || !strings.HasPrefix(aws.ToString(one.KeyPairs[0].PublicKey), "ssh-ed25519 ") {
		t.Fatalf("filter key-type: %+v", one.KeyPairs)
	}
	_, err = c.DescribeKeyPairs(ctx, &sdk.DescribeKeyPairsInput{KeyNames: []string{"nope"}})
	wantErr(t, err, "InvalidKeyPair.NotFound", 400)

	// Another account sees none of them.
	other, _ := e.account("bob")
	if got := must(t, call(other.DescribeKeyPairs(ctx, &sdk.DescribeKeyPairsInput{}))); len(got.KeyPairs) != 0 {
		t.Fatalf("bob sees %d of alice's key pairs", len(got.KeyPairs))
	}

	must(t, call(c.DeleteKeyPair(ctx, &sdk.DeleteKeyPairInput{KeyName: aws.String("main")})))
	must(t, call(c.DeleteKeyPair(ctx, &sdk.DeleteKeyPairInput{KeyName: aws.String("main")}))) // idempotent, as EC2
	if got := must(t, call(c.DescribeKeyPairs(ctx, &sdk.DescribeKeyPairsInput{}))); len(got.KeyPairs) != 2 {
		t.Fatalf("%d key pairs after delete, want 2", len(got.KeyPairs))
	}
}

func TestRunAndChangeInstances(t *testing.T) {
	e := newEnv(t)
	c, acct := e.account("alice")
	e.image(acct, "ami-00000000000000aaa")

	_, err := c.RunInstances(ctx, &sdk.RunInstancesInput{ImageId: aws.String("ami-0000000000000dead"), MinCount: aws.Int32(1), MaxCount: aws.Int32(1)})
	wantErr(t, err, "InvalidAMIID.NotFound", 400)
	_, err = c.RunInstances(ctx, &sdk.RunInstancesInput{ImageId: aws.String("ami-00000000000000aaa"), MinCount: aws.Int32(1), MaxCount: aws.Int32(1), DryRun: aws.Bool(true)})
	wantErr(t, err, "DryRunOperation", 412)
	_, err = c.RunInstances(ctx, &sdk.RunInstancesInput{ImageId: aws.String("ami-00000000000000aaa"), MinCount: aws.Int32(1), MaxCount: aws.Int32(1), UserData: aws.String("%%%")})
	wantErr(t, err, "InvalidParameterValue", 400)
	_, err = c.RunInstances(ctx, &sdk.RunInstancesInput{ImageId: aws.String("ami-00000000000000aaa"), MinCount: aws.Int32(1), MaxCount: aws.Int32(1), InstanceType: types.InstanceType("z9.huge")})
	wantErr(t, err, "InvalidParameterValue", 400)
	_, err = c.RunInstances(ctx, &sdk.RunInstancesInput{ImageId: aws.String("ami-00000000000000aaa"), MinCount: aws.Int32(1), MaxCount: aws.Int32(1), KeyName: aws.String("missing")})
	wantErr(t, err, "InvalidKeyPair.NotFound", 400)

	r := must(t, call(c.RunInstances(ctx, &sdk.RunInstancesInput{
		ImageId: aws.String("ami-00000000000000aaa"), MinCount: aws.Int32(2), MaxCount: aws.Int32(2), InstanceType: types.InstanceTypeT2Micro,
		UserData:          aws.String(base64.StdEncoding.EncodeToString([]byte("#!/bin/sh\necho hi\n"))),
		TagSpecifications: []types.TagSpecification{{ResourceType: types.ResourceTypeInstance, Tags: []types.Tag{{Key: aws.String("Name"), Value: aws.String("web")}}}},
	})))
	if len(r.Instances) != 2 || !strings.HasPrefix(*r.ReservationId, "r-") || *r.OwnerId != acct {
		t.Fatalf("RunInstances: %+v", r)
	}
	zones := map[string]bool{}
	for _, in := range r.Instances {
		if in.State.Name != types.InstanceStateNamePending || aws.ToString(in.PrivateIpAddress) == "" || in.InstanceType != types.InstanceTypeT2Micro {
			t.Fatalf("new instance: %+v", in)
		}
		zones[*in.Placement.AvailabilityZone] = true
	}
	if len(zones) != 2 {
		t.Fatalf("two instances not spread over the two zones: %v", zones)
	}
	ids := []string{*r.Instances[0].InstanceId, *r.Instances[1].InstanceId}

	// Filters, tags and IDs.
	d := must(t, call(c.DescribeInstances(ctx, &sdk.DescribeInstancesInput{Filters: []types.Filter{{Name: aws.String("tag:Name"), Values: []string{"w*"}}}})))
	if len(d.Reservations) != 1 || len(d.Reservations[0].Instances) != 2 {
		t.Fatalf("DescribeInstances by tag: %+v", d.Reservations)
	}
	d = must(t, call(c.DescribeInstances(ctx, &sdk.DescribeInstancesInput{Filters: []types.Filter{{Name: aws.String("instance-state-name"), Values: []string{"running"}}}})))
	if len(d.Reservations) != 0 {
		t.Fatalf("running filter matched pending instances")
	}
	d = must(t, call(c.DescribeInstances(ctx, &sdk.DescribeInstancesInput{Filters: []types.Filter{{Name: aws.String("vpc-id"), Values: []string{defaultVPCID(acct)}}}})))
	if len(d.Reservations) != 1 || len(d.Reservations[0].Instances) != 2 {
		t.Fatalf("DescribeInstances by vpc-id: %+v", d.Reservations)
	}
	d = must(t, call(c.DescribeInstances(ctx, &sdk.DescribeInstancesInput{Filters: []types.Filter{{Name: aws.String("subnet-id"), Values: []string{defaultSubnetID(acct, "us-east-1a")}}}})))
	if len(d.Reservations) != 1 || len(d.Reservations[0].Instances) != 1 {
		t.Fatalf("DescribeInstances by subnet-id of one zone: %+v", d.Reservations)
	}
	_, err = c.DescribeInstances(ctx, &sdk.DescribeInstancesInput{InstanceIds: []string{"i-0123456789abcdef0"}})
	wantErr(t, err, "InvalidInstanceID.NotFound", 400)
	_, err = c.DescribeInstances(ctx, &sdk.DescribeInstancesInput{InstanceIds: []string{"bogus"}})
	wantErr(t, err, "InvalidInstanceID.Malformed", 400)
	_, err = c.DescribeInstances(ctx, &sdk.DescribeInstancesInput{Filters: []types.Filter{{Name: aws.String("no-such-filter"), Values: []string{"x"}}}})
	wantErr(t, err, "InvalidFilter", 400)

	// Another account can neither see nor change them.
	bob, _ := e.account("bob")
	_, err = bob.TerminateInstances(ctx, &sdk.TerminateInstancesInput{InstanceIds: ids[:1]})
	wantErr(t, err, "InvalidInstanceID.NotFound", 400)

	// The box reports one running; stop it, start it, terminate both.
	in, _ := e.local.State().Instance(ids[0])
	e.apply(&state.ReportInstance{ID: ids[0], Node: in.Node, Generation: in.Generation, State: state.InstanceRunning})
	st := must(t, call(c.DescribeInstanceStatus(ctx, &sdk.DescribeInstanceStatusInput{InstanceIds: ids[:1]})))
	if len(st.InstanceStatuses) != 1 || st.InstanceStatuses[0].SystemStatus.Status != types.SummaryStatusOk {
		t.Fatalf("status of a running instance on a live box: %+v", st.InstanceStatuses)
	}
	e.live = []string{"box1", "box2"}
	if in.Node == "box1" {
		e.live = []string{"box2"}
	} else {
		e.live = []string{"box1"}
	}
	st = must(t, call(c.DescribeInstanceStatus(ctx, &sdk.DescribeInstanceStatusInput{InstanceIds: ids[:1]})))
	if st.InstanceStatuses[0].SystemStatus.Status != types.SummaryStatusImpaired {
		t.Fatalf("status on a dead box: %+v", st.InstanceStatuses[0].SystemStatus)
	}
	e.live = []string{"box1", "box2"}

	con := must(t, call(c.GetConsoleOutput(ctx, &sdk.GetConsoleOutputInput{InstanceId: aws.String(ids[0])})))
	if out, _ := base64.StdEncoding.DecodeString(aws.ToString(con.Output)); !strings.Contains(string(out), ids[0]) {
		t.Fatalf("console output %q", out)
	}

	_, err = c.StartInstances(ctx, &sdk.StartInstancesInput{InstanceIds: ids[:1]})
	if err != nil {
		t.Fatalf("starting a running instance is a no-op in EC2: %v", err)
	}
	stop := must(t, call(c.StopInstances(ctx, &sdk.StopInstancesInput{InstanceIds: ids[:1]})))
	if stop.StoppingInstances[0].CurrentState.Name != types.InstanceStateNameStopping || stop.StoppingInstances[0].PreviousState.Name != types.InstanceStateNameRunning {
		t.Fatalf("stop: %+v", stop.StoppingInstances[0])
	}
	must(t, call(c.RebootInstances(ctx, &sdk.RebootInstancesInput{InstanceIds: ids[1:]})))
	term := must(t, call(c.TerminateInstances(ctx, &sdk.TerminateInstancesInput{InstanceIds: ids})))
	if len(term.TerminatingInstances) != 2 {
		t.Fatalf("terminate: %+v", term)
	}
	for _, ch := range term.TerminatingInstances {
		if n := ch.CurrentState.Name; n != types.InstanceStateNameShuttingDown && n != types.InstanceStateNameTerminated {
			t.Fatalf("terminated instance in state %s", n)
		}
	}
	_, err = c.StartInstances(ctx, &sdk.StartInstancesInput{InstanceIds: ids[:1]})
	wantErr(t, err, "IncorrectInstanceState", 400)
}

func TestInsufficientCapacity(t *testing.T) {
	e := newEnv(t)
	c, acct := e.account("alice")
	e.image(acct, "ami-00000000000000aaa")
	// Two boxes of 4 GiB each (memory is not overcommitted): m5.large needs 8 GiB.
	_, err := c.RunInstances(ctx, &sdk.RunInstancesInput{ImageId: aws.String("ami-00000000000000aaa"), MinCount: aws.Int32(1), MaxCount: aws.Int32(1), InstanceType: types.InstanceTypeM5Large})
	wantErr(t, err, "InsufficientInstanceCapacity", 500)
	// MinCount 3 of t2.medium (4 GiB) does not fit; MaxCount beyond what fits gives what fits.
	_, err = c.RunInstances(ctx, &sdk.RunInstancesInput{ImageId: aws.String("ami-00000000000000aaa"), MinCount: aws.Int32(3), MaxCount: aws.Int32(3), InstanceType: types.InstanceTypeT2Medium})
	wantErr(t, err, "InsufficientInstanceCapacity", 500)
	r := must(t, call(c.RunInstances(ctx, &sdk.RunInstancesInput{ImageId: aws.String("ami-00000000000000aaa"), MinCount: aws.Int32(1), MaxCount: aws.Int32(5), InstanceType: types.InstanceTypeT2Medium})))
	if len(r.Instances) != 2 {
		t.Fatalf("MaxCount 5 on room for 2 launched %d", len(r.Instances))
	}
}

func TestImagesAndLaunchPermissions(t *testing.T) {
	e := newEnv(t)
	alice, a := e.account("alice")
	bob, b := e.account("bob")
	e.image(a, "ami-00000000000000aaa")

	if got := must(t, call(bob.DescribeImages(ctx, &sdk.DescribeImagesInput{}))); len(got.Images) != 0 {
		t.Fatalf("bob sees alice's private image")
	}
	_, err := bob.RunInstances(ctx, &sdk.RunInstancesInput{ImageId: aws.String("ami-00000000000000aaa"), MinCount: aws.Int32(1), MaxCount: aws.Int32(1)})
	wantErr(t, err, "InvalidAMIID.NotFound", 400)

	must(t, call(alice.ModifyImageAttribute(ctx, &sdk.ModifyImageAttributeInput{ImageId: aws.String("ami-00000000000000aaa"),
		LaunchPermission: &types.LaunchPermissionModifications{Add: []types.LaunchPermission{{UserId: aws.String(b)}}}})))
	attr := must(t, call(alice.DescribeImageAttribute(ctx, &sdk.DescribeImageAttributeInput{ImageId: aws.String("ami-00000000000000aaa"), Attribute: types.ImageAttributeNameLaunchPermission})))
	if len(attr.LaunchPermissions) != 1 || aws.ToString(attr.LaunchPermissions[0].UserId) != b {
		t.Fatalf("launch permissions: %+v", attr.LaunchPermissions)
	}
	got := must(t, call(bob.DescribeImages(ctx, &sdk.DescribeImagesInput{ExecutableUsers: []string{"self"}})))
	if len(got.Images) != 1 || *got.Images[0].OwnerId != a {
		t.Fatalf("bob's executable images: %+v", got.Images)
	}
	if own := must(t, call(bob.DescribeImages(ctx, &sdk.DescribeImagesInput{Owners: []string{"self"}}))); len(own.Images) != 0 {
		t.Fatalf("owners=self shows a shared image")
	}
	must(t, call(bob.RunInstances(ctx, &sdk.RunInstancesInput{ImageId: aws.String("ami-00000000000000aaa"), MinCount: aws.Int32(1), MaxCount: aws.Int32(1)})))
	// Only the owner changes or deregisters it.
	_, err = bob.DeregisterImage(ctx, &sdk.DeregisterImageInput{ImageId: aws.String("ami-00000000000000aaa")})
	wantErr(t, err, "AuthFailure", 403)

	cp := must(t, call(bob.CopyImage(ctx, &sdk.CopyImageInput{SourceImageId: aws.String("ami-00000000000000aaa"), SourceRegion: aws.String("us-east-1"), Name: aws.String("bobs copy")})))
	if own := must(t, call(bob.DescribeImages(ctx, &sdk.DescribeImagesInput{Owners: []string{"self"}}))); len(own.Images) != 1 || *own.Images[0].ImageId != *cp.ImageId {
		t.Fatalf("bob's copy: %+v", own.Images)
	}

	reg := must(t, call(bob.RegisterImage(ctx, &sdk.RegisterImageInput{Name: aws.String("bobs register"), ImageLocation: aws.String(a + "/img-ami-00000000000000aaa")})))
	if im := must(t, call(bob.DescribeImages(ctx, &sdk.DescribeImagesInput{ImageIds: []string{*reg.ImageId}}))); *im.Images[0].OwnerId != b {
		t.Fatalf("registered image: %+v", im.Images)
	}
	_, err = bob.RegisterImage(ctx, &sdk.RegisterImageInput{Name: aws.String("bobs copy"), ImageLocation: aws.String(a + "/img-ami-00000000000000aaa")})
	wantErr(t, err, "InvalidAMIName.Duplicate", 400)
	_, err = bob.RegisterImage(ctx, &sdk.RegisterImageInput{Name: aws.String("nothing"), ImageLocation: aws.String(a + "/nothing")})
	wantErr(t, err, "InvalidParameterValue", 400)

	must(t, call(alice.ModifyImageAttribute(ctx, &sdk.ModifyImageAttributeInput{ImageId: aws.String("ami-00000000000000aaa"),
		Attribute: aws.String("launchPermission"), OperationType: types.OperationTypeRemove, UserIds: []string{b}})))
	_, err = bob.RunInstances(ctx, &sdk.RunInstancesInput{ImageId: aws.String("ami-00000000000000aaa"), MinCount: aws.Int32(1), MaxCount: aws.Int32(1)})
	wantErr(t, err, "InvalidAMIID.NotFound", 400)

	must(t, call(alice.DeregisterImage(ctx, &sdk.DeregisterImageInput{ImageId: aws.String("ami-00000000000000aaa")})))
	if got := must(t, call(alice.DescribeImages(ctx, &sdk.DescribeImagesInput{Owners: []string{"self"}}))); len(got.Images) != 0 {
		t.Fatalf("deregistered image still listed")
	}
	_, err = alice.DescribeImages(ctx, &sdk.DescribeImagesInput{ImageIds: []string{"ami-00000000000000aaa"}})
	wantErr(t, err, "InvalidAMIID.NotFound", 400)
}

func TestImportImageTasks(t *testing.T) {
	e := newEnv(t)
	c, _ := e.account("alice")
	e.sources["s3://disks/guest.qcow2"] = 12 << 20

	_, err := c.ImportImage(ctx, &sdk.ImportImageInput{DiskContainers: []types.ImageDiskContainer{{UserBucket: &types.UserBucket{S3Bucket: aws.String("disks"), S3Key: aws.String("missing")}}}})
	wantErr(t, err, "InvalidParameterValue", 400)
	_, err = c.ImportImage(ctx, &sdk.ImportImageInput{DiskContainers: []types.ImageDiskContainer{{Format: aws.String("vhdx"), UserBucket: &types.UserBucket{S3Bucket: aws.String("disks"), S3Key: aws.String("guest.qcow2")}}}})
	wantErr(t, err, "InvalidParameterValue", 400)

	r := must(t, call(c.ImportImage(ctx, &sdk.ImportImageInput{Description: aws.String("guest"),
		DiskContainers: []types.ImageDiskContainer{{Format: aws.String("qcow2"), UserBucket: &types.UserBucket{S3Bucket: aws.String("disks"), S3Key: aws.String("guest.qcow2")}}}})))
	if !strings.HasPrefix(*r.ImportTaskId, "import-ami-") || aws.ToString(r.Status) != "active" {
		t.Fatalf("ImportImage: %+v", r)
	}
	d := must(t, call(c.DescribeImportImageTasks(ctx, &sdk.DescribeImportImageTasksInput{ImportTaskIds: []string{*r.ImportTaskId}})))
	if len(d.ImportImageTasks) != 1 || aws.ToFloat64(d.ImportImageTasks[0].SnapshotDetails[0].DiskImageSize) != 12<<20 {
		t.Fatalf("DescribeImportImageTasks: %+v", d.ImportImageTasks)
	}
	cancel := must(t, call(c.CancelImportTask(ctx, &sdk.CancelImportTaskInput{ImportTaskId: r.ImportTaskId})))
	if aws.ToString(cancel.State) != "deleting" || aws.ToString(cancel.PreviousState) != "active" {
		t.Fatalf("CancelImportTask: %+v", cancel)
	}
	_, err = c.CancelImportTask(ctx, &sdk.CancelImportTaskInput{ImportTaskId: r.ImportTaskId})
	wantErr(t, err, "IncorrectState", 400)
	_, err = c.DescribeImportImageTasks(ctx, &sdk.DescribeImportImageTasksInput{ImportTaskIds: []string{"import-ami-0123456789abcdef0"}})
	wantErr(t, err, "InvalidConversionTaskId.Malformed", 400)
}

func TestTagsAndZones(t *testing.T) {
	e := newEnv(t)
	c, acct := e.account("alice")
	e.image(acct, "ami-00000000000000aaa")
	r := must(t, call(c.RunInstances(ctx, &sdk.RunInstancesInput{ImageId: aws.String("ami-00000000000000aaa"), MinCount: aws.Int32(1), MaxCount: aws.Int32(1)})))
	id := *r.Instances[0].InstanceId

	must(t, call(c.CreateTags(ctx, &sdk.CreateTagsInput{Resources: []string{id, "ami-00000000000000aaa"}, Tags: []types.Tag{{Key: aws.String("env"), Value: aws.String("prod")}, {Key: aws.String("team"), Value: aws.String("")}}})))
	tags := must(t, call(c.DescribeTags(ctx, &sdk.DescribeTagsInput{Filters: []types.Filter{{Name: aws.String("resource-type"), Values: []string{"instance"}}}})))
	if len(tags.Tags) != 2 {
		t.Fatalf("instance tags: %+v", tags.Tags)
	}
	// DeleteTags with a value removes the tag only when the value matches.
	must(t, call(c.DeleteTags(ctx, &sdk.DeleteTagsInput{Resources: []string{id}, Tags: []types.Tag{{Key: aws.String("env"), Value: aws.String("dev")}}})))
	must(t, call(c.DeleteTags(ctx, &sdk.DeleteTagsInput{Resources: []string{id}, Tags: []types.Tag{{Key: aws.String("team"), Value: aws.String("")}}})))
	in, _ := e.local.State().Instance(id)
	if len(in.Tags) != 1 || in.Tags["env"] != "prod" {
		t.Fatalf("tags after DeleteTags: %v", in.Tags)
	}
	_, err := c.CreateTags(ctx, &sdk.CreateTagsInput{Resources: []string{"i-0123456789abcdef0"}, Tags: []types.Tag{{Key: aws.String("a"), Value: aws.String("b")}}})
	wantErr(t, err, "InvalidID", 400)
	_, err = c.CreateTags(ctx, &sdk.CreateTagsInput{Resources: []string{id}, Tags: []types.Tag{{Key: aws.String("aws:x"), Value: aws.String("b")}}})
	wantErr(t, err, "InvalidParameterValue", 400)

	z := must(t, call(c.DescribeAvailabilityZones(ctx, &sdk.DescribeAvailabilityZonesInput{})))
	if len(z.AvailabilityZones) != 2 || *z.AvailabilityZones[0].ZoneName != "us-east-1a" || *z.AvailabilityZones[0].ZoneId != "use1-az1" {
		t.Fatalf("zones: %+v", z.AvailabilityZones)
	}
	regions := must(t, call(c.DescribeRegions(ctx, &sdk.DescribeRegionsInput{})))
	if len(regions.Regions) != 1 || *regions.Regions[0].RegionName != "us-east-1" {
		t.Fatalf("regions: %+v", regions.Regions)
	}
}

// TestIAMPolicyEnforced: an IAM user gets only what its policies allow, as EC2's
// UnauthorizedOperation (403) otherwise.
func TestIAMPolicyEnforced(t *testing.T) {
	e := newEnv(t)
	c, acct := e.account("alice")
	e.image(acct, "ami-00000000000000aaa")
	r := must(t, call(c.RunInstances(ctx, &sdk.RunInstancesInput{ImageId: aws.String("ami-00000000000000aaa"), MinCount: aws.Int32(1), MaxCount: aws.Int32(1)})))
	id := *r.Instances[0].InstanceId

	admin := sdkiam.NewFromConfig(e.config(e.roots[0].AccessKeyID, e.roots[0].SecretAccessKey))
	must(t, call(admin.CreateUser(ctx, &sdkiam.CreateUserInput{UserName: aws.String("ro")})))
	must(t, call(admin.PutUserPolicy(ctx, &sdkiam.PutUserPolicyInput{UserName: aws.String("ro"), PolicyName: aws.String("describe"),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ec2:Describe*","Resource":"*"}]}`)})))
	k := must(t, call(admin.CreateAccessKey(ctx, &sdkiam.CreateAccessKeyInput{UserName: aws.String("ro")})))
	ro := sdk.NewFromConfig(e.config(*k.AccessKey.AccessKeyId, *k.AccessKey.SecretAccessKey))

	d := must(t, call(ro.DescribeInstances(ctx, &sdk.DescribeInstancesInput{})))
	if len(d.Reservations) != 1 {
		t.Fatalf("the read-only user sees %d reservations, want the account's 1", len(d.Reservations))
	}
	_, err := ro.TerminateInstances(ctx, &sdk.TerminateInstancesInput{InstanceIds: []string{id}})
	wantErr(t, err, "UnauthorizedOperation", 403)
	_, err = ro.CreateKeyPair(ctx, &sdk.CreateKeyPairInput{KeyName: aws.String("x")})
	wantErr(t, err, "UnauthorizedOperation", 403)
	// A dry run answers whether the call would be allowed.
	_, err = ro.TerminateInstances(ctx, &sdk.TerminateInstancesInput{InstanceIds: []string{id}, DryRun: aws.Bool(true)})
	wantErr(t, err, "UnauthorizedOperation", 403)
	_, err = c.TerminateInstances(ctx, &sdk.TerminateInstancesInput{InstanceIds: []string{id}, DryRun: aws.Bool(true)})
	wantErr(t, err, "DryRunOperation", 412)
}

func TestVolumes(t *testing.T) {
	e := newEnv(t)
	c, acct := e.account("alice")
	e.image(acct, "ami-00000000000000aaa")

	_, err := c.CreateVolume(ctx, &sdk.CreateVolumeInput{AvailabilityZone: aws.String("us-east-1z"), Size: aws.Int32(1)})
	wantErr(t, err, "InvalidParameterValue", 400)
	_, err = c.CreateVolume(ctx, &sdk.CreateVolumeInput{AvailabilityZone: aws.String("us-east-1a")})
	wantErr(t, err, "MissingParameter", 400)
	_, err = c.CreateVolume(ctx, &sdk.CreateVolumeInput{AvailabilityZone: aws.String("us-east-1a"), Size: aws.Int32(1), VolumeType: types.VolumeTypeSt1})
	wantErr(t, err, "InvalidParameterValue", 400)
	_, err = c.CreateVolume(ctx, &sdk.CreateVolumeInput{AvailabilityZone: aws.String("us-east-1a"), Size: aws.Int32(1), Encrypted: aws.Bool(true)})
	wantErr(t, err, "InvalidParameterValue", 400)
	_, err = c.CreateVolume(ctx, &sdk.CreateVolumeInput{AvailabilityZone: aws.String("us-east-1a"), Size: aws.Int32(500)})
	wantErr(t, err, "InsufficientVolumeCapacity", 503)

	v := must(t, call(c.CreateVolume(ctx, &sdk.CreateVolumeInput{AvailabilityZone: aws.String("us-east-1a"), Size: aws.Int32(8), VolumeType: types.VolumeTypeGp3,
		TagSpecifications: []types.TagSpecification{{ResourceType: types.ResourceTypeVolume, Tags: []types.Tag{{Key: aws.String("db"), Value: aws.String("pg")}}}}})))
	if v.State != types.VolumeStateCreating || aws.ToInt32(v.Iops) != 3000 || aws.ToInt32(v.Throughput) != 125 || aws.ToInt32(v.Size) != 8 {
		t.Fatalf("CreateVolume: %+v", v)
	}
	id := *v.VolumeId
	rec, _ := e.local.State().Volume(id)
	if len(rec.Replicas) != 1 || rec.Replicas[0] != "box1" {
		t.Fatalf("replicas of a volume in a zone of one box: %v", rec.Replicas)
	}
	e.apply(&state.ReportVolume{ID: id, Node: "box1", Event: state.VolumeEventReady})

	d := must(t, call(c.DescribeVolumes(ctx, &sdk.DescribeVolumesInput{Filters: []types.Filter{{Name: aws.String("tag:db"), Values: []string{"pg"}}, {Name: aws.String("status"), Values: []string{"available"}}}})))
	if len(d.Volumes) != 1 || *d.Volumes[0].VolumeId != id {
		t.Fatalf("DescribeVolumes: %+v", d.Volumes)
	}
	_, err = c.DescribeVolumes(ctx, &sdk.DescribeVolumesInput{VolumeIds: []string{"vol-0123456789abcdef0"}})
	wantErr(t, err, "InvalidVolume.NotFound", 400)
	_, err = c.DescribeVolumes(ctx, &sdk.DescribeVolumesInput{VolumeIds: []string{"volume-1"}})
	wantErr(t, err, "InvalidVolumeID.Malformed", 400)
	bob, _ := e.account("bob")
	if got := must(t, call(bob.DescribeVolumes(ctx, &sdk.DescribeVolumesInput{}))); len(got.Volumes) != 0 {
		t.Fatalf("bob sees alice's volumes")
	}

	// Attach to a running instance in the volume's zone.
	r := must(t, call(c.RunInstances(ctx, &sdk.RunInstancesInput{ImageId: aws.String("ami-00000000000000aaa"), MinCount: aws.Int32(1), MaxCount: aws.Int32(1),
		Placement: &types.Placement{AvailabilityZone: aws.String("us-east-1a")}})))
	inst := *r.Instances[0].InstanceId
	in, _ := e.local.State().Instance(inst)
	e.apply(&state.ReportInstance{ID: inst, Node: in.Node, Generation: in.Generation, State: state.InstanceRunning})
	_, err = c.AttachVolume(ctx, &sdk.AttachVolumeInput{VolumeId: aws.String(id), InstanceId: aws.String(inst), Device: aws.String("/dev/hda")})
	wantErr(t, err, "InvalidParameterValue", 400)
	att := must(t, call(c.AttachVolume(ctx, &sdk.AttachVolumeInput{VolumeId: aws.String(id), InstanceId: aws.String(inst), Device: aws.String("/dev/sdf")})))
	if att.State != types.VolumeAttachmentStateAttaching {
		t.Fatalf("AttachVolume: %+v", att)
	}
	_, err = c.AttachVolume(ctx, &sdk.AttachVolumeInput{VolumeId: aws.String(id), InstanceId: aws.String(inst), Device: aws.String("/dev/sdg")})
	wantErr(t, err, "IncorrectState", 400)
	_, err = c.DeleteVolume(ctx, &sdk.DeleteVolumeInput{VolumeId: aws.String(id)})
	wantErr(t, err, "VolumeInUse", 400)
	d = must(t, call(c.DescribeVolumes(ctx, &sdk.DescribeVolumesInput{Filters: []types.Filter{{Name: aws.String("attachment.instance-id"), Values: []string{inst}}}})))
	if len(d.Volumes) != 1 || d.Volumes[0].State != types.VolumeStateInUse || *d.Volumes[0].Attachments[0].Device != "/dev/sdf" {
		t.Fatalf("attached volume: %+v", d.Volumes)
	}

	must(t, call(c.DetachVolume(ctx, &sdk.DetachVolumeInput{VolumeId: aws.String(id)})))
	rec, _ = e.local.State().Volume(id)
	e.apply(&state.ReportVolume{ID: id, Node: rec.Primary, Epoch: rec.Epoch, Event: state.VolumeEventDetached})
	must(t, call(c.DeleteVolume(ctx, &sdk.DeleteVolumeInput{VolumeId: aws.String(id)})))
	d = must(t, call(c.DescribeVolumes(ctx, &sdk.DescribeVolumesInput{VolumeIds: []string{id}})))
	if d.Volumes[0].State != types.VolumeStateDeleting {
		t.Fatalf("deleted volume: %+v", d.Volumes[0])
	}
}

func TestInstanceAttributesAndTypes(t *testing.T) {
	e := newEnv(t)
	c, acct := e.account("alice")
	e.image(acct, "ami-00000000000000aaa")
	r := must(t, call(c.RunInstances(ctx, &sdk.RunInstancesInput{ImageId: aws.String("ami-00000000000000aaa"), MinCount: aws.Int32(1), MaxCount: aws.Int32(1), InstanceType: types.InstanceTypeT2Micro})))
	id := *r.Instances[0].InstanceId
	in, _ := e.local.State().Instance(id)
	e.apply(&state.ReportInstance{ID: id, Node: in.Node, Generation: in.Generation, State: state.InstanceRunning})

	// The type changes only while stopped.
	_, err := c.ModifyInstanceAttribute(ctx, &sdk.ModifyInstanceAttributeInput{InstanceId: aws.String(id), InstanceType: &types.AttributeValue{Value: aws.String("t2.small")}})
	wantErr(t, err, "IncorrectInstanceState", 400)
	must(t, call(c.StopInstances(ctx, &sdk.StopInstancesInput{InstanceIds: []string{id}})))
	in, _ = e.local.State().Instance(id)
	e.apply(&state.ReportInstance{ID: id, Node: in.Node, Generation: in.Generation, State: state.InstanceStopped})
	_, err = c.ModifyInstanceAttribute(ctx, &sdk.ModifyInstanceAttributeInput{InstanceId: aws.String(id), InstanceType: &types.AttributeValue{Value: aws.String("z9.huge")}})
	wantErr(t, err, "InvalidInstanceType", 400)
	must(t, call(c.ModifyInstanceAttribute(ctx, &sdk.ModifyInstanceAttributeInput{InstanceId: aws.String(id), InstanceType: &types.AttributeValue{Value: aws.String("t2.small")}})))
	must(t, call(c.ModifyInstanceAttribute(ctx, &sdk.ModifyInstanceAttributeInput{InstanceId: aws.String(id), UserData: &types.SecureBlobAttributeValue{Value: []byte("#!/bin/sh\necho new\n")}})))
	a := must(t, call(c.DescribeInstanceAttribute(ctx, &sdk.DescribeInstanceAttributeInput{InstanceId: aws.String(id), Attribute: types.InstanceAttributeNameInstanceType})))
	if aws.ToString(a.InstanceType.Value) != "t2.small" {
		t.Fatalf("instance type after modify: %+v", a.InstanceType)
	}
	if in, _ := e.local.State().Instance(id); in.MemoryMiB != 2048 || string(in.UserData) != "#!/bin/sh\necho new\n" {
		t.Fatalf("record after modify: %d MiB, user data %q", in.MemoryMiB, in.UserData)
	}
	ud := must(t, call(c.DescribeInstanceAttribute(ctx, &sdk.DescribeInstanceAttributeInput{InstanceId: aws.String(id), Attribute: types.InstanceAttributeNameUserData})))
	if got, _ := base64.StdEncoding.DecodeString(aws.ToString(ud.UserData.Value)); string(got) != "#!/bin/sh\necho new\n" {
		t.Fatalf("user data attribute %q", got)
	}

	// Termination protection.
	must(t, call(c.ModifyInstanceAttribute(ctx, &sdk.ModifyInstanceAttributeInput{InstanceId: aws.String(id), DisableApiTermination: &types.AttributeBooleanValue{Value: aws.Bool(true)}})))
	_, err = c.TerminateInstances(ctx, &sdk.TerminateInstancesInput{InstanceIds: []string{id}})
	wantErr(t, err, "OperationNotPermitted", 400)
	must(t, call(c.ModifyInstanceAttribute(ctx, &sdk.ModifyInstanceAttributeInput{InstanceId: aws.String(id), Attribute: types.InstanceAttributeNameDisableApiTermination, Value: aws.String("false")})))
	must(t, call(c.TerminateInstances(ctx, &sdk.TerminateInstancesInput{InstanceIds: []string{id}})))

	// The catalogue, and a setting that changes it.
	it := must(t, call(c.DescribeInstanceTypes(ctx, &sdk.DescribeInstanceTypesInput{Filters: []types.Filter{{Name: aws.String("vcpu-info.default-vcpus"), Values: []string{"4"}}}})))
	if len(it.InstanceTypes) != 1 || it.InstanceTypes[0].InstanceType != types.InstanceTypeM5Xlarge {
		t.Fatalf("4-vCPU types: %+v", it.InstanceTypes)
	}
	e.apply(&state.SetSetting{Key: SettingInstanceTypes, Value: "m1.xlarge=4:15360,m5.xlarge=-"})
	it = must(t, call(c.DescribeInstanceTypes(ctx, &sdk.DescribeInstanceTypesInput{Filters: []types.Filter{{Name: aws.String("vcpu-info.default-vcpus"), Values: []string{"4"}}}})))
	if len(it.InstanceTypes) != 1 || it.InstanceTypes[0].InstanceType != "m1.xlarge" || aws.ToInt64(it.InstanceTypes[0].MemoryInfo.SizeInMiB) != 15360 {
		t.Fatalf("4-vCPU types after the setting: %+v", it.InstanceTypes)
	}
	_, err = c.DescribeInstanceTypes(ctx, &sdk.DescribeInstanceTypesInput{InstanceTypes: []types.InstanceType{types.InstanceTypeM5Xlarge}})
	wantErr(t, err, "InvalidInstanceType", 400)
	for _, bad := range []string{"x", "a=1", "a=0:512", "a=1:10", "=1:512"} {
		if _, err := parseInstanceTypes(bad); err == nil {
			t.Errorf("catalogue %q accepted", bad)
		}
	}

	aa := must(t, call(c.DescribeAccountAttributes(ctx, &sdk.DescribeAccountAttributesInput{AttributeNames: []types.AccountAttributeName{types.AccountAttributeNameSupportedPlatforms}})))
	if len(aa.AccountAttributes) != 1 || *aa.AccountAttributes[0].AttributeValues[0].AttributeValue != "VPC" {
		t.Fatalf("account attributes: %+v", aa.AccountAttributes)
	}
}
