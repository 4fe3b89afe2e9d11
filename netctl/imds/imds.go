// Package imds is the instance metadata service at 169.254.169.254 on a box's bridge:
// it knows the caller by its source address, answers what EC2's IMDS answers
// (meta-data, user-data, the identity document), and issues IMDSv2 session tokens that
// are HMACs, so it keeps no state.
package imds

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/banyancloud/banyan/cluster/state"
	"github.com/banyancloud/banyan/netctl"
)

// Header names of IMDSv2.
const (
	TokenHeader    = "X-Aws-Ec2-Metadata-Token"
	TokenTTLHeader = "X-Aws-Ec2-Metadata-Token-Ttl-Seconds"
)

// MaxTokenTTL is the longest token life a client may ask for (6 hours).
const MaxTokenTTL = 21600 * time.Second

// versions are the metadata versions EC2 lists at /, oldest first; every one serves the
// same tree as latest (cloud-init probes several).
var versions = []string{
	"1.0", "2007-01-19", "2007-03-01", "2007-08-29", "2007-10-10", "2007-12-15",
	"2008-02-01", "2008-09-01", "2009-04-04", "2011-01-01", "2011-05-01", "2012-01-12",
	"2014-02-25", "2014-11-05", "2015-10-20", "2016-04-19", "2016-06-30", "2016-09-02",
	"2018-03-28", "2018-08-17", "2018-09-24", "2019-10-01", "2020-10-27", "2021-01-03",
	"2021-03-23", "2021-07-15", "2022-09-24",
}

// Config configures a Server.
type Config struct {
	// Region is the region the instances see (placement/region, the domain of their
	// host names, the identity document).
	Region string
	// Instance returns the instance that holds a private address; false for none.
	Instance func(ip netip.Addr) (*state.Instance, bool)
	// PublicIP returns the public (Elastic IP) address of an instance, for public-ipv4
	// and public-hostname; nil, or false, for none.
	PublicIP func(instanceID string) (netip.Addr, bool)
	// KeyPair returns an account's key pair by name, for public-keys/; nil for none.
	KeyPair func(account, name string) (*state.KeyPair, bool)
	// RequireToken refuses requests without an IMDSv2 token (401), as an instance
	// with HttpTokens=required; else IMDSv1 requests are answered too.
	RequireToken bool
	// Tags serves tags/instance/ (InstanceMetadataTags=enabled).
	Tags bool
	// Key signs tokens; nil for 32 random bytes.
	Key []byte
	// Now is the clock; nil for time.Now.
	Now func() time.Time
	// Log gets refused requests; nil for slog.Default().
	Log *slog.Logger
}

// Server is the metadata service; it is an http.Handler.
type Server struct {
	cfg Config
}

// New makes a metadata service.
func New(cfg Config) (*Server, error) {
	if cfg.Instance == nil {
		return nil, errors.New("imds: no instance lookup")
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	if cfg.Key == nil {
		cfg.Key = make([]byte, 32)
		if _, err := rand.Read(cfg.Key); err != nil {
			return nil, err
		}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	return &Server{cfg: cfg}, nil
}

// Listen opens the service's socket: TCP 169.254.169.254:80, bound to the bridge
// ("" for netctl.DefaultBridge) so that only its instances reach it, in the calling
// thread's network namespace. The bridge must hold the address (EnsureBridge).
func Listen(bridge string) (net.Listener, error) {
	if bridge == "" {
		bridge = netctl.DefaultBridge
	}
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = unix.SetsockoptString(int(fd), unix.SOL_SOCKET, unix.SO_BINDTODEVICE, bridge)
		})
		if err != nil {
			return err
		}
		return serr
	}}
	l, err := lc.Listen(context.Background(), "tcp4", netip.AddrPortFrom(netctl.MetadataAddr, 80).String())
	if err != nil {
		return nil, fmt.Errorf("imds on %s: %w", bridge, err)
	}
	return l, nil
}

// Serve answers on l until ctx ends.
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	hs := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(s.cfg.Log.Handler(), slog.LevelDebug),
	}
	stop := context.AfterFunc(ctx, func() {
		sctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		hs.Shutdown(sctx)
	})
	defer stop()
	if err := hs.Serve(l); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// ServeHTTP answers one request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Server", "EC2ws")
	path := r.URL.Path
	if path == "/" || path == "" {
		if !allow(w, r, http.MethodGet, http.MethodHead) {
			return
		}
		text(w, r, strings.Join(append(versions[:len(versions):len(versions)], "latest"), "\n"))
		return
	}
	version, rest, _ := strings.Cut(strings.TrimPrefix(path, "/"), "/")
	if version != "latest" && !contains(versions, version) {
		fail(w, r, http.StatusNotFound)
		return
	}
	if version == "latest" && strings.TrimSuffix(rest, "/") == "api/token" {
		s.token(w, r)
		return
	}
	if !allow(w, r, http.MethodGet, http.MethodHead) {
		return
	}
	in, ok := s.caller(r)
	if !ok {
		fail(w, r, http.StatusNotFound)
		return
	}
	if tok := r.Header.Get(TokenHeader); tok != "" {
		if !validToken(s.cfg.Key, tok, in.ID, s.cfg.Now()) {
			s.cfg.Log.Debug("imds: invalid or expired token", "instance", in.ID)
			fail(w, r, http.StatusUnauthorized)
			return
		}
	} else if s.cfg.RequireToken {
		fail(w, r, http.StatusUnauthorized)
		return
	}
	v, ok := s.tree(in).get(rest)
	if !ok {
		fail(w, r, http.StatusNotFound)
		return
	}
	ctype := "text/plain"
	if rest == "user-data" {
		ctype = "application/octet-stream"
	}
	reply(w, r, http.StatusOK, ctype, v)
}

// token answers PUT /latest/api/token: a token for the caller's instance, good for the
// seconds its TTL header asks (1 to 21600). As in EC2, a request that went through a
// proxy (X-Forwarded-For) gets none.
func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	if !allow(w, r, http.MethodPut) {
		return
	}
	if _, proxied := r.Header["X-Forwarded-For"]; proxied {
		fail(w, r, http.StatusForbidden)
		return
	}
	ttl, err := strconv.Atoi(strings.TrimSpace(r.Header.Get(TokenTTLHeader)))
	if err != nil || ttl < 1 || time.Duration(ttl)*time.Second > MaxTokenTTL {
		fail(w, r, http.StatusBadRequest)
		return
	}
	in, ok := s.caller(r)
	if !ok {
		fail(w, r, http.StatusNotFound)
		return
	}
	tok := mintToken(s.cfg.Key, in.ID, s.cfg.Now().Add(time.Duration(ttl)*time.Second))
	w.Header().Set(TokenTTLHeader, strconv.Itoa(ttl))
	text(w, r, tok)
}

func (s *Server) caller(r *http.Request) (*state.Instance, bool) {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return nil, false
	}
	in, ok := s.cfg.Instance(ap.Addr().Unmap())
	if !ok || in == nil {
		s.cfg.Log.Debug("imds: request from an address no instance holds", "addr", ap.Addr())
		return nil, false
	}
	return in, true
}

func allow(w http.ResponseWriter, r *http.Request, methods ...string) bool {
	if contains(methods, r.Method) {
		return true
	}
	w.Header().Set("Allow", strings.Join(methods, ", "))
	fail(w, r, http.StatusMethodNotAllowed)
	return false
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func text(w http.ResponseWriter, r *http.Request, body string) {
	reply(w, r, http.StatusOK, "text/plain", body)
}

// reply writes one answer; HEAD gets its headers only.
func reply(w http.ResponseWriter, r *http.Request, code int, ctype, body string) {
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(code)
	if r.Method != http.MethodHead {
		w.Write([]byte(body))
	}
}

// fail answers an error as EC2's IMDS does: a small XHTML page naming the status.
func fail(w http.ResponseWriter, r *http.Request, code int) {
	title := fmt.Sprintf("%d - %s", code, http.StatusText(code))
	body := `<?xml version="1.0" encoding="iso-8859-1"?>
<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN"
	"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">
<html xmlns="http://www.w3.org/1999/xhtml" xml:lang="en" lang="en">
 <head>
  <title>` + title + `</title>
 </head>
 <body>
  <h1>` + title + `</h1>
 </body>
</html>
`
	reply(w, r, code, "text/html", body)
}
