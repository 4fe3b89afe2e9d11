// Package sts is the STS front end: GetCallerIdentity, GetSessionToken and AssumeRole.
// Temporary credentials are self-contained: the session token is the session sealed with
// the cluster key (api/identity), so any node validates it without a lookup and issuing
// one writes nothing through Raft.
package sts

import (
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/banyancloud/banyan/api/awserr"
	"github.com/banyancloud/banyan/api/iam"
	"github.com/banyancloud/banyan/api/iampolicy"
	"github.com/banyancloud/banyan/api/identity"
	"github.com/banyancloud/banyan/api/protocol/query"
	"github.com/banyancloud/banyan/api/service"
	"github.com/banyancloud/banyan/cluster/state"
)

// Front is the STS front end.
type Front struct {
	Cluster   service.Cluster
	Directory *identity.Directory
	Now       func() time.Time
}

// New returns STS as an RPC service.
func New(c service.Cluster, dir *identity.Directory) *service.RPC {
	f := &Front{Cluster: c, Directory: dir, Now: time.Now}
	return &service.RPC{
		Name:  "sts",
		Codec: query.New(Service),
		Handlers: map[string]service.Handler{
			"GetCallerIdentity": f.getCallerIdentity,
			"GetSessionToken":   f.getSessionToken,
			"AssumeRole":        f.assumeRole,
		},
	}
}

var (
	errValidation   = awserr.New("ValidationError", http.StatusBadRequest, "")
	errMalformed    = awserr.New("MalformedPolicyDocument", http.StatusBadRequest, "")
	errPackedTooBig = awserr.New("PackedPolicyTooLarge", http.StatusBadRequest, "")
	sessionName     = regexp.MustCompile(`^[\w+=,.@-]{2,64}$`)
)

func (f *Front) getCallerIdentity(c *service.Call, _ any) (any, error) {
	c.NoAuthorizationRequired() // AWS: no permission is needed to ask who you are
	return &GetCallerIdentityResponse{UserId: &c.Caller.UserID, Account: &c.Caller.AccountID, Arn: &c.Caller.ARN}, nil
}

func (f *Front) getSessionToken(c *service.Call, in any) (any, error) {
	req := in.(*GetSessionTokenRequest)
	c.NoAuthorizationRequired() // AWS: GetSessionToken needs no permission
	if c.Caller.Session != nil {
		return nil, awserr.AccessDenied.WithMessage("Cannot call GetSessionToken with session credentials")
	}
	max := int32(129600)
	if c.Caller.Type == identity.TypeRoot {
		max = 3600
	}
	dur, err := duration(req.DurationSeconds, 43200, max)
	if err != nil {
		return nil, err
	}
	s := &identity.Session{AccountID: c.Caller.AccountID, UserName: c.Caller.UserName, IsRoot: c.Caller.Type == identity.TypeRoot}
	creds, err := f.issue(s, dur)
	if err != nil {
		return nil, err
	}
	return &GetSessionTokenResponse{Credentials: creds}, nil
}

func (f *Front) assumeRole(c *service.Call, in any) (any, error) {
	req := in.(*AssumeRoleRequest)
	if !sessionName.MatchString(req.RoleSessionName) {
		return nil, errValidation.WithMessage("1 validation error detected: Value '%s' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*", req.RoleSessionName)
	}
	account, name, ok := parseRoleARN(req.RoleArn)
	if !ok {
		return nil, errValidation.WithMessage("%s is invalid", req.RoleArn)
	}
	role, err := f.Cluster.State().IAMEntity(state.KindRole, account, name)
	if err != nil {
		// Created through another box a moment ago? As with every lookup that misses,
		// catch up with the leader and look again before answering; a miss that cannot
		// be checked (no leader) is the cluster's retryable error, not AccessDenied.
		if _, ok := f.Cluster.(service.CatchUpper); ok {
			if cerr := service.ReadBarrier(c.Ctx, f.Cluster); cerr != nil {
				return nil, cerr
			}
			role, err = f.Cluster.State().IAMEntity(state.KindRole, account, name)
		}
	}
	var trust *iampolicy.Policy
	if err == nil {
		trust, err = iampolicy.Parse(role.Role.TrustPolicy, iampolicy.TrustPolicy)
	}
	if err != nil || role.Role.ARN != req.RoleArn {
		// AWS answers an unknown role exactly like a forbidden one.
		return nil, notAuthorized(c, req.RoleArn)
	}
	if c.Caller.Type == identity.TypeRoot {
		return nil, awserr.AccessDenied.WithMessage("Roles may not be assumed by root accounts.")
	}
	if err := c.AuthorizeCheck(identity.Check{Action: "sts:AssumeRole", Resource: req.RoleArn,
		ResourceAccount: account, ResourcePolicy: trust, Context: externalID(req.ExternalId)}); err != nil {
		return nil, notAuthorized(c, req.RoleArn)
	}
	maxDur := role.Role.MaxSessionDuration
	if maxDur == 0 {
		maxDur = 3600
	}
	dur, err := duration(req.DurationSeconds, 3600, maxDur)
	if err != nil {
		return nil, err
	}
	s := &identity.Session{
		AccountID: account, RoleARN: role.Role.ARN, RoleID: role.Role.ID, RoleName: role.Role.Name,
		SessionName: req.RoleSessionName,
	}
	if req.Policy != nil {
		if len(*req.Policy) > 2048 {
			return nil, errPackedTooBig.WithMessage("Packed policy consumes %d%% of allotted space, please use smaller policy.", len(*req.Policy)*100/2048)
		}
		if _, err := iampolicy.Parse(*req.Policy, iampolicy.IdentityPolicy); err != nil {
			var ae *awserr.Error
			if errors.As(err, &ae) {
				return nil, errMalformed.WithMessage("%s", ae.Message)
			}
			return nil, errMalformed.WithMessage("%v", err)
		}
		s.Policy = *req.Policy
	}
	if len(req.PolicyArns) > 10 {
		return nil, errValidation.WithMessage("1 validation error detected: Value at 'policyArns' failed to satisfy constraint: Member must have length less than or equal to 10")
	}
	for _, p := range req.PolicyArns {
		if p.Arn != nil {
			s.PolicyARNs = append(s.PolicyARNs, *p.Arn)
		}
	}
	creds, err := f.issue(s, dur)
	if err != nil {
		return nil, err
	}
	size := int32(len(s.Policy) * 100 / 2048)
	return &AssumeRoleResponse{
		Credentials: creds,
		AssumedRoleUser: &AssumedRoleUser{
			AssumedRoleId: role.Role.ID + ":" + req.RoleSessionName,
			Arn:           fmt.Sprintf("arn:aws:sts::%s:assumed-role/%s/%s", account, role.Role.Name, req.RoleSessionName),
		},
		PackedPolicySize: &size,
	}, nil
}

func (f *Front) issue(s *identity.Session, dur time.Duration) (*Credentials, error) {
	now := f.Now().UTC().Truncate(time.Second)
	s.AccessKeyID, s.Secret = iam.NewID("ASIA"), iam.NewSecretKey()
	s.Issued, s.Expires = now, now.Add(dur)
	tok, err := f.Directory.SealSession(s)
	if err != nil {
		return nil, err
	}
	return &Credentials{AccessKeyId: s.AccessKeyID, SecretAccessKey: s.Secret, SessionToken: tok, Expiration: s.Expires}, nil
}

func duration(req *int32, def, max int32) (time.Duration, error) {
	d := def
	if d > max {
		d = max
	}
	if req != nil {
		d = *req
		if d < 900 || d > max {
			return 0, errValidation.WithMessage("The requested DurationSeconds exceeds the allowed range: it must be between 900 and %d seconds.", max)
		}
	}
	return time.Duration(d) * time.Second, nil
}

func notAuthorized(c *service.Call, roleARN string) error {
	return awserr.AccessDenied.WithMessage("User: %s is not authorized to perform: sts:AssumeRole on resource: %s", c.Caller.ARN, roleARN)
}

func externalID(v *string) map[string][]string {
	if v == nil {
		return nil
	}
	return map[string][]string{"sts:ExternalId": {*v}}
}

// parseRoleARN splits arn:aws:iam::ACCOUNT:role/PATH/NAME.
func parseRoleARN(arn string) (account, name string, ok bool) {
	const prefix = "arn:aws:iam::"
	if !strings.HasPrefix(arn, prefix) {
		return "", "", false
	}
	rest := arn[len(prefix):]
	i := strings.Index(rest, ":role/")
	if i != 12 {
		return "", "", false
	}
	account, res := rest[:12], rest[i+len(":role/"):]
	if j := strings.LastIndex(res, "/"); j >= 0 {
		res = res[j+1:]
	}
	return account, res, res != ""
}
