package state

import (
	"time"

	"github.com/hashicorp/go-memdb"
)

// Bucket is an S3 bucket and its configuration. Objects never go through Raft; bucket
// records do, because they are small, rarely written, and every node must agree on them.
// The S3 front end owns the semantics; it changes a bucket with PutBucket, a
// compare-and-set on ModifyIndex, and retries on CodeConflict.
type Bucket struct {
	Name        string
	Owner       string // account ID
	Region      string
	CreatedAt   time.Time
	Versioning  string // "", "Enabled", "Suspended"
	ACL         string `cbor:",omitempty"` // canned ACL
	Ownership   string `cbor:",omitempty"` // BucketOwnerEnforced, ...
	Policy      string `cbor:",omitempty"` // bucket policy document
	Tags        []Tag  `cbor:",omitempty"`
	CORS        []byte `cbor:",omitempty"` // the front end's encoding of the CORS rules
	Lifecycle   []byte `cbor:",omitempty"` // the front end's encoding of the lifecycle rules
	Scheme      string `cbor:",omitempty"` // erasure scheme override, "k+m"
	CreateIndex uint64
	ModifyIndex uint64

	// ObjectLock is the front end's encoding of the object lock configuration;
	// nil when object lock is not enabled on the bucket.
	ObjectLock []byte `cbor:",omitempty"`

	// PublicAccessBlock is the bucket's S3 Block Public Access configuration; nil when
	// none was put. Replaced whole, never changed in place (records are shared).
	PublicAccessBlock *PublicAccessBlock `cbor:",omitempty"`

	// Encryption is the front end's encoding of the bucket's default encryption
	// (PutBucketEncryption, api/s3/encryption.go); nil when none was put, which S3
	// serves as SSE-S3.
	Encryption []byte `cbor:",omitempty"`
}

// PublicAccessBlock is S3's PublicAccessBlockConfiguration of one bucket.
type PublicAccessBlock struct {
	BlockPublicAcls       bool `cbor:"1,keyasint,omitempty"`
	IgnorePublicAcls      bool `cbor:"2,keyasint,omitempty"`
	BlockPublicPolicy     bool `cbor:"3,keyasint,omitempty"`
	RestrictPublicBuckets bool `cbor:"4,keyasint,omitempty"`
}

const tableBuckets = "buckets"

// PutBucket creates (ExpectIndex 0) or replaces a bucket record.
type PutBucket struct {
	Bucket      Bucket
	ExpectIndex uint64
}

func (*PutBucket) CommandType() CommandType { return CmdPutBucket }

// DeleteBucket removes a bucket record.
type DeleteBucket struct {
	Name        string
	ExpectIndex uint64
}

func (*DeleteBucket) CommandType() CommandType { return CmdDeleteBucket }

func init() {
	registerTable(&memdb.TableSchema{
		Name: tableBuckets,
		Indexes: map[string]*memdb.IndexSchema{
			"id":    {Name: "id", Unique: true, Indexer: &memdb.StringFieldIndex{Field: "Name"}},
			"owner": {Name: "owner", Indexer: &memdb.StringFieldIndex{Field: "Owner"}},
		},
	}, func() any { return new(Bucket) })
	registerCommand("PutBucket", applyPutBucket)
	registerCommand("DeleteBucket", applyDeleteBucket)
}

func getBucket(tx *memdb.Txn, name string) (*Bucket, error) {
	obj, err := tx.First(tableBuckets, "id", name)
	if err != nil || obj == nil {
		return nil, err
	}
	return obj.(*Bucket), nil
}

func applyPutBucket(tx *Txn, c *PutBucket) (any, error) {
	if c.Bucket.Name == "" || c.Bucket.Owner == "" {
		return nil, Errorf(CodeInvalid, "a bucket needs a name and an owner")
	}
	cur, err := getBucket(tx.Txn, c.Bucket.Name)
	if err != nil {
		return nil, err
	}
	what := "bucket " + c.Bucket.Name
	switch {
	case cur == nil && c.ExpectIndex != 0:
		return nil, Errorf(CodeNotFound, "%s does not exist", what)
	case cur != nil && c.ExpectIndex == 0:
		return nil, Errorf(CodeAlreadyExists, "%s already exists", what)
	case cur != nil && c.ExpectIndex != AnyIndex && c.ExpectIndex != cur.ModifyIndex:
		return nil, Errorf(CodeConflict, "%s was changed concurrently; retry", what)
	}
	b := c.Bucket
	b.CreateIndex, b.ModifyIndex = tx.Index, tx.Index
	if cur != nil {
		b.CreateIndex = cur.CreateIndex
	}
	return nil, tx.Insert(tableBuckets, &b)
}

func applyDeleteBucket(tx *Txn, c *DeleteBucket) (any, error) {
	cur, err := getBucket(tx.Txn, c.Name)
	if err != nil {
		return nil, err
	}
	if cur == nil {
		return nil, Errorf(CodeNotFound, "bucket %s does not exist", c.Name)
	}
	if c.ExpectIndex != AnyIndex && c.ExpectIndex != cur.ModifyIndex {
		return nil, Errorf(CodeConflict, "bucket %s was changed concurrently; retry", c.Name)
	}
	return nil, tx.Delete(tableBuckets, cur)
}

// Bucket returns a bucket record, or an error matching ErrNotFound.
func (s *Store) Bucket(name string) (*Bucket, error) {
	b, err := getBucket(s.ReadTxn(), name)
	if err != nil {
		return nil, err
	}
	if b == nil {
		return nil, Errorf(CodeNotFound, "bucket %s does not exist", name)
	}
	return b, nil
}

// Buckets lists the buckets an account owns ("" for every bucket), ordered by name.
func (s *Store) Buckets(owner string) ([]*Bucket, error) {
	all, err := list[Bucket](s.ReadTxn(), tableBuckets)
	if err != nil || owner == "" {
		return all, err
	}
	var out []*Bucket
	for _, b := range all {
		if b.Owner == owner {
			out = append(out, b)
		}
	}
	return out, nil
}
