// Package objectstore is Banyan's S3 data plane: objects erasure-coded (objectstore/erasure)
// over erasure sets of disks on distinct boxes (objectstore/placement), each disk local or
// remote behind one interface (objectstore/disk). Object data and object metadata never go
// through Raft: metadata travels with the shards, written to a write quorum of the set, and
// a read trusts the newest version a read quorum agrees on. Buckets are recorded in Raft by
// the S3 front end; this package sees a bucket as a volume on every disk.
//
// ObjectLayer is the contract the S3 front end (api/s3) programs against; Store is its
// implementation.
//
// # Metadata and quorum
//
// Each disk of an object's erasure set keeps the object's whole version list in one
// metadata file (disk.ObjectMeta); the versions record their scheme and the IDs of their
// set's disks in shard order, so reads, heals and deletes never re-run placement for an
// existing version. Placement is only needed to find the metadata: a read asks the
// placement.Topology Candidates of the key. A version counts as existing when its read
// quorum (its scheme's Data) of disks hold the same version (same ID, time, data dir and
// ETag), lowered by the set's disks that could not be asked at all; a write is
// acknowledged only after a write quorum (erasure.Scheme.WriteQuorum, more than half the
// set) committed it, so acknowledged versions are always found and two acknowledged
// writes always overlap. Fewer answering disks than the read quorum is ErrReadQuorum,
// never "not found"; so is a version that only as many disks hold as a write or delete
// that reached its quorum can have missed, while others of its set are down. See
// quorum.go.
//
// # Writes
//
// PUT picks the scheme (placement SchemeWith: bucket override, class setting, automatic)
// and the set (Place), then streams the body:
// one goroutine reads it in 1 MiB chunks and hands each chunk both to a digest goroutine
// (MD5 for the ETag and the requested flexible checksum) and to erasure.Encode, which
// writes one frame per disk through an io.Pipe into each disk's CreateFile in parallel.
// Memory is a few chunks plus the encoder's two stripes whatever the size. Objects below
// Options.InlineLimit are encoded in memory and each disk's shard is stored inside its
// metadata file. The version becomes visible by RenameData on every disk of the set in
// parallel; if fewer than the write quorum succeed it is deleted again from those that
// took it, and a short body, a bad Content-MD5 or checksum, or a missed quorum while
// staging leaves nothing but staging files that are removed at once.
//
// Conditional writes (If-None-Match "*", If-Match) are checked against the quorum-read
// latest version under a per-key lock of this node, held until the commit is done, so
// they are atomic against every other write through the same node. They are not atomic
// against a write of the same key committing at the same moment through another node:
// both can pass the check and both commit, and the later version wins (with versioning
// on, both versions exist). Closing that gap needs a lock over the set's nodes (a
// dsync-style quorum lock on the node RPC) or a compare-and-swap RenameData on the disks;
// Options.Locker is where the node wiring plugs the former in: the banyan server plugs in
// node.Locks, a dsync-style lock granted by a majority of the registered boxes, which
// closes the gap (except in the window after a granting box restarts and forgets its
// leases). The same holds for any two concurrent writes of one key through
// different nodes: each disk orders the versions by time and ID, so the disks converge on
// the same answer, but it is last-writer-wins by the writers' clocks.
//
// # Reads
//
// GET agrees on the version as above, then decodes the requested range part by part
// (erasure.Decode) straight into the caller's writer when it copies with io.Copy (the
// reader is an io.WriterTo), else in a goroutine into an io.Pipe; local shard files are
// requested a window ahead of the decoder (readahead.go). Missing or corrupt shards are rebuilt
// on the fly from parity, and the object is queued for healing. A delete marker is
// returned with ErrObjectNotFound (latest) or ErrMethodNotAllowed (by version ID), with
// its ObjectInfo, so the front end can set x-amz-delete-marker.
//
// # Listing
//
// A key's versions live on its set, and sets overlap, so a listing walks the bucket on
// every disk at once and merges the walks by key (each disk.Walk is already in S3 key
// order); every key's versions are then agreed exactly as for a GET. A key on fewer disks
// than its read quorum is an unfinished or rolled-back write and is not listed, so a
// listing shows exactly the acknowledged writes. Memory is a few metadata headers per
// disk. More failed walks than the default scheme's parity is ErrReadQuorum. The read
// quorum is lowered by the set's disks that could not be asked, and a version left with
// no more holders than a write quorum leaves out (Total - WriteQuorum) may be a copy a
// delete or an overwrite missed as well as a write whose other holders are down: such a
// key fails the listing (and its reads) with ErrReadQuorum rather than be shown or left
// out (quorum.go, undecided). The repair worker (mrf.go) drops the copies a delete
// missed as soon as their disks answer, so this lasts no longer than the fault.
//
// # Multipart uploads
//
// An upload lives on the set its object will use: its record, an index by upload ID and
// one record per part in the reserved volume multipartVolume, and the parts' shard files
// staged on each disk as "uploads/<upload ID>/part.N" as they arrive, in the staging area
// a disk keeps across restarts. Complete checks the list and commits one version with
// RenameData of the staging directory, so no part is read or encoded twice. Upload
// records are named by key, then by upload ID (which begins with the initiation time), so
// ListMultipartUploads streams one walk a page at a time. See multipart.go for restarts,
// crashes and the sweep of what finished uploads leave behind.
//
// # Healing
//
// HealObject rebuilds what a set's disks lack: metadata (RenameData of the agreed
// version), shard files (erasure.Heal streamed into CreateFile, committed under the same
// data dir) and inline shards; it drops versions no quorum agrees on once they are older
// than a grace period. Reads and listings that see disagreement queue the key (a bounded
// queue drained by Options.HealWorkers); RunScanner walks every bucket periodically at a
// throttled byte rate and heals every object, verifying every shard file, and starts at
// once when the disk map changes; HealStatus exposes the counters. Versions with a shard
// on a Draining or Removed disk, or whose scheme no longer fits, are moved to the set
// placement gives them now (relocate.go).
package objectstore
