package hypervisor

import (
	"errors"
	"io"
	"os"
)

// ConsoleOutputMax is how much of the console ConsoleOutput returns: EC2 GetConsoleOutput
// gives the last 64 KiB.
const ConsoleOutputMax = 64 << 10

// ConsoleOutput is the last 64 KiB of the domain's serial console log (nothing when the
// domain has no log or never ran). It reads the file, so it works while the domain is off.
func (d *Driver) ConsoleOutput(name string) ([]byte, error) {
	info, err := d.Lookup(name)
	if err != nil {
		return nil, err
	}
	if info.ConsoleLog == "" {
		return nil, nil
	}
	return tailLog(info.ConsoleLog, ConsoleOutputMax)
}

// tailLog reads the last max bytes of path, reaching into path.0 (a log rotated away by
// virtlogd) when path itself is shorter.
func tailLog(path string, max int64) ([]byte, error) {
	cur, err := tailFile(path, max)
	if err != nil {
		return nil, err
	}
	if int64(len(cur)) < max {
		prev, err := tailFile(path+".0", max-int64(len(cur)))
		if err == nil && len(prev) > 0 {
			cur = append(prev, cur...)
		}
	}
	return cur, nil
}

func tailFile(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	off := st.Size() - max
	if off < 0 {
		off = 0
	}
	return io.ReadAll(io.NewSectionReader(f, off, st.Size()-off))
}
