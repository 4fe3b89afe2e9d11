package disk

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// fsyncDir makes the entries of dir (files created, renamed in or out)
// durable. A rename is only crash-safe once the directory that received
// the name has been fsynced.
func fsyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// writeFileSync creates path (it must not exist) holding data, fsynced.
func writeFileSync(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
	}
	return err
}

// mkdirUnder creates base/rel and any missing parents below base, which
// must exist (a bucket is never recreated as a side effect of a write racing
// its deletion, nor the staging area on the root filesystem when the disk
// is unmounted). Each directory that gains an entry is fsynced, so the new
// path survives a crash. An error satisfying fs.ErrNotExist means base, or a
// parent removed concurrently by an emptied-directory cleanup, is missing.
func mkdirUnder(base, rel string) error { return mkdirBelow(base, rel, true) }

// mkdirBelow is mkdirUnder with the fsyncs optional: the staging area needs
// none, since a staged directory is fsynced when it is committed and is
// garbage after a crash anyway.
func mkdirBelow(base, rel string, durable bool) error {
	sync := fsyncDir
	if !durable {
		sync = func(string) error { return nil }
	}
	full := filepath.Join(base, rel)
	// Most writes go to a node whose parent exists (a new key in a known
	// "folder") or to an existing node: one mkdir.
	switch err := os.Mkdir(full, 0o755); {
	case err == nil:
		return sync(filepath.Dir(full))
	case errors.Is(err, fs.ErrExist):
		return nil
	case !errors.Is(err, fs.ErrNotExist):
		return err
	}
	cur := base
	for part := range strings.SplitSeq(rel, "/") {
		next := filepath.Join(cur, part)
		switch err := os.Mkdir(next, 0o755); {
		case err == nil:
			if err := sync(cur); err != nil {
				return err
			}
		case !errors.Is(err, fs.ErrExist):
			return err
		}
		cur = next
	}
	return nil
}

// removeEmptyParents removes dir and then its parents while they are empty,
// stopping at stop (exclusive). rmdir only removes an empty directory, so a
// concurrent writer creating an entry inside wins the race and the removal
// stops there; the writer in turn retries if its parent vanished first
// (see Local.inNode). Not fsynced: an empty directory that comes back after
// a crash is harmless.
func removeEmptyParents(dir, stop string) {
	for dir != stop && strings.HasPrefix(dir, stop+string(filepath.Separator)) {
		if os.Remove(dir) != nil {
			return
		}
		dir = filepath.Dir(dir)
	}
}
