package disk

import (
	"context"
	"errors"
	"io"

	"github.com/banyancloud/banyan/objectstore/erasure"
)

// Disk is one disk of an erasure set, local or across the network. It is
// narrow on purpose: every method is one round trip over node RPC, takes a
// ctx for its deadline, and fails with the sentinel errors of errors.go,
// which survive the RPC hop.
//
// Object names are S3 keys (valid UTF-8, 1..1024 bytes; longer names, up
// to 2304 bytes, are for the object store's own records); bucket names are
// 1..255 bytes of [A-Za-z0-9._-] not starting with "." (the S3 layer applies
// S3's stricter rules). The null version's VersionID is "".
type Disk interface {
	// ID is the disk's UUID from its format.json stamp. It never changes and
	// costs no I/O.
	ID() string
	// Info reports capacity and health. It fails only when the disk cannot
	// be asked (a remote disk that does not answer); a disk that answers but
	// is unwell says so in Info.Healthy and Info.Problem.
	Info(ctx context.Context) (Info, error)

	// MakeVolume creates a bucket; ErrVolumeExists if it is there.
	MakeVolume(ctx context.Context, bucket string) error
	// DeleteVolume removes a bucket: ErrVolumeNotEmpty unless it holds no
	// objects or force is set, in which case its objects go too.
	DeleteVolume(ctx context.Context, bucket string, force bool) error
	// StatVolume reports whether the bucket exists (ErrVolumeNotFound).
	StatVolume(ctx context.Context, bucket string) (VolumeInfo, error)
	// ListVolumes lists the buckets, sorted by name.
	ListVolumes(ctx context.Context) ([]VolumeInfo, error)

	// ReadMetadata returns every version of the object, inline data
	// included: ErrFileNotFound, ErrVolumeNotFound, ErrFileCorrupt or
	// ErrFormatUnsupported when there is nothing usable.
	ReadMetadata(ctx context.Context, bucket, object string) (*ObjectMeta, error)
	// WriteMetadata replaces the object's metadata file atomically (heal,
	// administrative rewrites). Data dirs no version references any more
	// are removed.
	WriteMetadata(ctx context.Context, bucket, object string, meta *ObjectMeta) error
	// DeleteObject removes every version of the object, metadata and data
	// (not the objects whose keys merely start with its key).
	DeleteObject(ctx context.Context, bucket, object string) error
	// DeleteVersion removes one version and its data; removing the last one
	// removes the object. ErrVersionNotFound if the object has no such
	// version. What it removes is kept aside for UndoDeleteVersion until
	// the object next changes on this disk, KeptFor at most.
	DeleteVersion(ctx context.Context, bucket, object, versionID string) error
	// UndoDeleteVersion takes back this disk's DeleteVersion that removed v
	// (as the disk held it: same ID, ModTime, DataDir, ETag), for a delete
	// that missed its write quorum: the metadata file and data are put back
	// as they were, atomically (the disk holds the state before or after
	// the delete, never less, even across a crash). ErrVersionNotFound if
	// nothing of such a delete is kept here. Callers hold the object's lock
	// from the delete to the undo, and undo within UndoWindow.
	UndoDeleteVersion(ctx context.Context, bucket, object string, v Version) error

	// CreateFile streams exactly size bytes from r (size < 0: until EOF)
	// into the file tmpPath of the disk's staging area and fsyncs it; memory
	// use does not depend on size. tmpPath is the caller's choice of
	// "<staging dir>/part.<N>" (components of [A-Za-z0-9._-], not starting
	// with "."); bucket must exist. The file is invisible until RenameData
	// commits its directory. It is lost on restart if it never is, unless
	// tmpPath is kept (UploadsPrefix): then it appears only once complete
	// and fsynced, replacing a file of the same name whole.
	CreateFile(ctx context.Context, bucket, tmpPath string, size int64, r io.Reader) error
	// DeleteTmp removes a staged file or directory that will not be
	// committed (a failed upload); a missing one is not an error. A kept
	// directory goes at once and whole.
	DeleteTmp(ctx context.Context, tmpPath string) error
	// ListStagedUploads lists the kept staging directories (the names
	// after UploadsPrefix) in byte order: at most max of them (max <= 0 or
	// above 1000: 1000) after startAfter. Nothing but the layer above
	// knows when one is no longer wanted; this is how it finds them.
	ListStagedUploads(ctx context.Context, startAfter string, max int) ([]string, error)
	// RenameData commits version v of the object. When v has a DataDir,
	// the staged directory srcTmpPath (holding part.N files) becomes the
	// version's data directory; inline versions and delete markers pass "".
	// So does a metadata-only update (tags, a copy onto itself): v keeps the
	// DataDir of data already committed for this object, which must exist.
	// The version is merged into the object's existing versions, replacing
	// one with the same VersionID; data no version references any more is
	// then removed. On this disk the version is either fully visible
	// afterwards or not at all, even across a crash. A version it replaces
	// is kept aside for UndoRenameData until the object next changes on
	// this disk, KeptFor at most.
	RenameData(ctx context.Context, srcTmpPath, bucket, object string, v Version) error
	// UndoRenameData takes back this disk's RenameData of v, for a commit
	// that missed its write quorum: the version v replaced comes back with
	// its data, or v is removed if it replaced none. It is as atomic as
	// RenameData: the disk holds v or what v replaced, never neither, even
	// across a crash. ErrVersionNotFound if v is not the object's version
	// here (it never landed, or was replaced since). Callers hold the
	// object's lock from the commit to the undo, and undo within
	// UndoWindow.
	UndoRenameData(ctx context.Context, bucket, object string, v Version) error
	// OpenFile opens the shard file of part of the version whose DataDir is
	// dataDir, for ranged reads, and returns its length. The caller must
	// Close it.
	OpenFile(ctx context.Context, bucket, object, dataDir string, part int) (ReadAtCloser, int64, error)
	// VerifyFile checks a shard file end to end with erasure.VerifyShard:
	// partSize is the object bytes of the part. A bad file is ErrFileCorrupt
	// (also erasure.ErrBitrot or erasure.ErrShardSize under errors.Is).
	VerifyFile(ctx context.Context, bucket, object, dataDir string, part int, scheme erasure.Scheme, partSize int64) error

	// Walk calls fn for every object in bucket whose key starts with prefix
	// and sorts after startAfter, in S3 order (bytewise by key). It streams:
	// memory is bounded by the directories on the way down, not by the
	// bucket. meta holds the versions without inline data (Inline is nil);
	// meta is nil when this disk's metadata file for the key is corrupt or
	// unsupported (count the object as missing here and heal it). When fn
	// returns an error Walk stops and returns it, except StopWalk, which
	// stops it with a nil error.
	Walk(ctx context.Context, bucket, prefix, startAfter string, fn func(object string, meta *ObjectMeta) error) error
}

// UploadsPrefix starts the staging paths that survive a restart:
// "uploads/<dir>/<file>", one directory level below it, files in that. Other
// staging (a PUT's shard files, a heal's) is garbage once its process is
// gone and is cleared when the disk is opened; a multipart upload's parts
// must outlive a restart of their box, so they are staged here and stay
// until RenameData commits their directory or DeleteTmp removes it. A kept
// file is written under a temporary name in the cleared area and renamed
// into place once fsynced, so after a crash it is whole or absent (or the
// file it was replacing).
const UploadsPrefix = "uploads/"

// maxStagedList bounds a ListStagedUploads answer.
const maxStagedList = 1000

// StopWalk, returned by a Walk callback, stops the walk without an error.
//
//lint:ignore ST1012 a signal like fs.SkipAll, not a failure
var StopWalk = errors.New("disk: stop walk")

// ReadAtCloser reads a shard file at any offset; ReadAt is safe to call from
// several goroutines, as io.ReaderAt requires.
type ReadAtCloser interface {
	io.ReaderAt
	io.Closer
}

// Info describes a disk's identity, capacity and health.
type Info struct {
	ID       string `cbor:"1,keyasint,omitempty"`
	Path     string `cbor:"2,keyasint,omitempty"` // mount point on its box
	Endpoint string `cbor:"3,keyasint,omitempty"` // where this Disk reaches it: the path, or the remote base URL
	Total    uint64 `cbor:"4,keyasint,omitempty"` // bytes of the filesystem
	Free     uint64 `cbor:"5,keyasint,omitempty"` // bytes available to us
	Used     uint64 `cbor:"6,keyasint,omitempty"` // bytes in use on the filesystem (not only by us)
	Healthy  bool   `cbor:"7,keyasint,omitempty"`
	Problem  string `cbor:"8,keyasint,omitempty"` // why not healthy, for an operator
}

// VolumeInfo describes a bucket on one disk. Creation time and ownership are
// the bucket record's business (replicated state), not the disk's.
type VolumeInfo struct {
	Name string `cbor:"1,keyasint"`
}
