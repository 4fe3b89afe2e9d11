package main

import (
	"bytes"
	"fmt"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The block benchmark's loads, the same for every target: 4 KiB synchronous writes one
// at a time over a small prefilled region, and 1 MiB writes in sequence with 16 in
// flight, each offset written once, ended by a flush that the time includes.

const (
	blockSmall  = 4 << 10
	blockBig    = 1 << 20
	blockRegion = 4 << 20 // the 4 KiB writes wrap around this much, allocated beforehand
	blockQD     = 16
)

// blockLimit bounds one test: count operations if count > 0, else as many as fit in
// dur (and, for sequential writes, in the volume).
type blockLimit struct {
	count int
	dur   time.Duration
}

func (l blockLimit) more(i int, start time.Time) bool {
	if l.count > 0 {
		return i < l.count
	}
	return time.Since(start) < l.dur
}

// blockResult is what one test measured.
type blockResult struct {
	lat     []time.Duration // per operation
	elapsed time.Duration   // first operation to the last reply (and the final flush)
	bytes   int64
}

// runQD1 runs op(i) one at a time.
func runQD1(l blockLimit, op func(i int) error) (blockResult, error) {
	var r blockResult
	start := time.Now()
	for i := 0; l.more(i, start); i++ {
		t := time.Now()
		if err := op(i); err != nil {
			return r, err
		}
		r.lat = append(r.lat, time.Since(t))
		r.bytes += blockSmall
	}
	r.elapsed = time.Since(start)
	return r, nil
}

// runSeq runs op(i) for i = 0, 1, ... below maxOps, qd at a time, then finish.
func runSeq(l blockLimit, maxOps, qd int, op func(i int) error, finish func() error) (blockResult, error) {
	var (
		next  atomic.Int64
		mu    sync.Mutex
		r     blockResult
		first error
		wg    sync.WaitGroup
	)
	if l.count > 0 {
		maxOps = min(maxOps, l.count)
	}
	start := time.Now()
	for range qd {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var lat []time.Duration
			for {
				i := int(next.Add(1) - 1)
				if i >= maxOps || (l.count == 0 && time.Since(start) >= l.dur) {
					break
				}
				t := time.Now()
				err := op(i)
				lat = append(lat, time.Since(t))
				if err != nil {
					mu.Lock()
					first = cmpOr(first, err)
					mu.Unlock()
					next.Store(int64(maxOps))
					break
				}
			}
			mu.Lock()
			r.lat = append(r.lat, lat...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	if first != nil {
		return r, first
	}
	if err := finish(); err != nil {
		return r, err
	}
	r.elapsed = time.Since(start)
	r.bytes = int64(len(r.lat)) * blockBig
	return r, nil
}

func cmpOr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// latencyStats are a test's figures.
type latencyStats struct {
	Ops  int     `json:"ops"`
	P50  float64 `json:"p50_ms"`
	P99  float64 `json:"p99_ms"`
	Max  float64 `json:"max_ms"`
	IOPS float64 `json:"iops"`
	MiBs float64 `json:"mib_per_s"`
}

func (r blockResult) stats() latencyStats {
	s := append([]time.Duration(nil), r.lat...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	ms := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e6 }
	out := latencyStats{Ops: len(s)}
	if len(s) == 0 || r.elapsed <= 0 {
		return out
	}
	out.P50, out.P99, out.Max = ms(s[len(s)/2]), ms(s[(len(s)-1)*99/100]), ms(s[len(s)-1])
	out.IOPS = float64(len(s)) / r.elapsed.Seconds()
	out.MiBs = float64(r.bytes) / (1 << 20) / r.elapsed.Seconds()
	return out
}

// pattern is a buffer of n bytes, 4096-aligned (for O_DIRECT), filled from seed.
func pattern(n int, seed byte) []byte {
	b := make([]byte, n+4096)
	off := int((4096 - uintptr(unsafe.Pointer(&b[0]))%4096) % 4096)
	b = b[off : off+n : off+n]
	for i := range b {
		b[i] = byte(i*131+i>>12) ^ seed
	}
	return b
}

// stamp marks a 4 KiB write with its number, so a read-back proves which write landed.
func stamp(p []byte, i int) {
	copy(p, fmt.Sprintf("banyan-bench %12d", i))
}

// nbdSmall is the 4 KiB test on an NBD export: prefill the region, then FUA writes.
func nbdSmall(c *nbdClient, l blockLimit) (blockResult, error) {
	if c.size < blockRegion {
		return blockResult{}, fmt.Errorf("the export is %d bytes, the 4 KiB test needs %d", c.size, blockRegion)
	}
	fill := pattern(blockBig, 1)
	for off := int64(0); off < blockRegion; off += blockBig {
		if err := c.Write(fill, off, false); err != nil {
			return blockResult{}, err
		}
	}
	if err := c.Flush(); err != nil {
		return blockResult{}, err
	}
	p := pattern(blockSmall, 2)
	r, err := runQD1(l, func(i int) error {
		stamp(p, i)
		return c.Write(p, int64(i%(blockRegion/blockSmall))*blockSmall, true)
	})
	if err != nil {
		return r, err
	}
	// The last write reads back: the figures are of writes that landed.
	last := len(r.lat) - 1
	stamp(p, last)
	got := make([]byte, blockSmall)
	if err := c.Read(got, int64(last%(blockRegion/blockSmall))*blockSmall); err != nil {
		return r, err
	}
	if !bytes.Equal(got, p) {
		return r, fmt.Errorf("the last 4 KiB write does not read back")
	}
	return r, nil
}

// nbdSeq is the 1 MiB test on an NBD export: offsets in order from 0, 16 in flight,
// then NBD_CMD_FLUSH.
func nbdSeq(c *nbdClient, l blockLimit) (blockResult, error) {
	p := pattern(blockBig, 3)
	r, err := runSeq(l, int(c.size/blockBig), blockQD, func(i int) error {
		return c.Write(p, int64(i)*blockBig, false)
	}, c.Flush)
	if err != nil {
		return r, err
	}
	got := make([]byte, blockBig)
	for _, i := range []int{0, len(r.lat) - 1} {
		if err := c.Read(got, int64(i)*blockBig); err != nil {
			return r, err
		}
		if !bytes.Equal(got, p) {
			return r, fmt.Errorf("1 MiB write %d does not read back", i)
		}
	}
	return r, nil
}

// rawFiles opens one file per path in the benchmark's folder, truncated to size; close
// removes them.
func rawFiles(paths []string, flags int, size int64) (fs []*os.File, close func(), err error) {
	close = func() {
		for _, f := range fs {
			f.Close()
			os.Remove(f.Name())
		}
	}
	for _, p := range paths {
		f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE|os.O_TRUNC|flags, 0o600)
		if err != nil {
			close()
			return nil, func() {}, err
		}
		fs = append(fs, f)
		if err := f.Truncate(size); err != nil {
			close()
			return nil, func() {}, err
		}
	}
	return fs, close, nil
}

// onEach runs fn on every file at once (inline for one), as a volume writes its copies.
func onEach(fs []*os.File, fn func(f *os.File) error) error {
	if len(fs) == 1 {
		return fn(fs[0])
	}
	errc := make(chan error, len(fs))
	for _, f := range fs {
		go func() { errc <- fn(f) }()
	}
	var first error
	for range fs {
		first = cmpOr(first, <-errc)
	}
	return first
}

// rawSmall is the 4 KiB test on files of the same file system: pwrite on files opened
// O_DSYNC, or pwrite followed by fdatasync; with several files, each write goes to all
// of them at once (the floor under a volume whose copies share this disk).
func rawSmall(paths []string, dsync bool, l blockLimit) (blockResult, error) {
	flags := 0
	if dsync {
		flags = unix.O_DSYNC
	}
	fs, closeAll, err := rawFiles(paths, flags, 0)
	if err != nil {
		return blockResult{}, err
	}
	defer closeAll()
	fill := pattern(blockRegion, 1)
	if err := onEach(fs, func(f *os.File) error {
		if _, err := f.WriteAt(fill, 0); err != nil {
			return err
		}
		return unix.Fdatasync(int(f.Fd()))
	}); err != nil {
		return blockResult{}, err
	}
	p := pattern(blockSmall, 2)
	return runQD1(l, func(i int) error {
		stamp(p, i)
		off := int64(i%(blockRegion/blockSmall)) * blockSmall
		return onEach(fs, func(f *os.File) error {
			if _, err := f.WriteAt(p, off); err != nil || dsync {
				return err
			}
			return unix.Fdatasync(int(f.Fd()))
		})
	})
}

// rawSeq is the 1 MiB test on sparse files of size bytes: pwrite from 16 goroutines,
// with O_DIRECT or through the page cache, each 1 MiB to every file at once, then
// fdatasync of every file. Bytes count once, as a volume's do.
func rawSeq(paths []string, size int64, direct bool, l blockLimit) (blockResult, error) {
	flags := 0
	if direct {
		flags = unix.O_DIRECT
	}
	fs, closeAll, err := rawFiles(paths, flags, size)
	if err != nil {
		return blockResult{}, err
	}
	defer closeAll()
	p := pattern(blockBig, 3)
	return runSeq(l, int(size/blockBig), blockQD, func(i int) error {
		return onEach(fs, func(f *os.File) error {
			_, err := f.WriteAt(p, int64(i)*blockBig)
			return err
		})
	}, func() error {
		return onEach(fs, func(f *os.File) error { return unix.Fdatasync(int(f.Fd())) })
	})
}
