package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/banyancloud/banyan/blockstore/nbd"
	"github.com/banyancloud/banyan/blockstore/replica"
	"github.com/banyancloud/banyan/blockstore/volume"
	"github.com/banyancloud/banyan/cluster/mux"
	"github.com/banyancloud/banyan/cluster/pki"
)

// The block benchmark's targets: Banyan's NBD server over volumes built the way
// node/blockstore.go builds them (a local replica.Store, and for the second copy a
// replica.Remote reaching another Store through replica.NewHandler), and qemu-nbd over a
// raw file, both on unix sockets in the benchmark's folder.

// Export names on Banyan's server.
const (
	blockVol1 = "vol-bench1copy"
	blockVol2 = "vol-bench2copies"
)

// banyanBlock is Banyan's side: two boxes' volume stores, the far one behind node RPC on
// loopback, and an NBD server exporting a 1-copy and a 2-copy volume.
type banyanBlock struct {
	socket string
	server *nbd.Server
	vols   []*volume.Volume
	stores []*replica.Store
	rpc    *http.Server
	mux    *mux.Mux
}

// startBanyanBlock builds the volumes (size bytes each) under dir and serves them.
func startBanyanBlock(dir string, size int64, log *slog.Logger) (b *banyanBlock, err error) {
	b = &banyanBlock{}
	defer func() {
		if err != nil {
			b.stop()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	local, err := replica.Open(filepath.Join(dir, "box-a", "volumes"))
	if err != nil {
		return b, err
	}
	b.stores = append(b.stores, local)
	far, err := replica.Open(filepath.Join(dir, "box-b", "volumes"))
	if err != nil {
		return b, err
	}
	b.stores = append(b.stores, far)

	client, err := b.serveRPC(far, log)
	if err != nil {
		return b, fmt.Errorf("replica RPC on loopback: %w", err)
	}
	remote := replica.NewRemote(client, "https://"+b.mux.Addr().String())

	if err := local.Create(ctx, blockVol1, size); err != nil {
		return b, err
	}
	if err := local.Create(ctx, blockVol2, size); err != nil {
		return b, err
	}
	if err := remote.Create(ctx, blockVol2, size); err != nil {
		return b, fmt.Errorf("creating the far copy over RPC: %w", err)
	}
	exports := map[string]nbd.Backend{}
	for _, cfg := range []volume.Config{
		{ID: blockVol1, Replicas: []volume.Replica{{Name: "box-a", Holder: local, Local: true}}},
		{ID: blockVol2, Replicas: []volume.Replica{{Name: "box-a", Holder: local, Local: true}, {Name: "box-b", Holder: remote}}},
	} {
		cfg.Size, cfg.Epoch, cfg.Logger = size, 1, log
		v, err := volume.Open(ctx, cfg)
		if err != nil {
			return b, fmt.Errorf("opening %s: %w", cfg.ID, err)
		}
		b.vols = append(b.vols, v)
		exports[cfg.ID] = v
	}

	b.socket = filepath.Join(dir, "banyan-nbd.sock")
	l, err := net.Listen("unix", b.socket)
	if err != nil {
		return b, err
	}
	b.server = &nbd.Server{Logger: log, Lookup: func(name string) (nbd.Backend, error) {
		if e, ok := exports[name]; ok {
			return e, nil
		}
		return nil, fmt.Errorf("%w: %q", nbd.ErrUnknownExport, name)
	}}
	go b.server.Serve(l)
	return b, nil
}

// serveRPC serves far's replica handler the way a box serves node RPC: the connection
// mux on TCP, the RPC kind byte, mutual TLS 1.3 with certificates from a cluster CA,
// HTTP/1.1 inside. The client it returns dials the way cluster.Node's RPC client does
// (mux.Dialer, the node's client TLS config, pooled connections).
func (b *banyanBlock) serveRPC(far *replica.Store, log *slog.Logger) (*http.Client, error) {
	ca, err := pki.NewCA("banyan-bench-block")
	if err != nil {
		return nil, err
	}
	identity := func(name string) (*pki.Identity, error) {
		key, keyPEM, err := pki.NewKey()
		if err != nil {
			return nil, err
		}
		certPEM, err := ca.Issue(name, key.Public(), []net.IP{net.IPv4(127, 0, 0, 1)})
		if err != nil {
			return nil, err
		}
		return pki.LoadIdentity(ca.CertPEM, certPEM, keyPEM)
	}
	boxA, err := identity("box-a")
	if err != nil {
		return nil, err
	}
	boxB, err := identity("box-b")
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	b.mux = mux.New(ln, map[mux.Kind]*tls.Config{mux.KindRPC: boxB.ServerConfig()}, nil, log)
	go b.mux.Serve()
	b.rpc = &http.Server{Handler: replica.NewHandler(far), ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	go b.rpc.Serve(b.mux.Listener(mux.KindRPC))

	dialer, clientTLS := &mux.Dialer{}, boxA.ClientConfig()
	return &http.Client{Transport: &http.Transport{
		DialTLSContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
			return dialer.Dial(ctx, addr, mux.KindRPC, clientTLS)
		},
		MaxIdleConnsPerHost: 16,
		IdleConnTimeout:     90 * time.Second,
	}}, nil
}

func (b *banyanBlock) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if b.server != nil {
		b.server.Shutdown(ctx)
	}
	for _, v := range b.vols {
		v.Close(ctx)
	}
	if b.rpc != nil {
		b.rpc.Close()
	}
	if b.mux != nil {
		b.mux.Close()
	}
	for _, s := range b.stores {
		s.Close()
	}
}

// qemuNBD is a qemu-nbd process serving one raw file.
type qemuNBD struct {
	cmd     *exec.Cmd
	exited  chan error // receives cmd.Wait's result once
	socket  string
	export  string
	version string
	flags   []string // the cache and AIO flags it accepted
	log     string
}

// startQemuNBD serves path (a raw file) on a unix socket in dir. It asks for
// --cache=none --aio=native (O_DIRECT, Linux AIO: qemu's fastest path to a raw file)
// and falls back to what this qemu-nbd and file system accept.
func startQemuNBD(dir, path string) (*qemuNBD, error) {
	bin, err := exec.LookPath("qemu-nbd")
	if err != nil {
		return nil, errors.New("qemu-nbd is not installed (Debian: qemu-utils, see packaging/deps.sh)")
	}
	q := &qemuNBD{socket: filepath.Join(dir, "qemu-nbd.sock"), export: "raw", log: filepath.Join(dir, "qemu-nbd.log")}
	if out, err := exec.Command(bin, "--version").Output(); err == nil {
		// "qemu-nbd 7.2.22 (Debian ...)", argv[0] first.
		if _, v, ok := strings.Cut(strings.SplitN(string(out), "\n", 2)[0], " "); ok {
			q.version = v
		}
	}
	help, _ := exec.Command(bin, "--help").CombinedOutput()
	choices := [][]string{{"--cache=none", "--aio=native"}, {"--cache=none"}, {"--cache=writeback"}}
	if !strings.Contains(string(help), "--aio") {
		choices = choices[1:]
	}
	var errs []error
	for _, flags := range choices {
		if err := q.start(bin, path, flags); err != nil {
			errs = append(errs, fmt.Errorf("qemu-nbd %s: %w", strings.Join(flags, " "), err))
			continue
		}
		q.flags = flags
		return q, nil
	}
	return nil, errors.Join(errs...)
}

func (q *qemuNBD) start(bin, path string, flags []string) error {
	os.Remove(q.socket)
	logf, err := os.Create(q.log)
	if err != nil {
		return err
	}
	defer logf.Close()
	args := append([]string{"-f", "raw", "-k", q.socket, "-x", q.export, "--persistent"}, flags...)
	cmd := exec.Command(bin, append(args, path)...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.Now().Add(15 * time.Second)
	for {
		if c, err := net.Dial("unix", q.socket); err == nil {
			c.Close()
			q.cmd, q.exited = cmd, exited
			return nil
		}
		select {
		case err := <-exited:
			out, _ := os.ReadFile(q.log)
			return fmt.Errorf("exited (%v): %s", err, strings.TrimSpace(string(out)))
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			<-exited
			return errors.New("its socket did not appear within 15 s")
		}
	}
}

// stop ends the process by its PID: SIGTERM (qemu-nbd flushes and exits), then SIGKILL
// if it lingers.
func (q *qemuNBD) stop() {
	if q == nil || q.cmd == nil {
		return
	}
	pid := q.cmd.Process.Pid
	syscall.Kill(pid, syscall.SIGTERM)
	select {
	case <-q.exited:
	case <-time.After(5 * time.Second):
		syscall.Kill(pid, syscall.SIGKILL)
		<-q.exited
	}
	q.cmd = nil
}
