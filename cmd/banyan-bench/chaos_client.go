package main

// The chaos soak's clients: aws-sdk-go-v2 against random nodes, no SDK retries, every
// operation recorded with its raw outcome.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
)

// opRecord is one operation as a client saw it.
type opRecord struct {
	ID     int       `json:"id"`
	Client int       `json:"client"` // workload client; chaosProbeClient+i for the post-heal probes through node i
	Node   int       `json:"node"`
	Op     string    `json:"op"`
	Key    string    `json:"key,omitempty"` // object key, or the bucket / user name
	Size   int64     `json:"size,omitempty"`
	Hash   string    `json:"hash,omitempty"` // sha256 of the body sent (put) or received (get)
	Start  time.Time `json:"start"`
	End    time.Time `json:"end"`
	Result string    `json:"result"`           // ok | error (an AWS error answer) | transport
	Code   string    `json:"code,omitempty"`   // AWS error code, or the transport error's kind
	Status int       `json:"status,omitempty"` // HTTP status
	Err    string    `json:"err,omitempty"`
	Found  bool      `json:"found,omitempty"` // get: the object / entity exists
	// get: the body broke off (read error, short read, or a full-length body whose hash
	// matches nothing and whose length differs from Content-Length)
	Truncated bool     `json:"truncated,omitempty"`
	TruncWhy  string   `json:"trunc_why,omitempty"`
	GotSize   int64    `json:"got_size,omitempty"`
	Listed    []string `json:"listed,omitempty"`
	Phase     string   `json:"phase"`
	Round     int      `json:"round"`
}

const chaosProbeClient = 1000

// ambiguous: the operation may or may not have taken effect.
func (r *opRecord) ambiguous() bool { return r.Result == "transport" || r.Status >= 500 }

// decidedByRaft: a control write's answer came from the cluster's Raft state, so the
// leader was there to give it: a success, or the refusal the state machine (CreateBucket's
// Apply) or a read barrier through the leader (IAM) decided, 409 for a name already
// taken and 404 for one already gone.
func (r *opRecord) decidedByRaft() bool {
	return r.ack() || (r.Result == "error" && (r.Status == 409 || r.Status == 404))
}

// ack: the operation answered success.
func (r *opRecord) ack() bool { return r.Result == "ok" }

func (r *opRecord) outcome() string {
	switch r.Result {
	case "ok":
		return "ok"
	case "transport":
		return r.Code + " (transport)"
	}
	return fmt.Sprintf("%s (HTTP %d)", r.Code, r.Status)
}

func (r *opRecord) String() string {
	s := fmt.Sprintf("#%d %s %s %s via n%d [%s .. %s] -> %s", r.ID, r.Op, r.Key, r.Hash, r.Node,
		r.Start.Format("15:04:05.000"), r.End.Format("15:04:05.000"), r.outcome())
	if r.Truncated {
		s += " truncated: " + r.TruncWhy
	}
	if r.Err != "" && r.Result != "ok" {
		s += ": " + oneLine(r.Err, 160)
	}
	return s
}

func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		s = s[:n] + "..."
	}
	return s
}

// chaosHistory holds every operation of the run.
type chaosHistory struct {
	mu    sync.Mutex
	ops   []*opRecord
	phase atomic.Value // phaseInfo
}

type phaseInfo struct {
	name  string
	round int
}

func (h *chaosHistory) setPhase(name string, round int) { h.phase.Store(phaseInfo{name, round}) }

func (h *chaosHistory) begin(client, node int, op, key string) *opRecord {
	p, _ := h.phase.Load().(phaseInfo)
	r := &opRecord{Client: client, Node: node, Op: op, Key: key, Start: time.Now(), Phase: p.name, Round: p.round}
	h.mu.Lock()
	r.ID = len(h.ops)
	h.ops = append(h.ops, r)
	h.mu.Unlock()
	return r
}

func (h *chaosHistory) snapshot() []*opRecord {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]*opRecord(nil), h.ops...)
}

// finish records err's outcome on r.
func finish(r *opRecord, err error) {
	r.End = time.Now()
	if err == nil {
		r.Result, r.Status = "ok", 200
		return
	}
	r.Err = err.Error()
	var re interface{ HTTPStatusCode() int }
	if errors.As(err, &re) {
		r.Status = re.HTTPStatusCode()
	}
	var ae smithy.APIError
	if r.Status != 0 {
		r.Result = "error"
		if errors.As(err, &ae) {
			r.Code = ae.ErrorCode()
		}
		if r.Code == "" {
			r.Code = fmt.Sprintf("HTTP%d", r.Status)
		}
		return
	}
	r.Result, r.Code = "transport", transportKind(err)
}

func transportKind(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "conn-refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "conn-reset"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), strings.Contains(err.Error(), "EOF"):
		return "eof"
	case errors.Is(err, context.Canceled):
		return "canceled"
	}
	return "transport"
}

// chaosAPI holds one S3 and one IAM client per node.
type chaosAPI struct {
	s3  []*s3.Client
	iam []*iam.Client
}

func newChaosAPI(c *chaosCluster) *chaosAPI {
	hc := &http.Client{Transport: &http.Transport{
		DialContext:           (&net.Dialer{Timeout: 3 * time.Second}).DialContext,
		MaxIdleConnsPerHost:   32,
		ResponseHeaderTimeout: 20 * time.Second,
		IdleConnTimeout:       30 * time.Second,
	}}
	a := &chaosAPI{}
	creds := credentials.NewStaticCredentialsProvider(c.creds[0], c.creds[1], "")
	for _, n := range c.nodes {
		ep := aws.String("http://" + n.ip + ":8773")
		a.s3 = append(a.s3, s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: ep, UsePathStyle: true, Credentials: creds,
			HTTPClient: hc, Retryer: aws.NopRetryer{}, DisableLogOutputChecksumValidationSkipped: true}))
		a.iam = append(a.iam, iam.New(iam.Options{Region: "us-east-1", BaseEndpoint: ep, Credentials: creds,
			HTTPClient: hc, Retryer: aws.NopRetryer{}}))
	}
	return a
}

const (
	chaosBucket  = "chaos"
	chaosOpLimit = 20 * time.Second
)

func hashOf(b []byte) string { h := sha256.Sum256(b); return hex.EncodeToString(h[:8]) }

// put writes body to key through node (1-based) and records it.
func (a *chaosAPI) put(ctx context.Context, h *chaosHistory, client, node int, key string, body []byte) *opRecord {
	r := h.begin(client, node, "put", key)
	r.Size, r.Hash = int64(len(body)), hashOf(body)
	ctx, cancel := context.WithTimeout(ctx, chaosOpLimit)
	defer cancel()
	_, err := a.s3[node-1].PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(chaosBucket), Key: aws.String(key),
		Body: bytes.NewReader(body), ContentLength: aws.Int64(int64(len(body)))})
	finish(r, err)
	return r
}

// get reads key through node and records what came back: found or not, the body's hash,
// and whether it broke off.
func (a *chaosAPI) get(ctx context.Context, h *chaosHistory, client, node int, key string) *opRecord {
	r := h.begin(client, node, "get", key)
	ctx, cancel := context.WithTimeout(ctx, chaosOpLimit)
	defer cancel()
	out, err := a.s3[node-1].GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(chaosBucket), Key: aws.String(key)})
	if err != nil {
		finish(r, err)
		return r
	}
	defer out.Body.Close()
	hs := sha256.New()
	n, rerr := io.Copy(hs, out.Body)
	finish(r, nil)
	r.Found, r.GotSize = true, n
	sum := hs.Sum(nil)
	r.Hash = hex.EncodeToString(sum[:8])
	want := aws.ToInt64(out.ContentLength)
	switch {
	case rerr != nil:
		r.Truncated, r.TruncWhy = true, fmt.Sprintf("body read failed after %d of %d bytes: %s", n, want, oneLine(rerr.Error(), 120))
	case out.ContentLength != nil && n != want:
		r.Truncated, r.TruncWhy = true, fmt.Sprintf("short body: %d of %d bytes", n, want)
	}
	return r
}

func (a *chaosAPI) del(ctx context.Context, h *chaosHistory, client, node int, key string) *opRecord {
	r := h.begin(client, node, "delete", key)
	ctx, cancel := context.WithTimeout(ctx, chaosOpLimit)
	defer cancel()
	_, err := a.s3[node-1].DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(chaosBucket), Key: aws.String(key)})
	finish(r, err)
	return r
}

// list lists prefix (every page) through node.
func (a *chaosAPI) list(ctx context.Context, h *chaosHistory, client, node int, prefix string) *opRecord {
	r := h.begin(client, node, "list", prefix)
	ctx, cancel := context.WithTimeout(ctx, 3*chaosOpLimit)
	defer cancel()
	var token *string
	var keys []string
	for {
		out, err := a.s3[node-1].ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(chaosBucket), Prefix: aws.String(prefix),
			ContinuationToken: token, MaxKeys: aws.Int32(1000)})
		if err != nil {
			finish(r, err)
			return r
		}
		for _, o := range out.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
		if !aws.ToBool(out.IsTruncated) || out.NextContinuationToken == nil {
			break
		}
		token = out.NextContinuationToken
	}
	finish(r, nil)
	sort.Strings(keys)
	r.Listed = keys
	return r
}

// control runs one control-plane operation (through Raft) on name.
func (a *chaosAPI) control(ctx context.Context, h *chaosHistory, client, node int, op, name string) *opRecord {
	r := h.begin(client, node, op, name)
	ctx, cancel := context.WithTimeout(ctx, chaosOpLimit)
	defer cancel()
	var err error
	switch op {
	case "createBucket":
		_, err = a.s3[node-1].CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)})
	case "headBucket":
		_, err = a.s3[node-1].HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(name)})
	case "deleteBucket":
		_, err = a.s3[node-1].DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(name)})
	case "createUser":
		_, err = a.iam[node-1].CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(name)})
	case "getUser":
		_, err = a.iam[node-1].GetUser(ctx, &iam.GetUserInput{UserName: aws.String(name)})
	case "deleteUser":
		_, err = a.iam[node-1].DeleteUser(ctx, &iam.DeleteUserInput{UserName: aws.String(name)})
	}
	finish(r, err)
	r.Found = err == nil
	return r
}

// The control-plane names whose history is checked for linearizability.
var (
	chaosUsers      = []string{"chaos-u0", "chaos-u1", "chaos-u2"}
	chaosLinBuckets = []string{"chaos-lin-0", "chaos-lin-1", "chaos-lin-2"}
)

func chaosKey(client, k int) string { return fmt.Sprintf("c%d/k%02d", client, k) }

// randomBody: 0 bytes, small, inline (under 128 KiB) or erasure coded (up to 3 MiB).
func randomBody(rng *rand.Rand) []byte {
	var n int
	switch x := rng.Float64(); {
	case x < 0.05:
		n = 0
	case x < 0.35:
		n = 1 + rng.IntN(16<<10)
	case x < 0.55:
		n = 16<<10 + rng.IntN(112<<10)
	default:
		n = 128<<10 + rng.IntN(3<<20-128<<10)
	}
	b := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		v := rng.Uint64()
		for j := 0; j < 8; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	for i := n &^ 7; i < n; i++ {
		b[i] = byte(rng.Uint32())
	}
	return b
}

// runClient is one workload client: it owns keys c<id>/k00..; its operations on them are
// sequential, so each key's history is a sequence. Control-plane operations go to the
// shared names.
//
// stop ends the loop; opCtx (canceled only on Ctrl-C) bounds each operation, so one under
// way when the soak stops still gets its answer.
func (a *chaosAPI) runClient(ctx, opCtx context.Context, h *chaosHistory, id, nodes, keys int, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, uint64(id)))
	for ctx.Err() == nil {
		node := 1 + rng.IntN(nodes)
		key := chaosKey(id, rng.IntN(keys))
		switch x := rng.IntN(100); {
		case x < 32:
			a.put(opCtx, h, id, node, key, randomBody(rng))
		case x < 57:
			a.get(opCtx, h, id, node, key)
		case x < 64:
			a.del(opCtx, h, id, node, key)
		case x < 70:
			a.list(opCtx, h, id, node, fmt.Sprintf("c%d/", id))
		default:
			ops := []string{"createBucket", "createBucket", "headBucket", "deleteBucket", "createUser", "createUser", "getUser", "getUser", "deleteUser"}
			op := ops[rng.IntN(len(ops))]
			names := chaosUsers
			if strings.HasSuffix(op, "Bucket") {
				names = chaosLinBuckets
			}
			a.control(opCtx, h, id, node, op, names[rng.IntN(len(names))])
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Duration(10+rng.IntN(30)) * time.Millisecond):
		}
	}
}
