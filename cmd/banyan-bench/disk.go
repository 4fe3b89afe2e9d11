package main

import (
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// diskSyncLatency measures 4 KiB O_DSYNC overwrites in dir: the floor under any durable
// commit on this disk, since Raft syncs its log before acknowledging.
func diskSyncLatency(dir string, n int) ([]time.Duration, error) {
	path := filepath.Join(dir, "dsync-probe")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|syscall.O_DSYNC, 0o600)
	if err != nil {
		return nil, err
	}
	defer os.Remove(path)
	defer f.Close()
	buf := make([]byte, 4096)
	for i := range buf {
		buf[i] = byte(i)
	}
	out := make([]time.Duration, 0, n)
	for i := 0; i < n; i++ {
		start := time.Now()
		// Appends, as a log does, wrapping at 4 MiB so the file stays small.
		if _, err := f.WriteAt(buf, int64(i%1024)*4096); err != nil {
			return nil, err
		}
		out = append(out, time.Since(start))
	}
	return out, nil
}
