package cluster

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

func TestMetricsCoverRaftAndGossip(t *testing.T) {
	reg := prometheus.NewRegistry()
	if err := EnableLibraryMetrics(reg); err != nil {
		t.Fatal(err)
	}
	c := newTestCluster(t, 3)
	l := c.leader()
	reg.MustRegister(c.nodes[l].Collector())
	for i := 0; i < 5; i++ {
		set(t, c.nodes[l], "m", "v")
	}
	rec := httptest.NewRecorder()
	promhttp.HandlerFor(reg, promhttp.HandlerOpts{}).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body := rec.Body.String()
	for _, want := range []string{
		`banyan_raft_state{role="Leader"} 1`,
		`banyan_raft_servers{suffrage="voter"} 3`,
		`banyan_gossip_members{status="alive"} 3`,
		"banyan_raft_applied_index",
		"banyan_raft_commitTime", // emitted by hashicorp/raft through go-metrics
		"banyan_memberlist_",     // emitted by memberlist
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if t.Failed() {
		t.Log(body)
	}
}
