package state

import (
	"io"
	"testing"

	"github.com/fxamacker/cbor/v2"
)

func TestBucketPublicAccessBlockSurvivesUpdatesAndSnapshots(t *testing.T) {
	f := newTestFSM()
	b := Bucket{Name: "pab", Owner: "111122223333", Region: "us-east-1"}
	if r := apply(t, f, 1, &PutBucket{Bucket: b}, ""); r.Err != nil {
		t.Fatal(r.Err)
	}
	if got, _ := f.store.Bucket("pab"); got.PublicAccessBlock != nil {
		t.Fatalf("a new bucket has a public access block: %+v", got.PublicAccessBlock)
	}
	b.PublicAccessBlock = &PublicAccessBlock{BlockPublicAcls: true, RestrictPublicBuckets: true}
	b.Ownership = "BucketOwnerEnforced"
	if r := apply(t, f, 2, &PutBucket{Bucket: b, ExpectIndex: 1}, ""); r.Err != nil {
		t.Fatal(r.Err)
	}
	snap, err := f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	var sink memSink
	if err := snap.Persist(&sink); err != nil {
		t.Fatal(err)
	}
	g := newTestFSM()
	if err := g.Restore(io.NopCloser(&sink)); err != nil {
		t.Fatal(err)
	}
	got, err := g.store.Bucket("pab")
	if err != nil {
		t.Fatal(err)
	}
	if want := (PublicAccessBlock{BlockPublicAcls: true, RestrictPublicBuckets: true}); got.PublicAccessBlock == nil ||
		*got.PublicAccessBlock != want || got.Ownership != "BucketOwnerEnforced" {
		t.Fatalf("restored: %+v %q", got.PublicAccessBlock, got.Ownership)
	}
}

// A record written before the field existed decodes with none, and one without a
// configuration encodes as it did before (omitempty): old and new servers agree.
func TestBucketRecordWithoutPublicAccessBlock(t *testing.T) {
	type oldBucket struct {
		Name, Owner string
		ObjectLock  []byte `cbor:",omitempty"`
	}
	raw, err := cbor.Marshal(oldBucket{Name: "old", Owner: "111122223333"})
	if err != nil {
		t.Fatal(err)
	}
	var b Bucket
	if err := cbor.Unmarshal(raw, &b); err != nil || b.PublicAccessBlock != nil || b.Name != "old" {
		t.Fatalf("%+v %v", b, err)
	}
	enc, err := cbor.Marshal(Bucket{Name: "x", Owner: "1"})
	if err != nil {
		t.Fatal(err)
	}
	var fields map[string]any
	if err := cbor.Unmarshal(enc, &fields); err != nil {
		t.Fatal(err)
	}
	if _, ok := fields["PublicAccessBlock"]; ok {
		t.Fatalf("an empty configuration is encoded: %v", fields)
	}
}
