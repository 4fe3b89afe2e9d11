package node

import (
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
	"time"

	"github.com/banyancloud/banyan/cluster"
	"github.com/banyancloud/banyan/cluster/state"
	"github.com/banyancloud/banyan/objectstore"
)

// ImagesBucket is the object store's system bucket of machine images: one qcow2 object
// per image. Its name cannot be an S3 bucket's (S3 names have no '_'), so no account
// can see or touch it.
const ImagesBucket = "_banyan-images"

// imageCache keeps the images this box's instances boot from in DATA-DIR/images, each
// fetched from the object store once, on first use.
type imageCache struct {
	dir     string
	objects objectstore.ObjectLayer
	mu      sync.Mutex
	fetches map[string]*sync.Mutex
}

func newImageCache(dir string, objects objectstore.ObjectLayer) *imageCache {
	return &imageCache{dir: dir, objects: objects, fetches: map[string]*sync.Mutex{}}
}

// path returns the local qcow2 of an image, fetching it first if needed.
func (c *imageCache) path(ctx context.Context, im *state.Image) (string, error) {
	final := filepath.Join(c.dir, im.ID+".qcow2")
	if _, err := os.Stat(final); err == nil {
		return final, nil
	}
	c.mu.Lock()
	m := c.fetches[im.ID]
	if m == nil {
		m = &sync.Mutex{}
		c.fetches[im.ID] = m
	}
	c.mu.Unlock()
	m.Lock()
	defer m.Unlock()
	if _, err := os.Stat(final); err == nil {
		return final, nil
	}
	if err := mkdirSearchable(c.dir); err != nil {
		return "", err
	}
	_, body, err := c.objects.GetObject(ctx, ImagesBucket, im.ObjectKey, objectstore.GetOptions{})
	if err != nil {
		return "", fmt.Errorf("fetching image %s from the object store: %w", im.ID, err)
	}
	defer body.Close()
	if err := writeFileAtomic(final, body); err != nil {
		return "", fmt.Errorf("caching image %s: %w", im.ID, err)
	}
	return final, nil
}

// mkdirSearchable makes dir (and its missing parents) with search but no read permission
// for others (0711): qemu runs guests as its own user, which must reach the disk images
// libvirt hands it, but may list nothing. The files inside keep their own modes.
func mkdirSearchable(dir string) error {
	if err := os.MkdirAll(dir, 0o711); err != nil {
		return err
	}
	return os.Chmod(dir, 0o711)
}

// writeFileAtomic writes r to path through a temporary file, fsynced and renamed, so a
// crash leaves the whole file or none.
func writeFileAtomic(path string, r io.Reader) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path))
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := io.Copy(tmp, r); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// imageInfo is what `qemu-img info --output=json` says of a file.
type imageInfo struct {
	Format      string `json:"format"`
	VirtualSize int64  `json:"virtual-size"`
	ActualSize  int64  `json:"actual-size"`
	BackingFile string `json:"backing-filename"`
	// Specific is qemu-img's format-specific part: for qcow2, an external data file.
	Specific struct {
		Data struct {
			DataFile string `json:"data-file"`
		} `json:"data"`
	} `json:"format-specific"`
}

func qemuImgInfo(ctx context.Context, path string) (imageInfo, error) {
	out, err := exec.CommandContext(ctx, "qemu-img", "info", "--output=json", path).Output()
	if err != nil {
		return imageInfo{}, fmt.Errorf("qemu-img info: %w: %s", err, stderrOf(err))
	}
	var info imageInfo
	if err := json.Unmarshal(out, &info); err != nil {
		return imageInfo{}, fmt.Errorf("qemu-img info: %w", err)
	}
	return info, nil
}

func stderrOf(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return strings.TrimSpace(string(ee.Stderr))
	}
	return ""
}

// checkDiskImage checks that the file at path is a sound disk image Banyan imports (raw
// or qcow2, of the format the task gives when it gives one, without a backing file, not
// empty) and says what it is. Errors are the task's status message, AWS's wording.
func checkDiskImage(ctx context.Context, path, format string) (imageInfo, error) {
	info, err := qemuImgInfo(ctx, path)
	if err != nil {
		return imageInfo{}, fmt.Errorf("Disk validation failed [%v]", err)
	}
	want := strings.ToLower(format)
	if want == "" {
		want = info.Format
	}
	if want != info.Format || (want != "raw" && want != "qcow2") {
		return imageInfo{}, fmt.Errorf("Disk validation failed [the file is a %s image, not %s]", info.Format, want)
	}
	if info.BackingFile != "" {
		return imageInfo{}, errors.New("Disk validation failed [an image with a backing file cannot be imported]")
	}
	// A qcow2 whose data lives in another file would import that file (any of the
	// box's, /etc/shadow say) as the image's bytes.
	if info.Specific.Data.DataFile != "" {
		return imageInfo{}, errors.New("Disk validation failed [an image with an external data file cannot be imported]")
	}
	if want == "qcow2" {
		if out, err := exec.CommandContext(ctx, "qemu-img", "check", "-q", path).CombinedOutput(); err != nil {
			return imageInfo{}, fmt.Errorf("Disk validation failed [qcow2 image is damaged: %s]", strings.TrimSpace(string(out)))
		}
	}
	if info.VirtualSize <= 0 {
		return imageInfo{}, errors.New("Disk validation failed [the image is empty]")
	}
	return info, nil
}

// importer carries out ImportImage tasks on the leader: it copies the S3 object to a
// scratch file, checks it is a disk image of the format given, converts it to qcow2,
// stores that in ImagesBucket and registers the image. A leader change restarts the
// task from the beginning on the new leader; a cancel stops it.
type importer struct {
	node    *cluster.Node
	objects objectstore.ObjectLayer
	dir     string
	log     *slog.Logger
	newID   func(prefix string) string
}

// maxImageBytes bounds an imported image (the scratch space it needs is twice that).
const maxImageBytes = 64 << 30

func (im *importer) run(ctx context.Context) {
	busy := map[string]context.CancelFunc{}
	var mu sync.Mutex
	for ctx.Err() == nil {
		tasks, changed, err := im.node.State().ImportTasks("")
		if err != nil {
			time.Sleep(time.Second)
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
				im.finish(ctx, t.ID, func(t *state.ImportTask) { t.Status, t.StatusMessage = state.TaskDeleted, "Cancelled by the user" })
			case t.Status == state.TaskActive && !running:
				tctx, cancel := context.WithCancel(ctx)
				mu.Lock()
				busy[t.ID] = cancel
				mu.Unlock()
				go func(t state.ImportTask) {
					defer func() { mu.Lock(); delete(busy, t.ID); mu.Unlock(); cancel() }()
					im.importOne(tctx, t)
				}(*t)
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
}

// finish rewrites a task by compare-and-set until it sticks.
func (im *importer) finish(ctx context.Context, id string, change func(*state.ImportTask)) error {
	for range 5 {
		cur, err := im.node.State().ImportTask(id)
		if err != nil {
			return err
		}
		t := *cur
		change(&t)
		_, err = im.node.Apply(ctx, &state.PutImportTask{Task: t, IfIndex: cur.ModifyIndex}, nil)
		if !errors.Is(err, state.ErrConflict) {
			return err
		}
	}
	return fmt.Errorf("import task %s keeps changing", id)
}

func (im *importer) progress(ctx context.Context, t *state.ImportTask, pct int, msg string) {
	im.finish(ctx, t.ID, func(x *state.ImportTask) {
		if x.Status == state.TaskActive {
			x.Progress, x.StatusMessage = pct, msg
		}
	})
}

func (im *importer) importOne(ctx context.Context, t state.ImportTask) {
	err := im.convert(ctx, &t)
	if ctx.Err() != nil {
		cur, gerr := im.node.State().ImportTask(t.ID)
		if gerr == nil && cur.Status == state.TaskDeleting {
			im.finish(context.Background(), t.ID, func(x *state.ImportTask) { x.Status, x.StatusMessage = state.TaskDeleted, "Cancelled by the user" })
		}
		return
	}
	if err != nil {
		im.log.Warn("image import failed", "task", t.ID, "err", err)
		im.finish(ctx, t.ID, func(x *state.ImportTask) {
			x.Status, x.StatusMessage = state.TaskDeleted, "ClientError: "+err.Error()
		})
	}
}

func (im *importer) convert(ctx context.Context, t *state.ImportTask) error {
	im.progress(ctx, t, 5, "downloading")
	if err := os.MkdirAll(im.dir, 0o700); err != nil {
		return err
	}
	src := filepath.Join(im.dir, t.ID+".src")
	dst := filepath.Join(im.dir, t.ID+".qcow2")
	defer os.Remove(src)
	defer os.Remove(dst)
	oi, body, err := im.objects.GetObject(ctx, t.Bucket, t.Key, objectstore.GetOptions{})
	if err != nil {
		return fmt.Errorf("cannot read s3://%s/%s: %v", t.Bucket, t.Key, err)
	}
	if oi.Size > maxImageBytes {
		body.Close()
		return fmt.Errorf("the disk image is %d bytes; the limit is %d", oi.Size, int64(maxImageBytes))
	}
	err = writeFileAtomic(src, body)
	body.Close()
	if err != nil {
		return fmt.Errorf("downloading the disk image: %v", err)
	}
	im.progress(ctx, t, 30, "validating")
	info, err := checkDiskImage(ctx, src, t.Format)
	if err != nil {
		return err
	}
	want := info.Format
	im.progress(ctx, t, 50, "converting")
	if out, err := exec.CommandContext(ctx, "qemu-img", "convert", "-f", want, "-O", "qcow2", src, dst).CombinedOutput(); err != nil {
		return fmt.Errorf("converting the image: %v: %s", err, strings.TrimSpace(string(out)))
	}
	os.Remove(src)
	f, err := os.Open(dst)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	im.progress(ctx, t, 80, "storing")
	if err := im.objects.MakeBucket(ctx, ImagesBucket); err != nil {
		return fmt.Errorf("creating the images bucket: %v", err)
	}
	imageID := t.ImageID
	if imageID == "" {
		imageID = im.newID("ami-")
	}
	key := imageID + ".qcow2"
	if _, err := im.objects.PutObject(ctx, ImagesBucket, key, f, objectstore.PutOptions{Size: st.Size(), ContentType: "application/x-qemu-disk"}); err != nil {
		return fmt.Errorf("storing the image: %v", err)
	}
	image := state.Image{ID: imageID, Account: t.Account, Name: "import-ami-" + strings.TrimPrefix(t.ID, "import-ami-"),
		Description: t.Description, State: state.ImageAvailable, Architecture: "x86_64", ObjectKey: key,
		SizeBytes: st.Size(), VirtualSize: info.VirtualSize, CreationDate: time.Now().UTC(), ImportTaskID: t.ID}
	if _, err := im.node.Apply(ctx, &state.PutImage{Image: image, Create: true}, nil); err != nil && !errors.Is(err, state.ErrAlreadyExists) {
		return fmt.Errorf("registering the image: %v", err)
	}
	return im.finish(ctx, t.ID, func(x *state.ImportTask) {
		x.Status, x.StatusMessage, x.Progress, x.ImageID, x.SizeBytes = state.TaskCompleted, "", 100, imageID, oi.Size
	})
}
