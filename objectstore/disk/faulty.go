package disk

import (
	"context"
	"fmt"
	"io"
	"sync"
	"syscall"

	"github.com/banyancloud/banyan/objectstore/erasure"
)

// Faulty is a test double: it wraps a Disk and makes chosen methods fail
// with programmed errors, so tests of the layers above (quorum, heal,
// listing merge) can break disks on purpose. It is exported for other
// packages' tests; production code never uses it.
//
// A fault is keyed by method name as in the Disk interface ("ReadMetadata",
// "CreateFile", ...), by "ReadAt" for reads through files OpenFile returned,
// or by "*" for every method without a fault of its own. A faulted call
// returns the error without reaching the wrapped Disk.
//
//	f := &disk.Faulty{Disk: d, Program: map[string]error{"RenameData": disk.ErrDiskFull}}
//	f.Set("ReadAt", disk.ErrFaultyDisk, 3) // the 4th and later reads fail
type Faulty struct {
	Disk
	// Program maps a method to its error. Fill it before first use; use
	// Set while calls may be in flight.
	Program map[string]error
	// After maps a method to how many of its calls succeed before its
	// fault takes effect; absent is 0.
	After map[string]int

	mu    sync.Mutex
	calls map[string]int
}

// Set programs method to fail with err after the next after calls
// succeed; a nil err removes the fault. The call count restarts.
func (f *Faulty) Set(method string, err error, after int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.Program == nil {
		f.Program = map[string]error{}
	}
	if f.After == nil {
		f.After = map[string]int{}
	}
	if err == nil {
		delete(f.Program, method)
	} else {
		f.Program[method] = err
	}
	f.After[method] = after
	delete(f.calls, method)
}

// Heal removes every fault.
func (f *Faulty) Heal() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.Program, f.After, f.calls = nil, nil, nil
}

// Calls is how many times method has been called (faulted or not) since it
// was last Set.
func (f *Faulty) Calls(method string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[method]
}

// fault counts a call of method and returns its programmed error, if due.
func (f *Faulty) fault(method string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.calls == nil {
		f.calls = map[string]int{}
	}
	f.calls[method]++
	key := method
	err, ok := f.Program[key]
	if !ok {
		key = "*"
		err = f.Program[key]
	}
	if err == nil || f.calls[method] <= f.After[key] {
		return nil
	}
	return fmt.Errorf("faulty disk %s: %s: %w", f.Disk.ID(), method, err)
}

func (f *Faulty) Info(ctx context.Context) (Info, error) {
	if err := f.fault("Info"); err != nil {
		return Info{}, err
	}
	return f.Disk.Info(ctx)
}

func (f *Faulty) MakeVolume(ctx context.Context, bucket string) error {
	if err := f.fault("MakeVolume"); err != nil {
		return err
	}
	return f.Disk.MakeVolume(ctx, bucket)
}

func (f *Faulty) DeleteVolume(ctx context.Context, bucket string, force bool) error {
	if err := f.fault("DeleteVolume"); err != nil {
		return err
	}
	return f.Disk.DeleteVolume(ctx, bucket, force)
}

func (f *Faulty) StatVolume(ctx context.Context, bucket string) (VolumeInfo, error) {
	if err := f.fault("StatVolume"); err != nil {
		return VolumeInfo{}, err
	}
	return f.Disk.StatVolume(ctx, bucket)
}

func (f *Faulty) ListVolumes(ctx context.Context) ([]VolumeInfo, error) {
	if err := f.fault("ListVolumes"); err != nil {
		return nil, err
	}
	return f.Disk.ListVolumes(ctx)
}

func (f *Faulty) ReadMetadata(ctx context.Context, bucket, object string) (*ObjectMeta, error) {
	if err := f.fault("ReadMetadata"); err != nil {
		return nil, err
	}
	return f.Disk.ReadMetadata(ctx, bucket, object)
}

func (f *Faulty) WriteMetadata(ctx context.Context, bucket, object string, meta *ObjectMeta) error {
	if err := f.fault("WriteMetadata"); err != nil {
		return err
	}
	return f.Disk.WriteMetadata(ctx, bucket, object, meta)
}

func (f *Faulty) DeleteObject(ctx context.Context, bucket, object string) error {
	if err := f.fault("DeleteObject"); err != nil {
		return err
	}
	return f.Disk.DeleteObject(ctx, bucket, object)
}

func (f *Faulty) DeleteVersion(ctx context.Context, bucket, object, versionID string) error {
	if err := f.fault("DeleteVersion"); err != nil {
		return err
	}
	return f.Disk.DeleteVersion(ctx, bucket, object, versionID)
}

func (f *Faulty) CreateFile(ctx context.Context, bucket, tmpPath string, size int64, r io.Reader) error {
	if err := f.fault("CreateFile"); err != nil {
		return err
	}
	return f.Disk.CreateFile(ctx, bucket, tmpPath, size, r)
}

func (f *Faulty) DeleteTmp(ctx context.Context, tmpPath string) error {
	if err := f.fault("DeleteTmp"); err != nil {
		return err
	}
	return f.Disk.DeleteTmp(ctx, tmpPath)
}

func (f *Faulty) ListStagedUploads(ctx context.Context, startAfter string, max int) ([]string, error) {
	if err := f.fault("ListStagedUploads"); err != nil {
		return nil, err
	}
	return f.Disk.ListStagedUploads(ctx, startAfter, max)
}

func (f *Faulty) RenameData(ctx context.Context, srcTmpPath, bucket, object string, v Version) error {
	if err := f.fault("RenameData"); err != nil {
		return err
	}
	return f.Disk.RenameData(ctx, srcTmpPath, bucket, object, v)
}

func (f *Faulty) UndoRenameData(ctx context.Context, bucket, object string, v Version) error {
	if err := f.fault("UndoRenameData"); err != nil {
		return err
	}
	return f.Disk.UndoRenameData(ctx, bucket, object, v)
}

func (f *Faulty) UndoDeleteVersion(ctx context.Context, bucket, object string, v Version) error {
	if err := f.fault("UndoDeleteVersion"); err != nil {
		return err
	}
	return f.Disk.UndoDeleteVersion(ctx, bucket, object, v)
}

func (f *Faulty) OpenFile(ctx context.Context, bucket, object, dataDir string, part int) (ReadAtCloser, int64, error) {
	if err := f.fault("OpenFile"); err != nil {
		return nil, 0, err
	}
	r, size, err := f.Disk.OpenFile(ctx, bucket, object, dataDir, part)
	if err != nil {
		return nil, 0, err
	}
	return faultyFile{r, f}, size, nil
}

func (f *Faulty) VerifyFile(ctx context.Context, bucket, object, dataDir string, part int, scheme erasure.Scheme, partSize int64) error {
	if err := f.fault("VerifyFile"); err != nil {
		return err
	}
	return f.Disk.VerifyFile(ctx, bucket, object, dataDir, part, scheme, partSize)
}

func (f *Faulty) Walk(ctx context.Context, bucket, prefix, startAfter string, fn func(string, *ObjectMeta) error) error {
	if err := f.fault("Walk"); err != nil {
		return err
	}
	return f.Disk.Walk(ctx, bucket, prefix, startAfter, fn)
}

type faultyFile struct {
	ReadAtCloser
	f *Faulty
}

func (r faultyFile) ReadAt(p []byte, off int64) (int, error) {
	if err := r.f.fault("ReadAt"); err != nil {
		return 0, err
	}
	return r.ReadAtCloser.ReadAt(p, off)
}

// Broken is a test double: a disk whose every call fails with Err
// (ErrFaultyDisk wrapping EIO when nil), as a dead drive does. Only ID
// answers.
type Broken struct {
	DiskID string
	Err    error
}

var _ Disk = Broken{}

func (b Broken) err() error {
	if b.Err != nil {
		return b.Err
	}
	return fmt.Errorf("%w: broken disk %s: %w", ErrFaultyDisk, b.DiskID, syscall.EIO)
}

func (b Broken) ID() string                                       { return b.DiskID }
func (b Broken) Info(context.Context) (Info, error)               { return Info{}, b.err() }
func (b Broken) MakeVolume(context.Context, string) error         { return b.err() }
func (b Broken) DeleteVolume(context.Context, string, bool) error { return b.err() }
func (b Broken) StatVolume(context.Context, string) (VolumeInfo, error) {
	return VolumeInfo{}, b.err()
}
func (b Broken) ListVolumes(context.Context) ([]VolumeInfo, error) { return nil, b.err() }
func (b Broken) ReadMetadata(context.Context, string, string) (*ObjectMeta, error) {
	return nil, b.err()
}
func (b Broken) WriteMetadata(context.Context, string, string, *ObjectMeta) error { return b.err() }
func (b Broken) DeleteObject(context.Context, string, string) error               { return b.err() }
func (b Broken) DeleteVersion(context.Context, string, string, string) error      { return b.err() }
func (b Broken) CreateFile(context.Context, string, string, int64, io.Reader) error {
	return b.err()
}
func (b Broken) DeleteTmp(context.Context, string) error { return b.err() }
func (b Broken) ListStagedUploads(context.Context, string, int) ([]string, error) {
	return nil, b.err()
}
func (b Broken) RenameData(context.Context, string, string, string, Version) error {
	return b.err()
}
func (b Broken) UndoRenameData(context.Context, string, string, Version) error {
	return b.err()
}
func (b Broken) UndoDeleteVersion(context.Context, string, string, Version) error {
	return b.err()
}
func (b Broken) OpenFile(context.Context, string, string, string, int) (ReadAtCloser, int64, error) {
	return nil, 0, b.err()
}
func (b Broken) VerifyFile(context.Context, string, string, string, int, erasure.Scheme, int64) error {
	return b.err()
}
func (b Broken) Walk(context.Context, string, string, string, func(string, *ObjectMeta) error) error {
	return b.err()
}
