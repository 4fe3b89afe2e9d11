package main

import (
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/banyancloud/banyan/api/s3"
	"github.com/banyancloud/banyan/cluster/state"
	"github.com/banyancloud/banyan/node"
)

// defaultDataDir is a folder in the working directory, so that `banyan server` with no
// flags runs a single-node cloud without touching the rest of the system.
const defaultDataDir = "banyan-data"

type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

func runServer(args []string) error {
	fs := flag.NewFlagSet("server", flag.ContinueOnError)
	var cfg node.Config
	var disks stringList
	var logLevel, pprofAddr string
	var compute computeFlags
	fs.StringVar(&cfg.DataDir, "data-dir", defaultDataDir, "folder holding this box's state")
	fs.StringVar(&cfg.BindAddr, "bind", "", "IP address to listen on (default: as stored, else all interfaces)")
	fs.StringVar(&cfg.Name, "name", "", "node name, fixed at first start (default: the hostname, plus the bind IP if given)")
	fs.StringVar(&cfg.Join, "join", "", "join the cluster through this member (host or host:port)")
	fs.StringVar(&cfg.Token, "token", "", "join token (the contents of DATA-DIR/join-token on the first node)")
	fs.Var(&disks, "disk", "a folder or mount to store objects on (repeatable; default: DATA-DIR/disks/0)")
	fs.IntVar(&cfg.RPCPort, "rpc-port", 0, "node RPC, Raft and metrics port (default 7947)")
	fs.IntVar(&cfg.GossipPort, "gossip-port", 0, "gossip port, TCP and UDP (default 7946)")
	fs.IntVar(&cfg.APIPort, "api-port", 0, "AWS API port (default 8773)")
	fs.IntVar(&cfg.HTTPSPort, "https-port", 0, "AWS API port for HTTPS with the cluster CA's certificate (default 8443)")
	fs.StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&pprofAddr, "pprof", "", "serve Go's profiler (net/http/pprof) on this loopback address, e.g. 127.0.0.1:6060 (off by default)")
	fs.StringVar(&compute.mode, "compute", "auto", "run instances on this box: auto (when its libvirtd answers), on (fail to start otherwise) or off")
	fs.StringVar(&compute.uri, "libvirt-uri", "qemu:///system", "the libvirtd that runs this box's instances")
	fs.StringVar(&compute.zone, "zone", "", "this box's availability zone (default: the region's first, REGIONa)")
	fs.StringVar(&compute.accel, "accel", "", "force the hypervisor's acceleration: kvm or tcg (default: probe, kvm if a guest starts, else tcg)")
	fs.StringVar(&compute.bridge, "bridge", "bnybr0", "the bridge instances attach to on this box")
	fs.StringVar(&compute.publicIf, "public-interface", "", "the interface on the LAN that answers for the Elastic IPs of this box's instances (default: the interface of the default route)")
	fs.StringVar(&compute.probeImage, "probe-image", "", "a bootable guest image to check that KVM really runs guests (default: any image this box has cached)")
	var dnsListen string
	fs.StringVar(&dnsListen, "dns-listen", "", "more addresses (host:port, comma separated) the box's DNS server answers on, for operators (it always answers instances on port 53 of the bridge's router address); off for no DNS server")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("server takes no arguments, got %q", fs.Args())
	}
	switch compute.mode {
	case "auto", "on", "off":
	default:
		return fmt.Errorf("--compute: want auto, on or off, got %q", compute.mode)
	}
	switch compute.accel {
	case "", "kvm", "tcg":
	default:
		return fmt.Errorf("--accel: want kvm or tcg, got %q", compute.accel)
	}
	cfg.Disks = disks
	cfg.Version = version
	var level slog.Level
	if err := level.UnmarshalText([]byte(logLevel)); err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	cfg.Logger = log

	if pprofAddr != "" {
		if err := servePprof(pprofAddr); err != nil {
			return err
		}
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	srv, err := node.Start(ctx, cfg)
	if err != nil {
		return err
	}
	// Disks first: other boxes reach them over node RPC as soon as gossip reports us.
	objects, err := startObjectStore(ctx, srv, cfg.Disks, log)
	if err != nil {
		srv.Shutdown()
		return err
	}
	defer objects.Close()
	catchUp(ctx, srv, log)
	if err := bootstrapAPI(ctx, srv); err != nil {
		srv.Shutdown()
		return err
	}
	if dnsListen != "off" {
		d, err := node.StartDNS(ctx, node.DNSConfig{Node: srv.Cluster, Region: clusterRegion(srv), Listen: splitList(dnsListen), Logger: log})
		if err != nil {
			srv.Shutdown()
			return err
		}
		compute.dns = d
	}
	// Compute reads customers' objects (ImportImage) as S3 clients see them: decrypted.
	if _, err := startCompute(ctx, srv, s3.PlainObjects(objects, srv.Dir.Secrets.ClusterKey), compute, clusterRegion(srv), log); err != nil {
		srv.Shutdown()
		return err
	}
	handler, err := newAPI(ctx, srv, objects, log)
	if err != nil {
		srv.Shutdown()
		return err
	}
	api := &http.Server{Handler: handler, ReadHeaderTimeout: 30 * time.Second}
	go api.Serve(srv.APIListener)
	apiTLS := &http.Server{Handler: handler, ReadHeaderTimeout: 30 * time.Second,
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{srv.Dir.TLS.Cert}, MinVersion: tls.VersionTLS12}}
	go apiTLS.ServeTLS(srv.APITLSListener, "", "")

	printBanner(srv)
	<-ctx.Done()
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	api.Shutdown(sctx)
	apiTLS.Shutdown(sctx)
	cancel()
	srv.Shutdown()
	return nil
}

func printBanner(srv *node.Server) {
	id := srv.Dir.Identity
	dir, _ := filepath.Abs(srv.Dir.Path)
	w := os.Stdout
	fmt.Fprintf(w, "Banyan node %s is up (cluster %s).\n", id.Name, id.ClusterID)
	fmt.Fprintf(w, "  data dir:  %s\n", dir)
	api, apiTLS, rpc := hostPort(id.AdvertiseAddr, id.APIPort), hostPort(id.AdvertiseAddr, id.HTTPSPort), hostPort(id.AdvertiseAddr, id.RPCPort)
	fmt.Fprintf(w, "  AWS API:   http://%s and https://%s (CA: %s)\n", api, apiTLS, filepath.Join(dir, "tls", "ca.pem"))
	fmt.Fprintf(w, "  node RPC:  %s (metrics at http://%s/metrics)\n", rpc, rpc)
	fmt.Fprintf(w, "  status:    banyan status --addr %s\n", rpc)
	if _, err := os.Stat(srv.Dir.JoinTokenPath()); err == nil {
		fmt.Fprintf(w, "  add a box: banyan server --bind IP --join %s --token $(cat %s)\n", rpc, filepath.Join(dir, "join-token"))
	}
	printAPIBanner(w, srv, dir)
}

// catchUp waits until this node's replica holds everything committed before it started:
// a restarted box must not answer API calls from stale state (a key created while it was
// down would look unknown). A write through this node returns only once the replica has
// applied it, so it serves as the barrier. Without a quorum the box serves anyway, and
// says so.
func catchUp(ctx context.Context, srv *node.Server, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		_, err := srv.Cluster.Apply(ctx, &state.Noop{}, nil)
		if err == nil {
			return
		}
		if ctx.Err() != nil {
			log.Warn("serving before this node caught up with the cluster: no quorum reachable", "err", err)
			return
		}
	}
}

// splitList splits a comma-separated flag value, dropping empty items.
func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// hostPort formats an address for URLs and flags, bracketing IPv6.
func hostPort(host string, port int) string { return net.JoinHostPort(host, strconv.Itoa(port)) }
