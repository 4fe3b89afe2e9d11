// Package main is the banyan-bench command. It measures Banyan against the physical limits of the machine it runs
// on, both in the same run, and prints them side by side. Figures, not assertions: it
// never fails on a number.
//
//	banyan-bench raft [--dir DIR] [--banyan PATH]
//	banyan-bench s3 [--dir DIR] [--banyan PATH]
//	banyan-bench ec2 [--records N] [--boots N] [--instances N] [--skip-describe|--skip-boot] [--dir DIR] [--banyan PATH]
//	banyan-bench net [--seconds N] [--json] (as root)
//	banyan-bench block [--size 1GiB] [--seconds S|--count N] [--json] [--dir DIR]
//	banyan-bench chaos [--nodes N] [--rounds R] [--clients C] [--disks D] [--seed S] [--json] [--dir DIR] [--banyan PATH]
//
// chaos is the exception to "never fails": it is a fault-injection soak, and it exits
// non-zero when an acknowledged write was lost, corrupted or resurrected, or the control
// plane's history is not linearizable.
package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: banyan-bench raft|s3|ec2|block|net|chaos [--dir DIR] [--banyan PATH] (net, chaos: as root; --help for their flags)")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "raft":
		err = benchRaft(os.Args[2:])
	case "s3":
		err = benchS3(os.Args[2:])
	case "ec2":
		err = benchEC2(os.Args[2:])
	case "chaos":
		err = benchChaos(os.Args[2:])
	case "block":
		err = benchBlock(os.Args[2:])
	case "net":
		err = benchNet(os.Args[2:])
	default:
		err = fmt.Errorf("unknown benchmark %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "banyan-bench:", err)
		os.Exit(1)
	}
}

// workDir fills in the --dir and --banyan flags every benchmark takes: a temporary
// folder (removed by cleanup) when no dir is given, and a banyan built from this checkout
// into it when no binary is.
func workDir(dir, bin *string, name string) (cleanup func(), err error) {
	cleanup = func() {}
	if *dir == "" {
		d, err := os.MkdirTemp("", name)
		if err != nil {
			return cleanup, err
		}
		cleanup = func() { os.RemoveAll(d) }
		*dir = d
	}
	if *bin == "" {
		*bin = filepath.Join(*dir, "banyan")
		if out, err := exec.Command("go", "build", "-o", *bin, "./cmd/banyan").CombinedOutput(); err != nil {
			cleanup()
			return func() {}, fmt.Errorf("building banyan (run from the repository root or pass --banyan): %v\n%s", err, out)
		}
	}
	return cleanup, nil
}
