// Package node owns this box: its data dir (identity, certificates, cluster secrets, the
// join token, the last known peers), the daemon's configuration, and bringing the box's
// parts up and down in order. Later the local disk inventory, the hypervisor driver and
// the agent that converges this box's VMs and volumes live beside it.
package node
