// Package snapshot owns the data of EBS snapshots: how a frozen view of a volume
// becomes objects in the object store and back.
//
// A snapshot is a manifest plus extent objects in the system bucket Bucket. The
// manifest lists, for every 4 MiB extent of the volume, the key of the object holding
// it and the SHA-256 of its bytes, or nothing for an extent of zeros (not stored). Take
// reads the view extent by extent; an extent whose sum equals the parent snapshot's
// (the volume's previous one) is shared: the manifest names the parent's object and
// nothing is uploaded. New objects are named
//
//	extents/<snapshot ID>/<attempt>/<extent number>
//
// so two attempts at one snapshot never overwrite each other, and the manifest is
// written last, at manifests/<snapshot ID>: a snapshot without it is not complete.
//
// Extent objects are shared between snapshots (a child's manifest names its parent's
// objects, a copy's names its source's), so they are reference counted: a snapshot
// being deleted frees only the keys that no other snapshot's manifest names (Refs,
// Unreferenced), then whatever its own prefix still holds (leftovers of abandoned
// attempts). The control plane must not delete a snapshot while a pending one may
// still share its objects or a volume still fills from it (state.Store.SnapshotNeeded).
//
// Reader serves a manifest's extents to a volume created from the snapshot, checking
// each against its sum. Nothing here goes through Raft.
package snapshot
