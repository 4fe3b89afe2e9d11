package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/banyancloud/banyan/node"
	"github.com/banyancloud/banyan/node/hypervisor"
	"github.com/banyancloud/banyan/objectstore"
)

// computeFlags are the server's compute options.
type computeFlags struct {
	mode       string // auto | on | off
	uri        string
	zone       string
	accel      string
	bridge     string
	probeImage string
	publicIf   string    // the uplink answering for Elastic IPs ("" for the default route's)
	dns        *node.DNS // the box's DNS server, which also answers on the bridge
}

// startCompute opens the box's hypervisor and starts the compute agent. Whatever the
// mode, the leader runs the image and snapshot imports (qemu-img only, no hypervisor) and forgets
// long-terminated instances. With mode auto, a box whose libvirtd cannot be reached
// still starts, and reports its hypervisor down.
func startCompute(ctx context.Context, srv *node.Server, objects objectstore.ObjectLayer, f computeFlags, region string, log *slog.Logger) (*node.Compute, error) {
	go leaderOnly(ctx, srv, func(ctx context.Context) { node.RunImports(ctx, srv.Cluster, objects, srv.Dir.Path, log) })
	go leaderOnly(ctx, srv, func(ctx context.Context) { node.RunSnapshotImports(ctx, srv.Cluster, objects, srv.Dir.Path, log) })
	go leaderOnly(ctx, srv, func(ctx context.Context) { node.ForgetTerminated(ctx, srv.Cluster) })
	go leaderOnly(ctx, srv, func(ctx context.Context) { node.RecoverInstances(ctx, srv.Cluster, log) })
	if f.mode == "off" {
		return nil, nil
	}
	zone := f.zone
	if zone == "" {
		zone = region + "a"
	}
	cfg := node.ComputeConfig{Node: srv.Cluster, DataDir: srv.Dir.Path, Zone: zone, Region: region, Objects: objects, DNS: f.dns, Logger: log}
	bs, err := node.StartBlockStorage(ctx, srv.Cluster, srv.Dir.Path, log)
	if err != nil {
		return nil, fmt.Errorf("block storage: %w", err)
	}
	cfg.Volumes = bs
	hcfg := hypervisor.Config{URI: f.uri, Accel: hypervisor.Accel(f.accel), ProbeImage: probeImage(f, srv.Dir.Path)}
	if hcfg.Accel == hypervisor.AccelAuto && hcfg.ProbeImage == "" {
		// Nothing to boot a probe guest from yet: TCG runs everywhere, KVM only where a
		// guest really boots, so take the safe one.
		hcfg.Accel = hypervisor.AccelTCG
		log.Info("compute: no guest image to probe KVM with yet; guests run under TCG (start with --accel kvm, or --probe-image, to use KVM)")
	}
	drv, err := hypervisor.OpenConfig(hcfg)
	if err == nil {
		accel, perr := drv.Probe(ctx)
		if perr != nil {
			drv.Close()
			drv, err = nil, perr
		} else {
			cfg.Accel = string(accel)
			log.Info("compute: hypervisor ready", "uri", drv.URI(), "accel", accel, "note", drv.ProbeNote())
		}
	}
	if err != nil {
		if f.mode == "on" {
			return nil, fmt.Errorf("compute: the hypervisor at %s cannot run instances: %w", f.uri, err)
		}
		log.Warn("compute: this box runs no instances: its hypervisor is not usable", "uri", f.uri, "err", err)
		cfg.HypervisorErr = err
	} else {
		cfg.Hypervisor = drv
		cfg.Capacity = drv.Capacity
		cfg.Bridge = f.bridge
		cfg.PublicInterface = f.publicIf
	}
	return node.StartCompute(ctx, cfg), nil
}

// probeImage is the image a KVM probe boots: the one given, else any image this box
// has cached.
func probeImage(f computeFlags, dataDir string) string {
	if f.probeImage != "" {
		return f.probeImage
	}
	if m, _ := filepath.Glob(filepath.Join(dataDir, "images", "ami-*.qcow2")); len(m) > 0 {
		if _, err := os.Stat(m[0]); err == nil {
			return m[0]
		}
	}
	return ""
}
