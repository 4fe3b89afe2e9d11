package snapshot

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/fxamacker/cbor/v2"

	"github.com/banyancloud/banyan/blockstore/replica"
)

// Bucket is the object store's system bucket of snapshot data. S3 bucket names hold no
// '_', so no account can see or touch it.
const Bucket = "_banyan-snapshots"

// manifestFormat is the version of the manifest encoding.
const manifestFormat = 1

// Manifest lists a snapshot's extents.
type Manifest struct {
	Format     int      `cbor:"1,keyasint"`
	SnapshotID string   `cbor:"2,keyasint"`
	VolumeID   string   `cbor:"3,keyasint"`
	Size       int64    `cbor:"4,keyasint"`
	ExtentSize int64    `cbor:"5,keyasint"`
	Extents    []Extent `cbor:"6,keyasint"`
}

// Extent is one extent of a snapshot: the object holding it and the SHA-256 of its
// bytes; Key "" is an extent of zeros, stored nowhere.
type Extent struct {
	Key string   `cbor:"1,keyasint,omitempty"`
	Sum [32]byte `cbor:"2,keyasint"`
}

// Zero reports whether the extent is all zeros.
func (e Extent) Zero() bool { return e.Key == "" }

// ManifestKey is the object key of a snapshot's manifest.
func ManifestKey(snapshotID string) string { return "manifests/" + snapshotID }

// ExtentPrefix is the prefix of every extent object a snapshot uploaded.
func ExtentPrefix(snapshotID string) string { return "extents/" + snapshotID + "/" }

func extentKey(snapshotID string, attempt uint64, n int64) string {
	return fmt.Sprintf("%s%d/%d", ExtentPrefix(snapshotID), attempt, n)
}

// ErrCorrupt: a manifest or an extent object does not decode or does not match its sum.
var ErrCorrupt = errors.New("snapshot: corrupt data")

// Encode serializes the manifest.
func (m *Manifest) Encode() ([]byte, error) { return cbor.Marshal(m) }

// DecodeManifest parses and checks a manifest.
func DecodeManifest(b []byte) (*Manifest, error) {
	var m Manifest
	dec, _ := cbor.DecOptions{MaxArrayElements: 1 << 25}.DecMode()
	if err := dec.NewDecoder(bytes.NewReader(b)).Decode(&m); err != nil {
		return nil, fmt.Errorf("%w: manifest: %v", ErrCorrupt, err)
	}
	switch {
	case m.Format != manifestFormat:
		return nil, fmt.Errorf("%w: manifest format %d, this server reads %d", ErrCorrupt, m.Format, manifestFormat)
	case m.ExtentSize != replica.ExtentSize:
		return nil, fmt.Errorf("%w: manifest extent size %d", ErrCorrupt, m.ExtentSize)
	case m.Size < 0 || int64(len(m.Extents)) != replica.Extents(m.Size):
		return nil, fmt.Errorf("%w: manifest of %d bytes lists %d extents", ErrCorrupt, m.Size, len(m.Extents))
	}
	return &m, nil
}

// Keys lists the distinct objects the manifest names.
func (m *Manifest) Keys() []string {
	seen := map[string]bool{}
	var out []string
	for _, e := range m.Extents {
		if e.Key != "" && !seen[e.Key] {
			seen[e.Key] = true
			out = append(out, e.Key)
		}
	}
	return out
}

// Refs counts, for every extent object, the snapshots whose manifests name it.
type Refs map[string]int

// Add counts a manifest's references.
func (r Refs) Add(m *Manifest) {
	for _, k := range m.Keys() {
		r[k]++
	}
}

// Release drops a manifest's references and returns the keys no manifest names any
// more, in the manifest's order: the objects that may be deleted.
func (r Refs) Release(m *Manifest) []string {
	var freed []string
	for _, k := range m.Keys() {
		if r[k] <= 1 {
			delete(r, k)
			freed = append(freed, k)
		} else {
			r[k]--
		}
	}
	return freed
}

// Unreferenced returns the keys of m that none of others names: what deleting the
// snapshot of m frees.
func Unreferenced(m *Manifest, others []*Manifest) []string {
	r := Refs{}
	r.Add(m)
	for _, o := range others {
		r.Add(o)
	}
	return r.Release(m)
}
