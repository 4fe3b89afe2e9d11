package node

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/banyancloud/banyan/blockstore/snapshot"
	"github.com/banyancloud/banyan/cluster"
	"github.com/banyancloud/banyan/cluster/state"
	"github.com/banyancloud/banyan/objectstore"
)

// snapshotImporter carries out ImportSnapshot tasks on the leader. For each active task
// it claims a new attempt (so a former leader's reports no longer count), reads the S3
// object through the decrypting object layer, and makes the snapshot's extents from it:
// a raw image streams straight from S3 into the extents (nothing on local disk, a few
// extents in memory); VMDK, VHD and qcow2 are copied to scratch, checked with qemu-img
// and converted to a sparse raw file first. Extents of zeros are not stored; the image
// is padded with zeros to whole GiB, the snapshot's size. The manifest is written last,
// then CompleteImportSnapshotTask registers the snapshot. A leader change restarts the
// task from the start on the new leader, as a new attempt; a cancel stops it and removes
// what it uploaded.
type snapshotImporter struct {
	node    clusterView
	objects imageSource
	store   snapshot.Store
	// init makes the snapshot bucket; tried before every import.
	init func(ctx context.Context) error
	dir  string // scratch
	log  *slog.Logger
	// slots bounds the imports running at once (scratch space, qemu-img's CPU).
	slots         chan struct{}
	progressEvery time.Duration
	now           func() time.Time
}

// imageSource is what the importer needs of the object layer: to read the image.
type imageSource interface {
	GetObject(ctx context.Context, bucket, key string, opts objectstore.GetOptions) (objectstore.ObjectInfo, io.ReadCloser, error)
}

// maxImportedSnapshotBytes bounds an imported disk's virtual size: 16 TiB, EBS's
// largest gp2/gp3 volume, which a snapshot must fit.
const maxImportedSnapshotBytes = 16 << 40

// concurrentSnapshotImports is how many imports run at once; others wait, active.
const concurrentSnapshotImports = 2

// RunSnapshotImports carries out ImportSnapshot tasks; the leader runs it.
func RunSnapshotImports(ctx context.Context, n *cluster.Node, objects objectstore.ObjectLayer, dataDir string, log *slog.Logger) {
	st := snapshot.ObjectStore{Objects: objects}
	newSnapshotImporter(n, objects, st, st.Init, filepath.Join(dataDir, "imports"), log).run(ctx)
}

func newSnapshotImporter(n clusterView, objects imageSource, st snapshot.Store, init func(context.Context) error, dir string, log *slog.Logger) *snapshotImporter {
	return &snapshotImporter{node: n, objects: objects, store: st, init: init, dir: dir, log: log.With("sub", "import-snapshot"),
		slots: make(chan struct{}, concurrentSnapshotImports), progressEvery: 2 * time.Second, now: func() time.Time { return time.Now().UTC() }}
}

// clientError is an import failure caused by the image or the request: the task's
// message says "ClientError: ...", as AWS's do; anything else is a "ServerError".
type clientError struct{ error }

func clientErrorf(format string, args ...any) error { return clientError{fmt.Errorf(format, args...)} }

func (si *snapshotImporter) run(ctx context.Context) {
	var (
		mu   sync.Mutex
		busy = map[string]context.CancelFunc{}
		wg   sync.WaitGroup
	)
	start := func(id string, work func(tctx context.Context)) {
		tctx, cancel := context.WithCancel(ctx)
		mu.Lock()
		busy[id] = cancel
		mu.Unlock()
		wg.Go(func() {
			defer func() { mu.Lock(); delete(busy, id); mu.Unlock(); cancel() }()
			work(tctx)
		})
	}
	for ctx.Err() == nil {
		tasks, changed, err := si.node.State().ImportSnapshotTasks("")
		if err != nil {
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
			continue
		}
		for _, t := range tasks {
			mu.Lock()
			cancel, running := busy[t.ID]
			mu.Unlock()
			switch {
			case t.Status == state.TaskDeleting && running:
				cancel()
			case t.Status == state.TaskDeleting:
				t := *t
				start(t.ID, func(context.Context) { si.cancelled(ctx, &t) })
			case t.Status == state.TaskActive && !running:
				t := *t
				start(t.ID, func(tctx context.Context) { si.importOne(ctx, tctx, t) })
			}
		}
		select {
		case <-ctx.Done():
		case <-changed:
		case <-time.After(10 * time.Second):
		}
	}
	mu.Lock()
	for _, c := range busy {
		c()
	}
	mu.Unlock()
	wg.Wait()
}

// importOne runs one attempt at a task. ctx is the importer's (this leader's term), tctx
// the task's, cancelled when the task is.
func (si *snapshotImporter) importOne(ctx, tctx context.Context, t state.ImportSnapshotTask) {
	select {
	case si.slots <- struct{}{}:
		defer func() { <-si.slots }()
	case <-tctx.Done():
		si.afterStop(ctx, t.ID)
		return
	}
	var attempt uint64
	if _, err := si.node.Apply(tctx, &state.ClaimImportSnapshotTask{ID: t.ID, Node: si.node.Name()}, &attempt); err != nil {
		if !errors.Is(err, state.ErrNotFound) && !errors.Is(err, &state.Error{Code: state.CodeIncorrectState}) && ctx.Err() == nil {
			si.log.Warn("cannot claim an import task", "task", t.ID, "err", err)
		}
		si.afterStop(ctx, t.ID)
		return
	}
	t.Attempt, t.Node = attempt, si.node.Name()
	start := time.Now()
	stats, err := si.importSnapshot(tctx, &t)
	switch {
	case tctx.Err() != nil:
		si.afterStop(ctx, t.ID)
	case err == nil:
		si.log.Info("snapshot imported", "task", t.ID, "snapshot", t.SnapshotID, "format", t.Format, "extents", stats.Extents,
			"uploaded", stats.Uploaded, "zero", stats.Zero, "bytes", stats.StoredBytes, "seconds", time.Since(start).Seconds())
	case errors.Is(err, &state.Error{Code: state.CodeIncorrectState}):
		si.afterStop(ctx, t.ID) // cancelled just before it completed
	case errors.Is(err, state.ErrConflict):
		// Another attempt owns the task now: its objects and manifest are its own.
	case errors.As(err, new(uncommitted)):
		// The snapshot is whole but its registration did not reach a leader: the task
		// stays active and runs again (here, or on the next leader).
		si.log.Warn("cannot register an imported snapshot", "task", t.ID, "err", err)
	default:
		kind := "ServerError: "
		if errors.As(err, new(clientError)) {
			kind = "ClientError: "
		}
		si.log.Warn("snapshot import failed", "task", t.ID, "err", err)
		if derr := si.deleteAttempt(ctx, &t); derr != nil {
			si.log.Warn("cannot remove a failed import's extents", "task", t.ID, "err", derr)
		}
		si.node.Apply(ctx, &state.ReportImportSnapshotTask{ID: t.ID, Node: t.Node, Attempt: t.Attempt, Failed: true, Message: kind + err.Error()}, nil)
	}
}

// uncommitted is an Apply that failed without an answer from the state (no leader).
type uncommitted struct{ error }

// afterStop finishes a task whose attempt stopped: a cancelled one is cleaned up and
// reported deleted; one stopped by the end of this leader's term is left to the next.
func (si *snapshotImporter) afterStop(ctx context.Context, id string) {
	if ctx.Err() != nil {
		return
	}
	if t, err := si.node.State().ImportSnapshotTask(id); err == nil && t.Status == state.TaskDeleting {
		si.cancelled(ctx, t)
	}
}

// cancelled removes everything a cancelled task uploaded, every attempt's, and reports
// it deleted. No attempt can start any more (a claim needs an active task).
func (si *snapshotImporter) cancelled(ctx context.Context, t *state.ImportSnapshotTask) {
	if _, err := snapshot.Delete(ctx, si.store, t.SnapshotID, nil, nil); err != nil {
		si.log.Warn("cannot remove a cancelled import's extents; retrying", "task", t.ID, "err", err)
		return // the task stays deleting; the next pass retries
	}
	si.node.Apply(ctx, &state.ReportImportSnapshotTask{ID: t.ID, Cancelled: true, Message: "Cancelled by the user"}, nil)
}

// deleteAttempt removes the extents one attempt uploaded (others' are theirs).
func (si *snapshotImporter) deleteAttempt(ctx context.Context, t *state.ImportSnapshotTask) error {
	keys, err := si.store.List(ctx, fmt.Sprintf("%s%d/", snapshot.ExtentPrefix(t.SnapshotID), t.Attempt))
	if err != nil {
		return err
	}
	var errs []error
	for _, k := range keys {
		errs = append(errs, si.store.Delete(ctx, k))
	}
	return errors.Join(errs...)
}

func (si *snapshotImporter) report(ctx context.Context, t *state.ImportSnapshotTask, pct int, msg string) {
	si.node.Apply(ctx, &state.ReportImportSnapshotTask{ID: t.ID, Node: t.Node, Attempt: t.Attempt, Progress: pct, Message: msg}, nil)
}

// importSnapshot makes the snapshot of one task and registers it.
func (si *snapshotImporter) importSnapshot(ctx context.Context, t *state.ImportSnapshotTask) (snapshot.Stats, error) {
	if err := si.init(ctx); err != nil {
		return snapshot.Stats{}, fmt.Errorf("the snapshot bucket: %w", err)
	}
	si.report(ctx, t, 2, "downloading")
	oi, body, err := si.objects.GetObject(ctx, t.Bucket, t.Key, objectstore.GetOptions{})
	if err != nil {
		return snapshot.Stats{}, clientErrorf("cannot read s3://%s/%s: %v", t.Bucket, t.Key, err)
	}
	defer body.Close()
	var (
		image    io.Reader
		dataSize int64
		base     = 5 // percent done when the upload starts
	)
	if t.Format == "RAW" {
		head := make([]byte, min(oi.Size, 64<<10))
		if _, err := io.ReadFull(body, head); err != nil {
			return snapshot.Stats{}, fmt.Errorf("reading s3://%s/%s: %w", t.Bucket, t.Key, err)
		}
		if err := checkRawImage(head, oi.Size); err != nil {
			return snapshot.Stats{}, err
		}
		image, dataSize = io.MultiReader(bytes.NewReader(head), body), oi.Size
	} else {
		raw, size, err := si.convertToRaw(ctx, t, oi, body)
		if err != nil {
			return snapshot.Stats{}, err
		}
		defer raw.Close()
		image, dataSize, base = raw, size, 40
	}
	if dataSize > maxImportedSnapshotBytes {
		return snapshot.Stats{}, clientErrorf("the disk is %d bytes; a snapshot holds at most %d (16 TiB)", dataSize, int64(maxImportedSnapshotBytes))
	}
	sizeGiB := int((dataSize + 1<<30 - 1) >> 30)
	src, err := snapshot.NewStreamSource(image, dataSize, int64(sizeGiB)<<30)
	if err != nil {
		return snapshot.Stats{}, err
	}
	si.report(ctx, t, base, "uploading")
	var pct atomic.Int64
	stop, reported := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(reported)
		tick := time.NewTicker(si.progressEvery)
		defer tick.Stop()
		last := int64(base)
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			if p := pct.Load(); p > last {
				si.report(ctx, t, int(p), "")
				last = p
			}
		}
	}()
	m, stats, err := snapshot.Take(ctx, src, si.store, snapshot.TakeOptions{SnapshotID: t.SnapshotID, VolumeID: state.ImportedVolumeID,
		Attempt: t.Attempt, Progress: func(done, total int64) {
			pct.Store(int64(base) + done*int64(98-base)/max(total, 1))
		}})
	close(stop)
	<-reported
	if err != nil {
		return stats, err
	}
	_, err = si.node.Apply(ctx, &state.CompleteImportSnapshotTask{ID: t.ID, Node: t.Node, Attempt: t.Attempt, VolumeSizeGiB: sizeGiB,
		Manifest: snapshot.ManifestKey(m.SnapshotID), Extents: stats.Extents, Uploaded: stats.Uploaded, Zero: stats.Zero,
		StoredBytes: stats.StoredBytes, Now: si.now()}, nil)
	if err != nil && !errors.As(err, new(*state.Error)) {
		return stats, uncommitted{err}
	}
	return stats, err
}

// checkRawImage checks what can be checked of a raw disk image from its first bytes and
// its size: it is a whole number of sectors, and it is not an image of another format
// (qemu-img's probes, by their magic numbers; qemu-img itself is not run on it, as
// probing a VMDK descriptor would open the files it names).
func checkRawImage(head []byte, size int64) error {
	if size == 0 {
		return clientErrorf("Disk validation failed [the image is empty]")
	}
	if f := probeImageFormat(head); f != "" {
		return clientErrorf("Disk validation failed [the file is a %s image, not raw: import it with its own format]", f)
	}
	if size%512 != 0 {
		return clientErrorf("Disk validation failed [a raw disk image is a whole number of 512-byte sectors; this object is %d bytes]", size)
	}
	return nil
}

// probeImageFormat names the image format whose magic number head starts with, "" for
// none (raw).
func probeImageFormat(head []byte) string {
	for _, p := range []struct {
		format string
		off    int
		magic  string
	}{
		{"qcow2", 0, "QFI\xfb"},
		{"qed", 0, "QED\x00"},
		{"vmdk", 0, "KDMV"},
		{"vmdk", 0, "COWD"},
		{"vmdk", 0, "# Disk DescriptorFile"},
		{"vhd", 0, "conectix"},
		{"vhdx", 0, "vhdxfile"},
		{"vdi", 0x40, "\x7f\x10\xda\xbe"},
		{"luks", 0, "LUKS\xba\xbe"},
		{"parallels", 0, "WithoutFreeSpace"},
		{"parallels", 0, "WithouFreSpacExt"},
		{"bochs", 0, "Bochs Virtual HD Image"},
	} {
		if len(head) >= p.off+len(p.magic) && string(head[p.off:p.off+len(p.magic)]) == p.magic {
			return p.format
		}
	}
	return ""
}

// qemuFormats are qemu-img's names of the formats ImportSnapshot converts.
var qemuFormats = map[string]string{"VMDK": "vmdk", "VHD": "vpc", "QCOW2": "qcow2"}

// convertToRaw copies the image to scratch, checks it and converts it to a sparse raw
// file, which it returns open (removed from the directory already) with its size.
func (si *snapshotImporter) convertToRaw(ctx context.Context, t *state.ImportSnapshotTask, oi objectstore.ObjectInfo, body io.Reader) (*os.File, int64, error) {
	if oi.Size > maxImageBytes {
		return nil, 0, clientErrorf("the disk image is %d bytes; the limit is %d", oi.Size, int64(maxImageBytes))
	}
	if err := os.MkdirAll(si.dir, 0o700); err != nil {
		return nil, 0, err
	}
	base := filepath.Join(si.dir, fmt.Sprintf("%s-%d", t.ID, t.Attempt))
	src, dst := base+".src", base+".raw"
	defer os.Remove(src)
	defer os.Remove(dst)
	if err := writeFileAtomic(src, body); err != nil {
		return nil, 0, fmt.Errorf("downloading the disk image: %w", err)
	}
	si.report(ctx, t, 20, "validating")
	info, err := checkConvertibleImage(ctx, src, t.Format)
	if err != nil {
		return nil, 0, err
	}
	si.report(ctx, t, 30, "converting")
	if out, err := exec.CommandContext(ctx, "qemu-img", "convert", "-f", qemuFormats[t.Format], "-O", "raw", src, dst).CombinedOutput(); err != nil {
		return nil, 0, clientErrorf("converting the %s image: %v: %s", t.Format, err, strings.TrimSpace(string(out)))
	}
	os.Remove(src)
	f, err := os.Open(dst)
	if err != nil {
		return nil, 0, err
	}
	st, err := f.Stat()
	if err != nil || st.Size() != info.VirtualSize {
		f.Close()
		return nil, 0, fmt.Errorf("the converted image is not %d bytes (%v)", info.VirtualSize, err)
	}
	return f, info.VirtualSize, nil
}

// checkConvertibleImage checks that the file at path is a sound, self-contained image
// of format (VMDK, VHD, QCOW2): qemu-img opens it as that format, it has no backing
// file or external data file (qemu-img would read other files of this box), a VMDK is
// one file (not a descriptor naming extent files) and a qcow2 passes `qemu-img check`.
// Errors are the task's status message, AWS's wording.
func checkConvertibleImage(ctx context.Context, path, format string) (imageInfo, error) {
	qf, ok := qemuFormats[format]
	if !ok {
		return imageInfo{}, clientErrorf("Disk validation failed [unsupported format %s]", format)
	}
	f, err := os.Open(path)
	if err != nil {
		return imageInfo{}, err
	}
	head := make([]byte, 4)
	_, err = io.ReadFull(f, head)
	f.Close()
	if err != nil {
		return imageInfo{}, clientErrorf("Disk validation failed [the file is too short to be a %s image]", format)
	}
	if format == "VMDK" && string(head) != "KDMV" && string(head) != "COWD" {
		return imageInfo{}, clientErrorf("Disk validation failed [not a single-file VMDK: only monolithicSparse and streamOptimized disks can be imported]")
	}
	out, err := exec.CommandContext(ctx, "qemu-img", "info", "--output=json", "-f", qf, path).Output()
	if err != nil {
		return imageInfo{}, clientErrorf("Disk validation failed [the file is not a %s image: %s]", format, strings.TrimPrefix(stderrOf(err), "qemu-img: "))
	}
	var info struct {
		imageInfo
		Specific struct {
			Data struct {
				DataFile string `json:"data-file"`
			} `json:"data"`
		} `json:"format-specific"`
	}
	if err := json.Unmarshal(out, &info); err != nil {
		return imageInfo{}, fmt.Errorf("qemu-img info: %w", err)
	}
	switch {
	case info.BackingFile != "":
		return imageInfo{}, clientErrorf("Disk validation failed [an image with a backing file cannot be imported]")
	case info.Specific.Data.DataFile != "":
		return imageInfo{}, clientErrorf("Disk validation failed [an image with an external data file cannot be imported]")
	case info.VirtualSize <= 0:
		return imageInfo{}, clientErrorf("Disk validation failed [the image is empty]")
	}
	if qf == "qcow2" {
		if out, err := exec.CommandContext(ctx, "qemu-img", "check", "-q", "-f", "qcow2", path).CombinedOutput(); err != nil {
			return imageInfo{}, clientErrorf("Disk validation failed [qcow2 image is damaged: %s]", strings.TrimSpace(string(out)))
		}
	}
	return info.imageInfo, nil
}
