package cluster

import (
	"sync"

	gometrics "github.com/hashicorp/go-metrics/compat"
	gmprom "github.com/hashicorp/go-metrics/compat/prometheus"
	"github.com/hashicorp/raft"
	"github.com/prometheus/client_golang/prometheus"
)

var libraryMetricsOnce sync.Once

// EnableLibraryMetrics routes the metrics raft and memberlist emit (commit times, RPC
// latencies, probe results, ...) into reg. The libraries report through a process-wide
// sink, so this is done once per process.
func EnableLibraryMetrics(reg prometheus.Registerer) error {
	var err error
	libraryMetricsOnce.Do(func() {
		var sink *gmprom.PrometheusSink
		sink, err = gmprom.NewPrometheusSinkFrom(gmprom.PrometheusOpts{Registerer: reg})
		if err != nil {
			return
		}
		conf := gometrics.DefaultConfig("banyan")
		conf.EnableHostname = false
		conf.EnableRuntimeMetrics = false // the Go collector already reports these
		_, err = gometrics.NewGlobal(conf, sink)
	})
	return err
}

// Collector reports this node's Raft and gossip state as Prometheus gauges.
func (n *Node) Collector() prometheus.Collector { return nodeCollector{n} }

type nodeCollector struct{ n *Node }

var (
	descRaftState   = prometheus.NewDesc("banyan_raft_state", "Raft role of this node (1 for the current role).", []string{"role"}, nil)
	descRaftTerm    = prometheus.NewDesc("banyan_raft_term", "Current Raft term.", nil, nil)
	descApplied     = prometheus.NewDesc("banyan_raft_applied_index", "Last log index applied to the local state.", nil, nil)
	descCommit      = prometheus.NewDesc("banyan_raft_commit_index", "Last committed log index known to this node.", nil, nil)
	descLastIndex   = prometheus.NewDesc("banyan_raft_last_index", "Last log index stored on this node.", nil, nil)
	descRaftPeers   = prometheus.NewDesc("banyan_raft_servers", "Servers in the Raft configuration by suffrage.", []string{"suffrage"}, nil)
	descMembers     = prometheus.NewDesc("banyan_gossip_members", "Cluster members by gossip status.", []string{"status"}, nil)
	descGossipScore = prometheus.NewDesc("banyan_gossip_health_score", "Memberlist's awareness score: 0 is healthy, higher means this node is slow to answer probes.", nil, nil)
)

func (c nodeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descRaftState, descRaftTerm, descApplied, descCommit, descLastIndex, descRaftPeers, descMembers, descGossipScore} {
		ch <- d
	}
}

func (c nodeCollector) Collect(ch chan<- prometheus.Metric) {
	n := c.n
	if n.raft != nil {
		cur := n.raft.State()
		for _, s := range []raft.RaftState{raft.Follower, raft.Candidate, raft.Leader, raft.Shutdown} {
			v := 0.0
			if s == cur {
				v = 1
			}
			ch <- prometheus.MustNewConstMetric(descRaftState, prometheus.GaugeValue, v, s.String())
		}
		ch <- prometheus.MustNewConstMetric(descRaftTerm, prometheus.GaugeValue, float64(n.raft.CurrentTerm()))
		ch <- prometheus.MustNewConstMetric(descCommit, prometheus.GaugeValue, float64(n.raft.CommitIndex()))
		ch <- prometheus.MustNewConstMetric(descLastIndex, prometheus.GaugeValue, float64(n.raft.LastIndex()))
		if cf := n.raft.GetConfiguration(); cf.Error() == nil {
			counts := map[string]int{"voter": 0, "nonvoter": 0}
			for _, s := range cf.Configuration().Servers {
				if s.Suffrage == raft.Voter {
					counts["voter"]++
				} else {
					counts["nonvoter"]++
				}
			}
			for k, v := range counts {
				ch <- prometheus.MustNewConstMetric(descRaftPeers, prometheus.GaugeValue, float64(v), k)
			}
		}
	}
	ch <- prometheus.MustNewConstMetric(descApplied, prometheus.GaugeValue, float64(n.store.AppliedIndex()))
	if n.gossip != nil {
		counts := map[string]int{StatusAlive: 0, StatusSuspect: 0, StatusDead: 0, StatusLeft: 0}
		for _, m := range n.memberStatus() {
			counts[m.status]++
		}
		for k, v := range counts {
			ch <- prometheus.MustNewConstMetric(descMembers, prometheus.GaugeValue, float64(v), k)
		}
		ch <- prometheus.MustNewConstMetric(descGossipScore, prometheus.GaugeValue, float64(n.gossip.GetHealthScore()))
	}
}
