// Package volume owns the primary's view of one replicated EBS volume: it
// implements the block device the NBD server exports (Backend) by sending
// every write to all the volume's copies (blockstore/replica holders, this
// box's and others'), tracks which copies are in sync, records what a
// lagging copy missed, fences itself when a newer primary takes over, and
// resyncs a returning copy while writes continue.
//
// # States of a copy
//
// In sync: it has every acknowledged write; writes wait for it and reads
// may come from it. Out: a call to it failed (or Config.Live said its box is
// down); writes skip it and record the extents they touched in its dirty
// set. Catching up: Resync is copying its dirty extents; writes go to it
// (and wait for it) but reads do not.
//
// # When a write is acknowledged
//
// A write (or zeroing) is acknowledged when
//
//  1. every copy in sync or catching up when it started has applied it
//     (durably, with FUA) or has been put out, and
//  2. at least one copy that was in sync applied it, and
//  3. for every copy that is out, the extents the write touched are in its
//     dirty set, durably recorded (Holder.MarkDirty) on at least one copy
//     that applied the write; a copy whose recording fails is put out too.
//     A copy that goes out also gets every extent written since the last
//     Flush, since what it had only in its page cache may be lost; and
//  4. Config.Report, if set, has accepted every copy that went out.
//
// If no copy in sync applied it, the write fails (ErrNoReplica) and no copy
// is put out: they may then differ on the failed write's blocks, which is
// what a failed write on a single disk leaves too, until the next write to
// them. Flush is acknowledged when at least one copy in sync flushed and
// the others flushed or were put out with the extents written since the
// previous Flush marked dirty. Writes run on a context detached from the
// caller's cancellation (bounded by Config.CallTimeout), so a write
// abandoned by its caller still ends the same way on every copy.
//
// # Order
//
// Writes are serialized per 128 KiB unit of the volume (striped locks,
// taken in order, so overlapping writes reach every copy in the same
// order): a write is sent to the next copy only after the previous write
// to the same unit finished everywhere. Writes to different units run in
// parallel.
//
// # Fencing
//
// Every mutating call carries Config.Epoch. A copy that has seen a higher
// epoch refuses with replica.ErrStaleEpoch; the first such answer fences
// the volume and every later call fails with ErrFenced. Open claims every
// reachable copy by flushing it under the epoch, so a primary that was cut
// off cannot write to a copy the new primary has reached.
//
// # Dirty sets across primaries
//
// The dirty sets live in the metadata of the copies in sync, so a later
// primary (Open) learns from any reachable copy which copies lag and by
// which extents. A copy that does not answer at Open, or is listed in
// Config.Stale without a recorded dirty set, is assumed to lag everywhere;
// Resync then compares ExtentSums first and copies only extents that
// differ. What this cannot know: a copy that answers, has no dirty set
// recorded on any reachable copy, yet missed writes whose records are on
// copies that are down. The control plane must name such copies in
// Config.Stale (Config.Report tells it which copies are out).
//
// # Resync
//
// Resync(ctx, name) brings an out copy back: it creates or grows it as
// needed, claims it under the epoch, puts it catching up, drops from its
// dirty set the extents whose sums match a copy in sync, then copies the
// rest a batch at a time with the batch's units locked (so no write to them
// is lost or reordered), flushes the copy and clears the batch from the
// dirty sets. When the set is empty the copy is in sync again.
package volume
