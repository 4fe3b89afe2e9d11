package api

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/banyancloud/banyan/api/awserr"
	"github.com/banyancloud/banyan/api/identity"
	"github.com/banyancloud/banyan/api/protocol"
	"github.com/banyancloud/banyan/api/protocol/query"
	"github.com/banyancloud/banyan/api/protocol/restxml"
	"github.com/banyancloud/banyan/api/service"
	"github.com/banyancloud/banyan/api/sigv4"
)

// Server routes AWS API requests to the services' front ends.
type Server struct {
	Verifier   *sigv4.Verifier
	Authorizer *identity.Authorizer
	Log        *slog.Logger
	Region     string // the cluster's region, for requests that name none (anonymous)
	// S3 serves the rest-xml S3 API, the one service that takes anonymous requests
	// (allowed only by bucket policies and ACLs). Nil: no S3.
	S3 S3Frontend
	// S3Claims tells an unsigned request meant for S3 (anonymous access) from an
	// unsigned call of an RPC service, which gets MissingAuthenticationToken.
	S3Claims func(*http.Request) bool

	rpc map[string]*service.RPC
}

// S3Frontend is the S3 front end as the router drives it: the call is authenticated (or
// anonymous) and carries the request ID; the front end authorizes and answers.
type S3Frontend interface {
	ServeS3(w http.ResponseWriter, r *http.Request, call *service.Call)
}

// s3Errors writes authentication failures in S3's XML error shape.
var s3Errors = &restxml.Codec{}

// Register adds an RPC-style service under its SigV4 name.
func (s *Server) Register(svc *service.RPC) {
	if s.rpc == nil {
		s.rpc = map[string]*service.RPC{}
	}
	s.rpc[svc.Name] = svc
}

// fallback answers requests no service claims, in the query protocol's error shape.
var fallback = query.New(&protocol.Service{})

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.ContentLength == 0 && strings.EqualFold(r.Header.Get("Expect"), "100-continue") {
		// Go's server sends "100 Continue" only when a handler first reads a body, so a
		// request with an empty one (aws-cli uploading an empty file) gets the final
		// answer instead. botocore then keeps that answer's status line on the
		// connection and misreads the next response sent on it: the next upload stalls
		// until its 60 s read timeout. S3 answers 100 Continue here; so do we.
		w.WriteHeader(http.StatusContinue)
	}
	reqID := protocol.NewRequestID()
	w.Header().Set("x-amzn-RequestId", reqID)
	name, region, signed := sigv4.ParseScope(r)
	if s.S3 != nil && (name == "s3" || !signed && !attemptedAuth(r) && s.S3Claims != nil && s.S3Claims(r)) {
		s.serveS3(w, r, reqID, region)
		return
	}
	if !signed {
		if attemptedAuth(r) {
			// Signed, but unreadably: let the verifier say what is wrong with it.
			if _, err := s.Verifier.Verify(r); err != nil {
				fallback.WriteError(w, r, s.authError(err), reqID)
				return
			}
		}
		fallback.WriteError(w, r, awserr.MissingAuthenticationToken, reqID)
		return
	}
	svc, ok := s.rpc[name]
	if !ok {
		fallback.WriteError(w, r, awserr.New("UnknownService", http.StatusBadRequest,
			fmt.Sprintf("Banyan does not serve the %q service.", name)), reqID)
		return
	}
	r = r.WithContext(identity.WithSessionToken(r.Context(), sessionToken(r)))
	res, err := s.Verifier.Verify(r)
	if err != nil {
		svc.Codec.WriteError(w, r, s.authError(err), reqID)
		return
	}
	caller, _ := res.Credential.Principal.(*identity.Caller)
	if caller == nil {
		caller = identity.Anonymous
	}
	call := &service.Call{
		Ctx: r.Context(), Caller: caller, RequestID: reqID, Region: region, HTTP: r,
		SourceIP: remoteIP(r), Secure: r.TLS != nil, Authorizer: s.Authorizer,
	}
	s.serveRPC(w, r, svc, call)
}

func (s *Server) serveS3(w http.ResponseWriter, r *http.Request, reqID, region string) {
	r = r.WithContext(identity.WithSessionToken(r.Context(), sessionToken(r)))
	res, err := s.Verifier.Verify(r)
	if err != nil {
		s3Errors.WriteError(w, r, s.authError(err), reqID)
		return
	}
	caller, _ := res.Credential.Principal.(*identity.Caller)
	if caller == nil || res.Anonymous {
		caller = identity.Anonymous
	}
	if region == "" {
		region = s.Region
	}
	s.S3.ServeS3(w, r, &service.Call{
		Ctx: r.Context(), Caller: caller, RequestID: reqID, Region: region, HTTP: r,
		SourceIP: remoteIP(r), Secure: r.TLS != nil, Authorizer: s.Authorizer, Trailer: res.Trailer,
	})
}

// attemptedAuth reports whether the request carries any signature, readable or not.
func attemptedAuth(r *http.Request) bool {
	q := r.URL.Query()
	return r.Header.Get("Authorization") != "" || q.Get("X-Amz-Algorithm") != "" || q.Get("X-Amz-Credential") != "" ||
		q.Get("AWSAccessKeyId") != ""
}

func (s *Server) serveRPC(w http.ResponseWriter, r *http.Request, svc *service.RPC, call *service.Call) {
	op, input, err := svc.Codec.Decode(r)
	if err != nil {
		svc.Codec.WriteError(w, r, awserr.As(err), call.RequestID)
		return
	}
	h, ok := svc.Handlers[op.Name]
	if !ok {
		svc.Codec.WriteError(w, r, awserr.InvalidAction.WithMessage("The action %s is not valid for this web service.", op.Name), call.RequestID)
		return
	}
	start := time.Now()
	out, err := h(call, input)
	if err == nil && !call.Authorized() {
		s.Log.Error("handler returned success without authorizing the call; refusing", "service", svc.Name, "action", op.Name)
		err = awserr.InternalError
	}
	if err != nil {
		e := s.mapError(svc, err)
		if e.HTTPStatus >= 500 {
			s.Log.Error("API call failed", "service", svc.Name, "action", op.Name, "request_id", call.RequestID, "err", err)
		}
		svc.Codec.WriteError(w, r, e, call.RequestID)
		return
	}
	if err := svc.Codec.WriteResponse(w, r, op, out, call.RequestID); err != nil {
		s.Log.Error("writing response", "service", svc.Name, "action", op.Name, "err", err)
	}
	s.Log.Debug("api call", "service", svc.Name, "action", op.Name, "caller", call.Caller.ARN, "took", time.Since(start))
}

func (s *Server) mapError(svc *service.RPC, err error) *awserr.Error {
	var e *awserr.Error
	if errors.As(err, &e) {
		return e
	}
	if awserr.Retryable(err) {
		return awserr.ServiceUnavailable
	}
	if svc.MapError != nil {
		return svc.MapError(err)
	}
	return awserr.InternalError
}

// authError passes the verifier's AWS errors through and hides anything else.
func (s *Server) authError(err error) *awserr.Error {
	var e *awserr.Error
	if errors.As(err, &e) {
		return e
	}
	s.Log.Error("authentication failed internally", "err", err)
	return awserr.ServiceUnavailable
}

func sessionToken(r *http.Request) string {
	if t := r.Header.Get("X-Amz-Security-Token"); t != "" {
		return t
	}
	return r.URL.Query().Get("X-Amz-Security-Token")
}

func remoteIP(r *http.Request) netip.Addr {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, _ := netip.ParseAddr(strings.TrimSpace(host))
	return a.Unmap()
}
