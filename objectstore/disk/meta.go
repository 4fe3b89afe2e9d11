package disk

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/banyancloud/banyan/objectstore/erasure"
)

// ObjectMeta is everything one disk knows about one object key: all its
// versions, newest first. It is a plain value; the methods below keep the
// order, so every disk of a set that holds the same versions holds them in
// the same order.
type ObjectMeta struct {
	Versions []Version `cbor:"1,keyasint"`
}

// Version is one version of an object, or a delete marker. The fields that
// differ between the disks of a set are Erasure.Index (each disk holds its own
// shard) and nothing else.
type Version struct {
	VersionID      string    `cbor:"1,keyasint,omitempty"` // "" is the null version
	IsDeleteMarker bool      `cbor:"2,keyasint,omitempty"`
	ModTime        time.Time `cbor:"3,keyasint"`
	Size           int64     `cbor:"4,keyasint,omitempty"` // object bytes
	ETag           string    `cbor:"5,keyasint,omitempty"`
	ContentType    string    `cbor:"6,keyasint,omitempty"`
	// UserMeta is the x-amz-meta-* headers, keys lower-case without the
	// prefix.
	UserMeta map[string]string `cbor:"7,keyasint,omitempty"`
	// Sys is S3 system metadata that is not user metadata (Content-Encoding,
	// Cache-Control, tagging, object lock, ...), owned by the S3 layer.
	Sys map[string]string `cbor:"8,keyasint,omitempty"`
	// Checksums maps an S3 checksum algorithm ("CRC32C", "SHA256", ...) to
	// its base64 value.
	Checksums map[string]string `cbor:"9,keyasint,omitempty"`
	Erasure   ErasureInfo       `cbor:"10,keyasint,omitempty"`
	// Parts are the parts of a multipart upload, in order; a plain PUT has
	// one part, number 1. Part N's shard file is <DataDir>/part.N.
	Parts []Part `cbor:"11,keyasint,omitempty"`
	// DataDir is the UUID of the directory holding the shard files; empty
	// for delete markers and inline versions.
	DataDir string `cbor:"12,keyasint,omitempty"`
	// Inline is the object's bytes when DataDir is empty (small objects):
	// this disk's shard, or the whole object when mirrored.
	Inline []byte `cbor:"13,keyasint,omitempty"`
}

// ErasureInfo is how a version is spread over its erasure set.
type ErasureInfo struct {
	Data      int   `cbor:"1,keyasint,omitempty"`
	Parity    int   `cbor:"2,keyasint,omitempty"`
	BlockSize int64 `cbor:"3,keyasint,omitempty"`
	// Index is the shard this disk holds, 0-based.
	Index int `cbor:"4,keyasint,omitempty"`
	// Disks are the IDs of the set's disks in set order.
	Disks []string `cbor:"5,keyasint,omitempty"`
	// Distribution[i] is the shard index held by Disks[i]: objects rotate
	// their shards over the set so that parity does not always land on the
	// same disks.
	Distribution []int `cbor:"6,keyasint,omitempty"`
}

// Scheme is the erasure.Scheme the shard files were written with.
func (e ErasureInfo) Scheme() erasure.Scheme {
	return erasure.Scheme{Data: e.Data, Parity: e.Parity, BlockSize: e.BlockSize}
}

// Part is one part of a version's data.
type Part struct {
	Number int    `cbor:"1,keyasint"`
	Size   int64  `cbor:"2,keyasint"` // object bytes in this part
	ETag   string `cbor:"3,keyasint,omitempty"`
}

// HasInline reports whether the version's bytes live in Inline rather than
// in a data directory.
func (v *Version) HasInline() bool { return !v.IsDeleteMarker && v.DataDir == "" }

// newer is the order of versions: latest ModTime first, then the larger
// VersionID, so that every disk orders the same versions the same way
// whatever order they arrived in.
func newer(a, b *Version) bool {
	if !a.ModTime.Equal(b.ModTime) {
		return a.ModTime.After(b.ModTime)
	}
	return a.VersionID > b.VersionID
}

// Latest is the newest version (which may be a delete marker); false when
// there is none.
func (m *ObjectMeta) Latest() (Version, bool) {
	if m == nil || len(m.Versions) == 0 {
		return Version{}, false
	}
	return m.Versions[0], true
}

// FindVersion returns the version with id ("" is the null version).
func (m *ObjectMeta) FindVersion(id string) (Version, bool) {
	if i := m.index(id); i >= 0 {
		return m.Versions[i], true
	}
	return Version{}, false
}

func (m *ObjectMeta) index(id string) int {
	if m == nil {
		return -1
	}
	return slices.IndexFunc(m.Versions, func(v Version) bool { return v.VersionID == id })
}

// AddVersion inserts v in order, replacing the version with the same
// VersionID (an overwrite of the null version, or a heal), which it returns.
// ModTime is stored in UTC without a monotonic reading, as it will read back.
func (m *ObjectMeta) AddVersion(v Version) (replaced Version, ok bool) {
	v.ModTime = v.ModTime.UTC().Round(0)
	if i := m.index(v.VersionID); i >= 0 {
		replaced, ok = m.Versions[i], true
		m.Versions = slices.Delete(m.Versions, i, i+1)
	}
	at, _ := slices.BinarySearchFunc(m.Versions, &v, func(e Version, t *Version) int {
		if newer(&e, t) {
			return -1
		}
		return 1
	})
	m.Versions = slices.Insert(m.Versions, at, v)
	return replaced, ok
}

// RemoveVersion deletes the version with id and returns it.
func (m *ObjectMeta) RemoveVersion(id string) (Version, bool) {
	i := m.index(id)
	if i < 0 {
		return Version{}, false
	}
	v := m.Versions[i]
	m.Versions = slices.Delete(m.Versions, i, i+1)
	return v, true
}

// References reports whether any version keeps its data in dataDir; a data
// directory can be shared by versions (a metadata-only copy).
func (m *ObjectMeta) References(dataDir string) bool {
	return m != nil && dataDir != "" && slices.ContainsFunc(m.Versions, func(v Version) bool { return v.DataDir == dataDir })
}

// Clone is a deep copy, so that a caller can change one without the other.
func (m *ObjectMeta) Clone() *ObjectMeta {
	if m == nil {
		return nil
	}
	c := &ObjectMeta{Versions: make([]Version, len(m.Versions))}
	for i, v := range m.Versions {
		c.Versions[i] = v.clone()
	}
	return c
}

func (v Version) clone() Version {
	v.UserMeta = maps.Clone(v.UserMeta)
	v.Sys = maps.Clone(v.Sys)
	v.Checksums = maps.Clone(v.Checksums)
	v.Erasure.Disks = slices.Clone(v.Erasure.Disks)
	v.Erasure.Distribution = slices.Clone(v.Erasure.Distribution)
	v.Parts = slices.Clone(v.Parts)
	v.Inline = slices.Clone(v.Inline)
	return v
}

// Validate checks what this package relies on: at least one version, unique
// version IDs, data directories that are UUIDs (they become paths), and no
// inline bytes where data lives in a directory.
func (m *ObjectMeta) Validate() error {
	if m == nil || len(m.Versions) == 0 {
		return fmt.Errorf("%w: metadata without versions", ErrInvalidArgument)
	}
	seen := make(map[string]bool, len(m.Versions))
	for i := range m.Versions {
		v := &m.Versions[i]
		if seen[v.VersionID] {
			return fmt.Errorf("%w: version %q appears twice", ErrInvalidArgument, v.VersionID)
		}
		seen[v.VersionID] = true
		if err := v.validate(); err != nil {
			return err
		}
	}
	return nil
}

func (v *Version) validate() error {
	switch {
	case !utf8.ValidString(v.VersionID) || len(v.VersionID) > 256 || strings.ContainsRune(v.VersionID, 0):
		return fmt.Errorf("%w: version ID %q", ErrInvalidArgument, v.VersionID)
	case v.DataDir != "" && !isUUID(v.DataDir):
		return fmt.Errorf("%w: version %q: data dir %q is not a UUID", ErrInvalidArgument, v.VersionID, v.DataDir)
	case v.DataDir != "" && v.Inline != nil:
		return fmt.Errorf("%w: version %q has both a data dir and inline data", ErrInvalidArgument, v.VersionID)
	case v.IsDeleteMarker && (v.DataDir != "" || v.Inline != nil):
		return fmt.Errorf("%w: delete marker %q has data", ErrInvalidArgument, v.VersionID)
	case v.Size < 0:
		return fmt.Errorf("%w: version %q has size %d", ErrInvalidArgument, v.VersionID, v.Size)
	}
	for _, p := range v.Parts {
		if p.Number < 1 || p.Size < 0 {
			return fmt.Errorf("%w: version %q has part %d of %d bytes", ErrInvalidArgument, v.VersionID, p.Number, p.Size)
		}
	}
	return nil
}
