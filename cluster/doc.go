// Package cluster makes a set of boxes one cloud: gossip membership and failure detection
// (memberlist), the replicated state (Raft over raft-boltdb, applying cluster/state
// commands), node-to-node RPC and Raft on one mutual-TLS port (cluster/mux), admission of
// new boxes by join token, and leader-run reconcilers that turn gossip reports into Raft
// membership changes.
//
// It is the only package that imports raft and memberlist. Other subsystems see it
// through Node.Apply (submit a write from any node; it is forwarded to the leader and
// held while there is none) and Node.State (read the local replica, which has applied
// every write submitted through this node).
package cluster
