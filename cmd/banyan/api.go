package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/banyancloud/banyan/api"
	"github.com/banyancloud/banyan/api/ec2"
	"github.com/banyancloud/banyan/api/iam"
	"github.com/banyancloud/banyan/api/identity"
	"github.com/banyancloud/banyan/api/s3"
	"github.com/banyancloud/banyan/api/sigv4"
	"github.com/banyancloud/banyan/api/sts"
	"github.com/banyancloud/banyan/cluster/pki"
	"github.com/banyancloud/banyan/cluster/state"
	"github.com/banyancloud/banyan/node"
	"github.com/banyancloud/banyan/objectstore"
)

// Cluster settings the front door reads.
const (
	settingRegion       = "region"
	settingAdminAccount = "admin-account"
	// settingS3StrictRegion "true" makes S3 refuse requests signed for another region than
	// the cluster's, as AWS does, naming the right one (SDKs then sign again for it); by
	// default S3 answers requests signed for any region as its own.
	settingS3StrictRegion = "s3.strict_region"
	defaultRegion         = "us-east-1"
	// lifecycleInterval is how often the leader carries out bucket lifecycle rules.
	lifecycleInterval = time.Hour
)

// newAPI wires the AWS front door: SigV4 against the IAM state, policy evaluation, and
// one front end per service.
func newAPI(ctx context.Context, srv *node.Server, objects objectstore.ObjectLayer, log *slog.Logger) (http.Handler, error) {
	sealer, err := pki.NewSealer(srv.Dir.Secrets.ClusterKey)
	if err != nil {
		return nil, err
	}
	st := srv.Cluster.State()
	dir := &identity.Directory{Store: st, Sealer: sealer, CatchUp: srv.Cluster.CatchUp}
	// Requests must be signed for the cluster's region, as AWS requires for its own.
	clusterRegion := func() string {
		if set, err := st.Setting(settingRegion); err == nil {
			return set.Value
		}
		return defaultRegion
	}
	region := func(r string) bool { return r == clusterRegion() }
	s3Region := func() (string, bool) {
		set, err := st.Setting(settingS3StrictRegion)
		return clusterRegion(), err == nil && set.Value == "true"
	}
	s := &api.Server{
		Verifier:   &sigv4.Verifier{Credentials: dir, Regions: region, S3Region: s3Region},
		Authorizer: &identity.Authorizer{Store: st},
		Log:        log,
	}
	s.Register(iam.New(srv.Cluster, sealer))
	s.Register(sts.New(srv.Cluster, dir))
	s.Region = defaultRegion
	if set, err := st.Setting(settingRegion); err == nil {
		s.Region = set.Value
	}
	s.Register(ec2.New(srv.Cluster, ec2.Deps{
		Region: s.Region,
		Live:   func() []string { return liveNodes(srv) },
		Console: func(ctx context.Context, box, id string) ([]byte, error) {
			return node.ConsoleOutput(ctx, srv.Cluster, box, id)
		},
		ImportSource: func(ctx context.Context, account, bucket, key string) (int64, error) {
			// Through the decrypting view: the size is the image's, not its ciphertext's.
			return importSource(ctx, srv, s3.PlainObjects(objects, srv.Dir.Secrets.ClusterKey), account, bucket, key)
		},
		NewID:  node.NewEC2ID,
		Logger: log,
	}))
	front := s3.New(srv.Cluster, objects, s.Authorizer, s.Region)
	front.Log = log
	front.PostVerifier = s.Verifier           // browser-based uploads carry their signature in the form
	front.SSEKey = srv.Dir.Secrets.ClusterKey // SSE-S3 object keys are sealed under a key derived from it
	s.S3, s.S3Claims = front, s3.Claims
	go leaderOnly(ctx, srv, func(ctx context.Context) {
		t := time.NewTicker(lifecycleInterval)
		defer t.Stop()
		for {
			if err := front.RunLifecycle(ctx, time.Now()); err != nil && ctx.Err() == nil {
				log.Warn("lifecycle run failed", "err", err)
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	})
	return s, nil
}

// liveNodes names the boxes that are up: this one, and those gossip or node RPC
// shows alive.
func liveNodes(srv *node.Server) []string {
	nodes, err := srv.Cluster.State().Nodes()
	if err != nil {
		return []string{srv.Cluster.Name()}
	}
	var out []string
	for _, n := range nodes {
		if n.Name == srv.Cluster.Name() || srv.Cluster.MemberAlive(n.Name) {
			out = append(out, n.Name)
		}
	}
	return out
}

// importSource checks that an ImportImage's source object exists in a bucket of the
// caller's account and returns its size.
func importSource(ctx context.Context, srv *node.Server, objects objectstore.ObjectLayer, account, bucket, key string) (int64, error) {
	b, err := srv.Cluster.State().Bucket(bucket)
	if err != nil {
		srv.Cluster.CatchUp(ctx)
		b, err = srv.Cluster.State().Bucket(bucket)
	}
	if err != nil || b.Owner != account {
		return 0, fmt.Errorf("the bucket %s does not exist or is not this account's", bucket)
	}
	oi, err := objects.HeadObject(ctx, bucket, key, objectstore.GetOptions{})
	if err != nil {
		return 0, fmt.Errorf("the object s3://%s/%s cannot be read: %v", bucket, key, err)
	}
	return oi.Size, nil
}

// clusterRegion is the region the cluster's API answers as.
func clusterRegion(srv *node.Server) string {
	if set, err := srv.Cluster.State().Setting(settingRegion); err == nil {
		return set.Value
	}
	return defaultRegion
}

// bootstrapAPI runs on the founding node until it has succeeded once: it records the
// region, creates the admin account and writes its credentials for the aws-cli.
func bootstrapAPI(ctx context.Context, srv *node.Server) error {
	if !srv.Dir.Identity.Founder {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	// A write through this node brings its replica up to date before we look.
	if _, err := srv.Cluster.Apply(ctx, &state.Noop{}, nil); err != nil {
		return err
	}
	if _, err := srv.Cluster.State().Setting(settingAdminAccount); err == nil {
		return nil
	}
	sealer, err := pki.NewSealer(srv.Dir.Secrets.ClusterKey)
	if err != nil {
		return err
	}
	if _, err := srv.Cluster.Apply(ctx, &state.SetSetting{Key: settingRegion, Value: defaultRegion}, nil); err != nil {
		return err
	}
	existing, err := srv.Cluster.State().IAMEntities(state.KindAccount, "")
	if err != nil {
		return err
	}
	creds, err := iam.CreateAccount(ctx, srv.Cluster, existing, sealer, "admin", true)
	if err != nil {
		return fmt.Errorf("creating the admin account: %w", err)
	}
	if _, err := srv.Cluster.Apply(ctx, &state.SetSetting{Key: settingAdminAccount, Value: creds.AccountID}, nil); err != nil {
		return err
	}
	id := srv.Dir.Identity
	return srv.Dir.WriteAWSConfig(creds.AccessKeyID, creds.SecretAccessKey, defaultRegion,
		"http://"+hostPort(id.AdvertiseAddr, id.APIPort))
}

func printAPIBanner(w io.Writer, srv *node.Server, dir string) {
	creds, conf := filepath.Join(dir, "aws", "credentials"), filepath.Join(dir, "aws", "config")
	if _, err := os.Stat(creds); err != nil {
		fmt.Fprintf(w, "  admin credentials: `banyan credentials` on any member box\n")
		return
	}
	fmt.Fprintf(w, "  credentials: %s (region and endpoint in %s)\n", creds, conf)
	fmt.Fprintf(w, "  try:       AWS_SHARED_CREDENTIALS_FILE=%s AWS_CONFIG_FILE=%s aws sts get-caller-identity\n", creds, conf)
}
