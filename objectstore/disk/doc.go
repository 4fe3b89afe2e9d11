// Package disk owns what one disk stores for the object store: buckets
// ("volumes"), each object's metadata file (every version of the object, with
// small objects' bytes inline), the shard files of larger objects, the
// commit step that makes a new version visible atomically, and streaming,
// lexically ordered listing. It defines the Disk interface the erasure-set
// layer talks to, and three implementations of it: Local (a directory on a
// local filesystem), Remote plus NewHandler (the same interface over node
// RPC), and Faulty/Broken (test doubles that inject errors).
//
// It does not know about placement, quorums or S3 semantics: one disk answers
// for itself, and the layer above reads and writes a set of disks and decides
// which answer wins. Nothing here goes through Raft.
//
// # On-disk layout
//
// Paths are relative to the disk's root (its mount point):
//
//	.banyan.sys/format.json   disk stamp: {"format":1,"id":"<disk uuid>"}; written once
//	.banyan.sys/LOCK          flock held while a process has the disk open
//	.banyan.sys/tmp/          staging: CreateFile's shard files (<staging dir>/part.N)
//	                          and metadata files being written; wiped at open
//	.banyan.sys/uploads/      kept staging (UploadsPrefix): multipart parts as
//	                          <upload>/part.N, each file complete and fsynced;
//	                          survives a restart, swept by the object store
//	.banyan.sys/trash/        whatever is being deleted; emptied at open
//	<bucket>/                 one directory per bucket
//	<bucket>/<key path>/      one directory ("node") per object key, see below
//	    .meta                 the object's metadata file: every version
//	    .data-<uuid>/part.N   shard file of part N of the versions whose DataDir is <uuid>
//	    <child>/              nodes of longer keys
//
// Renames inside one filesystem are the only commit primitive: every file is
// written in .banyan.sys/tmp, fsynced, renamed into place, and the directory
// that received it is fsynced. A crash therefore leaves a version either
// fully visible or not at all, plus garbage in tmp/ and trash/ that the next
// open removes, or unreferenced .data-* dirs that the next write to the same
// key sweeps. A kept part file is renamed into uploads/ only once it is
// complete, so a crash leaves it whole or absent.
//
// A Local answers "not found" only for what is missing on the disk it was
// opened on. Every call first checks that the directory at the root path is
// still that disk (the same directory, or one carrying its format.json), and
// a call that found something missing checks again before saying so; a disk
// whose folder went away, was unmounted, replaced by an empty directory or
// by another disk answers ErrDiskNotFound ("could not be asked", never
// "has no such object") and creates nothing at the path, and serves again as
// soon as its folder is back. See presence.go.
//
// Durability has a price in fsyncs, which dominate write latency: a PUT of
// a new key costs one per shard file (CreateFile), one for the staged
// directory, one per new directory on the key's path, and two for the
// object's node (data moved in, metadata renamed in) plus one for the
// metadata file itself. Overwrites and inline objects skip some of them.
// BenchmarkRawFsync measures the floor on the machine at hand.
//
// # Object keys as paths
//
// An object key is stored as a path so that a prefix listing only opens the
// directories under the prefix. The key is split at "/" into components
// and each component is encoded into one directory name:
//
//   - bytes outside [A-Za-z0-9._~-] and below 0x80 are escaped as %XX, so
//     "/", "%", "+" and control bytes never reach the filesystem raw, while
//     UTF-8 text stays readable;
//   - a leading "." is escaped too ("." is "%2E", ".." is "%2E."), so no
//     component can be "." or "..", and names starting with "." are free for
//     the node's own entries (.meta, .data-*);
//   - an empty component ("a//b", "/a", "a/") is the name "%";
//   - a component whose encoding exceeds 240 bytes (file names are limited
//     to 255) continues in a child directory named "+<rest>", split again as
//     needed; splits never cut a UTF-8 sequence.
//
// So "a", "a/" and "a/b" are three different nodes (a, a/%, a/b), a key can
// be both an object and a prefix of other keys, and decoding a path gives the
// key back exactly. See keypath.go; Walk (walk.go) merges the directories'
// entries so that keys come out in S3's byte order even where "/" does not
// sort like a path separator ("a-b" < "a/b").
//
// # Metadata file format
//
//	"BNYM" | format uint16le (1) | header length H uint32le | header (CBOR, H bytes)
//	       | crc32c(all bytes so far) | inline data | crc32c(all bytes so far)
//
// The header holds every version without its inline bytes, so a listing
// reads and verifies only the header; the inline bytes of all versions follow
// it in version order. Any mismatch is ErrFileCorrupt; a format newer than
// this binary is ErrFormatUnsupported, so an old binary never "heals" a newer
// file.
package disk
