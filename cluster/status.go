package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"sort"
	"strconv"

	"github.com/hashicorp/raft"
)

// Status is a node's view of the cluster, as `banyan status` prints it.
type Status struct {
	Node         string         `json:"node"`
	ClusterID    string         `json:"cluster_id"`
	Leader       string         `json:"leader"`
	LeaderAddr   string         `json:"leader_addr"`
	Term         uint64         `json:"term"`
	AppliedIndex uint64         `json:"applied_index"`
	CommitIndex  uint64         `json:"commit_index"`
	LastIndex    uint64         `json:"last_index"`
	Members      []MemberStatus `json:"members"`
	// Subsystems reports what other subsystems add (the object store's scheme and
	// healing progress), keyed by subsystem.
	Subsystems map[string]any `json:"subsystems,omitempty"`
}

// MemberStatus is one box in Status.
type MemberStatus struct {
	Name   string `json:"name"`
	Addr   string `json:"addr"`
	Status string `json:"status"` // alive, suspect, dead, left
	Raft   string `json:"raft"`   // leader, follower, nonvoter, none
	API    string `json:"api,omitempty"`
}

// Status reports this node's view of the cluster: gossip's statuses joined with the Raft
// configuration and the nodes table.
func (n *Node) Status() Status {
	leaderName, leaderAddr := n.Leader()
	st := Status{
		Node: n.cfg.Name, ClusterID: n.cfg.ClusterID, Leader: leaderName, LeaderAddr: leaderAddr,
		Term: n.raft.CurrentTerm(), AppliedIndex: n.store.AppliedIndex(),
		CommitIndex: n.raft.CommitIndex(), LastIndex: n.raft.LastIndex(),
	}
	byName := map[string]*MemberStatus{}
	get := func(name string) *MemberStatus {
		m, ok := byName[name]
		if !ok {
			m = &MemberStatus{Name: name, Status: StatusDead, Raft: "none"}
			byName[name] = m
		}
		return m
	}
	if nodes, err := n.store.Nodes(); err == nil {
		for _, nd := range nodes {
			m := get(nd.Name)
			m.Addr, m.API = nd.Addr, nd.APIAddr
		}
	}
	if cf := n.raft.GetConfiguration(); cf.Error() == nil {
		for _, s := range cf.Configuration().Servers {
			m := get(string(s.ID))
			if m.Addr == "" {
				m.Addr = string(s.Address)
			}
			switch {
			case string(s.ID) == leaderName:
				m.Raft = "leader"
			case s.Suffrage == raft.Voter:
				m.Raft = "follower"
			default:
				m.Raft = "nonvoter"
			}
		}
	}
	for name, rec := range n.memberStatus() {
		m := get(name)
		m.Status = rec.status
		if rec.meta.Addr != "" {
			m.Addr = rec.meta.Addr
		}
		if rec.meta.API != "" {
			m.API = rec.meta.API
		}
	}
	self := get(n.cfg.Name)
	self.Status, self.Addr, self.API = StatusAlive, n.Addr(), n.cfg.APIAddr
	for _, m := range byName {
		st.Members = append(st.Members, *m)
	}
	sort.Slice(st.Members, func(i, j int) bool { return st.Members[i].Name < st.Members[j].Name })
	n.statusMu.Lock()
	for name, f := range n.statusFuncs {
		if st.Subsystems == nil {
			st.Subsystems = map[string]any{}
		}
		st.Subsystems[name] = f()
	}
	n.statusMu.Unlock()
	return st
}

// AddStatus makes f's report part of this node's Status under name.
func (n *Node) AddStatus(name string, f func() any) {
	n.statusMu.Lock()
	defer n.statusMu.Unlock()
	if n.statusFuncs == nil {
		n.statusFuncs = map[string]func() any{}
	}
	n.statusFuncs[name] = f
}

func (n *Node) handleStatus(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(n.Status())
}

// FetchStatus asks the node at addr (host or host:port) for its Status over the plain
// HTTP side of its RPC port.
func FetchStatus(ctx context.Context, addr string) (*Status, error) {
	if _, _, err := net.SplitHostPort(addr); err != nil {
		addr = net.JoinHostPort(addr, strconv.Itoa(DefaultRPCPort))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/v1/status", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("cannot reach a Banyan node at %s: %w", addr, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s answered %s; is it a Banyan node?", addr, resp.Status)
	}
	var st Status
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return nil, fmt.Errorf("%s sent a status that is not Banyan's: %w", addr, err)
	}
	return &st, nil
}
