// Package service is the contract between the AWS front door (package api) and each
// service's front end (api/iam, api/sts, later ec2, s3, ...): the per-request Call with
// the authenticated caller and the one way to authorize, the handler signature of
// RPC-style services, and the narrow view of the cluster a front end writes and reads
// through.
package service

import (
	"context"
	"net/http"
	"net/netip"

	"github.com/banyancloud/banyan/api/awserr"
	"github.com/banyancloud/banyan/api/identity"
	"github.com/banyancloud/banyan/api/protocol"
	"github.com/banyancloud/banyan/cluster/state"
)

// Cluster is what a front end needs of the cluster: submit a write from this node
// (forwarded to the leader, held during failover), and read this node's replica, which
// has applied every write submitted through this node.
type Cluster interface {
	Apply(ctx context.Context, cmd state.Command, out any) (uint64, error)
	State() *state.Store
}

// CatchUpper is implemented by a Cluster that can bring its local replica up to date
// with everything committed anywhere (cluster.Node). Front ends call it when a lookup
// misses, so that a bucket or key created through another box a moment ago is found.
type CatchUpper interface {
	CatchUp(ctx context.Context) error
}

// Call is one authenticated API request.
type Call struct {
	Ctx       context.Context
	Caller    *identity.Caller
	RequestID string
	Region    string
	HTTP      *http.Request
	SourceIP  netip.Addr
	Secure    bool
	// Trailer returns the trailing headers of an aws-chunked body (checksums), available
	// once the body has been read to EOF without error; nil for other requests.
	Trailer func() http.Header

	Authorizer *identity.Authorizer
	authorized bool
}

// Authorize checks that the caller may perform action on resource (an ARN, or "*").
// Every handler calls it (or AuthorizeCheck) before acting; the front door refuses to
// send a success for a call that was never authorized.
func (c *Call) Authorize(action, resource string) error {
	return c.AuthorizeCheck(identity.Check{Action: action, Resource: resource})
}

// AuthorizeCheck is Authorize with a resource policy, resource owner or condition keys.
func (c *Call) AuthorizeCheck(chk identity.Check) error {
	chk.SourceIP, chk.Secure = c.SourceIP, c.Secure
	if chk.Context == nil {
		chk.Context = map[string][]string{}
	}
	if c.Region != "" {
		chk.Context["aws:RequestedRegion"] = []string{c.Region}
	}
	// The request's own global keys, present when the request carries them.
	if c.HTTP != nil {
		for key, header := range map[string]string{"aws:Referer": "Referer", "aws:UserAgent": "User-Agent"} {
			if v := c.HTTP.Header.Get(header); v != "" {
				chk.Context[key] = []string{v}
			}
		}
	}
	if err := c.Authorizer.Authorize(c.Caller, chk); err != nil {
		return err
	}
	c.authorized = true
	return nil
}

// NoAuthorizationRequired marks a call that AWS lets any authenticated caller make
// (sts:GetCallerIdentity, sts:GetSessionToken): explicit, so that it can be audited.
func (c *Call) NoAuthorizationRequired() { c.authorized = true }

// Authorized reports whether the handler authorized the call.
func (c *Call) Authorized() bool { return c.authorized }

// Handler serves one operation of an RPC-style service: input is the generated input
// struct (a pointer), output the generated output struct or nil.
type Handler func(c *Call, input any) (output any, err error)

// RPC is an RPC-style service (query, ec2, json, rpc-v2-cbor): a codec and one handler
// per operation.
type RPC struct {
	Name     string // the SigV4 service name, "iam"
	Codec    protocol.Protocol
	Handlers map[string]Handler
	// MapError turns a handler's error into the service's AWS error; nil means errors
	// must already be *awserr.Error.
	MapError func(error) *awserr.Error
}
