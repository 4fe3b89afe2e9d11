// Package blockstore is the EBS data plane: volumes as replicated extents, NBD export to
// qemu, replication and resync, snapshots stored in the object store.
package blockstore
