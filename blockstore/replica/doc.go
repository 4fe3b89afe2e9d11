// Package replica owns one box's copies of EBS volumes: the files under
// DATA-DIR/volumes that hold a volume's blocks, the small metadata file next
// to each (size, the fencing epoch, the dirty-extent maps), and the node RPC
// that lets a primary on another box read and write them (NewHandler on the
// holding box, Remote on the primary).
//
// It knows nothing of replication: a Store answers for its own copy, and
// blockstore/volume decides which copies a write goes to and which are in
// sync. Nothing here goes through Raft.
//
// # On-disk layout
//
//	volumes/LOCK        flock held while a process has the store open
//	volumes/<id>.img    the blocks: a sparse file of exactly the volume's size
//	volumes/<id>.meta   the metadata, replaced whole by an atomic rename
//	volumes/<id>.meta.tmp, <id>.img.new   garbage of an interrupted update or Create, removed at Open
//
// A volume exists when its .meta exists. Create writes the .img first and
// the .meta last; Delete removes the .meta first; so a crash leaves either a
// whole volume or an orphan .img that Open removes.
//
// # Metadata file
//
//	"BNYV" | format uint16le (1) | length L uint32le | CBOR (L bytes) | crc32c of all before
//
// It is written to <id>.meta.tmp, fsynced, renamed over <id>.meta and the
// directory fsynced, so after a crash it is the old file or the new one,
// never a mix; a file that fails its checks is ErrCorrupt and the volume is
// not served (never silently reset to epoch 0, which would unfence).
//
// # Fencing
//
// Every mutating call carries the primary's epoch (the volume's Epoch in the
// replicated state, raised at every takeover). A call with an epoch below
// the recorded one fails with ErrStaleEpoch and changes nothing; a call with
// a higher one first records it durably, then proceeds. A call admitted under
// an epoch completes before a higher epoch is recorded (a read-write lock),
// so once a new primary has touched a copy, no write of the old one lands on
// it.
//
// # Extents
//
// The volume is cut into ExtentSize (4 MiB) extents, the unit of resync:
// ExtentSums hashes them (HighwayHash-128 under a fixed key; holes are
// recognized with SEEK_DATA and not read), ReadExtent and WriteExtent copy
// them whole, and the metadata keeps, for each peer box, the set of extents
// this copy holds newer than that peer does (MarkDirty, ClearDirty, Dirty).
// The primary maintains those sets; this package only stores them.
package replica
