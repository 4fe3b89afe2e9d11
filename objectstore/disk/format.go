package disk

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// formatName is the disk stamp in .banyan.sys. It is JSON so that an
// operator can read which disk a drive is with cat.
const (
	formatName    = "format.json"
	formatVersion = 1
)

// diskFormat is format.json. The stamp names the disk, not a cluster: a
// disk's membership in an erasure set is recorded in replicated state, so a
// drive can be moved between boxes and still be recognized.
type diskFormat struct {
	Format  int       `json:"format"`
	ID      string    `json:"id"`
	Created time.Time `json:"created"`
}

// readFormat reads the stamp. An error satisfying fs.ErrNotExist means the
// disk has never been stamped.
func readFormat(sys string) (*diskFormat, error) {
	path := filepath.Join(sys, formatName)
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var f diskFormat
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("%w: %s is unreadable (%v); refusing to use the disk: restore the file, or wipe the directory to reuse it as a new disk", ErrFileCorrupt, path, err)
	}
	switch {
	case f.Format > formatVersion:
		return nil, fmt.Errorf("%w: %s has format %d; upgrade Banyan on this box", ErrFormatUnsupported, path, f.Format)
	case f.Format != formatVersion || !isUUID(f.ID):
		return nil, fmt.Errorf("%w: %s has format %d and id %q; refusing to use the disk: restore the file, or wipe the directory to reuse it as a new disk", ErrFileCorrupt, path, f.Format, f.ID)
	}
	return &f, nil
}

// stampFormat writes a new stamp atomically: a crash leaves either no stamp
// (the next open stamps again) or a whole one.
func stampFormat(sys, root string) (*diskFormat, error) {
	f := &diskFormat{Format: formatVersion, ID: newUUID(), Created: time.Now().UTC()}
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return nil, err
	}
	tmp := filepath.Join(sys, formatName+".new")
	os.Remove(tmp)
	if err := writeFileSync(tmp, append(b, '\n')); err != nil {
		return nil, fsError(err, ErrDiskNotFound)
	}
	if err := os.Rename(tmp, filepath.Join(sys, formatName)); err != nil {
		return nil, fsError(err, ErrDiskNotFound)
	}
	if err := fsyncDir(sys); err != nil {
		return nil, fsError(err, ErrDiskNotFound)
	}
	return f, fsyncDir(root)
}
