package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/banyancloud/banyan/cluster/state"
	"github.com/banyancloud/banyan/node"
	"github.com/banyancloud/banyan/objectstore"
)

// Healing pace: the leader scans every object this often, verifying shards at most this
// fast, so that user traffic keeps the disks.
const (
	scanInterval  = 10 * time.Minute
	scanBandwidth = 64 << 20
)

// objectStatus is the object store's part of `banyan status`.
type objectStatus struct {
	Scheme string                 `json:"scheme"` // the automatic scheme
	Boxes  int                    `json:"boxes"`
	Disks  int                    `json:"disks"`
	Heal   objectstore.HealStatus `json:"heal"`
	// Classes is what new objects of each storage class get in a bucket without an
	// override of its own (the scheme.CLASS setting, else automatic).
	Classes map[string]classScheme `json:"classes"`
	// BucketOverrides counts the buckets with a scheme of their own.
	BucketOverrides int `json:"bucketOverrides"`
}

// startObjectStore opens this box's disks, records them in the disk map and starts the
// object store; the leader runs the healing scanner.
func startObjectStore(ctx context.Context, srv *node.Server, paths []string, log *slog.Logger) (*objectstore.Store, error) {
	disks, err := node.OpenDisks(srv.Dir.Path, paths, srv.Cluster, log)
	if err != nil {
		return nil, err
	}
	go func() {
		for ctx.Err() == nil {
			rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			err := disks.Register(rctx)
			cancel()
			if err == nil {
				return
			}
			log.Warn("cannot record this box's disks yet; retrying", "err", err)
			time.Sleep(time.Second)
		}
	}()
	// The cluster lock makes conditional writes through different boxes atomic.
	// Scheme overrides come from the replicated state: bucket records and settings.
	schemes := stateSchemes{srv.Cluster.State()}
	store := objectstore.New(disks, objectstore.Options{Logger: log, Locker: node.NewLocks(ctx, srv.Cluster, srv.Dir.Path), Schemes: schemes})
	srv.Cluster.AddStatus("objectstore", func() any {
		st := objectStatus{Heal: store.HealStatus()}
		topo := disks.Topology()
		if topo != nil {
			st.Boxes, st.Disks = topo.Boxes(), topo.Disks()
			if s, _, err := topo.ChooseScheme(); err == nil {
				st.Scheme = s.String()
			}
		}
		st.Classes = classSchemes(topo, schemes.overrides(""))
		if bs, err := schemes.st.Buckets(""); err == nil {
			for _, b := range bs {
				if b.Scheme != "" {
					st.BucketOverrides++
				}
			}
		}
		return st
	})
	serveSchemes(srv, disks)
	registerHealMetrics(srv.Registry, store)
	go leaderOnly(ctx, srv, func(ctx context.Context) { store.RunScanner(ctx, scanInterval, scanBandwidth) })
	serveDisks(srv, store)
	srv.Cluster.HandleRPC("POST "+healPath, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rep, err := store.ScanOnce(r.Context())
		resp := healResponse{Scan: rep, Status: store.HealStatus()}
		if err != nil {
			resp.Error = err.Error()
		}
		b, _ := state.Marshal(resp)
		w.Header().Set("Content-Type", "application/cbor")
		w.Write(b)
	}))
	return store, nil
}

const healPath = "/v1/objectstore/heal"

type healResponse struct {
	Scan   objectstore.ScanReport // this scan
	Status objectstore.HealStatus // the node's counters since it started
	Error  string
}

// runHeal scans and heals every object now, from the local node (the leader also does
// this every scanInterval, throttled).
func runHeal(args []string) error {
	fs := flag.NewFlagSet("heal", flag.ContinueOnError)
	dataDir := fs.String("data-dir", defaultDataDir, "data dir of the local node")
	if err := fs.Parse(args); err != nil {
		return err
	}
	c, _, err := adminClient(*dataDir)
	if err != nil {
		return err
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	var resp healResponse
	if err := c.Call(ctx, healPath, struct{}{}, &resp); err != nil {
		return err
	}
	h := resp.Scan
	fmt.Printf("scanned %d objects, healed %d (%d bytes), %d failures, %d left degraded (disks away)\n", h.Scanned, h.Healed, h.Bytes, h.Failed, h.Degraded)
	if resp.Error != "" {
		return fmt.Errorf("some objects could not be healed: %s", resp.Error)
	}
	return nil
}

// leaderOnly runs f while this node leads, restarting it on each new term.
func leaderOnly(ctx context.Context, srv *node.Server, f func(context.Context)) {
	for ctx.Err() == nil {
		if !srv.Cluster.IsLeader() {
			time.Sleep(time.Second)
			continue
		}
		lctx, cancel := context.WithCancel(ctx)
		go func() {
			for lctx.Err() == nil && srv.Cluster.IsLeader() {
				time.Sleep(time.Second)
			}
			cancel()
		}()
		f(lctx)
		cancel()
	}
}

// registerHealMetrics exports healing progress for Prometheus.
func registerHealMetrics(reg *prometheus.Registry, store *objectstore.Store) {
	counter := func(name, help string, f func(objectstore.HealStatus) int64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "banyan_objectstore_" + name, Help: help},
			func() float64 { return float64(f(store.HealStatus())) })
	}
	reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "banyan_objectstore_heal_queued", Help: "Objects waiting in the heal-on-read queue."},
			func() float64 { return float64(store.HealStatus().Queued) }),
		counter("heal_dropped_total", "Heal requests dropped because the queue was full.", func(h objectstore.HealStatus) int64 { return h.Dropped }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "banyan_objectstore_mrf_queued", Help: "Objects waiting for disks that missed a write of them."},
			func() float64 { return float64(store.HealStatus().MRFQueued) }),
		counter("mrf_repaired_total", "Objects repaired once the disks a write missed answered again.", func(h objectstore.HealStatus) int64 { return h.MRFRepaired }),
		counter("mrf_dropped_total", "Repair requests left to the scanner (queue full, repairs failing, disks removed).", func(h objectstore.HealStatus) int64 { return h.MRFDropped }),
		counter("healed_objects_total", "Objects repaired.", func(h objectstore.HealStatus) int64 { return h.ObjectsHealed }),
		counter("healed_bytes_total", "Shard bytes written by repairs.", func(h objectstore.HealStatus) int64 { return h.BytesHealed }),
		counter("heal_failures_total", "Heal attempts that failed.", func(h objectstore.HealStatus) int64 { return h.Failures }),
		counter("scanned_objects_total", "Objects checked by the scanner.", func(h objectstore.HealStatus) int64 { return h.ObjectsScanned }),
		counter("moved_versions_total", "Versions moved off draining or removed disks.", func(h objectstore.HealStatus) int64 { return h.VersionsMoved }),
	)
}
