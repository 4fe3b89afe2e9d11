// Package objectstore is Banyan's S3 data plane: objects erasure-coded (objectstore/erasure)
// over erasure sets of disks on distinct boxes (objectstore/placement), each disk local or
// remote behind one interface (objectstore/disk). Object data and object metadata never go
// through Raft: metadata travels with the shards, written to a write quorum of the set, and
// a read trusts the newest version a read quorum agrees on. Buckets are recorded in Raft by
// the S3 front end; this package sees a bucket as a volume on every disk.
//
// ObjectLayer is the contract the S3 front end (api/s3) programs against; Store is its
// implementation.
package objectstore
